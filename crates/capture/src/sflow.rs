//! sFlow as a source of frames: every sampled packet header of a datagram becomes a frame,
//! with the agent, the sample's data source, interfaces and sampling rate; counter samples
//! give interface counters.
use dissect::LinkType;
use std::net::IpAddr;
use wire::sflow::{
    counter_format, header_protocol, sample_format, Address, CountersSample, Datagram, DiscardSample,
    Extended, FlowSample, IfCounters, Interface, Provenance, SampledHeader,
};

/// One sampled packet, as carried in a flow (or discard) sample: a frame with its provenance.
#[derive(Debug, Clone, Copy)]
pub struct SampledFrame<'a> {
    /// The agent, data source, interfaces, sampling rate and extended records.
    pub provenance: Provenance,
    /// The drop reason when the packet came in a discard sample (it was dropped).
    pub discard_reason: Option<u32>,
    /// Length of the original packet.
    pub frame_length: u32,
    /// How to decode `header`.
    pub link: LinkType,
    /// The sampled bytes (often cut at 128).
    pub header: &'a [u8],
}

/// What a flow sample says of its data source's sampling, besides its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplingInfo {
    /// The data source index.
    pub source_index: u32,
    /// The sample's sequence number (per data source).
    pub sequence: u32,
    /// 1 in this many packets is sampled.
    pub sampling_rate: u32,
    /// Packets that could have been sampled, so far.
    pub sample_pool: u32,
    /// Samples the agent lost for lack of resources, so far.
    pub drops: u32,
}

/// One thing a datagram reports.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    /// A flow sample's sampling figures (once per flow sample, before its frames).
    Sampling(SamplingInfo),
    /// A sampled packet header.
    Frame(SampledFrame<'a>),
    /// Generic interface counters from a counter sample.
    Interface {
        /// The counter sample's data source index.
        source_index: u32,
        /// The counters.
        counters: IfCounters,
    },
}

/// What was in a datagram, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatagramCounts {
    /// Flow samples.
    pub flow_samples: u64,
    /// Counter samples.
    pub counter_samples: u64,
    /// Discard samples.
    pub discard_samples: u64,
    /// Samples and records of formats not read (skipped by their length).
    pub skipped: u64,
    /// Sampled headers of a protocol that is not decoded (not Ethernet, IPv4, IPv6 or MPLS).
    pub other_headers: u64,
}

impl SampledFrame<'_> {
    /// The agent's address.
    pub fn agent(&self) -> IpAddr {
        agent_address(self.provenance.agent)
    }
}

/// An sFlow address (an agent's, a next hop's) as an `IpAddr` (0.0.0.0 for an unknown type).
pub fn agent_address(a: Address) -> IpAddr {
    match a {
        Address::V4(v) => IpAddr::from(v.0),
        Address::V6(v) => IpAddr::from(v.0),
        Address::Unknown => IpAddr::from([0u8; 4]),
    }
}

/// Calls `f` with every item of the parsed datagram `dg`; returns what it held, or the error
/// that stopped reading it (the items before the fault have been given to `f`).
pub fn items(dg: &Datagram<'_>, mut f: impl FnMut(&Item<'_>)) -> Result<DatagramCounts, wire::Error> {
    let mut counts = DatagramCounts::default();
    for sample in dg.samples() {
        let sample = sample?;
        let (records, provenance, discard_reason) = match (sample.enterprise, sample.format) {
            (0, sample_format::FLOW | sample_format::FLOW_EXPANDED) => {
                counts.flow_samples += 1;
                let fs = FlowSample::parse(sample.data, sample.format == sample_format::FLOW_EXPANDED)?;
                f(&Item::Sampling(SamplingInfo {
                    source_index: fs.source_id_index,
                    sequence: fs.sequence,
                    sampling_rate: fs.sampling_rate,
                    sample_pool: fs.sample_pool,
                    drops: fs.drops,
                }));
                let provenance = Provenance {
                    agent: dg.agent,
                    sub_agent_id: dg.sub_agent_id,
                    datagram_sequence: dg.sequence,
                    source_index: fs.source_id_index,
                    input: fs.input,
                    output: fs.output,
                    sampling_rate: fs.sampling_rate.max(1),
                    extended: Extended::from_records(fs.records.clone())?,
                };
                (fs.records, provenance, None)
            }
            (0, sample_format::DISCARD) => {
                counts.discard_samples += 1;
                let ds = DiscardSample::parse(sample.data)?;
                let provenance = Provenance {
                    agent: dg.agent,
                    sub_agent_id: dg.sub_agent_id,
                    datagram_sequence: dg.sequence,
                    source_index: ds.source_id_index,
                    input: Interface::Index(ds.input),
                    output: Interface::Index(ds.output),
                    sampling_rate: 1,
                    extended: Extended::from_records(ds.records.clone())?,
                };
                (ds.records, provenance, Some(ds.reason))
            }
            (0, sample_format::COUNTERS | sample_format::COUNTERS_EXPANDED) => {
                counts.counter_samples += 1;
                let cs =
                    CountersSample::parse(sample.data, sample.format == sample_format::COUNTERS_EXPANDED)?;
                for record in cs.records {
                    let record = record?;
                    if (record.enterprise, record.format) == (0, counter_format::GENERIC_INTERFACE) {
                        let counters = IfCounters::parse(record.data)?;
                        f(&Item::Interface { source_index: cs.source_id_index, counters });
                    }
                }
                continue;
            }
            _ => {
                counts.skipped += 1;
                continue;
            }
        };
        for record in records {
            let record = record?;
            if (record.enterprise, record.format) != (0, wire::sflow::flow_format::SAMPLED_HEADER) {
                counts.skipped += 1;
                continue;
            }
            let h = SampledHeader::parse(record.data)?;
            let link = match h.protocol {
                header_protocol::ETHERNET => LinkType::ETHERNET,
                header_protocol::IPV4 => LinkType::IPV4,
                header_protocol::IPV6 => LinkType::IPV6,
                header_protocol::MPLS => LinkType::MPLS,
                _ => {
                    counts.other_headers += 1;
                    continue;
                }
            };
            f(&Item::Frame(SampledFrame {
                provenance,
                discard_reason,
                frame_length: h.frame_length,
                link,
                header: h.header,
            }));
        }
    }
    Ok(counts)
}

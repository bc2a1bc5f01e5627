//! sFlow as a source of frames: every sampled packet header of a datagram becomes a frame,
//! with the agent, the sample's interfaces and its sampling rate.
use dissect::LinkType;
use std::net::IpAddr;
use wire::sflow::{header_protocol, sample_format, Address, Datagram, FlowSample, Interface, SampledHeader};

/// One sampled packet, as carried in a flow (or discard) sample.
#[derive(Debug, Clone, Copy)]
pub struct SampledFrame<'a> {
    /// The agent that sent the datagram.
    pub agent: IpAddr,
    /// The sample's input interface.
    pub input: Interface,
    /// The sample's output interface.
    pub output: Interface,
    /// 1 in this many packets was sampled.
    pub sampling_rate: u32,
    /// Length of the original packet.
    pub frame_length: u32,
    /// How to decode `header`.
    pub link: LinkType,
    /// The sampled bytes (often cut at 128).
    pub header: &'a [u8],
}

/// What was in a datagram besides sampled headers, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatagramCounts {
    /// Flow samples.
    pub flow_samples: u64,
    /// Counter samples.
    pub counter_samples: u64,
    /// Samples and records of formats not read (skipped by their length).
    pub skipped: u64,
    /// Sampled headers of a protocol that is not decoded (not Ethernet, IPv4, IPv6 or MPLS).
    pub other_headers: u64,
}

/// The agent address of a datagram header as an `IpAddr` (0.0.0.0 for an unknown type).
pub fn agent_address(a: Address) -> IpAddr {
    match a {
        Address::V4(v) => IpAddr::from(v.0),
        Address::V6(v) => IpAddr::from(v.0),
        Address::Unknown => IpAddr::from([0u8; 4]),
    }
}

/// Calls `f` with every sampled header of the parsed datagram `dg`; returns what else it
/// held, or the error that stopped reading it.
pub fn sampled_frames(
    dg: &Datagram<'_>,
    mut f: impl FnMut(&SampledFrame<'_>),
) -> Result<DatagramCounts, wire::Error> {
    let agent = agent_address(dg.agent);
    let mut counts = DatagramCounts::default();
    for sample in dg.samples() {
        let sample = sample?;
        let expanded = match (sample.enterprise, sample.format) {
            (0, sample_format::FLOW) => false,
            (0, sample_format::FLOW_EXPANDED) => true,
            (0, sample_format::COUNTERS | sample_format::COUNTERS_EXPANDED) => {
                counts.counter_samples += 1;
                continue;
            }
            _ => {
                counts.skipped += 1;
                continue;
            }
        };
        counts.flow_samples += 1;
        let fs = FlowSample::parse(sample.data, expanded)?;
        for record in fs.records.clone() {
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
            f(&SampledFrame {
                agent,
                input: fs.input,
                output: fs.output,
                sampling_rate: fs.sampling_rate.max(1),
                frame_length: h.frame_length,
                link,
                header: h.header,
            });
        }
    }
    Ok(counts)
}

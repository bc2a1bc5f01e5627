//! The one sFlow reader: a datagram's header is checked and its agent's sequence numbers
//! tracked; every sampled header is decoded through its tunnels and handed on as a frame with
//! its provenance (agent, data source, interfaces, sampling rate, extended records), the weight
//! sFlow gives it (`sampling_rate` frames); flow samples' sampling figures and counter samples'
//! interface counters are handed on too. The collector, `detunnel flows --sflow` and pipelines
//! all read sFlow through it.
use capture::sflow::{agent_address, items, Item, SamplingInfo};
use dissect::{Dissector, Stack};
use flows::{AgentId, AgentStats, Agents, DataSource};
use query::Input;
use std::net::IpAddr;
use wire::sflow::IfCounters;

/// Totals of what a reader was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SflowTotals {
    /// sFlow datagrams.
    pub datagrams: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Datagrams that are not sFlow v5 or whose header does not parse (no agent to count
    /// them against).
    pub unreadable: u64,
    /// Datagrams that failed part way (also counted against their agent).
    pub malformed: u64,
    /// Flow samples.
    pub flow_samples: u64,
    /// Counter samples.
    pub counter_samples: u64,
    /// Discard samples.
    pub discard_samples: u64,
    /// Sampled headers decoded and handed on.
    pub sampled_headers: u64,
    /// Samples, records and header protocols skipped (formats not read).
    pub skipped: u64,
}

impl SflowTotals {
    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &SflowTotals) {
        self.datagrams += other.datagrams;
        self.bytes += other.bytes;
        self.unreadable += other.unreadable;
        self.malformed += other.malformed;
        self.flow_samples += other.flow_samples;
        self.counter_samples += other.counter_samples;
        self.discard_samples += other.discard_samples;
        self.sampled_headers += other.sampled_headers;
        self.skipped += other.skipped;
    }
}

/// What a datagram says, one thing at a time.
pub enum Sampled<'a> {
    /// A sampled packet: decoded, at its data source, standing for `weight` frames (or one
    /// discarded packet, when `discarded`).
    Frame {
        /// The frame as the flow language reads it (its provenance included).
        input: &'a Input<'a>,
        /// The agent and the sample's data source.
        source: DataSource,
        /// Frames it stands for: the sampling rate.
        weight: u64,
        /// It came in a discard sample.
        discarded: bool,
    },
    /// A flow sample's sampling figures.
    Sampling {
        /// The agent.
        agent: IpAddr,
        /// The figures.
        info: &'a SamplingInfo,
    },
    /// A counter sample's interface counters.
    Counters {
        /// The agent.
        agent: IpAddr,
        /// The counter sample's data source index.
        source_index: u32,
        /// The counters.
        counters: &'a IfCounters,
    },
}

/// Reads sFlow datagrams (see the module's documentation).
pub struct SflowReader {
    dissector: Dissector,
    stack: Stack,
    /// Per agent and sub-agent: datagrams, samples, and what the sequence numbers say.
    pub agents: Agents,
    /// What was read.
    pub totals: SflowTotals,
}

impl SflowReader {
    /// A reader decoding headers with `config`, tracking at most `max_agents` agents.
    pub fn new(config: dissect::Config, max_agents: usize) -> SflowReader {
        SflowReader {
            dissector: Dissector::new(config),
            stack: Stack::new(),
            agents: Agents::new(max_agents),
            totals: SflowTotals::default(),
        }
    }

    /// The decoder's counters (anomalies of the sampled headers).
    pub fn decoder(&self) -> &dissect::Counters {
        self.dissector.counters()
    }

    /// Reads one datagram, handing `f` everything it says; returns who sent it (`None` for an
    /// unreadable datagram or an agent past the limit).
    pub fn datagram(&mut self, data: &[u8], mut f: impl FnMut(Sampled<'_>)) -> Option<Heard<'_>> {
        let t = &mut self.totals;
        t.datagrams += 1;
        t.bytes += data.len() as u64;
        let Ok(dg) = wire::sflow::Datagram::parse(data) else {
            t.unreadable += 1;
            return None;
        };
        let agent = agent_address(dg.agent);
        let (dissector, stack) = (&mut self.dissector, &mut self.stack);
        let mut headers = 0;
        let result = items(&dg, |item| match item {
            Item::Frame(s) => {
                let input = Input {
                    decoded: dissector.dissect(s.header, s.link, stack),
                    frame_len: s.frame_length,
                    sample: Some(&s.provenance),
                };
                let source = DataSource { agent, index: s.provenance.source_index };
                headers += 1;
                f(Sampled::Frame {
                    input: &input,
                    source,
                    weight: u64::from(s.provenance.sampling_rate),
                    discarded: s.discard_reason.is_some(),
                });
            }
            Item::Sampling(info) => f(Sampled::Sampling { agent, info }),
            Item::Interface { source_index, counters } => {
                f(Sampled::Counters { agent, source_index: *source_index, counters })
            }
        });
        let t = &mut self.totals;
        t.sampled_headers += headers;
        let mut stats = self.agents.datagram(
            AgentId { address: agent, sub_agent: dg.sub_agent_id },
            dg.sequence,
            dg.uptime_ms,
        );
        match result {
            Ok(c) => {
                t.flow_samples += c.flow_samples;
                t.counter_samples += c.counter_samples;
                t.discard_samples += c.discard_samples;
                t.skipped += c.skipped + c.other_headers;
                if let Some(a) = stats.as_deref_mut() {
                    a.flow_samples += c.flow_samples;
                    a.counter_samples += c.counter_samples;
                }
            }
            Err(_) => {
                t.malformed += 1;
                if let Some(a) = stats.as_deref_mut() {
                    a.malformed += 1;
                }
            }
        }
        stats.map(|stats| Heard { agent, uptime_ms: dg.uptime_ms, stats })
    }
}

/// The agent of a datagram read.
pub struct Heard<'a> {
    /// Its address.
    pub agent: IpAddr,
    /// Its uptime when it sent the datagram, milliseconds.
    pub uptime_ms: u32,
    /// Its statistics (of the datagram's sub-agent).
    pub stats: &'a mut AgentStats,
}

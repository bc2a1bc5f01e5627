//! One worker's share of the collector: it reads sFlow datagrams (or captured frames), decodes
//! every sampled header through its tunnels and counts it in the flow engine, and keeps what
//! the agents, their data sources and the flow keys seen say. Each worker owns its state;
//! queries merge the workers' states when they read them.
use crate::sources::Sources;
use dissect::{Decoded, Dissector, LinkType, Proto, Stack};
use flows::{Agents, DataSource, Engine};
use foldhash::HashMap;
use pipeline::sflow::{Sampled, SflowReader, SflowTotals};
use query::{Context, Input};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

/// The agent address given to frames read from a capture file (`serve --read`).
pub const FILE_AGENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Limits of one worker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerLimits {
    /// Flow engine limits.
    pub flows: flows::Limits,
    /// Most agents (agent and sub-agent pairs) tracked.
    pub max_agents: usize,
    /// Most data sources tracked.
    pub max_sources: usize,
}

impl Default for WorkerLimits {
    fn default() -> WorkerLimits {
        WorkerLimits { flows: flows::Limits::default(), max_agents: 10_000, max_sources: 100_000 }
    }
}

/// Totals of what a worker received: its sFlow reader's (read through `Deref`), and the
/// frames of capture files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// sFlow datagrams, samples and headers.
    pub sflow: SflowTotals,
    /// Frames read from capture files.
    pub file_frames: u64,
    /// File frames of a link type that is not decoded.
    pub unsupported_link: u64,
}

impl std::ops::Deref for Totals {
    type Target = SflowTotals;
    fn deref(&self) -> &SflowTotals {
        &self.sflow
    }
}

impl Totals {
    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &Totals) {
        self.sflow.merge(&other.sflow);
        self.file_frames += other.file_frames;
        self.unsupported_link += other.unsupported_link;
    }
}

/// When an agent was first and last heard from, and its bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgentSeen {
    /// Datagram bytes received.
    pub bytes: u64,
    /// Seconds (server clock) of the first datagram.
    pub first: f64,
    /// Seconds of the latest.
    pub last: f64,
    /// The agent's uptime in its latest datagram (ms).
    pub uptime_ms: u32,
}

/// One worker: the sFlow reader (decoder and agent state), flow engine and the data sources'
/// state.
pub struct Worker {
    reader: SflowReader,
    dissector: Dissector,
    stack: Stack,
    /// Flow definitions and their tables.
    pub engine: Engine,
    /// Per agent address: bytes and when it was heard from.
    pub seen: HashMap<IpAddr, AgentSeen>,
    /// Per data source sampling and interface counters.
    pub sources: Sources,
    /// The flow keys decoded headers have had.
    pub keys: FlowKeys,
    /// Frames read from capture files, and those of a link type not decoded.
    file_frames: (u64, u64),
    /// The IPFIX exporter of every sample counted, when collectors are configured.
    pub export: Option<crate::ipfix::Exporter>,
    /// The Kafka export of every sample counted, when brokers are configured.
    pub kafka: Option<crate::kafka::KafkaWriter>,
}

impl Worker {
    /// A worker decoding with `config`, with the groups and maps of `context`.
    pub fn new(config: dissect::Config, context: Context, limits: WorkerLimits) -> Worker {
        Worker {
            reader: SflowReader::new(config.clone(), limits.max_agents),
            dissector: Dissector::new(config),
            stack: Stack::new(),
            engine: Engine::new(context, limits.flows),
            seen: HashMap::default(),
            sources: Sources::new(limits.max_sources),
            keys: FlowKeys::default(),
            file_frames: (0, 0),
            export: None,
            kafka: None,
        }
    }

    /// Per agent and sub-agent datagram statistics.
    pub fn agents(&self) -> &Agents {
        &self.reader.agents
    }

    /// What was received.
    pub fn totals(&self) -> Totals {
        Totals {
            sflow: self.reader.totals,
            file_frames: self.file_frames.0,
            unsupported_link: self.file_frames.1,
        }
    }

    /// Reads one sFlow datagram received at `now` (server seconds).
    pub fn datagram(&mut self, data: &[u8], now: f64) {
        let (engine, keys, sources, export, kafka) =
            (&mut self.engine, &mut self.keys, &mut self.sources, &mut self.export, &mut self.kafka);
        let time_ns = kafka.as_ref().map_or(0, |_| unix_ns());
        let agent = self.reader.datagram(data, |item| match item {
            Sampled::Frame { input, source, weight, discarded } => {
                if discarded {
                    engine.add_dropped(source, input, 1, now);
                } else {
                    engine.add(source, input, weight, now);
                    if let Some(p) = input.sample {
                        let exports = (&mut *export, &mut *kafka);
                        export_sample(exports, input, source, p.sampling_rate, time_ns, None);
                    }
                }
                keys.observe(&input.decoded, now);
            }
            Sampled::Sampling { agent, info } => sources.sampling(agent, info, now),
            Sampled::Counters { agent, source_index, counters } => {
                sources.counters(agent, source_index, counters, now)
            }
        });
        if let Some(heard) = agent {
            let new = AgentSeen { bytes: 0, first: now, last: now, uptime_ms: 0 };
            let seen = self.seen.entry(heard.agent).or_insert(new);
            seen.bytes += data.len() as u64;
            seen.last = now;
            seen.uptime_ms = heard.uptime_ms;
        }
    }

    /// Exports a frame pipeline `pipeline` decoded, standing for `weight` frames, seen at
    /// `source` (an sFlow sample's interfaces and sequence numbers when it came in one).
    pub fn export_frame(&mut self, pipeline: &str, source: DataSource, input: &Input<'_>, weight: u64) {
        let rate = u32::try_from(weight).unwrap_or(u32::MAX);
        export_sample((&mut self.export, &mut self.kafka), input, source, rate, unix_ns(), Some(pipeline));
    }

    /// Reads one captured frame at `now`: a frame that holds an sFlow datagram is left to the
    /// caller, which gets the datagram's offset (to hand it to the worker of its agent); any
    /// other frame counts as a sample of rate 1 from agent [`FILE_AGENT`], its data source the
    /// capture's interface number (0 for pcap).
    pub fn frame(
        &mut self,
        data: &[u8],
        link: LinkType,
        orig_len: u32,
        interface: u32,
        now: f64,
    ) -> Option<usize> {
        self.file_frames.0 += 1;
        if !link.is_supported() {
            self.file_frames.1 += 1;
            return None;
        }
        let decoded = self.dissector.dissect(data, link, &mut self.stack);
        if let Some(l) = decoded.stack().layers().iter().find(|l| l.proto == Proto::Sflow) {
            return Some((l.offset as usize).min(data.len()));
        }
        let input = Input::new(decoded, orig_len);
        self.engine.add(DataSource { agent: FILE_AGENT, index: interface }, &input, 1, now);
        self.keys.observe(&input.decoded, now);
        None
    }
}

/// Hands a sampled frame (1 in `rate`, received at `time_ns`, of pipeline `pipeline` when a
/// pipeline counted it) to the IPFIX and Kafka exports that are configured.
fn export_sample(
    (ipfix, kafka): (&mut Option<crate::ipfix::Exporter>, &mut Option<crate::kafka::KafkaWriter>),
    input: &Input<'_>,
    source: DataSource,
    rate: u32,
    time_ns: u64,
    pipeline: Option<&str>,
) {
    let index = |i: wire::sflow::Interface| match i {
        wire::sflow::Interface::Index(n) => n,
        _ => 0,
    };
    let p = input.sample;
    let interfaces = p.map_or((0, 0), |p| (index(p.input), index(p.output)));
    if let Some(x) = ipfix {
        x.sample(&input.decoded, input.frame_len, rate, source.agent, interfaces);
    }
    if let Some(k) = kafka {
        let origin = crate::sample_record::Origin {
            time_ns,
            agent: source.agent,
            sub_agent_id: p.map_or(0, |p| p.sub_agent_id),
            datagram_sequence: p.map_or(0, |p| p.datagram_sequence),
            source_index: source.index,
            interfaces,
            sampling_rate: rate,
            frame_len: input.frame_len,
            pipeline,
        };
        k.sample(&input.decoded, &origin);
    }
}

/// Now, in ns since the Unix epoch.
fn unix_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Most distinct protocol stacks remembered for `/flowkeys`.
pub const MAX_STACKS: usize = 1024;

/// The flow key names decoded frames have had, for `/flowkeys/json`. Names are worked out
/// once per distinct protocol stack; after that a frame costs a hash of its stack.
#[derive(Debug, Default)]
pub struct FlowKeys {
    stacks: HashMap<u64, (Vec<String>, f64)>,
    hasher: foldhash::fast::FixedState,
    /// Frames of new stacks not remembered because [`MAX_STACKS`] were.
    pub refused: u64,
}

impl FlowKeys {
    /// Notes the keys of `decoded`, seen at `now`.
    pub fn observe(&mut self, decoded: &Decoded<'_>, now: f64) {
        let mut h = self.hasher.build_hasher();
        for l in decoded.stack().layers() {
            l.proto.hash(&mut h);
        }
        let sig = h.finish();
        if let Some((_, at)) = self.stacks.get_mut(&sig) {
            *at = now;
            return;
        }
        if self.stacks.len() >= MAX_STACKS {
            self.refused += 1;
            return;
        }
        let mut names: Vec<String> = ["stack", "bytes", "agent", "inputifindex", "outputifindex"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        decoded.for_each_numbered(&mut |field, n, _| {
            names.push(if n == 0 { field.name().to_string() } else { format!("{}.{n}", field.name()) });
        });
        self.stacks.insert(sig, (names, now));
    }

    /// Every key name and when (server seconds) a frame last had it.
    pub fn merge_into(&self, out: &mut std::collections::HashMap<String, f64>) {
        for (names, at) in self.stacks.values() {
            for n in names {
                let e = out.entry(n.clone()).or_insert(*at);
                *e = e.max(*at);
            }
        }
    }
}

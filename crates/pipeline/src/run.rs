//! Running a pipeline: sources, sinks and lanes opened from its configuration (what cannot work
//! is an error at start that names it), then capture files read in one lane (merged by time),
//! or every live source received by its own threads, each deciding its frames in its own lane
//! and delivering them under one lock.
use crate::config::{PipelineConfig, Sink, Source};
use crate::filter::Filter;
use crate::flow_sink::{FlowCounter, FlowSink};
use crate::job::{Job, Publish};
use crate::lane::{Decision, Lane};
use crate::outputs::{FileOut, FrameSink, Held};
use crate::sflow::SflowReader;
use crate::summary::Summary;
use capture::{CaptureError, FileReader, Frame, WriteError, WriteQueue};
use decap::Decapsulator;
use dissect::{Dissector, LinkType};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Agents whose datagrams an sFlow-reading pipeline tracks one by one.
pub const MAX_SFLOW_AGENTS: usize = 10_000;

/// What a run may be given besides its configuration.
#[derive(Default)]
pub struct Hooks {
    /// Receives the summary once a second (live sources) and at the end.
    pub publish: Option<Publish>,
    /// Where a flows sink counts (the daemon's engine, `detunnel flows`'s table).
    pub flows: Option<Box<dyn FlowCounter>>,
    /// Where an export sink sends (the daemon's exports).
    pub export: Option<Box<dyn FlowCounter>>,
    /// Show a progress line on standard error when it is a terminal.
    pub progress: bool,
}

/// Why a pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The filter does not compile.
    #[error("{0}")]
    Filter(#[from] query::QueryError),
    /// A signal came before the input said what it is: nothing was read.
    #[error("stopped before the input began")]
    Stopped,
    /// A source, sink or setting that cannot work, named.
    #[error("{0}")]
    Setup(String),
}

/// Why a pipeline stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A capture could not be read on; the frames before it were delivered.
    #[error("{error}\n  the {frames} frames before it were written, and the output was closed cleanly")]
    Read {
        /// What the reader said.
        error: CaptureError,
        /// Frames delivered before it.
        frames: u64,
    },
    /// An output could not be written (reading files; live pipelines go on).
    #[error("{0}")]
    Write(#[from] WriteError),
}

/// How a run ended.
pub struct Finished {
    /// What it did.
    pub summary: Summary,
    /// What stopped it early, if anything.
    pub error: Option<RunError>,
}

/// A live source opened: a tunnel endpoint, an interface's capture ring or an AF_XDP socket
/// on one of its queues — or one of those two whose interface disappeared, opened again by
/// name once a second until it is back.
enum Live {
    Endpoint(capture::endpoint::Listener),
    Ring(capture::live::Ring, RingSpec),
    Xdp(capture::xdp::XdpSocket, XdpSpec),
    Gone(Spec, Instant),
}

/// How a worker's source on an interface is opened (again).
#[derive(Clone)]
enum Spec {
    Ring(RingSpec),
    Xdp(XdpSpec),
}

impl Spec {
    fn open(&self) -> std::io::Result<Live> {
        Ok(match self {
            Spec::Ring(s) => Live::Ring(s.open()?, s.clone()),
            Spec::Xdp(s) => Live::Xdp(s.open()?, s.clone()),
        })
    }

    fn interface(&self) -> &str {
        match self {
            Spec::Ring(s) => &s.interface,
            Spec::Xdp(s) => &s.interface,
        }
    }
}

/// How a worker's AF_XDP socket is opened: on which queue of which interface, under which
/// program, what the summary calls its source, and the endpoint whose packets it receives
/// (none: every frame of its interface).
#[derive(Clone)]
struct XdpSpec {
    interface: String,
    name: String,
    endpoint: Option<capture::endpoint::Kind>,
    pick: capture::xdp::Pick,
    queue: u32,
    queues: u32,
    mib: u32,
    /// The program the source's workers share: attached by the first to open a socket on
    /// the interface as it is now (a new one once it was made again).
    program: Arc<Mutex<Option<capture::xdp::Program>>>,
}

impl XdpSpec {
    fn open(&self) -> std::io::Result<capture::xdp::XdpSocket> {
        let mut program = self.program.lock().unwrap_or_else(|e| e.into_inner());
        let program = match &mut *program {
            Some(p) if p.is_on(&self.interface) => p,
            slot => slot.insert(capture::xdp::Program::attach(&self.interface, self.pick, self.queues)?),
        };
        capture::xdp::XdpSocket::open(program, self.queue, self.mib)
    }
}

/// How a worker's ring on an interface is opened.
#[derive(Clone)]
struct RingSpec {
    interface: String,
    mib: u32,
    fanout: Option<u16>,
    promiscuous: bool,
}

impl RingSpec {
    fn open(&self) -> std::io::Result<capture::live::Ring> {
        capture::live::Ring::open(&self.interface, self.mib, self.fanout, self.promiscuous)
    }
}

impl Live {
    /// How the summary names it.
    fn name(&self) -> String {
        match self {
            Live::Endpoint(l) => {
                let e = l.endpoint();
                format!("{}://{}", e.kind.scheme(), e.addr)
            }
            Live::Ring(_, spec) | Live::Gone(Spec::Ring(spec), _) => format!("interface {}", spec.interface),
            Live::Xdp(_, spec) | Live::Gone(Spec::Xdp(spec), _) => spec.name.clone(),
        }
    }
}

/// Runs `config` until its input ends or `stop` is set.
pub fn run(config: &PipelineConfig, stop: Arc<AtomicBool>, hooks: Hooks) -> Result<Finished, StartError> {
    Ok(Pipeline::open(config, stop, hooks)?.run())
}

/// A pipeline whose sources, sinks and lanes are open, ready to run.
pub struct Pipeline {
    job: Job,
    readers: Vec<FileReader>,
    sources: Vec<Live>,
    lanes: Vec<Lane>,
    /// The live files' buffers, written by the workers between batches.
    writes: WriteQueue,
    live: bool,
    stop: Arc<AtomicBool>,
}

impl Pipeline {
    /// Opens every source and sink of `config`: what cannot work is the error, named.
    pub fn open(
        config: &PipelineConfig,
        stop: Arc<AtomicBool>,
        hooks: Hooks,
    ) -> Result<Pipeline, StartError> {
        open(config, stop, hooks)
    }

    /// Runs until the input ends or the stop flag is set.
    pub fn run(self) -> Finished {
        let Pipeline { mut job, mut readers, sources, mut lanes, writes, live, stop } = self;
        let file_lane = if live { None } else { lanes.pop() };
        let read = if let Some(mut lane) = file_lane {
            let mut deliver = |f: &Frame<'_>| {
                lane.begin();
                let d = lane.decide(f);
                job.deliver(f, &d, &lane)
            };
            let read = if readers.len() == 1 {
                readers[0].for_each(&mut deliver)
            } else {
                merge(&mut readers, &mut deliver)
            };
            lane.finish();
            job.lanes[0] = lane.figures();
            // A signal ended the input (perhaps while it was quiet): the run was interrupted.
            job.interrupted = stop.load(Ordering::Relaxed) && !job.limit_reached && !job.output_closed;
            read
        } else {
            receive(&mut job, sources, lanes, &writes, &stop);
            Ok(())
        };
        let written = job.finish();
        let mut summary = job.summary();
        let error = match read {
            Err(error) => Some(RunError::Read { error, frames: summary.frames_in }),
            Ok(()) => written.map(RunError::Write),
        };
        summary.error = error.as_ref().map(|e| e.to_string());
        job.publish_last(&summary);
        Finished { summary, error }
    }
}

fn open(config: &PipelineConfig, stop: Arc<AtomicBool>, hooks: Hooks) -> Result<Pipeline, StartError> {
    config.check().map_err(StartError::Setup)?;
    let live = config.is_live();
    // The filter first: a bad expression is a usage error before anything is opened.
    Filter::new(config.filter.as_deref(), &config.context)?;
    let mut readers = Vec::new();
    let mut sources = Vec::new();
    let mut decoder = config.decoder.clone();
    for s in &config.sources {
        match s {
            Source::Endpoint(e) if config.xdp => open_xdp_endpoint(*e, config, &mut decoder, &mut sources)?,
            Source::Interface(name) if config.xdp => open_xdp(
                name,
                capture::xdp::Pick::All,
                None,
                config,
                format!("interface {name}"),
                &mut sources,
            )?,
            Source::File(path) => match FileReader::open_until(path, stop.clone()) {
                Ok(r) => readers.push(r),
                Err(_) if stop.load(Ordering::Relaxed) => return Err(StartError::Stopped),
                Err(e) => return Err(StartError::Setup(e.to_string())),
            },
            Source::Endpoint(e) => open_endpoint(*e, config.workers, config.buffer_mib, &mut sources)?,
            Source::Interface(name) => {
                // One fanout group per interface, unique to this process.
                let n = sources.len() as u16;
                let group = ((std::process::id() as u16) ^ n.wrapping_mul(0x9e37)).max(1);
                for _ in 0..config.workers {
                    let spec = RingSpec {
                        interface: name.clone(),
                        mib: config.buffer_mib,
                        fanout: (config.workers > 1).then_some(group),
                        promiscuous: config.promiscuous,
                    };
                    let ring = spec
                        .open()
                        .map_err(|e| StartError::Setup(format!("cannot capture on {name}: {e}")))?;
                    sources.push(Live::Ring(ring, spec));
                }
            }
        }
    }
    let (mut files, mut sinks, mut flows, mut export) = (Vec::new(), Vec::new(), None, None);
    // Live, a thread for each source; each has its own part of a TAP, tool port or tunnel.
    let workers = if live { sources.len() } else { 1 };
    let writes = WriteQueue::default();
    let (mut counter, mut exporter) = (hooks.flows, hooks.export);
    for s in &config.sinks {
        match s {
            Sink::File(f) => files.push(FileOut::open(f, live, &writes).map_err(StartError::Setup)?),
            Sink::Tap(name) => sinks.push(
                FrameSink::tap(name, workers)
                    .map_err(|e| StartError::Setup(format!("cannot open TAP {name}: {e}")))?,
            ),
            Sink::Port(name) => sinks.push(
                FrameSink::port(name, workers, live)
                    .map_err(|e| StartError::Setup(format!("cannot write to interface {name}: {e}")))?,
            ),
            Sink::Tunnel(t) => sinks.push(
                FrameSink::tunnel(*t, workers)
                    .map_err(|e| StartError::Setup(format!("cannot send to {t:?}: {e}")))?,
            ),
            Sink::Flows { sample } => {
                let counter = counter.take().ok_or_else(|| {
                    StartError::Setup(
                        "the flows sink counts into a flow engine: run it in detunnel serve".into(),
                    )
                })?;
                flows = Some(FlowSink::new(counter, *sample));
            }
            Sink::Export { sample } => {
                let exporter = exporter.take().ok_or_else(|| {
                    StartError::Setup(
                        "the export sink sends to the daemon's exports: run it in detunnel serve with [export.kafka] or [export.ipfix]".into(),
                    )
                })?;
                export = Some(FlowSink::new(exporter, *sample));
            }
        }
    }
    for flag in files.iter().filter_map(FileOut::reopen_flag) {
        signal_hook::flag::register(signal_hook::consts::SIGHUP, flag)
            .map_err(|e| StartError::Setup(format!("cannot handle SIGHUP: {e}")))?;
    }
    let new_lane = || -> Result<Lane, StartError> {
        let filter = Filter::new(config.filter.as_deref(), &config.context)?;
        let decap = Decapsulator::new(config.decap.clone());
        let dissector = Dissector::new(decoder.clone());
        let lane = Lane::new(dissector, decap, filter, config.erspan_timestamps, config.balance);
        let emit = config.sinks.iter().any(|s| !s.counts());
        let count = config.sinks.iter().any(Sink::counts);
        Ok(lane.sinks(emit, count))
    };
    let lanes = if live {
        let lane_of = |s: &Live| -> Result<Lane, StartError> {
            Ok(match s {
                Live::Endpoint(l) => new_lane()?.for_endpoint(l.endpoint().kind, false),
                Live::Xdp(_, XdpSpec { endpoint: Some(kind), .. }) => new_lane()?.for_endpoint(*kind, true),
                Live::Ring(..) | Live::Gone(..) | Live::Xdp(..) => new_lane()?,
            })
        };
        sources.iter().map(lane_of).collect::<Result<Vec<Lane>, StartError>>()?
    } else {
        vec![new_lane()?]
    };
    let job = Job::new(
        live,
        stop.clone(),
        lanes.len(),
        config.dedup_ms,
        config.erspan_timestamps,
        files,
        sinks,
        flows,
        export,
        config.sflow.then(|| SflowReader::new(config.decoder.clone(), MAX_SFLOW_AGENTS)),
        hooks.publish,
        hooks.progress,
        config.count,
        readers.iter().map(FileReader::size).sum::<Option<u64>>(),
    );
    Ok(Pipeline { job, readers, sources, lanes, writes, live, stop })
}

/// Opens endpoint `e`: a UDP endpoint gets a socket per worker on the same port (the kernel
/// spreads the senders over them); a raw socket sees every packet, so one is enough.
fn open_endpoint(
    e: capture::endpoint::Endpoint,
    workers: usize,
    buffer_mib: u32,
    sources: &mut Vec<Live>,
) -> Result<(), StartError> {
    let asked = buffer_mib as usize * (1 << 20);
    let open = |e: capture::endpoint::Endpoint| {
        capture::endpoint::Listener::open(e, asked, Duration::from_millis(200)).map_err(|err| {
            StartError::Setup(format!("cannot listen on {}://{}: {err}", e.kind.scheme(), e.addr))
        })
    };
    let first = open(e)?;
    let what = format!("{}://{}", e.kind.scheme(), first.endpoint().addr);
    if let Some(warning) = capture::udp::buffer_shortfall(&what, first.receive_buffer(), asked) {
        eprintln!("detunnel: {warning}");
    }
    let (more, bound) = (if first.is_udp() { workers - 1 } else { 0 }, first.endpoint());
    sources.push(Live::Endpoint(first));
    for _ in 0..more {
        sources.push(Live::Endpoint(open(bound)?));
    }
    Ok(())
}

/// Opens an AF_XDP socket per worker on `interface` (queues 0 up), under a program picking
/// `pick`; the summary calls them `name`.
fn open_xdp(
    interface: &str,
    pick: capture::xdp::Pick,
    endpoint: Option<capture::endpoint::Kind>,
    config: &PipelineConfig,
    name: String,
    sources: &mut Vec<Live>,
) -> Result<(), StartError> {
    let failed = |e: std::io::Error| {
        StartError::Setup(format!("cannot receive from {name} through AF_XDP on {interface}: {e}"))
    };
    // A socket takes only its own queue's frames: one worker per queue, or frames are missed.
    let queues = capture::xdp::receive_queues(interface).map_err(failed)?;
    if queues as usize != config.workers {
        return Err(failed(std::io::Error::other(format!(
            "it has {queues} receive queues, and AF_XDP takes a worker per queue: --workers {queues} (or fewer queues: ethtool -L)"
        ))));
    }
    let program = Arc::new(Mutex::new(None));
    for queue in 0..queues {
        let spec = XdpSpec {
            interface: interface.to_string(),
            name: name.clone(),
            endpoint,
            pick,
            queue,
            queues,
            mib: config.buffer_mib,
            program: program.clone(),
        };
        sources.push(Live::Xdp(spec.open().map_err(failed)?, spec));
    }
    Ok(())
}

/// Opens endpoint `e` through AF_XDP on the interface that has its address; a UDP endpoint
/// on another port than its protocol's has the decoder (`decoder`) read that port as it.
fn open_xdp_endpoint(
    e: capture::endpoint::Endpoint,
    config: &PipelineConfig,
    decoder: &mut dissect::Config,
    sources: &mut Vec<Live>,
) -> Result<(), StartError> {
    let name = format!("{}://{}", e.kind.scheme(), e.addr);
    if e.addr.ip().is_unspecified() {
        return Err(StartError::Setup(format!(
            "{name}: with --xdp an endpoint needs its own address (the XDP program runs on the interface that has it)"
        )));
    }
    let interface = capture::xdp::interface_with(e.addr.ip())
        .map_err(|err| StartError::Setup(format!("cannot receive {name} through AF_XDP: {err}")))?;
    let (proto, port) = match e.kind {
        capture::endpoint::Kind::Gre => (47, None),
        capture::endpoint::Kind::IpIp => (4, None),
        _ => (17, Some(e.addr.port())),
    };
    if port.is_some_and(|p| p != e.kind.port()) {
        let standard = dissect::table::Table::new(dissect::Config::default()).udp_port(e.kind.port());
        decoder.udp_ports.extend(standard.map(|next| (e.addr.port(), next)));
    }
    let pick = capture::xdp::Pick::To { addr: e.addr.ip(), proto, port };
    open_xdp(&interface, pick, Some(e.kind), config, name, sources)
}

/// Receives from every live source (a thread each, with its own lane) into the job until
/// `stop`, each thread writing the files' full buffers out (`writes`) after it lets go of the
/// job; then adds the rings' and sockets' kernel drop counters to the job.
fn receive(job: &mut Job, sources: Vec<Live>, lanes: Vec<Lane>, writes: &WriteQueue, stop: &AtomicBool) {
    // Workers on one interface or endpoint count into one entry.
    let mut slots = Vec::with_capacity(sources.len());
    for s in &sources {
        let name = s.name();
        let slot = match job.sources.iter().position(|(n, _, _)| *n == name) {
            Some(i) => i,
            None => {
                job.sources.push((name, 0, 0));
                job.sources.len() - 1
            }
        };
        slots.push(slot);
    }
    if sources.iter().any(|s| matches!(s, Live::Ring(..) | Live::Xdp(..))) {
        job.kernel = Some((0, 0));
    }
    let held: Vec<Held> = (0..sources.len()).map(|n| job.held(n)).collect();
    let alone = sources.len() == 1;
    let shared = Mutex::new(job);
    let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
    std::thread::scope(|scope| {
        for (n, (((mut source, i), mut lane), held)) in
            sources.into_iter().zip(slots.iter().copied()).zip(lanes).zip(held).enumerate()
        {
            let lock = &lock;
            // The first worker of a source says what happens to it (once, not once a worker).
            let speaks = slots.iter().position(|&s| s == i) == Some(n);
            scope.spawn(move || {
                // A batch's decisions, made outside the lock (reused: no allocation per frame).
                let mut decisions: Vec<Decision> = Vec::new();
                // Not holding the job: sends what this worker handed its TAPs, tool ports and
                // tunnels, and writes the files' waiting buffers, while another worker delivers.
                let sent = || {
                    held.send();
                    writes.write_waiting();
                };
                let chunk = if held.is_empty() { usize::MAX } else { CHUNK };
                // A ring's (or AF_XDP socket's) kernel counters go to the job when it ends, or when its interface does.
                let kernel_counts = |stats: std::io::Result<capture::live::RingStats>| {
                    if let Ok(s) = stats {
                        let mut job = lock();
                        let k = job.kernel.get_or_insert((0, 0));
                        k.0 += s.packets;
                        k.1 += s.drops;
                    }
                };
                // An interface gone: said once, opened again once a second from now on.
                let gone = |said: String, spec: Spec| {
                    if speaks {
                        eprintln!("detunnel: {said}; opening it again once a second until it is back");
                    }
                    Some(Live::Gone(spec, Instant::now() + Duration::from_secs(1)))
                };
                while !stop.load(Ordering::Relaxed) {
                    let (lane, decisions) = (&mut lane, &mut decisions);
                    let mut next = None;
                    let got = match &mut source {
                        // A batch of datagrams (up to 32).
                        Live::Endpoint(l) => l.fill().map(|count| {
                            if count > 0 {
                                take_batch(
                                    || l.frames(),
                                    (lane, alone),
                                    decisions,
                                    lock,
                                    i,
                                    n,
                                    (chunk, &sent),
                                );
                            }
                            count > 0
                        }),
                        // A ring block.
                        Live::Ring(r, spec) => match r.wait(200) {
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                                kernel_counts(r.stats());
                                next = gone(e.to_string(), Spec::Ring(spec.clone()));
                                Ok(false)
                            }
                            waited => waited.map(|()| {
                                let block = r.next_block();
                                let took = block.is_some();
                                if let Some(block) = block {
                                    take_batch(
                                        || block.frames(),
                                        (lane, alone),
                                        decisions,
                                        lock,
                                        i,
                                        n,
                                        (chunk, &sent),
                                    );
                                }
                                took
                            }),
                        },
                        // A batch of frames from the shared memory.
                        Live::Xdp(x, spec) => match x.wait(200) {
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                                kernel_counts(x.stats());
                                let said = format!("interface {} disappeared ({e})", spec.interface);
                                next = gone(said, Spec::Xdp(spec.clone()));
                                Ok(false)
                            }
                            waited => waited.map(|()| {
                                let batch = x.batch();
                                let took = !batch.is_empty();
                                if took {
                                    take_batch(
                                        || batch.frames(),
                                        (lane, alone),
                                        decisions,
                                        lock,
                                        i,
                                        n,
                                        (chunk, &sent),
                                    );
                                }
                                took
                            }),
                        },
                        Live::Gone(spec, retry) => {
                            std::thread::sleep(
                                retry
                                    .saturating_duration_since(Instant::now())
                                    .min(Duration::from_millis(200)),
                            );
                            if Instant::now() >= *retry {
                                match spec.open() {
                                    Ok(live) => {
                                        if speaks {
                                            eprintln!(
                                                "detunnel: interface {} is back; capturing again",
                                                spec.interface()
                                            );
                                        }
                                        next = Some(live);
                                    }
                                    Err(_) => *retry = Instant::now() + Duration::from_secs(1),
                                }
                            }
                            Ok(false)
                        }
                    };
                    if let Some(s) = next {
                        source = s;
                    }
                    // Nothing taken: the job's periodic work still runs.
                    if !matches!(got, Ok(true)) {
                        if let Err(e) = got {
                            eprintln!("detunnel: receiving: {e}");
                            std::thread::sleep(Duration::from_millis(200));
                        }
                        let mut job = lock();
                        job.lanes[n] = lane.figures();
                        job.tick();
                        drop(job);
                        sent();
                    }
                }
                lane.finish();
                lock().lanes[n] = lane.figures();
                match &mut source {
                    Live::Ring(r, _) => kernel_counts(r.stats()),
                    Live::Xdp(x, _) => kernel_counts(x.stats()),
                    Live::Gone(..) => {}
                    Live::Endpoint(l) => {
                        if let Some(drops) = l.kernel_drops() {
                            let mut job = lock();
                            job.socket_drops = Some(job.socket_drops.unwrap_or(0) + drops);
                        }
                    }
                }
            });
        }
    });
}

/// Frames a worker delivers per hold of the job's lock when it has sinks' parts to send
/// from: after each chunk it lets go and sends what it handed them (and writes the files'
/// waiting buffers) while another worker delivers. Without, a whole batch goes under one
/// lock, as chunks serve nothing there (two workers writing files, six alternating drains
/// each: chunked 3.58-5.39 M frames a second, median 5.10 M, whole 5.18-6.01 M, median 5.47 M).
const CHUNK: usize = 256;

/// Counts (as source `source`) and delivers a batch of frames under the job's lock (taken with
/// `lock`), a chunk at a time, with the job's periodic work; calls `sent` after each chunk of
/// `chunk` frames, the lock let go. Several workers decide the whole batch in their lanes
/// first, outside the lock, so that one decides while another delivers; a worker `alone`
/// decides each frame as it delivers it, which saves storing and reading back every decision
/// (drains of 1,000,000 frames to /dev/null, alternating: 157-161 ns of CPU a frame in four
/// of five against 169-171 in three of five).
fn take_batch<'f, 'j, G: std::ops::DerefMut<Target = &'j mut Job>, I: Iterator<Item = Frame<'f>>>(
    frames: impl Fn() -> I,
    (lane, alone): (&mut Lane, bool),
    decisions: &mut Vec<Decision>,
    lock: &impl Fn() -> G,
    source: usize,
    worker: usize,
    (chunk, sent): (usize, &impl Fn()),
) {
    lane.begin();
    decisions.clear();
    if !alone {
        decisions.extend(frames().map(|f| lane.decide(&f)));
    }
    let (mut frames, mut decided) = (frames().peekable(), decisions.iter());
    while frames.peek().is_some() {
        let mut job = lock();
        job.worker = worker;
        let mut deliver = |f: &Frame<'_>, d: &Decision, lane: &Lane| {
            job.count_source(source, f);
            job.deliver(f, d, lane).is_break()
        };
        let stopped = if alone {
            frames.by_ref().take(chunk).any(|f| {
                lane.begin();
                let d = lane.decide(&f);
                deliver(&f, &d, lane)
            })
        } else {
            frames.by_ref().take(chunk).zip(&mut decided).any(|(f, d)| deliver(&f, d, lane))
        };
        job.lanes[worker] = lane.figures();
        job.tick();
        drop(job);
        sent();
        if stopped {
            break;
        }
    }
}

/// One input's next frame, copied out of its reader.
struct Slot {
    data: Vec<u8>,
    orig_len: u32,
    ts: u64,
    link: LinkType,
    interface: u32,
    record: u64,
    live: bool,
}

/// Calls `f` with the frames of all `readers` in timestamp order (ties in input order).
fn merge<F>(readers: &mut [FileReader], mut f: F) -> Result<(), CaptureError>
where
    F: FnMut(&Frame<'_>) -> ControlFlow<()>,
{
    let mut slots: Vec<Slot> = Vec::with_capacity(readers.len());
    for r in readers.iter_mut() {
        let mut s = Slot {
            data: Vec::with_capacity(2048),
            orig_len: 0,
            ts: 0,
            link: LinkType::ETHERNET,
            interface: 0,
            record: 0,
            live: false,
        };
        refill(r, &mut s)?;
        slots.push(s);
    }
    loop {
        let Some(i) = (0..slots.len()).filter(|&i| slots[i].live).min_by_key(|&i| (slots[i].ts, i)) else {
            return Ok(());
        };
        let s = &slots[i];
        let frame = Frame {
            data: &s.data,
            orig_len: s.orig_len,
            ts_nanos: s.ts,
            link: s.link,
            interface: s.interface,
            record: s.record,
        };
        if f(&frame).is_break() {
            return Ok(());
        }
        refill(&mut readers[i], &mut slots[i])?;
    }
}

fn refill(r: &mut FileReader, s: &mut Slot) -> Result<(), CaptureError> {
    s.live = false;
    r.for_each(|fr| {
        s.data.clear();
        s.data.extend_from_slice(fr.data);
        s.orig_len = fr.orig_len;
        s.ts = fr.ts_nanos;
        s.link = fr.link;
        s.interface = fr.interface;
        s.record = fr.record;
        s.live = true;
        ControlFlow::Break(())
    })
}

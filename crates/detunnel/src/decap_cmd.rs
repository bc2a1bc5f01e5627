//! `detunnel decap`: strips the tunnels from captures, at disk speed, keeping every tunnel
//! stream's identity (one pcapng interface, or one file, per stream).
use crate::cli::{DecapArgs, FormatArg, StatsArg, TimestampArg};
use crate::fasthash::FastMap;
use crate::lane::{Decision, Fate, Lane, LaneFigures};
use anyhow::{bail, Context, Result};
use capture::{CaptureError, FileReader, FileWriter, Format, Frame, RotatingWriter};
use decap::reassembly::ReassemblyCounters;
use decap::{Decapsulator, Dedup, Drop, Emission, ErspanClock, Options, StreamKey, StreamKind};
use dissect::{Dissector, LinkType};
use std::io::IsTerminal;
use std::ops::{ControlFlow, Range};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most streams tracked one by one; frames of further streams are counted together.
const MAX_STREAMS: usize = 65_536;
/// Most dropped (or reassembly-completing) frame numbers listed in the JSON summary.
const MAX_LISTED_DROPS: usize = 1_000;

/// Per-stream counts and where its frames go.
struct StreamEntry {
    frames: u64,
    bytes: u64,
    interface: u32,
    split: Option<FileWriter>,
}

impl StreamEntry {
    /// Counts a frame of the stream and writes it to the stream's own file when streams are
    /// split; returns the stream's output interface.
    fn count(&mut self, len: u64, ts: u64, e: &Emission, data: &[u8]) -> Result<u32> {
        self.frames += 1;
        self.bytes += len;
        if let Some(w) = &mut self.split {
            let (head, body) = e.parts(data);
            w.write_parts(0, ts, e.orig_len, head, body).context("writing a split stream file")?;
        }
        Ok(self.interface)
    }
}

/// Everything one run of `decap` holds.
struct Job<'a> {
    args: &'a DecapArgs,
    format: Format,
    /// Each lane's decoder and reassembly counts, as it last reported them.
    lanes: Vec<LaneFigures>,
    dedup: Option<Dedup>,
    clock: Option<ErspanClock>,
    writer: Option<RotatingWriter>,
    /// TAPs and re-encapsulating senders.
    sinks: Vec<Sink>,
    /// Frames the kernel saw on the capture rings and dropped for a full ring.
    kernel: (u64, u64),
    /// Packets the kernel dropped on the endpoints' own sockets (read as they close).
    socket_drops: Option<u64>,
    /// Live sources: name, frames and bytes received.
    sources: Vec<(String, u64, u64)>,
    /// Live sources: an output error is counted and the output reopened, not fatal.
    live: bool,
    /// An output error was reported (live sources report the first only).
    write_failed: bool,
    /// Live: the output is flushed this often, so it can be read while it grows and a full
    /// disk shows at once.
    last_flush: Instant,
    /// Where the running summary goes, once a second (the daemon's pipelines).
    publish: Option<Publish>,
    last_publish: Instant,
    streams: FastMap<StreamKey, StreamEntry>,
    other_streams: (u64, u64),
    untunnelled_split: Option<FileWriter>,
    frames_in: u64,
    bytes_in: u64,
    /// Frames emitted (some may then be lost to a failing output: see `frames_out`).
    emitted: u64,
    /// Bytes of the frames emitted.
    bytes_emitted: u64,
    in_by_kind: Vec<(&'static str, u64)>,
    out_by_kind: Vec<(&'static str, u64)>,
    drops: [u64; Drop::ALL.len()],
    dropped_frames: Vec<u64>,
    reassembled_frames: Vec<u64>,
    error: Option<anyhow::Error>,
    stop: Arc<AtomicBool>,
    interrupted: bool,
    progress: Option<Instant>,
    started: Instant,
}

/// Runs the command.
pub fn run(args: &DecapArgs) -> Result<ExitCode> {
    run_pipeline(args, crate::stop::on_signals()?, None)
}

/// What to emit, as the command line says.
fn decap_options(args: &DecapArgs) -> Options {
    Options {
        strip: args.strip,
        depth: args.depth,
        strip_tags: args.strip_tags.clone().unwrap_or_default(),
        only_tunnelled: args.only_tunnelled,
        snaplen: args.snaplen.map(|s| s as usize),
        synth_macs: args.synth_mac,
    }
}

/// Receives the pipeline's JSON summary while it runs (once a second) and when it ends.
pub type Publish = Box<dyn FnMut(String) + Send>;

/// Runs the pipeline `args` describe until its input ends or `stop` is set; with `publish`,
/// hands it the JSON summary once a second and at the end (the daemon's pipelines).
pub fn run_pipeline(args: &DecapArgs, stop: Arc<AtomicBool>, publish: Option<Publish>) -> Result<ExitCode> {
    let path = args.write.as_deref().unwrap_or("");
    let format = FormatArg::resolve(args.format, path);
    if path == "-" && std::io::stdout().is_terminal() {
        bail!("refusing to write a capture to a terminal; use -w FILE or pipe it (| tcpdump -r -)");
    }
    if let Some(dir) = &args.split_streams {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the folder {dir}"))?;
    }
    let rotation = capture::Rotation {
        size_bytes: args.rotate_size.map(|mb| mb.saturating_mul(1_000_000)),
        seconds: args.rotate_seconds,
        retry: !args.listen.is_empty() || !args.interface.is_empty(),
    };
    let writer = match &args.write {
        Some(w) => Some(
            RotatingWriter::create(w, format, rotation)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {}", e.path, e.error))?,
        ),
        None => None,
    };
    let mut readers = Vec::new();
    for r in &args.read {
        match FileReader::open_until(r, stop.clone()) {
            Ok(reader) => readers.push(reader),
            // Stopped before the input said what it is: nothing was read, nothing written.
            Err(_) if stop.load(Ordering::Relaxed) => return Ok(ExitCode::from(130)),
            Err(e) => return Err(e.into()),
        }
    }
    let mut live = Vec::new();
    for e in &args.listen {
        let open = |e: capture::endpoint::Endpoint| {
            capture::endpoint::Listener::open(e, 32 << 20, Duration::from_millis(200))
                .with_context(|| format!("cannot listen on {e:?}"))
        };
        let first = open(*e)?;
        // A UDP endpoint gets a socket per worker on the same port (the kernel spreads the
        // senders over them); a raw socket sees every packet, so one is enough.
        let (more, bound) = (if first.is_udp() { args.workers - 1 } else { 0 }, first.endpoint());
        live.push(Live::Endpoint(first));
        for _ in 0..more {
            live.push(Live::Endpoint(open(bound)?));
        }
    }
    for (n, name) in args.interface.iter().enumerate() {
        // One fanout group per interface, unique to this process.
        let group = ((std::process::id() as u16) ^ (n as u16).wrapping_mul(0x9e37)).max(1);
        for _ in 0..args.workers {
            let fanout = (args.workers > 1).then_some(group);
            let ring = capture::live::Ring::open(name, fanout, args.promiscuous)
                .with_context(|| format!("cannot capture on {name}"))?;
            live.push(Live::Ring(ring, format!("interface {name}")));
        }
    }
    let lane = || -> Result<Lane> {
        let filter = crate::filter::Filter::new(args.filter.as_deref(), &args.sets)?;
        let decap = Decapsulator::new(decap_options(args));
        let erspan = args.timestamps == TimestampArg::Erspan;
        Ok(Lane::new(Dissector::new(args.decoder.config()), decap, filter, erspan).balancing(args.balance))
    };
    // A lane per live source (an endpoint's drops what is not its tunnel), or one for files.
    let lanes = if live.is_empty() {
        vec![lane()?]
    } else {
        let lane_of = |s: &Live| -> Result<Lane> {
            Ok(match s {
                Live::Endpoint(l) => lane()?.for_endpoint(l.endpoint().kind),
                Live::Ring(..) => lane()?,
            })
        };
        live.iter().map(lane_of).collect::<Result<Vec<Lane>>>()?
    };
    let mut job = Job::new(args, format, writer, stop.clone(), lanes.len());
    job.live = !live.is_empty();
    job.publish = publish;
    if let Some(w) = &job.writer {
        signal_hook::flag::register(signal_hook::consts::SIGHUP, w.reopen_flag())
            .context("cannot handle SIGHUP")?;
    }
    for name in &args.tap {
        job.sinks.push(Sink::Tap(capture::tap::Tap::open(name)?));
    }
    for t in &args.to {
        let sender = capture::encap::Sender::open(*t).with_context(|| format!("cannot send to {t:?}"))?;
        job.sinks.push(Sink::Tunnel(sender));
    }
    let read = if !live.is_empty() {
        listen(&mut job, live, lanes, &stop)
    } else {
        let mut lane = lanes.into_iter().next().context("no lane")?;
        let read = if readers.len() == 1 {
            readers[0].for_each(|f| job.frame(&mut lane, f))
        } else {
            merge(&mut readers, |f| job.frame(&mut lane, f))
        };
        lane.finish();
        job.lanes[0] = lane.figures();
        read
    };
    if !job.live && stop.load(Ordering::Relaxed) {
        // A signal ended the input (perhaps while it was quiet): the run was interrupted.
        job.interrupted = true;
    }
    let finished = job.finish();
    job.summary();
    let last = job.summary_json();
    if let Some(p) = &mut job.publish {
        p(last);
    }
    if let Err(e) = read {
        return Err(anyhow::anyhow!(
            "{e}\n  the {} frames before it were written, and the output was closed cleanly",
            job.frames_in
        ));
    }
    finished?;
    if job.interrupted {
        eprintln!("detunnel: interrupted; everything read so far was written");
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// The summary's figures: streams (most frames first), seconds, reassembly counters and
/// decoder anomalies.
struct Figures<'a> {
    streams: Vec<(&'a StreamKey, &'a StreamEntry)>,
    secs: f64,
    r: decap::ReassemblyCounters,
    anomalies: Vec<(&'static str, u64)>,
}

/// Where stripped frames go besides files.
enum Sink {
    /// A TAP interface.
    Tap(capture::tap::Tap),
    /// A tunnel to a remote tool.
    Tunnel(capture::encap::Sender),
}

impl Sink {
    fn send(&mut self, head: &[u8], body: &[u8], ts: u64) {
        match self {
            Sink::Tap(t) => t.send(head, body),
            Sink::Tunnel(s) => s.send(head, body, ts),
        }
    }

    /// Name, frames, bytes, frames too big and frames refused.
    fn counts(&self) -> (String, u64, u64, u64, u64) {
        match self {
            Sink::Tap(t) => {
                let c = t.counts;
                (format!("tap {}", t.name()), c.frames, c.bytes, c.too_big, c.errors)
            }
            Sink::Tunnel(s) => {
                let c = s.counts;
                let t = s.target();
                (format!("{:?} to {}", t.tunnel, t.addr), c.frames, c.bytes, 0, c.errors)
            }
        }
    }
}

/// A live source: a tunnel endpoint or an interface's capture ring.
enum Live {
    Endpoint(capture::endpoint::Listener),
    Ring(capture::live::Ring, String),
}

impl Live {
    /// How the summary names it.
    fn name(&self) -> String {
        match self {
            Live::Endpoint(l) => {
                let e = l.endpoint();
                format!("{}://{}", e.kind.scheme(), e.addr)
            }
            Live::Ring(_, name) => name.clone(),
        }
    }
}

/// Receives from every live source (a thread each, with its own lane) into the job until
/// `stop`; then adds the rings' and sockets' kernel drop counters to the job.
fn listen(
    job: &mut Job<'_>,
    sources: Vec<Live>,
    lanes: Vec<Lane>,
    stop: &AtomicBool,
) -> Result<(), CaptureError> {
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
    let shared = std::sync::Mutex::new(job);
    let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
    std::thread::scope(|scope| {
        for (n, ((mut source, i), mut lane)) in sources.into_iter().zip(slots).zip(lanes).enumerate() {
            let lock = &lock;
            scope.spawn(move || {
                // A ring block's decisions, made outside the lock (reused: no allocation per frame).
                let mut decisions: Vec<Decision> = Vec::new();
                let mut received = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let got = match &mut source {
                        Live::Endpoint(l) => l.recv().map(|f| {
                            let Some(f) = f else {
                                lock().lanes[n] = lane.figures();
                                return;
                            };
                            lane.begin();
                            let d = lane.decide(&f);
                            let mut job = lock();
                            job.count_source(i, &f);
                            if job.deliver(&f, &d, &lane).is_break() {
                                stop.store(true, Ordering::Relaxed);
                            }
                            received += 1;
                            if received % 64 == 0 {
                                job.lanes[n] = lane.figures();
                            }
                        }),
                        // A whole block decided in parallel, then written under one lock.
                        Live::Ring(r, _) => r.wait(200).map(|()| {
                            let Some(block) = r.next_block() else { return };
                            lane.begin();
                            decisions.clear();
                            decisions.extend(block.frames().map(|f| lane.decide(&f)));
                            let mut job = lock();
                            for (f, d) in block.frames().zip(&decisions) {
                                job.count_source(i, &f);
                                if job.deliver(&f, d, &lane).is_break() {
                                    stop.store(true, Ordering::Relaxed);
                                    break;
                                }
                            }
                            job.lanes[n] = lane.figures();
                        }),
                    };
                    if let Err(e) = got {
                        eprintln!("detunnel: receiving: {e}");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    lock().tick();
                }
                lane.finish();
                lock().lanes[n] = lane.figures();
                match &source {
                    Live::Ring(r, _) => {
                        if let Ok(s) = r.stats() {
                            let mut job = lock();
                            job.kernel.0 += s.packets;
                            job.kernel.1 += s.drops;
                        }
                    }
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
    Ok(())
}

impl<'a> Job<'a> {
    fn new(
        args: &'a DecapArgs,
        format: Format,
        writer: Option<RotatingWriter>,
        stop: Arc<AtomicBool>,
        lanes: usize,
    ) -> Job<'a> {
        let progress = (!args.quiet && std::io::stderr().is_terminal()).then(Instant::now);
        Job {
            args,
            format,
            lanes: vec![LaneFigures::default(); lanes],
            dedup: args.dedup.map(Dedup::new),
            clock: (args.timestamps == TimestampArg::Erspan).then(ErspanClock::new),
            writer,
            sinks: Vec::new(),
            kernel: (0, 0),
            socket_drops: None,
            sources: Vec::new(),
            live: false,
            write_failed: false,
            last_flush: Instant::now(),
            publish: None,
            last_publish: Instant::now(),
            streams: FastMap::default(),
            other_streams: (0, 0),
            untunnelled_split: None,
            frames_in: 0,
            bytes_in: 0,
            emitted: 0,
            bytes_emitted: 0,
            in_by_kind: Vec::new(),
            out_by_kind: Vec::new(),
            drops: [0; Drop::ALL.len()],
            dropped_frames: Vec::new(),
            reassembled_frames: Vec::new(),
            error: None,
            stop,
            interrupted: false,
            progress,
            started: Instant::now(),
        }
    }

    /// Handles one frame of a capture file: decided by `lane`, then delivered.
    fn frame(&mut self, lane: &mut Lane, f: &Frame<'_>) -> ControlFlow<()> {
        lane.begin();
        let d = lane.decide(f);
        self.deliver(f, &d, lane)
    }

    /// Counts and writes frame `f` as `lane` decided it.
    fn deliver(&mut self, f: &Frame<'_>, d: &Decision, lane: &Lane) -> ControlFlow<()> {
        // A signal is how a live capture ends (a file's reader ends itself on it, after the
        // frames it has read).
        if self.live && self.stop.load(Ordering::Relaxed) {
            return ControlFlow::Break(());
        }
        self.frames_in += 1;
        self.bytes_in += f.data.len() as u64;
        if self.progress.is_some() && self.frames_in % 16_384 == 0 {
            self.show_progress(false);
        }
        if d.completed && self.reassembled_frames.len() < MAX_LISTED_DROPS {
            self.reassembled_frames.push(f.record);
        }
        count(&mut self.in_by_kind, d.kind);
        let flow = match &d.fate {
            Fate::Dropped(why) => self.drop(*why, f.record),
            Fate::Emitted { emission, datagram, erspan3, balance } => {
                let data = lane.data(*datagram, f.data);
                self.emit(data, emission, erspan3.clone(), *balance, f.ts_nanos, f.record)
            }
        };
        if self.error.is_some() {
            return ControlFlow::Break(());
        }
        flow
    }

    fn drop(&mut self, why: Drop, record: u64) -> ControlFlow<()> {
        self.drops[why as usize] += 1;
        if self.dropped_frames.len() < MAX_LISTED_DROPS {
            self.dropped_frames.push(record);
        }
        ControlFlow::Continue(())
    }

    /// Writes emission `e` of `data` (which holds the ERSPAN III header at `erspan3`).
    fn emit(
        &mut self,
        data: &[u8],
        e: &Emission,
        erspan3: Option<Range<usize>>,
        balance: Option<u64>,
        ts: u64,
        record: u64,
    ) -> ControlFlow<()> {
        let (head, body) = e.parts(data);
        if let Some(d) = &mut self.dedup {
            if d.is_duplicate_parts(head, body, ts) {
                return self.drop(Drop::Duplicate, record);
            }
        }
        let ts = match (&mut self.clock, e.stream) {
            (Some(clock), Some(key)) if key.kind == StreamKind::Erspan3 => {
                let header = erspan3.and_then(|r| data.get(r));
                header.and_then(|h| clock.time(key, ts, h)).unwrap_or(ts)
            }
            _ => ts,
        };
        let written = match e.stream {
            Some(key) => self
                .stream_interface(key, e, data, ts)
                .and_then(|interface| self.write(interface, ts, e, data, balance)),
            None => {
                self.write_untunnelled_split(ts, e, data).and_then(|()| self.write(0, ts, e, data, balance))
            }
        };
        // The frame is emitted whatever became of the write: the output counts what it lost.
        self.emitted += 1;
        self.bytes_emitted += e.len() as u64;
        count(&mut self.out_by_kind, e.stream.map_or("untunnelled", |k| k.kind.name()));
        if let Err(err) = written {
            if !self.live {
                self.error = Some(err);
                return ControlFlow::Break(());
            }
            // Live: the output counts the lost frames, and opens a fresh file a second later.
            self.report_write_failure(&err);
        }
        ControlFlow::Continue(())
    }

    /// Says once that the output is failing (live sources go on, counting what is lost).
    fn report_write_failure(&mut self, err: &dyn std::fmt::Display) {
        if !self.write_failed {
            self.write_failed = true;
            eprintln!("detunnel: {err:#}; counting lost frames and opening a fresh file in a second");
        }
    }

    /// Frames emitted that reached the output (all of them but those a failing file lost).
    fn frames_out(&self) -> u64 {
        self.emitted - self.write_errors().min(self.emitted)
    }

    /// Bytes of the frames out.
    fn bytes_out(&self) -> u64 {
        let lost = self.writer.as_ref().map_or(0, RotatingWriter::lost_bytes);
        self.bytes_emitted - lost.min(self.bytes_emitted)
    }

    /// Frames lost to failed writes of the output file.
    fn write_errors(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.frames().1)
    }

    fn write(
        &mut self,
        interface: u32,
        ts: u64,
        e: &Emission,
        data: &[u8],
        balance: Option<u64>,
    ) -> Result<()> {
        let (head, body) = e.parts(data);
        if !self.sinks.is_empty() {
            if let Some(hash) = balance {
                let i = (hash % self.sinks.len() as u64) as usize;
                self.sinks[i].send(head, body, ts);
            } else {
                for sink in &mut self.sinks {
                    sink.send(head, body, ts);
                }
            }
        }
        let Some(w) = &mut self.writer else { return Ok(()) };
        w.write(interface, ts, e.orig_len, head, body)?;
        Ok(())
    }

    /// Counts a frame of live source `i`.
    fn count_source(&mut self, i: usize, f: &Frame<'_>) {
        if let Some(s) = self.sources.get_mut(i) {
            s.1 += 1;
            s.2 += f.data.len() as u64;
        }
    }

    /// Live sources call this after each frame and when idle: flushes the output every 100 ms;
    /// a failed flush loses what was buffered (counted once) and opens a fresh file later.
    fn tick(&mut self) {
        let now = Instant::now();
        if self.publish.is_some() && now.duration_since(self.last_publish) >= Duration::from_secs(1) {
            self.last_publish = now;
            let json = self.summary_json();
            if let Some(p) = &mut self.publish {
                p(json);
            }
        }
        if !self.live || now.duration_since(self.last_flush) < Duration::from_millis(100) {
            return;
        }
        self.last_flush = now;
        let flushed = self.writer.as_mut().map_or(Ok(()), RotatingWriter::flush);
        if let Err(e) = flushed {
            self.report_write_failure(&e);
        }
    }

    /// The output interface of `key` (declaring it on first sight), after counting the frame
    /// and writing it to the stream's own file when streams are split.
    fn stream_interface(&mut self, key: StreamKey, e: &Emission, data: &[u8], ts: u64) -> Result<u32> {
        let len = e.len() as u64;
        if let Some(entry) = self.streams.get_mut(&key) {
            return entry.count(len, ts, e, data);
        }
        if self.streams.len() >= MAX_STREAMS {
            self.other_streams.0 += 1;
            self.other_streams.1 += len;
            return Ok(0);
        }
        let name = key.to_string();
        let interface = match &mut self.writer {
            Some(w) => w.add_interface(&name)?,
            None => 0,
        };
        let split = match &self.args.split_streams {
            Some(dir) => {
                let ext = if self.format == Format::Pcapng { "pcapng" } else { "pcap" };
                let path = format!("{dir}/{}.{ext}", key.file_name());
                Some(
                    FileWriter::create(&path, self.format, LinkType::ETHERNET, &name)
                        .with_context(|| format!("cannot create {path}"))?,
                )
            }
            None => None,
        };
        self.streams
            .entry(key)
            .or_insert(StreamEntry { frames: 0, bytes: 0, interface, split })
            .count(len, ts, e, data)
    }

    fn write_untunnelled_split(&mut self, ts: u64, e: &Emission, data: &[u8]) -> Result<()> {
        let Some(dir) = &self.args.split_streams else { return Ok(()) };
        if self.untunnelled_split.is_none() {
            let ext = if self.format == Format::Pcapng { "pcapng" } else { "pcap" };
            let path = format!("{dir}/untunnelled.{ext}");
            self.untunnelled_split = Some(
                FileWriter::create(&path, self.format, LinkType::ETHERNET, "untunnelled")
                    .with_context(|| format!("cannot create {path}"))?,
            );
        }
        if let Some(w) = &mut self.untunnelled_split {
            let (head, body) = e.parts(data);
            w.write_parts(0, ts, e.orig_len, head, body).context("writing a split stream file")?;
        }
        Ok(())
    }

    /// Flushes and closes every output.
    fn finish(&mut self) -> Result<()> {
        self.show_progress(true);
        let mut result = match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        };
        if let Some(w) = &mut self.writer {
            if let Err(e) = w.finish() {
                result = result.and(Err(e.into()));
            }
        }
        // Stream files are written in the loop below only once; flush them all.
        let keys: Vec<StreamKey> = self.streams.keys().copied().collect();
        for k in keys {
            if let Some(w) = self.streams.get_mut(&k).and_then(|e| e.split.take()) {
                result = result.and(w.finish().context("writing a split stream file"));
            }
        }
        if let Some(w) = self.untunnelled_split.take() {
            result = result.and(w.finish().context("writing a split stream file"));
        }
        result
    }

    fn show_progress(&mut self, last: bool) {
        let Some(shown) = self.progress else { return };
        if last {
            eprint!("\r\x1b[2K");
            return;
        }
        if shown.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.progress = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        eprint!(
            "\r\x1b[2Kdecap: {} frames in, {} out, {:.1} MB read, {:.0} MB/s",
            self.frames_in,
            self.frames_out(),
            self.bytes_in as f64 / 1e6,
            self.bytes_in as f64 / 1e6 / secs
        );
    }

    /// What both summaries report besides the plain counters.
    fn figures(&self) -> Figures<'_> {
        let mut streams: Vec<(&StreamKey, &StreamEntry)> = self.streams.iter().collect();
        streams.sort_by(|a, b| b.1.frames.cmp(&a.1.frames).then(a.0.cmp(b.0)));
        let (mut decoder, mut reassembly) = (dissect::Counters::default(), ReassemblyCounters::default());
        for lane in &self.lanes {
            decoder.merge(&lane.decoder);
            reassembly.merge(&lane.reassembly);
        }
        Figures {
            streams,
            secs: self.started.elapsed().as_secs_f64(),
            r: reassembly,
            anomalies: decoder.anomaly_counts().collect(),
        }
    }

    /// The summary as one JSON object (`--stats json`, and the daemon's `/pipelines/json`).
    fn summary_json(&self) -> String {
        let Figures { streams, secs, r, anomalies } = self.figures();
        let mut s = format!(
            "{{\"frames_in\": {}, \"bytes_in\": {}, \"frames_out\": {}, \"bytes_out\": {}, \"seconds\": {secs:.3}, \"interrupted\": {}",
            self.frames_in, self.bytes_in, self.frames_out(), self.bytes_out(), self.interrupted
        );
        s.push_str(&format!(", \"in_by_encapsulation\": {}", json_counts(&self.in_by_kind)));
        s.push_str(&format!(", \"out_by_stream_kind\": {}", json_counts(&self.out_by_kind)));
        let drops: Vec<(&str, u64)> = Drop::ALL.iter().map(|d| (d.name(), self.drops[*d as usize])).collect();
        s.push_str(&format!(", \"dropped\": {}", json_counts(&drops)));
        s.push_str(&format!(", \"dropped_frames\": {:?}", self.dropped_frames));
        s.push_str(&format!(", \"reassembled_frames\": {:?}", self.reassembled_frames));
        s.push_str(&format!(
            ", \"reassembly\": {{\"fragments\": {}, \"reassembled\": {}, \"expired\": {}, \"refused\": {}}}",
            r.fragments, r.reassembled, r.expired, r.refused
        ));
        if let Some(c) = &self.clock {
            s.push_str(&format!(
                ", \"erspan_timestamps\": {{\"rebuilt\": {}, \"reanchored\": {}, \"untracked\": {}}}",
                c.rebuilt, c.reanchored, c.untracked
            ));
        }
        if let Some(d) = &self.dedup {
            s.push_str(&format!(", \"dedup_unverified\": {}", d.unverified));
        }
        s.push_str(&format!(", \"decoder_anomalies\": {}", json_counts(&anomalies)));
        if !self.args.interface.is_empty() {
            s.push_str(&format!(
                ", \"kernel\": {{\"packets\": {}, \"drops\": {}}}",
                self.kernel.0, self.kernel.1
            ));
        }
        if let Some(drops) = self.socket_drops {
            s.push_str(&format!(", \"socket_drops\": {drops}"));
        }
        let files = self.writer.as_ref().map_or(0, RotatingWriter::files);
        s.push_str(&format!(", \"files\": {files}, \"write_errors\": {}", self.write_errors()));
        if !self.sources.is_empty() {
            s.push_str(", \"sources\": [");
            for (i, (name, frames, bytes)) in self.sources.iter().enumerate() {
                s.push_str(&format!(
                    "{}{{\"name\": \"{name}\", \"frames\": {frames}, \"bytes\": {bytes}}}",
                    if i > 0 { ", " } else { "" }
                ));
            }
            s.push(']');
        }
        s.push_str(", \"sinks\": [");
        for (i, sink) in self.sinks.iter().enumerate() {
            let (name, frames, bytes, too_big, errors) = sink.counts();
            s.push_str(&format!(
                "{}{{\"name\": \"{name}\", \"frames\": {frames}, \"bytes\": {bytes}, \"too_big\": {too_big}, \"errors\": {errors}}}",
                if i > 0 { ", " } else { "" }
            ));
        }
        s.push(']');
        s.push_str(", \"streams\": [");
        for (i, (k, e)) in streams.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&format!(
                "{{\"name\": \"{k}\", \"kind\": \"{}\", \"source\": \"{}\", \"destination\": \"{}\", \"id\": {}, \"frames\": {}, \"bytes\": {}}}",
                k.kind.name(), k.source(), k.destination(), k.id, e.frames, e.bytes
            ));
        }
        s.push_str(&format!(
            "], \"other_streams\": {{\"frames\": {}, \"bytes\": {}}}}}",
            self.other_streams.0, self.other_streams.1
        ));
        s
    }

    fn summary(&self) {
        if self.args.quiet {
            return;
        }
        if self.args.stats == StatsArg::Json {
            eprintln!("{}", self.summary_json());
            return;
        }
        let Figures { streams, secs, r, anomalies } = self.figures();
        let mut s = format!(
            "detunnel decap: {} frames in ({:.1} MB), {} out ({:.1} MB), {:.2} s\n",
            self.frames_in,
            self.bytes_in as f64 / 1e6,
            self.frames_out(),
            self.bytes_out() as f64 / 1e6,
            secs
        );
        s.push_str(&format!("  in by encapsulation: {}\n", text_counts(&self.in_by_kind)));
        s.push_str(&format!("  out by tunnel kind:  {}\n", text_counts(&self.out_by_kind)));
        let drops: Vec<(&str, u64)> =
            Drop::ALL.iter().map(|d| (d.name(), self.drops[*d as usize])).filter(|(_, n)| *n > 0).collect();
        s.push_str(&format!(
            "  dropped: {}\n",
            if drops.is_empty() { "none".to_string() } else { text_counts(&drops) }
        ));
        if r.fragments > 0 {
            s.push_str(&format!(
                "  outer fragments: {} taken, {} datagrams reassembled, {} expired, {} refused\n",
                r.fragments, r.reassembled, r.expired, r.refused
            ));
        }
        if let Some(c) = &self.clock {
            s.push_str(&format!(
                "  erspan timestamps: {} rebuilt, {} re-anchored\n",
                c.rebuilt, c.reanchored
            ));
        }
        if let Some(d) = self.dedup.as_ref().filter(|d| d.unverified > 0) {
            s.push_str(&format!(
                "  duplicates: {} repeats let through (the first copy had left the 16 MiB comparison ring)\n",
                d.unverified
            ));
        }
        if !anomalies.is_empty() {
            s.push_str(&format!("  decoder anomalies: {}\n", text_counts(&anomalies)));
        }
        if !self.args.interface.is_empty() {
            s.push_str(&format!(
                "  capture rings: {} frames seen by the kernel, {} dropped (ring full)\n",
                self.kernel.0, self.kernel.1
            ));
        }
        if let Some(drops) = self.socket_drops {
            s.push_str(&format!(
                "  endpoint sockets: {drops} datagrams dropped by the kernel (buffers full)\n"
            ));
        }
        let files = self.writer.as_ref().map_or(0, RotatingWriter::files);
        if self.write_errors() > 0 || files > 1 {
            s.push_str(&format!(
                "  output: {files} files, {} frames lost to write errors\n",
                self.write_errors()
            ));
        }
        for sink in &self.sinks {
            let (name, frames, bytes, too_big, errors) = sink.counts();
            s.push_str(&format!(
                "  {name}: {frames} frames written ({bytes} bytes), {too_big} too big, {errors} refused\n"
            ));
        }
        s.push_str(&format!("  streams: {}\n", streams.len()));
        for (k, e) in streams.iter().take(40) {
            s.push_str(&format!("    {:>10} frames {:>14} bytes  {k}\n", e.frames, e.bytes));
        }
        if streams.len() > 40 {
            s.push_str(&format!("    ... and {} more (--stats json lists them all)\n", streams.len() - 40));
        }
        if self.other_streams.0 > 0 {
            s.push_str(&format!(
                "    {:>10} frames {:>14} bytes  (streams beyond {MAX_STREAMS})\n",
                self.other_streams.0, self.other_streams.1
            ));
        }
        eprint!("{s}");
    }
}

/// Adds one to `key`'s count. Keys are the same static names every time, so the address
/// is compared first and the text only when a name is new.
fn count(v: &mut Vec<(&'static str, u64)>, key: &'static str) {
    if let Some(e) = v.iter_mut().find(|(k, _)| std::ptr::eq(k.as_ptr(), key.as_ptr())) {
        e.1 += 1;
        return;
    }
    match v.iter_mut().find(|(k, _)| *k == key) {
        Some(e) => e.1 += 1,
        None => v.push((key, 1)),
    }
}

fn text_counts(v: &[(&str, u64)]) -> String {
    let mut v = v.to_vec();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

fn json_counts(v: &[(&str, u64)]) -> String {
    let items: Vec<String> = v.iter().map(|(k, n)| format!("\"{k}\": {n}")).collect();
    format!("{{{}}}", items.join(", "))
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

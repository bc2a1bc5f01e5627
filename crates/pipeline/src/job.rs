//! Delivering the lanes' decisions: counting every frame in and by encapsulation, dropping
//! duplicates, rebuilding ERSPAN times, numbering tunnel streams, and handing each emitted
//! frame to every sink (or to one, balanced) — under one lock for all the lanes of a pipeline.
use crate::flow_sink::FlowSink;
use crate::lane::{Decision, Fate, InputKind, Lane, LaneFigures};
use crate::outputs::{FileOut, FrameSink, Held};
use crate::sflow::{Sampled, SflowReader};
use crate::streams::{Seen, StreamTable};
use crate::summary::{self, Summary};
use capture::{Frame, WriteError};
use decap::reassembly::ReassemblyCounters;
use decap::{Dedup, Drop, Emission, ErspanClock, StreamKind};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::ops::{ControlFlow, Range};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most dropped (or reassembly-completing) frame numbers listed in the summary.
const MAX_LISTED: usize = 1_000;

/// Receives the summary while a pipeline runs (once a second) and when it ends.
pub type Publish = Box<dyn FnMut(&Summary) + Send>;

/// Everything one run of a pipeline holds besides its lanes.
pub struct Job {
    live: bool,
    stop: Arc<AtomicBool>,
    /// Each lane's decoder and reassembly counts, as it last reported them.
    pub lanes: Vec<LaneFigures>,
    dedup: Option<Dedup>,
    clock: Option<ErspanClock>,
    files: Vec<FileOut>,
    sinks: Vec<FrameSink>,
    /// The worker delivering: the sinks take its frames into its part.
    pub worker: usize,
    flows: Option<FlowSink>,
    export: Option<FlowSink>,
    /// Frames holding sFlow datagrams are read as the packets they sample.
    sflow: Option<SflowReader>,
    streams: StreamTable,
    /// Frames the kernel saw on the capture rings and dropped for a full ring.
    pub kernel: Option<(u64, u64)>,
    /// Packets the kernel dropped on the endpoints' own sockets.
    pub socket_drops: Option<u64>,
    /// Live sources: name, frames and bytes received.
    pub sources: Vec<(String, u64, u64)>,
    frames_in: u64,
    bytes_in: u64,
    emitted: u64,
    bytes_emitted: u64,
    in_by_kind: [u64; InputKind::COUNT],
    out_by_kind: [u64; InputKind::COUNT],
    drops: [u64; Drop::ALL.len()],
    dropped_frames: Vec<u64>,
    reassembled_frames: Vec<u64>,
    /// The first error that stops a pipeline reading files.
    pub error: Option<WriteError>,
    /// A signal stopped reading files before their end.
    pub interrupted: bool,
    /// Stop after this many frames out.
    limit: Option<u64>,
    /// The limit was reached.
    pub limit_reached: bool,
    /// The output pipe's reader went away (`decap -w - | tcpdump -c 2`): a normal end.
    pub output_closed: bool,
    /// Bytes of the input files, when known (for the progress line).
    input_size: Option<u64>,
    write_failed: bool,
    last_flush: Instant,
    publish: Option<Publish>,
    last_publish: Instant,
    progress: Option<Instant>,
    started: Instant,
}

impl Job {
    /// A job delivering to these outputs.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        live: bool,
        stop: Arc<AtomicBool>,
        lanes: usize,
        dedup_ms: Option<u64>,
        erspan_timestamps: bool,
        files: Vec<FileOut>,
        sinks: Vec<FrameSink>,
        flows: Option<FlowSink>,
        export: Option<FlowSink>,
        sflow: Option<SflowReader>,
        publish: Option<Publish>,
        progress: bool,
        limit: Option<u64>,
        input_size: Option<u64>,
    ) -> Job {
        Job {
            live,
            stop,
            lanes: vec![LaneFigures::default(); lanes],
            dedup: dedup_ms.map(Dedup::new),
            clock: erspan_timestamps.then(ErspanClock::new),
            files,
            sinks,
            worker: 0,
            flows,
            export,
            sflow,
            streams: StreamTable::default(),
            kernel: None,
            socket_drops: None,
            sources: Vec::new(),
            frames_in: 0,
            bytes_in: 0,
            emitted: 0,
            bytes_emitted: 0,
            in_by_kind: [0; InputKind::COUNT],
            out_by_kind: [0; InputKind::COUNT],
            drops: [0; Drop::ALL.len()],
            dropped_frames: Vec::new(),
            reassembled_frames: Vec::new(),
            error: None,
            interrupted: false,
            limit,
            limit_reached: false,
            output_closed: false,
            input_size,
            write_failed: false,
            last_flush: Instant::now(),
            publish,
            last_publish: Instant::now(),
            progress: (progress && std::io::stderr().is_terminal()).then(Instant::now),
            started: Instant::now(),
        }
    }

    /// Counts a frame of live source `i`.
    pub fn count_source(&mut self, i: usize, f: &Frame<'_>) {
        if let Some(s) = self.sources.get_mut(i) {
            s.1 += 1;
            s.2 += f.data.len() as u64;
        }
    }

    /// Counts and delivers frame `f` as `lane` decided it.
    pub fn deliver(&mut self, f: &Frame<'_>, d: &Decision, lane: &Lane) -> ControlFlow<()> {
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
        if d.completed && self.reassembled_frames.len() < MAX_LISTED {
            self.reassembled_frames.push(f.record);
        }
        self.in_by_kind[d.kind.index()] += 1;
        let data = lane.data(d, f.data);
        if self.sflow.is_some() {
            self.sampled(d, lane, f);
            return ControlFlow::Continue(());
        }
        let flow = match &d.fate {
            Fate::Dropped(why) => {
                self.drop(*why, f.record);
                ControlFlow::Continue(())
            }
            Fate::Kept => ControlFlow::Continue(()),
            Fate::Emitted { emission, erspan3, balance } => {
                let (head, body) = emission.parts(data);
                if self.dedup.as_mut().is_some_and(|dd| dd.is_duplicate_parts(head, body, f.ts_nanos)) {
                    self.drop(Drop::Duplicate, f.record);
                    return ControlFlow::Continue(());
                }
                let mut flow = self.emit(data, emission, erspan3.clone(), *balance, f.ts_nanos);
                // An A-MSDU's other subframes, each a frame of its own.
                let mut next = emission.subframes.and_then(|_| lane.next_subframe(data, emission));
                while let (ControlFlow::Continue(()), Some(e)) = (flow, next) {
                    let (head, body) = e.parts(data);
                    if self.dedup.as_mut().is_some_and(|dd| dd.is_duplicate_parts(head, body, f.ts_nanos)) {
                        self.drop(Drop::Duplicate, f.record);
                    } else {
                        flow = self.emit(data, &e, erspan3.clone(), *balance, f.ts_nanos);
                    }
                    next = lane.next_subframe(data, &e);
                }
                flow
            }
        };
        // The flow engine counts, and the export sends, every frame the filter let through
        // (duplicates aside), as received and decoded.
        if self.flows.is_some() || self.export.is_some() {
            if let Some(decoded) = lane.counted(d, f.data) {
                for sink in [&mut self.flows, &mut self.export].into_iter().flatten() {
                    sink.offer(decoded, f.orig_len);
                }
            }
        }
        if self.error.is_some() || self.output_closed {
            return ControlFlow::Break(());
        }
        if self.limit.is_some_and(|n| self.frames_counted_out() >= n) {
            self.limit_reached = true;
            // Live sources end on the stop flag; files on the break.
            self.stop.store(true, Ordering::Relaxed);
            return ControlFlow::Break(());
        }
        flow
    }

    /// Frames out as `-c` counts them: emitted, or counted when only the flow engine (or the
    /// export) takes frames.
    fn frames_counted_out(&self) -> u64 {
        if self.files.is_empty() && self.sinks.is_empty() {
            self.flows.as_ref().or(self.export.as_ref()).map_or(0, |f| f.matched)
        } else {
            self.emitted
        }
    }

    /// Hands the packets an sFlow datagram samples to the flows sink, each standing for its
    /// sampling rate (discarded packets are not traffic and are not counted).
    fn sampled(&mut self, d: &Decision, lane: &Lane, f: &Frame<'_>) {
        let (Some(reader), Some(decoded)) = (&mut self.sflow, lane.counted(d, f.data)) else { return };
        let Some(l) = decoded.stack().layers().iter().find(|l| l.proto == dissect::Proto::Sflow) else {
            return;
        };
        let Some(datagram) = decoded.frame().get(l.offset as usize..) else { return };
        let (flows, export) = (&mut self.flows, &mut self.export);
        reader.datagram(datagram, |item| {
            if let Sampled::Frame { input, source, weight, discarded: false } = item {
                for sink in [&mut *flows, &mut *export].into_iter().flatten() {
                    sink.offer_input(input, source, weight);
                }
            }
        });
    }

    fn drop(&mut self, why: Drop, record: u64) {
        self.drops[why as usize] += 1;
        if self.dropped_frames.len() < MAX_LISTED {
            self.dropped_frames.push(record);
        }
    }

    /// Sends emission `e` of `data` (which holds the ERSPAN III header at `erspan3`) to every
    /// output.
    fn emit(
        &mut self,
        data: &[u8],
        e: &Emission,
        erspan3: Option<Range<usize>>,
        balance: Option<u64>,
        ts: u64,
    ) -> ControlFlow<()> {
        let (head, body) = e.parts(data);
        let ts = match (&mut self.clock, e.stream) {
            (Some(clock), Some(key)) if key.kind == StreamKind::Erspan3 => {
                let header = erspan3.and_then(|r| data.get(r));
                header.and_then(|h| clock.time(key, ts, h)).unwrap_or(ts)
            }
            _ => ts,
        };
        self.emitted += 1;
        self.bytes_emitted += e.len() as u64;
        self.out_by_kind[InputKind::of(e.stream).index()] += 1;
        if !self.sinks.is_empty() {
            let worker = self.worker;
            match balance {
                Some(hash) => {
                    let i = (hash % self.sinks.len() as u64) as usize;
                    self.sinks[i].send(worker, head, body, ts);
                }
                None => self.sinks.iter_mut().for_each(|s| s.send(worker, head, body, ts)),
            }
        }
        let (ordinal, tracked) = match e.stream {
            None => (0, true),
            Some(key) => match self.streams.count(key, e.len() as u64) {
                Seen::Known(n) => (n, true),
                Seen::Untracked => (0, false),
                Seen::New(n) => {
                    let declared = self.files.iter_mut().try_for_each(|f| f.declare(&key, n));
                    if let Err(err) = declared {
                        return self.failed(err);
                    }
                    (n, true)
                }
            },
        };
        for i in 0..self.files.len() {
            if let Err(err) = self.files[i].write(ordinal, tracked, ts, e.orig_len, head, body) {
                return self.failed(err);
            }
        }
        ControlFlow::Continue(())
    }

    /// A write failed: reading files, it ends the pipeline; live, it is said once and the
    /// output counts what it loses (it opens a fresh file a second later).
    fn failed(&mut self, err: WriteError) -> ControlFlow<()> {
        // The reader of the output pipe stopped reading: a normal end, as for tcpdump.
        if err.error.kind() == std::io::ErrorKind::BrokenPipe {
            self.output_closed = true;
            self.stop.store(true, Ordering::Relaxed);
            return ControlFlow::Break(());
        }
        if !self.live {
            self.error.get_or_insert(err);
            return ControlFlow::Break(());
        }
        if !self.write_failed {
            self.write_failed = true;
            eprintln!("detunnel: {err}; counting lost frames and opening a fresh file in a second");
        }
        ControlFlow::Continue(())
    }

    /// The parts of the sinks worker `worker` sends from after letting go of the job.
    pub fn held(&self, worker: usize) -> Held {
        let mut held = Held::default();
        self.sinks.iter().for_each(|s| s.held(worker, &mut held));
        held
    }

    /// Live sources call this after each batch and when idle: writes the files out every
    /// 100 ms and publishes the summary once a second. (What the TAPs, tool ports and tunnels
    /// hold each worker sends itself, after every batch and when idle: see [`Held`].)
    pub fn tick(&mut self) {
        let now = Instant::now();
        if self.publish.is_some() && now.duration_since(self.last_publish) >= Duration::from_secs(1) {
            self.last_publish = now;
            let s = self.summary();
            if let Some(p) = &mut self.publish {
                p(&s);
            }
        }
        if now.duration_since(self.last_flush) < Duration::from_millis(100) {
            return;
        }
        self.last_flush = now;
        for i in 0..self.files.len() {
            if let Err(err) = self.files[i].flush() {
                let _ = self.failed(err);
            }
        }
    }

    /// Writes out and closes every output; the first error, if any.
    pub fn finish(&mut self) -> Option<WriteError> {
        self.show_progress(true);
        self.sinks.iter_mut().for_each(FrameSink::finish);
        for i in 0..self.files.len() {
            if let Err(e) = self.files[i].finish() {
                self.error.get_or_insert(e);
            }
        }
        self.error.take()
    }

    /// Hands the final summary to the publisher.
    pub fn publish_last(&mut self, s: &Summary) {
        if let Some(p) = &mut self.publish {
            p(s);
        }
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
        let out = self.summary_counts().0;
        let rate = self.bytes_in as f64 / secs;
        // With the input's size known: how far, and how long to go at this pace.
        let left = match self.input_size.filter(|s| *s > 0) {
            Some(size) => {
                let done = (self.bytes_in as f64 / size as f64).min(1.0);
                let rest = (size.saturating_sub(self.bytes_in)) as f64 / rate.max(1.0);
                format!(", {:.0}% ({} left)", done * 100.0, clock(rest))
            }
            None => String::new(),
        };
        eprint!(
            "\r\x1b[2Kdecap: {} in, {} out, {:.1} MB read, {:.0} MB/s{left}",
            summary::counted(self.frames_in, "frame"),
            out,
            self.bytes_in as f64 / 1e6,
            rate / 1e6
        );
    }

    /// Frames and bytes out (what reached the outputs), files opened, frames lost.
    fn summary_counts(&self) -> (u64, u64, u32, u64) {
        let (files, lost, lost_bytes) =
            self.files.iter().map(FileOut::losses).fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        let out = self.emitted - lost.min(self.emitted);
        let bytes = self.bytes_emitted - lost_bytes.min(self.bytes_emitted);
        (out, bytes, files, lost)
    }

    /// The summary so far.
    pub fn summary(&self) -> Summary {
        let (frames_out, bytes_out, files, write_errors) = self.summary_counts();
        let (mut decoder, mut r) = (dissect::Counters::default(), ReassemblyCounters::default());
        for lane in &self.lanes {
            decoder.merge(&lane.decoder);
            r.merge(&lane.reassembly);
        }
        let named = |v: &[(&str, u64)]| -> BTreeMap<String, u64> {
            v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        let (streams, other_streams) = self.streams.report();
        let workers = if self.lanes.len() > 1 {
            self.lanes.iter().map(|l| l.decoder.frames).collect()
        } else {
            Vec::new()
        };
        Summary {
            workers,
            frames_in: self.frames_in,
            bytes_in: self.bytes_in,
            frames_out,
            bytes_out,
            seconds: (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            interrupted: self.interrupted,
            in_by_encapsulation: by_kind(&self.in_by_kind),
            out_by_stream_kind: by_kind(&self.out_by_kind),
            dropped: Drop::ALL.iter().map(|d| (d.name().to_string(), self.drops[*d as usize])).collect(),
            dropped_frames: self.dropped_frames.clone(),
            reassembled_frames: self.reassembled_frames.clone(),
            reassembly: summary::Reassembly {
                fragments: r.fragments,
                reassembled: r.reassembled,
                expired: r.expired,
                refused: r.refused,
            },
            erspan_timestamps: self.clock.as_ref().map(|c| summary::ErspanTimestamps {
                rebuilt: c.rebuilt,
                reanchored: c.reanchored,
                untracked: c.untracked,
            }),
            dedup_unverified: self.dedup.as_ref().map(|d| d.unverified),
            decoder_anomalies: named(&decoder.anomaly_counts().collect::<Vec<_>>()),
            kernel: self.kernel.map(|(packets, drops)| summary::Kernel { packets, drops }),
            socket_drops: self.socket_drops,
            files,
            write_errors,
            sources: self
                .sources
                .iter()
                .map(|(name, frames, bytes)| summary::SourceCounts {
                    name: name.clone(),
                    frames: *frames,
                    bytes: *bytes,
                })
                .collect(),
            sinks: self.sinks.iter().map(FrameSink::counts).collect(),
            sflow: self.sflow.as_ref().map(sflow_counts),
            flows: self.flows.as_ref().map(flow_counts),
            export: self.export.as_ref().map(flow_counts),
            streams,
            other_streams,
            count_reached: self.limit.filter(|_| self.limit_reached),
            output_closed: self.output_closed,
            error: None,
        }
    }
}

/// What a flows or export sink took.
fn flow_counts(f: &FlowSink) -> summary::FlowCounts {
    summary::FlowCounts { offered: f.offered, counted: f.counted, sample: f.sample() }
}

/// Seconds as `m:ss` (or `h:mm:ss`).
fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// What an sFlow reader read, for the summary.
fn sflow_counts(r: &SflowReader) -> summary::SflowCounts {
    let t = r.totals;
    let agents = r
        .agents
        .list()
        .into_iter()
        .map(|(id, a)| summary::AgentCounts {
            agent: id.address.to_string(),
            sub_agent: id.sub_agent,
            datagrams: a.datagrams,
            flow_samples: a.flow_samples,
            counter_samples: a.counter_samples,
            lost: a.lost,
            duplicates: a.duplicates,
            out_of_order: a.out_of_order,
            restarts: a.restarts,
            malformed: a.malformed,
        })
        .collect();
    summary::SflowCounts {
        datagrams: t.datagrams,
        malformed: t.malformed + t.unreadable,
        skipped: t.skipped + t.discard_samples,
        agents,
        agents_refused: r.agents.refused,
    }
}

/// The kinds counted in `counts` (indexed as [`InputKind::index`]), by name.
fn by_kind(counts: &[u64; InputKind::COUNT]) -> BTreeMap<String, u64> {
    let counted = InputKind::all().map(|k| (k.name().to_string(), counts[k.index()]));
    counted.filter(|(_, n)| *n > 0).collect()
}

//! The flow engine as a pipeline sink: every frame the pipeline accepts (or 1 in N of them,
//! counted as N frames, as sFlow counts a sample) is counted, as it was decoded, into flow
//! definitions. Its agent is the outermost tunnel's source address (the switch or virtual tap
//! that mirrored it), its data source the tunnel's identifier (VNI, GRE key, ERSPAN session);
//! a frame without a tunnel comes from agent [`UNTUNNELLED_AGENT`], data source 0.
use decap::Decapsulator;
use dissect::Decoded;
use flows::DataSource;
use query::Input;
use std::net::IpAddr;

/// The agent of frames that came through no tunnel.
pub const UNTUNNELLED_AGENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Where a flows sink counts: the daemon's flow engine, or `detunnel flows`'s exact table.
pub trait FlowCounter: Send {
    /// Counts `input` as `weight` frames seen at `source`; false when a filter of its own
    /// turned it away.
    fn count(&mut self, source: DataSource, input: &Input<'_>, weight: u64) -> bool;
}

impl FlowCounter for flows::Counter {
    fn count(&mut self, _source: DataSource, input: &Input<'_>, weight: u64) -> bool {
        let filtered = self.totals.filtered;
        self.add_weighted(input, weight);
        self.totals.filtered == filtered
    }
}

/// A counter the caller keeps a hold of, to read it after the pipeline has run.
impl<T: FlowCounter> FlowCounter for std::sync::Arc<std::sync::Mutex<T>> {
    fn count(&mut self, source: DataSource, input: &Input<'_>, weight: u64) -> bool {
        self.lock().unwrap_or_else(|e| e.into_inner()).count(source, input, weight)
    }
}

/// The data source a frame is counted at: its outermost tunnel's source and identifier.
pub fn data_source(decoded: Decoded<'_>) -> DataSource {
    match Decapsulator::outermost_stream(decoded) {
        Some(key) => DataSource { agent: key.source(), index: key.id },
        None => DataSource { agent: UNTUNNELLED_AGENT, index: 0 },
    }
}

/// A flows sink: the counter and its sampling.
pub struct FlowSink {
    counter: Box<dyn FlowCounter>,
    sample: u64,
    /// Frames offered, and frames counted (1 in `sample` of them).
    pub offered: u64,
    /// Frames counted.
    pub counted: u64,
    /// Frames counted that the counter's own filter took.
    pub matched: u64,
}

impl FlowSink {
    /// Counts into `counter`, 1 in `sample` frames.
    pub fn new(counter: Box<dyn FlowCounter>, sample: u64) -> FlowSink {
        FlowSink { counter, sample: sample.max(1), offered: 0, counted: 0, matched: 0 }
    }

    /// Its sampling: 1 in this many frames counts.
    pub fn sample(&self) -> u64 {
        self.sample
    }

    /// Offers a decoded frame of `frame_len` bytes on the wire.
    pub fn offer(&mut self, decoded: Decoded<'_>, frame_len: u32) {
        // A frame sampling passes over is not read at all.
        if self.take() {
            self.count(&Input::new(decoded, frame_len), data_source(decoded), 1);
        }
    }

    /// Offers a frame as the flow language reads it, seen at `source`, standing for
    /// `weight` frames (an sFlow sample stands for its sampling rate).
    pub fn offer_input(&mut self, input: &Input<'_>, source: DataSource, weight: u64) {
        if self.take() {
            self.count(input, source, weight);
        }
    }

    /// Whether the frame now offered is the 1 in `sample` that counts.
    fn take(&mut self) -> bool {
        self.offered += 1;
        (self.offered - 1) % self.sample == 0
    }

    fn count(&mut self, input: &Input<'_>, source: DataSource, weight: u64) {
        self.counted += 1;
        if self.counter.count(source, input, weight.saturating_mul(self.sample)) {
            self.matched += 1;
        }
    }
}

//! The daemon's flow engine as a broker pipeline's flows sink: the frames a pipeline accepts
//! are counted in the same flow definitions as sFlow samples, so `/activeflows`, `/metric`,
//! `/dump`, thresholds, events, the flow log and Prometheus answer for mirrored traffic too.
//! And the daemon's exports as its export sink: each frame a record, as an sFlow sample is.
use crate::state::Shared;
use flows::DataSource;
use pipeline::FlowCounter;
use query::Input;
use std::sync::Arc;

/// Counts into the flow definitions of a running daemon.
pub struct EngineSink(pub Arc<Shared>);

impl FlowCounter for EngineSink {
    fn count(&mut self, source: DataSource, input: &Input<'_>, weight: u64) -> bool {
        self.0.count_frame(source, input, weight);
        true
    }
}

/// Sends the frames of pipeline `pipeline` to the exports of a running daemon.
pub struct ExportSink {
    /// The daemon.
    pub shared: Arc<Shared>,
    /// The pipeline's name, in every record.
    pub pipeline: String,
}

impl FlowCounter for ExportSink {
    fn count(&mut self, source: DataSource, input: &Input<'_>, weight: u64) -> bool {
        self.shared.export_frame(&self.pipeline, source, input, weight);
        true
    }
}

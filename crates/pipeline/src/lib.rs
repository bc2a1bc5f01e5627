//! The packet path of `DESIGN.md`, assembled: every frame, from any source — capture files,
//! interfaces' rings, tunnel endpoints, sFlow datagrams as sampled frames — is decoded once
//! into a stack that everything else reads: a per-worker lane filters it, reassembles outer
//! fragments and decapsulates it; the pipeline numbers tunnel streams, drops duplicates and
//! hands the frames to its sinks (capture files, TAPs, tunnels to remote tools, the flow
//! engine). It is configured by a typed [`PipelineConfig`] and reports a typed [`Summary`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod filter;
pub mod flow_sink;
pub mod job;
pub mod lane;
pub mod outputs;
pub mod run;
pub mod sflow;
pub mod streams;
pub mod summary;

pub use config::{FileSink, PipelineConfig, PipelineSpec, Sink, Source};
pub use flow_sink::FlowCounter;
pub use run::{run, Finished, Hooks, Pipeline, RunError, StartError};
pub use summary::Summary;

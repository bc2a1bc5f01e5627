//! The sFlow collector state and the sFlow-RT compatible REST API of `detunnel serve`.
//!
//! Each worker ([`collector::Worker`]) decodes the datagrams its socket receives and counts
//! every sampled header in its own flow engine: a sample counts `sampling_rate` frames and
//! `frame_length × sampling_rate` bytes. [`state::Shared`] holds the workers and what users
//! declared, and merges the workers' tables when the API reads them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod api;
pub mod collector;
pub mod engine_sink;
pub mod flow_ipfix;
pub mod index;
pub mod ipfix;
pub mod kafka;
pub mod listener;
pub mod prometheus;
pub mod protobuf;
pub mod ring;
pub mod sample_record;
pub mod sources;
pub mod spec;
pub mod state;
pub mod ui;

pub use api::router;
pub use state::{ServerOptions, Shared};

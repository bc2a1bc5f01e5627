//! Sources and sinks of frames: capture files, and sFlow datagrams as a source of sampled
//! frames; live interfaces, tunnel endpoints and the sFlow socket arrive with their issues.
// The `unsafe` blocks: the memory map of an input file (`reader.rs`), the view of a receive
// buffer as uninitialised bytes (`endpoint.rs`) and the AF_PACKET ring (`live.rs`).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod encap;
pub mod endpoint;
pub mod live;
pub mod reader;
pub mod sflow;
pub mod tap;
pub mod udp;
pub mod writer;

pub use reader::{CaptureError, FileReader, Frame};
pub use writer::{FileWriter, Format};

//! Sources and sinks of frames: capture files, and sFlow datagrams as a source of sampled
//! frames; live interfaces, tunnel endpoints and the sFlow socket arrive with their issues.
// The one `unsafe` is the memory map of an input file, in `reader.rs`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod reader;
pub mod sflow;
pub mod udp;
pub mod writer;

pub use reader::{CaptureError, FileReader, Frame};
pub use writer::{FileWriter, Format};

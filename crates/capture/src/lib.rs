//! Sources and sinks of frames: capture files now; live interfaces, tunnel endpoints and
//! the sFlow receiver arrive with their issues.
// The one `unsafe` is the memory map of an input file, in `reader.rs`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod reader;
pub mod writer;

pub use reader::{CaptureError, FileReader, Frame};
pub use writer::{FileWriter, Format};

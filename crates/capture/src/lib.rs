//! Sources and sinks of frames: capture files now; live interfaces, tunnel endpoints and
//! the sFlow receiver arrive with their issues.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod reader;
pub mod writer;

pub use reader::{CaptureError, FileReader, Frame};
pub use writer::{FileWriter, Format};

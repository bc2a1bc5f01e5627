//! Sources and sinks of frames: capture files (read and written), sFlow datagrams as sampled
//! frames, shared UDP sockets, tunnel endpoints, live interfaces (AF_PACKET rings), TAP
//! interfaces and tunnel senders.
// The `unsafe` blocks: the memory map of an input file (`reader.rs`) and the AF_PACKET ring
// (`live.rs`).
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

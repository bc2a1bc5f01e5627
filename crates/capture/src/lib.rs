//! Sources and sinks of frames: capture files (read and written), sFlow datagrams as sampled
//! frames, shared UDP sockets, tunnel endpoints, live interfaces (AF_PACKET rings), TAP
//! interfaces and tunnel senders, AF_XDP sockets.
// The `unsafe` blocks: the memory map of an input file (`reader.rs`), the AF_PACKET rings
// (`live.rs`, `tool_port.rs`), `recvmmsg` (`recv_batch.rs`), the process's resource limits
// (`process.rs`), and AF_XDP's shared memory and the `bpf` system call (`xdp.rs`,
// `xdp_program.rs`).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod compression;
pub mod encap;
pub mod endpoint;
mod fanout;
mod held;
pub mod live;
mod packet_socket;
pub mod process;
pub mod reader;
mod recv_batch;
pub mod resolve;
pub mod rotating;
pub mod sflow;
pub mod tap;
pub mod tool_port;
pub mod udp;
pub mod writer;
pub mod writing;
pub mod xdp;
mod xdp_program;

pub use compression::Compression;
pub use reader::{CaptureError, FileReader, Frame};
pub use rotating::{RotatingWriter, Rotation};
pub use writer::{FileWriter, Format, WriteError};
pub use writing::{WriteQueue, Writing};

/// A live source's receive buffer unless asked otherwise, MiB: a ring per interface worker, a
/// socket's buffer per endpoint worker; what is held while the worker is busy.
pub const DEFAULT_BUFFER_MIB: u32 = 64;
/// The smallest and largest receive buffer, MiB (a ring's bytes must fit in 32 bits).
pub const BUFFER_MIB: std::ops::RangeInclusive<u32> = 4..=4095;

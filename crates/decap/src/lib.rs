//! Decapsulation, the packet broker's action: given a frame and its decoded [`Stack`], build
//! the frame a monitoring tool should see — by default the innermost frame, as a valid
//! Ethernet frame — and say which tunnel stream it came from.
//!
//! Nothing here allocates per frame once the caller's output buffer has grown to the largest
//! frame; streams, fragments and the duplicate window have fixed limits.
//!
//! [`Stack`]: dissect::Stack
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod balance;
pub mod dedup;
pub mod emit;
pub mod reassembly;
pub mod stream;
pub mod timestamp;

pub use dedup::Dedup;
pub use emit::{Decapsulator, Drop, Emission, Options, Outcome, Tag, TunnelSet};
pub use reassembly::{Reassembler, ReassemblyCounters};
pub use stream::{StreamKey, StreamKind};
pub use timestamp::ErspanClock;

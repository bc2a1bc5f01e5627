//! The packet path of `DESIGN.md`, assembled: every frame, from any source, is decoded once
//! into a stack that everything else reads.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod sflow;

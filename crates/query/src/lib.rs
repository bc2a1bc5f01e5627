//! sFlow-RT's flow definition language over detunnel's decoded frames: keys with depth
//! suffixes (`ipsource.1`), key functions (`prefix:stack:.:5`, `group:ipsource:ddos`),
//! values (`frames`, `bytes`, `count:`, `avg:`, `rate:`) and filters
//! (`(ipsource=10.0.0.1|ipdestination=10.0.0.1)&ipprotocol=6,17`).
//!
//! A definition is parsed and checked once ([`Definition::compile`]); evaluating the result
//! on a frame allocates nothing once the [`Evaluator`]'s buffers have grown.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod context;
pub mod definition;
pub mod error;
pub mod eval;
pub mod filter;
pub mod habits;
pub mod key;
pub mod limits;
pub mod names;

pub use context::Context;
pub use definition::{parse_value, Compiled, Definition, Value};
pub use error::QueryError;
pub use eval::{Evaluator, Input};
pub use filter::{parse_filter, Filter};
pub use key::{parse_keys, Key};

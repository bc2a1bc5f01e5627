//! Flow tables: frames counted by a compiled flow definition — its filter, its keys, its
//! values — in bounded memory. `detunnel flows` uses it for exact totals over a capture; the
//! server builds its smoothed, per-data-source tables on it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod table;

pub use table::{Counter, FlowRow, FlowTable, Totals};

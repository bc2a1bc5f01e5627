//! Flow tables: frames counted by a compiled flow definition — its filter, its keys, its
//! values — in bounded memory. [`Counter`] keeps exact totals (`detunnel flows`); [`Engine`]
//! keeps rates smoothed with each definition's `t` per data source, for the server.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod engine;
pub mod table;

pub use engine::{ActiveFlow, AggMode, DataSource, Engine, Limits};
pub use table::{Counter, FlowRow, FlowTable, Totals};

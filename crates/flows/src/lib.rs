//! Flow tables: frames counted by a compiled flow definition — its filter, its keys, its
//! values — in bounded memory. [`Counter`] keeps exact totals (`detunnel flows`); [`Engine`]
//! keeps rates smoothed with each definition's `t` per data source, for the server; [`Agents`]
//! keeps what each sFlow agent sent and what its sequence numbers say was lost.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agents;
pub mod engine;
pub mod table;

pub use agents::{AgentId, AgentStats, Agents};
pub use engine::{combine, ActiveFlow, AggMode, DataSource, Engine, FlowRecord, Limits, Options};
pub use table::{Counter, FlowRow, FlowTable, Totals};

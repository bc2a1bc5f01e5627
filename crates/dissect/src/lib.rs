//! The decoder: walks a frame once into a [`Stack`] of layers through a dispatch table that
//! configuration extends, names every anomaly it meets and counts it, and reads sFlow-RT's
//! fields (`ipsource.1`, `vxlanvni`, `stack`, ...) out of the result. Nothing here allocates
//! per frame or does I/O.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Declares a fieldless enum whose values have snake_case names, with `ALL`, `COUNT` and
/// `name()`.
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $v,)* }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
            /// Number of values.
            pub const COUNT: usize = $name::ALL.len();
            /// The snake_case name used in output and metrics.
            pub const fn name(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }
        }
    };
}

pub mod anomaly;
pub mod field;
pub mod proto;
pub mod protocol;
pub mod stack;
pub mod table;
pub mod walk;

pub use anomaly::{Anomaly, Counters, Guess};
pub use field::{Decoded, Field, Value};
pub use proto::{Proto, Tunnel};
pub use stack::{Layer, Stack};
pub use table::{Config, MplsPayload, Next, NvgreKey, Table};
pub use walk::{Dissector, LinkType};

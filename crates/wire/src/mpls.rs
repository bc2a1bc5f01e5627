//! MPLS label stack entries (RFC 3032) and the pseudowire control word (RFC 4385).
use crate::{be32, need, put32, Result};
use core::fmt;

/// Length of one label stack entry, and of a pseudowire control word.
pub const HEADER_LEN: usize = 4;

/// Reserved label values (RFC 3032, RFC 6790, RFC 5586).
pub mod label {
    /// IPv4 explicit null.
    pub const IPV4_EXPLICIT_NULL: u32 = 0;
    /// Router alert.
    pub const ROUTER_ALERT: u32 = 1;
    /// IPv6 explicit null.
    pub const IPV6_EXPLICIT_NULL: u32 = 2;
    /// Entropy label indicator.
    pub const ELI: u32 = 7;
    /// Generic associated channel label (RFC 5586): an associated channel header follows.
    pub const GAL: u32 = 13;
    /// OAM alert label (RFC 3429): an OAM message follows.
    pub const OAM_ALERT: u32 = 14;
}

view!("A view of one MPLS label stack entry.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds a whole entry.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Label (20 bits).
    pub fn label(&self) -> u32 {
        be32(self.data(), 0) >> 12
    }
    /// Traffic class (3 bits).
    pub fn tc(&self) -> u8 {
        (self.data()[2] >> 1) & 7
    }
    /// Bottom of stack.
    pub fn bottom(&self) -> bool {
        self.data()[2] & 1 != 0
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.data()[3]
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mpls {} tc {} s {} ttl {}", self.label(), self.tc(), u8::from(self.bottom()), self.ttl())
    }
}

/// A label stack entry in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Label.
    pub label: u32,
    /// Traffic class.
    pub tc: u8,
    /// Bottom of stack.
    pub bottom: bool,
    /// Time to live.
    pub ttl: u8,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr { label: p.label(), tc: p.tc(), bottom: p.bottom(), ttl: p.ttl() }
    }
    /// Writes the entry into `buf[..4]`.
    pub fn emit(&self, buf: &mut [u8]) {
        let w = (self.label & 0xfffff) << 12
            | u32::from(self.tc & 7) << 9
            | u32::from(self.bottom) << 8
            | u32::from(self.ttl);
        put32(buf, 0, w);
    }
}

/// The pseudowire control word's first nibble: 0 for a data control word, 1 for an
/// associated channel header.
pub fn control_word_nibble(first_byte: u8) -> u8 {
    first_byte >> 4
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_parse() {
        // lspping-fec-ldp.pcap frame 1: label 100656, EXP 6, S=1, TTL 64.
        let b = [0x18, 0x93, 0x0d, 0x40];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.label(), 100656);
        assert!(p.bottom());
        assert_eq!((p.ttl(), p.tc()), (64, 6));
        let mut out = [0u8; 4];
        Repr::parse(&p).emit(&mut out);
        assert_eq!(out, b);
    }
}

//! IEEE 802.1ah provider backbone bridging: the 4-byte I-TAG after TPID 0x88E7. The customer
//! addresses and EtherType that follow form an ordinary Ethernet header.
use crate::{be24, need, put24, Result};
use core::fmt;

/// Length of the I-TAG after its TPID.
pub const HEADER_LEN: usize = 4;

view!("A view of a PBB I-TAG.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds a whole I-TAG.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// I-PCP (3 bits).
    pub fn pcp(&self) -> u8 {
        self.data()[0] >> 5
    }
    /// Use customer address bit.
    pub fn uca(&self) -> bool {
        self.data()[0] & 0x08 != 0
    }
    /// Backbone service instance identifier (24 bits).
    pub fn isid(&self) -> u32 {
        be24(self.data(), 1)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pbb isid {}", self.isid())
    }
}

/// An I-TAG in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// I-PCP.
    pub pcp: u8,
    /// I-SID.
    pub isid: u32,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr { pcp: p.pcp(), isid: p.isid() }
    }
    /// Writes the I-TAG into `buf[..4]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = (self.pcp & 7) << 5;
        put24(buf, 1, self.isid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_roundtrip() {
        let r = Repr { pcp: 1, isid: 0x00abcd };
        let mut b = [0u8; 4];
        r.emit(&mut b);
        assert_eq!(Repr::parse(&Packet::new_checked(&b[..]).unwrap()), r);
    }
}

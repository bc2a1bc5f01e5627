//! VXLAN (RFC 7348) with the group-based policy extension (VXLAN-GBP): an 8-byte header whose
//! payload is always an Ethernet frame.
use crate::{be16, be24, need, put16, put24, Result};
use core::fmt;

/// Length of the header.
pub const HEADER_LEN: usize = 8;

/// Flag bits of the first byte (and GBP's second byte).
pub mod flag {
    /// I: the VNI is valid.
    pub const I: u8 = 0x08;
    /// G: group policy ID present (GBP).
    pub const G: u8 = 0x80;
}

view!("A view of a VXLAN header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Flags byte.
    pub fn flags(&self) -> u8 {
        self.data()[0]
    }
    /// True when I is set.
    pub fn vni_valid(&self) -> bool {
        self.flags() & flag::I != 0
    }
    /// VXLAN network identifier (24 bits).
    pub fn vni(&self) -> u32 {
        be24(self.data(), 4)
    }
    /// GBP group policy ID, when G is set.
    pub fn group_policy_id(&self) -> Option<u16> {
        (self.flags() & flag::G != 0).then(|| be16(self.data(), 2))
    }
    /// True when reserved bits (outside I and the GBP bits) are set.
    pub fn reserved_bits_set(&self) -> bool {
        let d = self.data();
        d[0] & !(flag::I | flag::G) != 0 || d[7] != 0
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vxlan vni {}", self.vni())
    }
}

/// A VXLAN header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// VNI.
    pub vni: u32,
    /// GBP group policy ID.
    pub group_policy_id: Option<u16>,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr { vni: p.vni(), group_policy_id: p.group_policy_id() }
    }
    /// Writes the header into `buf[..8]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..HEADER_LEN].fill(0);
        buf[0] = flag::I;
        if let Some(g) = self.group_policy_id {
            buf[0] |= flag::G;
            put16(buf, 2, g);
        }
        put24(buf, 4, self.vni);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_parse_emit() {
        // VXLAN header of vxlan.pcap frame 1: I flag, VNI 100.
        let b = [0x08, 0, 0, 0, 0, 0, 0x64, 0];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.vni(), 100);
        assert!(p.vni_valid());
        assert!(!p.reserved_bits_set());
        let mut out = [0u8; 8];
        Repr::parse(&p).emit(&mut out);
        assert_eq!(out, b);
    }
}

//! VXLAN Generic Protocol Extension (draft-ietf-nvo3-vxlan-gpe): like VXLAN, with a next
//! protocol byte.
use crate::{be24, need, put24, Result};
use core::fmt;

/// Length of the header.
pub const HEADER_LEN: usize = 8;

/// Next protocol values.
pub mod next_protocol {
    /// IPv4.
    pub const IPV4: u8 = 1;
    /// IPv6.
    pub const IPV6: u8 = 2;
    /// Ethernet.
    pub const ETHERNET: u8 = 3;
    /// Network Service Header.
    pub const NSH: u8 = 4;
    /// MPLS.
    pub const MPLS: u8 = 5;
}

view!("A view of a VXLAN-GPE header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Flags byte (Ver, I, P, B, O).
    pub fn flags(&self) -> u8 {
        self.data()[0]
    }
    /// Version (2 bits).
    pub fn version(&self) -> u8 {
        (self.flags() >> 4) & 3
    }
    /// P: the next protocol field is valid.
    pub fn next_protocol_present(&self) -> bool {
        self.flags() & 0x04 != 0
    }
    /// Next protocol.
    pub fn next_protocol(&self) -> u8 {
        self.data()[3]
    }
    /// VNI (24 bits).
    pub fn vni(&self) -> u32 {
        be24(self.data(), 4)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vxlan-gpe vni {} next {}", self.vni(), self.next_protocol())
    }
}

/// A VXLAN-GPE header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// VNI.
    pub vni: u32,
    /// Next protocol.
    pub next_protocol: u8,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr { vni: p.vni(), next_protocol: p.next_protocol() }
    }
    /// Writes the header (I and P set) into `buf[..8]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..HEADER_LEN].fill(0);
        buf[0] = 0x0c;
        buf[3] = self.next_protocol;
        put24(buf, 4, self.vni);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_roundtrip() {
        let r = Repr { vni: 0xffffff, next_protocol: next_protocol::NSH };
        let mut b = [0u8; 8];
        r.emit(&mut b);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.next_protocol_present());
        assert_eq!(Repr::parse(&p), r);
    }
}

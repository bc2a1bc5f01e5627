//! IEEE 802.1BR E-Tag (EtherType 0x893F): a 6-byte tag control word then the next EtherType.
use crate::{be16, need, put16, Result};
use core::fmt;

/// Length of the tag after its TPID, including the next EtherType.
pub const HEADER_LEN: usize = 8;

view!("A view of an E-Tag (the bytes after its TPID).");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds a whole tag.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// E-PCP (3 bits).
    pub fn pcp(&self) -> u8 {
        self.data()[0] >> 5
    }
    /// Ingress E-CID base (12 bits).
    pub fn ingress_ecid_base(&self) -> u16 {
        be16(self.data(), 0) & 0x0fff
    }
    /// GRP (2 bits).
    pub fn grp(&self) -> u8 {
        (self.data()[2] >> 4) & 3
    }
    /// E-CID base (12 bits).
    pub fn ecid_base(&self) -> u16 {
        be16(self.data(), 2) & 0x0fff
    }
    /// Ingress E-CID extension.
    pub fn ingress_ecid_ext(&self) -> u8 {
        self.data()[4]
    }
    /// E-CID extension.
    pub fn ecid_ext(&self) -> u8 {
        self.data()[5]
    }
    /// The full E-CID: extension and base.
    pub fn ecid(&self) -> u32 {
        (u32::from(self.ecid_ext()) << 12) | u32::from(self.ecid_base())
    }
    /// The EtherType that follows.
    pub fn ethertype(&self) -> u16 {
        be16(self.data(), 6)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "etag ecid {}", self.ecid())
    }
}

/// An E-Tag in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// E-PCP.
    pub pcp: u8,
    /// E-CID (20 bits: extension and base).
    pub ecid: u32,
    /// Next EtherType.
    pub ethertype: u16,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr { pcp: p.pcp(), ecid: p.ecid(), ethertype: p.ethertype() }
    }
    /// Writes the tag into `buf[..8]`.
    pub fn emit(&self, buf: &mut [u8]) {
        put16(buf, 0, u16::from(self.pcp & 7) << 13);
        put16(buf, 2, (self.ecid & 0xfff) as u16);
        buf[4] = 0;
        buf[5] = (self.ecid >> 12) as u8;
        put16(buf, 6, self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_roundtrip() {
        let r = Repr { pcp: 3, ecid: 0x12345, ethertype: 0x0800 };
        let mut b = [0u8; 8];
        r.emit(&mut b);
        assert_eq!(Repr::parse(&Packet::new_checked(&b[..]).unwrap()), r);
    }
}

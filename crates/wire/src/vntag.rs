//! Cisco VN-Tag (EtherType 0x8926): 4 bytes of tag then the next EtherType.
use crate::{be16, need, put16, Result};
use core::fmt;

/// Length of the tag after its TPID, including the next EtherType.
pub const HEADER_LEN: usize = 6;

view!("A view of a VN-Tag (the bytes after its TPID).");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds a whole tag.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Direction bit: set when the frame travels from the bridge to the interface virtualiser.
    pub fn direction(&self) -> bool {
        self.data()[0] & 0x80 != 0
    }
    /// Pointer bit: the destination is a vif list.
    pub fn pointer(&self) -> bool {
        self.data()[0] & 0x40 != 0
    }
    /// Destination virtual interface (14 bits).
    pub fn dst_vif(&self) -> u16 {
        be16(self.data(), 0) & 0x3fff
    }
    /// Looped bit.
    pub fn looped(&self) -> bool {
        self.data()[2] & 0x80 != 0
    }
    /// Version (2 bits).
    pub fn version(&self) -> u8 {
        (self.data()[2] >> 4) & 3
    }
    /// Source virtual interface (12 bits).
    pub fn src_vif(&self) -> u16 {
        be16(self.data(), 2) & 0x0fff
    }
    /// The EtherType that follows.
    pub fn ethertype(&self) -> u16 {
        be16(self.data(), 4)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vntag dvif {} svif {}", self.dst_vif(), self.src_vif())
    }
}

/// A VN-Tag in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Direction bit.
    pub direction: bool,
    /// Destination vif.
    pub dst_vif: u16,
    /// Source vif.
    pub src_vif: u16,
    /// Next EtherType.
    pub ethertype: u16,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            direction: p.direction(),
            dst_vif: p.dst_vif(),
            src_vif: p.src_vif(),
            ethertype: p.ethertype(),
        }
    }
    /// Writes the tag into `buf[..6]`.
    pub fn emit(&self, buf: &mut [u8]) {
        put16(buf, 0, (u16::from(self.direction) << 15) | (self.dst_vif & 0x3fff));
        put16(buf, 2, self.src_vif & 0x0fff);
        put16(buf, 4, self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_roundtrip() {
        let r = Repr { direction: true, dst_vif: 0x123, src_vif: 0x45, ethertype: 0x8100 };
        let mut b = [0u8; 6];
        r.emit(&mut b);
        assert_eq!(Repr::parse(&Packet::new_checked(&b[..]).unwrap()), r);
    }
}

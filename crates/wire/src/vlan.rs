//! IEEE 802.1Q / 802.1ad VLAN tags (and the legacy 0x9100 / 0x9200 TPIDs): the 4 bytes after
//! the TPID, a tag control information word and the next EtherType.
use crate::{be16, need, put16, Field, Result};
use core::fmt;

mod field {
    use super::Field;
    pub const TCI: Field = 0..2;
    pub const ETHERTYPE: Field = 2..4;
}

/// Length of a tag after its TPID.
pub const HEADER_LEN: usize = 4;

view!("A view of one VLAN tag (the bytes after its TPID).");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds a whole tag.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Priority code point (3 bits).
    pub fn pcp(&self) -> u8 {
        (self.data()[0] >> 5) & 7
    }
    /// Drop eligible indicator.
    pub fn dei(&self) -> bool {
        self.data()[0] & 0x10 != 0
    }
    /// VLAN identifier (12 bits).
    pub fn vid(&self) -> u16 {
        be16(self.data(), field::TCI.start) & 0x0fff
    }
    /// The EtherType that follows the tag.
    pub fn ethertype(&self) -> u16 {
        be16(self.data(), field::ETHERTYPE.start)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vlan {} p {} type 0x{:04x}", self.vid(), self.pcp(), self.ethertype())
    }
}

/// A VLAN tag in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Priority code point.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier.
    pub vid: u16,
    /// Next EtherType.
    pub ethertype: u16,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr { pcp: p.pcp(), dei: p.dei(), vid: p.vid(), ethertype: p.ethertype() }
    }
    /// Writes the tag (without TPID) into `buf[..4]`.
    pub fn emit(&self, buf: &mut [u8]) {
        let tci = (u16::from(self.pcp & 7) << 13) | (u16::from(self.dei) << 12) | (self.vid & 0xfff);
        put16(buf, field::TCI.start, tci);
        put16(buf, field::ETHERTYPE.start, self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_parse_emit() {
        // 802.1ad_QinQ.pcap frame 1: C-tag 2001 after the S-tag, then ARP.
        let bytes = [0x07, 0xd1, 0x08, 0x06];
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.vid(), 2001);
        assert_eq!(p.ethertype(), 0x0806);
        let mut out = [0u8; 4];
        Repr::parse(&p).emit(&mut out);
        assert_eq!(out, bytes);
    }
}

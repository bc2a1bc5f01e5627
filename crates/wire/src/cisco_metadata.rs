//! Cisco MetaData (EtherType 0x8909): version, length, options and a security group tag,
//! then the next EtherType. Inside GRE (protocol 0x8909) the EtherType comes first and the
//! rest follows it.
use crate::{be16, need, Result};
use core::fmt;

/// Length of the header including the next EtherType.
pub const HEADER_LEN: usize = 8;

view!("A view of a Cisco MetaData header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Version.
    pub fn version(&self) -> u8 {
        self.data()[0]
    }
    /// Security group tag.
    pub fn sgt(&self) -> u16 {
        be16(self.data(), 4)
    }
    /// The EtherType that follows.
    pub fn ethertype(&self) -> u16 {
        be16(self.data(), 6)
    }
    /// Inside GRE: the EtherType that follows (the first field).
    pub fn gre_ethertype(&self) -> u16 {
        be16(self.data(), 0)
    }
    /// Inside GRE: the security group tag.
    pub fn gre_sgt(&self) -> u16 {
        be16(self.data(), 6)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cmd sgt {} type 0x{:04x}", self.sgt(), self.ethertype())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_parse() {
        // various_gre.pcap: version 1, length 1, options 1, SGT 0, IPv4.
        let b = [0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0x08, 0x00];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.version(), p.sgt(), p.ethertype()), (1, 0, 0x0800));
        // The same header inside GRE, as various_gre.pcap carries it: EtherType first.
        let g = [0x08, 0x00, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00];
        let p = Packet::new_checked(&g[..]).unwrap();
        assert_eq!((p.gre_ethertype(), p.gre_sgt()), (0x0800, 0));
    }
}

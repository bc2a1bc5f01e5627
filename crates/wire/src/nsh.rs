//! Network Service Header (RFC 8300): base header, service path header and metadata, then
//! the next protocol.
use crate::{be16, be32, need, Error, Result};
use core::fmt;

/// Length of the base and service path headers.
pub const MIN_LEN: usize = 8;

/// Next protocol values.
pub mod next_protocol {
    /// IPv4.
    pub const IPV4: u8 = 1;
    /// IPv6.
    pub const IPV6: u8 = 2;
    /// Ethernet.
    pub const ETHERNET: u8 = 3;
    /// NSH.
    pub const NSH: u8 = 4;
    /// MPLS.
    pub const MPLS: u8 = 5;
}

view!("A view of a Network Service Header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking the version is 0 and the declared length fits.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), MIN_LEN)?;
        if p.version() != 0 || p.header_len() < MIN_LEN {
            return Err(Error::Malformed);
        }
        need(p.data(), p.header_len())?;
        Ok(p)
    }
    /// Version (2 bits).
    pub fn version(&self) -> u8 {
        self.data()[0] >> 6
    }
    /// Header length in bytes (the low 6 bits of the first word, in 4-byte words).
    pub fn header_len(&self) -> usize {
        usize::from(be16(self.data(), 0) & 0x3f) * 4
    }
    /// Metadata type.
    pub fn md_type(&self) -> u8 {
        self.data()[2] & 0x0f
    }
    /// Next protocol.
    pub fn next_protocol(&self) -> u8 {
        self.data()[3]
    }
    /// Service path identifier (24 bits).
    pub fn spi(&self) -> u32 {
        be32(self.data(), 4) >> 8
    }
    /// Service index.
    pub fn si(&self) -> u8 {
        self.data()[7]
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nsh spi {} si {} next {}", self.spi(), self.si(), self.next_protocol())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_parse() {
        // MD type 2, length 2 words, next IPv4, SPI 0x123456, SI 255.
        let b = [0x00, 0x02, 0x02, 0x01, 0x12, 0x34, 0x56, 0xff];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.header_len(), p.next_protocol(), p.spi(), p.si()), (8, 1, 0x123456, 255));
    }
}

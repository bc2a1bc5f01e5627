//! Arista vendor-specific protocol (EtherType 0xD28B): the timestamp header Arista switches
//! insert before the original EtherType.
use crate::{be16, be32, need, put16, put32, Error, Result};
use core::fmt;

/// Sub-type of a timestamp header.
pub const SUBTYPE_TIMESTAMP: u16 = 0x0001;
/// Version with a 64-bit timestamp (32-bit seconds, 32-bit nanoseconds), TAI.
pub const VERSION_64: u16 = 0x0010;
/// Version with a 48-bit timestamp (16-bit seconds, 32-bit nanoseconds), TAI.
pub const VERSION_48: u16 = 0x0020;
/// Bit of the version word that marks a UTC rather than a TAI timestamp.
pub const VERSION_UTC: u16 = 0x0100;

view!("A view of an Arista timestamp header (after its EtherType).");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking sub-type and version are known and the header fits.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), 4)?;
        if p.subtype() != SUBTYPE_TIMESTAMP || !matches!(p.version() & !VERSION_UTC, VERSION_64 | VERSION_48)
        {
            return Err(Error::Malformed);
        }
        need(p.data(), p.header_len())?;
        Ok(p)
    }
    /// Sub-type.
    pub fn subtype(&self) -> u16 {
        be16(self.data(), 0)
    }
    /// Version: which timestamp format follows.
    pub fn version(&self) -> u16 {
        be16(self.data(), 2)
    }
    /// Header length including the trailing EtherType.
    pub fn header_len(&self) -> usize {
        if self.version() & !VERSION_UTC == VERSION_48 {
            12
        } else {
            14
        }
    }
    /// Timestamp seconds (TAI).
    pub fn seconds(&self) -> u32 {
        if self.version() & !VERSION_UTC == VERSION_48 {
            u32::from(be16(self.data(), 4))
        } else {
            be32(self.data(), 4)
        }
    }
    /// Timestamp nanoseconds.
    pub fn nanoseconds(&self) -> u32 {
        be32(self.data(), self.header_len() - 6)
    }
    /// The EtherType that follows.
    pub fn ethertype(&self) -> u16 {
        be16(self.data(), self.header_len() - 2)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arista ts {}.{:09}", self.seconds(), self.nanoseconds())
    }
}

/// A 64-bit Arista timestamp header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Seconds.
    pub seconds: u32,
    /// Nanoseconds.
    pub nanoseconds: u32,
    /// Next EtherType.
    pub ethertype: u16,
}

impl Repr {
    /// Writes the header into `buf[..14]`.
    pub fn emit(&self, buf: &mut [u8]) {
        put16(buf, 0, SUBTYPE_TIMESTAMP);
        put16(buf, 2, VERSION_64);
        put32(buf, 4, self.seconds);
        put32(buf, 8, self.nanoseconds);
        put16(buf, 12, self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_parse() {
        // arista_ether.pcap frame 1, after the EtherType.
        let b = [0x00, 0x01, 0x00, 0x10, 0x5c, 0xee, 0xed, 0x57, 0x38, 0x4f, 0x59, 0xc8, 0x08, 0x00];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.seconds(), p.nanoseconds(), p.ethertype()), (1559162199, 944724424, 0x0800));
        let mut out = [0u8; 14];
        Repr { seconds: p.seconds(), nanoseconds: p.nanoseconds(), ethertype: 0x0800 }.emit(&mut out);
        assert_eq!(out, b);
        let mut bad = b;
        bad[3] = 0x11;
        assert!(Packet::new_checked(&bad[..]).is_err());
    }
}

//! TRILL (RFC 6325), EtherType 0x22F3: a 6-byte header and options, then a whole inner
//! Ethernet frame.
use crate::{be16, need, put16, Error, Result};
use core::fmt;

/// Length of the fixed TRILL header.
pub const HEADER_LEN: usize = 6;

view!("A view of a TRILL header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the header and its options.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), HEADER_LEN)?;
        if p.version() != 0 {
            return Err(Error::Malformed);
        }
        need(p.data(), p.header_len())?;
        Ok(p)
    }
    /// Version (2 bits, must be 0).
    pub fn version(&self) -> u8 {
        self.data()[0] >> 6
    }
    /// Multi-destination bit.
    pub fn multicast(&self) -> bool {
        self.data()[0] & 0x08 != 0
    }
    /// Options length in 4-byte words.
    pub fn op_length(&self) -> u8 {
        ((be16(self.data(), 0) >> 6) & 0x1f) as u8
    }
    /// Hop count (6 bits).
    pub fn hop_count(&self) -> u8 {
        self.data()[1] & 0x3f
    }
    /// Egress RBridge nickname.
    pub fn egress_nickname(&self) -> u16 {
        be16(self.data(), 2)
    }
    /// Ingress RBridge nickname.
    pub fn ingress_nickname(&self) -> u16 {
        be16(self.data(), 4)
    }
    /// Header length including options.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + 4 * usize::from(self.op_length())
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trill {} > {} hops {}", self.ingress_nickname(), self.egress_nickname(), self.hop_count())
    }
}

/// A TRILL header (without options) in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Multi-destination bit.
    pub multicast: bool,
    /// Hop count.
    pub hop_count: u8,
    /// Egress nickname.
    pub egress_nickname: u16,
    /// Ingress nickname.
    pub ingress_nickname: u16,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            multicast: p.multicast(),
            hop_count: p.hop_count(),
            egress_nickname: p.egress_nickname(),
            ingress_nickname: p.ingress_nickname(),
        }
    }
    /// Writes the header into `buf[..6]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = if self.multicast { 0x08 } else { 0 };
        buf[1] = self.hop_count & 0x3f;
        put16(buf, 2, self.egress_nickname);
        put16(buf, 4, self.ingress_nickname);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_roundtrip() {
        let r = Repr { multicast: false, hop_count: 0x3f, egress_nickname: 0x1234, ingress_nickname: 0x5678 };
        let mut b = [0u8; 6];
        r.emit(&mut b);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), 6);
        assert_eq!(Repr::parse(&p), r);
    }
}

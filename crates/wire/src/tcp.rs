//! TCP (RFC 9293): ports and flags.
use crate::{be16, be32, need, put16, put32, Error, Result};
use core::fmt;

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;

view!("A view of a TCP header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the fixed header and a sane data offset.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), HEADER_LEN)?;
        if p.header_len() < HEADER_LEN {
            return Err(Error::Malformed);
        }
        Ok(p)
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.data(), 0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.data(), 2)
    }
    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        be32(self.data(), 4)
    }
    /// Header length in bytes (data offset).
    pub fn header_len(&self) -> usize {
        usize::from(self.data()[12] >> 4) * 4
    }
    /// The nine flag bits NS CWR ECE URG ACK PSH RST SYN FIN, FIN in bit 0.
    pub fn flags(&self) -> u16 {
        be16(self.data(), 12) & 0x01ff
    }
}

/// Formats TCP flags as sFlow-RT does: nine characters, NS first and FIN last, `1` for set.
pub fn flags_string(flags: u16) -> [u8; 9] {
    let mut s = [b'0'; 9];
    for (i, c) in s.iter_mut().enumerate() {
        if flags & (1 << (8 - i)) != 0 {
            *c = b'1';
        }
    }
    s
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp {} > {} flags 0x{:03x}", self.src_port(), self.dst_port(), self.flags())
    }
}

/// A TCP header (without options) in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq_number: u32,
    /// Flags, FIN in bit 0.
    pub flags: u16,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr { src_port: p.src_port(), dst_port: p.dst_port(), seq_number: p.seq_number(), flags: p.flags() }
    }
    /// Writes the header into `buf[..20]` with window 65535 and a zero checksum.
    pub fn emit(&self, buf: &mut [u8]) {
        put16(buf, 0, self.src_port);
        put16(buf, 2, self.dst_port);
        put32(buf, 4, self.seq_number);
        put32(buf, 8, 0);
        put16(buf, 12, (5 << 12) | (self.flags & 0x1ff));
        put16(buf, 14, 0xffff);
        put32(buf, 16, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_flags_string() {
        assert_eq!(&flags_string(0x002), b"000000010");
        assert_eq!(&flags_string(0x012), b"000010010");
        assert_eq!(&flags_string(0x1ff), b"111111111");
    }

    #[test]
    fn test_roundtrip() {
        let r = Repr { src_port: 1291, dst_port: 445, seq_number: 7, flags: 0x18 };
        let mut b = [0u8; 20];
        r.emit(&mut b);
        assert_eq!(Repr::parse(&Packet::new_checked(&b[..]).unwrap()), r);
    }
}

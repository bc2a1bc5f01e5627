//! ICMP for IPv4 (RFC 792): type and code. The quoted header in an error message is data,
//! not a tunnel, and is not decoded further.
use crate::{need, put16, Result};
use core::fmt;

/// Length of the type, code and checksum.
pub const HEADER_LEN: usize = 4;

view!("A view of an ICMP header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds type, code and checksum.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.data()[0]
    }
    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.data()[1]
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "icmp type {} code {}", self.msg_type(), self.msg_code())
    }
}

/// An ICMP echo message in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoRepr {
    /// 8 for a request, 0 for a reply.
    pub msg_type: u8,
    /// Identifier.
    pub ident: u16,
    /// Sequence number.
    pub seq_no: u16,
}

impl EchoRepr {
    /// Writes the 8-byte echo header followed by nothing; the checksum covers `buf` whole, so
    /// write the payload first and call this last.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.msg_type;
        buf[1] = 0;
        put16(buf, 2, 0);
        put16(buf, 4, self.ident);
        put16(buf, 6, self.seq_no);
        let c = crate::checksum(buf);
        put16(buf, 2, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_echo() {
        let mut b = [0u8; 8];
        EchoRepr { msg_type: 8, ident: 1, seq_no: 2 }.emit(&mut b);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.msg_type(), p.msg_code()), (8, 0));
        assert_eq!(crate::checksum(&b), 0);
    }
}

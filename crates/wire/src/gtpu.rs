//! GTP-U (3GPP TS 29.281): an 8-byte header, 4 more bytes when E, S or PN is set, then
//! extension headers; message type 0xFF (G-PDU) carries user data.
use crate::{be16, be32, need, put16, put32, Error, Result};
use core::fmt;

/// Length of the mandatory header.
pub const BASE_LEN: usize = 8;
/// Message type of a G-PDU (user data).
pub const G_PDU: u8 = 0xff;

view!("A view of a GTP-U header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking version 1, protocol type GTP, and that the optional
    /// fields and every extension header fit.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), BASE_LEN)?;
        if p.version() != 1 || !p.protocol_type() {
            return Err(Error::Malformed);
        }
        p.walk_extensions()?;
        Ok(p)
    }
    /// Version (3 bits, 1).
    pub fn version(&self) -> u8 {
        self.data()[0] >> 5
    }
    /// Protocol type: true for GTP, false for GTP'.
    pub fn protocol_type(&self) -> bool {
        self.data()[0] & 0x10 != 0
    }
    /// True when any of E, S, PN is set and the optional 4 bytes follow.
    pub fn has_optional(&self) -> bool {
        self.data()[0] & 0x07 != 0
    }
    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.data()[1]
    }
    /// Length of everything after the mandatory header.
    pub fn length(&self) -> u16 {
        be16(self.data(), 2)
    }
    /// Tunnel endpoint identifier.
    pub fn teid(&self) -> u32 {
        be32(self.data(), 4)
    }
    fn walk_extensions(&self) -> Result<usize> {
        let d = self.data();
        if !self.has_optional() {
            return Ok(BASE_LEN);
        }
        need(d, BASE_LEN + 4)?;
        let mut at = BASE_LEN + 4;
        let mut next = if d[0] & 0x04 != 0 { d[BASE_LEN + 3] } else { 0 };
        while next != 0 {
            need(d, at + 1)?;
            let len = usize::from(d[at]) * 4;
            if len == 0 {
                return Err(Error::Malformed);
            }
            need(d, at + len)?;
            next = d[at + len - 1];
            at += len;
        }
        Ok(at)
    }
    /// Header length with optional fields and extension headers.
    pub fn header_len(&self) -> usize {
        self.walk_extensions().unwrap_or(BASE_LEN)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gtp-u type {} teid 0x{:08x}", self.msg_type(), self.teid())
    }
}

/// A G-PDU header without optional fields, in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// TEID.
    pub teid: u32,
    /// Length of the user data.
    pub payload_len: usize,
}

impl Repr {
    /// Writes the header into `buf[..8]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = 0x30;
        buf[1] = G_PDU;
        put16(buf, 2, self.payload_len.min(0xffff) as u16);
        put32(buf, 4, self.teid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_ext_header() {
        // E set, next extension 0x85 (PDU session container, 1 word), then none.
        let b = [0x34, 0xff, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x05, 0x00];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), 16);
        assert_eq!(p.teid(), 1);
        assert!(Packet::new_checked(&b[..15]).is_err());
    }

    #[test]
    fn test_emit() {
        let mut b = [0u8; 8];
        Repr { teid: 0x1234, payload_len: 40 }.emit(&mut b);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.msg_type(), p.teid(), p.length(), p.header_len()), (G_PDU, 0x1234, 40, 8));
    }
}

//! PPPoE session stage (RFC 2516, EtherType 0x8864): a 6-byte header followed by a PPP
//! protocol field.
use crate::{be16, need, put16, Error, Result};
use core::fmt;

/// Length of the header before the PPP protocol.
pub const HEADER_LEN: usize = 6;

view!("A view of a PPPoE session header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking version and type are 1 and the header fits.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), HEADER_LEN)?;
        if p.data()[0] != 0x11 {
            return Err(Error::Malformed);
        }
        Ok(p)
    }
    /// Code (0 for session data).
    pub fn code(&self) -> u8 {
        self.data()[1]
    }
    /// Session ID.
    pub fn session_id(&self) -> u16 {
        be16(self.data(), 2)
    }
    /// Payload length.
    pub fn length(&self) -> u16 {
        be16(self.data(), 4)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pppoe session 0x{:04x}", self.session_id())
    }
}

/// A PPPoE session header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Session ID.
    pub session_id: u16,
    /// Payload length (PPP protocol included).
    pub length: u16,
}

impl Repr {
    /// Writes the header into `buf[..6]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = 0x11;
        buf[1] = 0;
        put16(buf, 2, self.session_id);
        put16(buf, 4, self.length);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_roundtrip() {
        let mut b = [0u8; 6];
        Repr { session_id: 0x2a, length: 22 }.emit(&mut b);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.code(), p.session_id(), p.length()), (0, 0x2a, 22));
    }
}

//! L2TPv3 data messages over IP (RFC 3931, IP protocol 115): a 32-bit session ID (0 marks a
//! control message), a cookie of 0, 4 or 8 bytes and an optional L2-specific sublayer, whose
//! sizes were agreed out of band and so come from configuration.
use crate::{be32, need, put32, Result};
use core::fmt;

/// Length of the session ID.
pub const SESSION_LEN: usize = 4;

view!("A view of an L2TPv3-over-IP data header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the session ID.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), SESSION_LEN)?;
        Ok(Packet { buffer })
    }
    /// Session ID (0 for a control message).
    pub fn session_id(&self) -> u32 {
        be32(self.data(), 0)
    }
    /// True for a control message.
    pub fn is_control(&self) -> bool {
        self.session_id() == 0
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "l2tpv3 session {}", self.session_id())
    }
}

/// An L2TPv3 data header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Session ID.
    pub session_id: u32,
    /// Cookie (0, 4 or 8 bytes).
    pub cookie: &'a [u8],
    /// Emit the default L2-specific sublayer (4 bytes, sequence 0).
    pub sublayer: bool,
}

impl Repr<'_> {
    /// Bytes the header takes.
    pub fn header_len(&self) -> usize {
        SESSION_LEN + self.cookie.len() + if self.sublayer { 4 } else { 0 }
    }
    /// Writes the header into `buf[..header_len()]`.
    pub fn emit(&self, buf: &mut [u8]) {
        put32(buf, 0, self.session_id);
        let c = self.cookie.len();
        buf[4..4 + c].copy_from_slice(self.cookie);
        if self.sublayer {
            put32(buf, 4 + c, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_roundtrip() {
        let r = Repr { session_id: 0x1234, cookie: &[1, 2, 3, 4], sublayer: false };
        let mut b = [0u8; 8];
        r.emit(&mut b);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.session_id(), 0x1234);
        assert!(!p.is_control());
    }
}

//! ICMPv6 (RFC 4443): type and code.
use crate::{need, Result};
use core::fmt;

/// Length of the type, code and checksum.
pub const HEADER_LEN: usize = 4;

view!("A view of an ICMPv6 header.");

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
        write!(f, "icmp6 type {} code {}", self.msg_type(), self.msg_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_parse() {
        let b = [135u8, 0, 0, 0];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.msg_type(), 135);
        assert!(Packet::new_checked(&b[..3]).is_err());
    }
}

//! AYIYA, "Anything In Anything" (UDP 5072): a header with identity and signature, then a
//! packet whose IP protocol is in the next-header field.
use crate::{be32, need, Error, Result};
use core::fmt;

/// Length of the fixed header.
pub const BASE_LEN: usize = 8;

view!("A view of an AYIYA header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking the identity and signature fit.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), BASE_LEN)?;
        if p.data()[0] >> 4 > 8 {
            return Err(Error::Malformed);
        }
        need(p.data(), p.header_len())?;
        Ok(p)
    }
    /// Identity length in bytes (2 to the power of the 4-bit field).
    pub fn identity_len(&self) -> usize {
        1 << (self.data()[0] >> 4)
    }
    /// Signature length in bytes (4-byte words).
    pub fn signature_len(&self) -> usize {
        usize::from(self.data()[1] >> 4) * 4
    }
    /// Operation code (1 forward).
    pub fn opcode(&self) -> u8 {
        self.data()[2] & 0x0f
    }
    /// IP protocol of the payload.
    pub fn next_header(&self) -> u8 {
        self.data()[3]
    }
    /// Epoch time.
    pub fn epoch(&self) -> u32 {
        be32(self.data(), 4)
    }
    /// Header length with identity and signature.
    pub fn header_len(&self) -> usize {
        BASE_LEN + self.identity_len() + self.signature_len()
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ayiya op {} next {}", self.opcode(), self.next_header())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_parse() {
        // identity 2^4=16 bytes, signature 5 words = 20 bytes, forward, IPv6.
        let mut b = [0u8; 8 + 16 + 20];
        b[0] = 0x41;
        b[1] = 0x52;
        b[2] = 0x11;
        b[3] = 41;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.header_len(), p.next_header(), p.opcode()), (44, 41, 1));
        assert!(Packet::new_checked(&b[..43]).is_err());
    }
}

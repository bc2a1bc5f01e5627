//! The associated channel header (RFC 4385, RFC 5586): after a GAL, or in place of a
//! pseudowire's control word, a first nibble of 1, a version, and the channel type that says
//! what follows (IPv4, IPv6, BFD, MPLS-TP OAM, ...).
use crate::{be16, need, put16, Error, Result};

/// Length of the header.
pub const HEADER_LEN: usize = 4;

/// Channel types this crate names.
pub mod channel {
    /// IPv4 (RFC 4385).
    pub const IPV4: u16 = 0x0021;
    /// IPv6 (RFC 4385).
    pub const IPV6: u16 = 0x0057;
    /// BFD control without IP/UDP headers (RFC 5885).
    pub const BFD: u16 = 0x0007;
}

view!("A view of an associated channel header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking the first nibble (1) and the length.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        let p = Packet { buffer };
        if p.data()[0] >> 4 != 1 {
            return Err(Error::Malformed);
        }
        Ok(p)
    }
    /// Version (0 or 1).
    pub fn version(&self) -> u8 {
        self.data()[0] & 0x0f
    }
    /// The channel type.
    pub fn channel_type(&self) -> u16 {
        be16(self.data(), 2)
    }
}

/// Writes a version 0 header of `channel_type` into `buf[..HEADER_LEN]`.
pub fn emit(buf: &mut [u8], channel_type: u16) {
    buf[0] = 0x10;
    buf[1] = 0;
    put16(buf, 2, channel_type);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut b = [0u8; 4];
        emit(&mut b, channel::IPV4);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.version(), p.channel_type()), (0, channel::IPV4));
        b[0] = 0x00;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
    }
}

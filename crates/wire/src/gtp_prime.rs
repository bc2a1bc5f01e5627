//! GTP' (3GPP TS 32.295), the charging data transfer protocol on UDP 3386: GTP's header with
//! the protocol type bit clear, 6 bytes long (20 in version 0's long form); it carries charging
//! records, never a user packet.
use crate::{be16, need, put16, Error, Result};

/// Length of the short header.
pub const SHORT_LEN: usize = 6;
/// Length of the long (version 0) header.
pub const LONG_LEN: usize = 20;
/// UDP port of GTP'.
pub const PORT: u16 = 3386;

view!("A view of a GTP' header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking the protocol type (GTP') and the header's length.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), SHORT_LEN)?;
        if p.data()[0] & 0x10 != 0 || p.version() > 2 {
            return Err(Error::Malformed);
        }
        need(p.data(), p.header_len())?;
        Ok(p)
    }
    /// Version (0 to 2).
    pub fn version(&self) -> u8 {
        self.data()[0] >> 5
    }
    /// Header length: the short form when the header-length bit is set.
    pub fn header_len(&self) -> usize {
        if self.data()[0] & 0x01 != 0 {
            SHORT_LEN
        } else {
            LONG_LEN
        }
    }
    /// Message type (240 data record transfer request, 1 echo request, 4 node alive, ...).
    pub fn msg_type(&self) -> u8 {
        self.data()[1]
    }
    /// Sequence number.
    pub fn sequence(&self) -> u16 {
        be16(self.data(), 4)
    }
}

/// Writes a short version 2 header of message type `msg_type` for `payload_len` bytes into
/// `buf[..SHORT_LEN]`.
pub fn emit(buf: &mut [u8], msg_type: u8, sequence: u16, payload_len: usize) {
    buf[0] = 0x4f;
    buf[1] = msg_type;
    put16(buf, 2, payload_len.min(0xffff) as u16);
    put16(buf, 4, sequence);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_headers() {
        let mut b = [0u8; LONG_LEN];
        emit(&mut b, 240, 7, 100);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.version(), p.header_len(), p.msg_type(), p.sequence()), (2, 6, 240, 7));
        b[0] = 0x0e;
        assert_eq!(Packet::new_checked(&b[..]).unwrap().header_len(), LONG_LEN);
        b[0] = 0x30;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
    }
}

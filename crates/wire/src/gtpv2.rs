//! GTPv2-C (3GPP TS 29.274), the control plane on UDP 2123: version 2, a TEID when the T flag
//! is set, a sequence number; information elements follow, never a user packet.
use crate::{be32, need, put16, put32, Error, Result};

/// Length of the header without a TEID.
pub const SHORT_LEN: usize = 8;
/// Length of the header with a TEID.
pub const TEID_LEN: usize = 12;
/// UDP port of GTP-C.
pub const PORT: u16 = 2123;

view!("A view of a GTPv2-C header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking version 2 and the header's length.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), SHORT_LEN)?;
        if p.data()[0] >> 5 != 2 {
            return Err(Error::Malformed);
        }
        need(p.data(), p.header_len())?;
        Ok(p)
    }
    /// True when the header carries a TEID.
    pub fn has_teid(&self) -> bool {
        self.data()[0] & 0x08 != 0
    }
    /// Header length.
    pub fn header_len(&self) -> usize {
        if self.has_teid() {
            TEID_LEN
        } else {
            SHORT_LEN
        }
    }
    /// Message type (1 echo request, 32 create session request, ...).
    pub fn msg_type(&self) -> u8 {
        self.data()[1]
    }
    /// The TEID, when present.
    pub fn teid(&self) -> Option<u32> {
        self.has_teid().then(|| be32(self.data(), 4))
    }
}

/// Writes a header of message type `msg_type` (with `teid` when given) for `payload_len` bytes
/// of information elements into `buf`.
pub fn emit(buf: &mut [u8], msg_type: u8, teid: Option<u32>, payload_len: usize) {
    let len = if teid.is_some() { TEID_LEN } else { SHORT_LEN };
    buf[..len].fill(0);
    buf[0] = 0x40 | if teid.is_some() { 0x08 } else { 0 };
    buf[1] = msg_type;
    put16(buf, 2, (len - 4 + payload_len).min(0xffff) as u16);
    if let Some(t) = teid {
        put32(buf, 4, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_and_without_teid() {
        let mut b = [0u8; TEID_LEN];
        emit(&mut b, 32, Some(9), 0);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.header_len(), p.msg_type(), p.teid()), (12, 32, Some(9)));
        emit(&mut b, 1, None, 0);
        assert_eq!(Packet::new_checked(&b[..8]).unwrap().teid(), None);
        b[0] = 0x30;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
    }
}

//! Radiotap headers (pcap link type 127) in front of 802.11 frames: a little-endian length,
//! and the presence bitmaps of the fields, of which only Flags matters here (bit 0x10: the
//! frame ends with its FCS).
use crate::{need, Error, Result};

/// Length of the fixed part.
pub const BASE_LEN: usize = 8;
/// The Flags bit saying the 802.11 frame ends with a 4-byte FCS.
const FLAG_FCS: u8 = 0x10;

/// A radiotap header's length and whether the frame after it ends with an FCS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Length of the whole header.
    pub len: usize,
    /// The 802.11 frame ends with its 4-byte FCS.
    pub fcs: bool,
}

impl Header {
    /// Reads the header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<Header> {
        need(data, BASE_LEN)?;
        let len = usize::from(u16::from_le_bytes([data[2], data[3]]));
        if data[0] != 0 || len < BASE_LEN {
            return Err(Error::Malformed);
        }
        need(data, len)?;
        let word = |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        // The fields follow the last presence word (bit 31 says another one follows).
        let mut at = 4;
        while word(at) & 1 << 31 != 0 {
            at += 4;
            if at + 4 > len {
                return Err(Error::Malformed);
            }
        }
        let present = word(4);
        let mut field = at + 4;
        if present & 1 != 0 {
            // TSFT: 8 bytes, aligned to 8.
            field = field.next_multiple_of(8) + 8;
        }
        let fcs = present & 2 != 0 && data.get(field).is_some_and(|f| f & FLAG_FCS != 0) && field < len;
        Ok(Header { len, fcs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_after_tsft() {
        let mut b = [0u8; 17];
        b[2] = 17;
        b[4] = 0x03;
        b[16] = FLAG_FCS;
        assert_eq!(Header::parse(&b).unwrap(), Header { len: 17, fcs: true });
        b[4] = 0x02;
        b[8] = FLAG_FCS;
        b[16] = 0;
        assert_eq!(Header::parse(&b).unwrap(), Header { len: 17, fcs: true });
        b[2] = 40;
        assert_eq!(Header::parse(&b).unwrap_err(), Error::Truncated);
    }
}

//! CAPWAP (RFC 5415) headers, as the data channel (UDP 5247) carries wireless frames between
//! access points and their controller: a preamble, then a header of HLEN 4-byte words with the
//! radio and wireless binding, flags, fragment fields and optional radio MAC and wireless
//! information; the payload is an 802.3 frame, or with the T flag a frame of the binding's
//! native format (802.11 for binding 1, RFC 5416).
use crate::{be16, need, put16, Error, Result};
use core::fmt;

/// Length of the header without optional fields.
pub const BASE_LEN: usize = 8;
/// Wireless binding ID of IEEE 802.11.
pub const WBID_IEEE80211: u8 = 1;

view!("A view of a CAPWAP header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking the preamble (version 0, a clear-text header) and that
    /// the header its length field declares fits.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), BASE_LEN)?;
        if p.data()[0] != 0 || p.header_len() < BASE_LEN {
            return Err(Error::Malformed);
        }
        need(p.data(), p.header_len())?;
        Ok(p)
    }
    /// Preamble type: 0 a CAPWAP header follows, 1 a DTLS record (encrypted).
    pub fn preamble_type(&self) -> u8 {
        self.data()[0] & 0x0f
    }
    fn word(&self) -> u32 {
        u32::from_be_bytes([self.data()[0], self.data()[1], self.data()[2], self.data()[3]])
    }
    /// Header length in bytes (HLEN counts 4-byte words).
    pub fn header_len(&self) -> usize {
        ((self.word() >> 19) & 0x1f) as usize * 4
    }
    /// Radio ID.
    pub fn radio_id(&self) -> u8 {
        ((self.word() >> 14) & 0x1f) as u8
    }
    /// Wireless binding ID (1 for IEEE 802.11).
    pub fn wbid(&self) -> u8 {
        ((self.word() >> 9) & 0x1f) as u8
    }
    /// T flag: the payload is in the binding's native format (else an 802.3 frame).
    pub fn native(&self) -> bool {
        self.word() & 1 << 8 != 0
    }
    /// F flag: the packet is a fragment.
    pub fn fragment(&self) -> bool {
        self.word() & 1 << 7 != 0
    }
    /// L flag: the last fragment.
    pub fn last_fragment(&self) -> bool {
        self.word() & 1 << 6 != 0
    }
    /// W flag: wireless specific information is present.
    pub fn wireless_info(&self) -> bool {
        self.word() & 1 << 5 != 0
    }
    /// M flag: the radio MAC address is present.
    pub fn radio_mac(&self) -> bool {
        self.word() & 1 << 4 != 0
    }
    /// K flag: a keep-alive (no payload).
    pub fn keep_alive(&self) -> bool {
        self.word() & 1 << 3 != 0
    }
    /// Fragment ID.
    pub fn fragment_id(&self) -> u16 {
        be16(self.data(), 4)
    }
    /// Fragment offset, in 8-byte units.
    pub fn fragment_offset(&self) -> u16 {
        be16(self.data(), 6) >> 3
    }
    /// True when the payload is an 802.11 frame.
    pub fn carries_ieee80211(&self) -> bool {
        self.native() && self.wbid() == WBID_IEEE80211
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "capwap radio {} wbid {}", self.radio_id(), self.wbid())?;
        if self.native() {
            f.write_str(" native")?;
        }
        Ok(())
    }
}

/// A data channel header, in parsed form (no fragmentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Repr {
    /// Radio ID.
    pub radio_id: u8,
    /// Wireless binding ID.
    pub wbid: u8,
    /// The payload is in the binding's native format.
    pub native: bool,
    /// The radio MAC address, carried when given.
    pub radio_mac: Option<[u8; 6]>,
}

impl Repr {
    /// Length of the header (the radio MAC field padded to 4 bytes).
    pub fn header_len(&self) -> usize {
        BASE_LEN + if self.radio_mac.is_some() { 8 } else { 0 }
    }
    /// Writes the header into `buf[..header_len()]`.
    pub fn emit(&self, buf: &mut [u8]) {
        let hlen = (self.header_len() / 4) as u32;
        let word = hlen << 19
            | u32::from(self.radio_id & 0x1f) << 14
            | u32::from(self.wbid & 0x1f) << 9
            | u32::from(self.native) << 8
            | u32::from(self.radio_mac.is_some()) << 4;
        buf[..4].copy_from_slice(&word.to_be_bytes());
        put16(buf, 4, 0);
        put16(buf, 6, 0);
        if let Some(mac) = self.radio_mac {
            buf[8] = 6;
            buf[9..15].copy_from_slice(&mac);
            buf[15] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let r = Repr { radio_id: 1, wbid: WBID_IEEE80211, native: true, radio_mac: Some([0, 1, 2, 3, 4, 5]) };
        let mut b = [0u8; 16];
        r.emit(&mut b);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.header_len(), p.radio_id(), p.wbid()), (16, 1, 1));
        assert!(p.carries_ieee80211() && p.radio_mac() && !p.fragment());
        assert_eq!(Packet::new_checked(&b[..12]).unwrap_err(), Error::Truncated);
        b[0] = 1;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
    }
}

//! GRE (RFC 2784 with RFC 2890 key and sequence; RFC 1701 routing; version 1, the enhanced
//! GRE of PPTP, RFC 2637).
//!
//! ```text
//! |C|R|K|S|s|Recur|A|Flags|Ver|   Protocol Type   |
//! [Checksum | Offset]   if C or R
//! [Key]                 if K   (version 1: payload length | call ID)
//! [Sequence]            if S
//! [Acknowledgment]      if A   (version 1 only)
//! [SRE list]            if R   (RFC 1701)
//! ```
use crate::{be16, be32, need, put16, put32, Error, Result};
use core::fmt;

/// Length of the mandatory part.
pub const BASE_LEN: usize = 4;

/// Flag bits of the first 16-bit word.
pub mod flag {
    /// Checksum present.
    pub const C: u16 = 0x8000;
    /// Routing present (RFC 1701).
    pub const R: u16 = 0x4000;
    /// Key present.
    pub const K: u16 = 0x2000;
    /// Sequence number present.
    pub const S: u16 = 0x1000;
    /// Strict source route (RFC 1701).
    pub const SSR: u16 = 0x0800;
    /// Recursion control (RFC 1701).
    pub const RECUR: u16 = 0x0700;
    /// Acknowledgment present (version 1).
    pub const A: u16 = 0x0080;
    /// Reserved flag bits.
    pub const RESERVED: u16 = 0x0078;
    /// Version.
    pub const VERSION: u16 = 0x0007;
}

view!("A view of a GRE header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking the version is 0 or 1 and that every optional field the
    /// flags announce is present (SRE lists included).
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), BASE_LEN)?;
        if p.version() > 1 {
            return Err(Error::Malformed);
        }
        need(p.data(), p.fixed_len())?;
        p.routing_len()?;
        Ok(p)
    }
    /// The first 16 bits: flags and version.
    pub fn flags_version(&self) -> u16 {
        be16(self.data(), 0)
    }
    /// Version (0 GRE, 1 enhanced GRE).
    pub fn version(&self) -> u8 {
        (self.flags_version() & flag::VERSION) as u8
    }
    /// Checksum present.
    pub fn has_checksum(&self) -> bool {
        self.flags_version() & flag::C != 0
    }
    /// Routing present.
    pub fn has_routing(&self) -> bool {
        self.flags_version() & flag::R != 0
    }
    /// Key present.
    pub fn has_key(&self) -> bool {
        self.flags_version() & flag::K != 0
    }
    /// Sequence number present.
    pub fn has_sequence(&self) -> bool {
        self.flags_version() & flag::S != 0
    }
    /// Acknowledgment present (version 1).
    pub fn has_ack(&self) -> bool {
        self.version() == 1 && self.flags_version() & flag::A != 0
    }
    /// True when bits RFC 2784/2890 reserve are set (strict route, recursion, flags).
    pub fn reserved_bits_set(&self) -> bool {
        let mask = flag::SSR | flag::RECUR | if self.version() == 1 { 0x0078 } else { 0x00f8 };
        self.flags_version() & mask != 0
    }
    /// Protocol type of the payload (an EtherType).
    pub fn protocol(&self) -> u16 {
        be16(self.data(), 2)
    }
    fn fixed_len(&self) -> usize {
        let fv = self.flags_version();
        let mut len = BASE_LEN;
        if fv & (flag::C | flag::R) != 0 {
            len += 4;
        }
        if fv & flag::K != 0 {
            len += 4;
        }
        if fv & flag::S != 0 {
            len += 4;
        }
        if self.has_ack() {
            len += 4;
        }
        len
    }
    fn key_offset(&self) -> usize {
        BASE_LEN + if self.flags_version() & (flag::C | flag::R) != 0 { 4 } else { 0 }
    }
    /// Length of the RFC 1701 source route entries, terminator included.
    fn routing_len(&self) -> Result<usize> {
        if !self.has_routing() {
            return Ok(0);
        }
        let d = self.data();
        let start = self.fixed_len();
        let mut at = start;
        loop {
            need(d, at + 4)?;
            let family = be16(d, at);
            let sre_len = usize::from(d[at + 3]);
            at += 4 + sre_len;
            if family == 0 && sre_len == 0 {
                return Ok(at - start);
            }
            if at > d.len() {
                return Err(Error::Truncated);
            }
        }
    }
    /// Header length with every optional field.
    pub fn header_len(&self) -> usize {
        self.fixed_len() + self.routing_len().unwrap_or(0)
    }
    /// Checksum, if present.
    pub fn checksum(&self) -> Option<u16> {
        self.has_checksum().then(|| be16(self.data(), BASE_LEN))
    }
    /// Key, if present (version 1: payload length in the high half, call ID in the low).
    pub fn key(&self) -> Option<u32> {
        self.has_key().then(|| be32(self.data(), self.key_offset()))
    }
    /// Sequence number, if present.
    pub fn sequence(&self) -> Option<u32> {
        let off = self.key_offset() + if self.has_key() { 4 } else { 0 };
        self.has_sequence().then(|| be32(self.data(), off))
    }
    /// Version 1 call ID, the low half of the key.
    pub fn call_id(&self) -> Option<u16> {
        (self.version() == 1).then(|| self.key().map(|k| k as u16)).flatten()
    }
    /// Version 1 acknowledgment number, if present.
    pub fn acknowledgment(&self) -> Option<u32> {
        let off =
            self.key_offset() + if self.has_key() { 4 } else { 0 } + if self.has_sequence() { 4 } else { 0 };
        self.has_ack().then(|| be32(self.data(), off))
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gre v{} proto 0x{:04x}", self.version(), self.protocol())?;
        if let Some(k) = self.key() {
            write!(f, " key 0x{k:08x}")?;
        }
        if let Some(s) = self.sequence() {
            write!(f, " seq {s}")?;
        }
        Ok(())
    }
}

/// A version 0 GRE header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Repr {
    /// Protocol type of the payload.
    pub protocol: u16,
    /// Emit a (zero) checksum field.
    pub checksum: bool,
    /// Key.
    pub key: Option<u32>,
    /// Sequence number.
    pub sequence: Option<u32>,
}

impl Repr {
    /// Parses a checked version 0 view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr { protocol: p.protocol(), checksum: p.has_checksum(), key: p.key(), sequence: p.sequence() }
    }
    /// Bytes the header takes.
    pub fn header_len(&self) -> usize {
        BASE_LEN
            + 4 * usize::from(self.checksum)
            + 4 * usize::from(self.key.is_some())
            + 4 * usize::from(self.sequence.is_some())
    }
    /// Writes the header into `buf[..header_len()]`. A checksum field is written as zero; call
    /// [`fill_checksum`] once the payload is in place.
    pub fn emit(&self, buf: &mut [u8]) {
        let mut fv = 0u16;
        let mut at = BASE_LEN;
        if self.checksum {
            fv |= flag::C;
            put32(buf, at, 0);
            at += 4;
        }
        if let Some(k) = self.key {
            fv |= flag::K;
            put32(buf, at, k);
            at += 4;
        }
        if let Some(s) = self.sequence {
            fv |= flag::S;
            put32(buf, at, s);
        }
        put16(buf, 0, fv);
        put16(buf, 2, self.protocol);
    }
}

/// A version 1 (enhanced, PPTP, RFC 2637) GRE header in parsed form: it always carries PPP
/// and a key made of the payload length and the call ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EnhancedRepr {
    /// Call ID.
    pub call_id: u16,
    /// Sequence number (present when the packet carries a payload).
    pub sequence: Option<u32>,
    /// Acknowledgment number.
    pub acknowledgment: Option<u32>,
}

impl EnhancedRepr {
    /// Parses a checked version 1 view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> EnhancedRepr {
        EnhancedRepr {
            call_id: p.call_id().unwrap_or(0),
            sequence: p.sequence(),
            acknowledgment: p.acknowledgment(),
        }
    }
    /// Bytes the header takes.
    pub fn header_len(&self) -> usize {
        BASE_LEN
            + 4
            + 4 * usize::from(self.sequence.is_some())
            + 4 * usize::from(self.acknowledgment.is_some())
    }
    /// Writes the header, for a PPP payload of `payload_len` bytes, into `buf[..header_len()]`.
    pub fn emit(&self, buf: &mut [u8], payload_len: u16) {
        let mut fv = flag::K | 1;
        put32(buf, BASE_LEN, (u32::from(payload_len) << 16) | u32::from(self.call_id));
        let mut at = BASE_LEN + 4;
        if let Some(s) = self.sequence {
            fv |= flag::S;
            put32(buf, at, s);
            at += 4;
        }
        if let Some(a) = self.acknowledgment {
            fv |= flag::A;
            put32(buf, at, a);
        }
        put16(buf, 0, fv);
        put16(buf, 2, crate::ethernet::ethertype::PPP);
    }
}

/// Computes the GRE checksum over a header with C set and its payload (`packet`), and stores it.
pub fn fill_checksum(packet: &mut [u8]) {
    put16(packet, BASE_LEN, 0);
    let c = crate::checksum(packet);
    put16(packet, BASE_LEN, c);
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_key_seq() {
        let r = Repr { protocol: 0x6558, checksum: true, key: Some(100), sequence: Some(7) };
        let mut b = [0u8; 16];
        r.emit(&mut b);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), 16);
        assert_eq!(Repr::parse(&p), r);
        fill_checksum(&mut b);
        assert_eq!(crate::checksum(&b), 0);
    }

    #[test]
    fn test_erspan2_header() {
        // GRE of erspan-type-ii: S bit, protocol 0x88be.
        let b = [0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 5];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.sequence(), p.key(), p.header_len()), (Some(5), None, 8));
    }

    #[test]
    fn test_pptp() {
        // Enhanced GRE: K, S, A; version 1; PPP.
        let b = [0x30, 0x81, 0x88, 0x0b, 0x00, 0x10, 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 2];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 1);
        assert_eq!(p.header_len(), 16);
        assert_eq!(p.call_id(), Some(0x1234));
    }

    #[test]
    fn test_enhanced_roundtrip() {
        for r in [
            EnhancedRepr { call_id: 0x1234, sequence: Some(1), acknowledgment: Some(2) },
            EnhancedRepr { call_id: 7, sequence: Some(9), acknowledgment: None },
            EnhancedRepr { call_id: 7, sequence: None, acknowledgment: Some(3) },
        ] {
            let mut b = [0u8; 16];
            r.emit(&mut b, 40);
            let p = Packet::new_checked(&b[..r.header_len()]).unwrap();
            assert_eq!((p.version(), p.protocol(), p.header_len()), (1, 0x880b, r.header_len()));
            assert_eq!(p.key().map(|k| k >> 16), Some(40));
            assert_eq!(EnhancedRepr::parse(&p), r);
        }
        // The PPTP example above reads back the same.
        let b = [0x30, 0x81, 0x88, 0x0b, 0x00, 0x10, 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 2];
        let r = EnhancedRepr { call_id: 0x1234, sequence: Some(1), acknowledgment: Some(2) };
        assert_eq!(EnhancedRepr::parse(&Packet::new_checked(&b[..]).unwrap()), r);
        let mut e = [0u8; 16];
        r.emit(&mut e, 0x10);
        assert_eq!(e, b);
    }

    #[test]
    fn test_bad() {
        let b = [0x00, 0x02, 0x08, 0x00];
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
        let b = [0x20, 0x00, 0x08, 0x00, 0, 0];
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Truncated);
    }
}

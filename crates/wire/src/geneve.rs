//! GENEVE (RFC 8926): an 8-byte header with a protocol type (an EtherType) and up to 252
//! bytes of options.
use crate::{be16, be24, need, put16, put24, Error, Result};
use core::fmt;

/// Length of the fixed header.
pub const HEADER_LEN: usize = 8;

view!("A view of a GENEVE header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking the version is 0, the options fit, and every option's
    /// length stays inside the options area.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), HEADER_LEN)?;
        if p.version() != 0 {
            return Err(Error::Malformed);
        }
        need(p.data(), p.header_len())?;
        let mut opts = p.options();
        for o in &mut opts {
            let _ = o;
        }
        if opts.malformed {
            return Err(Error::Malformed);
        }
        Ok(p)
    }
    /// Version (2 bits, must be 0).
    pub fn version(&self) -> u8 {
        self.data()[0] >> 6
    }
    /// Options length in bytes.
    pub fn options_len(&self) -> usize {
        usize::from(self.data()[0] & 0x3f) * 4
    }
    /// O: control (OAM) packet.
    pub fn oam(&self) -> bool {
        self.data()[1] & 0x80 != 0
    }
    /// C: critical options present.
    pub fn critical(&self) -> bool {
        self.data()[1] & 0x40 != 0
    }
    /// Protocol type of the payload (an EtherType).
    pub fn protocol(&self) -> u16 {
        be16(self.data(), 2)
    }
    /// VNI (24 bits).
    pub fn vni(&self) -> u32 {
        be24(self.data(), 4)
    }
    /// Header length with options.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }
    /// The options, in order.
    pub fn options(&self) -> Options<'_> {
        let end = self.header_len().min(self.data().len());
        Options { data: &self.data()[HEADER_LEN.min(end)..end], malformed: false }
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "geneve vni {} proto 0x{:04x} opts {}", self.vni(), self.protocol(), self.options_len())
    }
}

/// One GENEVE option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneveOption<'a> {
    /// Option class.
    pub class: u16,
    /// Option type; its top bit marks a critical option.
    pub kind: u8,
    /// Option data.
    pub data: &'a [u8],
}

impl GeneveOption<'_> {
    /// True when the receiver must drop the packet if it does not understand this option.
    pub fn is_critical(&self) -> bool {
        self.kind & 0x80 != 0
    }
}

/// Iterator over GENEVE options; stops at the first option that overruns the area and then
/// reports `malformed`.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    data: &'a [u8],
    /// Set once an option's length ran past the options area.
    pub malformed: bool,
}

impl<'a> Iterator for Options<'a> {
    type Item = GeneveOption<'a>;
    fn next(&mut self) -> Option<GeneveOption<'a>> {
        if self.data.is_empty() {
            return None;
        }
        if self.data.len() < 4 {
            self.malformed = true;
            self.data = &[];
            return None;
        }
        let len = 4 + usize::from(self.data[3] & 0x1f) * 4;
        if len > self.data.len() {
            self.malformed = true;
            self.data = &[];
            return None;
        }
        let o = GeneveOption { class: be16(self.data, 0), kind: self.data[2], data: &self.data[4..len] };
        self.data = &self.data[len..];
        Some(o)
    }
}

/// A GENEVE header in parsed form; options are written from `options`, raw TLV bytes whose
/// length is a multiple of 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// VNI.
    pub vni: u32,
    /// Protocol type of the payload.
    pub protocol: u16,
    /// Critical options present.
    pub critical: bool,
    /// Raw options.
    pub options: &'a [u8],
}

impl Repr<'_> {
    /// Bytes the header takes.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }
    /// Writes the header into `buf[..header_len()]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = (self.options.len() / 4) as u8 & 0x3f;
        buf[1] = if self.critical { 0x40 } else { 0 };
        put16(buf, 2, self.protocol);
        put24(buf, 4, self.vni);
        buf[7] = 0;
        buf[HEADER_LEN..HEADER_LEN + self.options.len()].copy_from_slice(self.options);
    }
}

/// Writes one option TLV (class, type, data padded to 4 bytes) into `buf`; returns its length.
pub fn emit_option(buf: &mut [u8], class: u16, kind: u8, data: &[u8]) -> usize {
    let words = data.len().div_ceil(4);
    put16(buf, 0, class);
    buf[2] = kind;
    buf[3] = (words as u8) & 0x1f;
    buf[4..4 + words * 4].fill(0);
    buf[4..4 + data.len()].copy_from_slice(data);
    4 + words * 4
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_options() {
        let mut opts = [0u8; 12];
        let n = emit_option(&mut opts, 0x0102, 0x80, &[1, 2, 3, 4]);
        let n2 = emit_option(&mut opts[n..], 0x0103, 0x01, &[]);
        let r = Repr { vni: 5000, protocol: 0x6558, critical: true, options: &opts[..n + n2] };
        let mut b = [0u8; 20];
        r.emit(&mut b);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), 20);
        let all: std::vec::Vec<_> = p.options().collect();
        assert_eq!(all.len(), 2);
        assert!(all[0].is_critical());
        assert_eq!(all[0].data, &[1, 2, 3, 4]);
        assert_eq!((p.vni(), p.protocol(), p.critical()), (5000, 0x6558, true));
    }

    #[test]
    fn test_overrun() {
        // One option declaring 8 data bytes inside a 4-byte options area.
        let b = [0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 1, 0, 2];
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
    }
}

//! IPFIX (RFC 7011) as an exporter writes it: the message header, set headers and template
//! records; data records are the template's fields in order, in network byte order.
use crate::{be16, be32, need, put16, put32, Result};

/// IPFIX's version number.
pub const VERSION: u16 = 10;
/// Length of the message header.
pub const HEADER_LEN: usize = 16;
/// Length of a set header.
pub const SET_HEADER_LEN: usize = 4;
/// The set ID of template sets.
pub const TEMPLATE_SET: u16 = 2;
/// The default UDP port of collectors.
pub const PORT: u16 = 4739;

/// One field of a template: an information element, its length, and its enterprise number
/// when it is not an IANA element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Information element ID.
    pub id: u16,
    /// Length in bytes.
    pub len: u16,
    /// Private enterprise number, for enterprise-specific elements.
    pub enterprise: Option<u32>,
}

/// Writes a message header into `buf[..HEADER_LEN]`.
pub fn emit_header(buf: &mut [u8], len: u16, export_time: u32, sequence: u32, domain: u32) {
    put16(buf, 0, VERSION);
    put16(buf, 2, len);
    put32(buf, 4, export_time);
    put32(buf, 8, sequence);
    put32(buf, 12, domain);
}

/// Writes a set header into `buf[..SET_HEADER_LEN]`.
pub fn emit_set_header(buf: &mut [u8], set_id: u16, len: u16) {
    put16(buf, 0, set_id);
    put16(buf, 2, len);
}

/// Length of one data record of a template of `fields`.
pub const fn record_len(fields: &[FieldSpec]) -> usize {
    let (mut len, mut i) = (0, 0);
    while i < fields.len() {
        len += fields[i].len as usize;
        i += 1;
    }
    len
}

/// Length of a template set holding one template of `fields`.
pub fn template_set_len(fields: &[FieldSpec]) -> usize {
    SET_HEADER_LEN + 4 + fields.iter().map(|f| if f.enterprise.is_some() { 8 } else { 4 }).sum::<usize>()
}

/// Writes a template set holding template `id` of `fields` into `buf`; its length.
pub fn emit_template_set(buf: &mut [u8], id: u16, fields: &[FieldSpec]) -> usize {
    let len = template_set_len(fields);
    emit_set_header(buf, TEMPLATE_SET, len as u16);
    put16(buf, 4, id);
    put16(buf, 6, fields.len() as u16);
    let mut at = 8;
    for f in fields {
        match f.enterprise {
            None => put16(buf, at, f.id),
            Some(_) => put16(buf, at, f.id | 0x8000),
        }
        put16(buf, at + 2, f.len);
        at += 4;
        if let Some(pen) = f.enterprise {
            put32(buf, at, pen);
            at += 4;
        }
    }
    len
}

/// A message header, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Message length.
    pub len: u16,
    /// Export time, seconds since the Unix epoch.
    pub export_time: u32,
    /// Data records sent before this message in this observation domain.
    pub sequence: u32,
    /// Observation domain.
    pub domain: u32,
}

impl Header {
    /// Reads a message header (version 10).
    pub fn parse(b: &[u8]) -> Result<Header> {
        need(b, HEADER_LEN)?;
        if be16(b, 0) != VERSION {
            return Err(crate::Error::Malformed);
        }
        Ok(Header { len: be16(b, 2), export_time: be32(b, 4), sequence: be32(b, 8), domain: be32(b, 12) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_template() {
        let fields = [
            FieldSpec { id: 8, len: 4, enterprise: None },
            FieldSpec { id: 891, len: 1, enterprise: Some(6876) },
        ];
        let mut b = [0u8; 64];
        emit_header(&mut b, 40, 7, 3, 1);
        let n = emit_template_set(&mut b[HEADER_LEN..], 256, &fields);
        assert_eq!(n, 4 + 4 + 4 + 8);
        assert_eq!(Header::parse(&b).unwrap(), Header { len: 40, export_time: 7, sequence: 3, domain: 1 });
        assert_eq!(&b[HEADER_LEN + 8..HEADER_LEN + 12], &[0, 8, 0, 4]);
        assert_eq!(&b[HEADER_LEN + 12..HEADER_LEN + 20], &[0x83, 0x7b, 0, 1, 0, 0, 0x1a, 0xdc]);
    }
}

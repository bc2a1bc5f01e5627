//! IPv6 (RFC 8200) and its extension headers: hop-by-hop, routing, fragment, destination
//! options (and AH, whose length is counted in 4-byte words).
use crate::ipv4::protocol;
use crate::{be16, be32, need, put16, put32, Error, Field, Ipv6Addr, Result};
use core::fmt;

mod field {
    use super::Field;
    pub const VER_TC_FLOW: Field = 0..4;
    pub const LENGTH: Field = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Field = 8..24;
    pub const DST: Field = 24..40;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

view!("A view of the fixed IPv6 header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the fixed header and the version is 6.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), HEADER_LEN)?;
        if p.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(p)
    }
    /// Version (6).
    pub fn version(&self) -> u8 {
        self.data()[0] >> 4
    }
    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        ((be16(self.data(), 0) >> 4) & 0xff) as u8
    }
    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        be32(self.data(), field::VER_TC_FLOW.start) & 0x000f_ffff
    }
    /// Payload length (0 with a jumbo payload or in BIG TCP super-packets).
    pub fn payload_len(&self) -> u16 {
        be16(self.data(), field::LENGTH.start)
    }
    /// Next header.
    pub fn next_header(&self) -> u8 {
        self.data()[field::NXT_HDR]
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.data()[field::HOP_LIMIT]
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from_bytes(&self.data()[field::SRC])
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from_bytes(&self.data()[field::DST])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the payload length (extension headers included).
    pub fn set_payload_len(&mut self, len: u16) {
        put16(self.data_mut(), field::LENGTH.start, len);
    }
    /// Sets the next header.
    pub fn set_next_header(&mut self, next: u8) {
        self.data_mut()[field::NXT_HDR] = next;
    }
}

/// Sets the next-header value of the extension header at the start of `ext` (its first
/// byte, in every kind).
pub fn set_ext_next_header(ext: &mut [u8], next: u8) {
    if let Some(b) = ext.first_mut() {
        *b = next;
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ip6 {} > {} next {}", self.src_addr(), self.dst_addr(), self.next_header())
    }
}

/// True for the next-header values that are extension headers detunnel walks past.
pub fn is_extension_header(next: u8) -> bool {
    matches!(
        next,
        protocol::HOPOPT | protocol::IPV6_ROUTE | protocol::IPV6_FRAG | protocol::IPV6_OPTS | protocol::AH
    )
}

/// One extension header: its own next-header value and its length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader {
    /// The next header after this one.
    pub next_header: u8,
    /// Length of this extension header in bytes.
    pub len: usize,
    /// For a fragment header: what it says of the fragment.
    pub fragment: Option<Fragment>,
}

/// What an IPv6 fragment header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// Offset of the fragment's data in 8-byte units.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
    /// The identification shared by a datagram's fragments.
    pub ident: u32,
}

impl ExtHeader {
    /// Reads the extension header of kind `kind` at the start of `data`.
    pub fn parse(kind: u8, data: &[u8]) -> Result<ExtHeader> {
        need(data, 8)?;
        let len = match kind {
            protocol::IPV6_FRAG => 8,
            protocol::AH => (usize::from(data[1]) + 2) * 4,
            _ => (usize::from(data[1]) + 1) * 8,
        };
        need(data, len)?;
        let fragment = (kind == protocol::IPV6_FRAG).then(|| {
            let w = be16(data, 2);
            Fragment { offset: w >> 3, more: w & 1 != 0, ident: crate::be32(data, 4) }
        });
        Ok(ExtHeader { next_header: data[0], len, fragment })
    }
}

/// A fixed IPv6 header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Next header.
    pub next_header: u8,
    /// Payload length (extension headers included).
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label.
    pub flow_label: u32,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: usize::from(p.payload_len()),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        }
    }
    /// A plain header for `payload_len` bytes of `next_header`, hop limit 64.
    pub fn new(src_addr: Ipv6Addr, dst_addr: Ipv6Addr, next_header: u8, payload_len: usize) -> Repr {
        Repr { src_addr, dst_addr, next_header, payload_len, hop_limit: 64, traffic_class: 0, flow_label: 0 }
    }
    /// Bytes the header takes.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }
    /// Writes the header into `buf[..40]`.
    pub fn emit(&self, buf: &mut [u8]) {
        let w = (6u32 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0xfffff);
        put32(buf, 0, w);
        put16(buf, field::LENGTH.start, self.payload_len.min(0xffff) as u16);
        buf[field::NXT_HDR] = self.next_header;
        buf[field::HOP_LIMIT] = self.hop_limit;
        buf[field::SRC].copy_from_slice(&self.src_addr.0);
        buf[field::DST].copy_from_slice(&self.dst_addr.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_roundtrip() {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[15] = 1;
        let r = Repr {
            src_addr: Ipv6Addr(a),
            dst_addr: Ipv6Addr([0xff; 16]),
            next_header: protocol::UDP,
            payload_len: 8,
            hop_limit: 3,
            traffic_class: 0xb8,
            flow_label: 0x12345,
        };
        let mut b = [0u8; 40];
        r.emit(&mut b);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Repr::parse(&p), r);
        assert_eq!(std::format!("{}", p.src_addr()), "2001::1");
    }

    #[test]
    fn test_ext_header() {
        // Destination options, 8 bytes, next header GRE (erspan-type-iii-pb-1.pcap layout).
        let d = [47u8, 0, 1, 4, 0, 0, 0, 0];
        let e = ExtHeader::parse(protocol::IPV6_OPTS, &d).unwrap();
        assert_eq!(e, ExtHeader { next_header: 47, len: 8, fragment: None });
        let frag = [17u8, 0, 0x00, 0x09, 0, 0, 0, 1];
        let e = ExtHeader::parse(protocol::IPV6_FRAG, &frag).unwrap();
        assert_eq!(e.fragment.map(|f| (f.offset, f.more)), Some((1, true)));
    }
}

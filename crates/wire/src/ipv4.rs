//! IPv4 (RFC 791), with options and fragments.
use crate::{be16, checksum, need, put16, Error, Field, Ipv4Addr, Result};
use core::fmt;

mod field {
    use super::Field;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC: Field = 12..16;
    pub const DST: Field = 16..20;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;

/// IP protocol numbers detunnel knows by name (shared by IPv6 next headers).
pub mod protocol {
    /// IPv6 hop-by-hop options.
    pub const HOPOPT: u8 = 0;
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// IPv4 in IP.
    pub const IPIP: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 in IP.
    pub const IPV6: u8 = 41;
    /// IPv6 routing header.
    pub const IPV6_ROUTE: u8 = 43;
    /// IPv6 fragment header.
    pub const IPV6_FRAG: u8 = 44;
    /// GRE.
    pub const GRE: u8 = 47;
    /// ESP.
    pub const ESP: u8 = 50;
    /// AH.
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 no next header.
    pub const IPV6_NONXT: u8 = 59;
    /// IPv6 destination options.
    pub const IPV6_OPTS: u8 = 60;
    /// Ethernet in IPv6 (RFC 8986, SRv6).
    pub const ETHERNET: u8 = 143;
    /// L2TPv3 over IP.
    pub const L2TP: u8 = 115;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

view!("A view of an IPv4 header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the fixed header, that the version is 4 and
    /// that the header length is at least 20 and fits the buffer.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), HEADER_LEN)?;
        if p.version() != 4 || p.header_len() < HEADER_LEN {
            return Err(Error::Malformed);
        }
        need(p.data(), p.header_len())?;
        Ok(p)
    }
    /// Version (4).
    pub fn version(&self) -> u8 {
        self.data()[field::VER_IHL] >> 4
    }
    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.data()[field::VER_IHL] & 0x0f) * 4
    }
    /// Type of service byte (DSCP and ECN).
    pub fn tos(&self) -> u8 {
        self.data()[field::TOS]
    }
    /// Total length (0 in GSO / BIG TCP super-packets).
    pub fn total_len(&self) -> u16 {
        be16(self.data(), field::LENGTH.start)
    }
    /// Identification.
    pub fn ident(&self) -> u16 {
        be16(self.data(), field::IDENT.start)
    }
    /// The three flag bits (reserved, DF, MF).
    pub fn flags(&self) -> u8 {
        self.data()[field::FLG_OFF.start] >> 5
    }
    /// More fragments.
    pub fn more_frags(&self) -> bool {
        self.flags() & 1 != 0
    }
    /// Don't fragment.
    pub fn dont_frag(&self) -> bool {
        self.flags() & 2 != 0
    }
    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        be16(self.data(), field::FLG_OFF.start) & 0x1fff
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.data()[field::TTL]
    }
    /// Protocol of the payload.
    pub fn protocol(&self) -> u8 {
        self.data()[field::PROTOCOL]
    }
    /// Header checksum.
    pub fn checksum(&self) -> u16 {
        be16(self.data(), field::CHECKSUM.start)
    }
    /// True when the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum(&self.data()[..self.header_len()]) == 0
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from_bytes(&self.data()[field::SRC])
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from_bytes(&self.data()[field::DST])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the total length.
    pub fn set_total_len(&mut self, len: u16) {
        put16(self.data_mut(), field::LENGTH.start, len);
    }
    /// Makes the packet whole: no more fragments, offset 0 (the don't-fragment bit is kept).
    pub fn clear_fragment(&mut self) {
        let dont_frag = u16::from(self.dont_frag()) << 14;
        put16(self.data_mut(), field::FLG_OFF.start, dont_frag);
    }
    /// Computes the header checksum and writes it.
    pub fn fill_checksum(&mut self) {
        let hl = self.header_len();
        put16(self.data_mut(), field::CHECKSUM.start, 0);
        let c = checksum(&self.data()[..hl]);
        put16(self.data_mut(), field::CHECKSUM.start, c);
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ip {} > {} proto {} ttl {}", self.src_addr(), self.dst_addr(), self.protocol(), self.ttl())
    }
}

/// An IPv4 header (without options) in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Payload protocol.
    pub protocol: u8,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Type of service byte.
    pub tos: u8,
    /// Identification.
    pub ident: u16,
    /// Don't fragment.
    pub dont_frag: bool,
    /// More fragments.
    pub more_frags: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: usize::from(p.total_len()).saturating_sub(p.header_len()),
            ttl: p.ttl(),
            tos: p.tos(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
            more_frags: p.more_frags(),
            frag_offset: p.frag_offset(),
        }
    }
    /// A plain header for `payload_len` bytes of `protocol`, TTL 64.
    pub fn new(src_addr: Ipv4Addr, dst_addr: Ipv4Addr, protocol: u8, payload_len: usize) -> Repr {
        Repr {
            src_addr,
            dst_addr,
            protocol,
            payload_len,
            ttl: 64,
            tos: 0,
            ident: 0,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
        }
    }
    /// Bytes the header takes.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }
    /// Writes the header, with its checksum, into `buf[..20]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::VER_IHL] = 0x45;
        buf[field::TOS] = self.tos;
        let total = (HEADER_LEN + self.payload_len).min(0xffff) as u16;
        put16(buf, field::LENGTH.start, total);
        put16(buf, field::IDENT.start, self.ident);
        let flags = (u16::from(self.dont_frag) << 14) | (u16::from(self.more_frags) << 13);
        put16(buf, field::FLG_OFF.start, flags | (self.frag_offset & 0x1fff));
        buf[field::TTL] = self.ttl;
        buf[field::PROTOCOL] = self.protocol;
        put16(buf, field::CHECKSUM.start, 0);
        buf[field::SRC].copy_from_slice(&self.src_addr.0);
        buf[field::DST].copy_from_slice(&self.dst_addr.0);
        let c = checksum(&buf[..HEADER_LEN]);
        put16(buf, field::CHECKSUM.start, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // Outer IPv4 header of frame 1 of vxlan.pcap (tcpdump test suite).
    const HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x86, 0xd2, 0xc0, 0x40, 0x00, 0x40, 0x11, 0x51, 0x52, 0xc0, 0xa8, 0xcb, 0x01, 0xc0,
        0xa8, 0xca, 0x01,
    ];

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&HDR[..]).unwrap();
        assert_eq!(p.src_addr(), Ipv4Addr([192, 168, 203, 1]));
        assert_eq!(p.dst_addr(), Ipv4Addr([192, 168, 202, 1]));
        assert_eq!(p.protocol(), protocol::UDP);
        assert_eq!(p.total_len(), 134);
        assert!(p.verify_checksum());
    }

    #[test]
    fn test_emit() {
        let r = Repr::parse(&Packet::new_checked(&HDR[..]).unwrap());
        let mut out = [0u8; 20];
        r.emit(&mut out);
        assert_eq!(out, HDR);
    }

    #[test]
    fn test_bad() {
        let mut b = HDR;
        b[0] = 0x44;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
        assert_eq!(Packet::new_checked(&HDR[..19]).unwrap_err(), Error::Truncated);
    }
}

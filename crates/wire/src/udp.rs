//! UDP (RFC 768).
use crate::{be16, need, put16, Result};
use core::fmt;

/// Length of the header.
pub const HEADER_LEN: usize = 8;

/// Well-known ports of the UDP encapsulations detunnel decodes by default.
pub mod port {
    /// VXLAN (IANA).
    pub const VXLAN: u16 = 4789;
    /// VXLAN as the Linux kernel sends it by default.
    pub const VXLAN_LINUX: u16 = 8472;
    /// VXLAN-GPE.
    pub const VXLAN_GPE: u16 = 4790;
    /// GENEVE.
    pub const GENEVE: u16 = 6081;
    /// GTP-U.
    pub const GTP_U: u16 = 2152;
    /// Teredo.
    pub const TEREDO: u16 = 3544;
    /// GRE-in-UDP (RFC 8086).
    pub const GRE_IN_UDP: u16 = 4754;
    /// MPLS-in-UDP (RFC 7510).
    pub const MPLS_IN_UDP: u16 = 6635;
    /// AYIYA.
    pub const AYIYA: u16 = 5072;
    /// sFlow.
    pub const SFLOW: u16 = 6343;
}

view!("A view of a UDP header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.data(), 0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.data(), 2)
    }
    /// Length of header and payload (0 in GSO super-packets).
    pub fn length(&self) -> u16 {
        be16(self.data(), 4)
    }
    /// Checksum.
    pub fn checksum(&self) -> u16 {
        be16(self.data(), 6)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "udp {} > {} len {}", self.src_port(), self.dst_port(), self.length())
    }
}

/// A UDP header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload length in bytes.
    pub payload_len: usize,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload_len: usize::from(p.length()).saturating_sub(HEADER_LEN),
        }
    }
    /// Writes the header into `buf[..8]` with a zero checksum (allowed over IPv4, and for
    /// tunnels over IPv6 by RFC 6935).
    pub fn emit(&self, buf: &mut [u8]) {
        put16(buf, 0, self.src_port);
        put16(buf, 2, self.dst_port);
        put16(buf, 4, (HEADER_LEN + self.payload_len).min(0xffff) as u16);
        put16(buf, 6, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_roundtrip() {
        // Outer UDP of vxlan.pcap frame 1: 45149 > 4789, length 114.
        let b = [0xb0, 0x5d, 0x12, 0xb5, 0x00, 0x72, 0x00, 0x00];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.length()), (45149, 4789, 114));
        let mut out = [0u8; 8];
        Repr::parse(&p).emit(&mut out);
        assert_eq!(out, b);
    }
}

//! Ethernet II frames (and recognition of 802.3 length-field frames).
use crate::{be16, need, put16, Field, MacAddr, Result};
use core::fmt;

mod field {
    use super::Field;
    pub const DESTINATION: Field = 0..6;
    pub const SOURCE: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
}

/// Length of an Ethernet II header.
pub const HEADER_LEN: usize = 14;

/// EtherType values detunnel knows by name.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IEEE 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IEEE 802.1ad service VLAN tag.
    pub const QINQ: u16 = 0x88a8;
    /// Legacy QinQ tag 0x9100.
    pub const QINQ_9100: u16 = 0x9100;
    /// Legacy QinQ tag 0x9200.
    pub const QINQ_9200: u16 = 0x9200;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// MPLS unicast.
    pub const MPLS: u16 = 0x8847;
    /// MPLS multicast.
    pub const MPLS_MULTICAST: u16 = 0x8848;
    /// Transparent Ethernet bridging (GRE payload is an Ethernet frame).
    pub const TEB: u16 = 0x6558;
    /// ERSPAN type I and II.
    pub const ERSPAN: u16 = 0x88be;
    /// ERSPAN type III.
    pub const ERSPAN3: u16 = 0x22eb;
    /// ERSPAN as SONiC/Mellanox switches send it by default.
    pub const ERSPAN_SONIC: u16 = 0x8949;
    /// Cisco VN-Tag.
    pub const VNTAG: u16 = 0x8926;
    /// IEEE 802.1BR E-Tag.
    pub const ETAG: u16 = 0x893f;
    /// IEEE 802.1ah provider backbone bridging I-TAG.
    pub const PBB: u16 = 0x88e7;
    /// TRILL.
    pub const TRILL: u16 = 0x22f3;
    /// Cisco FabricPath.
    pub const FABRICPATH: u16 = 0x8903;
    /// PPPoE discovery stage.
    pub const PPPOE_DISCOVERY: u16 = 0x8863;
    /// PPPoE session stage.
    pub const PPPOE_SESSION: u16 = 0x8864;
    /// PPP (as the GRE protocol of PPTP).
    pub const PPP: u16 = 0x880b;
    /// Network Service Header.
    pub const NSH: u16 = 0x894f;
    /// Arista vendor-specific protocol (timestamp header).
    pub const ARISTA: u16 = 0xd28b;
    /// Cisco MetaData (CMD).
    pub const CISCO_METADATA: u16 = 0x8909;
    /// WCCP redirect in GRE.
    pub const WCCP: u16 = 0x883e;
    /// Ethernet configuration testing protocol (loopback).
    pub const LOOPBACK: u16 = 0x9000;
    /// Cisco PTP "TTag" seen on ERSPAN egress copies.
    pub const CISCO_TTAG: u16 = 0x8988;
    /// First EtherType value: smaller values are 802.3 lengths.
    pub const MIN_ETHERTYPE: u16 = 0x0600;
}

view!("A read/write view of an Ethernet II header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Destination address.
    pub fn destination(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::DESTINATION])
    }
    /// Source address.
    pub fn source(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::SOURCE])
    }
    /// EtherType, or the 802.3 length when below 0x0600.
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ETHERTYPE.start)
    }
    /// True when the type field is an 802.3 length (an LLC frame follows).
    pub fn is_8023(&self) -> bool {
        self.ethertype() < ethertype::MIN_ETHERTYPE
    }
    /// Bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the destination address.
    pub fn set_destination(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&a.0);
    }
    /// Sets the source address.
    pub fn set_source(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&a.0);
    }
    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, t: u16) {
        put16(self.buffer.as_mut(), field::ETHERTYPE.start, t);
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "eth {} > {} type 0x{:04x}", self.source(), self.destination(), self.ethertype())
    }
}

/// An Ethernet II header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub source: MacAddr,
    /// Destination address.
    pub destination: MacAddr,
    /// EtherType.
    pub ethertype: u16,
}

impl Repr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr { source: p.source(), destination: p.destination(), ethertype: p.ethertype() }
    }
    /// Bytes the header takes.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }
    /// Writes the header into the start of `buf`, which must hold `header_len()` bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = Packet::new_unchecked(buf);
        p.set_destination(self.destination);
        p.set_source(self.source);
        p.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // First 14 bytes of frame 1 of vxlan.pcap (tcpdump test suite).
    const FRAME: [u8; 14] =
        [0x00, 0x16, 0x3e, 0x08, 0x71, 0xcf, 0x36, 0xdc, 0x85, 0x1e, 0xb3, 0x40, 0x08, 0x00];

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&FRAME[..]).unwrap();
        assert_eq!(p.destination().0, [0x00, 0x16, 0x3e, 0x08, 0x71, 0xcf]);
        assert_eq!(p.source().0, [0x36, 0xdc, 0x85, 0x1e, 0xb3, 0x40]);
        assert_eq!(p.ethertype(), ethertype::IPV4);
        assert!(!p.is_8023());
    }

    #[test]
    fn test_emit_roundtrip() {
        let r = Repr::parse(&Packet::new_checked(&FRAME[..]).unwrap());
        let mut buf = [0u8; 14];
        r.emit(&mut buf);
        assert_eq!(buf, FRAME);
    }

    #[test]
    fn test_truncated() {
        assert!(Packet::new_checked(&FRAME[..13]).is_err());
    }
}

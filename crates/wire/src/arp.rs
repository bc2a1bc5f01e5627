//! ARP (RFC 826) for Ethernet and IPv4.
use crate::{be16, need, put16, Ipv4Addr, MacAddr, Result};
use core::fmt;

/// Length of an Ethernet/IPv4 ARP packet.
pub const HEADER_LEN: usize = 28;
/// Length of the fixed part before the addresses.
pub const FIXED_LEN: usize = 8;

view!("A view of an ARP packet.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the fixed part and the addresses it declares.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), FIXED_LEN)?;
        need(p.data(), p.packet_len())?;
        Ok(p)
    }
    /// Hardware type.
    pub fn htype(&self) -> u16 {
        be16(self.data(), 0)
    }
    /// Protocol type.
    pub fn ptype(&self) -> u16 {
        be16(self.data(), 2)
    }
    /// Hardware address length.
    pub fn hlen(&self) -> u8 {
        self.data()[4]
    }
    /// Protocol address length.
    pub fn plen(&self) -> u8 {
        self.data()[5]
    }
    /// Operation (1 request, 2 reply).
    pub fn operation(&self) -> u16 {
        be16(self.data(), 6)
    }
    /// Length of the whole packet from the declared address lengths.
    pub fn packet_len(&self) -> usize {
        FIXED_LEN + 2 * (usize::from(self.hlen()) + usize::from(self.plen()))
    }
    /// True for Ethernet hardware and IPv4 protocol addresses.
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.hlen() == 6 && self.plen() == 4
    }
    /// Sender IPv4 address (valid when `is_ethernet_ipv4`).
    pub fn sender_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from_bytes(&self.data()[14..18])
    }
    /// Target IPv4 address (valid when `is_ethernet_ipv4`).
    pub fn target_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from_bytes(&self.data()[24..28])
    }
    /// Sender hardware address (valid when `is_ethernet_ipv4`).
    pub fn sender_mac(&self) -> MacAddr {
        MacAddr::from_bytes(&self.data()[8..14])
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arp op {}", self.operation())
    }
}

/// An Ethernet/IPv4 ARP packet in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Operation.
    pub operation: u16,
    /// Sender hardware address.
    pub sender_mac: MacAddr,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_mac: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl Repr {
    /// Writes the packet into `buf[..28]`.
    pub fn emit(&self, buf: &mut [u8]) {
        put16(buf, 0, 1);
        put16(buf, 2, 0x0800);
        buf[4] = 6;
        buf[5] = 4;
        put16(buf, 6, self.operation);
        buf[8..14].copy_from_slice(&self.sender_mac.0);
        buf[14..18].copy_from_slice(&self.sender_ip.0);
        buf[18..24].copy_from_slice(&self.target_mac.0);
        buf[24..28].copy_from_slice(&self.target_ip.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_emit_parse() {
        let r = Repr {
            operation: 1,
            sender_mac: MacAddr([2, 0, 0, 0, 0, 1]),
            sender_ip: Ipv4Addr([10, 0, 0, 1]),
            target_mac: MacAddr::default(),
            target_ip: Ipv4Addr([10, 0, 0, 2]),
        };
        let mut b = [0u8; 28];
        r.emit(&mut b);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.is_ethernet_ipv4());
        assert_eq!(p.sender_ip(), r.sender_ip);
        assert_eq!(p.target_ip(), r.target_ip);
        assert!(Packet::new_checked(&b[..27]).is_err());
    }
}

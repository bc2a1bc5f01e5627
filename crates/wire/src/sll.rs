//! Linux cooked capture headers: SLL (link type 113, 16 bytes) and SLL2 (link type 276,
//! 20 bytes). Both end in the protocol (an EtherType, or a special value).
use crate::{be16, need, Result};

/// Length of an SLL header.
pub const SLL_LEN: usize = 16;
/// Length of an SLL2 header.
pub const SLL2_LEN: usize = 20;

/// ARPHRD types that mean the payload is an IP packet (tunnel devices), not a frame.
pub mod arphrd {
    /// Ethernet.
    pub const ETHER: u16 = 1;
    /// IP-in-IP tunnel.
    pub const TUNNEL: u16 = 768;
    /// GRE tunnel.
    pub const IPGRE: u16 = 778;
    /// Loopback.
    pub const LOOPBACK: u16 = 772;
}

/// The parts of a cooked header detunnel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Packet type (0 to us, 4 outgoing, ...).
    pub packet_type: u16,
    /// ARPHRD type of the interface.
    pub arphrd: u16,
    /// Protocol: an EtherType, or 0x0004 for 802.2 LLC, 0x0001 for 802.3.
    pub protocol: u16,
    /// Header length.
    pub len: usize,
}

impl Header {
    /// Reads an SLL header.
    pub fn parse_v1(data: &[u8]) -> Result<Header> {
        need(data, SLL_LEN)?;
        Ok(Header {
            packet_type: be16(data, 0),
            arphrd: be16(data, 2),
            protocol: be16(data, 14),
            len: SLL_LEN,
        })
    }
    /// Reads an SLL2 header.
    pub fn parse_v2(data: &[u8]) -> Result<Header> {
        need(data, SLL2_LEN)?;
        Ok(Header {
            packet_type: u16::from(data[10]),
            arphrd: be16(data, 8),
            protocol: be16(data, 0),
            len: SLL2_LEN,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_parse() {
        let mut b = [0u8; 16];
        b[3] = 1;
        b[14] = 0x08;
        let h = Header::parse_v1(&b).unwrap();
        assert_eq!((h.arphrd, h.protocol, h.len), (1, 0x0800, 16));
        let mut b2 = [0u8; 20];
        b2[0] = 0x86;
        b2[1] = 0xdd;
        assert_eq!(Header::parse_v2(&b2).unwrap().protocol, 0x86dd);
    }
}

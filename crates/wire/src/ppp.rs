//! PPP (RFC 1661) framing as it appears in captures (link type 9), in PPPoE sessions and in
//! PPTP's enhanced GRE: optional address/control bytes 0xFF 0x03, then a 1- or 2-byte
//! protocol.
use crate::{be16, need, Result};

/// PPP protocol numbers detunnel follows.
pub mod protocol {
    /// IPv4.
    pub const IPV4: u16 = 0x0021;
    /// IPv6.
    pub const IPV6: u16 = 0x0057;
    /// MPLS unicast.
    pub const MPLS_UNICAST: u16 = 0x0281;
    /// MPLS multicast.
    pub const MPLS_MULTICAST: u16 = 0x0283;
}

/// A PPP header: the protocol and how many bytes the header took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol of the payload.
    pub protocol: u16,
    /// Length of address, control and protocol fields.
    pub len: usize,
}

impl Header {
    /// Reads the header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<Header> {
        let mut at = 0;
        if data.len() >= 2 && data[0] == 0xff && data[1] == 0x03 {
            at = 2;
        }
        need(data, at + 1)?;
        // Protocol-field compression: an odd first byte is a 1-byte protocol.
        if data[at] & 1 == 1 {
            return Ok(Header { protocol: u16::from(data[at]), len: at + 1 });
        }
        need(data, at + 2)?;
        Ok(Header { protocol: be16(data, at), len: at + 2 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_parse() {
        assert_eq!(Header::parse(&[0xff, 0x03, 0x02, 0x81]).unwrap(), Header { protocol: 0x0281, len: 4 });
        assert_eq!(Header::parse(&[0x00, 0x21]).unwrap(), Header { protocol: 0x0021, len: 2 });
        assert_eq!(Header::parse(&[0x21]).unwrap(), Header { protocol: 0x0021, len: 1 });
        assert!(Header::parse(&[0xff, 0x03]).is_err());
    }
}

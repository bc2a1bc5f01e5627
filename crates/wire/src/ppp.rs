//! PPP (RFC 1661) framing as it appears in captures (link type 9), in PPPoE sessions and in
//! PPTP's enhanced GRE: optional address/control bytes 0xFF 0x03, then a 1- or 2-byte
//! protocol.
use crate::{be16, need, put16, Result};

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
    /// The link control protocol (LCP), which carries no packet.
    pub const LCP: u16 = 0xc021;
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
    /// A header with the address and control bytes and a 2-byte protocol, as PPTP and
    /// HDLC-like framing send it.
    pub fn new(protocol: u16) -> Header {
        Header { protocol, len: 4 }
    }

    /// Writes the header into `buf[..len]`: address and control bytes when `len` is 3 or 4,
    /// then the protocol in 2 bytes (1 when compressed: `len` 1 or 3).
    pub fn emit(&self, buf: &mut [u8]) {
        let mut at = 0;
        if self.len >= 3 {
            buf[..2].copy_from_slice(&[0xff, 0x03]);
            at = 2;
        }
        if self.len % 2 == 1 {
            buf[at] = self.protocol as u8;
        } else {
            put16(buf, at, self.protocol);
        }
    }

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

    #[test]
    fn test_emit_roundtrip() {
        for h in [
            Header::new(0x0021),
            Header { protocol: 0x57, len: 2 },
            Header { protocol: 0x21, len: 1 },
            Header { protocol: 0x21, len: 3 },
            Header::new(protocol::LCP),
        ] {
            let mut b = [0u8; 4];
            h.emit(&mut b);
            assert_eq!(Header::parse(&b[..h.len]).unwrap(), h, "{b:?}");
        }
    }
}

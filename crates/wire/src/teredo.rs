//! Teredo (RFC 4380): IPv6 in UDP, optionally preceded by an authentication indicator
//! (0x0001) and/or an origin indication (0x0000).
use crate::{be16, need, Error, Ipv4Addr, Result};

/// Length of an origin indication.
pub const ORIGIN_LEN: usize = 8;

/// What precedes the IPv6 packet in a Teredo payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Indicators {
    /// Bytes of indicators before the IPv6 header.
    pub len: usize,
    /// An authentication indicator was present.
    pub authentication: bool,
    /// The origin indication: client port and IPv4 address, de-obfuscated.
    pub origin: Option<(u16, Ipv4Addr)>,
}

impl Indicators {
    /// Reads the indicators at the start of a Teredo payload.
    pub fn parse(data: &[u8]) -> Result<Indicators> {
        let mut ind = Indicators::default();
        if data.len() >= 2 && be16(data, 0) == 0x0001 {
            need(data, 4)?;
            let id_len = usize::from(data[2]);
            let au_len = usize::from(data[3]);
            let len = 4 + id_len + au_len + 8 + 1;
            need(data, len)?;
            ind.authentication = true;
            ind.len = len;
        }
        let rest = &data[ind.len..];
        if rest.len() >= 2 && be16(rest, 0) == 0x0000 {
            need(rest, ORIGIN_LEN)?;
            let port = !be16(rest, 2);
            let a = [!rest[4], !rest[5], !rest[6], !rest[7]];
            ind.origin = Some((port, Ipv4Addr(a)));
            ind.len += ORIGIN_LEN;
        }
        match data.get(ind.len) {
            Some(b) if b >> 4 == 6 => Ok(ind),
            Some(_) => Err(Error::Malformed),
            None => Err(Error::Truncated),
        }
    }
}

/// Writes an origin indication for `port` and `addr` into `buf[..8]`.
pub fn emit_origin(buf: &mut [u8], port: u16, addr: Ipv4Addr) {
    buf[0] = 0;
    buf[1] = 0;
    buf[2..4].copy_from_slice(&(!port).to_be_bytes());
    for i in 0..4 {
        buf[4 + i] = !addr.0[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_origin() {
        let mut b = [0u8; 9];
        emit_origin(&mut b, 3797, Ipv4Addr([192, 168, 2, 16]));
        b[8] = 0x60;
        let i = Indicators::parse(&b).unwrap();
        assert_eq!(i.len, 8);
        assert_eq!(i.origin, Some((3797, Ipv4Addr([192, 168, 2, 16]))));
        assert_eq!(Indicators::parse(&[0x60]).unwrap().len, 0);
        assert!(Indicators::parse(&[0x45, 0]).is_err());
    }
}

//! IEEE 802.11 MAC headers, as Aruba controllers tunnel them in GRE (protocols 0x8200-0x8370
//! and 0x9000) and CAPWAP carries them (RFC 5416); data frames are followed by LLC/SNAP or by
//! an A-MSDU (IEEE 802.11-2020 9.3.2.2: subframes of destination, source, length, LLC/SNAP
//! and payload, each but the last padded to 4 bytes).
use crate::{be16, need, put16, MacAddr, Result};
use core::fmt;

/// Length of a data header with three addresses.
pub const BASE_LEN: usize = 24;

view!("A view of an 802.11 MAC header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the whole MAC header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), BASE_LEN)?;
        need(p.data(), p.header_len())?;
        Ok(p)
    }
    /// Frame control field (as transmitted, little-endian bytes swapped into a u16).
    pub fn frame_control(&self) -> u16 {
        be16(self.data(), 0)
    }
    /// Frame type: 0 management, 1 control, 2 data.
    pub fn frame_type(&self) -> u8 {
        (self.data()[0] >> 2) & 3
    }
    /// Frame subtype.
    pub fn subtype(&self) -> u8 {
        self.data()[0] >> 4
    }
    /// To-DS and From-DS bits.
    pub fn ds(&self) -> u8 {
        self.data()[1] & 3
    }
    /// True for a protected (encrypted) frame.
    pub fn protected(&self) -> bool {
        self.data()[1] & 0x40 != 0
    }
    /// True for a data frame carrying QoS control.
    pub fn is_qos_data(&self) -> bool {
        self.frame_type() == 2 && self.subtype() & 0x08 != 0
    }
    /// Header length: addresses, sequence, address 4 and QoS control as present.
    pub fn header_len(&self) -> usize {
        let mut len = BASE_LEN;
        if self.ds() == 3 {
            len += 6;
        }
        if self.is_qos_data() {
            len += 2;
            if self.data()[1] & 0x80 != 0 {
                len += 4;
            }
        }
        len
    }
    /// Address 1 (receiver).
    pub fn addr1(&self) -> MacAddr {
        MacAddr::from_bytes(&self.data()[4..10])
    }
    /// Address 2 (transmitter).
    pub fn addr2(&self) -> MacAddr {
        MacAddr::from_bytes(&self.data()[10..16])
    }
    /// Address 3.
    pub fn addr3(&self) -> MacAddr {
        MacAddr::from_bytes(&self.data()[16..22])
    }
    /// Address 4 (present when both To-DS and From-DS are set).
    pub fn addr4(&self) -> Option<MacAddr> {
        (self.ds() == 3).then(|| MacAddr::from_bytes(&self.data()[24..30]))
    }
    /// True for a data frame (not management or control).
    pub fn is_data(&self) -> bool {
        self.frame_type() == 2
    }
    /// True for a data frame that carries a body (not a null or QoS null frame).
    pub fn has_body(&self) -> bool {
        self.is_data() && self.subtype() & 0x04 == 0
    }
    /// True for a QoS data frame whose body is an A-MSDU.
    pub fn is_amsdu(&self) -> bool {
        self.is_qos_data() && self.data()[BASE_LEN + if self.ds() == 3 { 6 } else { 0 }] & 0x80 != 0
    }
    /// True for a data frame whose body is not encrypted and has no null subtype, so an
    /// LLC header (or an A-MSDU) follows.
    pub fn carries_llc(&self) -> bool {
        self.has_body() && !self.protected()
    }
    /// The frame's final destination, by the To-DS and From-DS bits (address 1 unless the
    /// frame goes to the distribution system, then address 3).
    pub fn destination(&self) -> MacAddr {
        if self.ds() & 1 != 0 {
            self.addr3()
        } else {
            self.addr1()
        }
    }
    /// The frame's original source, by the To-DS and From-DS bits (address 2, address 3 from
    /// the distribution system, address 4 between access points).
    pub fn source(&self) -> MacAddr {
        match self.ds() {
            2 => self.addr3(),
            3 => MacAddr::from_bytes(&self.data()[24..30]),
            _ => self.addr2(),
        }
    }
}

/// A data frame header, in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The To-DS (bit 0) and From-DS (bit 1) bits.
    pub ds: u8,
    /// Addresses 1 to 3, and 4 when both DS bits are set.
    pub addresses: [MacAddr; 4],
    /// A QoS data frame (with a QoS control field).
    pub qos: bool,
    /// The body is an A-MSDU (QoS data only).
    pub amsdu: bool,
    /// The body is encrypted.
    pub protected: bool,
}

impl Repr {
    /// Length of the header.
    pub fn header_len(&self) -> usize {
        BASE_LEN + if self.ds == 3 { 6 } else { 0 } + if self.qos { 2 } else { 0 }
    }
    /// Writes the header into `buf[..header_len()]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..self.header_len()].fill(0);
        buf[0] = if self.qos { 0x88 } else { 0x08 };
        buf[1] = self.ds & 3 | if self.protected { 0x40 } else { 0 };
        for (i, a) in self.addresses.iter().take(if self.ds == 3 { 4 } else { 3 }).enumerate() {
            let at = 4 + 6 * i + if i == 3 { 2 } else { 0 };
            buf[at..at + 6].copy_from_slice(&a.0);
        }
        if self.qos {
            let at = BASE_LEN + if self.ds == 3 { 6 } else { 0 };
            buf[at] = if self.amsdu { 0x80 } else { 0 };
        }
    }
}

/// Length of an A-MSDU subframe header: destination, source, length.
pub const SUBFRAME_HEADER_LEN: usize = 14;

/// One A-MSDU subframe header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subframe {
    /// Destination address.
    pub destination: MacAddr,
    /// Source address.
    pub source: MacAddr,
    /// Length of the MSDU that follows (LLC/SNAP and payload).
    pub len: u16,
}

impl Subframe {
    /// Reads a subframe header from the start of `data`.
    pub fn parse(data: &[u8]) -> Result<Subframe> {
        need(data, SUBFRAME_HEADER_LEN)?;
        Ok(Subframe {
            destination: MacAddr::from_bytes(&data[0..6]),
            source: MacAddr::from_bytes(&data[6..12]),
            len: be16(data, 12),
        })
    }
    /// Writes the header into `buf[..SUBFRAME_HEADER_LEN]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..6].copy_from_slice(&self.destination.0);
        buf[6..12].copy_from_slice(&self.source.0);
        put16(buf, 12, self.len);
    }
    /// Where the next subframe starts, from the start of this one (its MSDU padded to 4).
    pub fn next_at(&self) -> usize {
        (SUBFRAME_HEADER_LEN + usize::from(self.len)).next_multiple_of(4)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wlan type {} subtype {} {} > {}",
            self.frame_type(),
            self.subtype(),
            self.addr2(),
            self.addr1()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_qos_data() {
        let mut b = [0u8; 26];
        b[0] = 0x88; // QoS data
        b[1] = 0x01; // To DS
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.is_qos_data());
        assert!(p.carries_llc());
        assert_eq!(p.header_len(), 26);
    }

    #[test]
    fn addresses_by_ds_bits_and_amsdu() {
        let a = |n| MacAddr([2, 0, 0, 0, 0, n]);
        for (ds, dst, src) in [(0, 1, 2), (1, 3, 2), (2, 1, 3), (3, 3, 4)] {
            let r =
                Repr { ds, addresses: [a(1), a(2), a(3), a(4)], qos: true, amsdu: ds == 3, protected: false };
            let mut b = [0u8; 40];
            r.emit(&mut b);
            let p = Packet::new_checked(&b[..r.header_len()]).unwrap();
            assert_eq!((p.header_len(), p.ds()), (r.header_len(), ds));
            assert_eq!((p.destination(), p.source(), p.is_amsdu()), (a(dst), a(src), ds == 3));
        }
        let s = Subframe { destination: a(7), source: a(8), len: 43 };
        let mut b = [0u8; 14];
        s.emit(&mut b);
        assert_eq!(Subframe::parse(&b).unwrap(), s);
        assert_eq!(s.next_at(), 60);
    }
}

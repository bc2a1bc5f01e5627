//! IEEE 802.11 MAC headers of data frames, as Aruba controllers tunnel them in GRE
//! (protocols 0x8200-0x8370 and 0x9000), followed by LLC/SNAP.
use crate::{be16, need, MacAddr, Result};
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
    /// True for a data frame whose body is not encrypted and has no null subtype, so an
    /// LLC header follows.
    pub fn carries_llc(&self) -> bool {
        self.frame_type() == 2 && self.subtype() & 0x04 == 0 && !self.protected()
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
}

//! Cisco ISL (Inter-Switch Link): a 26-byte header in front of the original frame, which a
//! 4-byte CRC follows. An ISL frame is recognised by its destination address,
//! 01:00:0c:00:00 or 03:00:0c:00:00 in the first five bytes.
use crate::{be16, need, put16, Result};
use core::fmt;

/// Length of the ISL header.
pub const HEADER_LEN: usize = 26;
/// Length of the CRC after the encapsulated frame.
pub const CRC_LEN: usize = 4;
/// The bytes before the LEN field, which it does not count.
const UNCOUNTED: usize = 14;

/// True when `frame` starts with an ISL destination address.
pub fn is_isl(frame: &[u8]) -> bool {
    frame.len() >= 5 && (frame[0] == 0x01 || frame[0] == 0x03) && frame[1..5] == [0x00, 0x0c, 0x00, 0x00]
}

view!("A view of an ISL header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the whole header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Frame type of the encapsulated frame: 0 Ethernet, 1 Token Ring, 2 FDDI, 3 ATM.
    pub fn frame_type(&self) -> u8 {
        self.data()[5] >> 4
    }
    /// The LEN field: the packet's length without the first 14 bytes and the CRC.
    pub fn length(&self) -> u16 {
        be16(self.data(), 12)
    }
    /// The end of the encapsulated frame, counted from the start of the ISL header (the CRC
    /// follows it).
    pub fn frame_end(&self) -> usize {
        UNCOUNTED + usize::from(self.length())
    }
    /// The VLAN ID.
    pub fn vlan(&self) -> u16 {
        be16(self.data(), 20) >> 1
    }
    /// True when the frame is a BPDU (spanning tree, CDP, VTP).
    pub fn bpdu(&self) -> bool {
        self.data()[21] & 1 != 0
    }
    /// Port index of the sending switch.
    pub fn index(&self) -> u16 {
        be16(self.data(), 22)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "isl vlan {} type {}", self.vlan(), self.frame_type())
    }
}

/// An ISL header carrying an Ethernet frame, in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Repr {
    /// Source address of the sending switch port.
    pub source: [u8; 6],
    /// VLAN ID (15 bits).
    pub vlan: u16,
    /// Port index.
    pub index: u16,
}

impl Repr {
    /// Writes the header for an encapsulated frame of `frame_len` bytes (the CRC not
    /// included) into `buf[..HEADER_LEN]`.
    pub fn emit(&self, buf: &mut [u8], frame_len: usize) {
        buf[..HEADER_LEN].fill(0);
        buf[..6].copy_from_slice(&[0x01, 0x00, 0x0c, 0x00, 0x00, 0x00]);
        buf[6..12].copy_from_slice(&self.source);
        put16(buf, 12, (HEADER_LEN - UNCOUNTED + frame_len) as u16);
        buf[14..17].copy_from_slice(&[0xaa, 0xaa, 0x03]);
        buf[17..20].copy_from_slice(&self.source[..3]);
        put16(buf, 20, self.vlan << 1);
        put16(buf, 22, self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut b = [0u8; HEADER_LEN];
        Repr { source: [0, 0x0c, 1, 2, 3, 4], vlan: 300, index: 9 }.emit(&mut b, 64);
        assert!(is_isl(&b));
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.vlan(), p.index(), p.frame_type(), p.frame_end()), (300, 9, 0, HEADER_LEN + 64));
        assert!(!is_isl(&[0x01, 0x00, 0x5e, 0, 0]));
    }
}

//! IEEE 802.2 LLC and SNAP headers, as found after an 802.3 length field or inside 802.11 data.
use crate::{be16, need, put16, Result};
use core::fmt;

/// Length of an LLC header with a one-byte control field.
pub const HEADER_LEN: usize = 3;
/// Length of an LLC header followed by a SNAP header.
pub const SNAP_LEN: usize = 8;

view!("A view of an LLC header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds an LLC header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Destination service access point.
    pub fn dsap(&self) -> u8 {
        self.data()[0]
    }
    /// Source service access point.
    pub fn ssap(&self) -> u8 {
        self.data()[1]
    }
    /// True when this is an LLC/SNAP header (AA AA 03) with all 8 bytes present.
    pub fn is_snap(&self) -> bool {
        let d = self.data();
        d.len() >= SNAP_LEN && d[0] == 0xaa && d[1] == 0xaa && d[2] == 0x03
    }
    /// The SNAP protocol id (an EtherType when the OUI is zero); valid when `is_snap`.
    pub fn snap_ethertype(&self) -> u16 {
        be16(self.data(), 6)
    }
    /// The SNAP OUI; valid when `is_snap`.
    pub fn snap_oui(&self) -> u32 {
        crate::be24(self.data(), 3)
    }
}

/// Writes an LLC/SNAP header announcing `ethertype` (OUI zero) into `buf[..SNAP_LEN]`.
pub fn emit_snap(buf: &mut [u8], ethertype: u16) {
    buf[..6].copy_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0]);
    put16(buf, 6, ethertype);
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "llc dsap 0x{:02x} ssap 0x{:02x}", self.dsap(), self.ssap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_snap() {
        let b = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.is_snap());
        assert_eq!(p.snap_ethertype(), 0x0800);
        let stp = [0x42, 0x42, 0x03];
        assert!(!Packet::new_checked(&stp[..]).unwrap().is_snap());
    }
}

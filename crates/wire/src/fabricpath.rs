//! Cisco FabricPath: a 16-byte outer header (outer DA and SA carrying switch IDs, EtherType
//! 0x8903, FTag and TTL) in front of the original Ethernet frame.
use crate::{be16, need, MacAddr, Result};
use core::fmt;

/// Length of the FabricPath header.
pub const HEADER_LEN: usize = 16;
/// Length of the frame check sequence that ends a FabricPath frame.
pub const FCS_LEN: usize = 4;

view!("A view of a FabricPath header (from the outer destination address).");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Outer destination address.
    pub fn outer_destination(&self) -> MacAddr {
        MacAddr::from_bytes(&self.data()[0..6])
    }
    /// Outer source address.
    pub fn outer_source(&self) -> MacAddr {
        MacAddr::from_bytes(&self.data()[6..12])
    }
    /// Destination switch ID (12 bits of the outer destination).
    pub fn dst_switch_id(&self) -> u16 {
        (be16(self.data(), 1) >> 4) & 0x0fff
    }
    /// Source switch ID (12 bits of the outer source).
    pub fn src_switch_id(&self) -> u16 {
        (be16(self.data(), 7) >> 4) & 0x0fff
    }
    /// Forwarding tag (10 bits).
    pub fn ftag(&self) -> u16 {
        be16(self.data(), 14) >> 6
    }
    /// Time to live (6 bits).
    pub fn ttl(&self) -> u8 {
        self.data()[15] & 0x3f
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fabricpath {} > {} ftag {}", self.src_switch_id(), self.dst_switch_id(), self.ftag())
    }
}

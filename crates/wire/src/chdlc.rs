//! Cisco HDLC framing (pcap link type 104): address, control, and an EtherType.
use crate::{be16, need, put16, Result};
use core::fmt;

/// Length of the header.
pub const HEADER_LEN: usize = 4;
/// Address byte of unicast frames.
pub const UNICAST: u8 = 0x0f;
/// Address byte of multicast frames.
pub const MULTICAST: u8 = 0x8f;

view!("A view of a Cisco HDLC header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking it holds the whole header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        need(buffer.as_ref(), HEADER_LEN)?;
        Ok(Packet { buffer })
    }
    /// Address byte (0x0F unicast, 0x8F multicast).
    pub fn address(&self) -> u8 {
        self.data()[0]
    }
    /// The protocol, an EtherType (SLARP is 0x8035).
    pub fn protocol(&self) -> u16 {
        be16(self.data(), 2)
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chdlc 0x{:04x}", self.protocol())
    }
}

/// Writes a unicast header announcing `protocol` into `buf[..HEADER_LEN]`.
pub fn emit(buf: &mut [u8], protocol: u16) {
    buf[0] = UNICAST;
    buf[1] = 0;
    put16(buf, 2, protocol);
}

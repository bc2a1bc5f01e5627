//! Address types printed the way network engineers read them.
use core::fmt;

/// An Ethernet MAC address, printed lower-case with colons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Copies an address out of six bytes.
    pub fn from_bytes(b: &[u8]) -> MacAddr {
        let mut a = [0u8; 6];
        a.copy_from_slice(&b[..6]);
        MacAddr(a)
    }
    /// True for a group (multicast or broadcast) address.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
    /// True for ff:ff:ff:ff:ff:ff.
    pub fn is_broadcast(&self) -> bool {
        self.0 == [0xff; 6]
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

/// An IPv4 address, printed dotted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ipv4Addr(pub [u8; 4]);

impl Ipv4Addr {
    /// Copies an address out of four bytes.
    pub fn from_bytes(b: &[u8]) -> Ipv4Addr {
        let mut a = [0u8; 4];
        a.copy_from_slice(&b[..4]);
        Ipv4Addr(a)
    }
}

impl Ipv4Addr {
    /// The dotted text of the address in `buf`; returns its length. Digits are written
    /// straight into the buffer: this runs for every flow key.
    #[inline]
    pub fn write_text(&self, buf: &mut [u8; 15]) -> usize {
        let mut n = 0;
        for (i, octet) in self.0.iter().enumerate() {
            if i > 0 {
                buf[n] = b'.';
                n += 1;
            }
            let o = *octet;
            if o >= 100 {
                buf[n] = b'0' + o / 100;
                n += 1;
            }
            if o >= 10 {
                buf[n] = b'0' + (o / 10) % 10;
                n += 1;
            }
            buf[n] = b'0' + o % 10;
            n += 1;
        }
        n
    }
}

impl fmt::Display for Ipv4Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 15];
        let n = self.write_text(&mut buf);
        f.write_str(core::str::from_utf8(&buf[..n]).unwrap_or(""))
    }
}

/// An IPv6 address, printed as RFC 5952 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ipv6Addr(pub [u8; 16]);

impl Ipv6Addr {
    /// Copies an address out of sixteen bytes.
    pub fn from_bytes(b: &[u8]) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[..16]);
        Ipv6Addr(a)
    }
}

impl fmt::Display for Ipv6Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // core's Display follows RFC 5952 except that it prints IPv4-mapped and
        // IPv4-compatible forms with a dotted tail, which RFC 5952 also recommends.
        core::net::Ipv6Addr::from(self.0).fmt(f)
    }
}

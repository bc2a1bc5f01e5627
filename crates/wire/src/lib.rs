//! Zero-copy views and high-level representations of every protocol header detunnel decodes.
//!
//! Each protocol lives in its own module, in the style of smoltcp's `wire`:
//! - a `mod field` of byte ranges, so the header layout reads at a glance;
//! - a view `Packet<T: AsRef<[u8]>>` checked once by `new_checked` (long enough, lengths
//!   consistent); after that its accessors cannot fail or panic;
//! - setters where `T: AsMut<[u8]>`;
//! - a `Repr`, the parsed form, with symmetrical `parse` and `emit` where detunnel builds that
//!   header (the generator, the tests and the re-encapsulating sinks use the same code that reads).
//!
//! The crate uses nothing beyond `core` and does no I/O.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

/// Declares a protocol's zero-copy view `Packet<T>` with its constructor boilerplate; each
/// module adds its own `new_checked`, accessors and setters.
macro_rules! view {
    ($doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        pub struct Packet<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> Packet<T> {
            /// Wraps a buffer without checking it; accessors may then panic on a short buffer.
            pub const fn new_unchecked(buffer: T) -> Packet<T> {
                Packet { buffer }
            }
            /// The wrapped buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }
            #[inline]
            #[allow(dead_code)]
            fn data(&self) -> &[u8] {
                self.buffer.as_ref()
            }
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
            #[inline]
            #[allow(dead_code)]
            fn data_mut(&mut self) -> &mut [u8] {
                self.buffer.as_mut()
            }
        }
    };
}

pub mod arista;
pub mod arp;
pub mod ayiya;
pub mod capwap;
pub mod chdlc;
pub mod cisco_metadata;
pub mod erspan;
pub mod etag;
pub mod ethernet;
pub mod fabricpath;
pub mod geneve;
pub mod gre;
pub mod gtp_prime;
pub mod gtpu;
pub mod gtpv2;
pub mod icmp;
pub mod icmpv6;
pub mod ieee80211;
pub mod ipfix;
pub mod ipv4;
pub mod ipv6;
pub mod isl;
pub mod l2tpv3;
pub mod llc;
pub mod mpls;
pub mod nsh;
pub mod nvgre;
pub mod pbb;
pub mod ppp;
pub mod pppoe;
pub mod pwach;
pub mod radiotap;
pub mod sflow;
pub mod sll;
pub mod tcp;
pub mod teredo;
pub mod trill;
pub mod udp;
pub mod vlan;
pub mod vntag;
pub mod vxlan;
pub mod vxlan_gpe;
pub mod wccp;

mod bytes;
pub use bytes::{Ipv4Addr, Ipv6Addr, MacAddr};

/// Why a header could not be viewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The buffer ends before the header does.
    Truncated,
    /// A length or version field is inconsistent with the header.
    Malformed,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated header"),
            Error::Malformed => f.write_str("malformed header"),
        }
    }
}

/// Result of checking or parsing a header.
pub type Result<T> = core::result::Result<T, Error>;

/// Byte range of one header field.
pub(crate) type Field = core::ops::Range<usize>;

/// Reads a big-endian `u16` at `at`; the caller has checked the length.
#[inline]
pub(crate) fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

/// Reads a big-endian `u32` at `at`; the caller has checked the length.
#[inline]
pub(crate) fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// Reads a big-endian 24-bit value at `at`; the caller has checked the length.
#[inline]
pub(crate) fn be24(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([0, data[at], data[at + 1], data[at + 2]])
}

/// Reads a big-endian `u16` at `at`; panics unless `data` holds `at + 2` bytes.
#[inline]
pub fn be16_pub(data: &[u8], at: usize) -> u16 {
    be16(data, at)
}

/// Reads a big-endian `u32` at `at`; panics unless `data` holds `at + 4` bytes.
#[inline]
pub fn be32_pub(data: &[u8], at: usize) -> u32 {
    be32(data, at)
}

/// Writes a big-endian `u16` at `at`.
#[inline]
pub(crate) fn put16(data: &mut [u8], at: usize, v: u16) {
    data[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes a big-endian `u32` at `at`.
#[inline]
pub(crate) fn put32(data: &mut [u8], at: usize, v: u32) {
    data[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Writes a big-endian 24-bit value at `at`.
#[inline]
pub(crate) fn put24(data: &mut [u8], at: usize, v: u32) {
    data[at..at + 3].copy_from_slice(&v.to_be_bytes()[1..]);
}

/// Fails with [`Error::Truncated`] unless `data` holds at least `len` bytes.
#[inline]
pub(crate) fn need(data: &[u8], len: usize) -> Result<()> {
    if data.len() < len {
        Err(Error::Truncated)
    } else {
        Ok(())
    }
}

/// The Internet checksum (RFC 1071) of `data`, folded but not complemented, added to `sum`.
pub fn checksum_add(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// The complemented Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    !(checksum_add(0, data) as u16)
}

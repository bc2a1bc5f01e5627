//! ERSPAN (draft-foschiano-erspan-03): type I has no header (GRE 0x88BE without the S bit);
//! type II has an 8-byte header with version 1 (GRE 0x88BE with S); type III has a 12-byte
//! header with version 2 (GRE 0x22EB), optionally followed by an 8-byte platform-specific
//! sub-header.
use crate::{be16, be32, need, put16, put32, Error, Result};
use core::fmt;

/// Length of a type II header.
pub const TYPE2_LEN: usize = 8;
/// Length of a type III header without the platform sub-header.
pub const TYPE3_LEN: usize = 12;
/// Length of the platform-specific sub-header.
pub const SUBHEADER_LEN: usize = 8;

/// Header version field of type II.
pub const VERSION_TYPE2: u8 = 1;
/// Header version field of type III.
pub const VERSION_TYPE3: u8 = 2;

/// Type III frame types.
pub mod frame_type {
    /// Ethernet frame.
    pub const ETHERNET: u8 = 0;
    /// IP packet without a link-layer header.
    pub const IP: u8 = 2;
}

view!("A view of an ERSPAN type II or III header.");

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer after checking the version is 1 or 2 and the whole header (with the
    /// platform sub-header when O is set) is present.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        need(p.data(), 2)?;
        if p.version() != VERSION_TYPE2 && p.version() != VERSION_TYPE3 {
            return Err(Error::Malformed);
        }
        need(p.data(), TYPE2_LEN)?;
        if p.version() == VERSION_TYPE3 {
            need(p.data(), TYPE3_LEN)?;
            need(p.data(), p.header_len())?;
        }
        Ok(p)
    }
    /// Version field (1 for type II, 2 for type III).
    pub fn version(&self) -> u8 {
        self.data()[0] >> 4
    }
    /// ERSPAN type (2 or 3) from the version field.
    pub fn erspan_type(&self) -> u8 {
        self.version() + 1
    }
    /// VLAN of the mirrored frame (12 bits).
    pub fn vlan(&self) -> u16 {
        be16(self.data(), 0) & 0x0fff
    }
    /// Class of service (3 bits).
    pub fn cos(&self) -> u8 {
        self.data()[2] >> 5
    }
    /// Type II: encapsulation type En; type III: bad/short/oversized BSO (2 bits).
    pub fn en_bso(&self) -> u8 {
        (self.data()[2] >> 3) & 3
    }
    /// Truncated: the mirrored frame exceeded the MTU.
    pub fn truncated(&self) -> bool {
        self.data()[2] & 0x04 != 0
    }
    /// Session ID (10 bits).
    pub fn session_id(&self) -> u16 {
        be16(self.data(), 2) & 0x03ff
    }
    /// Type II port index (20 bits).
    pub fn index(&self) -> u32 {
        be32(self.data(), 4) & 0x000f_ffff
    }
    /// Type III timestamp (low 32 bits of the counter).
    pub fn timestamp(&self) -> u32 {
        be32(self.data(), 4)
    }
    fn word3(&self) -> u16 {
        be16(self.data(), 10)
    }
    /// Type III security group tag.
    pub fn sgt(&self) -> u16 {
        be16(self.data(), 8)
    }
    /// Type III P bit: the payload is an Ethernet PDU.
    pub fn p(&self) -> bool {
        self.word3() & 0x8000 != 0
    }
    /// Type III frame type (5 bits): 0 Ethernet, 2 IP.
    pub fn frame_type(&self) -> u8 {
        ((self.word3() >> 10) & 0x1f) as u8
    }
    /// Type III hardware ID (6 bits).
    pub fn hw_id(&self) -> u8 {
        ((self.word3() >> 4) & 0x3f) as u8
    }
    /// Type III direction: true for egress.
    pub fn egress(&self) -> bool {
        self.word3() & 0x0008 != 0
    }
    /// Type III timestamp granularity: 0 100 µs, 1 100 ns, 2 IEEE 1588, 3 custom.
    pub fn granularity(&self) -> u8 {
        ((self.word3() >> 1) & 3) as u8
    }
    /// Type III O bit: a platform-specific sub-header follows.
    pub fn has_subheader(&self) -> bool {
        self.version() == VERSION_TYPE3 && self.word3() & 1 != 0
    }
    /// Header length, platform sub-header included.
    pub fn header_len(&self) -> usize {
        match self.version() {
            VERSION_TYPE3 if self.has_subheader() => TYPE3_LEN + SUBHEADER_LEN,
            VERSION_TYPE3 => TYPE3_LEN,
            _ => TYPE2_LEN,
        }
    }
    /// The platform-specific sub-header, when O is set and its bytes are present.
    pub fn platform(&self) -> Option<Platform> {
        (self.has_subheader() && self.data().len() >= TYPE3_LEN + SUBHEADER_LEN)
            .then(|| Platform::parse(be32(self.data(), TYPE3_LEN), be32(self.data(), TYPE3_LEN + 4)))
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "erspan type {} session {}", self.erspan_type(), self.session_id())
    }
}

/// The type III platform-specific sub-header, by platform ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// ID 1: VSM domain ID and port index.
    Vsm {
        /// VSM domain ID (12 bits).
        domain_id: u16,
        /// Port index.
        port_index: u32,
    },
    /// ID 3: port index and the upper 32 bits of the timestamp.
    PortTimestamp {
        /// Port index (14 bits).
        port_index: u16,
        /// Upper 32 bits of the 64-bit timestamp.
        timestamp_high: u32,
    },
    /// ID 4: reserved.
    Reserved4,
    /// IDs 5 and 6: switch ID, port index and timestamp seconds.
    SwitchPort {
        /// Platform ID (5 or 6).
        id: u8,
        /// Switch ID (10 bits).
        switch_id: u16,
        /// Port index (16 bits).
        port_index: u16,
        /// Timestamp seconds.
        seconds: u32,
    },
    /// ID 7 (and 0, which some implementations use for 7): source index and upper timestamp.
    SourceIndex {
        /// Platform ID (7 or 0).
        id: u8,
        /// Source index (20 bits).
        source_index: u32,
        /// Upper 32 bits of the 64-bit timestamp.
        timestamp_high: u32,
    },
    /// Any other (reserved) ID.
    Other {
        /// Platform ID.
        id: u8,
    },
}

impl Platform {
    /// Decodes the sub-header from its two 32-bit words.
    pub fn parse(w0: u32, w1: u32) -> Platform {
        let id = (w0 >> 26) as u8;
        match id {
            1 => Platform::Vsm { domain_id: (w0 & 0xfff) as u16, port_index: w1 },
            3 => Platform::PortTimestamp { port_index: (w0 & 0x3fff) as u16, timestamp_high: w1 },
            4 => Platform::Reserved4,
            5 | 6 => Platform::SwitchPort {
                id,
                switch_id: ((w0 >> 16) & 0x3ff) as u16,
                port_index: (w0 & 0xffff) as u16,
                seconds: w1,
            },
            0 | 7 => Platform::SourceIndex { id, source_index: w0 & 0xfffff, timestamp_high: w1 },
            _ => Platform::Other { id },
        }
    }
    /// The platform ID.
    pub fn id(&self) -> u8 {
        match *self {
            Platform::Vsm { .. } => 1,
            Platform::PortTimestamp { .. } => 3,
            Platform::Reserved4 => 4,
            Platform::SwitchPort { id, .. } | Platform::SourceIndex { id, .. } | Platform::Other { id } => id,
        }
    }
    /// The port index the platform carries, if any.
    pub fn port_index(&self) -> Option<u32> {
        match *self {
            Platform::Vsm { port_index, .. } => Some(port_index),
            Platform::PortTimestamp { port_index, .. } | Platform::SwitchPort { port_index, .. } => {
                Some(u32::from(port_index))
            }
            Platform::SourceIndex { source_index, .. } => Some(source_index),
            _ => None,
        }
    }
    /// The upper 32 bits of a 64-bit timestamp, if the platform carries them.
    pub fn timestamp_high(&self) -> Option<u32> {
        match *self {
            Platform::PortTimestamp { timestamp_high, .. } | Platform::SourceIndex { timestamp_high, .. } => {
                Some(timestamp_high)
            }
            _ => None,
        }
    }
    /// The two words of the sub-header.
    pub fn words(&self) -> (u32, u32) {
        let id = u32::from(self.id()) << 26;
        match *self {
            Platform::Vsm { domain_id, port_index } => (id | u32::from(domain_id & 0xfff), port_index),
            Platform::PortTimestamp { port_index, timestamp_high } => {
                (id | u32::from(port_index & 0x3fff), timestamp_high)
            }
            Platform::SwitchPort { switch_id, port_index, seconds, .. } => {
                (id | (u32::from(switch_id & 0x3ff) << 16) | u32::from(port_index), seconds)
            }
            Platform::SourceIndex { source_index, timestamp_high, .. } => {
                (id | (source_index & 0xfffff), timestamp_high)
            }
            Platform::Reserved4 | Platform::Other { .. } => (id, 0),
        }
    }
}

/// An ERSPAN type II header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Type2Repr {
    /// VLAN.
    pub vlan: u16,
    /// Class of service.
    pub cos: u8,
    /// Encapsulation type.
    pub en: u8,
    /// Truncated bit.
    pub truncated: bool,
    /// Session ID.
    pub session_id: u16,
    /// Port index.
    pub index: u32,
}

impl Type2Repr {
    /// Parses a checked view of a type II header.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Type2Repr {
        Type2Repr {
            vlan: p.vlan(),
            cos: p.cos(),
            en: p.en_bso(),
            truncated: p.truncated(),
            session_id: p.session_id(),
            index: p.index(),
        }
    }
    /// Writes the header into `buf[..8]`.
    pub fn emit(&self, buf: &mut [u8]) {
        put16(buf, 0, (u16::from(VERSION_TYPE2) << 12) | (self.vlan & 0xfff));
        let w = (u16::from(self.cos & 7) << 13)
            | (u16::from(self.en & 3) << 11)
            | (u16::from(self.truncated) << 10)
            | (self.session_id & 0x3ff);
        put16(buf, 2, w);
        put32(buf, 4, self.index & 0xfffff);
    }
}

/// An ERSPAN type III header in parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Type3Repr {
    /// VLAN.
    pub vlan: u16,
    /// Class of service.
    pub cos: u8,
    /// Bad/short/oversized.
    pub bso: u8,
    /// Truncated bit.
    pub truncated: bool,
    /// Session ID.
    pub session_id: u16,
    /// Timestamp (low 32 bits).
    pub timestamp: u32,
    /// Security group tag.
    pub sgt: u16,
    /// P bit.
    pub p: bool,
    /// Frame type.
    pub frame_type: u8,
    /// Hardware ID.
    pub hw_id: u8,
    /// Egress direction.
    pub egress: bool,
    /// Timestamp granularity.
    pub granularity: u8,
    /// Platform sub-header.
    pub platform: Option<Platform>,
}

impl Type3Repr {
    /// Parses a checked view of a type III header.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Type3Repr {
        Type3Repr {
            vlan: p.vlan(),
            cos: p.cos(),
            bso: p.en_bso(),
            truncated: p.truncated(),
            session_id: p.session_id(),
            timestamp: p.timestamp(),
            sgt: p.sgt(),
            p: p.p(),
            frame_type: p.frame_type(),
            hw_id: p.hw_id(),
            egress: p.egress(),
            granularity: p.granularity(),
            platform: p.platform(),
        }
    }
    /// Bytes the header takes.
    pub fn header_len(&self) -> usize {
        TYPE3_LEN + if self.platform.is_some() { SUBHEADER_LEN } else { 0 }
    }
    /// Writes the header into `buf[..header_len()]`.
    pub fn emit(&self, buf: &mut [u8]) {
        put16(buf, 0, (u16::from(VERSION_TYPE3) << 12) | (self.vlan & 0xfff));
        let w = (u16::from(self.cos & 7) << 13)
            | (u16::from(self.bso & 3) << 11)
            | (u16::from(self.truncated) << 10)
            | (self.session_id & 0x3ff);
        put16(buf, 2, w);
        put32(buf, 4, self.timestamp);
        put16(buf, 8, self.sgt);
        let w3 = (u16::from(self.p) << 15)
            | (u16::from(self.frame_type & 0x1f) << 10)
            | (u16::from(self.hw_id & 0x3f) << 4)
            | (u16::from(self.egress) << 3)
            | (u16::from(self.granularity & 3) << 1)
            | u16::from(self.platform.is_some());
        put16(buf, 10, w3);
        if let Some(pl) = self.platform {
            let (a, b) = pl.words();
            put32(buf, 12, a);
            put32(buf, 16, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_type2() {
        // ERSPAN II header of erspan-type-ii-1.pcap: version 1, session 1... built literally.
        let b = [0x10, 0x64, 0x00, 0x07, 0x00, 0x00, 0x00, 0x0a];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.erspan_type(), p.vlan(), p.session_id(), p.index()), (2, 100, 7, 10));
        let mut out = [0u8; 8];
        Type2Repr::parse(&p).emit(&mut out);
        assert_eq!(out, b);
    }

    #[test]
    fn test_type3_platforms() {
        let platforms = [
            Platform::Vsm { domain_id: 5, port_index: 9 },
            Platform::PortTimestamp { port_index: 77, timestamp_high: 1 },
            Platform::Reserved4,
            Platform::SwitchPort { id: 5, switch_id: 3, port_index: 4, seconds: 100 },
            Platform::SwitchPort { id: 6, switch_id: 3, port_index: 4, seconds: 100 },
            Platform::SourceIndex { id: 7, source_index: 12, timestamp_high: 2 },
        ];
        for pl in platforms {
            let r = Type3Repr {
                vlan: 10,
                cos: 1,
                bso: 0,
                truncated: false,
                session_id: 1023,
                timestamp: 0xdeadbeef,
                sgt: 0,
                p: false,
                frame_type: frame_type::IP,
                hw_id: 4,
                egress: true,
                granularity: 1,
                platform: Some(pl),
            };
            let mut b = [0u8; 20];
            r.emit(&mut b);
            let p = Packet::new_checked(&b[..]).unwrap();
            assert_eq!(p.header_len(), 20);
            assert_eq!(Type3Repr::parse(&p), r);
        }
    }

    #[test]
    fn test_bad_version() {
        let b = [0x30, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
    }
}

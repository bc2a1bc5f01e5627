//! 802.11 frames: as Aruba controllers carry them in GRE, as CAPWAP carries them (some access
//! points swap the two frame control bytes; that is recognised by the protocol version bits),
//! and on the 802.11 link types. A data frame is followed by LLC/SNAP or an A-MSDU; protected,
//! null, management and control frames carry nothing decoded.
use super::{Dispatch, Res, Step};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::{Stack, FLAG_SWAPPED_FC};
use crate::table::Next;
use wire::ieee80211::Packet;
use wire::MacAddr;

/// Aruba's GRE protocol types: 0x8200 to 0x8370 in steps of 0x10, and 0x9000.
const ARUBA: [(u16, Next); 24] = {
    let mut t = [(0x9000, Next::Wlan); 24];
    let mut i = 0;
    while i < 23 {
        t[i].0 = 0x8200 + 0x10 * i as u16;
        i += 1;
    }
    t
};

/// Where 802.11 frames are found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { gre_protocols: &ARUBA, link_types: &[(105, Next::Wlan)], ..Dispatch::NONE };

/// The fields of an 802.11 header.
pub(crate) const FIELDS: &[Field] = &[Field::WlanSource, Field::WlanDestination, Field::WlanBssid];

/// The longest MAC header: four addresses, QoS and HT control.
const MAX_HEADER_LEN: usize = 36;

/// A header's first bytes with the frame control field in the standard order.
struct Normalised {
    bytes: [u8; MAX_HEADER_LEN],
    len: usize,
}

impl Normalised {
    /// `header` as it reads with its frame control bytes swapped back.
    fn swapped(header: &[u8]) -> Normalised {
        let len = header.len().min(MAX_HEADER_LEN);
        let mut bytes = [0; MAX_HEADER_LEN];
        bytes[..len].copy_from_slice(&header[..len]);
        bytes.swap(0, 1);
        Normalised { bytes, len }
    }
    fn view(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// True when the frame control bytes read swapped: the first holds DS bits where the
/// protocol version (always 0) belongs, and the second has a version of 0.
fn looks_swapped(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] & 3 != 0 && data[1] & 3 == 0
}

pub(crate) fn decode(data: &[u8], stack: &Stack) -> Res {
    let after_capwap = stack.layers().last().is_some_and(|l| l.proto == Proto::Capwap);
    let swapped = after_capwap && looks_swapped(data);
    let copy;
    let header = if swapped {
        copy = Normalised::swapped(data);
        copy.view()
    } else {
        data
    };
    let p = Packet::new_checked(header)?;
    let next = match (p.carries_llc(), p.is_amsdu()) {
        (false, _) => None,
        (true, true) => Some(Next::Amsdu),
        (true, false) => Some(Next::Llc),
    };
    let mut step = Step::new(Proto::Wlan, p.header_len(), next);
    if swapped {
        step.flags |= FLAG_SWAPPED_FC;
    }
    Ok(step)
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = Packet::new_unchecked(b);
    emit(Field::WlanSource, Value::Mac(p.addr2()));
    emit(Field::WlanDestination, Value::Mac(p.addr1()));
    emit(Field::WlanBssid, Value::Mac(p.addr3()));
}

/// What an 802.11 layer says of the frame it carries, for turning it into Ethernet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WlanFrame {
    /// A data frame in the clear, from `source` to `destination` (by the DS bits).
    Data {
        /// The final destination.
        destination: MacAddr,
        /// The original source.
        source: MacAddr,
    },
    /// A data frame whose body is encrypted.
    Protected,
    /// A management, control or null data frame: no packet.
    NoPayload,
}

/// Reads the 802.11 header `header` of a layer with `flags` (its frame control bytes may be
/// swapped).
pub fn frame(header: &[u8], flags: u8) -> Option<WlanFrame> {
    let copy;
    let header = if flags & FLAG_SWAPPED_FC != 0 {
        copy = Normalised::swapped(header);
        copy.view()
    } else {
        header
    };
    let p = Packet::new_checked(header).ok()?;
    Some(match (p.has_body(), p.protected()) {
        (false, _) => WlanFrame::NoPayload,
        (true, true) => WlanFrame::Protected,
        (true, false) => WlanFrame::Data { destination: p.destination(), source: p.source() },
    })
}

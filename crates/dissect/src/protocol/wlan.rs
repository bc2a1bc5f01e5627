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

#[inline(always)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::decode;
    use craft::{build, Header};
    use wire::ieee80211::Repr;

    fn frame(ds: u8, protected: bool) -> Vec<u8> {
        let a = |n| MacAddr([2, 0, 0, 0, 0, n]);
        let wlan = Repr { ds, addresses: [a(1), a(2), a(3), a(4)], qos: false, amsdu: false, protected };
        let udp = Header::Udp { src: 5247, dst: 5247 };
        let capwap =
            Header::Capwap(wire::capwap::Repr { radio_id: 2, wbid: 1, native: true, radio_mac: None });
        let inner = [Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2]), Header::Udp { src: 1, dst: 2 }];
        build(
            &[
                vec![
                    Header::eth(),
                    Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
                    udp,
                    capwap,
                    Header::Wlan(wlan),
                ],
                inner.to_vec(),
            ]
            .concat(),
        )
    }

    #[test]
    fn swapped_frame_control_is_recognised_after_capwap() {
        let at = 14 + 20 + 8 + 8;
        for ds in 1..=2 {
            let mut f = frame(ds, false);
            assert_eq!(decode(&f, 1).0, "eth.ip.udp.capwap.wlan.llc.ip.udp");
            f.swap(at, at + 1);
            assert_eq!(decode(&f, 1).0, "eth.ip.udp.capwap.wlan.llc.ip.udp", "ds {ds}");
            let header = &f[at..at + 24];
            let want = WlanFrame::Data {
                destination: MacAddr([2, 0, 0, 0, 0, if ds == 1 { 3 } else { 1 }]),
                source: MacAddr([2, 0, 0, 0, 0, if ds == 1 { 2 } else { 3 }]),
            };
            assert_eq!(frame_of(header, FLAG_SWAPPED_FC), Some(want));
        }
    }

    #[test]
    fn protected_management_and_null_frames_carry_no_packet() {
        let at = 14 + 20 + 8 + 8;
        let f = frame(1, true);
        assert_eq!(decode(&f, 1).0, "eth.ip.udp.capwap.wlan");
        assert_eq!(frame_of(&f[at..], 0), Some(WlanFrame::Protected));
        let mut null = frame(1, false);
        null[at] = 0x48;
        assert_eq!(frame_of(&null[at..], 0), Some(WlanFrame::NoPayload));
        let mut beacon = frame(0, false);
        beacon[at] = 0x80;
        assert_eq!(decode(&beacon, 1).0, "eth.ip.udp.capwap.wlan");
        assert_eq!(frame_of(&beacon[at..], 0), Some(WlanFrame::NoPayload));
    }

    fn frame_of(header: &[u8], flags: u8) -> Option<WlanFrame> {
        super::frame(header, flags)
    }
}

//! 802.11 frames, as Aruba controllers carry them in GRE.
use super::{Dispatch, Res, Step};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;

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
pub(crate) const DISPATCH: Dispatch = Dispatch { gre_protocols: &ARUBA, ..Dispatch::NONE };

/// The fields of an 802.11 header.
pub(crate) const FIELDS: &[Field] = &[Field::WlanSource, Field::WlanDestination, Field::WlanBssid];

pub(crate) fn decode(data: &[u8]) -> Res {
    let p = wire::ieee80211::Packet::new_checked(data)?;
    Ok(Step::new(Proto::Wlan, p.header_len(), p.carries_llc().then_some(Next::Llc)))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::ieee80211::Packet::new_unchecked(b);
    emit(Field::WlanSource, Value::Mac(p.addr2()));
    emit(Field::WlanDestination, Value::Mac(p.addr1()));
    emit(Field::WlanBssid, Value::Mac(p.addr3()));
}

//! IEEE 802.2 LLC, and SNAP with an EtherType.
use super::{Dispatch, Res, Step};
use crate::proto::Proto;
use crate::stack::Stack;
use crate::table::Next;
use crate::walk::Dissector;

/// LLC follows 802.3 lengths and 802.11 data; no type field names it, but ATM's RFC 1483
/// link type starts with it.
pub(crate) const DISPATCH: Dispatch = Dispatch { link_types: &[(100, Next::Llc)], ..Dispatch::NONE };

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = wire::llc::Packet::new_checked(data)?;
    if p.is_snap() && p.snap_oui() == 0 {
        let next = d.ethertype_next(p.snap_ethertype(), stack);
        return Ok(Step::new(Proto::Llc, wire::llc::SNAP_LEN, next));
    }
    Ok(Step::new(Proto::Llc, wire::llc::HEADER_LEN, None))
}

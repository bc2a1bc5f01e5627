//! IEEE 802.2 LLC, and SNAP with an EtherType.
use super::{Res, Step};
use crate::proto::Proto;
use crate::stack::Stack;
use crate::walk::Dissector;

/// LLC follows 802.3 lengths and 802.11 data; no type field names it.
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = wire::llc::Packet::new_checked(data)?;
    if p.is_snap() && p.snap_oui() == 0 {
        let next = d.ethertype_next(p.snap_ethertype(), stack);
        return Ok(Step::new(Proto::Llc, wire::llc::SNAP_LEN, next));
    }
    Ok(Step::new(Proto::Llc, wire::llc::HEADER_LEN, None))
}

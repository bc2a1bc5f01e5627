//! Linux cooked captures, v1 and v2 (`tcpdump -i any`).
use super::{Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::proto::Proto;
use crate::stack::Stack;
use crate::table::Next;
use crate::walk::Dissector;

/// Where cooked headers are found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { link_types: &[(113, Next::Sll), (276, Next::Sll2)], ..Dispatch::NONE };

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], v2: bool, stack: &mut Stack) -> Res {
    let h = if v2 { wire::sll::Header::parse_v2(data) } else { wire::sll::Header::parse_v1(data) };
    let h = h.map_err(|_| Anomaly::Truncated)?;
    let next = if h.arphrd == wire::sll::arphrd::IPGRE {
        Some(Next::Gre)
    } else {
        match h.protocol {
            0x0004 => Some(Next::Llc),
            0x0001..=0x0003 => None,
            t => d.ethertype_next(t, stack),
        }
    };
    Ok(Step::new(Proto::Sll, h.len, next))
}

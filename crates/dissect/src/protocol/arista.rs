//! Arista's timestamp header (EtherType 0xD28B).
use super::{malformed, tag, Dispatch, Res};
use crate::anomaly::Anomaly;
use crate::proto::Proto;
use crate::stack::Stack;
use crate::table::Next;
use crate::walk::Dissector;

/// Where Arista timestamp headers are found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ethertypes: &[(wire::ethernet::ethertype::ARISTA, Next::Arista)], ..Dispatch::NONE };

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = wire::arista::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::AristaBadVersion))?;
    tag(d, Proto::Arista, p.header_len(), p.ethertype(), stack)
}

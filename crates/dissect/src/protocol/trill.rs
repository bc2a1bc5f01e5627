//! TRILL.
use super::{malformed, u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;

/// Where TRILL is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ethertypes: &[(wire::ethernet::ethertype::TRILL, Next::Trill)], ..Dispatch::NONE };

/// The fields of a TRILL header.
pub(crate) const FIELDS: &[Field] = &[Field::TrillIngress, Field::TrillEgress];

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    let p = wire::trill::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::TrillBadVersion))?;
    Ok(Step::new(Proto::Trill, p.header_len(), Some(Next::Ethernet)))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::trill::Packet::new_unchecked(b);
    emit(Field::TrillIngress, u(p.ingress_nickname()));
    emit(Field::TrillEgress, u(p.egress_nickname()));
}

/// Streams are named by the egress RBridge.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    wire::trill::Packet::new_checked(b).ok().map(|p| ("egress", u32::from(p.egress_nickname())))
}

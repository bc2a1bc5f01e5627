//! IEEE 802.1ah provider backbone bridging (the I-TAG, then the customer frame).
use super::{u, Dispatch, Res, Step};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;

/// Where PBB is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ethertypes: &[(wire::ethernet::ethertype::PBB, Next::Pbb)], ..Dispatch::NONE };

/// The fields of an I-TAG.
pub(crate) const FIELDS: &[Field] = &[Field::PbbIsid];

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    wire::pbb::Packet::new_checked(data)?;
    Ok(Step::new(Proto::Pbb, wire::pbb::HEADER_LEN, Some(Next::Ethernet)))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::PbbIsid, u(wire::pbb::Packet::new_unchecked(b).isid()));
}

/// Streams are named by the service instance.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    wire::pbb::Packet::new_checked(b).ok().map(|p| ("isid", p.isid()))
}

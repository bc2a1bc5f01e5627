//! Cisco VN-Tag.
use super::{tag, u, Dispatch, Res};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::Stack;
use crate::table::Next;
use crate::walk::Dissector;

/// Where VN-Tags are found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ethertypes: &[(wire::ethernet::ethertype::VNTAG, Next::VnTag)], ..Dispatch::NONE };

/// The fields of a VN-Tag.
pub(crate) const FIELDS: &[Field] = &[Field::VnTagDstVif, Field::VnTagSrcVif];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = wire::vntag::Packet::new_checked(data)?;
    tag(d, Proto::VnTag, wire::vntag::HEADER_LEN, p.ethertype(), stack)
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::vntag::Packet::new_unchecked(b);
    emit(Field::VnTagDstVif, u(p.dst_vif()));
    emit(Field::VnTagSrcVif, u(p.src_vif()));
}

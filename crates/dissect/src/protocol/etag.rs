//! IEEE 802.1BR E-Tag.
use super::{tag, u, Dispatch, Res};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::Stack;
use crate::table::Next;
use crate::walk::Dissector;

/// Where E-Tags are found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ethertypes: &[(wire::ethernet::ethertype::ETAG, Next::ETag)], ..Dispatch::NONE };

/// The fields of an E-Tag.
pub(crate) const FIELDS: &[Field] = &[Field::ETagEcid];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = wire::etag::Packet::new_checked(data)?;
    tag(d, Proto::ETag, wire::etag::HEADER_LEN, p.ethertype(), stack)
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::ETagEcid, u(wire::etag::Packet::new_unchecked(b).ecid()));
}

//! ICMP.
use super::{u, Dispatch, Res, Step};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;

/// Where ICMP is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ip_protocols: &[(wire::ipv4::protocol::ICMP, Next::Icmp)], ..Dispatch::NONE };

/// The fields of an ICMP header.
pub(crate) const FIELDS: &[Field] = &[Field::IcmpType, Field::IcmpCode];

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    wire::icmp::Packet::new_checked(data)?;
    Ok(Step::new(Proto::Icmp, wire::icmp::HEADER_LEN, None))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::IcmpType, u(b[0]));
    emit(Field::IcmpCode, u(b[1]));
}

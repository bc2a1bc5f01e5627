//! ICMPv6.
use super::{u, Dispatch, Res, Step};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;

/// Where ICMPv6 is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ip_protocols: &[(wire::ipv4::protocol::ICMPV6, Next::Icmp6)], ..Dispatch::NONE };

/// The fields of an ICMPv6 header.
pub(crate) const FIELDS: &[Field] = &[Field::Icmp6Type, Field::Icmp6Code];

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    wire::icmpv6::Packet::new_checked(data)?;
    Ok(Step::new(Proto::Icmp6, wire::icmpv6::HEADER_LEN, None))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::Icmp6Type, u(b[0]));
    emit(Field::Icmp6Code, u(b[1]));
}

//! VXLAN (RFC 7348) and its group-policy extension.
use super::{u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::Stack;
use crate::table::Next;
use crate::walk::Dissector;
use wire::udp::port;

/// Where VXLAN is found: IANA's port and the one Linux used first.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { udp_ports: &[(port::VXLAN, Next::Vxlan), (port::VXLAN_LINUX, Next::Vxlan)], ..Dispatch::NONE };

/// The fields of a VXLAN header.
pub(crate) const FIELDS: &[Field] = &[Field::VxlanVni, Field::VxlanGroupId];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = wire::vxlan::Packet::new_checked(data)?;
    if !p.vni_valid() {
        d.note(stack, Anomaly::VxlanNoVni);
    } else if p.reserved_bits_set() {
        d.note(stack, Anomaly::VxlanReservedBits);
    }
    Ok(Step::new(Proto::Vxlan, wire::vxlan::HEADER_LEN, Some(Next::Ethernet)))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::vxlan::Packet::new_unchecked(b);
    emit(Field::VxlanVni, u(p.vni()));
    if let Some(g) = p.group_policy_id() {
        emit(Field::VxlanGroupId, u(g));
    }
}

/// Streams are named by the VNI.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    wire::vxlan::Packet::new_checked(b).ok().map(|p| ("vni", p.vni()))
}

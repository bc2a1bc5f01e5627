//! VXLAN-GPE: VXLAN with a next-protocol field (NSH's numbering).
use super::{nsh, u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::Stack;
use crate::table::Next;
use crate::walk::Dissector;

/// Where VXLAN-GPE is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { udp_ports: &[(wire::udp::port::VXLAN_GPE, Next::VxlanGpe)], ..Dispatch::NONE };

/// The fields of a VXLAN-GPE header.
pub(crate) const FIELDS: &[Field] = &[Field::GpeVni, Field::GpeNextProtocol];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = wire::vxlan_gpe::Packet::new_checked(data)?;
    let next = nsh::next_protocol(p.next_protocol());
    if next.is_none() {
        d.note(stack, Anomaly::GpeUnknownNextProtocol);
    }
    Ok(Step::new(Proto::VxlanGpe, wire::vxlan_gpe::HEADER_LEN, next))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::vxlan_gpe::Packet::new_unchecked(b);
    emit(Field::GpeVni, u(p.vni()));
    emit(Field::GpeNextProtocol, u(p.next_protocol()));
}

/// Streams are named by the VNI.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    wire::vxlan_gpe::Packet::new_checked(b).ok().map(|p| ("vni", p.vni()))
}

//! Cisco FabricPath: a 16-byte header in place of the Ethernet one (its EtherType says so),
//! then the original frame with its FCS.
use super::{u, Step};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;

/// The fields of a FabricPath layer.
pub(crate) const FIELDS: &[Field] =
    &[Field::FabricPathSource, Field::FabricPathDestination, Field::FabricPathFtag];

/// The FabricPath header at the start of `data` (at least `HEADER_LEN` bytes).
#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Step {
    // The original frame keeps its FCS, as Wireshark reads it.
    let mut step = Step::new(Proto::FabricPath, wire::fabricpath::HEADER_LEN, Some(Next::Ethernet));
    step.declared = data.len().saturating_sub(wire::fabricpath::FCS_LEN) as u32;
    step
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::fabricpath::Packet::new_unchecked(b);
    emit(Field::FabricPathSource, u(p.src_switch_id()));
    emit(Field::FabricPathDestination, u(p.dst_switch_id()));
    emit(Field::FabricPathFtag, u(p.ftag()));
}

/// Streams are named by the destination switch.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    wire::fabricpath::Packet::new_checked(b).ok().map(|p| ("switch", u32::from(p.dst_switch_id())))
}

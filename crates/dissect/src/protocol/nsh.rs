//! Network Service Header, and the next-protocol numbering it shares with VXLAN-GPE.
use super::{malformed, u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;

/// Where NSH is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ethertypes: &[(wire::ethernet::ethertype::NSH, Next::Nsh)], ..Dispatch::NONE };

/// The fields of an NSH header.
pub(crate) const FIELDS: &[Field] = &[Field::NshSpi, Field::NshSi];

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    let p = wire::nsh::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::NshBadHeader))?;
    Ok(Step::new(Proto::Nsh, p.header_len(), next_protocol(p.next_protocol())))
}

/// What follows a VXLAN-GPE or NSH header, by their shared next-protocol numbering
/// (1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH, 5 MPLS).
pub(crate) fn next_protocol(n: u8) -> Option<Next> {
    match n {
        1 => Some(Next::Ipv4),
        2 => Some(Next::Ipv6),
        3 => Some(Next::Ethernet),
        4 => Some(Next::Nsh),
        5 => Some(Next::Mpls),
        _ => None,
    }
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::nsh::Packet::new_unchecked(b);
    emit(Field::NshSpi, u(p.spi()));
    emit(Field::NshSi, u(p.si()));
}

/// Streams are named by the service path.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    wire::nsh::Packet::new_checked(b).ok().map(|p| ("spi", p.spi()))
}

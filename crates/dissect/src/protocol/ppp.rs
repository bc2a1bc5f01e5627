//! PPP framing (HDLC-like or bare protocol field), on its link types and inside GRE.
use super::{u, Dispatch, Res, Step};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;
use wire::ppp::protocol as pp;

/// Where PPP is found.
pub(crate) const DISPATCH: Dispatch = Dispatch {
    gre_protocols: &[(wire::ethernet::ethertype::PPP, Next::Ppp)],
    link_types: &[(9, Next::Ppp), (50, Next::Ppp)],
    ..Dispatch::NONE
};

/// The fields of a PPP header.
pub(crate) const FIELDS: &[Field] = &[Field::PppProtocol];

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    let ppp = wire::ppp::Header::parse(data)?;
    Ok(Step::new(Proto::Ppp, ppp.len, next(ppp.protocol)))
}

/// What a PPP protocol number carries (nothing decoded for control protocols).
pub(crate) fn next(protocol: u16) -> Option<Next> {
    match protocol {
        pp::IPV4 => Some(Next::Ipv4),
        pp::IPV6 => Some(Next::Ipv6),
        pp::MPLS_UNICAST | pp::MPLS_MULTICAST => Some(Next::Mpls),
        _ => None,
    }
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    if let Ok(h) = wire::ppp::Header::parse(b) {
        emit(Field::PppProtocol, u(h.protocol));
    }
}

//! PPPoE sessions: the PPPoE header and the PPP protocol field, as one layer.
use super::{malformed, ppp, u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;
use wire::pppoe::HEADER_LEN;

/// Where PPPoE sessions are found.
/// (Link type 51 is a PPPoE session header without Ethernet in front.)
pub(crate) const DISPATCH: Dispatch = Dispatch {
    ethertypes: &[(wire::ethernet::ethertype::PPPOE_SESSION, Next::Pppoe)],
    link_types: &[(51, Next::Pppoe)],
    ..Dispatch::NONE
};

/// The fields of a PPPoE session header.
pub(crate) const FIELDS: &[Field] = &[Field::PppoeSession, Field::PppProtocol];

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    wire::pppoe::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::PppoeBadHeader))?;
    let h = wire::ppp::Header::parse(&data[HEADER_LEN..])?;
    Ok(Step::new(Proto::Pppoe, HEADER_LEN + h.len, ppp::next(h.protocol)))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::PppoeSession, u(wire::pppoe::Packet::new_unchecked(b).session_id()));
    ppp::fields(&b[HEADER_LEN..], emit);
}

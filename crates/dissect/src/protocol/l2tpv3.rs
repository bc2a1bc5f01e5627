//! L2TPv3 over IP: session header, the cookie and sublayer configured out of band, then an
//! Ethernet frame.
use super::{u, Dispatch, Res, Step};
use crate::anomaly::{Anomaly, Guess};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;
use crate::walk::Dissector;
use wire::be32_pub as be32;

/// Where L2TPv3 is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ip_protocols: &[(wire::ipv4::protocol::L2TP, Next::L2tpv3)], ..Dispatch::NONE };

/// The fields of an L2TPv3 session header.
pub(crate) const FIELDS: &[Field] = &[Field::L2tpSession];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8]) -> Res {
    let p = wire::l2tpv3::Packet::new_checked(data)?;
    if p.is_control() {
        return Ok(Step::new(Proto::L2tpv3, wire::l2tpv3::SESSION_LEN, None));
    }
    let s = d.table().config.l2tpv3;
    let len = wire::l2tpv3::SESSION_LEN + usize::from(s.cookie_len) + if s.sublayer { 4 } else { 0 };
    if data.len() < len {
        return Err(Anomaly::Truncated);
    }
    let mut step = Step::new(Proto::L2tpv3, len, Some(Next::Ethernet));
    step.guess = Some(Guess::L2tpv3);
    Ok(step)
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::L2tpSession, u(be32(b, 0)));
}

/// Streams are named by the session.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    wire::l2tpv3::Packet::new_checked(b).ok().map(|p| ("session", p.session_id()))
}

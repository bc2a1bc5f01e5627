//! GTP-U: a G-PDU carries an IP packet; other messages carry none.
use super::{malformed, u, Dispatch, Res, Step};
use crate::anomaly::{Anomaly, Guess};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::FLAG_GUESSED;
use crate::table::Next;

/// Where GTP-U is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { udp_ports: &[(wire::udp::port::GTP_U, Next::GtpU)], ..Dispatch::NONE };

/// The fields of a GTP header.
pub(crate) const FIELDS: &[Field] = &[Field::GtpTeid, Field::GtpMsgType];

pub(crate) fn decode(data: &[u8]) -> Res {
    let p = wire::gtpu::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::GtpBadHeader))?;
    let len = p.header_len();
    let mut step = Step::new(Proto::GtpU, len, None);
    if p.msg_type() == wire::gtpu::G_PDU {
        step.next = match data.get(len).map(|b| b >> 4) {
            Some(4) => Some(Next::Ipv4),
            Some(6) => Some(Next::Ipv6),
            _ => None,
        };
        if step.next.is_some() {
            step.guess = Some(Guess::GtpIp);
            step.flags |= FLAG_GUESSED;
        }
    }
    Ok(step)
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::gtpu::Packet::new_unchecked(b);
    emit(Field::GtpTeid, u(p.teid()));
    emit(Field::GtpMsgType, u(p.msg_type()));
}

/// Streams are named by the tunnel endpoint identifier.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    wire::gtpu::Packet::new_checked(b).ok().map(|p| ("teid", p.teid()))
}

//! The associated channel header after a GAL (RFC 5586) or in place of a pseudowire's control
//! word (RFC 4385): its channel type says what follows.
use super::{u, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;
use wire::pwach::{channel, Packet, HEADER_LEN};

/// The fields of an associated channel header.
pub(crate) const FIELDS: &[Field] = &[Field::PwAchChannel];

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    let p = Packet::new_checked(data).map_err(|e| super::malformed(e, Anomaly::Malformed))?;
    let next = match p.channel_type() {
        channel::IPV4 => Some(Next::Ipv4),
        channel::IPV6 => Some(Next::Ipv6),
        // BFD, MPLS-TP OAM and others: messages, not packets.
        _ => None,
    };
    Ok(Step::new(Proto::PwAch, HEADER_LEN, next))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::PwAchChannel, u(Packet::new_unchecked(b).channel_type()));
}

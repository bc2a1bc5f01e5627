//! GRE (RFC 2784/2890), PPTP's enhanced GRE (version 1), NVGRE's reading of the key, and
//! GRE in UDP.
use super::{malformed, u, Dispatch, Res, Step};
use crate::anomaly::{Anomaly, Guess};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::{Stack, FLAG_NVGRE};
use crate::table::{Lookup, Next, NvgreKey};
use crate::walk::Dissector;
use wire::ethernet::ethertype as et;

/// Where GRE is found.
pub(crate) const DISPATCH: Dispatch = Dispatch {
    ip_protocols: &[(wire::ipv4::protocol::GRE, Next::Gre)],
    udp_ports: &[(wire::udp::port::GRE_IN_UDP, Next::Gre)],
    ..Dispatch::NONE
};

/// The fields of a GRE header.
pub(crate) const FIELDS: &[Field] =
    &[Field::GreKey, Field::GreProtocol, Field::GreVsid, Field::GreFlowId, Field::GreCallId];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = wire::gre::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::GreBadVersion))?;
    if p.reserved_bits_set() {
        d.note(stack, Anomaly::GreReservedBits);
    }
    let mut step = Step::new(Proto::Gre, p.header_len(), None);
    let proto = p.protocol();
    if p.version() == 1 {
        step.next = (proto == et::PPP).then_some(Next::Ppp);
        return Ok(step);
    }
    step.next = match d.table().gre_protocol(proto) {
        Lookup::Next(Next::Leaf) => None,
        Lookup::Next(n) => Some(n),
        Lookup::Unknown => {
            d.note(stack, Anomaly::UnknownGreProtocol);
            None
        }
    };
    if proto == et::TEB
        && p.flags_version() == wire::nvgre::FLAGS_VERSION
        && d.table().config.nvgre == NvgreKey::Auto
    {
        step.flags |= FLAG_NVGRE;
        step.guess = Some(Guess::Nvgre);
    }
    Ok(step)
}

pub(crate) fn fields(b: &[u8], flags: u8, emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::gre::Packet::new_unchecked(b);
    if let Some(k) = p.key() {
        if p.version() == 1 {
            emit(Field::GreCallId, u(k as u16));
        } else {
            emit(Field::GreKey, u(k));
            if flags & FLAG_NVGRE != 0 {
                emit(Field::GreVsid, u(wire::nvgre::vsid(k)));
                emit(Field::GreFlowId, u(wire::nvgre::flow_id(k)));
            }
        }
    }
    emit(Field::GreProtocol, u(p.protocol()));
}

/// Streams are named by the key (GRE-TEB with a key may be NVGRE, but the key names the
/// stream either way), or for PPTP by the call ID.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    let p = wire::gre::Packet::new_checked(b).ok()?;
    match p.key()? {
        k if p.version() == 1 => Some(("call", u32::from(k as u16))),
        k => Some(("key", k)),
    }
}

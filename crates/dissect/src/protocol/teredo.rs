//! Teredo (RFC 4380): optional indicators, then an IPv6 packet.
use super::{malformed, u, Dispatch, Res, Step};
use crate::anomaly::{Anomaly, Guess};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;

/// Where Teredo is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { udp_ports: &[(wire::udp::port::TEREDO, Next::Teredo)], ..Dispatch::NONE };

/// The fields of Teredo's indicators.
pub(crate) const FIELDS: &[Field] = &[Field::TeredoOriginPort, Field::TeredoOriginIp];

/// True when a UDP payload on Teredo's port reads as Teredo (other traffic uses the port).
pub(crate) fn plausible(payload: &[u8]) -> bool {
    wire::teredo::Indicators::parse(payload).is_ok()
}

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    let ind = wire::teredo::Indicators::parse(data).map_err(|e| malformed(e, Anomaly::TeredoBadHeader))?;
    let mut step = Step::new(Proto::Teredo, ind.len, Some(Next::Ipv6));
    step.guess = Some(Guess::Teredo);
    Ok(step)
}

/// `from` is the frame from the layer on (the indicators are read again, with the packet).
pub(crate) fn fields(from: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    if let Ok(wire::teredo::Indicators { origin: Some((port, ip)), .. }) =
        wire::teredo::Indicators::parse(from)
    {
        emit(Field::TeredoOriginPort, u(port));
        emit(Field::TeredoOriginIp, Value::Ipv4(ip));
    }
}

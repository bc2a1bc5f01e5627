//! GENEVE (RFC 8926): its protocol type is an EtherType.
use super::{malformed, u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::Stack;
use crate::table::Next;
use crate::walk::Dissector;
use wire::Error;

/// Where GENEVE is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { udp_ports: &[(wire::udp::port::GENEVE, Next::Geneve)], ..Dispatch::NONE };

/// The fields of a GENEVE header.
pub(crate) const FIELDS: &[Field] = &[Field::GeneveVni, Field::GeneveProtocol, Field::GeneveOptionsLength];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = match wire::geneve::Packet::new_checked(data) {
        Ok(p) => p,
        Err(Error::Malformed) if data.first().is_some_and(|b| b >> 6 == 0) => {
            return Err(Anomaly::GeneveBadOption)
        }
        Err(e) => return Err(malformed(e, Anomaly::GeneveBadVersion)),
    };
    if p.options().any(|o| o.is_critical()) {
        d.note(stack, Anomaly::GeneveCriticalOption);
    }
    let next = d.ethertype_next(p.protocol(), stack);
    Ok(Step::new(Proto::Geneve, p.header_len(), next))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::geneve::Packet::new_unchecked(b);
    emit(Field::GeneveVni, u(p.vni()));
    emit(Field::GeneveProtocol, u(p.protocol()));
    emit(Field::GeneveOptionsLength, u(p.options_len() as u64));
}

/// Streams are named by the VNI.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    wire::geneve::Packet::new_checked(b).ok().map(|p| ("vni", p.vni()))
}

//! UDP: the ports name what follows, through the dispatch table.
use super::{partial_ports, u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::FLAG_MPLS_IN_UDP;
use crate::table::Next;
use crate::walk::Dissector;

/// Where UDP is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ip_protocols: &[(wire::ipv4::protocol::UDP, Next::Udp)], ..Dispatch::NONE };

/// The fields of a UDP header.
pub(crate) const FIELDS: &[Field] = &[Field::UdpSourcePort, Field::UdpDestinationPort];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8]) -> Res {
    let Ok(p) = wire::udp::Packet::new_checked(data) else { return partial_ports(Proto::Udp, data) };
    let len = usize::from(p.length());
    let mut step = Step::new(Proto::Udp, wire::udp::HEADER_LEN, None);
    if len != 0 {
        if len < wire::udp::HEADER_LEN {
            return Ok(step.stop(Anomaly::UdpBadLength));
        }
        step.declared = len as u32;
    }
    let (lo, hi) = if p.src_port() <= p.dst_port() {
        (p.src_port(), p.dst_port())
    } else {
        (p.dst_port(), p.src_port())
    };
    step.next = d.table().udp_port(lo).or_else(|| d.table().udp_port(hi));
    if step.next == Some(Next::Mpls) {
        step.flags |= FLAG_MPLS_IN_UDP;
    }
    if step.next == Some(Next::Teredo) && !super::teredo::plausible(&data[wire::udp::HEADER_LEN..]) {
        step.next = None;
    }
    Ok(step)
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::udp::Packet::new_unchecked(b);
    emit(Field::UdpSourcePort, u(p.src_port()));
    emit(Field::UdpDestinationPort, u(p.dst_port()));
}

//! ARP.
use super::{u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;

/// Where ARP is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ethertypes: &[(wire::ethernet::ethertype::ARP, Next::Arp)], ..Dispatch::NONE };

/// The fields of an ARP packet.
pub(crate) const FIELDS: &[Field] = &[Field::ArpOperation, Field::ArpIpSender, Field::ArpIpTarget];

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    if data.len() < wire::arp::FIXED_LEN {
        return Err(Anomaly::Truncated);
    }
    Ok(Step::new(Proto::Arp, data.len().min(wire::arp::HEADER_LEN), None))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    if let Ok(p) = wire::arp::Packet::new_checked(b) {
        emit(Field::ArpOperation, u(p.operation()));
        if p.is_ethernet_ipv4() {
            emit(Field::ArpIpSender, Value::Ipv4(p.sender_ip()));
            emit(Field::ArpIpTarget, Value::Ipv4(p.target_ip()));
        }
    }
}

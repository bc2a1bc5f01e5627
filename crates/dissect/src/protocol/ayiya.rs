//! AYIYA (anything in anything).
use super::{malformed, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::proto::Proto;
use crate::table::Next;

/// Where AYIYA is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { udp_ports: &[(wire::udp::port::AYIYA, Next::Ayiya)], ..Dispatch::NONE };

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    let p = wire::ayiya::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::AyiyaBadHeader))?;
    let next = match p.next_header() {
        wire::ipv4::protocol::IPIP => Some(Next::Ipv4),
        wire::ipv4::protocol::IPV6 => Some(Next::Ipv6),
        _ => None,
    };
    Ok(Step::new(Proto::Ayiya, p.header_len(), next))
}

//! WCCP's redirect header inside GRE (absent in WCCPv1: IPv4 follows GRE directly).
use super::{ipv4, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::proto::Proto;
use crate::table::Next;
use crate::walk::Dissector;

/// Where WCCP is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { gre_protocols: &[(wire::ethernet::ethertype::WCCP, Next::Wccp)], ..Dispatch::NONE };

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8]) -> Res {
    let len = wire::wccp::redirect_header_len(data);
    if data.len() < len {
        return Err(Anomaly::Truncated);
    }
    if len == 0 {
        return ipv4::decode(d, data);
    }
    Ok(Step::new(Proto::Wccp, len, Some(Next::Ipv4)))
}

//! BSD loopback: a 4-byte address family in the capturing host's byte order (link type 0), or
//! in network byte order (OpenBSD's link type 108).
use super::{Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::proto::Proto;
use crate::table::Next;

/// Where loopback headers are found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { link_types: &[(0, Next::Null), (108, Next::Null)], ..Dispatch::NONE };

/// Length of the header.
const HEADER_LEN: usize = 4;

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    let Some(b) = data.get(..HEADER_LEN) else { return Err(Anomaly::Truncated) };
    let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let next = match if le < 256 { le } else { be } {
        2 => Some(Next::Ipv4),
        // IPv6 as BSDs, Darwin and others number it.
        24 | 28 | 30 => Some(Next::Ipv6),
        _ => None,
    };
    Ok(Step::new(Proto::Null, HEADER_LEN, next))
}

//! sFlow datagrams: a layer of no length (the sFlow receiver decodes their samples).
use super::{Dispatch, Res, Step};
use crate::proto::Proto;
use crate::table::Next;

/// Where sFlow is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { udp_ports: &[(wire::udp::port::SFLOW, Next::Sflow)], ..Dispatch::NONE };

#[inline(always)]
pub(crate) fn decode() -> Res {
    Ok(Step::new(Proto::Sflow, 0, None))
}

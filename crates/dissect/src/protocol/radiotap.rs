//! Radiotap (pcap link type 127) in front of an 802.11 frame, which then may end with its FCS.
use super::{Dispatch, Res, Step};
use crate::proto::Proto;
use crate::table::Next;

/// Where radiotap is found.
pub(crate) const DISPATCH: Dispatch = Dispatch { link_types: &[(127, Next::Radiotap)], ..Dispatch::NONE };

/// Length of an FCS.
const FCS_LEN: usize = 4;

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    let h = wire::radiotap::Header::parse(data)?;
    let mut step = Step::new(Proto::Radiotap, h.len, Some(Next::Wlan));
    if h.fcs {
        step.declared = data.len().saturating_sub(FCS_LEN).max(h.len) as u32;
    }
    Ok(step)
}

//! A-MSDU subframes inside an 802.11 data frame: destination, source and length, then LLC/SNAP
//! and the packet. Each subframe is one layer; the walker resumes at the next subframe when
//! the packet inside one has been decoded, so that the stack holds every subframe in order,
//! as Wireshark shows them.
use super::{Res, Step};
use crate::proto::Proto;
use crate::table::Next;
use crate::walk::Dissector;
use wire::ieee80211::{Subframe, SUBFRAME_HEADER_LEN};

/// `data` is the aggregate from this subframe on, a part of `frame`.
pub(crate) fn decode(d: &mut Dissector, data: &[u8], frame: &[u8]) -> Res {
    let sub = Subframe::parse(data)?;
    let offset = data.as_ptr() as usize - frame.as_ptr() as usize;
    d.resume_at(offset + sub.next_at(), offset + data.len());
    let mut step = Step::new(Proto::Amsdu, SUBFRAME_HEADER_LEN, Some(Next::Llc));
    step.declared = (SUBFRAME_HEADER_LEN + usize::from(sub.len)) as u32;
    Ok(step)
}

/// The destination and source of a subframe, and where the subframe after it starts, counted
/// from this one's start.
pub fn subframe(header: &[u8]) -> Option<Subframe> {
    Subframe::parse(header).ok()
}

//! Cisco HDLC (pcap link type 104): address, control and an EtherType.
use super::{Dispatch, Res, Step};
use crate::proto::Proto;
use crate::stack::Stack;
use crate::table::Next;
use crate::walk::Dissector;

/// Where Cisco HDLC is found.
pub(crate) const DISPATCH: Dispatch = Dispatch { link_types: &[(104, Next::Chdlc)], ..Dispatch::NONE };

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = wire::chdlc::Packet::new_checked(data)?;
    Ok(Step::new(Proto::Chdlc, wire::chdlc::HEADER_LEN, d.ethertype_next(p.protocol(), stack)))
}

//! SCTP's common header (the ports).
use super::{u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;
use wire::be16_pub as be16;

/// Where SCTP is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ip_protocols: &[(wire::ipv4::protocol::SCTP, Next::Sctp)], ..Dispatch::NONE };

/// The fields of an SCTP header.
pub(crate) const FIELDS: &[Field] = &[Field::SctpSourcePort, Field::SctpDestinationPort];

/// Length of the common header.
const HEADER_LEN: usize = 12;

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    if data.len() < HEADER_LEN {
        return Err(Anomaly::Truncated);
    }
    Ok(Step::new(Proto::Sctp, HEADER_LEN, None))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::SctpSourcePort, u(be16(b, 0)));
    emit(Field::SctpDestinationPort, u(be16(b, 2)));
}

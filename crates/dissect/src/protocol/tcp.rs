//! TCP.
use super::{partial_ports, u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;
use wire::Error;

/// Where TCP is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { ip_protocols: &[(wire::ipv4::protocol::TCP, Next::Tcp)], ..Dispatch::NONE };

/// The fields of a TCP header.
pub(crate) const FIELDS: &[Field] = &[Field::TcpSourcePort, Field::TcpDestinationPort, Field::TcpFlags];

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    match wire::tcp::Packet::new_checked(data) {
        Ok(p) => Ok(Step::new(Proto::Tcp, p.header_len().min(data.len()), None)),
        Err(Error::Truncated) => partial_ports(Proto::Tcp, data),
        Err(Error::Malformed) => Ok(Step::new(Proto::Tcp, 20, None).stop(Anomaly::TcpBadHeaderLen)),
    }
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::tcp::Packet::new_unchecked(b);
    emit(Field::TcpSourcePort, u(p.src_port()));
    emit(Field::TcpDestinationPort, u(p.dst_port()));
    if b.len() >= 14 {
        emit(Field::TcpFlags, Value::Bits { bits: p.flags(), width: 9 });
    }
}

//! IPv4, and IP by its version nibble (raw IP link types, ERSPAN III's IP frames).
use super::{ipv6, mark_ip_in_ip, u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::FLAG_FRAGMENT;
use crate::table::Next;
use crate::walk::Dissector;
use wire::Error;

/// Where IPv4 (or IP of either version) is found.
pub(crate) const DISPATCH: Dispatch = Dispatch {
    ethertypes: &[(wire::ethernet::ethertype::IPV4, Next::Ipv4)],
    ip_protocols: &[(wire::ipv4::protocol::IPIP, Next::Ipv4)],
    // Raw IP: LINKTYPE_RAW, the two values DLT_RAW has on some BSDs, and raw IPv4.
    link_types: &[(101, Next::Ip), (12, Next::Ip), (14, Next::Ip), (228, Next::Ipv4)],
    ..Dispatch::NONE
};

/// The fields of an IPv4 header.
pub(crate) const FIELDS: &[Field] = &[
    Field::IpSource,
    Field::IpDestination,
    Field::IpProtocol,
    Field::IpTos,
    Field::IpDscp,
    Field::IpEcn,
    Field::IpBytes,
    Field::IpTtl,
    Field::IpFlags,
    Field::IpFragOffset,
];

/// Where the protocol byte of an IPv4 header is.
const PROTOCOL_AT: usize = 9;

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8]) -> Res {
    // Version 4 without options, the common case, checked in one comparison.
    let fast = data.len() >= wire::ipv4::HEADER_LEN && data[0] == 0x45;
    let checked = if fast {
        Ok(wire::ipv4::Packet::new_unchecked(data))
    } else {
        wire::ipv4::Packet::new_checked(data)
    };
    let p = match checked {
        Ok(p) => p,
        // A header cut off by the capture (a sampled header's end, a snap length) still shows
        // the fields its bytes hold, from the protocol on: nothing follows it.
        Err(Error::Truncated) if data.len() > PROTOCOL_AT && data[0] >> 4 == 4 => {
            return Ok(Step::new(Proto::Ipv4, data.len(), None).stop(Anomaly::Truncated))
        }
        Err(Error::Truncated) => return Err(Anomaly::Truncated),
        // Like Wireshark, an IPv4 type field in front of a version-6 header is read as IPv6.
        Err(Error::Malformed) if data[0] >> 4 == 6 => {
            return ipv6::decode(d, data).map(|s| Step { note: Some(Anomaly::Ipv4BadVersion), ..s });
        }
        Err(Error::Malformed) if data[0] >> 4 != 4 => return Err(Anomaly::Ipv4BadVersion),
        Err(Error::Malformed) => return Err(Anomaly::Ipv4BadHeaderLen),
    };
    let hlen = p.header_len();
    let total = usize::from(p.total_len());
    let mut step = Step::new(Proto::Ipv4, hlen, d.table().ip_protocol(p.protocol()));
    mark_ip_in_ip(&mut step);
    // A total length of 0 is a GSO / BIG TCP super-packet: the capture gives the length.
    if total != 0 {
        if total < hlen {
            return Ok(step.stop(Anomaly::Ipv4BadTotalLen));
        }
        step.declared = total as u32;
    }
    if p.frag_offset() != 0 {
        step.flags |= FLAG_FRAGMENT;
        return Ok(step.stop(Anomaly::IpFragment));
    }
    if p.more_frags() {
        step.flags |= FLAG_FRAGMENT;
    }
    Ok(step)
}

/// IPv4 or IPv6 by the version nibble.
#[inline(always)]
pub(crate) fn decode_by_version(d: &mut Dissector, data: &[u8]) -> Res {
    match data.first().map(|b| b >> 4) {
        Some(6) => ipv6::decode(d, data),
        Some(_) => decode(d, data),
        None => Err(Anomaly::Truncated),
    }
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    // A header cut off by the capture (at least up to its protocol byte) shows only the
    // fields its bytes hold.
    let p = wire::ipv4::Packet::new_unchecked(b);
    if b.len() >= 16 {
        emit(Field::IpSource, Value::Ipv4(p.src_addr()));
    }
    if b.len() >= wire::ipv4::HEADER_LEN {
        emit(Field::IpDestination, Value::Ipv4(p.dst_addr()));
    }
    emit(Field::IpProtocol, u(p.protocol()));
    emit(Field::IpTos, u(p.tos()));
    emit(Field::IpDscp, u(p.tos() >> 2));
    emit(Field::IpEcn, Value::Bits { bits: u16::from(p.tos() & 3), width: 2 });
    emit(Field::IpBytes, u(p.total_len()));
    emit(Field::IpTtl, u(p.ttl()));
    emit(Field::IpFlags, Value::Bits { bits: u16::from(p.flags()), width: 3 });
    emit(Field::IpFragOffset, u(p.frag_offset()));
}

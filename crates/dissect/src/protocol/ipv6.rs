//! IPv6 with its extension headers, as one layer.
use super::{malformed, mark_ip_in_ip, u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::FLAG_FRAGMENT;
use crate::table::Next;
use crate::walk::Dissector;
use wire::ipv6::{is_extension_header, ExtHeader, Packet, HEADER_LEN};
use wire::Error;

/// Where IPv6 is found.
pub(crate) const DISPATCH: Dispatch = Dispatch {
    ethertypes: &[(wire::ethernet::ethertype::IPV6, Next::Ipv6)],
    ip_protocols: &[(wire::ipv4::protocol::IPV6, Next::Ipv6)],
    link_types: &[(229, Next::Ipv6)],
    ..Dispatch::NONE
};

/// The fields of an IPv6 header.
pub(crate) const FIELDS: &[Field] = &[
    Field::Ip6Source,
    Field::Ip6Destination,
    Field::Ip6NextHdr,
    Field::Ip6Tos,
    Field::Ip6Dscp,
    Field::Ip6Ecn,
    Field::Ip6Bytes,
    Field::Ip6Ttl,
    Field::Ip6FlowLabel,
];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8]) -> Res {
    let p = match Packet::new_checked(data) {
        Ok(p) => p,
        // A cut-off header still shows the fields its bytes hold.
        Err(Error::Truncated) if data.len() >= 8 && data[0] >> 4 == 6 => {
            return Ok(Step::new(Proto::Ipv6, data.len(), None).stop(Anomaly::Truncated))
        }
        Err(e) => return Err(malformed(e, Anomaly::Ipv6BadVersion)),
    };
    let mut len = HEADER_LEN;
    let mut nh = p.next_header();
    let mut flags = 0;
    let payload = usize::from(p.payload_len());
    while is_extension_header(nh) {
        let Some(rest) = data.get(len..) else { break };
        let e = match ExtHeader::parse(nh, rest) {
            Ok(e) => e,
            Err(Error::Truncated) if payload != 0 && len + 8 > HEADER_LEN + payload => {
                return Err(Anomaly::Ipv6BadExtension)
            }
            Err(e) => return Err(e.into()),
        };
        len += e.len;
        nh = e.next_header;
        if let Some(wire::ipv6::Fragment { offset, .. }) = e.fragment {
            flags |= FLAG_FRAGMENT;
            if offset != 0 {
                let step = Step { flags, ..Step::new(Proto::Ipv6, len, None) };
                return Ok(step.stop(Anomaly::IpFragment));
            }
        }
    }
    let mut step = Step::new(Proto::Ipv6, len, d.table().ip_protocol(nh));
    step.flags |= flags;
    if nh == wire::ipv4::protocol::IPV6_NONXT {
        step.next = None;
    }
    mark_ip_in_ip(&mut step);
    if payload != 0 {
        step.declared = (HEADER_LEN + payload) as u32;
    }
    Ok(step)
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    // A header cut off by the capture shows only the fields its bytes hold.
    let p = Packet::new_unchecked(b);
    if b.len() >= 24 {
        emit(Field::Ip6Source, Value::Ipv6(p.src_addr()));
    }
    if b.len() >= HEADER_LEN {
        emit(Field::Ip6Destination, Value::Ipv6(p.dst_addr()));
    }
    emit(Field::Ip6NextHdr, u(upper_protocol(b)));
    emit(Field::Ip6Tos, u(p.traffic_class()));
    emit(Field::Ip6Dscp, u(p.traffic_class() >> 2));
    emit(Field::Ip6Ecn, Value::Bits { bits: u16::from(p.traffic_class() & 3), width: 2 });
    emit(Field::Ip6Bytes, u(u32::from(p.payload_len()) + 40));
    emit(Field::Ip6Ttl, u(p.hop_limit()));
    emit(Field::Ip6FlowLabel, u(p.flow_label()));
}

/// The upper-layer protocol of an IPv6 header whose bytes include its extension headers.
fn upper_protocol(b: &[u8]) -> u8 {
    let mut nh = b[6];
    let mut at = HEADER_LEN;
    if b.len() < at {
        return nh;
    }
    while is_extension_header(nh) {
        match b.get(at..).and_then(|r| ExtHeader::parse(nh, r).ok()) {
            Some(e) => {
                nh = e.next_header;
                at += e.len;
            }
            None => break,
        }
    }
    nh
}

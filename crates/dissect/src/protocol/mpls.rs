//! MPLS label stacks (one layer, as Wireshark shows them) and the pseudowire control word.
//! An MPLS payload has no type field: configuration or the first nibble after the bottom of
//! stack says what it is.
use super::{u, Dispatch, Res, Step};
use crate::anomaly::{Anomaly, Guess};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::{Lookup, MplsPayload, Next, Table};
use crate::walk::Dissector;
use wire::ethernet::ethertype as et;
use wire::mpls::{Packet, HEADER_LEN};

/// Where MPLS is found.
pub(crate) const DISPATCH: Dispatch = Dispatch {
    ethertypes: &[(et::MPLS, Next::Mpls), (et::MPLS_MULTICAST, Next::Mpls)],
    udp_ports: &[(wire::udp::port::MPLS_IN_UDP, Next::Mpls)],
    link_types: &[(219, Next::Mpls)],
    ..Dispatch::NONE
};

/// The fields of a label stack.
pub(crate) const FIELDS: &[Field] =
    &[Field::MplsLabel, Field::MplsTc, Field::MplsTtl, Field::MplsBottomLabel, Field::MplsDepth];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8]) -> Res {
    let mut len = 0;
    let bottom = loop {
        let Some(entry) = data.get(len..len + HEADER_LEN) else {
            if len == 0 {
                return Err(Anomaly::Truncated);
            }
            return Ok(Step::new(Proto::Mpls, len, None).stop(Anomaly::Truncated));
        };
        let p = Packet::new_unchecked(entry);
        len += HEADER_LEN;
        if p.bottom() {
            break p;
        }
    };
    let mut step = Step::new(Proto::Mpls, len, None);
    let nibble = data.get(len).map(|b| b >> 4);
    let (v4_null, v6_null) = (wire::mpls::label::IPV4_EXPLICIT_NULL, wire::mpls::label::IPV6_EXPLICIT_NULL);
    let (next, guess) = match (d.table().config.mpls_payload, bottom.label(), nibble) {
        (_, _, None) => (None, None),
        // The generic associated channel label: an associated channel header follows
        // (RFC 5586); the OAM alert label: an OAM message (RFC 3429), not a packet.
        (_, wire::mpls::label::GAL, _) => (Some(Next::PwAch), None),
        (_, wire::mpls::label::OAM_ALERT, _) => (None, None),
        (MplsPayload::Ipv4, ..) => (Some(Next::Ipv4), None),
        (MplsPayload::Ipv6, ..) => (Some(Next::Ipv6), None),
        // An explicit null label names the packet's version (RFC 3032); the packet's own
        // version nibble has the last word, and a disagreement is said.
        (MplsPayload::Auto, label, Some(n)) if label == v4_null || label == v6_null => {
            let named = if label == v4_null { 4 } else { 6 };
            if n != named {
                step.note = Some(Anomaly::MplsExplicitNullMismatch);
            }
            let version = if n == 4 || n == 6 { n } else { named };
            (Some(if version == 4 { Next::Ipv4 } else { Next::Ipv6 }), None)
        }
        (MplsPayload::Ethernet, ..) => (Some(Next::Ethernet), None),
        (MplsPayload::EthernetCw, ..) => (Some(Next::PwControlWord), None),
        (MplsPayload::Auto, _, Some(4)) => (Some(Next::Ipv4), Some(Guess::MplsIpv4)),
        (MplsPayload::Auto, _, Some(6)) => (Some(Next::Ipv6), Some(Guess::MplsIpv6)),
        (MplsPayload::Auto, _, Some(0)) => {
            // An Ethernet pseudowire whose destination MAC starts with a 0 nibble looks like a
            // control word: read it both ways and keep the more plausible Ethernet header.
            let payload = &data[len..];
            let table = d.table();
            if plausible_ethernet(table, payload.get(4..)) >= plausible_ethernet(table, Some(payload)) {
                (Some(Next::PwControlWord), Some(Guess::MplsEthernetCw))
            } else {
                (Some(Next::Ethernet), Some(Guess::MplsEthernet))
            }
        }
        // An associated channel header (VCCV, BFD, MPLS-TP OAM) in place of a control word.
        (MplsPayload::Auto, _, Some(1)) => (Some(Next::PwAch), None),
        (MplsPayload::Auto, ..) => (Some(Next::Ethernet), Some(Guess::MplsEthernet)),
    };
    step.next = next;
    step.guess = guess;
    Ok(step)
}

/// The pseudowire control word, then an Ethernet frame.
#[inline(always)]
pub(crate) fn decode_control_word(data: &[u8]) -> Res {
    if data.len() < HEADER_LEN {
        return Err(Anomaly::Truncated);
    }
    Ok(Step::new(Proto::PwControlWord, HEADER_LEN, Some(Next::Ethernet)))
}

/// How plausible it is that `data` starts with an Ethernet header: 2 for a unicast source and
/// an EtherType the decoder knows, 1 for an 802.3 length with room for LLC, else 0.
fn plausible_ethernet(table: &Table, data: Option<&[u8]>) -> u8 {
    let Some(d) = data.filter(|d| d.len() >= wire::ethernet::HEADER_LEN) else { return 0 };
    if d[6] & 1 != 0 {
        return 0;
    }
    let t = u16::from_be_bytes([d[12], d[13]]);
    if t < et::MIN_ETHERTYPE {
        return u8::from(usize::from(t) + wire::ethernet::HEADER_LEN <= d.len() && t >= 3);
    }
    match table.ethertype(t) {
        Lookup::Next(_) => 2,
        Lookup::Unknown => 0,
    }
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = Packet::new_unchecked(b);
    emit(Field::MplsLabel, u(p.label()));
    emit(Field::MplsTc, u(p.tc()));
    emit(Field::MplsTtl, u(p.ttl()));
    let bottom = Packet::new_unchecked(&b[b.len() - HEADER_LEN..]);
    emit(Field::MplsBottomLabel, u(bottom.label()));
    emit(Field::MplsDepth, u((b.len() / HEADER_LEN) as u64));
}

/// Streams (a pseudowire, MPLS in UDP) are named by the bottom label of the stack `b`.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    let bottom = b.get(b.len().checked_sub(HEADER_LEN)?..)?;
    Packet::new_checked(bottom).ok().map(|p| ("label", p.label()))
}

#[cfg(test)]
mod tests {
    use crate::protocol::testing::decode;
    use craft::{build, Header};

    #[test]
    fn reserved_labels_name_what_follows() {
        let ach = || vec![Header::Ach { channel: None }, Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2])];
        let labels = |l: Vec<u32>| vec![Header::eth(), Header::Mpls { labels: l }];
        assert_eq!(decode(&build(&[labels(vec![100, 13]), ach()].concat()), 1).0, "eth.mpls.pwach.ip");
        assert_eq!(decode(&build(&[labels(vec![100]), ach()].concat()), 1).0, "eth.mpls.pwach.ip");
        let bfd =
            [labels(vec![13]), vec![Header::Ach { channel: Some(0x0007) }, Header::Payload(vec![0; 24])]];
        assert_eq!(decode(&build(&bfd.concat()), 1).0, "eth.mpls.pwach");
        let oam = [labels(vec![100, 14]), vec![Header::Payload(vec![0, 0, 0, 1, 0, 0, 0, 0])]];
        assert_eq!(decode(&build(&oam.concat()), 1), ("eth.mpls".to_string(), vec![]));
    }
}

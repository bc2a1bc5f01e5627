//! Ethernet II and 802.3 (LLC follows), with the fast path for Ethernet then plain IPv4, and
//! the EtherTypes of protocols that carry no frame.
use super::{boolean, fabricpath, isl, Dispatch, Res, Step};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::{Layer, Stack};
use crate::table::Next;
use crate::walk::Dissector;
use wire::ethernet::ethertype as et;
use wire::{be16_pub as be16, MacAddr};

/// Where Ethernet is found; and known EtherTypes of protocols that carry no frame (keepalive,
/// CDP, NHRP, OSI, LLDP, slow protocols, EAPOL, PTP, MACsec, loopback, RARP, PPPoE discovery,
/// Cisco TTag, wake-on-LAN, flow control, local experimental, GeoNetworking).
pub(crate) const DISPATCH: Dispatch = Dispatch {
    ethertypes: &[
        (et::TEB, Next::Ethernet),
        (0x0000, Next::Leaf),
        (0x00fe, Next::Leaf),
        (0x2000, Next::Leaf),
        (0x2001, Next::Leaf),
        (0x88cc, Next::Leaf),
        (0x8809, Next::Leaf),
        (0x888e, Next::Leaf),
        (0x88f7, Next::Leaf),
        (0x88e5, Next::Leaf),
        (et::LOOPBACK, Next::Leaf),
        (0x8035, Next::Leaf),
        (et::PPPOE_DISCOVERY, Next::Leaf),
        (et::CISCO_TTAG, Next::Leaf),
        (0x0842, Next::Leaf),
        (0x8808, Next::Leaf),
        (0x88b5, Next::Leaf),
        (0x88b6, Next::Leaf),
        (0x893a, Next::Leaf),
    ],
    // Transparent Ethernet bridging as some vendors number it.
    gre_protocols: &[(0x6400, Next::Ethernet)],
    ip_protocols: &[(wire::ipv4::protocol::ETHERNET, Next::Ethernet)],
    udp_ports: &[],
    link_types: &[(1, Next::Ethernet)],
};

/// The fields of an Ethernet layer.
pub(crate) const FIELDS: &[Field] = &[
    Field::MacSource,
    Field::MacDestination,
    Field::EthernetProtocol,
    Field::IsUnicast,
    Field::IsMulticast,
    Field::IsBroadcast,
];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = wire::ethernet::Packet::new_checked(data)?;
    let t = p.ethertype();
    // The common case without a table lookup.
    if t == et::IPV4 && !d.ethertype_overrides() {
        return Ok(Step::new(Proto::Eth, wire::ethernet::HEADER_LEN, Some(Next::Ipv4)));
    }
    if t == et::FABRICPATH && data.len() >= wire::fabricpath::HEADER_LEN {
        return Ok(fabricpath::decode(data));
    }
    if p.is_8023() {
        // Cisco ISL puts its own header where Ethernet's is; its LEN sits in the type field.
        if wire::isl::is_isl(data) {
            return isl::decode(data);
        }
        return Ok(Step::new(Proto::Eth, wire::ethernet::HEADER_LEN, Some(Next::Llc)));
    }
    Ok(Step::new(Proto::Eth, wire::ethernet::HEADER_LEN, d.ethertype_next(t, stack)))
}

/// For an Ethernet frame carrying IPv4 without options, unfragmented, not IP-in-IP and with
/// a sane total length: what follows the IPv4 header and that total length. The walker
/// pushes both layers at once for it.
#[inline(always)]
pub(crate) fn fast_ipv4(d: &Dissector, data: &[u8]) -> Option<(Option<Next>, usize)> {
    let h = data.get(..34)?;
    if d.ethertype_overrides()
        || h[12] != 0x08
        || h[13] != 0x00
        || h[14] != 0x45
        || h[20] & 0x3f != 0
        || h[21] != 0
    {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([h[16], h[17]]));
    let protocol = h[23];
    if total < 20 || protocol == wire::ipv4::protocol::IPIP || protocol == wire::ipv4::protocol::IPV6 {
        return None;
    }
    Some((d.table().ip_protocol(protocol), total))
}

/// The EtherType at the end of the tags that follow an Ethernet header `eth` (`after` are the
/// layers after it).
fn ethernet_protocol(eth: &[u8], frame: &[u8], after: &[Layer]) -> Option<u16> {
    let mut t = be16(eth, 12);
    for l in after {
        if !l.proto.is_tag() {
            break;
        }
        let b = l.bytes(frame);
        if b.len() >= 2 {
            t = be16(b, b.len() - 2);
        }
    }
    (t >= et::MIN_ETHERTYPE).then_some(t)
}

pub(crate) fn fields(b: &[u8], frame: &[u8], after: &[Layer], emit: &mut dyn FnMut(Field, Value)) {
    let dst = MacAddr::from_bytes(&b[0..6]);
    emit(Field::MacSource, Value::Mac(MacAddr::from_bytes(&b[6..12])));
    emit(Field::MacDestination, Value::Mac(dst));
    if let Some(t) = ethernet_protocol(b, frame, after) {
        emit(Field::EthernetProtocol, super::u(t));
    }
    emit(Field::IsUnicast, boolean(!dst.is_multicast()));
    emit(Field::IsMulticast, boolean(dst.is_multicast()));
    emit(Field::IsBroadcast, boolean(dst.is_broadcast()));
}

//! Spreading frames over several sinks so that both directions of a conversation reach the
//! same one: a hash of the emitted frame's conversation, read from the decoded layers, that
//! does not change when source and destination swap (addresses and ports are ordered before
//! hashing).
use dissect::{Decoded, Layer, Proto};

/// A symmetric hash of the conversation of the frame a decapsulation emits, whose first layer
/// is `first_layer` of `decoded`: the first IPv4 or IPv6 header from there (past tags), its
/// protocol and the TCP, UDP or SCTP ports after it (not for a later fragment); else the
/// Ethernet addresses of the emitted frame; 0 when it has neither.
pub fn conversation_hash(decoded: Decoded<'_>, first_layer: usize) -> u64 {
    let (frame, layers) = (decoded.frame(), decoded.stack().layers());
    let emitted = layers.get(first_layer..).unwrap_or(&[]);
    let Some((i, ip)) =
        emitted.iter().enumerate().find(|(_, l)| matches!(l.proto, Proto::Ipv4 | Proto::Ipv6))
    else {
        return ethernet_hash(frame, emitted.first());
    };
    let b = ip.bytes(frame);
    let (mut h, protocol, whole) = match ip.proto {
        Proto::Ipv4 => match wire::ipv4::Packet::new_checked(b) {
            Ok(p) => (
                mix(ordered(&p.src_addr().0, &p.dst_addr().0), u64::from(p.protocol())),
                p.protocol(),
                p.frag_offset() == 0,
            ),
            Err(_) => return ethernet_hash(frame, emitted.first()),
        },
        _ => match wire::ipv6::Packet::new_checked(b) {
            Ok(p) => (
                mix(ordered(&p.src_addr().0, &p.dst_addr().0), u64::from(p.next_header())),
                p.next_header(),
                true,
            ),
            Err(_) => return ethernet_hash(frame, emitted.first()),
        },
    };
    let transport = emitted.get(i + 1).filter(|_| whole);
    if let Some((sp, dp)) = transport.and_then(|l| ports(frame, l, protocol)) {
        let (lo, hi) = if sp <= dp { (sp, dp) } else { (dp, sp) };
        h = mix(h, (u64::from(lo) << 16) | u64::from(hi));
    }
    h
}

/// The ports of a TCP, UDP or SCTP layer.
fn ports(frame: &[u8], l: &Layer, protocol: u8) -> Option<(u16, u16)> {
    let b = l.bytes(frame);
    match (l.proto, protocol) {
        (Proto::Tcp, 6) => wire::tcp::Packet::new_checked(b).ok().map(|p| (p.src_port(), p.dst_port())),
        (Proto::Udp, 17) => wire::udp::Packet::new_checked(b).ok().map(|p| (p.src_port(), p.dst_port())),
        // SCTP's common header starts with the two ports, as UDP's does.
        (Proto::Sctp, 132) => wire::udp::Packet::new_checked(b).ok().map(|p| (p.src_port(), p.dst_port())),
        _ => None,
    }
}

/// The hash of an Ethernet layer's two addresses, in either order.
fn ethernet_hash(frame: &[u8], l: Option<&Layer>) -> u64 {
    let eth = l
        .filter(|l| l.proto == Proto::Eth)
        .and_then(|l| wire::ethernet::Packet::new_checked(l.bytes(frame)).ok());
    eth.map_or(0, |e| mix(ordered(&e.source().0, &e.destination().0), 0))
}

/// A hash of two byte strings that is the same in either order.
fn ordered(a: &[u8], b: &[u8]) -> u64 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &x in lo.iter().chain(hi) {
        h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29)
}

#[cfg(test)]
mod tests {
    use super::*;
    use craft::{build, Header};
    use dissect::{Dissector, LinkType, Stack};

    /// A TCP frame inside VXLAN between `src` and `dst`.
    fn frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        build(&[
            Header::eth(),
            Header::ipv4([192, 0, 2, 1], [192, 0, 2, 2]),
            Header::Udp { src: 5000, dst: 4789 },
            Header::Vxlan { vni: 7 },
            Header::eth(),
            Header::ipv4(src, dst),
            Header::Tcp { src: sport, dst: dport, flags: 0x10 },
        ])
    }

    fn hash(f: &[u8]) -> u64 {
        let mut stack = Stack::new();
        let d = Dissector::default().dissect(f, LinkType::ETHERNET, &mut stack);
        // The emitted frame starts at the inner Ethernet header (layer 4).
        conversation_hash(d, 4)
    }

    #[test]
    fn both_directions_hash_alike_and_conversations_differ() {
        let a = frame([10, 0, 0, 1], [10, 0, 0, 2], 40000, 443);
        let b = frame([10, 0, 0, 2], [10, 0, 0, 1], 443, 40000);
        assert_eq!(hash(&a), hash(&b));
        let c = frame([10, 0, 0, 1], [10, 0, 0, 2], 40001, 443);
        assert_ne!(hash(&a), hash(&c));
        // 1,000 conversations spread over 2 sinks about evenly.
        let ones = (0..1000u16)
            .filter(|i| hash(&frame([10, 0, 0, 1], [10, 0, 0, 2], 30000 + i, 80)) % 2 == 1)
            .count();
        assert!((400..600).contains(&ones), "{ones}");
        let mut stack = Stack::new();
        assert_eq!(
            conversation_hash(Dissector::default().dissect(&[], LinkType::ETHERNET, &mut stack), 0),
            0
        );
    }
}

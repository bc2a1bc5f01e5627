//! What the fuzz targets share: the inputs they split into parts, and the real frames they
//! evaluate flow expressions against.

/// Splits `data` at the first `count - 1` zero bytes into `count` parts (missing ones empty).
pub fn parts(data: &[u8], count: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(count);
    let mut rest = data;
    for _ in 1..count {
        match rest.iter().position(|b| *b == 0) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out.push(rest);
    out
}

/// Generated frames of every encapsulation, alone and nested.
pub fn frames() -> Vec<Vec<u8>> {
    use craft::mix::{Encap, Generator, Mix};
    let mut frames = Vec::new();
    for nest in [1, 2] {
        let encaps = Encap::NAMES.iter().map(|(_, e)| *e).collect();
        let mut g = Generator::new(Mix { encaps, nest, max_size: 200, ..Mix::default() });
        frames.extend((0..30).map(|_| g.frame()));
    }
    frames.extend(layer2_frames());
    frames
}

/// Built frames of the carriers the generator does not make: CAPWAP with 802.11 and an
/// A-MSDU, Aruba's 802.11 in GRE, ISL, GTP', GTPv2-C, MPLS with a GAL.
fn layer2_frames() -> Vec<Vec<u8>> {
    use craft::{amsdu, build, Header};
    use wire::MacAddr;
    let a = |n| MacAddr([2, 0, 0, 0, 0, n]);
    let wlan = |ds, amsdu| {
        Header::Wlan(wire::ieee80211::Repr {
            ds,
            addresses: [a(1), a(2), a(3), a(4)],
            qos: true,
            amsdu,
            protected: false,
        })
    };
    let outer = || vec![Header::eth(), Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2])];
    let packet = || vec![Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2]), Header::Udp { src: 1, dst: 2 }];
    let capwap = vec![
        Header::Udp { src: 5247, dst: 5247 },
        Header::Capwap(wire::capwap::Repr { radio_id: 1, wbid: 1, native: true, radio_mac: Some([0; 6]) }),
    ];
    let agg = amsdu([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 8], &[packet(), packet()]);
    vec![
        build(&[outer(), capwap.clone(), vec![wlan(1, false)], packet()].concat()),
        build(&[outer(), capwap, vec![wlan(3, true), Header::Payload(agg.clone())]].concat()),
        build(
            &[outer(), vec![Header::GreProtocol { protocol: 0x8200 }, wlan(2, true), Header::Payload(agg)]]
                .concat(),
        ),
        build(&[vec![Header::Isl { vlan: 7 }, Header::eth()], packet()].concat()),
        build(
            &[outer(), vec![Header::Udp { src: 3386, dst: 3386 }, Header::GtpPrime { msg_type: 240 }]]
                .concat(),
        ),
        build(
            &[
                outer(),
                vec![Header::Udp { src: 2123, dst: 2123 }, Header::Gtpv2 { msg_type: 32, teid: Some(1) }],
            ]
            .concat(),
        ),
        build(
            &[
                vec![Header::eth(), Header::Mpls { labels: vec![16, 13] }, Header::Ach { channel: None }],
                packet(),
            ]
            .concat(),
        ),
    ]
}

/// Link types a frame may be given: every one the decoder reads, and one it does not.
pub const LINKS: &[dissect::LinkType] = &[
    dissect::LinkType::ETHERNET,
    dissect::LinkType::RAW,
    dissect::LinkType::IPV4,
    dissect::LinkType::IPV6,
    dissect::LinkType::LINUX_SLL,
    dissect::LinkType::LINUX_SLL2,
    dissect::LinkType::NULL,
    dissect::LinkType::PPP,
    dissect::LinkType::MPLS,
    // Cisco HDLC, 802.11, radiotap, OpenBSD loopback, PPPoE, ATM LLC.
    dissect::LinkType(104),
    dissect::LinkType(105),
    dissect::LinkType(127),
    dissect::LinkType(108),
    dissect::LinkType(51),
    dissect::LinkType(100),
    dissect::LinkType(147),
];

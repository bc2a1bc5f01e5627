//! Encapsulations no public capture covers, built with `wire`'s emit code and judged by
//! tshark: for every frame, detunnel must report exactly the fields tshark reports.
mod common;

use common::*;
use craft::{build, pcap_file, pcap_file_snapped, Header};
use wire::erspan::Platform;

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];
const C: [u8; 4] = [192, 168, 1, 1];
const D: [u8; 4] = [192, 168, 1, 2];

fn v6(last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = 0xb8;
    a[15] = last;
    a
}

fn inner_tcp() -> Vec<Header> {
    vec![
        Header::eth(),
        Header::ipv4(C, D),
        Header::Tcp { src: 1234, dst: 80, flags: 0x02 },
        Header::Payload(vec![0; 6]),
    ]
}

/// A frame between two vendor MACs (tshark 4.0 tells MPLS pseudowires with and without
/// control word apart by whether the addresses have known vendor prefixes).
fn inner_vendor() -> Vec<Header> {
    vec![
        Header::Eth { src: [0x00, 0x50, 0x56, 0xaa, 0xbb, 0xcc], dst: [0x00, 0x1b, 0x21, 0x3a, 0x4b, 0x5c] },
        Header::ipv4(C, D),
        Header::Tcp { src: 1234, dst: 80, flags: 0x02 },
    ]
}

fn inner_udp6() -> Vec<Header> {
    vec![Header::ipv6(v6(3), v6(4)), Header::Udp { src: 5353, dst: 9999 }, Header::Payload(vec![1; 12])]
}

fn outer4() -> Vec<Header> {
    vec![Header::eth(), Header::ipv4(A, B)]
}

fn frame(parts: &[Vec<Header>]) -> Vec<u8> {
    build(&parts.concat())
}

/// Named cases: the frame and the extra tshark arguments its judgement needs.
/// A named frame, the extra tshark arguments and the extra detunnel flags its judgement needs.
type Case = (&'static str, Vec<u8>, Vec<&'static str>, Vec<&'static str>);

fn cases() -> Vec<Case> {
    let geneve_crit = {
        let mut opts = vec![0u8; 8];
        wire::geneve::emit_option(&mut opts, 0x0102, 0x80, &[0xde, 0xad, 0xbe, 0xef]);
        opts
    };
    let platforms = [
        Platform::Vsm { domain_id: 5, port_index: 77 },
        Platform::PortTimestamp { port_index: 12, timestamp_high: 1 },
        Platform::Reserved4,
        Platform::SwitchPort { id: 5, switch_id: 9, port_index: 3, seconds: 1000 },
        Platform::SwitchPort { id: 6, switch_id: 9, port_index: 3, seconds: 1000 },
        Platform::SourceIndex { id: 7, source_index: 44, timestamp_high: 2 },
    ];
    let mut v = vec![
        (
            "nvgre",
            frame(&[outer4(), vec![Header::Nvgre { vsid: 0x1234, flow_id: 7 }], inner_tcp()]),
            vec![],
            vec![],
        ),
        (
            "trill",
            frame(&[vec![Header::eth(), Header::Trill { ingress: 0x100, egress: 0x200 }], inner_tcp()]),
            vec![],
            vec![],
        ),
        (
            "l2tpv3",
            frame(&[outer4(), vec![Header::L2tpv3 { session: 0x2a, cookie: vec![] }], inner_tcp()]),
            vec!["-o", "l2tp.cookie_size:0", "-o", "l2tp.l2_specific:0"],
            vec![],
        ),
        (
            "erspan3-ft2-ipv4",
            frame(&[
                outer4(),
                vec![
                    Header::Erspan3 { session: 9, timestamp: 1, platform: None },
                    Header::ipv4(C, D),
                    Header::Udp { src: 1, dst: 2 },
                ],
            ]),
            vec![],
            vec![],
        ),
        (
            "erspan-over-ipv6",
            frame(&[
                vec![Header::eth(), Header::ipv6(v6(1), v6(2)), Header::Erspan2 { session: 33, index: 5 }],
                inner_tcp(),
            ]),
            vec![],
            vec![],
        ),
        (
            "erspan3-over-ipv6-dstopts",
            frame(&[
                vec![Header::eth(), Header::Ipv6 { src: v6(1), dst: v6(2), dst_opts: true }],
                vec![Header::Erspan3 { session: 34, timestamp: 9, platform: None }],
                inner_tcp(),
            ]),
            vec![],
            vec![],
        ),
        (
            "geneve-critical-options",
            frame(&[
                outer4(),
                vec![
                    Header::Udp { src: 40000, dst: 6081 },
                    Header::Geneve { vni: 77, options: geneve_crit, critical: true },
                ],
                inner_tcp(),
            ]),
            vec![],
            vec![],
        ),
        (
            "gpe-ipv4",
            frame(&[
                outer4(),
                vec![
                    Header::Udp { src: 40001, dst: 4790 },
                    Header::VxlanGpe { vni: 100 },
                    Header::ipv4(C, D),
                    Header::Udp { src: 7, dst: 8 },
                ],
            ]),
            vec![],
            vec![],
        ),
        (
            "gpe-ipv6",
            frame(&[
                outer4(),
                vec![Header::Udp { src: 40002, dst: 4790 }, Header::VxlanGpe { vni: 101 }],
                inner_udp6(),
            ]),
            vec![],
            vec![],
        ),
        (
            "gpe-ethernet",
            frame(&[
                outer4(),
                vec![Header::Udp { src: 40003, dst: 4790 }, Header::VxlanGpe { vni: 102 }],
                inner_tcp(),
            ]),
            vec![],
            vec![],
        ),
        (
            "mpls-ethernet-pw-no-cw",
            frame(&[vec![Header::eth(), Header::Mpls { labels: vec![100, 200] }], inner_vendor()]),
            vec![],
            vec![],
        ),
        (
            "mpls-ethernet-pw-cw",
            frame(&[
                vec![Header::eth(), Header::Mpls { labels: vec![300] }, Header::PwControlWord],
                inner_vendor(),
            ]),
            vec![],
            vec![],
        ),
        (
            "qinq-vntag-etag",
            frame(&[vec![
                Header::eth(),
                Header::Vlan { tpid: 0x88a8, vid: 100 },
                Header::Vlan { tpid: 0x8100, vid: 200 },
                Header::ipv4(C, D),
                Header::Udp { src: 5, dst: 6 },
            ]]),
            vec![],
            vec![],
        ),
        (
            "vxlan-in-geneve",
            frame(&[
                outer4(),
                vec![
                    Header::Udp { src: 1000, dst: 6081 },
                    Header::Geneve { vni: 5, options: vec![], critical: false },
                ],
                vec![
                    Header::eth(),
                    Header::ipv4(C, D),
                    Header::Udp { src: 2000, dst: 4789 },
                    Header::Vxlan { vni: 42 },
                ],
                inner_tcp(),
            ]),
            vec![],
            vec![],
        ),
        (
            "gtp-u-ipv6",
            frame(&[
                outer4(),
                vec![Header::Udp { src: 2152, dst: 2152 }, Header::GtpU { teid: 0xabcd }],
                inner_udp6(),
            ]),
            vec![],
            vec![],
        ),
        ("ipip-6in4", frame(&[outer4(), inner_udp6()]), vec![], vec![]),
        (
            "vntag",
            frame(&[vec![
                Header::eth(),
                Header::VnTag { dst_vif: 3, src_vif: 4 },
                Header::Vlan { tpid: 0x8100, vid: 7 },
                Header::ipv4(C, D),
            ]]),
            vec![],
            vec![],
        ),
        (
            "etag",
            frame(&[vec![
                Header::eth(),
                Header::ETag { ecid: 77 },
                Header::ipv4(C, D),
                Header::Tcp { src: 1, dst: 2, flags: 0x10 },
            ]]),
            vec![],
            vec![],
        ),
    ];
    // GTP' and GTPv2-C carry no packet; GTPv1 messages other than G-PDU neither.
    let udp = |port| Header::Udp { src: port, dst: port };
    v.push((
        "gtp-prime",
        frame(&[outer4(), vec![udp(3386), Header::GtpPrime { msg_type: 240 }, Header::Payload(vec![1; 12])]]),
        vec![],
        vec![],
    ));
    v.push((
        "gtpv2-c",
        frame(&[
            outer4(),
            vec![udp(2123), Header::Gtpv2 { msg_type: 32, teid: Some(9) }, Header::Payload(vec![0; 8])],
        ]),
        vec![],
        vec![],
    ));
    // MPLS reserved labels: GAL then an associated channel header carrying IPv4; OAM alert;
    // an associated channel header in place of a control word.
    let ach_udp = || vec![Header::Ach { channel: None }, Header::ipv4(C, D), Header::Udp { src: 3, dst: 4 }];
    v.push((
        "mpls-gal-ach",
        frame(&[vec![Header::eth(), Header::Mpls { labels: vec![100, 13] }], ach_udp()]),
        vec![],
        vec![],
    ));
    v.push((
        "mpls-oam-alert",
        frame(&[vec![
            Header::eth(),
            Header::Mpls { labels: vec![100, 14] },
            Header::Payload(vec![0, 0, 0, 1, 2, 3]),
        ]]),
        vec![],
        vec![],
    ));
    v.push((
        "pw-ach",
        frame(&[vec![Header::eth(), Header::Mpls { labels: vec![200] }], ach_udp()]),
        vec![],
        vec![],
    ));
    // Teredo carried inside UDP inside Teredo.
    let teredo_v6 = {
        let mut a = v6(9);
        a[..4].copy_from_slice(&[0x20, 0x01, 0x00, 0x00]);
        a
    };
    v.push((
        "teredo-in-teredo",
        frame(&[
            outer4(),
            vec![Header::Udp { src: 3544, dst: 50000 }, Header::ipv6(teredo_v6, v6(8))],
            vec![Header::Udp { src: 3544, dst: 50001 }, Header::ipv6(v6(7), teredo_v6)],
            vec![Header::Udp { src: 1, dst: 2 }],
        ]),
        vec![],
        vec![],
    ));
    // PPTP: PPP in enhanced GRE, carrying IPv4 and IPv6.
    let pptp =
        || vec![Header::Pptp { call: 0x4242, seq: Some(7), ack: Some(6) }, Header::Ppp { protocol: None }];
    v.push(("pptp-ipv4", frame(&[outer4(), pptp(), inner_tcp()[1..].to_vec()]), vec![], vec![]));
    v.push(("pptp-ipv6", frame(&[outer4(), pptp(), inner_udp6()]), vec![], vec![]));
    for (i, pl) in platforms.into_iter().enumerate() {
        let f = frame(&[
            outer4(),
            vec![Header::Erspan3 { session: 100 + i as u16, timestamp: 7, platform: Some(pl) }],
            inner_tcp(),
        ]);
        v.push(("erspan3-platform", f, vec![], vec![]));
    }
    v
}

/// For frames tshark cannot follow to the end: the link type and offset of the inner packet.
fn continuation(name: &str) -> Option<(u32, usize)> {
    match name {
        "l2tpv3" => Some((1, 14 + 20 + 4)),
        "erspan3-ft2-ipv4" => Some((228, 14 + 20 + 8 + 12)),
        _ => None,
    }
}

fn erspan2_header(session: u16) -> Vec<u8> {
    let mut e = vec![0; 8];
    wire::erspan::Type2Repr { session_id: session, index: 1, ..Default::default() }.emit(&mut e);
    e
}

#[test]
fn tshark_agrees_on_synthetic_encapsulations() {
    if !have_tool("tshark") {
        return;
    }
    let dir = TempDir::new("judge");
    let mut failures = Vec::new();
    let mut all = cases();
    // tshark cannot be told that GRE 0x8949 is ERSPAN, so it judges the same frame with the
    // standard 0x88be while detunnel reads 0x8949 with the SONiC entry configured.
    let sonic = frame(&[
        outer4(),
        vec![Header::GreProtocol { protocol: 0x8949 }, Header::Payload(erspan2_header(55))],
        inner_tcp(),
    ]);
    let standard = frame(&[
        outer4(),
        vec![Header::GreProtocol { protocol: 0x88be }, Header::Payload(erspan2_header(55))],
        inner_tcp(),
    ]);
    all.push(("gre-0x8949-erspan", sonic, vec![], vec!["--gre-protocol", "0x8949=erspan"]));
    for (i, (name, bytes, tshark_args, detunnel_args)) in all.into_iter().enumerate() {
        let path = dir.join(&format!("{i}-{name}.pcap"));
        std::fs::write(&path, pcap_file(1, std::slice::from_ref(&bytes))).unwrap();
        let judged = if name == "gre-0x8949-erspan" {
            let twin = dir.join("twin.pcap");
            std::fs::write(&twin, pcap_file(1, std::slice::from_ref(&standard))).unwrap();
            twin
        } else {
            path.clone()
        };
        let mut want = tshark_fields(&judged, &tshark_args).remove(0);
        let mut got = detunnel_fields(&path, &detunnel_args).remove(0);
        // tshark 4.0 stops where the payload type was agreed out of band (L2TPv3) or where
        // it treats ERSPAN III frame type 2 as data: it judges the inner packet on its own.
        if let Some((link, offset)) = continuation(name) {
            let inner = dir.join("inner.pcap");
            std::fs::write(&inner, pcap_file(link, &[bytes[offset..].to_vec()])).unwrap();
            continue_with(&mut want, tshark_fields(&inner, &[]).remove(0));
        }
        without_skipped(&mut want, &mut got);
        if want != got {
            failures.push(format!("{name}:\n  tshark   {want:?}\n  detunnel {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
}

/// What tshark reads of the frames in `path`: frame.protocols, ip/ipv6 source and destination.
fn tshark_view(path: &std::path::Path) -> Vec<String> {
    tshark_rows(path, &["frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst"])
        .into_iter()
        .map(|r| r.join(" "))
        .collect()
}

#[test]
fn decap_turns_ppp_inside_tunnels_into_ethernet_tshark_reads() {
    if !have_tool("tshark") {
        return;
    }
    let dir = TempDir::new("judge-ppp");
    let pptp = |protocol| vec![Header::Pptp { call: 9, seq: Some(1), ack: None }, Header::Ppp { protocol }];
    let carried4 = inner_tcp()[1..].to_vec();
    let carried6 = inner_udp6();
    let frames = vec![
        frame(&[outer4(), pptp(None), carried4.clone()]),
        frame(&[outer4(), pptp(None), carried6.clone()]),
        // LCP: no frame to forward.
        frame(&[outer4(), pptp(Some(wire::ppp::protocol::LCP)), vec![Header::Payload(vec![1, 1, 0, 4])]]),
    ];
    let input = dir.join("pptp.pcap");
    std::fs::write(&input, pcap_file(1, &frames)).unwrap();
    // What tshark says the inner packets are, each on its own in a raw-IP capture.
    let alone = dir.join("alone.pcap");
    std::fs::write(&alone, pcap_file(101, &[build(&carried4), build(&carried6)])).unwrap();
    let want: Vec<String> =
        tshark_view(&alone).into_iter().map(|l| l.replacen("raw:", "eth:ethertype:", 1)).collect();
    let output = dir.join("out.pcap");
    let stats = decap_file(&input, &output, &[]);
    assert!(
        want.len() == 2 && want[0].starts_with("eth:ethertype:ip:tcp 192.168.1.1 192.168.1.2"),
        "{want:?}"
    );
    assert!(want[1].starts_with("eth:ethertype:ipv6:udp"), "{want:?}");
    let got = tshark_view(&output);
    assert_eq!(got, want);
    assert_eq!(stats["dropped"]["no_inner_frame"], 1, "{stats}");
    // With --keep-control the LCP frame is emitted too, as a PPPoE session frame whose session
    // is the call ID, and tshark reads it as PPP's LCP.
    let kept = dir.join("kept.pcap");
    decap_file(&input, &kept, &["--keep-control"]);
    let got = tshark_view(&kept);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[2].starts_with("eth:ethertype:pppoes:ppp:lcp"), "{got:?}");
    assert_eq!(tshark_rows(&kept, &["pppoe.session_id"])[2], ["0x0009"]);
}

#[test]
fn tshark_agrees_on_inner_ipv4_headers_cut_by_the_capture() {
    if !have_tool("tshark") {
        return;
    }
    let dir = TempDir::new("judge-cut");
    let full = frame(&[
        outer4(),
        vec![Header::Udp { src: 49152, dst: 4789 }, Header::Vxlan { vni: 77 }],
        inner_tcp(),
    ]);
    // Where the inner IPv4 header starts: outer Ethernet, IPv4, UDP, VXLAN, inner Ethernet.
    let at = 14 + 20 + 8 + 8 + 14;
    let mut failures = Vec::new();
    for cut in [10, 12, 15, 16, 19, 20] {
        let path = dir.join(&format!("cut{cut}.pcap"));
        std::fs::write(&path, pcap_file_snapped(1, std::slice::from_ref(&full), at + cut)).unwrap();
        let mut want = tshark_fields(&path, &[]).remove(0);
        let mut got = detunnel_fields(&path, &[]).remove(0);
        without_skipped(&mut want, &mut got);
        // The protocol is reported whenever its byte was captured, the addresses once whole.
        assert_eq!(got.get("ipprotocol.1").map(String::as_str), Some("6"), "cut {cut}: {got:?}");
        assert_eq!(got.contains_key("ipsource.1"), cut >= 16, "cut {cut}: {got:?}");
        if want != got {
            failures.push(format!("cut {cut}:\n  tshark   {want:?}\n  detunnel {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! Wireless and other layer-2 carriers no public capture here covers — CAPWAP with 802.11 and
//! with 802.3 payloads, Aruba's 802.11 in GRE, A-MSDU aggregates, Cisco ISL, and the link types
//! that carry IP or Ethernet (Cisco HDLC, 802.11, radiotap, OpenBSD loopback, PPPoE, LLC) —
//! built with `wire`'s emit code and judged by tshark: `inspect` reports the fields tshark
//! reports, and `decap` turns each into plain Ethernet frames tshark reads with the inner
//! addresses and ports and no tunnel left.
mod common;

use common::*;
use craft::{amsdu, build, pcap_file, Header};
use std::path::Path;
use std::process::Command;
use wire::capwap;
use wire::ieee80211::Repr as Wlan;
use wire::MacAddr;

const OUTER_A: [u8; 4] = [10, 0, 0, 1];
const OUTER_B: [u8; 4] = [10, 0, 0, 2];
const C: [u8; 4] = [192, 168, 1, 1];
const D: [u8; 4] = [192, 168, 1, 2];

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

fn outer4() -> Vec<Header> {
    vec![Header::eth(), Header::ipv4(OUTER_A, OUTER_B)]
}

/// A UDP packet with no payload (tshark then has no `data` layer to cut its view at).
fn udp_packet(sport: u16) -> Vec<Header> {
    vec![Header::ipv4(C, D), Header::Udp { src: sport, dst: 53000 }]
}

fn tcp6_packet() -> Vec<Header> {
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    a[..2].copy_from_slice(&[0x20, 0x01]);
    b[..2].copy_from_slice(&[0x20, 0x01]);
    (a[15], b[15]) = (3, 4);
    vec![Header::ipv6(a, b), Header::Tcp { src: 443, dst: 50000, flags: 0x12 }]
}

/// An 802.11 QoS data frame header with `ds` bits, addresses 1 to 4 being `mac(1..=4)`.
fn wlan(ds: u8, amsdu: bool, protected: bool) -> Header {
    Header::Wlan(Wlan {
        ds,
        addresses: [MacAddr(mac(1)), MacAddr(mac(2)), MacAddr(mac(3)), MacAddr(mac(4))],
        qos: true,
        amsdu,
        protected,
    })
}

fn capwap_data(native: bool) -> Vec<Header> {
    vec![
        Header::Udp { src: 5247, dst: 5247 },
        Header::Capwap(capwap::Repr {
            radio_id: 1,
            wbid: capwap::WBID_IEEE80211,
            native,
            radio_mac: Some(mac(0x30)),
        }),
    ]
}

/// Swaps the two frame control bytes of the 802.11 header at `at`, as Cisco access points
/// send them over CAPWAP (and as tshark reads CAPWAP by default).
fn swap_fc(mut frame: Vec<u8>, at: usize) -> Vec<u8> {
    frame.swap(at, at + 1);
    frame
}

/// Where the 802.11 header starts in a CAPWAP frame built by `capwap_data`.
const CAPWAP_WLAN_AT: usize = 14 + 20 + 8 + 16;

/// Three subframes from `mac(9)` to `mac(8)`: UDP over IPv4 twice, TCP over IPv6.
fn aggregate() -> Vec<u8> {
    amsdu(mac(9), mac(8), &[udp_packet(1001), udp_packet(1002), tcp6_packet()])
}

/// A frame to judge: name, link type, bytes, extra tshark arguments.
type Case = (&'static str, u32, Vec<u8>, Vec<&'static str>);

fn cases() -> Vec<Case> {
    let frame = |parts: &[Vec<Header>]| build(&parts.concat());
    vec![
        (
            "capwap-80211-swapped-fc",
            1,
            swap_fc(
                frame(&[outer4(), capwap_data(true), vec![wlan(1, false, false)], udp_packet(1)]),
                CAPWAP_WLAN_AT,
            ),
            vec![],
        ),
        (
            "capwap-80211",
            1,
            frame(&[outer4(), capwap_data(true), vec![wlan(2, false, false)], udp_packet(2)]),
            vec!["-o", "capwap.swap_fc:FALSE"],
        ),
        (
            "capwap-8023",
            1,
            frame(&[outer4(), capwap_data(false), vec![Header::eth()], udp_packet(3)]),
            vec![],
        ),
        (
            "capwap-amsdu",
            1,
            swap_fc(
                frame(&[
                    outer4(),
                    capwap_data(true),
                    vec![wlan(1, true, false), Header::Payload(aggregate())],
                ]),
                CAPWAP_WLAN_AT,
            ),
            vec![],
        ),
        (
            "aruba-gre-80211",
            1,
            frame(&[
                outer4(),
                vec![Header::GreProtocol { protocol: 0x8200 }, wlan(3, false, false)],
                tcp6_packet(),
            ]),
            vec![],
        ),
        (
            "aruba-gre-amsdu",
            1,
            frame(&[
                outer4(),
                vec![
                    Header::GreProtocol { protocol: 0x8210 },
                    wlan(2, true, false),
                    Header::Payload(aggregate()),
                ],
            ]),
            vec![],
        ),
        ("isl", 1, frame(&[vec![Header::Isl { vlan: 300 }, Header::eth()], udp_packet(4)]), vec![]),
        (
            "isl-vlan-tag",
            1,
            frame(&[
                vec![Header::Isl { vlan: 301 }, Header::eth(), Header::Vlan { tpid: 0x8100, vid: 12 }],
                udp_packet(5),
            ]),
            vec![],
        ),
        ("chdlc", 104, frame(&[vec![Header::Chdlc], udp_packet(6)]), vec![]),
        ("chdlc-ipv6", 104, frame(&[vec![Header::Chdlc], tcp6_packet()]), vec![]),
        ("ieee80211", 105, frame(&[vec![wlan(1, false, false)], udp_packet(7)]), vec![]),
        (
            "radiotap",
            127,
            [radiotap(), frame(&[vec![wlan(2, false, false)], udp_packet(8)])].concat(),
            vec![],
        ),
        ("openbsd-loopback", 108, [vec![0, 0, 0, 2], build(&udp_packet(9))].concat(), vec![]),
        ("pppoe-link", 51, pppoe_session(build(&udp_packet(10))), vec![]),
        (
            "atm-llc",
            100,
            [vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00], build(&udp_packet(11))].concat(),
            vec![],
        ),
    ]
}

/// A radiotap header with only the Flags field (no FCS).
fn radiotap() -> Vec<u8> {
    vec![0, 0, 9, 0, 0x02, 0, 0, 0, 0]
}

/// A PPPoE session header (and PPP's IPv4 protocol) in front of `packet`.
fn pppoe_session(packet: Vec<u8>) -> Vec<u8> {
    let len = (packet.len() + 2) as u16;
    let mut v = vec![0x11, 0x00, 0x00, 0x07];
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&[0x00, 0x21]);
    v.extend_from_slice(&packet);
    v
}

#[test]
fn tshark_agrees_on_wireless_and_layer2_carriers() {
    if !have_tool("tshark") {
        return;
    }
    let dir = TempDir::new("judge-l2");
    let mut failures = Vec::new();
    for (i, (name, link, bytes, tshark_args)) in cases().into_iter().enumerate() {
        let path = dir.join(&format!("{i}-{name}.pcap"));
        std::fs::write(&path, pcap_file(link, std::slice::from_ref(&bytes))).unwrap();
        let mut want = tshark_fields(&path, &tshark_args).remove(0);
        let mut got = detunnel_fields(&path, &[]).remove(0);
        if name.starts_with("isl") {
            // tshark 4.0 files ISL's VLAN under isl.vlan_id, not vlan.id: compare it there.
            let isl_vlan = tshark_rows(&path, &["isl.vlan_id"]).remove(0).remove(0);
            assert_eq!(got.remove("vlan"), Some(isl_vlan), "{name}");
            let shift: Vec<(String, String)> = got.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            got = shift.into_iter().map(|(k, v)| (unshift_vlan(&k), v)).collect();
        }
        without_skipped(&mut want, &mut got);
        let stack = detunnel_stack(&path);
        if want != got || want.len() < 4 {
            failures.push(format!("{name} [{stack}]:\n  tshark   {want:?}\n  detunnel {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} disagreements:\n{}", failures.len(), failures.join("\n"));
}

/// `vlan.N` as it is numbered without the ISL header's VLAN (which came first).
fn unshift_vlan(name: &str) -> String {
    match name.strip_prefix("vlan.") {
        Some("1") => "vlan".to_string(),
        Some(n) => format!("vlan.{}", n.parse::<usize>().unwrap() - 1),
        None => name.to_string(),
    }
}

/// The `stack` field of the only frame in `pcap`.
fn detunnel_stack(pcap: &Path) -> String {
    let out = Command::new(detunnel()).args(["inspect", "-q", "-r"]).arg(pcap).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().nth(3).unwrap_or("").to_string()
}

/// What tshark reads of the frames in `path`, one line each.
fn tshark_view(path: &Path) -> Vec<String> {
    let fields =
        ["frame.protocols", "eth.src", "eth.dst", "ip.src", "ipv6.src", "udp.srcport", "tcp.srcport"];
    tshark_rows(path, &fields).into_iter().map(|r| r.join(" ")).collect()
}

/// Runs `decap` on `frames` of `link` and returns tshark's view of its output and the summary.
fn decapsulated(
    dir: &TempDir,
    name: &str,
    link: u32,
    frames: &[Vec<u8>],
) -> (Vec<String>, serde_json::Value) {
    let input = dir.join(&format!("{name}.pcap"));
    std::fs::write(&input, pcap_file(link, frames)).unwrap();
    let output = dir.join(&format!("{name}-out.pcap"));
    let stats = decap_file(&input, &output, &[]);
    (tshark_view(&output), stats)
}

/// tshark's view of `packets`, each given Ethernet addresses `src` and `dst`.
fn as_ethernet(dir: &TempDir, name: &str, packets: &[(Vec<Header>, [u8; 6], [u8; 6])]) -> Vec<String> {
    let frames: Vec<Vec<u8>> = packets
        .iter()
        .map(|(p, src, dst)| build(&[vec![Header::Eth { src: *src, dst: *dst }], p.clone()].concat()))
        .collect();
    let path = dir.join(&format!("{name}-want.pcap"));
    std::fs::write(&path, pcap_file(1, &frames)).unwrap();
    tshark_view(&path)
}

#[test]
fn decap_turns_wireless_and_layer2_carriers_into_plain_ethernet() {
    if !have_tool("tshark") {
        return;
    }
    let dir = TempDir::new("judge-l2-decap");
    let frame = |parts: &[Vec<Header>]| build(&parts.concat());
    let agg = || {
        vec![
            (udp_packet(1001), mac(9), mac(8)),
            (udp_packet(1002), mac(9), mac(8)),
            (tcp6_packet(), mac(9), mac(8)),
        ]
    };
    // The tunnelled frames, and what a tool should receive for each: 802.11 addresses by the
    // DS bits (To-DS: destination is address 3, source address 2; From-DS: destination
    // address 1, source address 3; both: address 3 and address 4).
    let tunnelled = vec![
        (
            "capwap-80211",
            1,
            vec![
                swap_fc(
                    frame(&[outer4(), capwap_data(true), vec![wlan(1, false, false)], udp_packet(1)]),
                    CAPWAP_WLAN_AT,
                ),
                frame(&[outer4(), capwap_data(true), vec![wlan(2, false, false)], tcp6_packet()]),
            ],
            vec![(udp_packet(1), mac(2), mac(3)), (tcp6_packet(), mac(3), mac(1))],
        ),
        (
            "capwap-8023",
            1,
            vec![frame(&[
                outer4(),
                capwap_data(false),
                vec![Header::Eth { src: mac(5), dst: mac(6) }],
                udp_packet(3),
            ])],
            vec![(udp_packet(3), mac(5), mac(6))],
        ),
        (
            "capwap-amsdu",
            1,
            vec![frame(&[
                outer4(),
                capwap_data(true),
                vec![wlan(1, true, false), Header::Payload(aggregate())],
            ])],
            agg(),
        ),
        (
            "aruba-gre",
            1,
            vec![
                frame(&[
                    outer4(),
                    vec![Header::GreProtocol { protocol: 0x8200 }, wlan(3, false, false)],
                    tcp6_packet(),
                ]),
                frame(&[
                    outer4(),
                    vec![
                        Header::GreProtocol { protocol: 0x9000 },
                        wlan(2, true, false),
                        Header::Payload(aggregate()),
                    ],
                ]),
            ],
            [vec![(tcp6_packet(), mac(4), mac(3))], agg()].concat(),
        ),
        (
            "isl",
            1,
            vec![frame(&[
                vec![Header::Isl { vlan: 300 }, Header::Eth { src: mac(5), dst: mac(6) }],
                udp_packet(4),
            ])],
            vec![(udp_packet(4), mac(5), mac(6))],
        ),
        (
            "ieee80211-link",
            105,
            vec![frame(&[vec![wlan(1, false, false)], udp_packet(7)])],
            vec![(udp_packet(7), mac(2), mac(3))],
        ),
        (
            "radiotap-link",
            127,
            vec![[radiotap(), frame(&[vec![wlan(2, false, false)], udp_packet(8)])].concat()],
            vec![(udp_packet(8), mac(3), mac(1))],
        ),
    ];
    let mut failures = Vec::new();
    for (name, link, frames, packets) in tunnelled {
        let (got, stats) = decapsulated(&dir, name, link, &frames);
        let want = as_ethernet(&dir, name, &packets);
        assert!(want.iter().all(|l| l.starts_with("eth:ethertype:ip")), "{want:?}");
        if got != want {
            failures.push(format!("{name}:\n  want {want:?}\n  got  {got:?}\n  {stats}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Cisco HDLC: the IP packet with a synthesized Ethernet header, as for any link without one.
    let (got, _) = decapsulated(&dir, "chdlc", 104, &[frame(&[vec![Header::Chdlc], udp_packet(6)])]);
    assert!(got.len() == 1 && got[0].starts_with("eth:ethertype:ip:udp 02:00:00:00:00:01"), "{got:?}");
    // Frames that carry no packet a tool can read are dropped, each under its own reason.
    let unreadable = vec![
        frame(&[outer4(), capwap_data(true), vec![wlan(1, false, true), Header::Payload(vec![0; 40])]]),
        frame(&[outer4(), capwap_data(true), vec![Header::Payload(management_frame())]]),
    ];
    let (got, stats) = decapsulated(&dir, "unreadable", 1, &unreadable);
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(stats["dropped"]["wlan_protected"], 1, "{stats}");
    assert_eq!(stats["dropped"]["wlan_no_payload"], 1, "{stats}");
}

/// An 802.11 beacon: a management frame.
fn management_frame() -> Vec<u8> {
    let mut b = vec![0u8; 24 + 12];
    b[0] = 0x80;
    b[4..10].copy_from_slice(&[0xff; 6]);
    b[10..16].copy_from_slice(&mac(7));
    b[16..22].copy_from_slice(&mac(7));
    b
}

//! Every example of SFLOW-RT.md §1 (keys, key functions, filters, values), on frames built
//! to match and not to match.
use craft::{build, Header};
use dissect::{Dissector, LinkType, Stack};
use query::{Context, Definition, Evaluator, Input};

struct Frame {
    bytes: Vec<u8>,
    stack: Stack,
}

fn frame(headers: &[Header]) -> Frame {
    let bytes = build(headers);
    let mut stack = Stack::new();
    Dissector::default().dissect(&bytes, LinkType::ETHERNET, &mut stack);
    Frame { bytes, stack }
}

/// GRE from 10.0.0.1 to 10.0.0.2 carrying UDP 10.0.201.1:5000 > 10.0.201.2:53.
fn gre_udp() -> Frame {
    frame(&[
        Header::eth(),
        Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
        Header::Gre { key: Some(9), seq: None },
        Header::ipv4([10, 0, 201, 1], [10, 0, 201, 2]),
        Header::Udp { src: 5000, dst: 53 },
        Header::Payload(vec![0; 20]),
    ])
}

/// VXLAN carrying a TCP SYN-ACK between two hosts.
fn vxlan_synack() -> Frame {
    frame(&[
        Header::Eth { src: [0, 0x50, 0x56, 0, 0, 1], dst: [0, 0x1b, 0x21, 0, 0, 2] },
        Header::ipv4([192, 0, 2, 1], [192, 0, 2, 2]),
        Header::Udp { src: 40000, dst: 4789 },
        Header::Vxlan { vni: 42 },
        Header::Eth { src: [0, 0x50, 0x56, 0, 0, 3], dst: [0, 0x1b, 0x21, 0, 0, 4] },
        Header::ipv4([8, 8, 8, 8], [10, 1, 1, 1]),
        Header::Tcp { src: 443, dst: 50000, flags: 0x12 },
    ])
}

/// A plain IPv6 UDP frame with a VLAN tag.
fn tagged_v6() -> Frame {
    let mut f = frame(&[
        Header::eth(),
        Header::Vlan { tpid: 0x8100, vid: 7 },
        Header::ipv6(
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        ),
        Header::Udp { src: 1, dst: 2 },
    ]);
    // Flow label 0x12345.
    f.bytes[18 + 1] = 0x01;
    f.bytes[18 + 2] = 0x23;
    f.bytes[18 + 3] = 0x45;
    Dissector::default().dissect(&f.bytes, LinkType::ETHERNET, &mut f.stack);
    f
}

fn context() -> Context {
    let mut c = Context::new();
    c.add_group("ddos_protect", "external", &["0.0.0.0/0", "::/0"]).unwrap();
    c.add_group("ddos_protect", "private", &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"])
        .unwrap();
    c.add_group("ddos_protect", "multicast", &["224.0.0.0/4", "ff00::/8"]).unwrap();
    c.add_map("ix_member", "member-a", &["00:50:56:00:00:01"]);
    c
}

/// The value of `keys` on `f` (None when a key is missing).
fn key(keys: &str, f: &Frame) -> Option<String> {
    let ctx = context();
    let def = Definition { keys: keys.into(), ..Definition::default() };
    let c = def.compile(&ctx).unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    let input = Input::new(f.stack.decoded(&f.bytes).unwrap(), f.bytes.len() as u32);
    c.flow_key(&mut Evaluator::new(), &input, &ctx, &mut out).then_some(out)
}

/// Whether `filter` holds for `f`.
fn filter(filter: &str, f: &Frame) -> bool {
    let ctx = context();
    let def = Definition { filter: Some(filter.into()), ..Definition::default() };
    let c = def.compile(&ctx).unwrap_or_else(|e| panic!("{e}"));
    let input = Input::new(f.stack.decoded(&f.bytes).unwrap(), f.bytes.len() as u32);
    c.accepts(&mut Evaluator::new(), &input, &ctx)
}

/// The error compiling `keys` or `filter`.
fn error(keys: &str, filter: Option<&str>) -> String {
    let def = Definition { keys: keys.into(), filter: filter.map(str::to_string), ..Definition::default() };
    def.compile(&context()).expect_err("must be refused").to_string()
}

#[test]
fn plain_and_suffixed_keys() {
    let g = gre_udp();
    assert_eq!(key("ipsource,ipdestination", &g).as_deref(), Some("10.0.0.1,10.0.0.2"));
    assert_eq!(
        key("ipsource.1,ipdestination.1,stack", &g).as_deref(),
        Some("10.0.201.1,10.0.201.2,eth.ip.gre.ip.udp")
    );
    assert_eq!(key("ipsource.2", &g), None, "no third IPv4 header");
    assert_eq!(key("ipsource,ipdestination,ipprotocol", &g).as_deref(), Some("10.0.0.1,10.0.0.2,47"));
}

#[test]
fn group_and_map() {
    let v = vxlan_synack();
    assert_eq!(key("group:ipdestination:ddos_protect", &v).as_deref(), Some("external"));
    assert_eq!(key("group:ipdestination.1:ddos_protect", &v).as_deref(), Some("private"));
    assert_eq!(key("group:ipsource.1:ddos_protect", &v).as_deref(), Some("external"));
    assert_eq!(key("map:macsource.1:ix_member", &v), None);
    assert_eq!(key("map:macsource:ix_member", &v).as_deref(), Some("member-a"));
    assert!(error("group:ipsource:nosuch", None).contains("no address group named `nosuch`"));
}

#[test]
fn stack_functions() {
    let g = gre_udp();
    assert_eq!(key("prefix:stack:.:3", &g).as_deref(), Some("eth.ip.gre"));
    assert!(filter("prefix:stack:.:5=eth.ip.gre.ip.udp", &g));
    assert!(!filter("prefix:stack:.:5=eth.ip.gre.ip.udp", &vxlan_synack()));
    assert_eq!(key("suffix:stack:.:1", &g).as_deref(), Some("udp"));
    assert!(!filter("suffix:stack:.:1=ibbt", &g));
    assert!(filter("first:stack:.:ip:ip6=ip", &g));
    assert!(!filter("first:stack:.:ip:ip6=ip", &tagged_v6()));
    assert_eq!(key("last:stack:.:ip:ip6", &g).as_deref(), Some("ip"));
    assert_eq!(key("suffix:dnsqname:.:2", &g), None, "sFlow-RT's DNS keys are accepted and missing");
}

#[test]
fn value_functions() {
    let g = gre_udp();
    let v6 = tagged_v6();
    assert_eq!(key("mask:ipsource:24", &g).as_deref(), Some("10.0.0.0"));
    assert_eq!(key("mask:ip6source:32", &v6).as_deref(), Some("2001:db8::"));
    assert_eq!(key("bits:ip6flowlabel:261884", &v6).as_deref(), Some(&*(0x12345u64 & 261884).to_string()));
    assert_eq!(key("null:vlan:undefined", &g).as_deref(), Some("undefined"));
    assert_eq!(key("null:vlan:undefined", &v6).as_deref(), Some("7"));
    assert_eq!(key("or:tcpsourceport:udpsourceport:icmptype", &g).as_deref(), Some("5000"));
    assert_eq!(key("or:tcpsourceport:udpsourceport:icmptype", &vxlan_synack()).as_deref(), Some("443"));
    assert!(filter("eq:bgpsourceas:bgpas=false", &g));
    assert_eq!(key("eq:ipsource:ipsource", &g).as_deref(), Some("true"));
    let len = g.bytes.len();
    assert!(filter(&format!("range:bytes:{len}:{len}=true"), &g));
    assert!(filter("range:bytes:65:127=true", &g) == (65..=127).contains(&len));
    assert!(filter("range:bytes:1519=false", &g));
    assert!(filter("range:ipfragoffset:1=false", &g));
    assert_eq!(key("if:[first:stack:.:ip:ip6]:ip:ipsource:ip6source", &g).as_deref(), Some("10.0.0.1"));
    assert_eq!(key("if:[first:stack:.:ip:ip6]:ip:ipsource:ip6source", &v6).as_deref(), Some("2001:db8::1"));
    assert_eq!(key("concat:\\::a:b", &g).as_deref(), Some("a:b"));
    assert_eq!(key("concat:-:ipsource:ipdestination", &g).as_deref(), Some("10.0.0.1-10.0.0.2"));
}

#[test]
fn functions_that_need_data_detunnel_does_not_have_are_refused() {
    for k in [
        "country:ipsource",
        "asn:ipsource:number",
        "oui:macsource:name",
        "host:macsource:vir_host_name",
        "dns:ipsource",
        "uri:httpurl:path",
        "prefix:[uri:httpurl:path]:/:2",
        "if:[first:stack:.:ip:ip6]:ip:[country:ipsource]:[country:ip6source]",
        "link:inputifindex",
    ] {
        let e = error(k, None);
        assert!(e.contains("which detunnel does not have"), "{k}: {e}");
    }
    let e = error("", Some("direction=ingress&vxlanvni!=null&link:inputifindex!=null&outputifindex=multiple&isunicast.1=true"));
    assert!(e.contains("`link` needs a network topology"), "{e}");
}

/// An MPLS frame to a broadcast address, and an outer IPv4 fragment with MF set.
fn broadcast_mpls() -> Frame {
    frame(&[
        Header::Eth { src: [0, 0x50, 0x56, 0, 0, 9], dst: [0xff; 6] },
        Header::Mpls { labels: vec![100] },
        Header::ipv4([10, 0, 0, 7], [10, 0, 0, 8]),
        Header::Udp { src: 1, dst: 2 },
    ])
}

fn fragment() -> Frame {
    let whole = build(&[
        Header::eth(),
        Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
        Header::Udp { src: 1, dst: 2 },
        Header::Payload(vec![0; 100]),
    ]);
    let parts = craft::fragment_ipv4(&whole, 48);
    let bytes = parts[1].clone();
    let mut stack = Stack::new();
    Dissector::default().dissect(&bytes, LinkType::ETHERNET, &mut stack);
    Frame { bytes, stack }
}

#[test]
fn every_filter_example_both_ways() {
    let g = gre_udp();
    let b = broadcast_mpls();
    let frag = fragment();
    assert!(
        filter("ethernetprotocol!=2048,2054,34525", &b) && !filter("ethernetprotocol!=2048,2054,34525", &g)
    );
    assert!(filter("isunicast=true", &g) && !filter("isunicast=true", &b));
    assert!(filter("range:ipfragoffset:1=true", &frag) && !filter("range:ipfragoffset:1=true", &g));
    assert!(
        filter("(ipflags=001|range:ipfragoffset:1=true)", &frag)
            && !filter("(ipflags=001|range:ipfragoffset:1=true)", &g)
    );
    assert!(!filter("eq:bgpsourceas:bgpas=true", &g), "both missing: not equal");
    assert!(!filter("ibbt_offset!=null", &g) && filter("vxlanvni!=null", &vxlan_synack()));
    assert!(!filter("ipsource.1=10.0.201.1&ipdestination.1=10.0.201.2", &vxlan_synack()));
    assert!(!filter("'ipsource'='10.0.0.1'", &vxlan_synack()));
    assert!(!filter("ipprotocol.1=6&tcpflags~....1..1.", &g));
}

#[test]
fn filters() {
    let g = gre_udp();
    let v = vxlan_synack();
    assert!(filter("ipsource=10.0.0.1", &g));
    assert!(!filter("ipsource=10.0.0.1", &v));
    assert!(filter("ipprotocol=6,17", &v) && !filter("ipprotocol=6,17", &g));
    assert!(filter("ipprotocol.1=6,17", &g));
    assert!(!filter("ethernetprotocol!=2048,2054,34525", &g));
    assert!(filter("(ipsource=10.0.0.1|ipdestination=10.0.0.1)&ipprotocol=1,6,17,47", &g));
    assert!(!filter("(ipsource=10.0.0.9|ipdestination=10.0.0.9)&ipprotocol=1,6,17,47", &g));
    assert!(filter("vxlanvni=null", &g) && !filter("vxlanvni=null", &v));
    assert!(filter("vxlanvni!=null", &v));
    assert!(filter("ibbt_offset=null", &g) && !filter("ibbt_offset!=null", &g));
    assert!(filter("isunicast=true", &g) && filter("isunicast.1=true", &v));
    assert!(!filter("ipdscp=", &g));
    assert!(filter("'ipsource'='10.0.0.1'", &g));
    assert!(filter("\"ipsource.1\"=\"8.8.8.8\"", &v));
    assert!(filter(
        "first:stack:.:ip:ip6=ip&group:ipsource.1:ddos_protect=external&group:ipdestination.1:ddos_protect!=external,multicast,exclude",
        &v
    ));
    assert!(filter("ipprotocol.1=6&tcpflags~....1..1.", &v), "SYN-ACK");
    assert!(filter("tcpflags~.......1.", &v), "a SYN-ACK has the SYN bit");
    assert!(!filter("tcpflags~........1", &v), "and not the FIN bit");
    assert!(filter("(ipflags=001|range:ipfragoffset:1=true)|ipflags=000", &g));
    assert!(filter("eq:bgpsourceas:bgpas=false", &v));
    assert!(filter("ipsource.1=10.0.201.1&ipdestination.1=10.0.201.2", &g));
    assert!(filter("!ipsource=10.0.0.9", &g), "the ! extension");
    assert!(filter("true", &g) && !filter("false", &g));
    assert!(filter("ipsource=10.0.0.9|ipsource=10.0.0.1&ipprotocol=47", &g), "& binds tighter than |");
}

#[test]
fn values() {
    for (v, ok) in [
        ("frames", true),
        ("bytes", true),
        ("count:ipsource", true),
        ("avg:ipbytes", true),
        ("rate:bytes", true),
    ] {
        let d = Definition { value: v.into(), ..Definition::default() };
        assert_eq!(d.compile(&Context::new()).is_ok(), ok, "{v}");
    }
    let d = Definition { value: "rate:requests".into(), ..Definition::default() };
    assert!(d.compile(&Context::new()).is_ok(), "sFlow-RT's requests key is accepted (and missing)");
    let d = Definition { value: "requests".into(), ..Definition::default() };
    assert!(d.compile(&Context::new()).unwrap_err().to_string().contains("transaction samples"));
}

#[test]
fn errors_point_at_the_problem() {
    let e = error("", Some("ipsourc=10.0.0.1"));
    assert!(e.contains("column 1: unknown key `ipsourc`; did you mean `ipsource`?"), "{e}");
    let e = error("ipsource,ipdestinaton", None);
    assert!(e.contains("column 10") && e.contains("did you mean `ipdestination`?"), "{e}");
    let e = error("", Some("ipsource=1&(ipprotocol=6"));
    assert!(e.contains("column 12: `(` is not closed by `)`"), "{e}");
    let e = error("", Some("ipsource"));
    assert!(e.contains("expected `=`, `!=`, `~` or `!~` after `ipsource`"), "{e}");
    let e = error("", Some("tcpflags~(["));
    assert!(e.contains("not a regular expression"), "{e}");
    let e = error("", Some("ipsource=1)"));
    assert!(e.contains("`)` without a matching `(`"), "{e}");
}

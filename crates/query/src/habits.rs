//! Spellings other tools taught people — Wireshark's field names, C's `==`, `&&` and `||`,
//! tcpdump's BPF filters — each answered with the flow language's own spelling, so that a
//! likely mistake is never accepted silently.

/// Wireshark display-filter fields and the keys that say the same (outer headers; `.1` reads
/// one tunnel in).
const WIRESHARK: &[(&str, &str)] = &[
    ("ip.src", "ipsource"),
    ("ip.dst", "ipdestination"),
    ("ip.addr", "ipsource or ipdestination"),
    ("ip.proto", "ipprotocol"),
    ("ip.ttl", "ipttl"),
    ("ip.len", "ipbytes"),
    ("ip.dsfield.dscp", "ipdscp"),
    ("ipv6.src", "ip6source"),
    ("ipv6.dst", "ip6destination"),
    ("ipv6.addr", "ip6source or ip6destination"),
    ("ipv6.nxt", "ip6nexthdr"),
    ("eth.src", "macsource"),
    ("eth.dst", "macdestination"),
    ("eth.addr", "macsource or macdestination"),
    ("eth.type", "ethernetprotocol"),
    ("vlan.id", "vlan"),
    ("tcp.srcport", "tcpsourceport"),
    ("tcp.dstport", "tcpdestinationport"),
    ("tcp.port", "tcpsourceport or tcpdestinationport"),
    ("tcp.flags", "tcpflags"),
    ("udp.srcport", "udpsourceport"),
    ("udp.dstport", "udpdestinationport"),
    ("udp.port", "udpsourceport or udpdestinationport"),
    ("sctp.port", "sctpsourceport or sctpdestinationport"),
    ("icmp.type", "icmptype"),
    ("vxlan.vni", "vxlanvni"),
    ("geneve.vni", "genevevni"),
    ("gre.key", "grekey"),
    ("gre.proto", "greprotocol"),
    ("erspan.spanid", "erspansession"),
    ("erspan.vlan", "erspanvlan"),
    ("mpls.label", "mplslabel"),
    ("gtp.teid", "gtpteid"),
    ("frame.len", "bytes"),
    ("frame.protocols", "stack"),
];

/// The Wireshark field `name` starts with, its keys, and the `.N` depth that follows.
fn wireshark(name: &str) -> Option<(&'static str, &'static str, &str)> {
    WIRESHARK.iter().find_map(|&(field, key)| {
        let rest = name.strip_prefix(field)?;
        (rest.is_empty() || (rest.starts_with('.') && rest[1..].bytes().all(|b| b.is_ascii_digit())))
            .then_some((field, key, rest))
    })
}

/// The flow language's name for Wireshark field `name` (with any `.N` depth kept), as a
/// sentence for an error message.
pub fn wireshark_key(name: &str) -> Option<String> {
    let (field, key, depth) = wireshark(name)?;
    let with_depth = key.split(" or ").map(|k| format!("`{k}{depth}`")).collect::<Vec<_>>().join(" or ");
    let first = key.split(" or ").next().unwrap_or(key);
    Some(format!(
        "`{name}` is Wireshark's name; detunnel says {with_depth} (`{field}` of the frame inside one tunnel is `{first}.1`)"
    ))
}

/// The one key that says what Wireshark field `name` says, if there is exactly one.
pub fn wireshark_single_key(name: &str) -> Option<String> {
    let (_, key, depth) = wireshark(name)?;
    (!key.contains(" or ")).then(|| format!("{key}{depth}"))
}

/// BPF words that do not start a flow-language expression.
const BPF_WORDS: &[&str] = &[
    "host",
    "src",
    "dst",
    "net",
    "port",
    "portrange",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "ip",
    "ip6",
    "vlan",
    "and",
    "or",
    "not",
    "ether",
    "proto",
    "arp",
    "mpls",
    "less",
    "greater",
];

/// When `src` reads as a tcpdump (BPF) filter rather than a flow-language one: the same filter
/// in the flow language, if every word of it has an equivalent, as a sentence for an error
/// message.
pub fn bpf_hint(src: &str) -> Option<String> {
    let words: Vec<&str> = src.split_whitespace().collect();
    let first = words.first()?.trim_start_matches(['(', '!']);
    if src.contains(['=', '~']) || !BPF_WORDS.contains(&first) {
        return None;
    }
    let mut out = String::from("this looks like a tcpdump (BPF) filter; detunnel's filters are sFlow-RT's (KEY=VALUE joined by `&` and `|`)");
    match translate(src) {
        Some(t) => out
            .push_str(&format!(": try `{t}` (outer headers; add `.1` to a key for the frame one tunnel in)")),
        None => out.push_str(", e.g. `udpsourceport=53|udpdestinationport=53` for `udp port 53`"),
    }
    Some(out)
}

/// The flow-language form of a BPF filter made of the common primitives.
fn translate(src: &str) -> Option<String> {
    let spaced = src.replace('(', " ( ").replace(')', " ) ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    let next = |i: &mut usize| -> Option<&str> {
        *i += 1;
        words.get(*i).copied()
    };
    while let Some(&w) = words.get(i) {
        let piece = match w {
            "(" | ")" => w.to_string(),
            "and" | "&&" => "&".to_string(),
            "or" | "||" => "|".to_string(),
            "not" | "!" => "!".to_string(),
            "tcp" | "udp" | "sctp" if matches!(words.get(i + 1), Some(&"port" | &"src" | &"dst")) => {
                let dir = match next(&mut i)? {
                    "src" => next(&mut i).filter(|p| *p == "port").map(|_| "source"),
                    "dst" => next(&mut i).filter(|p| *p == "port").map(|_| "destination"),
                    _ => None,
                };
                ports(&[w], dir, next(&mut i)?)
            }
            "tcp" => "ipprotocol=6".into(),
            "udp" => "ipprotocol=17".into(),
            "icmp" => "ipprotocol=1".into(),
            "sctp" => "ipprotocol=132".into(),
            "port" => ports(&["tcp", "udp"], None, next(&mut i)?),
            "src" | "dst" => {
                let dir = if w == "src" { "source" } else { "destination" };
                match next(&mut i)? {
                    "port" => ports(&["tcp", "udp"], Some(dir), next(&mut i)?),
                    "host" => address(Some(dir), next(&mut i)?)?,
                    "net" => network(Some(dir), next(&mut i)?)?,
                    a => address(Some(dir), a)?,
                }
            }
            "host" => address(None, next(&mut i)?)?,
            "net" => network(None, next(&mut i)?)?,
            "vlan" => format!("vlan={}", next(&mut i)?),
            _ => return None,
        };
        out.push(piece);
        i += 1;
    }
    // BPF joins primitives with an implicit `and`.
    let mut joined = String::new();
    for (k, p) in out.iter().enumerate() {
        let operand_before =
            k.checked_sub(1).is_some_and(|j| !matches!(out[j].as_str(), "&" | "|" | "!" | "("));
        let operand_now = !matches!(p.as_str(), "&" | "|" | ")");
        if operand_before && operand_now {
            joined.push('&');
        }
        joined.push_str(p);
    }
    Some(joined)
}

fn ports(protos: &[&str], dir: Option<&str>, n: &str) -> String {
    let dirs: &[&str] = match dir {
        Some(d) => &[if d == "source" { "source" } else { "destination" }],
        None => &["source", "destination"],
    };
    let alts: Vec<String> =
        protos.iter().flat_map(|p| dirs.iter().map(move |d| format!("{p}{d}port={n}"))).collect();
    if alts.len() == 1 {
        alts[0].clone()
    } else {
        format!("({})", alts.join("|"))
    }
}

fn address(dir: Option<&str>, a: &str) -> Option<String> {
    let v6 = a.contains(':');
    a.parse::<std::net::IpAddr>().ok()?;
    let key = if v6 { "ip6" } else { "ip" };
    Some(match dir {
        Some(d) => format!("{key}{d}={a}"),
        None => format!("({key}source={a}|{key}destination={a})"),
    })
}

fn network(dir: Option<&str>, n: &str) -> Option<String> {
    let (a, bits) = n.split_once('/')?;
    let v6 = a.contains(':');
    a.parse::<std::net::IpAddr>().ok()?;
    bits.parse::<u8>().ok()?;
    let key = if v6 { "ip6" } else { "ip" };
    let one = |d: &str| format!("[mask:{key}{d}:{bits}]={a}");
    Some(match dir {
        Some(d) => one(d),
        None => format!("({}|{})", one("source"), one("destination")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpf_filters_are_translated() {
        let t = translate;
        assert_eq!(t("udp port 53").as_deref(), Some("(udpsourceport=53|udpdestinationport=53)"));
        assert_eq!(t("tcp dst port 443").as_deref(), Some("tcpdestinationport=443"));
        assert_eq!(
            t("host 10.0.0.1 and not port 22").as_deref(),
            Some("(ipsource=10.0.0.1|ipdestination=10.0.0.1)&!(tcpsourceport=22|tcpdestinationport=22|udpsourceport=22|udpdestinationport=22)")
        );
        assert_eq!(t("src net 10.0.0.0/8").as_deref(), Some("[mask:ipsource:8]=10.0.0.0"));
        assert_eq!(t("tcp udp").as_deref(), Some("ipprotocol=6&ipprotocol=17"));
        assert_eq!(t("vlan 5 or icmp").as_deref(), Some("vlan=5|ipprotocol=1"));
        assert_eq!(
            t("(tcp or udp) and dst 192.0.2.1").as_deref(),
            Some("(ipprotocol=6|ipprotocol=17)&ipdestination=192.0.2.1")
        );
        assert_eq!(t("ether host 02:00:00:00:00:01"), None);
        assert!(bpf_hint("ipsource=10.0.0.1").is_none());
        assert!(bpf_hint("udp port 53").unwrap().contains("try `(udpsourceport=53|udpdestinationport=53)`"));
    }

    #[test]
    fn wireshark_names_are_answered() {
        assert!(wireshark_key("ip.src").unwrap().contains("detunnel says `ipsource`"));
        assert!(wireshark_key("tcp.port").unwrap().contains("`tcpsourceport` or `tcpdestinationport`"));
        assert!(wireshark_key("ip.dst.1").unwrap().contains("`ipdestination.1`"));
        assert!(wireshark_key("ip.srcx").is_none());
    }
}

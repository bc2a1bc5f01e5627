//! The names a key can have: the decoder's fields (with depth suffixes), `stack`, `bytes`,
//! and the sFlow-RT keys detunnel does not produce from packets, which are accepted and are
//! always missing (so that existing definitions keep working).
use dissect::Field;

/// Where a key's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The `occurrence`-th value of a decoder field (0 is the outermost).
    Field(Field, usize),
    /// The `stack` field.
    Stack,
    /// The frame length (`bytes`).
    Bytes,
    /// Sample metadata from the sFlow record that carried the frame.
    Meta(MetaKey),
    /// An sFlow-RT key this source never has (routing, application fields).
    Absent,
}

/// Keys that come from the sFlow sample rather than the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    /// The agent's address.
    Agent,
    /// The input interface (an ifIndex, or `internal`, `unknown`, `multiple`, `discard`).
    InputIfIndex,
    /// The output interface.
    OutputIfIndex,
    /// Extended switch: incoming VLAN.
    VlanSource,
    /// Extended switch: outgoing VLAN.
    VlanDestination,
    /// Extended switch: incoming priority.
    PrioritySource,
    /// Extended switch: outgoing priority.
    PriorityDestination,
    /// Extended router: next hop.
    IpNextHopRouter,
    /// Extended router: source prefix length.
    IpSourceMaskBits,
    /// Extended router: destination prefix length.
    IpDestinationMaskBits,
    /// Extended gateway: BGP next hop.
    BgpNextHop,
    /// Extended gateway: the router's AS.
    BgpAs,
    /// Extended gateway: source AS.
    BgpSourceAs,
    /// Extended gateway: source peer AS.
    BgpSourcePeerAs,
    /// Extended gateway: destination AS.
    BgpDestinationAs,
    /// Extended gateway: destination peer AS.
    BgpDestinationPeerAs,
    /// Extended gateway: local preference.
    BgpLocalPref,
}

/// The keys of sample records, by name.
const META_KEYS: &[(&str, MetaKey)] = &[
    ("agent", MetaKey::Agent),
    ("inputifindex", MetaKey::InputIfIndex),
    ("outputifindex", MetaKey::OutputIfIndex),
    ("vlansource", MetaKey::VlanSource),
    ("vlandestination", MetaKey::VlanDestination),
    ("prioritysource", MetaKey::PrioritySource),
    ("prioritydestination", MetaKey::PriorityDestination),
    ("ipnexthoprouter", MetaKey::IpNextHopRouter),
    ("ipsourcemaskbits", MetaKey::IpSourceMaskBits),
    ("ipdestinationmaskbits", MetaKey::IpDestinationMaskBits),
    ("bgpnexthop", MetaKey::BgpNextHop),
    ("bgpas", MetaKey::BgpAs),
    ("bgpsourceas", MetaKey::BgpSourceAs),
    ("bgpsourcepeeras", MetaKey::BgpSourcePeerAs),
    ("bgpdestinationas", MetaKey::BgpDestinationAs),
    ("bgpdestinationpeeras", MetaKey::BgpDestinationPeerAs),
    ("bgplocalpref", MetaKey::BgpLocalPref),
];

/// sFlow-RT keys that come from sample records detunnel does not read yet (AS paths and
/// communities, drop reasons) or application decoders, rather than from the packet headers
/// and sample records detunnel decodes; in a definition they are valid and always missing.
pub const ABSENT_KEYS: &[&str] = &[
    "direction",
    "reason",
    "queueindex",
    "bgpdestinationaspath",
    "bgpcommunities",
    "stripped",
    "ip_offset",
    "dnsqname",
    "dnsqtypename",
    "dnsqr",
    "httpurl",
    "uripath",
    "ibbtopcode",
    "ibbtopname",
    "ibbtoptransport",
    "ibbtse",
    "ibbtm",
    "ibbtaethack",
    "ibbt_offset",
    "icmpseqno",
    "icmpunreachablenet",
    "icmpunreachablehost",
    "icmpunreachableprotocol",
    "icmpunreachableport",
    "ip6fragm",
    "ip6fragoffset",
    "ipdscpname",
    "ip6dscpname",
    "vni",
    "requests",
    "duration",
];

/// Resolves a key name (`ipsource`, `ipsource.1`, `stack`, ...), or says what it might have
/// meant.
pub fn resolve(name: &str) -> Result<Source, String> {
    let (base, occurrence) = match name.rsplit_once('.') {
        Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
            (b, n.parse::<usize>().map_err(|_| format!("depth `{n}` is too large"))?)
        }
        _ => (name, 0),
    };
    if let Some(f) = Field::from_name(base) {
        return Ok(Source::Field(f, occurrence));
    }
    match base {
        "stack" if occurrence == 0 => return Ok(Source::Stack),
        "bytes" if occurrence == 0 => return Ok(Source::Bytes),
        _ => {}
    }
    if let Some((_, m)) = META_KEYS.iter().find(|(n, _)| *n == base).filter(|_| occurrence == 0) {
        return Ok(Source::Meta(*m));
    }
    if ABSENT_KEYS.contains(&base) {
        return Ok(Source::Absent);
    }
    if let Some(hint) = crate::habits::wireshark_key(name) {
        return Err(format!("unknown key {hint}"));
    }
    Err(match suggest(base, all_names()) {
        Some(s) => format!("unknown key `{name}`; did you mean `{s}`?"),
        None => format!("unknown key `{name}`"),
    })
}

/// Every key name detunnel accepts (without depth suffixes).
pub fn all_names() -> impl Iterator<Item = &'static str> {
    Field::ALL
        .iter()
        .map(|f| f.name())
        .chain(["stack", "bytes"])
        .chain(META_KEYS.iter().map(|(n, _)| *n))
        .chain(ABSENT_KEYS.iter().copied())
}

/// The closest of `names` to `word`, if it is close enough to be a likely misspelling.
pub fn suggest<'a>(word: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.len() / 3).clamp(1, 3);
    names
        .map(|n| (distance(word, n), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, n)| (*d, n.len()))
        .map(|(_, n)| n)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_suggestions() {
        assert_eq!(resolve("ipsource.1"), Ok(Source::Field(Field::IpSource, 1)));
        assert_eq!(resolve("stack"), Ok(Source::Stack));
        assert_eq!(resolve("bgpas"), Ok(Source::Meta(MetaKey::BgpAs)));
        assert_eq!(resolve("bgpcommunities"), Ok(Source::Absent));
        assert_eq!(resolve("ipsourc").unwrap_err(), "unknown key `ipsourc`; did you mean `ipsource`?");
        assert_eq!(resolve("vxlanvin.1").unwrap_err(), "unknown key `vxlanvin.1`; did you mean `vxlanvni`?");
        assert!(resolve("zzzzzz").unwrap_err().ends_with('`'));
    }
}

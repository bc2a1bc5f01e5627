//! The dispatch table: which protocol follows a given EtherType, IP protocol, UDP port, GRE
//! protocol or link type. Each protocol's module registers where it is found (IANA and common
//! practice); configuration adds or replaces entries (VXLAN on another port, GRE 0x8949 as
//! ERSPAN, an IP protocol) without code.
use crate::protocol::DISPATCH;
use wire::ethernet::ethertype as et;

/// What the dispatch table says comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Next {
    /// An Ethernet frame.
    Ethernet,
    /// An IPv4 packet.
    Ipv4,
    /// An IPv6 packet.
    Ipv6,
    /// IPv4 or IPv6 by the version nibble.
    Ip,
    /// A VLAN tag (after its TPID).
    Vlan,
    /// A VN-Tag.
    VnTag,
    /// An E-Tag.
    ETag,
    /// A PBB I-TAG.
    Pbb,
    /// A TRILL header.
    Trill,
    /// An Arista timestamp header.
    Arista,
    /// A Cisco MetaData header.
    CiscoMetadata,
    /// A Cisco MetaData header as GRE carries it (EtherType first).
    CiscoMetadataGre,
    /// An MPLS label stack.
    Mpls,
    /// A pseudowire control word, then an Ethernet frame.
    PwControlWord,
    /// A PPPoE session header.
    Pppoe,
    /// A PPP header.
    Ppp,
    /// ARP.
    Arp,
    /// NSH.
    Nsh,
    /// ERSPAN type I or II, told apart by the GRE S bit.
    Erspan,
    /// ERSPAN type III.
    Erspan3,
    /// WCCP redirect header.
    Wccp,
    /// An 802.11 frame (Aruba).
    Wlan,
    /// GRE.
    Gre,
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// SCTP.
    Sctp,
    /// ICMP.
    Icmp,
    /// ICMPv6.
    Icmp6,
    /// VXLAN.
    Vxlan,
    /// VXLAN-GPE.
    VxlanGpe,
    /// GENEVE.
    Geneve,
    /// GTP-U.
    GtpU,
    /// Teredo.
    Teredo,
    /// AYIYA.
    Ayiya,
    /// L2TPv3.
    L2tpv3,
    /// sFlow.
    Sflow,
    /// LLC.
    Llc,
    /// CAPWAP's data channel.
    Capwap,
    /// CAPWAP's control channel.
    CapwapControl,
    /// An A-MSDU subframe.
    Amsdu,
    /// Cisco HDLC.
    Chdlc,
    /// Radiotap, then 802.11.
    Radiotap,
    /// GTP'.
    GtpPrime,
    /// GTP-C, version 1 or 2 by its header.
    GtpC,
    /// An associated channel header.
    PwAch,
    /// A BSD loopback header.
    Null,
    /// A Linux cooked header (v1).
    Sll,
    /// A Linux cooked header (v2).
    Sll2,
    /// Known protocol that is not decoded further (CDP, LLDP, keepalives, ...).
    Leaf,
}

impl Next {
    /// Names accepted in configuration, with what they mean.
    pub const NAMES: &'static [(&'static str, Next)] = &[
        ("eth", Next::Ethernet),
        ("ethernet", Next::Ethernet),
        ("ip", Next::Ipv4),
        ("ipv4", Next::Ipv4),
        ("ip6", Next::Ipv6),
        ("ipv6", Next::Ipv6),
        ("mpls", Next::Mpls),
        ("nsh", Next::Nsh),
        ("erspan", Next::Erspan),
        ("erspan3", Next::Erspan3),
        ("gre", Next::Gre),
        ("vxlan", Next::Vxlan),
        ("gpe", Next::VxlanGpe),
        ("vxlan-gpe", Next::VxlanGpe),
        ("geneve", Next::Geneve),
        ("gtp", Next::GtpU),
        ("teredo", Next::Teredo),
        ("ayiya", Next::Ayiya),
        ("sflow", Next::Sflow),
        ("capwap", Next::Capwap),
        ("gtpprime", Next::GtpPrime),
        ("gtpc", Next::GtpC),
        ("wlan", Next::Wlan),
        ("udp", Next::Udp),
        ("tcp", Next::Tcp),
        ("sctp", Next::Sctp),
        ("icmp", Next::Icmp),
        ("icmp6", Next::Icmp6),
        ("l2tpv3", Next::L2tpv3),
        ("ppp", Next::Ppp),
        ("none", Next::Leaf),
    ];

    /// The protocol a configuration name refers to.
    pub fn from_name(name: &str) -> Option<Next> {
        Next::NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }
}

/// Result of looking a type field up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Decode this next.
    Next(Next),
    /// Nothing decodes this value.
    Unknown,
}

/// How to read an MPLS payload, which has no type field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MplsPayload {
    /// By the first nibble after the bottom of stack: 4 IPv4, 6 IPv6, 0 control word then
    /// Ethernet, 1 associated channel (not decoded), anything else Ethernet without control
    /// word. Each decision is counted as a guess.
    #[default]
    Auto,
    /// Always IPv4.
    Ipv4,
    /// Always IPv6.
    Ipv6,
    /// Always an Ethernet pseudowire with control word.
    EthernetCw,
    /// Always an Ethernet pseudowire without control word.
    Ethernet,
}

/// How to read the key of GRE-TEB with only the K flag, which NVGRE shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NvgreKey {
    /// Read it as VSID and flow ID (fields `grevsid`, `greflowid`) and count the guess.
    #[default]
    Auto,
    /// Never: it is a plain GRE key.
    Never,
}

/// L2TPv3 session parameters, agreed out of band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct L2tpv3Session {
    /// Cookie length: 0, 4 or 8.
    pub cookie_len: u8,
    /// Whether the default 4-byte L2-specific sublayer is present.
    pub sublayer: bool,
}

/// Decoder configuration: dispatch entries added to the defaults, heuristics and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Most tunnels decoded in one frame (default 8).
    pub max_tunnels: usize,
    /// Extra or replacing EtherType entries.
    pub ethertypes: Vec<(u16, Next)>,
    /// Extra or replacing GRE protocol entries (e.g. 0x8949 → ERSPAN).
    pub gre_protocols: Vec<(u16, Next)>,
    /// Extra or replacing UDP port entries (e.g. 4790 → VXLAN).
    pub udp_ports: Vec<(u16, Next)>,
    /// Extra or replacing IP protocol entries (e.g. 97 → none).
    pub ip_protocols: Vec<(u8, Next)>,
    /// MPLS payload heuristic.
    pub mpls_payload: MplsPayload,
    /// NVGRE key reading.
    pub nvgre: NvgreKey,
    /// L2TPv3 sessions.
    pub l2tpv3: L2tpv3Session,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_tunnels: 8,
            ethertypes: Vec::new(),
            gre_protocols: Vec::new(),
            udp_ports: Vec::new(),
            ip_protocols: Vec::new(),
            mpls_payload: MplsPayload::Auto,
            nvgre: NvgreKey::Auto,
            l2tpv3: L2tpv3Session::default(),
        }
    }
}

/// Every registered entry of one kind, configured entries replacing built-in ones, sorted by
/// value for binary search.
fn merged<K: Ord + Copy>(
    builtin: impl Iterator<Item = (K, Next)>,
    configured: &[(K, Next)],
) -> Vec<(K, Next)> {
    let mut v: Vec<(K, Next)> = builtin.filter(|(k, _)| !configured.iter().any(|(c, _)| c == k)).collect();
    v.extend_from_slice(configured);
    v.sort_by_key(|e| e.0);
    v.dedup_by_key(|e| e.0);
    v
}

/// The entry for `k` in a table built by `merged`.
#[inline(always)]
fn find<K: Ord + Copy>(table: &[(K, Next)], k: K) -> Option<Next> {
    table.binary_search_by_key(&k, |e| e.0).ok().map(|i| table[i].1)
}

/// What a link type starts with, by the protocols' registrations.
pub fn link_type(link: u32) -> Option<Next> {
    DISPATCH.iter().flat_map(|d| d.link_types).find(|(l, _)| *l == link).map(|(_, n)| *n)
}

/// Slots of the direct-mapped UDP port table (the default ports all have slots of their own).
const UDP_SLOTS: usize = 128;

/// One slot of the UDP port table: how many ports fall in it, and the first one with what it
/// carries.
#[derive(Debug, Clone, Copy, Default)]
struct UdpSlot {
    ports: u8,
    port: u16,
    next: Option<Next>,
}

/// The dispatch table a dissector consults, built once from a [`Config`].
#[derive(Debug, Clone)]
pub struct Table {
    pub(crate) config: Config,
    ethertypes: Vec<(u16, Next)>,
    /// True when configuration adds or replaces EtherType entries (the fast paths for the
    /// common EtherTypes are then off).
    ethertype_overrides: bool,
    /// True when configuration adds or replaces EtherType or GRE protocol entries (the fast
    /// path for the common GRE protocols is then off).
    gre_overrides: bool,
    gre_protocols: Vec<(u16, Next)>,
    /// What follows each IP protocol; `None` for one not decoded further.
    ip_protocols: [Option<Next>; 256],
    udp_ports: Vec<(u16, Next)>,
    /// A direct-mapped table of the UDP ports by `port % UDP_SLOTS`: most lookups are one
    /// comparison; a slot shared by two ports sends its lookups to `udp_ports`.
    udp_slots: [UdpSlot; UDP_SLOTS],
}

impl Table {
    /// Builds the table: every protocol's registrations, with configured entries replacing or
    /// extending them.
    pub fn new(config: Config) -> Table {
        let all = || DISPATCH.iter();
        let ethertypes = merged(all().flat_map(|d| d.ethertypes.iter().copied()), &config.ethertypes);
        let gre_protocols =
            merged(all().flat_map(|d| d.gre_protocols.iter().copied()), &config.gre_protocols);
        let udp_ports = merged(all().flat_map(|d| d.udp_ports.iter().copied()), &config.udp_ports);
        let mut ip_protocols = [None; 256];
        for (p, n) in merged(all().flat_map(|d| d.ip_protocols.iter().copied()), &config.ip_protocols) {
            ip_protocols[usize::from(p)] = Some(n).filter(|n| *n != Next::Leaf);
        }
        let mut udp_slots = [UdpSlot::default(); UDP_SLOTS];
        for &(p, n) in &udp_ports {
            let slot = &mut udp_slots[usize::from(p) % UDP_SLOTS];
            if slot.ports == 0 {
                (slot.port, slot.next) = (p, Some(n).filter(|n| *n != Next::Leaf));
            }
            slot.ports = slot.ports.saturating_add(1);
        }
        let ethertype_overrides = !config.ethertypes.is_empty();
        let gre_overrides = ethertype_overrides || !config.gre_protocols.is_empty();
        Table {
            config,
            ethertypes,
            ethertype_overrides,
            gre_overrides,
            gre_protocols,
            ip_protocols,
            udp_ports,
            udp_slots,
        }
    }
    /// The configuration the table was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// True when configuration adds or replaces EtherType entries.
    #[inline(always)]
    pub fn ethertype_overrides(&self) -> bool {
        self.ethertype_overrides
    }
    /// What follows an EtherType.
    #[inline]
    pub fn ethertype(&self, t: u16) -> Lookup {
        // The common cases first, without a search.
        if !self.ethertype_overrides {
            match t {
                et::IPV4 => return Lookup::Next(Next::Ipv4),
                et::IPV6 => return Lookup::Next(Next::Ipv6),
                et::VLAN | et::QINQ => return Lookup::Next(Next::Vlan),
                et::TEB => return Lookup::Next(Next::Ethernet),
                et::MPLS => return Lookup::Next(Next::Mpls),
                _ => {}
            }
        }
        find(&self.ethertypes, t).map_or(Lookup::Unknown, Lookup::Next)
    }
    /// What follows a GRE protocol type (GRE's own entries, then the EtherType table).
    #[inline]
    pub fn gre_protocol(&self, t: u16) -> Lookup {
        // The common cases first, without a search.
        if !self.gre_overrides {
            match t {
                et::TEB => return Lookup::Next(Next::Ethernet),
                et::ERSPAN => return Lookup::Next(Next::Erspan),
                et::ERSPAN3 => return Lookup::Next(Next::Erspan3),
                et::IPV4 => return Lookup::Next(Next::Ipv4),
                et::IPV6 => return Lookup::Next(Next::Ipv6),
                _ => {}
            }
        }
        match find(&self.gre_protocols, t) {
            Some(n) => Lookup::Next(n),
            None => self.ethertype(t),
        }
    }
    /// What follows an IP header of `protocol`; `None` for a protocol not decoded further
    /// (which is not an anomaly).
    #[inline(always)]
    pub fn ip_protocol(&self, protocol: u8) -> Option<Next> {
        self.ip_protocols[usize::from(protocol)]
    }
    /// What a UDP port carries, if anything.
    #[inline]
    pub fn udp_port(&self, p: u16) -> Option<Next> {
        let slot = &self.udp_slots[usize::from(p) % UDP_SLOTS];
        if slot.ports <= 1 {
            return slot.next.filter(|_| slot.port == p);
        }
        // `none` configured for a port turns its default off.
        self.udp_ports.iter().find(|(q, _)| *q == p).map(|(_, n)| *n).filter(|n| *n != Next::Leaf)
    }
}

impl Default for Table {
    fn default() -> Table {
        Table::new(Config::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_entries_replace_or_extend_the_registered_ones() {
        let t = Table::default();
        assert_eq!(t.ip_protocol(wire::ipv4::protocol::GRE), Some(Next::Gre));
        assert_eq!(t.ip_protocol(200), None);
        assert_eq!(t.udp_port(4789), Some(Next::Vxlan));
        assert_eq!(t.gre_protocol(et::ERSPAN3), Lookup::Next(Next::Erspan3));
        assert_eq!(t.gre_protocol(et::IPV6), Lookup::Next(Next::Ipv6));
        assert_eq!(t.ethertype(0x1234), Lookup::Unknown);
        let t = Table::new(Config {
            ip_protocols: vec![(wire::ipv4::protocol::GRE, Next::Leaf), (99, Next::Gre)],
            udp_ports: vec![(4789, Next::Leaf), (4790, Next::Vxlan)],
            ethertypes: vec![(0x1234, Next::Ethernet)],
            ..Config::default()
        });
        assert_eq!(t.ip_protocol(wire::ipv4::protocol::GRE), None);
        assert_eq!(t.ip_protocol(99), Some(Next::Gre));
        assert_eq!((t.udp_port(4789), t.udp_port(4790)), (None, Some(Next::Vxlan)));
        assert_eq!(t.ethertype(0x1234), Lookup::Next(Next::Ethernet));
        assert_eq!(t.ethertype(et::IPV4), Lookup::Next(Next::Ipv4));
        // Ports sharing a slot of the direct-mapped table (3544 and 3544 + 128).
        let t = Table::new(Config { udp_ports: vec![(3544 + 128, Next::Vxlan)], ..Config::default() });
        assert_eq!(
            (t.udp_port(3544), t.udp_port(3672), t.udp_port(3800)),
            (Some(Next::Teredo), Some(Next::Vxlan), None)
        );
    }

    #[test]
    fn every_link_type_is_registered_once() {
        let mut seen: Vec<u32> = DISPATCH.iter().flat_map(|d| d.link_types).map(|(l, _)| *l).collect();
        let n = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), n);
        assert_eq!(link_type(1), Some(Next::Ethernet));
        assert_eq!(link_type(147), None);
    }
}

//! The dispatch table: which protocol follows a given EtherType, IP protocol, UDP port or
//! GRE protocol. Built-in defaults follow IANA and common practice; configuration adds or
//! replaces entries (VXLAN on another port, GRE 0x8949 as ERSPAN) without code.
use wire::ethernet::ethertype as et;
use wire::ipv4::protocol as ipp;
use wire::udp::port;

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
            mpls_payload: MplsPayload::Auto,
            nvgre: NvgreKey::Auto,
            l2tpv3: L2tpv3Session::default(),
        }
    }
}

/// The default UDP port entries.
pub const DEFAULT_UDP_PORTS: &[(u16, Next)] = &[
    (port::VXLAN, Next::Vxlan),
    (port::VXLAN_LINUX, Next::Vxlan),
    (port::VXLAN_GPE, Next::VxlanGpe),
    (port::GENEVE, Next::Geneve),
    (port::GTP_U, Next::GtpU),
    (port::TEREDO, Next::Teredo),
    (port::GRE_IN_UDP, Next::Gre),
    (port::MPLS_IN_UDP, Next::Mpls),
    (port::AYIYA, Next::Ayiya),
    (port::SFLOW, Next::Sflow),
];

/// The built-in EtherType entries.
#[inline(always)]
pub fn default_ethertype(t: u16) -> Lookup {
    // The common cases first, without a search.
    match t {
        et::IPV4 => return Lookup::Next(Next::Ipv4),
        et::IPV6 => return Lookup::Next(Next::Ipv6),
        et::VLAN => return Lookup::Next(Next::Vlan),
        et::TEB => return Lookup::Next(Next::Ethernet),
        _ => {}
    }
    other_ethertype(t)
}

#[inline(never)]
fn other_ethertype(t: u16) -> Lookup {
    Lookup::Next(match t {
        et::IPV4 => Next::Ipv4,
        et::IPV6 => Next::Ipv6,
        et::ARP => Next::Arp,
        et::VLAN | et::QINQ | et::QINQ_9100 | et::QINQ_9200 => Next::Vlan,
        et::MPLS | et::MPLS_MULTICAST => Next::Mpls,
        et::TEB => Next::Ethernet,
        et::VNTAG => Next::VnTag,
        et::ETAG => Next::ETag,
        et::PBB => Next::Pbb,
        et::TRILL => Next::Trill,
        et::PPPOE_SESSION => Next::Pppoe,
        et::NSH => Next::Nsh,
        et::ARISTA => Next::Arista,
        et::CISCO_METADATA => Next::CiscoMetadata,
        // Known protocols that carry no frame: keepalive, CDP, NHRP, OSI, LLDP, slow
        // protocols, EAPOL, PTP, MACsec, loopback, RARP, PPPoE discovery, Cisco TTag.
        0x0000
        | 0x00fe
        | 0x2000
        | 0x2001
        | 0x88cc
        | 0x8809
        | 0x888e
        | 0x88f7
        | 0x88e5
        | et::LOOPBACK
        | 0x8035
        | et::PPPOE_DISCOVERY
        | et::CISCO_TTAG
        | 0x0842
        | 0x8808
        | 0x88b5
        | 0x88b6
        | 0x893a => Next::Leaf,
        _ => return Lookup::Unknown,
    })
}

/// What follows a VXLAN-GPE or NSH header, by their shared next-protocol numbering
/// (1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH, 5 MPLS).
pub fn next_protocol(n: u8) -> Option<Next> {
    match n {
        1 => Some(Next::Ipv4),
        2 => Some(Next::Ipv6),
        3 => Some(Next::Ethernet),
        4 => Some(Next::Nsh),
        5 => Some(Next::Mpls),
        _ => None,
    }
}

/// The built-in IP protocol entries.
pub fn default_ip_protocol(p: u8) -> Next {
    match p {
        ipp::IPIP => Next::Ipv4,
        ipp::IPV6 => Next::Ipv6,
        ipp::GRE => Next::Gre,
        ipp::UDP => Next::Udp,
        ipp::TCP => Next::Tcp,
        ipp::SCTP => Next::Sctp,
        ipp::ICMP => Next::Icmp,
        ipp::ICMPV6 => Next::Icmp6,
        ipp::L2TP => Next::L2tpv3,
        ipp::ETHERNET => Next::Ethernet,
        _ => Next::Leaf,
    }
}

/// The dispatch table a dissector consults, built once from a [`Config`].
#[derive(Debug, Clone)]
pub struct Table {
    pub(crate) config: Config,
    udp_ports: Vec<(u16, Next)>,
    /// Bit `p % 64` is set for every port `p` in `udp_ports`: most ports are rejected with
    /// one test.
    udp_mask: u64,
}

impl Table {
    /// Builds the table: configured UDP ports replace or extend the defaults.
    pub fn new(config: Config) -> Table {
        let mut udp_ports: Vec<(u16, Next)> = DEFAULT_UDP_PORTS.to_vec();
        for &(p, n) in &config.udp_ports {
            udp_ports.retain(|(q, _)| *q != p);
            udp_ports.push((p, n));
        }
        let udp_mask = udp_ports.iter().fold(0u64, |m, (p, _)| m | 1 << (p % 64));
        Table { config, udp_ports, udp_mask }
    }
    /// The configuration the table was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// What follows an EtherType.
    #[inline]
    pub fn ethertype(&self, t: u16) -> Lookup {
        if !self.config.ethertypes.is_empty() {
            if let Some((_, n)) = self.config.ethertypes.iter().find(|(v, _)| *v == t) {
                return Lookup::Next(*n);
            }
        }
        default_ethertype(t)
    }
    /// What follows a GRE protocol type (configured entries, GRE-specific defaults, then
    /// the EtherType table).
    #[inline]
    pub fn gre_protocol(&self, t: u16) -> Lookup {
        if !self.config.gre_protocols.is_empty() {
            if let Some((_, n)) = self.config.gre_protocols.iter().find(|(v, _)| *v == t) {
                return Lookup::Next(*n);
            }
        }
        match t {
            et::ERSPAN => Lookup::Next(Next::Erspan),
            et::ERSPAN3 => Lookup::Next(Next::Erspan3),
            et::WCCP => Lookup::Next(Next::Wccp),
            et::PPP => Lookup::Next(Next::Ppp),
            et::CISCO_METADATA => Lookup::Next(Next::CiscoMetadataGre),
            // Aruba controllers: 802.11 frames on 0x8200-0x8370 in steps of 0x10, and 0x9000.
            0x8200..=0x8370 if t % 0x10 == 0 => Lookup::Next(Next::Wlan),
            0x9000 => Lookup::Next(Next::Wlan),
            // Transparent Ethernet bridging as some vendors number it.
            0x6400 => Lookup::Next(Next::Ethernet),
            _ => self.ethertype(t),
        }
    }
    /// What a UDP port carries, if anything.
    #[inline]
    pub fn udp_port(&self, p: u16) -> Option<Next> {
        if self.udp_mask & (1 << (p % 64)) == 0 {
            return None;
        }
        self.udp_ports.iter().find(|(q, _)| *q == p).map(|(_, n)| *n)
    }
}

impl Default for Table {
    fn default() -> Table {
        Table::new(Config::default())
    }
}

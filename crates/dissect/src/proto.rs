//! The protocols a layer can be, with the tokens the `stack` field prints.

/// One protocol the decoder knows. The discriminant indexes per-protocol tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Proto {
    /// Ethernet II (or 802.3 with LLC following).
    Eth,
    /// Linux cooked capture header (SLL or SLL2).
    Sll,
    /// BSD loopback (null) header.
    Null,
    /// PPP framing.
    Ppp,
    /// IEEE 802.2 LLC (and SNAP).
    Llc,
    /// 802.1Q, 802.1ad or legacy QinQ tag.
    Vlan,
    /// Cisco VN-Tag.
    VnTag,
    /// IEEE 802.1BR E-Tag.
    ETag,
    /// IEEE 802.1ah I-TAG.
    Pbb,
    /// TRILL.
    Trill,
    /// Cisco FabricPath.
    FabricPath,
    /// Arista timestamp header.
    Arista,
    /// Cisco MetaData.
    CiscoMetadata,
    /// Cisco MetaData inside GRE (EtherType first).
    CiscoMetadataGre,
    /// One MPLS label stack entry.
    Mpls,
    /// Pseudowire control word.
    PwControlWord,
    /// PPPoE session.
    Pppoe,
    /// ARP.
    Arp,
    /// IPv4.
    Ipv4,
    /// IPv6 with its extension headers.
    Ipv6,
    /// GRE (version 0 or 1).
    Gre,
    /// ERSPAN type I (no header of its own).
    Erspan1,
    /// ERSPAN type II.
    Erspan2,
    /// ERSPAN type III.
    Erspan3,
    /// WCCP redirect header.
    Wccp,
    /// 802.11 MAC header (Aruba GRE).
    Wlan,
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
    /// Network Service Header.
    Nsh,
    /// GTP-U.
    GtpU,
    /// Teredo indicators (the IPv6 packet follows).
    Teredo,
    /// AYIYA.
    Ayiya,
    /// L2TPv3 over IP.
    L2tpv3,
    /// CAPWAP (data or control channel).
    Capwap,
    /// One A-MSDU subframe header (destination, source, length).
    Amsdu,
    /// Cisco ISL.
    Isl,
    /// Cisco HDLC.
    Chdlc,
    /// Radiotap.
    Radiotap,
    /// GTP' (charging data).
    GtpPrime,
    /// GTPv2-C.
    Gtpv2,
    /// The associated channel header after a GAL or in place of a control word.
    PwAch,
    /// sFlow datagram (its samples are decoded by the sFlow receiver, not as layers).
    Sflow,
}

impl Proto {
    /// Number of protocols.
    pub const COUNT: usize = Proto::Sflow as usize + 1;

    /// Every protocol, in discriminant order.
    pub const ALL: [Proto; Proto::COUNT] = [
        Proto::Eth,
        Proto::Sll,
        Proto::Null,
        Proto::Ppp,
        Proto::Llc,
        Proto::Vlan,
        Proto::VnTag,
        Proto::ETag,
        Proto::Pbb,
        Proto::Trill,
        Proto::FabricPath,
        Proto::Arista,
        Proto::CiscoMetadata,
        Proto::CiscoMetadataGre,
        Proto::Mpls,
        Proto::PwControlWord,
        Proto::Pppoe,
        Proto::Arp,
        Proto::Ipv4,
        Proto::Ipv6,
        Proto::Gre,
        Proto::Erspan1,
        Proto::Erspan2,
        Proto::Erspan3,
        Proto::Wccp,
        Proto::Wlan,
        Proto::Udp,
        Proto::Tcp,
        Proto::Sctp,
        Proto::Icmp,
        Proto::Icmp6,
        Proto::Vxlan,
        Proto::VxlanGpe,
        Proto::Geneve,
        Proto::Nsh,
        Proto::GtpU,
        Proto::Teredo,
        Proto::Ayiya,
        Proto::L2tpv3,
        Proto::Capwap,
        Proto::Amsdu,
        Proto::Isl,
        Proto::Chdlc,
        Proto::Radiotap,
        Proto::GtpPrime,
        Proto::Gtpv2,
        Proto::PwAch,
        Proto::Sflow,
    ];

    /// The token this protocol contributes to the `stack` field (sFlow-RT's names where it
    /// has them: `eth`, `q`, `ip`, `ip6`, `tcp`, `udp`, `gre`, `vxlan`, `geneve`, `mpls`).
    pub const fn token(self) -> &'static str {
        match self {
            Proto::Eth => "eth",
            Proto::Sll => "sll",
            Proto::Null => "null",
            Proto::Ppp => "ppp",
            Proto::Llc => "llc",
            Proto::Vlan => "q",
            Proto::VnTag => "vntag",
            Proto::ETag => "etag",
            Proto::Pbb => "pbb",
            Proto::Trill => "trill",
            Proto::FabricPath => "fabricpath",
            Proto::Arista => "arista",
            Proto::CiscoMetadata | Proto::CiscoMetadataGre => "cmd",
            Proto::Mpls => "mpls",
            Proto::PwControlWord => "pwcw",
            Proto::Pppoe => "pppoe",
            Proto::Arp => "arp",
            Proto::Ipv4 => "ip",
            Proto::Ipv6 => "ip6",
            Proto::Gre => "gre",
            Proto::Erspan1 | Proto::Erspan2 | Proto::Erspan3 => "erspan",
            Proto::Wccp => "wccp",
            Proto::Wlan => "wlan",
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Sctp => "sctp",
            Proto::Icmp => "icmp",
            Proto::Icmp6 => "icmp6",
            Proto::Vxlan => "vxlan",
            Proto::VxlanGpe => "gpe",
            Proto::Geneve => "geneve",
            Proto::Nsh => "nsh",
            Proto::GtpU => "gtp",
            Proto::Teredo => "teredo",
            Proto::Ayiya => "ayiya",
            Proto::L2tpv3 => "l2tp",
            Proto::Capwap => "capwap",
            Proto::Amsdu => "amsdu",
            Proto::Isl => "isl",
            Proto::Chdlc => "chdlc",
            Proto::Radiotap => "radiotap",
            Proto::GtpPrime => "gtpprime",
            Proto::Gtpv2 => "gtpv2",
            Proto::PwAch => "pwach",
            Proto::Sflow => "sflow",
        }
    }

    /// True when this protocol is a tunnel (see [`Proto::tunnel`]); a table lookup.
    #[inline(always)]
    pub fn is_tunnel(self) -> bool {
        const TABLE: [bool; Proto::COUNT] = {
            let mut t = [false; Proto::COUNT];
            let mut i = 0;
            while i < Proto::COUNT {
                t[i] = Proto::ALL[i].tunnel().is_some();
                i += 1;
            }
            t
        };
        TABLE[self as usize]
    }

    /// The tunnel kind this layer is, if it is one: a layer whose payload is a whole frame
    /// or packet again. Counted against the depth bound and named by `--strip`.
    pub const fn tunnel(self) -> Option<Tunnel> {
        Some(match self {
            Proto::Gre => Tunnel::Gre,
            Proto::Erspan1 | Proto::Erspan2 | Proto::Erspan3 => Tunnel::Erspan,
            Proto::Vxlan => Tunnel::Vxlan,
            Proto::VxlanGpe => Tunnel::VxlanGpe,
            Proto::Geneve => Tunnel::Geneve,
            Proto::Nsh => Tunnel::Nsh,
            Proto::GtpU => Tunnel::GtpU,
            Proto::Teredo => Tunnel::Teredo,
            Proto::Ayiya => Tunnel::Ayiya,
            Proto::L2tpv3 => Tunnel::L2tpv3,
            Proto::Pbb => Tunnel::Pbb,
            Proto::Trill => Tunnel::Trill,
            Proto::FabricPath => Tunnel::FabricPath,
            Proto::PwControlWord => Tunnel::Pseudowire,
            Proto::Capwap => Tunnel::Capwap,
            Proto::Isl => Tunnel::Isl,
            _ => return None,
        })
    }

    /// True for tags inside a frame (VLAN, VN-Tag, E-Tag) that end in an EtherType.
    pub const fn is_tag(self) -> bool {
        matches!(self, Proto::Vlan | Proto::VnTag | Proto::ETag | Proto::Arista | Proto::CiscoMetadata)
    }
}

/// Kinds of tunnel, as `--strip` and the stream summaries name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tunnel {
    /// GRE, NVGRE, GRE-in-UDP.
    Gre,
    /// ERSPAN types I, II and III.
    Erspan,
    /// VXLAN.
    Vxlan,
    /// VXLAN-GPE.
    VxlanGpe,
    /// GENEVE.
    Geneve,
    /// Network Service Header.
    Nsh,
    /// IP in IP (4in4, 6in4, 4in6, 6in6).
    IpInIp,
    /// GTP-U.
    GtpU,
    /// Teredo.
    Teredo,
    /// AYIYA.
    Ayiya,
    /// L2TPv3.
    L2tpv3,
    /// MPLS pseudowire.
    Pseudowire,
    /// MPLS in UDP (RFC 7510).
    MplsInUdp,
    /// Provider backbone bridging.
    Pbb,
    /// TRILL.
    Trill,
    /// Cisco FabricPath.
    FabricPath,
    /// CAPWAP's data channel.
    Capwap,
    /// Cisco ISL.
    Isl,
}

impl Tunnel {
    /// Every tunnel kind.
    pub const ALL: [Tunnel; 18] = [
        Tunnel::Gre,
        Tunnel::Erspan,
        Tunnel::Vxlan,
        Tunnel::VxlanGpe,
        Tunnel::Geneve,
        Tunnel::Nsh,
        Tunnel::IpInIp,
        Tunnel::GtpU,
        Tunnel::Teredo,
        Tunnel::Ayiya,
        Tunnel::L2tpv3,
        Tunnel::Pseudowire,
        Tunnel::MplsInUdp,
        Tunnel::Pbb,
        Tunnel::Trill,
        Tunnel::FabricPath,
        Tunnel::Capwap,
        Tunnel::Isl,
    ];

    /// The name users give this kind on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Tunnel::Gre => "gre",
            Tunnel::Erspan => "erspan",
            Tunnel::Vxlan => "vxlan",
            Tunnel::VxlanGpe => "gpe",
            Tunnel::Geneve => "geneve",
            Tunnel::Nsh => "nsh",
            Tunnel::IpInIp => "ipip",
            Tunnel::GtpU => "gtp",
            Tunnel::Teredo => "teredo",
            Tunnel::Ayiya => "ayiya",
            Tunnel::L2tpv3 => "l2tp",
            Tunnel::Pseudowire => "pw",
            Tunnel::MplsInUdp => "mplsudp",
            Tunnel::Pbb => "pbb",
            Tunnel::Trill => "trill",
            Tunnel::FabricPath => "fabricpath",
            Tunnel::Capwap => "capwap",
            Tunnel::Isl => "isl",
        }
    }

    /// The kind named `name`, if any.
    pub fn from_name(name: &str) -> Option<Tunnel> {
        Tunnel::ALL.into_iter().find(|t| t.name() == name)
    }
}

//! sFlow-RT's field names read out of a decoded stack, with the depth-suffix rule: `name.N`
//! is the (N+1)-th occurrence of `name` walking the headers outermost first.
use crate::proto::Proto;
use crate::protocol::{carries, layer_fields, u};
use crate::stack::{Layer, Stack};
use core::fmt;
use wire::be16_pub as be16;
pub use wire::{Ipv4Addr, Ipv6Addr, MacAddr};

named_enum! {
    /// A field a layer can carry.
    Field {
        /// Ethernet source address.
        MacSource = "macsource",
        /// Ethernet destination address.
        MacDestination = "macdestination",
        /// EtherType of the frame's payload, after its tags.
        EthernetProtocol = "ethernetprotocol",
        /// `true` when the destination MAC is unicast.
        IsUnicast = "isunicast",
        /// `true` when the destination MAC is multicast (broadcast included).
        IsMulticast = "ismulticast",
        /// `true` when the destination MAC is ff:ff:ff:ff:ff:ff.
        IsBroadcast = "isbroadcast",
        /// VLAN ID of an 802.1Q/802.1ad tag, or of a Cisco ISL header.
        Vlan = "vlan",
        /// Priority code point of a VLAN tag.
        Priority = "priority",
        /// VN-Tag destination virtual interface.
        VnTagDstVif = "vntagdvif",
        /// VN-Tag source virtual interface.
        VnTagSrcVif = "vntagsvif",
        /// E-Tag E-CID.
        ETagEcid = "etagecid",
        /// PBB backbone service instance ID.
        PbbIsid = "pbbisid",
        /// TRILL ingress RBridge nickname.
        TrillIngress = "trillingress",
        /// TRILL egress RBridge nickname.
        TrillEgress = "trillegress",
        /// FabricPath source switch ID.
        FabricPathSource = "fabricpathsourceswitch",
        /// FabricPath destination switch ID.
        FabricPathDestination = "fabricpathdestinationswitch",
        /// FabricPath forwarding tag.
        FabricPathFtag = "fabricpathftag",
        /// Cisco MetaData security group tag.
        CmdSgt = "cmdsgt",
        /// MPLS label of the top entry of a label stack.
        MplsLabel = "mplslabel",
        /// MPLS traffic class of the top entry.
        MplsTc = "mplstc",
        /// MPLS TTL of the top entry.
        MplsTtl = "mplsttl",
        /// MPLS label of the bottom entry of a label stack.
        MplsBottomLabel = "mplsbottomlabel",
        /// Number of entries in an MPLS label stack.
        MplsDepth = "mplsdepth",
        /// PPPoE session ID.
        PppoeSession = "pppoesession",
        /// PPP protocol.
        PppProtocol = "pppprotocol",
        /// ARP operation.
        ArpOperation = "arpoperation",
        /// ARP sender IPv4 address.
        ArpIpSender = "arpipsender",
        /// ARP target IPv4 address.
        ArpIpTarget = "arpiptarget",
        /// IPv4 source address.
        IpSource = "ipsource",
        /// IPv4 destination address.
        IpDestination = "ipdestination",
        /// IPv4 protocol.
        IpProtocol = "ipprotocol",
        /// IPv4 type of service byte.
        IpTos = "iptos",
        /// IPv4 DSCP (the top six bits of the type of service).
        IpDscp = "ipdscp",
        /// IPv4 ECN as a 2-character binary string.
        IpEcn = "ipecn",
        /// IPv4 total length.
        IpBytes = "ipbytes",
        /// IPv4 time to live.
        IpTtl = "ipttl",
        /// IPv4 flags as a 3-character binary string (reserved, DF, MF).
        IpFlags = "ipflags",
        /// IPv4 fragment offset (8-byte units).
        IpFragOffset = "ipfragoffset",
        /// IPv6 source address.
        Ip6Source = "ip6source",
        /// IPv6 destination address.
        Ip6Destination = "ip6destination",
        /// IPv6 next header after the extension headers.
        Ip6NextHdr = "ip6nexthdr",
        /// IPv6 traffic class.
        Ip6Tos = "ip6tos",
        /// IPv6 DSCP.
        Ip6Dscp = "ip6dscp",
        /// IPv6 ECN as a 2-character binary string.
        Ip6Ecn = "ip6ecn",
        /// IPv6 payload length plus the 40-byte header.
        Ip6Bytes = "ip6bytes",
        /// IPv6 hop limit.
        Ip6Ttl = "ip6ttl",
        /// IPv6 flow label.
        Ip6FlowLabel = "ip6flowlabel",
        /// TCP source port.
        TcpSourcePort = "tcpsourceport",
        /// TCP destination port.
        TcpDestinationPort = "tcpdestinationport",
        /// TCP flags, sFlow-RT's 9-character string (NS CWR ECE URG ACK PSH RST SYN FIN).
        TcpFlags = "tcpflags",
        /// UDP source port.
        UdpSourcePort = "udpsourceport",
        /// UDP destination port.
        UdpDestinationPort = "udpdestinationport",
        /// SCTP source port.
        SctpSourcePort = "sctpsourceport",
        /// SCTP destination port.
        SctpDestinationPort = "sctpdestinationport",
        /// ICMP type.
        IcmpType = "icmptype",
        /// ICMP code.
        IcmpCode = "icmpcode",
        /// ICMPv6 type.
        Icmp6Type = "icmp6type",
        /// ICMPv6 code.
        Icmp6Code = "icmp6code",
        /// GRE key (when the K flag is set).
        GreKey = "grekey",
        /// GRE protocol type.
        GreProtocol = "greprotocol",
        /// NVGRE virtual subnet ID (the key's upper 24 bits).
        GreVsid = "grevsid",
        /// NVGRE flow ID (the key's low 8 bits).
        GreFlowId = "greflowid",
        /// Enhanced GRE (PPTP) call ID.
        GreCallId = "grecallid",
        /// ERSPAN type: 1, 2 or 3.
        ErspanType = "erspantype",
        /// ERSPAN header version field: 1 for type II, 2 for type III.
        ErspanVersion = "erspanversion",
        /// ERSPAN session ID.
        ErspanSession = "erspansession",
        /// ERSPAN VLAN of the mirrored frame.
        ErspanVlan = "erspanvlan",
        /// ERSPAN class of service.
        ErspanCos = "erspancos",
        /// ERSPAN type II port index.
        ErspanIndex = "erspanindex",
        /// ERSPAN type III timestamp (low 32 bits).
        ErspanTimestamp = "erspantimestamp",
        /// ERSPAN type III timestamp granularity (0 100 µs, 1 100 ns, 2 IEEE 1588, 3 custom).
        ErspanGranularity = "erspangranularity",
        /// ERSPAN type III security group tag.
        ErspanSgt = "erspansgt",
        /// ERSPAN type III hardware ID.
        ErspanHwId = "erspanhwid",
        /// ERSPAN type III frame type (0 Ethernet, 2 IP).
        ErspanFrameType = "erspanft",
        /// ERSPAN type III direction: `ingress` or `egress`.
        ErspanDirection = "erspandirection",
        /// ERSPAN type III platform ID of the platform sub-header.
        ErspanPlatformId = "erspanplatformid",
        /// Port index from the ERSPAN type III platform sub-header.
        ErspanPortIndex = "erspanportindex",
        /// VXLAN network identifier.
        VxlanVni = "vxlanvni",
        /// VXLAN-GBP group policy ID.
        VxlanGroupId = "vxlangroupid",
        /// VXLAN-GPE network identifier.
        GpeVni = "gpevni",
        /// VXLAN-GPE next protocol.
        GpeNextProtocol = "gpenextprotocol",
        /// GENEVE virtual network identifier.
        GeneveVni = "genevevni",
        /// GENEVE protocol type.
        GeneveProtocol = "geneveprotocol",
        /// GENEVE options length in bytes.
        GeneveOptionsLength = "geneveoptionslength",
        /// NSH service path identifier.
        NshSpi = "nshspi",
        /// NSH service index.
        NshSi = "nshsi",
        /// GTP tunnel endpoint identifier (GTPv1, and GTPv2-C when its header has one).
        GtpTeid = "gtpteid",
        /// GTP message type (also GTPv2-C and GTP').
        GtpMsgType = "gtpmsgtype",
        /// Teredo origin indication port.
        TeredoOriginPort = "teredooriginport",
        /// Teredo origin indication IPv4 address.
        TeredoOriginIp = "teredooriginip",
        /// L2TPv3 session ID.
        L2tpSession = "l2tpsession",
        /// 802.11 transmitter address.
        WlanSource = "wlansource",
        /// 802.11 receiver address.
        WlanDestination = "wlandestination",
        /// 802.11 third address (BSSID for most data frames).
        WlanBssid = "wlanbssid",
        /// CAPWAP radio ID.
        CapwapRadioId = "capwapradioid",
        /// CAPWAP wireless binding ID (1 for 802.11).
        CapwapWbid = "capwapwbid",
        /// Channel type of an associated channel header.
        PwAchChannel = "pwachchannel",
    }
}

impl Field {
    /// The field named `name` (without depth suffix), if any.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// One field value. Addresses print as network engineers write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// A number.
    Uint(u64),
    /// A MAC address.
    Mac(MacAddr),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address.
    Ipv6(Ipv6Addr),
    /// A bit string of `width` characters, most significant first.
    Bits {
        /// The bits.
        bits: u16,
        /// How many characters.
        width: u8,
    },
    /// A word.
    Word(&'static str),
}

impl Value {
    /// True when JSON should carry it as a number.
    pub fn is_number(&self) -> bool {
        matches!(self, Value::Uint(_))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Uint(n) => write!(f, "{n}"),
            Value::Mac(m) => m.fmt(f),
            Value::Ipv4(a) => a.fmt(f),
            Value::Ipv6(a) => a.fmt(f),
            Value::Bits { bits, width } => {
                for i in (0..*width).rev() {
                    f.write_str(if bits & (1 << i) != 0 { "1" } else { "0" })?;
                }
                Ok(())
            }
            Value::Word(w) => f.write_str(w),
        }
    }
}

/// A decoded frame: its bytes and its stack, from which fields are read.
#[derive(Clone, Copy)]
pub struct Decoded<'a> {
    pub(crate) frame: &'a [u8],
    pub(crate) stack: &'a Stack,
}

impl<'a> Decoded<'a> {
    /// The captured bytes.
    pub fn frame(&self) -> &'a [u8] {
        self.frame
    }
    /// The layers decoded from them.
    pub fn stack(&self) -> &'a Stack {
        self.stack
    }
    /// Calls `emit` with every field of every layer, outermost first.
    pub fn for_each(&self, emit: &mut dyn FnMut(Field, Value)) {
        let layers = self.stack.layers();
        for i in 0..layers.len() {
            layer_fields(self.frame, layers, i, emit);
        }
    }
    /// Calls `emit` with every field of every layer, outermost first, and which occurrence of
    /// that field it is (0 the outermost: the `N` of the depth suffix `name.N`).
    pub fn for_each_numbered(&self, emit: &mut dyn FnMut(Field, u32, Value)) {
        let mut seen = [0u32; Field::COUNT];
        self.for_each(&mut |field, value| {
            let n = seen[field as usize];
            seen[field as usize] += 1;
            emit(field, n, value);
        });
    }
    /// The `occurrence`-th value (0 = outermost) of `field`, if the frame has one.
    pub fn get(&self, field: Field, occurrence: usize) -> Option<Value> {
        let layers = self.stack.layers();
        let mut seen = 0;
        let mut found = None;
        for i in 0..layers.len() {
            if !carries(layers[i].proto, field) {
                continue;
            }
            // The common fields directly; the others from the layer's full list.
            if let Some(v) = direct(self.frame, &layers[i], field) {
                if seen == occurrence {
                    return Some(v);
                }
                seen += 1;
                continue;
            }
            layer_fields(self.frame, layers, i, &mut |f, v| {
                if f == field && found.is_none() {
                    if seen == occurrence {
                        found = Some(v);
                    }
                    seen += 1;
                }
            });
            if found.is_some() {
                break;
            }
        }
        found
    }
}

/// The value of `field` in `layer` for the fields every layer of its kind has, read without
/// computing the layer's other fields; `None` for any other field.
#[inline]
fn direct(frame: &[u8], layer: &Layer, field: Field) -> Option<Value> {
    let b = layer.bytes(frame);
    Some(match (layer.proto, field) {
        // An IPv4 layer holds at least its protocol byte; a header cut short, not its addresses.
        (Proto::Ipv4, Field::IpSource) if b.len() >= 16 => Value::Ipv4(Ipv4Addr::from_bytes(&b[12..16])),
        (Proto::Ipv4, Field::IpDestination) if b.len() >= 20 => Value::Ipv4(Ipv4Addr::from_bytes(&b[16..20])),
        (Proto::Ipv4, Field::IpProtocol) if b.len() > 9 => u(b[9]),
        (Proto::Ipv6, Field::Ip6Source) if b.len() >= 24 => Value::Ipv6(Ipv6Addr::from_bytes(&b[8..24])),
        (Proto::Ipv6, Field::Ip6Destination) if b.len() >= 40 => {
            Value::Ipv6(Ipv6Addr::from_bytes(&b[24..40]))
        }
        (Proto::Tcp | Proto::Udp, Field::TcpSourcePort | Field::UdpSourcePort) => u(be16(b, 0)),
        (Proto::Tcp | Proto::Udp, Field::TcpDestinationPort | Field::UdpDestinationPort) => u(be16(b, 2)),
        (Proto::Eth, Field::MacSource) => Value::Mac(MacAddr::from_bytes(&b[6..12])),
        (Proto::Eth, Field::MacDestination) => Value::Mac(MacAddr::from_bytes(&b[0..6])),
        _ => return None,
    })
}

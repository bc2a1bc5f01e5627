//! sFlow-RT's field names read out of a decoded stack, with the depth-suffix rule: `name.N`
//! is the (N+1)-th occurrence of `name` walking the headers outermost first.
use crate::proto::Proto;
use crate::stack::{Layer, Stack, FLAG_NVGRE};
use core::fmt;
use wire::{be16_pub as be16, be32_pub as be32};
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
        /// VLAN ID of an 802.1Q/802.1ad tag.
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
        /// GTP-U tunnel endpoint identifier.
        GtpTeid = "gtpteid",
        /// GTP message type.
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

/// True when layers of `proto` can carry `field` (lets lookups skip other layers).
pub fn carries(proto: Proto, field: Field) -> bool {
    use Field::*;
    match proto {
        Proto::Eth => {
            matches!(
                field,
                MacSource | MacDestination | EthernetProtocol | IsUnicast | IsMulticast | IsBroadcast
            )
        }
        Proto::Vlan => matches!(field, Vlan | Priority),
        Proto::VnTag => matches!(field, VnTagDstVif | VnTagSrcVif),
        Proto::ETag => field == ETagEcid,
        Proto::Pbb => field == PbbIsid,
        Proto::Trill => matches!(field, TrillIngress | TrillEgress),
        Proto::FabricPath => matches!(field, FabricPathSource | FabricPathDestination | FabricPathFtag),
        Proto::CiscoMetadata | Proto::CiscoMetadataGre => field == CmdSgt,
        Proto::Mpls => matches!(field, MplsLabel | MplsTc | MplsTtl | MplsBottomLabel | MplsDepth),
        Proto::Pppoe => field == PppoeSession,
        Proto::Ppp => field == PppProtocol,
        Proto::Arp => matches!(field, ArpOperation | ArpIpSender | ArpIpTarget),
        Proto::Ipv4 => matches!(
            field,
            IpSource
                | IpDestination
                | IpProtocol
                | IpTos
                | IpDscp
                | IpEcn
                | IpBytes
                | IpTtl
                | IpFlags
                | IpFragOffset
        ),
        Proto::Ipv6 => matches!(
            field,
            Ip6Source
                | Ip6Destination
                | Ip6NextHdr
                | Ip6Tos
                | Ip6Dscp
                | Ip6Ecn
                | Ip6Bytes
                | Ip6Ttl
                | Ip6FlowLabel
        ),
        Proto::Tcp => matches!(field, TcpSourcePort | TcpDestinationPort | TcpFlags),
        Proto::Udp => matches!(field, UdpSourcePort | UdpDestinationPort),
        Proto::Sctp => matches!(field, SctpSourcePort | SctpDestinationPort),
        Proto::Icmp => matches!(field, IcmpType | IcmpCode),
        Proto::Icmp6 => matches!(field, Icmp6Type | Icmp6Code),
        Proto::Gre => matches!(field, GreKey | GreProtocol | GreVsid | GreFlowId | GreCallId),
        Proto::Erspan1 | Proto::Erspan2 | Proto::Erspan3 => matches!(
            field,
            ErspanType
                | ErspanVersion
                | ErspanSession
                | ErspanVlan
                | ErspanCos
                | ErspanIndex
                | ErspanTimestamp
                | ErspanGranularity
                | ErspanSgt
                | ErspanHwId
                | ErspanFrameType
                | ErspanDirection
                | ErspanPlatformId
                | ErspanPortIndex
        ),
        Proto::Vxlan => matches!(field, VxlanVni | VxlanGroupId),
        Proto::VxlanGpe => matches!(field, GpeVni | GpeNextProtocol),
        Proto::Geneve => matches!(field, GeneveVni | GeneveProtocol | GeneveOptionsLength),
        Proto::Nsh => matches!(field, NshSpi | NshSi),
        Proto::GtpU => matches!(field, GtpTeid | GtpMsgType),
        Proto::Teredo => matches!(field, TeredoOriginPort | TeredoOriginIp),
        Proto::L2tpv3 => field == L2tpSession,
        Proto::Wlan => matches!(field, WlanSource | WlanDestination | WlanBssid),
        _ => false,
    }
}

fn boolean(b: bool) -> Value {
    Value::Word(if b { "true" } else { "false" })
}

fn u(v: impl Into<u64>) -> Value {
    Value::Uint(v.into())
}

/// The EtherType at the end of the tags that follow the Ethernet layer at `i`.
fn ethernet_protocol(frame: &[u8], layers: &[Layer], i: usize) -> Option<u16> {
    let eth = layers[i].bytes(frame);
    let mut t = be16(eth, 12);
    for l in &layers[i + 1..] {
        if !l.proto.is_tag() {
            break;
        }
        let b = l.bytes(frame);
        if b.len() >= 2 {
            t = be16(b, b.len() - 2);
        }
    }
    (t >= wire::ethernet::ethertype::MIN_ETHERTYPE).then_some(t)
}

/// Emits the fields of layer `i`. Every layer's bytes were checked when it was decoded, so
/// the reads below stay inside them.
pub fn layer_fields(frame: &[u8], layers: &[Layer], i: usize, emit: &mut dyn FnMut(Field, Value)) {
    let layer = layers[i];
    let b = layer.bytes(frame);
    match layer.proto {
        Proto::Eth => {
            let dst = MacAddr::from_bytes(&b[0..6]);
            emit(Field::MacSource, Value::Mac(MacAddr::from_bytes(&b[6..12])));
            emit(Field::MacDestination, Value::Mac(dst));
            if let Some(t) = ethernet_protocol(frame, layers, i) {
                emit(Field::EthernetProtocol, u(t));
            }
            emit(Field::IsUnicast, boolean(!dst.is_multicast()));
            emit(Field::IsMulticast, boolean(dst.is_multicast()));
            emit(Field::IsBroadcast, boolean(dst.is_broadcast()));
        }
        Proto::Vlan => {
            let p = wire::vlan::Packet::new_unchecked(b);
            emit(Field::Vlan, u(p.vid()));
            emit(Field::Priority, u(p.pcp()));
        }
        Proto::VnTag => {
            let p = wire::vntag::Packet::new_unchecked(b);
            emit(Field::VnTagDstVif, u(p.dst_vif()));
            emit(Field::VnTagSrcVif, u(p.src_vif()));
        }
        Proto::ETag => emit(Field::ETagEcid, u(wire::etag::Packet::new_unchecked(b).ecid())),
        Proto::Pbb => emit(Field::PbbIsid, u(wire::pbb::Packet::new_unchecked(b).isid())),
        Proto::Trill => {
            let p = wire::trill::Packet::new_unchecked(b);
            emit(Field::TrillIngress, u(p.ingress_nickname()));
            emit(Field::TrillEgress, u(p.egress_nickname()));
        }
        Proto::FabricPath => {
            let p = wire::fabricpath::Packet::new_unchecked(b);
            emit(Field::FabricPathSource, u(p.src_switch_id()));
            emit(Field::FabricPathDestination, u(p.dst_switch_id()));
            emit(Field::FabricPathFtag, u(p.ftag()));
        }
        Proto::CiscoMetadata => emit(Field::CmdSgt, u(wire::cisco_metadata::Packet::new_unchecked(b).sgt())),
        Proto::CiscoMetadataGre => {
            emit(Field::CmdSgt, u(wire::cisco_metadata::Packet::new_unchecked(b).gre_sgt()))
        }
        Proto::Mpls => {
            let p = wire::mpls::Packet::new_unchecked(b);
            emit(Field::MplsLabel, u(p.label()));
            emit(Field::MplsTc, u(p.tc()));
            emit(Field::MplsTtl, u(p.ttl()));
            let bottom = wire::mpls::Packet::new_unchecked(&b[b.len() - wire::mpls::HEADER_LEN..]);
            emit(Field::MplsBottomLabel, u(bottom.label()));
            emit(Field::MplsDepth, u((b.len() / wire::mpls::HEADER_LEN) as u64));
        }
        Proto::Pppoe => {
            emit(Field::PppoeSession, u(wire::pppoe::Packet::new_unchecked(b).session_id()));
            if let Ok(h) = wire::ppp::Header::parse(&b[wire::pppoe::HEADER_LEN..]) {
                emit(Field::PppProtocol, u(h.protocol));
            }
        }
        Proto::Ppp => {
            if let Ok(h) = wire::ppp::Header::parse(b) {
                emit(Field::PppProtocol, u(h.protocol));
            }
        }
        Proto::Arp => {
            if let Ok(p) = wire::arp::Packet::new_checked(b) {
                emit(Field::ArpOperation, u(p.operation()));
                if p.is_ethernet_ipv4() {
                    emit(Field::ArpIpSender, Value::Ipv4(p.sender_ip()));
                    emit(Field::ArpIpTarget, Value::Ipv4(p.target_ip()));
                }
            }
        }
        Proto::Ipv4 => {
            // A header cut off by the capture (at least up to its protocol byte) shows only
            // the fields its bytes hold.
            let p = wire::ipv4::Packet::new_unchecked(b);
            if b.len() >= 16 {
                emit(Field::IpSource, Value::Ipv4(p.src_addr()));
            }
            if b.len() >= wire::ipv4::HEADER_LEN {
                emit(Field::IpDestination, Value::Ipv4(p.dst_addr()));
            }
            emit(Field::IpProtocol, u(p.protocol()));
            emit(Field::IpTos, u(p.tos()));
            emit(Field::IpDscp, u(p.tos() >> 2));
            emit(Field::IpEcn, Value::Bits { bits: u16::from(p.tos() & 3), width: 2 });
            emit(Field::IpBytes, u(p.total_len()));
            emit(Field::IpTtl, u(p.ttl()));
            emit(Field::IpFlags, Value::Bits { bits: u16::from(p.flags()), width: 3 });
            emit(Field::IpFragOffset, u(p.frag_offset()));
        }
        Proto::Ipv6 => {
            // A header cut off by the capture shows only the fields its bytes hold.
            let p = wire::ipv6::Packet::new_unchecked(b);
            if b.len() >= 24 {
                emit(Field::Ip6Source, Value::Ipv6(p.src_addr()));
            }
            if b.len() >= wire::ipv6::HEADER_LEN {
                emit(Field::Ip6Destination, Value::Ipv6(p.dst_addr()));
            }
            emit(Field::Ip6NextHdr, u(ipv6_upper_protocol(b)));
            emit(Field::Ip6Tos, u(p.traffic_class()));
            emit(Field::Ip6Dscp, u(p.traffic_class() >> 2));
            emit(Field::Ip6Ecn, Value::Bits { bits: u16::from(p.traffic_class() & 3), width: 2 });
            emit(Field::Ip6Bytes, u(u32::from(p.payload_len()) + 40));
            emit(Field::Ip6Ttl, u(p.hop_limit()));
            emit(Field::Ip6FlowLabel, u(p.flow_label()));
        }
        Proto::Tcp => {
            let p = wire::tcp::Packet::new_unchecked(b);
            emit(Field::TcpSourcePort, u(p.src_port()));
            emit(Field::TcpDestinationPort, u(p.dst_port()));
            if b.len() >= 14 {
                emit(Field::TcpFlags, Value::Bits { bits: p.flags(), width: 9 });
            }
        }
        Proto::Udp => {
            let p = wire::udp::Packet::new_unchecked(b);
            emit(Field::UdpSourcePort, u(p.src_port()));
            emit(Field::UdpDestinationPort, u(p.dst_port()));
        }
        Proto::Sctp => {
            emit(Field::SctpSourcePort, u(be16(b, 0)));
            emit(Field::SctpDestinationPort, u(be16(b, 2)));
        }
        Proto::Icmp => {
            emit(Field::IcmpType, u(b[0]));
            emit(Field::IcmpCode, u(b[1]));
        }
        Proto::Icmp6 => {
            emit(Field::Icmp6Type, u(b[0]));
            emit(Field::Icmp6Code, u(b[1]));
        }
        Proto::Gre => {
            let p = wire::gre::Packet::new_unchecked(b);
            if let Some(k) = p.key() {
                if p.version() == 1 {
                    emit(Field::GreCallId, u(k as u16));
                } else {
                    emit(Field::GreKey, u(k));
                    if layer.flags & FLAG_NVGRE != 0 {
                        emit(Field::GreVsid, u(wire::nvgre::vsid(k)));
                        emit(Field::GreFlowId, u(wire::nvgre::flow_id(k)));
                    }
                }
            }
            emit(Field::GreProtocol, u(p.protocol()));
        }
        Proto::Erspan1 => emit(Field::ErspanType, u(1u8)),
        Proto::Erspan2 | Proto::Erspan3 => erspan_fields(b, emit),
        Proto::Vxlan => {
            let p = wire::vxlan::Packet::new_unchecked(b);
            emit(Field::VxlanVni, u(p.vni()));
            if let Some(g) = p.group_policy_id() {
                emit(Field::VxlanGroupId, u(g));
            }
        }
        Proto::VxlanGpe => {
            let p = wire::vxlan_gpe::Packet::new_unchecked(b);
            emit(Field::GpeVni, u(p.vni()));
            emit(Field::GpeNextProtocol, u(p.next_protocol()));
        }
        Proto::Geneve => {
            let p = wire::geneve::Packet::new_unchecked(b);
            emit(Field::GeneveVni, u(p.vni()));
            emit(Field::GeneveProtocol, u(p.protocol()));
            emit(Field::GeneveOptionsLength, u(p.options_len() as u64));
        }
        Proto::Nsh => {
            let p = wire::nsh::Packet::new_unchecked(b);
            emit(Field::NshSpi, u(p.spi()));
            emit(Field::NshSi, u(p.si()));
        }
        Proto::GtpU => {
            let p = wire::gtpu::Packet::new_unchecked(b);
            emit(Field::GtpTeid, u(p.teid()));
            emit(Field::GtpMsgType, u(p.msg_type()));
        }
        Proto::Teredo => {
            if let Ok(wire::teredo::Indicators { origin: Some((port, ip)), .. }) =
                wire::teredo::Indicators::parse(&frame[layer.offset as usize..])
            {
                emit(Field::TeredoOriginPort, u(port));
                emit(Field::TeredoOriginIp, Value::Ipv4(ip));
            }
        }
        Proto::L2tpv3 => emit(Field::L2tpSession, u(be32(b, 0))),
        Proto::Wlan => {
            let p = wire::ieee80211::Packet::new_unchecked(b);
            emit(Field::WlanSource, Value::Mac(p.addr2()));
            emit(Field::WlanDestination, Value::Mac(p.addr1()));
            emit(Field::WlanBssid, Value::Mac(p.addr3()));
        }
        _ => {}
    }
}

fn erspan_fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::erspan::Packet::new_unchecked(b);
    emit(Field::ErspanType, u(p.erspan_type()));
    emit(Field::ErspanVersion, u(p.version()));
    emit(Field::ErspanSession, u(p.session_id()));
    emit(Field::ErspanVlan, u(p.vlan()));
    emit(Field::ErspanCos, u(p.cos()));
    if p.version() == wire::erspan::VERSION_TYPE2 {
        emit(Field::ErspanIndex, u(p.index()));
        return;
    }
    emit(Field::ErspanTimestamp, u(p.timestamp()));
    emit(Field::ErspanGranularity, u(p.granularity()));
    emit(Field::ErspanSgt, u(p.sgt()));
    emit(Field::ErspanHwId, u(p.hw_id()));
    emit(Field::ErspanFrameType, u(p.frame_type()));
    emit(Field::ErspanDirection, Value::Word(if p.egress() { "egress" } else { "ingress" }));
    if let Some(pl) = p.platform() {
        emit(Field::ErspanPlatformId, u(pl.id()));
        if let Some(i) = pl.port_index() {
            emit(Field::ErspanPortIndex, u(i));
        }
    }
}

/// The upper-layer protocol of an IPv6 header whose bytes include its extension headers.
fn ipv6_upper_protocol(b: &[u8]) -> u8 {
    let mut nh = b[6];
    let mut at = wire::ipv6::HEADER_LEN;
    if b.len() < at {
        return nh;
    }
    while wire::ipv6::is_extension_header(nh) {
        match b.get(at..).and_then(|r| wire::ipv6::ExtHeader::parse(nh, r).ok()) {
            Some(e) => {
                nh = e.next_header;
                at += e.len;
            }
            None => break,
        }
    }
    nh
}

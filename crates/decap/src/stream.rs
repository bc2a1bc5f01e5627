//! Tunnel streams: one tunnel between two endpoints with one identifier (GRE key, ERSPAN
//! session, VNI, VSID, TEID), named the way an engineer writes it.
use dissect::{Decoded, Layer, Proto, Tunnel};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// The encapsulation of a tunnel stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamKind {
    /// GRE (also GRE-TEB with a key, which NVGRE shares).
    Gre,
    /// PPTP's enhanced GRE.
    Pptp,
    /// ERSPAN type I.
    Erspan1,
    /// ERSPAN type II.
    Erspan2,
    /// ERSPAN type III.
    Erspan3,
    /// VXLAN.
    Vxlan,
    /// VXLAN-GPE.
    Gpe,
    /// NSH.
    Nsh,
    /// GENEVE.
    Geneve,
    /// GTP-U.
    Gtp,
    /// L2TPv3.
    L2tpv3,
    /// MPLS pseudowire.
    MplsPw,
    /// MPLS in UDP.
    MplsUdp,
    /// Teredo.
    Teredo,
    /// AYIYA.
    Ayiya,
    /// PBB.
    Pbb,
    /// TRILL.
    Trill,
    /// FabricPath.
    FabricPath,
    /// CAPWAP.
    Capwap,
    /// Cisco ISL.
    Isl,
    /// IP in IP.
    IpIp,
    /// Anything else.
    Other,
}

impl StreamKind {
    /// Every kind.
    pub const ALL: [StreamKind; 22] = [
        StreamKind::Gre,
        StreamKind::Pptp,
        StreamKind::Erspan1,
        StreamKind::Erspan2,
        StreamKind::Erspan3,
        StreamKind::Vxlan,
        StreamKind::Gpe,
        StreamKind::Nsh,
        StreamKind::Geneve,
        StreamKind::Gtp,
        StreamKind::L2tpv3,
        StreamKind::MplsPw,
        StreamKind::MplsUdp,
        StreamKind::Teredo,
        StreamKind::Ayiya,
        StreamKind::Pbb,
        StreamKind::Trill,
        StreamKind::FabricPath,
        StreamKind::Capwap,
        StreamKind::Isl,
        StreamKind::IpIp,
        StreamKind::Other,
    ];

    /// The tunnel family `--strip` selects this kind by (ERSPAN III is `erspan`).
    pub const fn family(self) -> Option<Tunnel> {
        Some(match self {
            StreamKind::Gre | StreamKind::Pptp => Tunnel::Gre,
            StreamKind::Erspan1 | StreamKind::Erspan2 | StreamKind::Erspan3 => Tunnel::Erspan,
            StreamKind::Vxlan => Tunnel::Vxlan,
            StreamKind::Gpe => Tunnel::VxlanGpe,
            StreamKind::Nsh => Tunnel::Nsh,
            StreamKind::Geneve => Tunnel::Geneve,
            StreamKind::Gtp => Tunnel::GtpU,
            StreamKind::L2tpv3 => Tunnel::L2tpv3,
            StreamKind::MplsPw => Tunnel::Pseudowire,
            StreamKind::MplsUdp => Tunnel::MplsInUdp,
            StreamKind::Teredo => Tunnel::Teredo,
            StreamKind::Ayiya => Tunnel::Ayiya,
            StreamKind::Pbb => Tunnel::Pbb,
            StreamKind::Trill => Tunnel::Trill,
            StreamKind::FabricPath => Tunnel::FabricPath,
            StreamKind::Capwap => Tunnel::Capwap,
            StreamKind::Isl => Tunnel::Isl,
            StreamKind::IpIp => Tunnel::IpInIp,
            StreamKind::Other => return None,
        })
    }

    /// The name used in stream names and summaries.
    pub const fn name(self) -> &'static str {
        match self {
            StreamKind::Gre => "gre",
            StreamKind::Pptp => "pptp",
            StreamKind::Erspan1 => "erspan1",
            StreamKind::Erspan2 => "erspan2",
            StreamKind::Erspan3 => "erspan3",
            StreamKind::Vxlan => "vxlan",
            StreamKind::Gpe => "gpe",
            StreamKind::Nsh => "nsh",
            StreamKind::Geneve => "geneve",
            StreamKind::Gtp => "gtp",
            StreamKind::L2tpv3 => "l2tpv3",
            StreamKind::MplsPw => "mpls-pw",
            StreamKind::MplsUdp => "mplsudp",
            StreamKind::Teredo => "teredo",
            StreamKind::Ayiya => "ayiya",
            StreamKind::Pbb => "pbb",
            StreamKind::Trill => "trill",
            StreamKind::FabricPath => "fabricpath",
            StreamKind::Capwap => "capwap",
            StreamKind::Isl => "isl",
            StreamKind::IpIp => "ipip",
            StreamKind::Other => "tunnel",
        }
    }
}

/// The identity of a tunnel stream. Compact and aligned: it is built, hashed and compared
/// for every decapsulated frame.
#[derive(Debug, Clone, Copy, Eq)]
pub struct StreamKey {
    /// Outer source and destination addresses (IPv4 in the low 32 bits).
    source: u128,
    destination: u128,
    /// What the identifier is called (`key`, `session`, `vni`, `vsid`, `teid`, `label`), or
    /// empty when the tunnel has none.
    pub id_name: &'static str,
    /// The identifier.
    pub id: u32,
    /// The encapsulation.
    pub kind: StreamKind,
    /// The addresses are IPv6 ones.
    v6: bool,
}

impl PartialEq for StreamKey {
    fn eq(&self, o: &StreamKey) -> bool {
        // `id_name` follows from `kind`, so it is not compared.
        self.source == o.source
            && self.destination == o.destination
            && self.id == o.id
            && self.kind == o.kind
            && self.v6 == o.v6
    }
}

impl Hash for StreamKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // Two words: cheap to hash on every frame.
        let (s, d) = (self.source, self.destination);
        h.write_u64(
            (s as u64)
                ^ ((s >> 64) as u64).rotate_left(17)
                ^ (u64::from(self.id) << 32)
                ^ ((self.kind as u64) << 8 | u64::from(self.v6)),
        );
        h.write_u64((d as u64) ^ ((d >> 64) as u64).rotate_left(17));
    }
}

impl PartialOrd for StreamKey {
    fn partial_cmp(&self, o: &StreamKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for StreamKey {
    fn cmp(&self, o: &StreamKey) -> std::cmp::Ordering {
        (self.kind, self.v6, self.source, self.destination, self.id).cmp(&(
            o.kind,
            o.v6,
            o.source,
            o.destination,
            o.id,
        ))
    }
}

impl StreamKey {
    /// The stream of `kind` between `source` and `destination` (both of one family; use
    /// unspecified IPv4 addresses for a tunnel without an IP underlay) with identifier `id`,
    /// called `id_name` (empty when the tunnel has none).
    pub fn new(
        kind: StreamKind,
        source: IpAddr,
        destination: IpAddr,
        id_name: &'static str,
        id: u32,
    ) -> Self {
        let v6 = source.is_ipv6() || destination.is_ipv6();
        StreamKey { source: bits(source), destination: bits(destination), id_name, id, kind, v6 }
    }

    /// Outer source address (unspecified when the tunnel has no IP underlay, e.g. MPLS).
    pub fn source(&self) -> IpAddr {
        address(self.source, self.v6)
    }

    /// Outer destination address.
    pub fn destination(&self) -> IpAddr {
        address(self.destination, self.v6)
    }
}

fn bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn address(bits: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::from(std::net::Ipv6Addr::from(bits))
    } else {
        IpAddr::from(std::net::Ipv4Addr::from(bits as u32))
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}>{}", self.kind.name(), self.source(), self.destination())?;
        if !self.id_name.is_empty() {
            write!(f, " {} {}", self.id_name, self.id)?;
        }
        Ok(())
    }
}

impl StreamKey {
    /// A name safe to use as a file name (`erspan3_10.0.0.1-10.0.0.2_session_7`).
    pub fn file_name(&self) -> String {
        let mut s = format!("{}_{}-{}", self.kind.name(), self.source(), self.destination());
        if !self.id_name.is_empty() {
            s.push_str(&format!("_{}_{}", self.id_name, self.id));
        }
        s.replace(':', ".")
    }

    /// The stream of the tunnel whose layers are `run` (indexes into the decoded stack), with
    /// its underlay addresses taken from the nearest IP header before it. Every identifier is
    /// read through its protocol's checked view of the layer the decoder found.
    pub fn of_run(decoded: Decoded<'_>, run: std::ops::Range<usize>) -> StreamKey {
        let (frame, layers) = (decoded.frame(), decoded.stack().layers());
        let before = layers.get(..run.start).unwrap_or(&[]);
        let (source, destination, v6) =
            before.iter().rev().find_map(|l| ip_addresses(frame, l)).unwrap_or((0, 0, false));
        let (Some(&first), Some(&last)) =
            (layers.get(run.start), run.end.checked_sub(1).and_then(|i| layers.get(i)))
        else {
            return StreamKey { source, destination, id_name: "", id: 0, kind: StreamKind::Other, v6 };
        };
        // The PPP link that ends a PPTP tunnel: its GRE header names the stream.
        let last = match (last.proto, run.end.checked_sub(2).and_then(|i| layers.get(i))) {
            (Proto::Ppp, Some(&gre)) => gre,
            _ => last,
        };
        // The header that names the stream: the MPLS stack before a pseudowire's control
        // word, the one after UDP for MPLS in UDP, else the tunnel's own.
        let naming = match last.proto {
            Proto::PwControlWord => before.iter().rev().find(|l| l.proto == Proto::Mpls).copied(),
            Proto::Udp => layers.get(run.end).filter(|l| l.proto == Proto::Mpls).copied(),
            // NSH behind VXLAN-GPE: the GPE header names it.
            Proto::Nsh if first.proto == Proto::VxlanGpe => Some(first),
            _ => Some(last),
        };
        let named = naming.map_or(first.proto, |l| l.proto);
        let (id_name, id) = naming
            .and_then(|l| dissect::protocol::stream_id(l.proto, l.bytes(frame)))
            .unwrap_or((id_name_of(named), 0));
        let kind = match (last.proto, named) {
            (Proto::Erspan1, _) => StreamKind::Erspan1,
            (Proto::Erspan2, _) => StreamKind::Erspan2,
            (Proto::Erspan3, _) => StreamKind::Erspan3,
            (Proto::Gre, _) if id_name == "call" => StreamKind::Pptp,
            (Proto::Gre, _) => StreamKind::Gre,
            (Proto::Vxlan, _) => StreamKind::Vxlan,
            (Proto::VxlanGpe, _) | (Proto::Nsh, Proto::VxlanGpe) => StreamKind::Gpe,
            (Proto::Nsh, _) => StreamKind::Nsh,
            (Proto::Geneve, _) => StreamKind::Geneve,
            (Proto::GtpU, _) => StreamKind::Gtp,
            (Proto::L2tpv3, _) => StreamKind::L2tpv3,
            (Proto::PwControlWord, _) => StreamKind::MplsPw,
            (Proto::Teredo, _) => StreamKind::Teredo,
            (Proto::Ayiya, _) => StreamKind::Ayiya,
            (Proto::Pbb, _) => StreamKind::Pbb,
            (Proto::Trill, _) => StreamKind::Trill,
            (Proto::FabricPath, _) => StreamKind::FabricPath,
            (Proto::Capwap, _) => StreamKind::Capwap,
            (Proto::Isl, _) => StreamKind::Isl,
            (Proto::Ipv4 | Proto::Ipv6, _) => StreamKind::IpIp,
            (Proto::Udp, _) => StreamKind::MplsUdp,
            _ => StreamKind::Other,
        };
        // The addresses of an IP-in-IP tunnel are its own header's.
        let (source, destination, v6) = if matches!(last.proto, Proto::Ipv4 | Proto::Ipv6) {
            ip_addresses(frame, &last).unwrap_or((source, destination, v6))
        } else {
            (source, destination, v6)
        };
        StreamKey { source, destination, id_name, id, kind, v6 }
    }
}

/// The identifier's name for a stream whose header could not be read: the name a stream of
/// that protocol carries, so that every stream of one kind prints alike.
fn id_name_of(proto: Proto) -> &'static str {
    match proto {
        Proto::Erspan2 | Proto::Erspan3 | Proto::L2tpv3 => "session",
        Proto::Vxlan | Proto::VxlanGpe | Proto::Geneve => "vni",
        Proto::Nsh => "spi",
        Proto::GtpU => "teid",
        Proto::Mpls | Proto::PwControlWord | Proto::Udp => "label",
        Proto::Pbb => "isid",
        Proto::Trill => "egress",
        Proto::FabricPath => "switch",
        Proto::Capwap => "radio",
        Proto::Isl => "vlan",
        _ => "",
    }
}

/// The source and destination of an IP layer, as [`StreamKey`] holds them, and whether they
/// are IPv6 addresses.
fn ip_addresses(frame: &[u8], l: &Layer) -> Option<(u128, u128, bool)> {
    let b = l.bytes(frame);
    match l.proto {
        Proto::Ipv4 => {
            let p = wire::ipv4::Packet::new_checked(b).ok()?;
            let word = |a: wire::Ipv4Addr| u128::from(u32::from_be_bytes(a.0));
            Some((word(p.src_addr()), word(p.dst_addr()), false))
        }
        Proto::Ipv6 => {
            let p = wire::ipv6::Packet::new_checked(b).ok()?;
            Some((u128::from_be_bytes(p.src_addr().0), u128::from_be_bytes(p.dst_addr().0), true))
        }
        _ => None,
    }
}

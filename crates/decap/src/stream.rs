//! Tunnel streams: one tunnel between two endpoints with one identifier (GRE key, ERSPAN
//! session, VNI, VSID, TEID), named the way an engineer writes it.
use dissect::{Layer, Proto};
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
    /// IP in IP.
    IpIp,
    /// Anything else.
    Other,
}

impl StreamKind {
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
            StreamKind::IpIp => "ipip",
            StreamKind::Other => "tunnel",
        }
    }
}

/// The identity of a tunnel stream.
#[derive(Debug, Clone, Copy, Eq, PartialOrd, Ord)]
pub struct StreamKey {
    /// The encapsulation.
    pub kind: StreamKind,
    /// Outer source address (unspecified when the tunnel has no IP underlay, e.g. MPLS).
    pub source: IpAddr,
    /// Outer destination address.
    pub destination: IpAddr,
    /// What the identifier is called (`key`, `session`, `vni`, `vsid`, `teid`, `label`), or
    /// empty when the tunnel has none.
    pub id_name: &'static str,
    /// The identifier.
    pub id: u32,
}

impl PartialEq for StreamKey {
    fn eq(&self, o: &StreamKey) -> bool {
        // `id_name` follows from `kind`, so it is not compared.
        self.id == o.id && self.kind == o.kind && self.source == o.source && self.destination == o.destination
    }
}

impl Hash for StreamKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // Three words: cheap to hash on every frame.
        fn bits(a: &IpAddr) -> u128 {
            match a {
                IpAddr::V4(v) => u128::from(u32::from(*v)),
                IpAddr::V6(v) => u128::from(*v) ^ (1 << 127),
            }
        }
        let (s, d) = (bits(&self.source), bits(&self.destination));
        h.write_u64(
            (s as u64) ^ ((s >> 64) as u64).rotate_left(17) ^ (u64::from(self.id) << 32) ^ self.kind as u64,
        );
        h.write_u64((d as u64) ^ ((d >> 64) as u64).rotate_left(17));
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}>{}", self.kind.name(), self.source, self.destination)?;
        if !self.id_name.is_empty() {
            write!(f, " {} {}", self.id_name, self.id)?;
        }
        Ok(())
    }
}

impl StreamKey {
    /// A name safe to use as a file name (`erspan3_10.0.0.1-10.0.0.2_session_7`).
    pub fn file_name(&self) -> String {
        let mut s = format!("{}_{}-{}", self.kind.name(), self.source, self.destination);
        if !self.id_name.is_empty() {
            s.push_str(&format!("_{}_{}", self.id_name, self.id));
        }
        s.replace(':', ".")
    }

    /// The stream of the tunnel whose layers are `run` (indexes into `layers`), with its
    /// underlay addresses taken from the nearest IP header before it.
    pub fn of_run(frame: &[u8], layers: &[Layer], run: std::ops::Range<usize>) -> StreamKey {
        let (source, destination) = layers[..run.start]
            .iter()
            .rev()
            .find_map(|l| ip_addresses(frame, l))
            .unwrap_or((IpAddr::from([0u8; 4]), IpAddr::from([0u8; 4])));
        let last = layers[run.end - 1];
        let first = layers[run.start];
        let b = last.bytes(frame);
        let (kind, id_name, id) = match last.proto {
            Proto::Erspan1 => (StreamKind::Erspan1, "", 0),
            Proto::Erspan2 => (
                StreamKind::Erspan2,
                "session",
                u32::from(wire::erspan::Packet::new_unchecked(b).session_id()),
            ),
            Proto::Erspan3 => (
                StreamKind::Erspan3,
                "session",
                u32::from(wire::erspan::Packet::new_unchecked(b).session_id()),
            ),
            Proto::Gre => {
                let p = wire::gre::Packet::new_unchecked(b);
                // GRE-TEB with a key may be NVGRE, but the key names the stream either way.
                match p.key() {
                    Some(k) if p.version() == 1 => (StreamKind::Pptp, "call", u32::from(k as u16)),
                    Some(k) => (StreamKind::Gre, "key", k),
                    None => (StreamKind::Gre, "", 0),
                }
            }
            Proto::Vxlan => (StreamKind::Vxlan, "vni", wire::vxlan::Packet::new_unchecked(b).vni()),
            Proto::VxlanGpe => (StreamKind::Gpe, "vni", wire::vxlan_gpe::Packet::new_unchecked(b).vni()),
            Proto::Geneve => (StreamKind::Geneve, "vni", wire::geneve::Packet::new_unchecked(b).vni()),
            Proto::Nsh => match first.proto {
                Proto::VxlanGpe => {
                    (StreamKind::Gpe, "vni", wire::vxlan_gpe::Packet::new_unchecked(first.bytes(frame)).vni())
                }
                _ => (StreamKind::Nsh, "spi", wire::nsh::Packet::new_unchecked(b).spi()),
            },
            Proto::GtpU => (StreamKind::Gtp, "teid", wire::gtpu::Packet::new_unchecked(b).teid()),
            Proto::L2tpv3 => {
                (StreamKind::L2tpv3, "session", wire::l2tpv3::Packet::new_unchecked(b).session_id())
            }
            Proto::PwControlWord => {
                let label = layers[..run.start]
                    .iter()
                    .rev()
                    .find(|l| l.proto == Proto::Mpls)
                    .map(|l| {
                        let m = l.bytes(frame);
                        wire::mpls::Packet::new_unchecked(&m[m.len() - 4..]).label()
                    })
                    .unwrap_or(0);
                (StreamKind::MplsPw, "label", label)
            }
            Proto::Teredo => (StreamKind::Teredo, "", 0),
            Proto::Ayiya => (StreamKind::Ayiya, "", 0),
            Proto::Pbb => (StreamKind::Pbb, "isid", wire::pbb::Packet::new_unchecked(b).isid()),
            Proto::Trill => (
                StreamKind::Trill,
                "egress",
                u32::from(wire::trill::Packet::new_unchecked(b).egress_nickname()),
            ),
            Proto::FabricPath => (
                StreamKind::FabricPath,
                "switch",
                u32::from(wire::fabricpath::Packet::new_unchecked(b).dst_switch_id()),
            ),
            Proto::Ipv4 | Proto::Ipv6 => (StreamKind::IpIp, "", 0),
            Proto::Udp => {
                let label = layers
                    .get(run.end)
                    .filter(|l| l.proto == Proto::Mpls)
                    .map_or(0, |l| wire::mpls::Packet::new_unchecked(l.bytes(frame)).label());
                (StreamKind::MplsUdp, "label", label)
            }
            _ => (StreamKind::Other, "", 0),
        };
        // The addresses of an IP-in-IP tunnel are its own header's.
        let (source, destination) = if matches!(last.proto, Proto::Ipv4 | Proto::Ipv6) {
            ip_addresses(frame, &last).unwrap_or((source, destination))
        } else {
            (source, destination)
        };
        StreamKey { kind, source, destination, id_name, id }
    }
}

/// The source and destination of an IP layer.
fn ip_addresses(frame: &[u8], l: &Layer) -> Option<(IpAddr, IpAddr)> {
    let b = l.bytes(frame);
    match l.proto {
        Proto::Ipv4 if b.len() >= 20 => {
            let p = wire::ipv4::Packet::new_unchecked(b);
            Some((IpAddr::from(p.src_addr().0), IpAddr::from(p.dst_addr().0)))
        }
        Proto::Ipv6 if b.len() >= 40 => {
            let p = wire::ipv6::Packet::new_unchecked(b);
            Some((IpAddr::from(p.src_addr().0), IpAddr::from(p.dst_addr().0)))
        }
        _ => None,
    }
}

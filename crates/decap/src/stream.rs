//! Tunnel streams: one tunnel between two endpoints with one identifier (GRE key, ERSPAN
//! session, VNI, VSID, TEID), named the way an engineer writes it.
use dissect::{Layer, Proto};
use std::fmt;
use std::net::IpAddr;

/// The identity of a tunnel stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    /// The encapsulation, as named in stream names (`gre`, `erspan2`, `vxlan`, ...).
    pub kind: &'static str,
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

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}>{}", self.kind, self.source, self.destination)?;
        if !self.id_name.is_empty() {
            write!(f, " {} {}", self.id_name, self.id)?;
        }
        Ok(())
    }
}

impl StreamKey {
    /// A name safe to use as a file name (`erspan3_10.0.0.1-10.0.0.2_session_7`).
    pub fn file_name(&self) -> String {
        let mut s = format!("{}_{}-{}", self.kind, self.source, self.destination);
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
            Proto::Erspan1 => ("erspan1", "", 0),
            Proto::Erspan2 => {
                ("erspan2", "session", u32::from(wire::erspan::Packet::new_unchecked(b).session_id()))
            }
            Proto::Erspan3 => {
                ("erspan3", "session", u32::from(wire::erspan::Packet::new_unchecked(b).session_id()))
            }
            Proto::Gre => {
                let p = wire::gre::Packet::new_unchecked(b);
                // GRE-TEB with a key may be NVGRE, but the key names the stream either way.
                match p.key() {
                    Some(k) if p.version() == 1 => ("pptp", "call", u32::from(k as u16)),
                    Some(k) => ("gre", "key", k),
                    None => ("gre", "", 0),
                }
            }
            Proto::Vxlan => ("vxlan", "vni", wire::vxlan::Packet::new_unchecked(b).vni()),
            Proto::VxlanGpe => ("gpe", "vni", wire::vxlan_gpe::Packet::new_unchecked(b).vni()),
            Proto::Geneve => ("geneve", "vni", wire::geneve::Packet::new_unchecked(b).vni()),
            Proto::Nsh => match first.proto {
                Proto::VxlanGpe => {
                    ("gpe", "vni", wire::vxlan_gpe::Packet::new_unchecked(first.bytes(frame)).vni())
                }
                _ => ("nsh", "spi", wire::nsh::Packet::new_unchecked(b).spi()),
            },
            Proto::GtpU => ("gtp", "teid", wire::gtpu::Packet::new_unchecked(b).teid()),
            Proto::L2tpv3 => ("l2tpv3", "session", wire::l2tpv3::Packet::new_unchecked(b).session_id()),
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
                ("mpls-pw", "label", label)
            }
            Proto::Teredo => ("teredo", "", 0),
            Proto::Ayiya => ("ayiya", "", 0),
            Proto::Pbb => ("pbb", "isid", wire::pbb::Packet::new_unchecked(b).isid()),
            Proto::Trill => {
                ("trill", "egress", u32::from(wire::trill::Packet::new_unchecked(b).egress_nickname()))
            }
            Proto::FabricPath => (
                "fabricpath",
                "switch",
                u32::from(wire::fabricpath::Packet::new_unchecked(b).dst_switch_id()),
            ),
            Proto::Ipv4 | Proto::Ipv6 => ("ipip", "", 0),
            Proto::Udp => {
                let label = layers
                    .get(run.end)
                    .filter(|l| l.proto == Proto::Mpls)
                    .map_or(0, |l| wire::mpls::Packet::new_unchecked(l.bytes(frame)).label());
                ("mplsudp", "label", label)
            }
            _ => ("tunnel", "", 0),
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

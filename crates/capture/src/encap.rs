//! Re-encapsulation, the tunnel originator: each stripped frame is sent inside a tunnel of
//! detunnel's own to a tool elsewhere. `vxlan://HOST[:4789]?vni=N` and `geneve://HOST[:6081]?vni=N`
//! go over UDP; `gre://HOST?key=K` (GRE-TEB), `erspan2://HOST?session=S` and
//! `erspan3://HOST?session=S` (with the frame's time as a 100-µs timestamp) over a raw IP
//! protocol 47 socket (root or CAP_NET_RAW), the kernel adding the IP header.
use crate::held::HeldFrames;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use wire::erspan::{Type2Repr, Type3Repr};
use wire::ethernet::ethertype as et;

/// The tunnel a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tunnel {
    /// VXLAN with this VNI.
    Vxlan(u32),
    /// GENEVE (Ethernet payload) with this VNI.
    Geneve(u32),
    /// GRE transparent Ethernet bridging, with this key if any.
    Gre(Option<u32>),
    /// ERSPAN type II with this session.
    Erspan2(u16),
    /// ERSPAN type III with this session.
    Erspan3(u16),
}

/// A parsed `--to` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The tunnel.
    pub tunnel: Tunnel,
    /// Where to (port 0 for GRE and ERSPAN).
    pub addr: SocketAddr,
}

/// The URL `--to` takes, with the address the host name resolved to.
impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, param) = match self.tunnel {
            Tunnel::Vxlan(vni) => ("vxlan", Some(("vni", vni))),
            Tunnel::Geneve(vni) => ("geneve", Some(("vni", vni))),
            Tunnel::Gre(key) => ("gre", key.map(|k| ("key", k))),
            Tunnel::Erspan2(s) => ("erspan2", Some(("session", u32::from(s)))),
            Tunnel::Erspan3(s) => ("erspan3", Some(("session", u32::from(s)))),
        };
        match (self.addr.port(), self.addr.ip()) {
            (0, std::net::IpAddr::V6(ip)) => write!(f, "{scheme}://[{ip}]")?,
            (0, ip) => write!(f, "{scheme}://{ip}")?,
            _ => write!(f, "{scheme}://{}", self.addr)?,
        }
        match param {
            Some((name, n)) => write!(f, "?{name}={n}"),
            None => Ok(()),
        }
    }
}

impl Target {
    /// Parses `vxlan://HOST[:PORT]?vni=N`, `geneve://HOST[:PORT]?vni=N`, `gre://HOST[?key=K]`,
    /// `erspan2://HOST?session=S`, `erspan3://HOST?session=S`.
    pub fn parse(url: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("`{url}`: {why}");
        let (scheme, rest) =
            url.split_once("://").ok_or_else(|| bad("expected KIND://HOST[:PORT][?PARAM=N]"))?;
        let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut params = std::collections::BTreeMap::new();
        for p in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) =
                p.split_once('=').ok_or_else(|| bad(&format!("parameter `{p}` is not NAME=NUMBER")))?;
            let n: u32 = v.parse().map_err(|_| bad(&format!("`{v}` is not a number")))?;
            params.insert(k, n);
        }
        let take = |name: &str, max: u32| -> Result<Option<u32>, String> {
            match params.get(name) {
                Some(&n) if n > max => Err(bad(&format!("{name} {n} is larger than {max}"))),
                other => Ok(other.copied()),
            }
        };
        let need = |name: &str, max: u32| take(name, max)?.ok_or_else(|| bad(&format!("needs ?{name}=N")));
        let (tunnel, port, allowed): (Tunnel, u16, &[&str]) = match scheme {
            "vxlan" => (Tunnel::Vxlan(need("vni", 0xff_ffff)?), 4789, &["vni"]),
            "geneve" => (Tunnel::Geneve(need("vni", 0xff_ffff)?), 6081, &["vni"]),
            "gre" => (Tunnel::Gre(take("key", u32::MAX)?), 0, &["key"]),
            "erspan2" => (Tunnel::Erspan2(need("session", 0x3ff)? as u16), 0, &["session"]),
            "erspan3" => (Tunnel::Erspan3(need("session", 0x3ff)? as u16), 0, &["session"]),
            _ => return Err(bad("unknown tunnel; known: vxlan, geneve, gre, erspan2, erspan3")),
        };
        if let Some(k) = params.keys().find(|k| !allowed.contains(k)) {
            return Err(bad(&format!("unknown parameter `{k}`")));
        }
        let addr = match crate::resolve::resolve(host, port).map_err(|e| bad(&e))? {
            (_, true) if port == 0 => return Err(bad("GRE and ERSPAN take no port")),
            (a, _) => a,
        };
        Ok(Target { tunnel, addr })
    }
}

/// What a sender did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendCounts {
    /// Frames sent.
    pub frames: u64,
    /// Their bytes (before encapsulation).
    pub bytes: u64,
    /// Frames the socket refused (no route, buffer full): not sent, counted.
    pub errors: u64,
}

/// A connected tunnel originator.
pub struct Sender {
    target: Target,
    socket: Socket,
    sequence: u32,
    /// Datagrams are held until [`Sender::flush`] instead of sent at once.
    holding: bool,
    /// The datagrams held, each marked with its tunnel header's length.
    held: HeldFrames,
    /// What was sent and dropped.
    pub counts: SendCounts,
}

impl Sender {
    /// Opens and connects the socket for `target`; sends never block (a full buffer drops).
    pub fn open(target: Target) -> io::Result<Sender> {
        let domain = Domain::for_address(target.addr);
        let socket = match target.tunnel {
            Tunnel::Vxlan(_) | Tunnel::Geneve(_) => Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?,
            _ => Socket::new(domain, Type::RAW, Some(Protocol::from(47)))?,
        };
        socket.connect(&SockAddr::from(target.addr))?;
        socket.set_nonblocking(true)?;
        Ok(Sender {
            target,
            socket,
            sequence: 0,
            holding: false,
            held: HeldFrames::default(),
            counts: SendCounts::default(),
        })
    }

    /// The target.
    pub fn target(&self) -> Target {
        self.target
    }

    /// Whether its datagrams carry a sequence number (ERSPAN's GRE header), which a receiver
    /// may require in order: then one sender must send them all.
    pub fn is_sequenced(&self) -> bool {
        matches!(self.target.tunnel, Tunnel::Erspan2(_) | Tunnel::Erspan3(_))
    }

    /// From now on datagrams are held until [`Sender::flush`] (or until a megabyte is held).
    pub fn hold(&mut self) {
        self.holding = true;
    }

    /// Sends an Ethernet frame captured at `ts_nanos`, given as a header (possibly empty) and a
    /// body, inside the tunnel: the tunnel header, the frame's header and its body go to the
    /// kernel as one datagram without being copied together first (unless held, see
    /// [`Sender::hold`]).
    pub fn send(&mut self, head: &[u8], body: &[u8], ts_nanos: u64) {
        let mut tunnel = [0u8; 24];
        let n = self.tunnel_header(ts_nanos, &mut tunnel);
        if self.holding {
            if self.held.push(&[&tunnel[..n], head, body], n) {
                self.flush();
            }
            return;
        }
        self.send_parts(&[IoSlice::new(&tunnel[..n]), IoSlice::new(head), IoSlice::new(body)]);
    }

    /// Sends the datagrams held.
    pub fn flush(&mut self) {
        let mut held = std::mem::take(&mut self.held);
        held.send(|datagram, n| {
            self.send_parts(&[IoSlice::new(&datagram[..n]), IoSlice::new(&datagram[n..])])
        });
        self.held = held;
    }

    /// Writes the tunnel's header for a frame captured at `ts_nanos` into `tunnel`; its length.
    fn tunnel_header(&mut self, ts_nanos: u64, tunnel: &mut [u8; 24]) -> usize {
        match self.target.tunnel {
            Tunnel::Vxlan(vni) => {
                wire::vxlan::Repr { vni, group_policy_id: None }.emit(tunnel);
                8
            }
            Tunnel::Geneve(vni) => {
                let r = wire::geneve::Repr { vni, protocol: et::TEB, critical: false, options: &[] };
                r.emit(tunnel);
                r.header_len()
            }
            Tunnel::Gre(key) => {
                let r = wire::gre::Repr { protocol: et::TEB, checksum: false, key, sequence: None };
                r.emit(tunnel);
                r.header_len()
            }
            Tunnel::Erspan2(session) => {
                let at = self.sequenced_gre(et::ERSPAN, tunnel);
                Type2Repr { vlan: 0, cos: 0, en: 0, truncated: false, session_id: session, index: 0 }
                    .emit(&mut tunnel[at..]);
                at + 8
            }
            Tunnel::Erspan3(session) => {
                let at = self.sequenced_gre(et::ERSPAN3, tunnel);
                let e = Type3Repr {
                    vlan: 0,
                    cos: 0,
                    bso: 0,
                    truncated: false,
                    session_id: session,
                    // Granularity 0: units of 100 µs.
                    timestamp: (ts_nanos / 100_000) as u32,
                    sgt: 0,
                    p: false,
                    frame_type: 0,
                    hw_id: 0,
                    egress: false,
                    granularity: 0,
                    platform: None,
                };
                e.emit(&mut tunnel[at..]);
                at + e.header_len()
            }
        }
    }

    /// Sends one datagram: the tunnel header (the first part) and the frame; counts it.
    fn send_parts(&mut self, parts: &[IoSlice<'_>]) {
        let n = parts[0].len();
        let len = parts.iter().map(|p| p.len()).sum::<usize>();
        let mut sent = self.socket.send_vectored(parts);
        if sent.as_ref().is_err_and(|e| e.kind() == io::ErrorKind::ConnectionRefused) {
            // The refusal is the kernel reporting an ICMP error for an earlier datagram (the
            // tool was away); this one has not been sent yet.
            sent = self.socket.send_vectored(parts);
        }
        match sent {
            Ok(sent) if sent == len => {
                self.counts.frames += 1;
                self.counts.bytes += (len - n) as u64;
            }
            _ => self.counts.errors += 1,
        }
    }
}

impl Sender {
    /// Writes the GRE header that carries ERSPAN (`protocol`), with the next sequence number;
    /// returns its length.
    fn sequenced_gre(&mut self, protocol: u16, buf: &mut [u8]) -> usize {
        self.sequence = self.sequence.wrapping_add(1);
        let gre = wire::gre::Repr { protocol, checksum: false, key: None, sequence: Some(self.sequence) };
        gre.emit(buf);
        gre.header_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dissect::{Dissector, Field, LinkType, Stack, Value};

    #[test]
    fn urls() {
        let t = Target::parse("vxlan://127.0.0.1?vni=77").unwrap();
        assert_eq!((t.tunnel, t.addr.port()), (Tunnel::Vxlan(77), 4789));
        assert_eq!(Target::parse("gre://192.0.2.9?key=5").unwrap().tunnel, Tunnel::Gre(Some(5)));
        assert_eq!(Target::parse("erspan3://192.0.2.9?session=3").unwrap().tunnel, Tunnel::Erspan3(3));
        assert!(Target::parse("vxlan://127.0.0.1").unwrap_err().contains("needs ?vni"));
        assert!(Target::parse("vxlan://127.0.0.1?vni=1&key=2")
            .unwrap_err()
            .contains("unknown parameter `key`"));
        assert!(Target::parse("erspan2://192.0.2.9?session=2000").unwrap_err().contains("larger"));
        assert!(Target::parse("gre://192.0.2.9:47").unwrap_err().contains("no port"));
        // Shown as written, with the address a name resolved to.
        assert_eq!(
            Target::parse("vxlan://localhost?vni=7").unwrap().to_string(),
            "vxlan://127.0.0.1:4789?vni=7"
        );
        for url in [
            "gre://192.0.2.9",
            "gre://192.0.2.9?key=5",
            "erspan2://[2001:db8::1]?session=2",
            "geneve://[::1]:7?vni=1",
        ] {
            assert_eq!(Target::parse(url).unwrap().to_string(), url);
        }
    }

    #[test]
    fn vxlan_and_geneve_arrive_as_the_decoder_expects() {
        let inner =
            [[2u8, 0, 0, 0, 0, 2].as_slice(), &[2, 0, 0, 0, 0, 1], &[0x08, 0x06], &[0u8; 28]].concat();
        for (url, field, id) in [("vxlan", Field::VxlanVni, 77u64), ("geneve", Field::GeneveVni, 5000)] {
            let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = rx.local_addr().unwrap().port();
            let mut s =
                Sender::open(Target::parse(&format!("{url}://127.0.0.1:{port}?vni={id}")).unwrap()).unwrap();
            s.send(&[], &inner, 0);
            assert_eq!(s.counts.frames, 1);
            let mut buf = [0u8; 2048];
            let n = rx.recv(&mut buf).unwrap();
            // The decoder reads the payload as it would behind the standard port.
            let mut frame = vec![0u8; 0];
            frame.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
            let total = (20 + 8 + n) as u16;
            frame[2..4].copy_from_slice(&total.to_be_bytes());
            let dport: u16 = if url == "vxlan" { 4789 } else { 6081 };
            frame.extend_from_slice(&[0x30, 0x39]);
            frame.extend_from_slice(&dport.to_be_bytes());
            frame.extend_from_slice(&((8 + n) as u16).to_be_bytes());
            frame.extend_from_slice(&[0, 0]);
            frame.extend_from_slice(&buf[..n]);
            let mut stack = Stack::new();
            Dissector::default().dissect(&frame, LinkType::IPV4, &mut stack);
            let d = stack.decoded(&frame).unwrap();
            assert_eq!(d.get(field, 0), Some(Value::Uint(id)), "{url}");
            assert_eq!(&buf[n - inner.len()..n], &inner[..]);
        }
    }
}

//! Tunnel endpoints as sources: detunnel terminates tunnels itself. `vxlan://ADDR:4789`,
//! `geneve://ADDR:6081`, `gpe://ADDR:4790` and `udpgre://ADDR:4754` receive on UDP sockets;
//! `gre://ADDR` (GRE, NVGRE, ERSPAN I/II/III) and `ipip://ADDR` on raw IP sockets (protocols 47
//! and 4), which need root or CAP_NET_RAW.
//!
//! Each received packet is handed on as a frame the decoder reads like a captured one: a UDP
//! payload gets an Ethernet, IP and UDP header in front with the real source address and port
//! (the destination is the address bound, 0.0.0.0 when bound to all, and the protocol's
//! standard port), so tunnel streams keep their endpoints; a raw socket's packet starts with its IPv4 header already.
use crate::reader::Frame;
use crate::recv_batch::RecvBatch;
use dissect::{Anomaly, LinkType, Proto, Stack};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// What an endpoint terminates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// VXLAN over UDP (default port 4789).
    Vxlan,
    /// GENEVE over UDP (6081).
    Geneve,
    /// VXLAN-GPE over UDP (4790).
    Gpe,
    /// GRE in UDP (RFC 8086, 4754).
    UdpGre,
    /// GRE, NVGRE and ERSPAN over IP protocol 47.
    Gre,
    /// IP in IP (protocol 4).
    IpIp,
}

impl Kind {
    /// URL schemes, kinds and default UDP ports (0 for raw sockets).
    pub const SCHEMES: [(&'static str, Kind, u16); 6] = [
        ("vxlan", Kind::Vxlan, 4789),
        ("geneve", Kind::Geneve, 6081),
        ("gpe", Kind::Gpe, 4790),
        ("udpgre", Kind::UdpGre, 4754),
        ("gre", Kind::Gre, 0),
        ("ipip", Kind::IpIp, 0),
    ];

    /// The URL scheme (`vxlan`, `gre`, ...).
    pub fn scheme(self) -> &'static str {
        Kind::SCHEMES.iter().find(|(_, k, _)| *k == self).map_or("", |s| s.0)
    }

    /// The protocol's standard UDP port (0 for raw sockets).
    pub fn port(self) -> u16 {
        Kind::SCHEMES.iter().find(|(_, k, _)| *k == self).map_or(0, |s| s.2)
    }

    /// True for the raw IP protocol sockets (GRE and IP-in-IP), false for UDP.
    pub fn is_raw(self) -> bool {
        matches!(self, Kind::Gre | Kind::IpIp)
    }

    /// True when a packet this endpoint received, decoded as `stack`, is the tunnel it
    /// terminates, carrying a frame: a well-formed tunnel header where the endpoint puts it,
    /// and something inside. Random bytes, VXLAN without the I flag or with reserved bits set
    /// (which the kernel's own VXLAN device drops too) and other protocols are not.
    /// `framed`: the packet came as the frame that carried it (AF_XDP), Ethernet in front of
    /// a raw protocol's IP header too.
    pub fn terminates(self, stack: &Stack, framed: bool) -> bool {
        use dissect::stack::FLAG_IP_IN_IP;
        let layers = stack.layers();
        // Behind the synthesized (or received) Ethernet, IP and UDP headers; behind a raw
        // socket's IP header (and the Ethernet header of a received frame).
        let raw_ip = usize::from(framed);
        let (at, expected) = match self {
            Kind::Vxlan => (3, Proto::Vxlan),
            Kind::Geneve => (3, Proto::Geneve),
            Kind::Gpe => (3, Proto::VxlanGpe),
            Kind::UdpGre => (3, Proto::Gre),
            Kind::Gre => (raw_ip + 1, Proto::Gre),
            Kind::IpIp => {
                let tunnel = layers.get(raw_ip).is_some_and(|l| l.flags & FLAG_IP_IN_IP != 0);
                return tunnel && layers.len() > raw_ip + 1;
            }
        };
        let bad_header = stack.anomalies().iter().any(|a| {
            matches!(
                a,
                Anomaly::VxlanNoVni
                    | Anomaly::VxlanReservedBits
                    | Anomaly::GeneveBadVersion
                    | Anomaly::GeneveBadOption
                    | Anomaly::GpeUnknownNextProtocol
                    | Anomaly::GreBadVersion
                    | Anomaly::GreReservedBits
            )
        });
        layers.get(at).is_some_and(|l| l.proto == expected) && layers.len() > at + 1 && !bad_header
    }
}

/// A parsed `--listen` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// What it terminates.
    pub kind: Kind,
    /// Where it listens (port 0 for raw sockets).
    pub addr: SocketAddr,
}

impl Endpoint {
    /// Parses `vxlan://0.0.0.0:4789`, `geneve://[::]`, `gre://192.0.2.1`, ... (the port is
    /// optional and defaults to the protocol's).
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let (scheme, rest) =
            url.split_once("://").ok_or_else(|| format!("`{url}`: expected KIND://ADDRESS[:PORT]"))?;
        let &(_, kind, port) = Kind::SCHEMES.iter().find(|(s, _, _)| *s == scheme).ok_or_else(|| {
            let names: Vec<&str> = Kind::SCHEMES.iter().map(|(s, _, _)| *s).collect();
            format!("`{url}`: unknown tunnel `{scheme}`; known: {}", names.join(", "))
        })?;
        let rest = rest.trim_end_matches('/');
        let (addr, explicit) = crate::resolve::resolve(rest, port).map_err(|e| format!("`{url}`: {e}"))?;
        if explicit && port == 0 {
            return Err(format!("`{url}`: a {scheme} endpoint takes no port"));
        }
        Ok(Endpoint { kind, addr })
    }
}

/// Length of the Ethernet + IPv4 + UDP header put in front of a UDP payload.
const V4_HEAD: usize = 14 + 20 + 8;
/// The same with IPv6.
const V6_HEAD: usize = 14 + 40 + 8;

/// A listening endpoint: its socket and the batch of packets last received.
pub struct Listener {
    endpoint: Endpoint,
    /// The destination written in front of UDP payloads: the address bound and the protocol's
    /// own port, so the decoder reads the payload as what the endpoint terminates.
    to: SocketAddr,
    /// UDP (shared with other workers, `SO_REUSEPORT`) or a raw IP protocol socket.
    socket: Socket,
    /// Slots with room for the headers put in front of UDP payloads (none for raw packets).
    batch: Box<RecvBatch>,
    /// Packets received before the last batch.
    received: u64,
}

impl Listener {
    /// Opens the endpoint's socket with `receive_buffer` bytes of buffer (UDP sockets share
    /// their port with `SO_REUSEPORT`); reads time out after `timeout`. The kernel stamps each
    /// packet with the time it was received.
    pub fn open(endpoint: Endpoint, receive_buffer: usize, timeout: Duration) -> io::Result<Listener> {
        let socket = if endpoint.kind.is_raw() {
            let proto = if endpoint.kind == Kind::Gre { 47 } else { 4 };
            if endpoint.addr.is_ipv6() {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "raw GRE and IP-in-IP endpoints are IPv4 only",
                ));
            }
            let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(proto)))?;
            s.bind(&SockAddr::from(endpoint.addr))?;
            crate::udp::set_receive_buffer(&s, receive_buffer)?;
            s.set_read_timeout(Some(timeout))?;
            s
        } else {
            // The first socket of an endpoint checks no other process shares its port.
            crate::udp::check_not_taken(endpoint.addr)?;
            Socket::from(crate::udp::shared_socket(endpoint.addr, receive_buffer, timeout)?)
        };
        crate::packet_socket::setsockopt(&socket, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &1i32)?;
        let mut endpoint = endpoint;
        // A raw socket's packet starts with its IP header; a UDP payload gets headers in front.
        let head = if endpoint.kind.is_raw() {
            0
        } else {
            endpoint.addr.set_port(socket.local_addr()?.as_socket().map_or(0, |a| a.port()));
            if endpoint.addr.is_ipv6() {
                V6_HEAD
            } else {
                V4_HEAD
            }
        };
        let to = SocketAddr::new(endpoint.addr.ip(), endpoint.kind.port());
        Ok(Listener { endpoint, to, socket, batch: Box::new(RecvBatch::new(head)), received: 0 })
    }

    /// The endpoint (with the port actually bound).
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// True for UDP endpoints (false for raw GRE and IP-in-IP sockets).
    pub fn is_udp(&self) -> bool {
        !self.endpoint.kind.is_raw()
    }

    /// The receive buffer the kernel granted, bytes (less than asked when
    /// `net.core.rmem_max` caps it and the process may not pass it).
    pub fn receive_buffer(&self) -> usize {
        crate::udp::receive_buffer(&self.socket)
    }

    /// Packets the kernel dropped on this listener's own socket (a full receive buffer);
    /// `None` when the kernel's table cannot be read.
    pub fn kernel_drops(&self) -> Option<u64> {
        crate::udp::socket_drops(&self.socket, self.endpoint.kind.is_raw())
    }

    /// Receives what the kernel has queued, up to [`crate::recv_batch::SLOTS`] packets with
    /// one system call, as the batch [`Listener::frames`] walks; how many (0 when the read
    /// timed out or a signal ended it).
    pub fn fill(&mut self) -> io::Result<usize> {
        self.received += self.batch.len() as u64;
        let n = match self.batch.fill(self.socket.as_raw_fd()) {
            Ok(n) => n,
            Err(e) if crate::udp::read_ended_early(&e) => return Ok(0),
            Err(e) => return Err(e),
        };
        // A UDP payload gets the headers the decoder reads in front of it.
        if self.is_udp() {
            for i in 0..n {
                let (head, len, from) = self.batch.head_mut(i);
                let from = from.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
                write_head(head, from, self.to, len);
            }
        }
        Ok(n)
    }

    /// The frames of the last batch, in the order received; they can be walked more than once.
    pub fn frames(&self) -> impl Iterator<Item = Frame<'_>> + '_ {
        // A raw socket's packet carries its addresses in its IP header.
        let link = if self.is_udp() { LinkType::ETHERNET } else { LinkType::IPV4 };
        (0..self.batch.len()).map(move |i| {
            let (data, _, ts_nanos) = self.batch.get(i);
            Frame {
                data,
                orig_len: data.len() as u32,
                ts_nanos,
                link,
                interface: 0,
                record: self.received + i as u64 + 1,
            }
        })
    }
}

/// Writes the Ethernet, IP and UDP headers of a `payload`-byte datagram from `from` to `to`
/// (in the family of `from`; `to` is mapped into it).
fn write_head(head: &mut [u8], from: SocketAddr, to: SocketAddr, payload: usize) {
    use wire::ethernet::{ethertype, Repr as Ethernet};
    use wire::ipv4::protocol::UDP;
    use wire::MacAddr;
    let udp = wire::udp::Repr { src_port: from.port(), dst_port: to.port(), payload_len: payload };
    let udp_len = 8 + payload;
    let (ethertype, ip_len) = match (from.ip(), to.ip()) {
        (IpAddr::V6(s), d) => {
            let d = match d {
                IpAddr::V6(d) => d,
                IpAddr::V4(d) => d.to_ipv6_mapped(),
            };
            let ip =
                wire::ipv6::Repr::new(wire::Ipv6Addr(s.octets()), wire::Ipv6Addr(d.octets()), UDP, udp_len);
            ip.emit(&mut head[14..]);
            (ethertype::IPV6, ip.header_len())
        }
        (IpAddr::V4(s), d) => {
            let d = match d {
                IpAddr::V4(d) => d,
                IpAddr::V6(d) => d.to_ipv4_mapped().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
            };
            let ip =
                wire::ipv4::Repr::new(wire::Ipv4Addr(s.octets()), wire::Ipv4Addr(d.octets()), UDP, udp_len);
            ip.emit(&mut head[14..]);
            (ethertype::IPV4, ip.header_len())
        }
    };
    let eth = Ethernet {
        source: MacAddr([0x02, 0, 0, 0, 0, 0x01]),
        destination: MacAddr([0x02, 0, 0, 0, 0, 0x02]),
        ethertype,
    };
    eth.emit(head);
    udp.emit(&mut head[14 + ip_len..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use dissect::{Dissector, Stack};

    /// The one frame the next batch holds.
    fn one(l: &mut Listener) -> Frame<'_> {
        assert_eq!(l.fill().unwrap(), 1);
        l.frames().next().unwrap()
    }

    #[test]
    fn urls() {
        let e = Endpoint::parse("vxlan://0.0.0.0").unwrap();
        assert_eq!((e.kind, e.addr.port()), (Kind::Vxlan, 4789));
        assert_eq!(Endpoint::parse("geneve://[::1]:7000").unwrap().addr, "[::1]:7000".parse().unwrap());
        assert_eq!(Endpoint::parse("gre://192.0.2.1").unwrap().kind, Kind::Gre);
        assert!(Endpoint::parse("gre://192.0.2.1:47").unwrap_err().contains("no port"));
        assert!(Endpoint::parse("vxlam://0.0.0.0").unwrap_err().contains("known: vxlan"));
        assert!(Endpoint::parse("0.0.0.0:4789").is_err());
    }

    #[test]
    fn only_the_tunnel_an_endpoint_terminates_is_accepted() {
        let mut l =
            Listener::open(Endpoint::parse("vxlan://127.0.0.1:0").unwrap(), 1 << 20, Duration::from_secs(2))
                .unwrap();
        let port = l.endpoint().addr.port();
        let inner = [[0xffu8; 6].as_slice(), &[2, 0, 0, 0, 0, 9], &[0x08, 0x06], &[0u8; 28]].concat();
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut d = Dissector::default();
        let mut stack = Stack::new();
        for (flags, accepted) in [(0x08u8, true), (0x00, false), (0x0c, false)] {
            let payload = [&[flags, 0, 0, 0, 0, 0, 42, 0][..], &inner].concat();
            s.send_to(&payload, ("127.0.0.1", port)).unwrap();
            let f = one(&mut l);
            d.dissect(f.data, f.link, &mut stack);
            assert_eq!(Kind::Vxlan.terminates(&stack, false), accepted, "flags {flags:#x}");
        }
        s.send_to(b"random bytes that are no tunnel at all", ("127.0.0.1", port)).unwrap();
        let f = one(&mut l);
        d.dissect(f.data, f.link, &mut stack);
        assert!(!Kind::Vxlan.terminates(&stack, false));
        assert!(!Kind::Geneve.terminates(&stack, false));
    }

    #[test]
    fn root_gets_the_receive_buffer_it_asks_for_past_the_kernels_cap() {
        let asked = 64 << 20;
        let l =
            Listener::open(Endpoint::parse("vxlan://127.0.0.1:0").unwrap(), asked, Duration::from_secs(2))
                .unwrap();
        let cap =
            std::fs::read_to_string("/proc/sys/net/core/rmem_max").unwrap().trim().parse::<usize>().unwrap();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        let root = uids.split_whitespace().nth(2) == Some("0");
        if root {
            assert_eq!(l.receive_buffer(), asked);
        } else {
            assert_eq!(l.receive_buffer(), cap.min(asked), "capped by net.core.rmem_max");
        }
    }

    #[test]
    fn a_vxlan_datagram_becomes_a_frame_the_decoder_reads() {
        let mut l =
            Listener::open(Endpoint::parse("vxlan://127.0.0.1:0").unwrap(), 1 << 20, Duration::from_secs(2))
                .unwrap();
        let port = l.endpoint().addr.port();
        let inner = [[0xffu8; 6].as_slice(), &[2, 0, 0, 0, 0, 9], &[0x08, 0x06], &[0u8; 28]].concat();
        let payload = [&[0x08u8, 0, 0, 0, 0, 0, 42, 0][..], &inner].concat();
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.send_to(&payload, ("127.0.0.1", port)).unwrap();
        let f = one(&mut l);
        let mut stack = Stack::new();
        Dissector::default().dissect(f.data, f.link, &mut stack);
        let mut text = String::new();
        stack.write_tokens(&mut text).unwrap();
        assert_eq!(text, "eth.ip.udp.vxlan.eth.arp");
        let d = stack.decoded(f.data).unwrap();
        assert_eq!(d.get(dissect::Field::VxlanVni, 0), Some(dissect::Value::Uint(42)));
        assert_eq!(d.get(dissect::Field::IpSource, 0).unwrap().to_string(), "127.0.0.1");
    }
}

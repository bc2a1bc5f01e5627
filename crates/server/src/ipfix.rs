//! IPFIX export of every sFlow sample a worker counts (`[export.ipfix] collectors`): one data
//! record per sample with the inner (tenant) IPv4 or IPv6 5-tuple (a template for each), bytes and packets scaled by the
//! sampling rate, the agent and its interfaces, and the tunnel around it — RFC 7133's
//! `layer2SegmentId` (VXLAN VNI, NVGRE VSID), `greKey`, and the tunnel type, key and outer
//! endpoints as Open vSwitch exports them (VMware's enterprise elements). Each worker is an
//! exporting process of its own (observation domain = worker number + 1); records are sent
//! about 1,400 bytes at a time and at least once a second, the template with the first message
//! and every 30 s after. Sends never block; what the network refuses is counted.
use dissect::{Decoded, Proto};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wire::ipfix::{emit_header, emit_set_header, emit_template_set, FieldSpec, HEADER_LEN, SET_HEADER_LEN};

/// The templates' IDs: IPv4 and IPv6 tenants.
const TEMPLATE_V4: u16 = 256;
const TEMPLATE_V6: u16 = 257;
/// VMware's private enterprise number (Open vSwitch's tunnel elements).
const VMWARE: Option<u32> = Some(6876);

/// A template's fields after the addresses, in record order.
macro_rules! sample_fields {
    ($src:expr, $dst:expr, $len:expr) => {
        [
            FieldSpec { id: $src, len: $len, enterprise: None }, // source{IPv4,IPv6}Address
            FieldSpec { id: $dst, len: $len, enterprise: None }, // destination{IPv4,IPv6}Address
            FieldSpec { id: 4, len: 1, enterprise: None },       // protocolIdentifier
            FieldSpec { id: 7, len: 2, enterprise: None },       // sourceTransportPort
            FieldSpec { id: 11, len: 2, enterprise: None },      // destinationTransportPort
            FieldSpec { id: 1, len: 8, enterprise: None },       // octetDeltaCount
            FieldSpec { id: 2, len: 8, enterprise: None },       // packetDeltaCount
            FieldSpec { id: 10, len: 4, enterprise: None },      // ingressInterface
            FieldSpec { id: 14, len: 4, enterprise: None },      // egressInterface
            FieldSpec { id: 130, len: 4, enterprise: None },     // exporterIPv4Address (the agent)
            FieldSpec { id: 351, len: 8, enterprise: None },     // layer2SegmentId
            FieldSpec { id: 296, len: 4, enterprise: None },     // greKey
            FieldSpec { id: 891, len: 1, enterprise: VMWARE },   // tunnelType
            FieldSpec { id: 892, len: 4, enterprise: VMWARE },   // tunnelKey
            FieldSpec { id: 893, len: 4, enterprise: VMWARE },   // tunnelSourceIPv4Address
            FieldSpec { id: 894, len: 4, enterprise: VMWARE },   // tunnelDestinationIPv4Address
        ]
    };
}

/// The IPv4 tenants' template and the IPv6 tenants'.
const FIELDS_V4: [FieldSpec; 16] = sample_fields!(8, 12, 4);
const FIELDS_V6: [FieldSpec; 16] = sample_fields!(27, 28, 16);
const TEMPLATES: [(u16, &[FieldSpec]); 2] = [(TEMPLATE_V4, &FIELDS_V4), (TEMPLATE_V6, &FIELDS_V6)];

/// Length of the longest data record.
const RECORD_MAX: usize = wire::ipfix::record_len(&FIELDS_V6);
/// Largest message sent.
const MESSAGE_MAX: usize = 1400;
/// How often the templates are sent again.
const TEMPLATE_EVERY: Duration = Duration::from_secs(30);

/// What an exporter did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportCounts {
    /// Records sent.
    pub records: u64,
    /// Messages sent (to each collector).
    pub messages: u64,
    /// Samples not exported: no IP packet in them.
    pub not_ip: u64,
    /// Messages the network refused.
    pub errors: u64,
}

impl ExportCounts {
    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &ExportCounts) {
        self.records += other.records;
        self.messages += other.messages;
        self.not_ip += other.not_ip;
        self.errors += other.errors;
    }
}

/// An exporting process: data records of a set of templates gathered into messages of about
/// 1,400 bytes (records of one template in one data set, the templates first in the first
/// message and every 30 s after) sent to every collector, without blocking.
pub struct MessageWriter {
    socket: UdpSocket,
    collectors: Vec<SocketAddr>,
    domain: u32,
    /// The message being filled: header, templates when due, data sets.
    message: Vec<u8>,
    /// The open data set: its template and where it starts.
    set: Option<(u16, usize)>,
    /// Records in `message`, and records sent before it (the sequence number).
    pending: u32,
    sequence: u32,
    template_sent: Option<Instant>,
    last_send: Instant,
    /// What was sent.
    pub counts: ExportCounts,
}

impl MessageWriter {
    /// A writer sending to `collectors` as observation domain `domain`.
    pub fn new(collectors: Vec<SocketAddr>, domain: u32) -> std::io::Result<MessageWriter> {
        let v6 = collectors.first().is_some_and(SocketAddr::is_ipv6);
        let socket = UdpSocket::bind(if v6 { "[::]:0" } else { "0.0.0.0:0" })?;
        socket.set_nonblocking(true)?;
        Ok(MessageWriter {
            socket,
            collectors,
            domain,
            message: Vec::with_capacity(MESSAGE_MAX + RECORD_MAX),
            set: None,
            pending: 0,
            sequence: 0,
            template_sent: None,
            last_send: Instant::now(),
            counts: ExportCounts::default(),
        })
    }

    /// Adds `record`, of template `template`, one of `templates` (all of which go in a message
    /// when templates are due).
    pub fn record(&mut self, templates: &[(u16, &[FieldSpec])], template: u16, record: &[u8]) {
        if !self.message.is_empty() && self.message.len() + SET_HEADER_LEN + record.len() > MESSAGE_MAX {
            self.send();
        }
        if self.message.is_empty() {
            self.message.resize(HEADER_LEN, 0);
            if self.template_sent.is_none_or(|t| t.elapsed() >= TEMPLATE_EVERY) {
                for (id, fields) in templates {
                    let at = self.message.len();
                    self.message.resize(at + wire::ipfix::template_set_len(fields), 0);
                    emit_template_set(&mut self.message[at..], *id, fields);
                }
                self.template_sent = Some(Instant::now());
            }
        }
        if self.set.is_none_or(|(t, _)| t != template) {
            self.close_set();
            let at = self.message.len();
            self.message.resize(at + SET_HEADER_LEN, 0);
            self.set = Some((template, at));
        }
        self.message.extend_from_slice(record);
        self.pending += 1;
    }

    /// Sends what is gathered when the last message left a second ago or more (call it once a
    /// second).
    pub fn tick(&mut self) {
        if self.pending > 0 && self.last_send.elapsed() >= Duration::from_secs(1) {
            self.send();
        }
    }

    /// Sends what is gathered now (at shutdown).
    pub fn flush(&mut self) {
        self.send();
    }

    /// Writes the open data set's header.
    fn close_set(&mut self) {
        if let Some((template, at)) = self.set.take() {
            let len = (self.message.len() - at) as u16;
            emit_set_header(&mut self.message[at..], template, len);
        }
    }

    /// Fills in the headers and sends the message to every collector.
    fn send(&mut self) {
        if self.pending == 0 {
            return;
        }
        self.close_set();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32);
        let len = self.message.len() as u16;
        emit_header(&mut self.message, len, now, self.sequence, self.domain);
        for c in &self.collectors {
            match self.socket.send_to(&self.message, c) {
                Ok(_) => self.counts.messages += 1,
                Err(_) => self.counts.errors += 1,
            }
        }
        self.sequence = self.sequence.wrapping_add(self.pending);
        self.counts.records += u64::from(self.pending);
        self.pending = 0;
        self.message.clear();
        self.last_send = Instant::now();
    }
}

/// One worker's IPFIX export of samples.
pub struct Exporter {
    writer: MessageWriter,
}

/// The tunnel around a sample's packet, as the record carries it.
#[derive(Default)]
struct Tunnel {
    segment: u64,
    gre_key: u32,
    kind: u8,
    key: u32,
    source: [u8; 4],
    destination: [u8; 4],
}

impl Exporter {
    /// An exporter for worker `worker` sending to `collectors`.
    pub fn new(collectors: Vec<SocketAddr>, worker: usize) -> std::io::Result<Exporter> {
        Ok(Exporter { writer: MessageWriter::new(collectors, worker as u32 + 1)? })
    }

    /// What was exported.
    pub fn counts(&self) -> ExportCounts {
        self.writer.counts
    }

    /// Adds the record of one sample: `decoded` (its frame `frame_len` bytes long) sampled 1 in
    /// `rate` by `agent` on interfaces `input` and `output`.
    pub fn sample(
        &mut self,
        decoded: &Decoded<'_>,
        frame_len: u32,
        rate: u32,
        agent: IpAddr,
        ports: (u32, u32),
    ) {
        let mut r = [0u8; RECORD_MAX];
        match record(&mut r, decoded, frame_len, rate, agent, ports) {
            Some((template, len)) => self.writer.record(&TEMPLATES, template, &r[..len]),
            None => self.writer.counts.not_ip += 1,
        }
    }

    /// Sends what is gathered when a second has passed (call it once a second).
    pub fn tick(&mut self) {
        self.writer.tick();
    }

    /// Sends what is gathered now (at shutdown).
    pub fn flush(&mut self) {
        self.writer.flush();
    }
}

/// Writes the data record of one sample into `r`: its template and length, or `None` when
/// it holds no IP packet.
fn record(
    r: &mut [u8; RECORD_MAX],
    decoded: &Decoded<'_>,
    frame_len: u32,
    rate: u32,
    agent: IpAddr,
    ports: (u32, u32),
) -> Option<(u16, usize)> {
    let (frame, layers) = (decoded.frame(), decoded.stack().layers());
    // The innermost IP header and the transport header after it.
    let inner = layers.iter().rposition(|l| matches!(l.proto, Proto::Ipv4 | Proto::Ipv6))?;
    let (template, src, dst, protocol) = if layers[inner].proto == Proto::Ipv4 {
        let ip = wire::ipv4::Packet::new_checked(layers[inner].bytes(frame)).ok()?;
        (TEMPLATE_V4, &ip.src_addr().0[..], &ip.dst_addr().0[..], ip.protocol())
    } else {
        let b = layers[inner].bytes(frame);
        let ip = wire::ipv6::Packet::new_checked(b).ok()?;
        let next = layers[inner + 1..].iter().find_map(|l| match l.proto {
            Proto::Tcp => Some(6),
            Proto::Udp => Some(17),
            Proto::Icmp6 => Some(58),
            _ => None,
        });
        (TEMPLATE_V6, &b[8..24], &b[24..40], next.unwrap_or(ip.next_header()))
    };
    let (sport, dport) = layers[inner + 1..]
        .iter()
        .find(|l| matches!(l.proto, Proto::Tcp | Proto::Udp))
        .and_then(|l| {
            l.bytes(frame)
                .get(..4)
                .map(|b| (u16::from_be_bytes([b[0], b[1]]), u16::from_be_bytes([b[2], b[3]])))
        })
        .unwrap_or((0, 0));
    let tunnel = tunnel(decoded, inner);
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        r[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(src);
    put(dst);
    put(&[protocol]);
    put(&sport.to_be_bytes());
    put(&dport.to_be_bytes());
    put(&(u64::from(frame_len) * u64::from(rate)).to_be_bytes());
    put(&u64::from(rate).to_be_bytes());
    put(&ports.0.to_be_bytes());
    put(&ports.1.to_be_bytes());
    put(&match agent {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(_) => [0; 4],
    });
    put(&tunnel.segment.to_be_bytes());
    put(&tunnel.gre_key.to_be_bytes());
    put(&[tunnel.kind]);
    put(&tunnel.key.to_be_bytes());
    put(&tunnel.source);
    put(&tunnel.destination);
    Some((template, at))
}

/// The outermost tunnel before layer `inner`, with the IPv4 header that carries it.
fn tunnel(decoded: &Decoded<'_>, inner: usize) -> Tunnel {
    let (frame, layers) = (decoded.frame(), decoded.stack().layers());
    let mut t = Tunnel::default();
    let Some(at) = layers[..inner].iter().position(|l| l.tunnel().is_some()) else { return t };
    if let Some(outer) = layers[..at].iter().rev().find(|l| l.proto == Proto::Ipv4) {
        if let Ok(ip) = wire::ipv4::Packet::new_checked(outer.bytes(frame)) {
            (t.source, t.destination) = (ip.src_addr().0, ip.dst_addr().0);
        }
    }
    let l = layers[at];
    let id = dissect::protocol::stream_id(l.proto, l.bytes(frame)).map_or(0, |(_, id)| id);
    let nvgre = l.flags & dissect::stack::FLAG_NVGRE != 0;
    match l.proto {
        Proto::Vxlan => (t.segment, t.kind, t.key) = (1 << 56 | u64::from(id), 0x01, id),
        Proto::Gre if nvgre => {
            (t.segment, t.gre_key, t.kind, t.key) = (2 << 56 | u64::from(id >> 8), id, 0x02, id)
        }
        Proto::Gre => (t.gre_key, t.kind, t.key) = (id, 0x02, id),
        Proto::Geneve => (t.kind, t.key) = (0x07, id),
        _ => t.key = id,
    }
    t
}

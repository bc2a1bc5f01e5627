//! The export record of one sampled frame (`export/detunnel.proto`, message `Sample`), written
//! as length-delimited protobuf or as a line of JSON with the same field names: where and how
//! it was sampled, its outer headers under goflow2's field numbers, and every depth of its
//! tunnel stack — each tunnel's kind and identifier and the addresses, protocol and ports
//! inside it. Encoding appends to a buffer and allocates nothing of its own.
use crate::protobuf::{append_delimited, Writer, LEN_FIELD_OVERHEAD, UINT_FIELD_MAX};
use dissect::{Decoded, Proto, Tunnel};
use std::io::Write as _;
use std::net::IpAddr;

/// Most depths written (the outer headers and 8 tunnels, the decoder's default bound); deeper
/// ones are counted in `tunnels` but not listed.
pub const MAX_DEPTHS: usize = 9;

/// How records are written (`format` of `[export.kafka]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Length-delimited protobuf.
    #[default]
    Protobuf,
    /// One JSON object per line.
    Json,
}

/// goflow2's flow type of sFlow samples.
const TYPE_SFLOW: u64 = 1;
/// The flow type of frames a pipeline counted.
const TYPE_PIPELINE: u64 = 100;

/// Where a frame was sampled and by whom: what the record says besides the frame's headers.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// Receive time, ns since the Unix epoch.
    pub time_ns: u64,
    /// The agent (or the pipeline's own address, 0.0.0.0, for pipeline frames).
    pub agent: IpAddr,
    /// The sFlow sub-agent.
    pub sub_agent_id: u32,
    /// The sFlow datagram's sequence number.
    pub datagram_sequence: u32,
    /// The data source index.
    pub source_index: u32,
    /// Input and output ifIndex.
    pub interfaces: (u32, u32),
    /// 1 in this many frames was sampled.
    pub sampling_rate: u32,
    /// The frame's length on the wire.
    pub frame_len: u32,
    /// The pipeline that counted it, for frames of the broker.
    pub pipeline: Option<&'a str>,
}

/// The headers at one depth of a frame.
#[derive(Debug, Clone, Copy, Default)]
struct Depth<'a> {
    tunnel: Option<Tunnel>,
    id: Option<(&'static str, u32)>,
    src: &'a [u8],
    dst: &'a [u8],
    proto: u8,
    ports: (u16, u16),
    vlan: u16,
}

/// A frame's depths, outermost first, with its outer Ethernet addresses.
struct Depths<'a> {
    list: [Depth<'a>; MAX_DEPTHS],
    len: usize,
    tunnels: usize,
    macs: (u64, u64),
}

impl<'a> Depths<'a> {
    fn of(decoded: &Decoded<'a>) -> Depths<'a> {
        let frame = decoded.frame();
        let mut d = Depths { list: [Depth::default(); MAX_DEPTHS], len: 1, tunnels: 0, macs: (0, 0) };
        let mut macs_seen = false;
        for l in decoded.stack().layers() {
            let b = l.bytes(frame);
            let at = &mut d.list[d.len - 1];
            match l.proto {
                Proto::Eth if !macs_seen && b.len() >= 12 => {
                    macs_seen = true;
                    d.macs = (mac(&b[6..12]), mac(&b[0..6]));
                }
                Proto::Vlan if at.vlan == 0 && b.len() >= 2 => {
                    at.vlan = u16::from_be_bytes([b[0], b[1]]) & 0x0fff;
                }
                Proto::Ipv4 if at.src.is_empty() && b.len() >= 20 => {
                    (at.src, at.dst, at.proto) = (&b[12..16], &b[16..20], b[9]);
                }
                Proto::Ipv6 if at.src.is_empty() && b.len() >= 40 => {
                    (at.src, at.dst, at.proto) = (&b[8..24], &b[24..40], b[6]);
                }
                Proto::Tcp | Proto::Udp if at.ports == (0, 0) && b.len() >= 4 => {
                    at.proto = if l.proto == Proto::Tcp { 6 } else { 17 };
                    at.ports = (u16::from_be_bytes([b[0], b[1]]), u16::from_be_bytes([b[2], b[3]]));
                }
                _ => {}
            }
            if let Some(t) = l.tunnel() {
                d.tunnels += 1;
                if d.len < MAX_DEPTHS {
                    let id = dissect::protocol::stream_id(l.proto, b);
                    d.list[d.len] = Depth { tunnel: Some(t), id, ..Depth::default() };
                    d.len += 1;
                }
            }
        }
        d
    }

    fn list(&self) -> &[Depth<'a>] {
        &self.list[..self.len]
    }

    /// The deepest depth that holds an IP header (depth 0 when none does).
    fn innermost(&self) -> &Depth<'a> {
        self.list().iter().rev().find(|d| !d.src.is_empty()).unwrap_or(&self.list[0])
    }
}

/// Ethernet address bytes as goflow2's integer.
fn mac(b: &[u8]) -> u64 {
    b.iter().fold(0, |v, &x| v << 8 | u64::from(x))
}

fn address(a: IpAddr) -> ([u8; 16], usize) {
    let mut out = [0u8; 16];
    match a {
        IpAddr::V4(v4) => {
            out[..4].copy_from_slice(&v4.octets());
            (out, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    }
}

/// EtherType of an IP header with addresses this long (0 for none).
fn etype(addr: &[u8]) -> u64 {
    match addr.len() {
        4 => 0x0800,
        16 => 0x86dd,
        _ => 0,
    }
}

/// Appends the record of `decoded` sampled at `origin`, exported by `instance` as its record
/// number `sequence`.
pub fn write(
    out: &mut Vec<u8>,
    format: Format,
    decoded: &Decoded<'_>,
    origin: &Origin<'_>,
    instance: &str,
    sequence: u64,
) {
    let depths = Depths::of(decoded);
    match format {
        Format::Protobuf => {
            let bound = protobuf_bound(decoded, &depths, origin, instance);
            append_delimited(out, bound, |m| protobuf(m, decoded, &depths, origin, instance, sequence))
        }
        Format::Json => json(out, decoded, &depths, origin, instance, sequence),
    }
}

/// The most bytes the protobuf record can take: every field at its longest.
fn protobuf_bound(decoded: &Decoded<'_>, depths: &Depths<'_>, o: &Origin<'_>, instance: &str) -> usize {
    let stack: usize = decoded.stack().layers().iter().map(|l| l.proto.token().len() + 1).sum();
    let names = |d: &Depth<'_>| d.tunnel.map_or(0, |t| t.name().len()) + d.id.map_or(0, |(n, _)| n.len());
    // Per depth: 5 varint fields and 4 bytes fields (addresses 16 bytes at most), and the
    // message's own key and length.
    let depth: usize =
        depths.list().iter().map(|d| UINT_FIELD_MAX * 5 + LEN_FIELD_OVERHEAD * 5 + 2 * 16 + names(d)).sum();
    // At the top: 30 varint fields, 10 bytes fields (addresses, strings), the first tunnel's name.
    let first = depths.list().get(1).map_or(0, names);
    UINT_FIELD_MAX * 30
        + LEN_FIELD_OVERHEAD * 10
        + 6 * 16
        + instance.len()
        + o.pipeline.map_or(0, str::len)
        + stack
        + first
        + depth
}

fn protobuf(
    m: &mut Writer<'_>,
    decoded: &Decoded<'_>,
    depths: &Depths<'_>,
    o: &Origin<'_>,
    instance: &str,
    sequence: u64,
) {
    let outer = &depths.list[0];
    let inner = depths.innermost();
    m.uint(1, if o.pipeline.is_some() { TYPE_PIPELINE } else { TYPE_SFLOW });
    m.uint(110, o.time_ns);
    m.uint(4, u64::from(o.datagram_sequence));
    m.uint(3, u64::from(o.sampling_rate));
    let (agent, agent_len) = address(o.agent);
    m.field_bytes(11, &agent[..agent_len]);
    m.uint(9, u64::from(o.frame_len));
    m.uint(10, 1);
    m.field_bytes(6, outer.src);
    m.field_bytes(7, outer.dst);
    m.uint(30, etype(outer.src));
    m.uint(20, u64::from(outer.proto));
    m.uint(21, u64::from(outer.ports.0));
    m.uint(22, u64::from(outer.ports.1));
    m.uint(18, u64::from(o.interfaces.0));
    m.uint(19, u64::from(o.interfaces.1));
    m.uint(27, depths.macs.0);
    m.uint(28, depths.macs.1);
    m.uint(29, u64::from(outer.vlan));
    m.field_bytes(1000, instance.as_bytes());
    m.uint(1001, sequence);
    m.uint(1002, u64::from(o.sub_agent_id));
    m.uint(1003, u64::from(o.source_index));
    stack_into(decoded, m, 1004);
    m.field_bytes(1005, o.pipeline.unwrap_or("").as_bytes());
    m.uint(1006, depths.tunnels as u64);
    if let Some(first) = depths.list().get(1) {
        m.field_bytes(1010, first.tunnel.map_or("", Tunnel::name).as_bytes());
        m.uint(1011, u64::from(first.id.map_or(0, |(_, id)| id)));
    }
    m.field_bytes(1020, inner.src);
    m.field_bytes(1021, inner.dst);
    m.uint(1022, u64::from(inner.proto));
    m.uint(1023, u64::from(inner.ports.0));
    m.uint(1024, u64::from(inner.ports.1));
    for d in depths.list() {
        m.message(1030, |m| {
            m.field_bytes(1, d.tunnel.map_or("", Tunnel::name).as_bytes());
            m.field_bytes(2, d.id.map_or("", |(n, _)| n).as_bytes());
            m.uint(3, u64::from(d.id.map_or(0, |(_, id)| id)));
            m.field_bytes(4, d.src);
            m.field_bytes(5, d.dst);
            m.uint(6, u64::from(d.proto));
            m.uint(7, u64::from(d.ports.0));
            m.uint(8, u64::from(d.ports.1));
            m.uint(9, u64::from(d.vlan));
        });
    }
}

/// Writes field `field` holding `decoded`'s `stack` tokens, written straight into it.
fn stack_into(decoded: &Decoded<'_>, m: &mut Writer<'_>, field: u32) {
    if decoded.stack().layers().is_empty() {
        return;
    }
    m.message(field, |m| {
        for (i, l) in decoded.stack().layers().iter().enumerate() {
            if i > 0 {
                m.byte(b'.');
            }
            m.bytes(l.proto.token().as_bytes());
        }
    });
}

fn json(
    out: &mut Vec<u8>,
    decoded: &Decoded<'_>,
    depths: &Depths<'_>,
    o: &Origin<'_>,
    instance: &str,
    sequence: u64,
) {
    let outer = &depths.list[0];
    let inner = depths.innermost();
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "{{\"type\":\"{}\",\"time_received_ns\":{},\"sequence_num\":{},\"sampling_rate\":{},\"sampler_address\":\"{}\",\"bytes\":{},\"packets\":1,",
        if o.pipeline.is_some() { "DETUNNEL_PIPELINE" } else { "SFLOW_5" },
        o.time_ns,
        o.datagram_sequence,
        o.sampling_rate,
        o.agent,
        o.frame_len,
    );
    json_addresses(out, "", outer);
    let _ = write!(
        out,
        ",\"etype\":{},\"in_if\":{},\"out_if\":{},\"src_mac\":{},\"dst_mac\":{},\"vlan_id\":{},\"instance\":",
        etype(outer.src),
        o.interfaces.0,
        o.interfaces.1,
        depths.macs.0,
        depths.macs.1,
        outer.vlan,
    );
    let _ = serde_json::to_writer(&mut *out, instance);
    let _ = write!(
        out,
        ",\"sequence\":{sequence},\"sub_agent_id\":{},\"source_index\":{},\"stack\":\"{}\",\"pipeline\":",
        o.sub_agent_id,
        o.source_index,
        decoded.stack().tokens(),
    );
    let _ = serde_json::to_writer(&mut *out, o.pipeline.unwrap_or(""));
    let first = depths.list().get(1);
    let _ = write!(
        out,
        ",\"tunnels\":{},\"tunnel\":\"{}\",\"tunnel_id\":{},",
        depths.tunnels,
        first.and_then(|d| d.tunnel).map_or("", Tunnel::name),
        first.and_then(|d| d.id).map_or(0, |(_, id)| id),
    );
    json_addresses(out, "inner_", inner);
    out.extend_from_slice(b",\"depths\":[");
    for (i, d) in depths.list().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(
            out,
            "{{\"tunnel\":\"{}\",\"id_name\":\"{}\",\"id\":{},",
            d.tunnel.map_or("", Tunnel::name),
            d.id.map_or("", |(n, _)| n),
            d.id.map_or(0, |(_, id)| id),
        );
        json_addresses(out, "", d);
        let _ = write!(out, ",\"vlan_id\":{}}}", d.vlan);
    }
    out.extend_from_slice(b"]}\n");
}

/// Writes `"{prefix}src_addr":...,"{prefix}dst_addr":...,"{prefix}proto":...` and the ports.
fn json_addresses(out: &mut Vec<u8>, prefix: &str, d: &Depth<'_>) {
    let text = |a: &[u8]| -> Option<IpAddr> {
        match a.len() {
            4 => Some(IpAddr::from(<[u8; 4]>::try_from(a).ok()?)),
            16 => Some(IpAddr::from(<[u8; 16]>::try_from(a).ok()?)),
            _ => None,
        }
    };
    for (name, a) in [("src_addr", d.src), ("dst_addr", d.dst)] {
        let _ = match text(a) {
            Some(ip) => write!(out, "\"{prefix}{name}\":\"{ip}\","),
            None => write!(out, "\"{prefix}{name}\":\"\","),
        };
    }
    let _ = write!(
        out,
        "\"{prefix}proto\":{},\"{prefix}src_port\":{},\"{prefix}dst_port\":{}",
        d.proto, d.ports.0, d.ports.1
    );
}

//! Builds frames from a list of headers, outermost first, with `wire`'s emit code: every
//! length, type field, port and checksum is filled in from what the header wraps.
//!
//! ```
//! use craft::{build, Header};
//! let frame = build(&[
//!     Header::eth(),
//!     Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
//!     Header::Gre { key: Some(7), seq: None },
//!     Header::eth(),
//!     Header::ipv4([192, 168, 0, 1], [192, 168, 0, 2]),
//!     Header::Udp { src: 1000, dst: 2000 },
//!     Header::Payload(vec![0; 10]),
//! ]);
//! assert_eq!(frame.len(), 14 + 20 + 8 + 14 + 20 + 8 + 10);
//! ```
// The one `unsafe` is the counting allocator's forwarding to the system allocator.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod counting;
pub mod mix;
pub mod sflow;
pub mod timing;

use wire::erspan::Platform;
use wire::ethernet::ethertype as et;
use wire::ipv4::protocol as ipp;
use wire::{Ipv4Addr, Ipv6Addr, MacAddr};

/// One header of a synthetic frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// Ethernet II.
    Eth {
        /// Source address.
        src: [u8; 6],
        /// Destination address.
        dst: [u8; 6],
    },
    /// A VLAN tag with this TPID (0x8100, 0x88a8, 0x9100).
    Vlan {
        /// Tag protocol identifier.
        tpid: u16,
        /// VLAN ID.
        vid: u16,
    },
    /// Cisco VN-Tag.
    VnTag {
        /// Destination vif.
        dst_vif: u16,
        /// Source vif.
        src_vif: u16,
    },
    /// 802.1BR E-Tag.
    ETag {
        /// E-CID.
        ecid: u32,
    },
    /// PBB I-TAG (an Ethernet header for the customer addresses should follow).
    Pbb {
        /// I-SID.
        isid: u32,
    },
    /// TRILL (an Ethernet header should follow).
    Trill {
        /// Ingress nickname.
        ingress: u16,
        /// Egress nickname.
        egress: u16,
    },
    /// An MPLS label stack.
    Mpls {
        /// Labels, top first.
        labels: Vec<u32>,
    },
    /// A pseudowire control word.
    PwControlWord,
    /// IPv4.
    Ipv4 {
        /// Source.
        src: [u8; 4],
        /// Destination.
        dst: [u8; 4],
    },
    /// IPv6, optionally with an 8-byte destination options header.
    Ipv6 {
        /// Source.
        src: [u8; 16],
        /// Destination.
        dst: [u8; 16],
        /// Insert a destination options header.
        dst_opts: bool,
    },
    /// GRE version 0; the protocol type comes from what it wraps.
    Gre {
        /// Key.
        key: Option<u32>,
        /// Sequence number.
        seq: Option<u32>,
    },
    /// GRE with an explicit protocol type (e.g. 0x8949), no key, with a sequence number.
    GreProtocol {
        /// Protocol type.
        protocol: u16,
    },
    /// NVGRE: GRE-TEB whose key is VSID and flow ID (an Ethernet header should follow).
    Nvgre {
        /// Virtual subnet ID.
        vsid: u32,
        /// Flow ID.
        flow_id: u8,
    },
    /// ERSPAN type I: GRE 0x88be without sequence number (an Ethernet frame follows).
    Erspan1,
    /// ERSPAN type II: GRE 0x88be with sequence number, and its header.
    Erspan2 {
        /// Session ID.
        session: u16,
        /// Port index.
        index: u32,
    },
    /// ERSPAN type III: GRE 0x22eb and its header; frame type from what it wraps.
    Erspan3 {
        /// Session ID.
        session: u16,
        /// Timestamp.
        timestamp: u32,
        /// Platform sub-header.
        platform: Option<Platform>,
    },
    /// VXLAN.
    Vxlan {
        /// VNI.
        vni: u32,
    },
    /// VXLAN-GPE; next protocol from what it wraps.
    VxlanGpe {
        /// VNI.
        vni: u32,
    },
    /// GENEVE with raw option bytes; protocol type from what it wraps.
    Geneve {
        /// VNI.
        vni: u32,
        /// Options (TLVs, a multiple of 4 bytes).
        options: Vec<u8>,
        /// Set the C (critical options present) bit.
        critical: bool,
    },
    /// UDP; the destination port should be the encapsulation's when one follows.
    Udp {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
    },
    /// TCP.
    Tcp {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
        /// Flags, FIN in bit 0.
        flags: u16,
    },
    /// ICMP echo request.
    IcmpEcho {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
    },
    /// L2TPv3 over IP with an optional cookie (an Ethernet frame follows).
    L2tpv3 {
        /// Session ID.
        session: u32,
        /// Cookie bytes (0, 4 or 8).
        cookie: Vec<u8>,
    },
    /// GTP-U G-PDU.
    GtpU {
        /// TEID.
        teid: u32,
    },
    /// PPTP's enhanced GRE (version 1); a PPP header should follow.
    Pptp {
        /// Call ID.
        call: u16,
        /// Sequence number.
        seq: Option<u32>,
        /// Acknowledgment number.
        ack: Option<u32>,
    },
    /// PPP with address and control bytes: the protocol given, or the one of the header that
    /// follows (IPv4, IPv6, MPLS).
    Ppp {
        /// The protocol, when not the next header's.
        protocol: Option<u16>,
    },
    /// An 802.11 data frame header; LLC/SNAP naming the next header follows it unless its
    /// body is an A-MSDU (build that with [`amsdu`]) or encrypted.
    Wlan(wire::ieee80211::Repr),
    /// A CAPWAP data channel header (UDP 5247 carries it).
    Capwap(wire::capwap::Repr),
    /// A Cisco ISL header; the frame it wraps is followed by a 4-byte CRC.
    Isl {
        /// VLAN ID.
        vlan: u16,
    },
    /// A Cisco HDLC header naming the next header (pcap link type 104).
    Chdlc,
    /// A GTP' header of a message type (UDP 3386 carries it).
    GtpPrime {
        /// Message type (240 data record transfer request).
        msg_type: u8,
    },
    /// A GTPv2-C header (UDP 2123 carries it).
    Gtpv2 {
        /// Message type.
        msg_type: u8,
        /// TEID, when the header has one.
        teid: Option<u32>,
    },
    /// An associated channel header naming the next header (IPv4, IPv6), or of a given
    /// channel type.
    Ach {
        /// The channel type, when not the next header's.
        channel: Option<u16>,
    },
    /// Bytes carried at the end.
    Payload(Vec<u8>),
}

/// An A-MSDU: one subframe per list of headers (each an IP packet or ARP, carried behind
/// LLC/SNAP), from `source` to `destination`, each but the last padded to 4 bytes.
pub fn amsdu(source: [u8; 6], destination: [u8; 6], subframes: &[Vec<Header>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, headers) in subframes.iter().enumerate() {
        let mut msdu = vec![0; wire::llc::SNAP_LEN];
        wire::llc::emit_snap(&mut msdu, headers.first().map_or(0, Header::ethertype));
        msdu.extend_from_slice(&build(headers));
        let sub = wire::ieee80211::Subframe {
            destination: MacAddr(destination),
            source: MacAddr(source),
            len: msdu.len() as u16,
        };
        let mut h = [0u8; wire::ieee80211::SUBFRAME_HEADER_LEN];
        sub.emit(&mut h);
        out.extend_from_slice(&h);
        out.extend_from_slice(&msdu);
        if i + 1 < subframes.len() {
            out.resize(out.len().next_multiple_of(4), 0);
        }
    }
    out
}

impl Header {
    /// An Ethernet header with fixed locally administered addresses.
    pub fn eth() -> Header {
        Header::Eth { src: [0x02, 0, 0, 0, 0, 1], dst: [0x02, 0, 0, 0, 0, 2] }
    }
    /// An IPv4 header.
    pub fn ipv4(src: [u8; 4], dst: [u8; 4]) -> Header {
        Header::Ipv4 { src, dst }
    }
    /// An IPv6 header without extension headers.
    pub fn ipv6(src: [u8; 16], dst: [u8; 16]) -> Header {
        Header::Ipv6 { src, dst, dst_opts: false }
    }

    /// The EtherType that announces this header, where one does.
    fn ethertype(&self) -> u16 {
        match self {
            Header::Eth { .. } | Header::Nvgre { .. } => et::TEB,
            Header::Vlan { tpid, .. } => *tpid,
            Header::VnTag { .. } => et::VNTAG,
            Header::ETag { .. } => et::ETAG,
            Header::Pbb { .. } => et::PBB,
            Header::Trill { .. } => et::TRILL,
            Header::Mpls { .. } | Header::PwControlWord => et::MPLS,
            Header::Ipv4 { .. } => et::IPV4,
            Header::Ipv6 { .. } => et::IPV6,
            Header::Erspan1 | Header::Erspan2 { .. } => et::ERSPAN,
            Header::Erspan3 { .. } => et::ERSPAN3,
            _ => 0,
        }
    }

    /// The IP protocol number that announces this header.
    fn ip_protocol(&self) -> u8 {
        match self {
            Header::Ipv4 { .. } => ipp::IPIP,
            Header::Ipv6 { .. } => ipp::IPV6,
            Header::Gre { .. }
            | Header::GreProtocol { .. }
            | Header::Nvgre { .. }
            | Header::Erspan1
            | Header::Erspan2 { .. }
            | Header::Erspan3 { .. }
            | Header::Pptp { .. } => ipp::GRE,
            Header::Udp { .. } => ipp::UDP,
            Header::Tcp { .. } => ipp::TCP,
            Header::IcmpEcho { .. } => ipp::ICMP,
            Header::L2tpv3 { .. } => ipp::L2TP,
            Header::Eth { .. } => ipp::ETHERNET,
            _ => 255,
        }
    }

    /// Prepends this header to `inner` (which starts with header `next`, if any).
    fn wrap(&self, next: Option<&Header>, inner: Vec<u8>) -> Vec<u8> {
        let next_type = next.map(|n| n.ethertype()).unwrap_or(0);
        let mut h = match self {
            Header::Eth { src, dst } => {
                let mut b = vec![0; 14];
                let t = match next {
                    Some(Header::Eth { .. }) | None => 0x88b5,
                    Some(n) => n.ethertype(),
                };
                wire::ethernet::Repr { source: MacAddr(*src), destination: MacAddr(*dst), ethertype: t }
                    .emit(&mut b);
                b
            }
            Header::Vlan { vid, .. } => {
                let mut b = vec![0; 4];
                wire::vlan::Repr { pcp: 0, dei: false, vid: *vid, ethertype: next_type }.emit(&mut b);
                b
            }
            Header::VnTag { dst_vif, src_vif } => {
                let mut b = vec![0; 6];
                wire::vntag::Repr {
                    direction: false,
                    dst_vif: *dst_vif,
                    src_vif: *src_vif,
                    ethertype: next_type,
                }
                .emit(&mut b);
                b
            }
            Header::ETag { ecid } => {
                let mut b = vec![0; 8];
                wire::etag::Repr { pcp: 0, ecid: *ecid, ethertype: next_type }.emit(&mut b);
                b
            }
            Header::Pbb { isid } => {
                let mut b = vec![0; 4];
                wire::pbb::Repr { pcp: 0, isid: *isid }.emit(&mut b);
                b
            }
            Header::Trill { ingress, egress } => {
                let mut b = vec![0; 6];
                wire::trill::Repr {
                    multicast: false,
                    hop_count: 20,
                    egress_nickname: *egress,
                    ingress_nickname: *ingress,
                }
                .emit(&mut b);
                b
            }
            Header::Mpls { labels } => {
                let mut b = vec![0; 4 * labels.len()];
                for (i, l) in labels.iter().enumerate() {
                    let bottom = i + 1 == labels.len();
                    wire::mpls::Repr { label: *l, tc: 0, bottom, ttl: 64 }.emit(&mut b[4 * i..]);
                }
                b
            }
            Header::PwControlWord => vec![0, 0, 0, 1],
            Header::Ipv4 { src, dst } => {
                let mut b = vec![0; 20];
                let proto = next.map(|n| n.ip_protocol()).unwrap_or(253);
                wire::ipv4::Repr::new(Ipv4Addr(*src), Ipv4Addr(*dst), proto, inner.len()).emit(&mut b);
                b
            }
            Header::Ipv6 { src, dst, dst_opts } => {
                let proto = next.map(|n| n.ip_protocol()).unwrap_or(253);
                let ext = if *dst_opts { 8 } else { 0 };
                let mut b = vec![0; 40 + ext];
                let first = if *dst_opts { ipp::IPV6_OPTS } else { proto };
                wire::ipv6::Repr::new(Ipv6Addr(*src), Ipv6Addr(*dst), first, inner.len() + ext).emit(&mut b);
                if *dst_opts {
                    // Next header, length 0 (8 bytes), one PadN option of 4 bytes.
                    b[40..48].copy_from_slice(&[proto, 0, 1, 4, 0, 0, 0, 0]);
                }
                b
            }
            Header::Gre { key, seq } => gre(next_type, *key, *seq),
            Header::GreProtocol { protocol } => gre(*protocol, None, Some(1)),
            Header::Nvgre { vsid, flow_id } => gre(et::TEB, Some(wire::nvgre::key(*vsid, *flow_id)), None),
            Header::Erspan1 => gre(et::ERSPAN, None, None),
            Header::Erspan2 { session, index } => {
                let mut b = gre(et::ERSPAN, None, Some(1));
                let mut e = vec![0; 8];
                wire::erspan::Type2Repr { session_id: *session, index: *index, ..Default::default() }
                    .emit(&mut e);
                b.extend_from_slice(&e);
                b
            }
            Header::Erspan3 { session, timestamp, platform } => {
                let ft = match next {
                    Some(Header::Ipv4 { .. } | Header::Ipv6 { .. }) => wire::erspan::frame_type::IP,
                    _ => wire::erspan::frame_type::ETHERNET,
                };
                let r = wire::erspan::Type3Repr {
                    vlan: 0,
                    cos: 0,
                    bso: 0,
                    truncated: false,
                    session_id: *session,
                    timestamp: *timestamp,
                    sgt: 0,
                    p: ft == wire::erspan::frame_type::ETHERNET,
                    frame_type: ft,
                    hw_id: 1,
                    egress: false,
                    granularity: 1,
                    platform: *platform,
                };
                let mut b = gre(et::ERSPAN3, None, Some(1));
                let mut e = vec![0; r.header_len()];
                r.emit(&mut e);
                b.extend_from_slice(&e);
                b
            }
            Header::Vxlan { vni } => {
                let mut b = vec![0; 8];
                wire::vxlan::Repr { vni: *vni, group_policy_id: None }.emit(&mut b);
                b
            }
            Header::VxlanGpe { vni } => {
                use wire::vxlan_gpe::next_protocol as np;
                let next_protocol = match next {
                    Some(Header::Ipv4 { .. }) => np::IPV4,
                    Some(Header::Ipv6 { .. }) => np::IPV6,
                    Some(Header::Mpls { .. }) => np::MPLS,
                    _ => np::ETHERNET,
                };
                let mut b = vec![0; 8];
                wire::vxlan_gpe::Repr { vni: *vni, next_protocol }.emit(&mut b);
                b
            }
            Header::Geneve { vni, options, critical } => {
                let r = wire::geneve::Repr { vni: *vni, protocol: next_type, critical: *critical, options };
                let mut b = vec![0; r.header_len()];
                r.emit(&mut b);
                b
            }
            Header::Udp { src, dst } => {
                let mut b = vec![0; 8];
                wire::udp::Repr { src_port: *src, dst_port: *dst, payload_len: inner.len() }.emit(&mut b);
                b
            }
            Header::Tcp { src, dst, flags } => {
                let mut b = vec![0; 20];
                wire::tcp::Repr { src_port: *src, dst_port: *dst, seq_number: 1, flags: *flags }.emit(&mut b);
                b
            }
            Header::IcmpEcho { ident, seq } => {
                let mut b = vec![0; 8];
                b.extend_from_slice(&inner);
                wire::icmp::EchoRepr { msg_type: 8, ident: *ident, seq_no: *seq }.emit(&mut b);
                return b;
            }
            Header::L2tpv3 { session, cookie } => {
                let r = wire::l2tpv3::Repr { session_id: *session, cookie, sublayer: false };
                let mut b = vec![0; r.header_len()];
                r.emit(&mut b);
                b
            }
            Header::GtpU { teid } => {
                let mut b = vec![0; 8];
                wire::gtpu::Repr { teid: *teid, payload_len: inner.len() }.emit(&mut b);
                b
            }
            Header::Pptp { call, seq, ack } => {
                let r = wire::gre::EnhancedRepr { call_id: *call, sequence: *seq, acknowledgment: *ack };
                let mut b = vec![0; r.header_len()];
                r.emit(&mut b, inner.len() as u16);
                b
            }
            Header::Ppp { protocol } => {
                use wire::ppp::protocol as pp;
                let carried = match next_type {
                    et::IPV4 => pp::IPV4,
                    et::IPV6 => pp::IPV6,
                    et::MPLS => pp::MPLS_UNICAST,
                    _ => 0,
                };
                let h = wire::ppp::Header::new(protocol.unwrap_or(carried));
                let mut b = vec![0; h.len];
                h.emit(&mut b);
                b
            }
            Header::Wlan(r) => {
                let mut b = vec![0; r.header_len()];
                r.emit(&mut b);
                if !r.amsdu && !r.protected && next.is_some_and(|n| n.ethertype() != 0) {
                    let at = b.len();
                    b.resize(at + wire::llc::SNAP_LEN, 0);
                    wire::llc::emit_snap(&mut b[at..], next_type);
                }
                b
            }
            Header::Capwap(r) => {
                let mut b = vec![0; r.header_len()];
                r.emit(&mut b);
                b
            }
            Header::Isl { vlan } => {
                let mut b = vec![0; wire::isl::HEADER_LEN];
                wire::isl::Repr { source: [0x00, 0x0c, 0x29, 0, 0, 1], vlan: *vlan, index: 1 }
                    .emit(&mut b, inner.len());
                b.extend_from_slice(&inner);
                // The CRC (not checked by the decoders that read it).
                b.extend_from_slice(&[0; wire::isl::CRC_LEN]);
                return b;
            }
            Header::Chdlc => {
                let mut b = vec![0; wire::chdlc::HEADER_LEN];
                wire::chdlc::emit(&mut b, next_type);
                b
            }
            Header::GtpPrime { msg_type } => {
                let mut b = vec![0; wire::gtp_prime::SHORT_LEN];
                wire::gtp_prime::emit(&mut b, *msg_type, 1, inner.len());
                b
            }
            Header::Gtpv2 { msg_type, teid } => {
                let len = if teid.is_some() { wire::gtpv2::TEID_LEN } else { wire::gtpv2::SHORT_LEN };
                let mut b = vec![0; len];
                wire::gtpv2::emit(&mut b, *msg_type, *teid, inner.len());
                b
            }
            Header::Ach { channel } => {
                let carried = match next_type {
                    et::IPV4 => wire::pwach::channel::IPV4,
                    et::IPV6 => wire::pwach::channel::IPV6,
                    _ => 0,
                };
                let mut b = vec![0; wire::pwach::HEADER_LEN];
                wire::pwach::emit(&mut b, channel.unwrap_or(carried));
                b
            }
            Header::Payload(p) => p.clone(),
        };
        h.extend_from_slice(&inner);
        h
    }
}

fn gre(protocol: u16, key: Option<u32>, sequence: Option<u32>) -> Vec<u8> {
    let r = wire::gre::Repr { protocol, checksum: false, key, sequence };
    let mut b = vec![0; r.header_len()];
    r.emit(&mut b);
    b
}

/// Builds a frame from headers listed outermost first.
pub fn build(headers: &[Header]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (i, h) in headers.iter().enumerate().rev() {
        bytes = h.wrap(headers.get(i + 1), bytes);
    }
    bytes
}

/// Writes a classic pcap file (microsecond timestamps) holding `frames` of `linktype`.
pub fn pcap_file(linktype: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    pcap_file_snapped(linktype, frames, usize::MAX)
}

/// Like [`pcap_file`], each frame captured only up to `snaplen` bytes (its length on the
/// wire kept), as a capture with a snap length or an sFlow sampled header cuts it.
pub fn pcap_file_snapped(linktype: u32, frames: &[Vec<u8>], snaplen: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&262_144u32.to_le_bytes());
    v.extend_from_slice(&linktype.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        v.extend_from_slice(&(1_700_000_000 + i as u32).to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        let captured = &f[..f.len().min(snaplen)];
        v.extend_from_slice(&(captured.len() as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(captured);
    }
    v
}

/// Cuts `frame` (Ethernet, then an IPv4 header without options) into IPv4 fragments carrying
/// at most `mtu` payload bytes each (a multiple of 8), in order.
pub fn fragment_ipv4(frame: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let mtu = (mtu / 8).max(1) * 8;
    let payload = &frame[34..];
    let mut out = Vec::new();
    let mut off = 0;
    while off < payload.len() {
        let n = mtu.min(payload.len() - off);
        let mut f = frame[..34].to_vec();
        f.extend_from_slice(&payload[off..off + n]);
        f[16..18].copy_from_slice(&((20 + n) as u16).to_be_bytes());
        let more = off + n < payload.len();
        let word = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
        f[20..22].copy_from_slice(&word.to_be_bytes());
        f[24..26].copy_from_slice(&[0, 0]);
        let c = wire::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        out.push(f);
        off += n;
    }
    out
}

/// Cuts `frame` (Ethernet, then an IPv6 header without extension headers) into fragments
/// carrying at most `mtu` payload bytes each (a multiple of 8), each with a fragment header
/// of identification `ident`, in order.
pub fn fragment_ipv6(frame: &[u8], mtu: usize, ident: u32) -> Vec<Vec<u8>> {
    let mtu = (mtu / 8).max(1) * 8;
    let next = frame[20];
    let payload = &frame[54..];
    let mut out = Vec::new();
    let mut off = 0;
    while off < payload.len() {
        let n = mtu.min(payload.len() - off);
        let mut f = frame[..54].to_vec();
        f[20] = wire::ipv4::protocol::IPV6_FRAG;
        f[18..20].copy_from_slice(&((8 + n) as u16).to_be_bytes());
        let more = off + n < payload.len();
        let word = ((off / 8) as u16) << 3 | u16::from(more);
        f.extend_from_slice(&[next, 0]);
        f.extend_from_slice(&word.to_be_bytes());
        f.extend_from_slice(&ident.to_be_bytes());
        f.extend_from_slice(&payload[off..off + n]);
        out.push(f);
        off += n;
    }
    out
}

//! sFlow version 5 datagrams (sflow.org `sflow_version_5.txt`, `sflow_drops.txt`): XDR,
//! big-endian 32-bit words, opaque data length-prefixed and padded to 4 bytes. Views are
//! zero-copy; every length is checked against the bytes there are, and records of formats
//! that are not understood can be skipped by their length.
use crate::{be32, need, Error, Ipv4Addr, Ipv6Addr, MacAddr, Result};
use core::fmt;

/// The sFlow version this module reads.
pub const VERSION: u32 = 5;

/// Sample formats (enterprise 0).
pub mod sample_format {
    /// Flow sample.
    pub const FLOW: u32 = 1;
    /// Counters sample.
    pub const COUNTERS: u32 = 2;
    /// Expanded flow sample.
    pub const FLOW_EXPANDED: u32 = 3;
    /// Expanded counters sample.
    pub const COUNTERS_EXPANDED: u32 = 4;
    /// Discarded packet sample (sflow_drops.txt).
    pub const DISCARD: u32 = 5;
}

/// Flow record formats (enterprise 0).
pub mod flow_format {
    /// Sampled packet header.
    pub const SAMPLED_HEADER: u32 = 1;
    /// Sampled Ethernet frame data.
    pub const SAMPLED_ETHERNET: u32 = 2;
    /// Sampled IPv4 data.
    pub const SAMPLED_IPV4: u32 = 3;
    /// Sampled IPv6 data.
    pub const SAMPLED_IPV6: u32 = 4;
    /// Extended switch data.
    pub const EXTENDED_SWITCH: u32 = 1001;
    /// Extended router data.
    pub const EXTENDED_ROUTER: u32 = 1002;
    /// Extended gateway data.
    pub const EXTENDED_GATEWAY: u32 = 1003;
    /// Layer-2 tunnel egress (sampled Ethernet layout).
    pub const L2_TUNNEL_EGRESS: u32 = 1021;
    /// Layer-2 tunnel ingress.
    pub const L2_TUNNEL_INGRESS: u32 = 1022;
    /// IPv4 tunnel egress (sampled IPv4 layout: the outer header added).
    pub const IPV4_TUNNEL_EGRESS: u32 = 1023;
    /// IPv4 tunnel ingress (the outer header removed).
    pub const IPV4_TUNNEL_INGRESS: u32 = 1024;
    /// IPv6 tunnel egress.
    pub const IPV6_TUNNEL_EGRESS: u32 = 1025;
    /// IPv6 tunnel ingress.
    pub const IPV6_TUNNEL_INGRESS: u32 = 1026;
    /// Decapsulation egress: offset of the inner header in the sampled header.
    pub const DECAP_EGRESS: u32 = 1027;
    /// Decapsulation ingress.
    pub const DECAP_INGRESS: u32 = 1028;
    /// VNI egress.
    pub const VNI_EGRESS: u32 = 1029;
    /// VNI ingress.
    pub const VNI_INGRESS: u32 = 1030;
}

/// Counter record formats (enterprise 0).
pub mod counter_format {
    /// Generic interface counters.
    pub const GENERIC_INTERFACE: u32 = 1;
    /// Ethernet interface counters.
    pub const ETHERNET: u32 = 2;
}

/// Header protocols of a sampled header record.
pub mod header_protocol {
    /// Ethernet.
    pub const ETHERNET: u32 = 1;
    /// IPv4.
    pub const IPV4: u32 = 11;
    /// IPv6.
    pub const IPV6: u32 = 12;
    /// MPLS.
    pub const MPLS: u32 = 13;
}

/// Reads a big-endian word at `at` of `d`, or fails as truncated.
#[inline]
fn word(d: &[u8], at: usize) -> Result<u32> {
    need(d, at + 4)?;
    Ok(be32(d, at))
}

/// An sFlow agent address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    /// No address (type 0).
    Unknown,
    /// IPv4.
    V4(Ipv4Addr),
    /// IPv6.
    V6(Ipv6Addr),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unknown => f.write_str("0.0.0.0"),
            Address::V4(a) => a.fmt(f),
            Address::V6(a) => a.fmt(f),
        }
    }
}

/// Reads an address (type word, then 0, 4 or 16 bytes); returns it and its length.
fn address(d: &[u8], at: usize) -> Result<(Address, usize)> {
    match word(d, at)? {
        0 => Ok((Address::Unknown, 4)),
        1 => {
            need(d, at + 8)?;
            Ok((Address::V4(Ipv4Addr::from_bytes(&d[at + 4..])), 8))
        }
        2 => {
            need(d, at + 20)?;
            Ok((Address::V6(Ipv6Addr::from_bytes(&d[at + 4..])), 20))
        }
        _ => Err(Error::Malformed),
    }
}

/// A datagram's header and its samples.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    /// The agent that sent it.
    pub agent: Address,
    /// Sub-agent ID.
    pub sub_agent_id: u32,
    /// Datagram sequence number (per sub-agent).
    pub sequence: u32,
    /// Agent uptime in milliseconds.
    pub uptime_ms: u32,
    /// Samples announced.
    pub num_samples: u32,
    samples: &'a [u8],
}

impl<'a> Datagram<'a> {
    /// Reads a datagram's header; the samples are read as they are iterated.
    pub fn parse(data: &'a [u8]) -> Result<Datagram<'a>> {
        if word(data, 0)? != VERSION {
            return Err(Error::Malformed);
        }
        let (agent, alen) = address(data, 4)?;
        let at = 4 + alen;
        let sub_agent_id = word(data, at)?;
        let sequence = word(data, at + 4)?;
        let uptime_ms = word(data, at + 8)?;
        let num_samples = word(data, at + 12)?;
        Ok(Datagram { agent, sub_agent_id, sequence, uptime_ms, num_samples, samples: &data[at + 16..] })
    }

    /// The samples, in order; iteration ends at the first that does not fit.
    pub fn samples(&self) -> Records<'a> {
        Records { data: self.samples, remaining: self.num_samples }
    }
}

impl fmt::Display for Datagram<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sflow agent {} sub {} seq {} samples {}",
            self.agent, self.sub_agent_id, self.sequence, self.num_samples
        )
    }
}

/// A tagged, length-prefixed piece: a sample or a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Enterprise (0 for sFlow's own formats).
    pub enterprise: u32,
    /// Format within the enterprise.
    pub format: u32,
    /// The bytes, without padding.
    pub data: &'a [u8],
}

/// Iterator over tagged records (`data_format`, `length`, data); yields an error and stops
/// at a record that does not fit.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    data: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>>;
    fn next(&mut self) -> Option<Result<Record<'a>>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let d = self.data;
        let parsed = (|| {
            let tag = word(d, 0)?;
            let len = word(d, 4)? as usize;
            let padded = len.checked_add(3).ok_or(Error::Malformed)? & !3;
            need(d, 8 + len)?;
            let rec = Record { enterprise: tag >> 12, format: tag & 0xfff, data: &d[8..8 + len] };
            Ok((rec, (8 + padded).min(d.len())))
        })();
        match parsed {
            Ok((rec, used)) => {
                self.data = &d[used..];
                Some(Ok(rec))
            }
            Err(e) => {
                self.remaining = 0;
                Some(Err(e))
            }
        }
    }
}

/// Where an interface value comes from in a flow sample: an ifIndex, a discard reason, or
/// a count of output interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// An interface index (0 unknown; 0x3fffffff internal).
    Index(u32),
    /// Discarded, with this reason code.
    Discard(u32),
    /// Several interfaces (this many, 0 unknown).
    Multiple(u32),
}

impl Interface {
    fn compact(w: u32) -> Interface {
        Interface::from_parts(w >> 30, w & 0x3fff_ffff)
    }
    fn from_parts(format: u32, value: u32) -> Interface {
        match format {
            1 => Interface::Discard(value),
            2 => Interface::Multiple(value),
            _ => Interface::Index(value),
        }
    }
}

/// A flow sample (compact or expanded).
#[derive(Debug, Clone)]
pub struct FlowSample<'a> {
    /// Sample sequence number.
    pub sequence: u32,
    /// Data source type (0 ifIndex, 1 VLAN, 2 entity).
    pub source_id_type: u32,
    /// Data source index.
    pub source_id_index: u32,
    /// 1 in `sampling_rate` packets was sampled.
    pub sampling_rate: u32,
    /// Packets that could have been sampled.
    pub sample_pool: u32,
    /// Samples dropped for lack of resources.
    pub drops: u32,
    /// Input interface.
    pub input: Interface,
    /// Output interface.
    pub output: Interface,
    /// The flow records.
    pub records: Records<'a>,
}

impl<'a> FlowSample<'a> {
    /// Reads a flow sample; `expanded` for format 3.
    pub fn parse(d: &'a [u8], expanded: bool) -> Result<FlowSample<'a>> {
        let sequence = word(d, 0)?;
        let (source_id_type, source_id_index, mut at) = if expanded {
            (word(d, 4)?, word(d, 8)?, 12)
        } else {
            let w = word(d, 4)?;
            (w >> 24, w & 0x00ff_ffff, 8)
        };
        let sampling_rate = word(d, at)?;
        let sample_pool = word(d, at + 4)?;
        let drops = word(d, at + 8)?;
        at += 12;
        let (input, output) = if expanded {
            let i = Interface::from_parts(word(d, at)?, word(d, at + 4)?);
            let o = Interface::from_parts(word(d, at + 8)?, word(d, at + 12)?);
            at += 16;
            (i, o)
        } else {
            let i = Interface::compact(word(d, at)?);
            let o = Interface::compact(word(d, at + 4)?);
            at += 8;
            (i, o)
        };
        let n = word(d, at)?;
        Ok(FlowSample {
            sequence,
            source_id_type,
            source_id_index,
            sampling_rate,
            sample_pool,
            drops,
            input,
            output,
            records: Records { data: &d[at + 4..], remaining: n },
        })
    }
}

/// A counters sample (compact or expanded).
#[derive(Debug, Clone)]
pub struct CountersSample<'a> {
    /// Sample sequence number.
    pub sequence: u32,
    /// Data source type.
    pub source_id_type: u32,
    /// Data source index.
    pub source_id_index: u32,
    /// The counter records.
    pub records: Records<'a>,
}

impl<'a> CountersSample<'a> {
    /// Reads a counters sample; `expanded` for format 4.
    pub fn parse(d: &'a [u8], expanded: bool) -> Result<CountersSample<'a>> {
        let sequence = word(d, 0)?;
        let (source_id_type, source_id_index, at) = if expanded {
            (word(d, 4)?, word(d, 8)?, 12)
        } else {
            let w = word(d, 4)?;
            (w >> 24, w & 0x00ff_ffff, 8)
        };
        let n = word(d, at)?;
        Ok(CountersSample {
            sequence,
            source_id_type,
            source_id_index,
            records: Records { data: &d[at + 4..], remaining: n },
        })
    }
}

/// A sampled packet header record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampledHeader<'a> {
    /// What the header starts with (`header_protocol`).
    pub protocol: u32,
    /// Length of the original frame.
    pub frame_length: u32,
    /// Bytes removed before the header was taken (at least the FCS on Ethernet).
    pub stripped: u32,
    /// The sampled bytes.
    pub header: &'a [u8],
}

impl<'a> SampledHeader<'a> {
    /// Reads a sampled header record.
    pub fn parse(d: &'a [u8]) -> Result<SampledHeader<'a>> {
        let protocol = word(d, 0)?;
        let frame_length = word(d, 4)?;
        let stripped = word(d, 8)?;
        let len = word(d, 12)? as usize;
        need(d, 16 + len)?;
        Ok(SampledHeader { protocol, frame_length, stripped, header: &d[16..16 + len] })
    }
}

/// An extended switch record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedSwitch {
    /// 802.1Q VLAN of the incoming frame.
    pub src_vlan: u32,
    /// 802.1p priority of the incoming frame.
    pub src_priority: u32,
    /// 802.1Q VLAN of the outgoing frame.
    pub dst_vlan: u32,
    /// 802.1p priority of the outgoing frame.
    pub dst_priority: u32,
}

impl ExtendedSwitch {
    /// Reads an extended switch record.
    pub fn parse(d: &[u8]) -> Result<ExtendedSwitch> {
        Ok(ExtendedSwitch {
            src_vlan: word(d, 0)?,
            src_priority: word(d, 4)?,
            dst_vlan: word(d, 8)?,
            dst_priority: word(d, 12)?,
        })
    }
}

/// A sampled Ethernet header (flow record 2, and the L2 tunnel records 1021 and 1022).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampledEthernet {
    /// Length of the MAC packet.
    pub length: u32,
    /// Source MAC address.
    pub source: MacAddr,
    /// Destination MAC address.
    pub destination: MacAddr,
    /// EtherType.
    pub ethertype: u32,
}

impl SampledEthernet {
    /// Reads a sampled Ethernet record (each MAC is 6 bytes padded to 8).
    pub fn parse(d: &[u8]) -> Result<SampledEthernet> {
        need(d, 24)?;
        Ok(SampledEthernet {
            length: word(d, 0)?,
            source: MacAddr::from_bytes(&d[4..10]),
            destination: MacAddr::from_bytes(&d[12..18]),
            ethertype: word(d, 20)?,
        })
    }
}

/// An extended router record: the next hop and the prefix lengths of source and destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedRouter {
    /// The IP next hop.
    pub next_hop: Address,
    /// Source address prefix length.
    pub src_mask_len: u32,
    /// Destination address prefix length.
    pub dst_mask_len: u32,
}

impl ExtendedRouter {
    /// Reads an extended router record.
    pub fn parse(d: &[u8]) -> Result<ExtendedRouter> {
        let (next_hop, at) = address(d, 0)?;
        Ok(ExtendedRouter { next_hop, src_mask_len: word(d, at)?, dst_mask_len: word(d, at + 4)? })
    }
}

/// An extended gateway record: BGP next hop, AS numbers, the destination AS path, communities
/// and local preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedGateway<'a> {
    /// The BGP next hop.
    pub next_hop: Address,
    /// The router's own AS.
    pub as_number: u32,
    /// The source's AS.
    pub src_as: u32,
    /// The source's peer AS.
    pub src_peer_as: u32,
    /// The destination AS path: segments of `(type, count, AS numbers)`, read by
    /// [`ExtendedGateway::path_segments`].
    path: &'a [u8],
    /// Number of path segments.
    segments: u32,
    /// BGP communities, 4 bytes each.
    communities: &'a [u8],
    /// Local preference.
    pub local_pref: u32,
}

/// An AS path segment type: an unordered set.
pub const AS_SET: u32 = 1;
/// An AS path segment type: an ordered sequence.
pub const AS_SEQUENCE: u32 = 2;

impl<'a> ExtendedGateway<'a> {
    /// Reads an extended gateway record, checking every length it holds.
    pub fn parse(d: &'a [u8]) -> Result<ExtendedGateway<'a>> {
        let (next_hop, mut at) = address(d, 0)?;
        let as_number = word(d, at)?;
        let src_as = word(d, at + 4)?;
        let src_peer_as = word(d, at + 8)?;
        let segments = word(d, at + 12)?;
        at += 16;
        let path_start = at;
        for _ in 0..segments {
            let n = word(d, at + 4)? as usize;
            at = at.checked_add(8 + n.checked_mul(4).ok_or(Error::Malformed)?).ok_or(Error::Malformed)?;
            need(d, at)?;
        }
        let path = &d[path_start..at];
        let n = word(d, at)? as usize;
        let end = n.checked_mul(4).and_then(|b| b.checked_add(at + 4)).ok_or(Error::Malformed)?;
        need(d, end + 4)?;
        Ok(ExtendedGateway {
            next_hop,
            as_number,
            src_as,
            src_peer_as,
            path,
            segments,
            communities: &d[at + 4..end],
            local_pref: word(d, end)?,
        })
    }

    /// The AS path segments: each its type ([`AS_SET`] or [`AS_SEQUENCE`]) and AS numbers.
    pub fn path_segments(&self) -> impl Iterator<Item = (u32, impl Iterator<Item = u32> + 'a)> + 'a {
        let mut rest = self.path;
        (0..self.segments).map(move |_| {
            // Lengths were checked by `parse`.
            let kind = be32(rest, 0);
            let n = be32(rest, 4) as usize;
            let numbers = &rest[8..8 + 4 * n];
            rest = &rest[8 + 4 * n..];
            (kind, numbers.chunks_exact(4).map(|c| be32(c, 0)))
        })
    }

    /// The BGP communities.
    pub fn communities(&self) -> impl Iterator<Item = u32> + 'a {
        self.communities.chunks_exact(4).map(|c| be32(c, 0))
    }
}

/// The scalar facts of an extended gateway record: what the flow language reads of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gateway {
    /// BGP next hop.
    pub next_hop: Address,
    /// The router's AS.
    pub as_number: u32,
    /// The source's AS.
    pub src_as: u32,
    /// The source's peer AS.
    pub src_peer_as: u32,
    /// The destination's AS (the last of the AS path), if the path has one.
    pub dst_as: Option<u32>,
    /// The destination's peer AS (the first of the AS path), if the path has one.
    pub dst_peer_as: Option<u32>,
    /// Local preference.
    pub local_pref: u32,
}

/// What a flow sample's extended switch (1001), router (1002) and gateway (1003) records say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extended {
    /// Extended switch: VLANs and priorities.
    pub switch: Option<ExtendedSwitch>,
    /// Extended router: next hop and prefix lengths.
    pub router: Option<ExtendedRouter>,
    /// Extended gateway.
    pub gateway: Option<Gateway>,
}

impl Extended {
    /// Reads the extended records among a sample's `records`.
    pub fn from_records(records: Records<'_>) -> Result<Extended> {
        let mut e = Extended::default();
        for record in records {
            let record = record?;
            match (record.enterprise, record.format) {
                (0, flow_format::EXTENDED_SWITCH) => e.switch = Some(ExtendedSwitch::parse(record.data)?),
                (0, flow_format::EXTENDED_ROUTER) => e.router = Some(ExtendedRouter::parse(record.data)?),
                (0, flow_format::EXTENDED_GATEWAY) => {
                    let g = ExtendedGateway::parse(record.data)?;
                    // The path's first AS (the destination's peer) and last (the destination),
                    // read without collecting the path.
                    let mut path = g.path_segments().flat_map(|(_, numbers)| numbers);
                    let first = path.next();
                    let last = path.last().or(first);
                    e.gateway = Some(Gateway {
                        next_hop: g.next_hop,
                        as_number: g.as_number,
                        src_as: g.src_as,
                        src_peer_as: g.src_peer_as,
                        dst_as: last,
                        dst_peer_as: first,
                        local_pref: g.local_pref,
                    });
                }
                _ => {}
            }
        }
        Ok(e)
    }
}

/// Where a sampled packet came from: the agent, the sample's data source and interfaces, its
/// sampling rate and what its extended records say (the flow language's `agent`,
/// `inputifindex`, `vlansource`, `bgpas`, ... keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provenance {
    /// The agent that sent the datagram.
    pub agent: Address,
    /// The sub-agent that sent it.
    pub sub_agent_id: u32,
    /// The datagram's sequence number (per sub-agent).
    pub datagram_sequence: u32,
    /// The sample's data source index (an ifIndex for interface sources).
    pub source_index: u32,
    /// The input interface.
    pub input: Interface,
    /// The output interface.
    pub output: Interface,
    /// 1 in this many packets was sampled.
    pub sampling_rate: u32,
    /// The extended records' facts.
    pub extended: Extended,
}

/// Ethernet interface counters (counter record 2, the dot3Stats of RFC 2358).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetCounters {
    /// Alignment errors.
    pub alignment_errors: u32,
    /// FCS errors.
    pub fcs_errors: u32,
    /// Frames sent after exactly one collision.
    pub single_collision_frames: u32,
    /// Frames sent after more than one collision.
    pub multiple_collision_frames: u32,
    /// SQE test errors.
    pub sqe_test_errors: u32,
    /// Deferred transmissions.
    pub deferred_transmissions: u32,
    /// Late collisions.
    pub late_collisions: u32,
    /// Excessive collisions.
    pub excessive_collisions: u32,
    /// Internal MAC transmit errors.
    pub internal_mac_transmit_errors: u32,
    /// Carrier sense errors.
    pub carrier_sense_errors: u32,
    /// Frames too long.
    pub frame_too_longs: u32,
    /// Internal MAC receive errors.
    pub internal_mac_receive_errors: u32,
    /// Symbol errors.
    pub symbol_errors: u32,
}

impl EthernetCounters {
    /// Reads Ethernet interface counters.
    pub fn parse(d: &[u8]) -> Result<EthernetCounters> {
        need(d, 52)?;
        let w = |i: usize| be32(d, 4 * i);
        Ok(EthernetCounters {
            alignment_errors: w(0),
            fcs_errors: w(1),
            single_collision_frames: w(2),
            multiple_collision_frames: w(3),
            sqe_test_errors: w(4),
            deferred_transmissions: w(5),
            late_collisions: w(6),
            excessive_collisions: w(7),
            internal_mac_transmit_errors: w(8),
            carrier_sense_errors: w(9),
            frame_too_longs: w(10),
            internal_mac_receive_errors: w(11),
            symbol_errors: w(12),
        })
    }
}

/// A sampled IPv4 or IPv6 header (flow records 3 and 4, and the IP tunnel records
/// 1023-1026 that describe the outer header a tunnel adds or removes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampledIp {
    /// Length of the IP packet.
    pub length: u32,
    /// IP protocol.
    pub protocol: u32,
    /// Source address.
    pub source: Address,
    /// Destination address.
    pub destination: Address,
    /// Source port (TCP/UDP).
    pub src_port: u32,
    /// Destination port (TCP/UDP).
    pub dst_port: u32,
    /// TCP flags.
    pub tcp_flags: u32,
    /// IPv4 type of service, or IPv6 priority.
    pub tos: u32,
}

impl SampledIp {
    /// Reads a sampled IPv4 (`ipv6` false) or IPv6 record.
    pub fn parse(d: &[u8], ipv6: bool) -> Result<SampledIp> {
        let length = word(d, 0)?;
        let protocol = word(d, 4)?;
        let (source, destination, at) = if ipv6 {
            need(d, 40)?;
            (Address::V6(Ipv6Addr::from_bytes(&d[8..])), Address::V6(Ipv6Addr::from_bytes(&d[24..])), 40)
        } else {
            need(d, 16)?;
            (Address::V4(Ipv4Addr::from_bytes(&d[8..])), Address::V4(Ipv4Addr::from_bytes(&d[12..])), 16)
        };
        Ok(SampledIp {
            length,
            protocol,
            source,
            destination,
            src_port: word(d, at)?,
            dst_port: word(d, at + 4)?,
            tcp_flags: word(d, at + 8)?,
            tos: word(d, at + 12)?,
        })
    }
}

/// What a tunnel record (sflow_tunnels.txt) says about a sampled packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelRecord {
    /// The outer IP header a tunnel adds (egress) or removes (ingress).
    Ip {
        /// True for ingress (decapsulation), false for egress (encapsulation).
        ingress: bool,
        /// The outer header.
        outer: SampledIp,
    },
    /// Where the inner header starts in the sampled header.
    InnerOffset {
        /// True for ingress.
        ingress: bool,
        /// Byte offset of the inner header.
        offset: u32,
    },
    /// The VNI of the tunnel.
    Vni {
        /// True for ingress.
        ingress: bool,
        /// The VNI.
        vni: u32,
    },
}

impl TunnelRecord {
    /// Reads a flow record of format 1023-1030; `None` for other formats.
    pub fn parse(format: u32, d: &[u8]) -> Option<Result<TunnelRecord>> {
        use flow_format::*;
        let ingress = format % 2 == 0;
        Some(match format {
            IPV4_TUNNEL_EGRESS | IPV4_TUNNEL_INGRESS => {
                SampledIp::parse(d, false).map(|outer| TunnelRecord::Ip { ingress, outer })
            }
            IPV6_TUNNEL_EGRESS | IPV6_TUNNEL_INGRESS => {
                SampledIp::parse(d, true).map(|outer| TunnelRecord::Ip { ingress, outer })
            }
            DECAP_EGRESS | DECAP_INGRESS => {
                word(d, 0).map(|offset| TunnelRecord::InnerOffset { ingress, offset })
            }
            VNI_EGRESS | VNI_INGRESS => word(d, 0).map(|vni| TunnelRecord::Vni { ingress, vni }),
            _ => return None,
        })
    }
}

/// A discarded-packet sample (sflow_drops.txt).
#[derive(Debug, Clone)]
pub struct DiscardSample<'a> {
    /// Sample sequence number.
    pub sequence: u32,
    /// Data source type.
    pub source_id_type: u32,
    /// Data source index.
    pub source_id_index: u32,
    /// Discards lost for lack of resources.
    pub drops: u32,
    /// Input interface index.
    pub input: u32,
    /// Output interface index.
    pub output: u32,
    /// Why the packet was dropped (sflow_drops.txt reason codes).
    pub reason: u32,
    /// The flow records (e.g. a sampled header of the dropped packet).
    pub records: Records<'a>,
}

impl<'a> DiscardSample<'a> {
    /// Reads a discard sample.
    pub fn parse(d: &'a [u8]) -> Result<DiscardSample<'a>> {
        let n = word(d, 32)?;
        Ok(DiscardSample {
            sequence: word(d, 0)?,
            source_id_type: word(d, 4)?,
            source_id_index: word(d, 8)?,
            drops: word(d, 12)?,
            input: word(d, 16)?,
            output: word(d, 20)?,
            reason: word(d, 24)?,
            records: Records { data: &d[36..], remaining: n },
        })
    }
}

/// Generic interface counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfCounters {
    /// ifIndex.
    pub index: u32,
    /// ifType.
    pub if_type: u32,
    /// ifSpeed in bits per second.
    pub speed: u64,
    /// 0 unknown, 1 full duplex, 2 half, 3 in, 4 out.
    pub direction: u32,
    /// Bit 0 admin up, bit 1 operationally up.
    pub status: u32,
    /// ifInOctets.
    pub in_octets: u64,
    /// ifInUcastPkts.
    pub in_unicast: u32,
    /// ifInMulticastPkts.
    pub in_multicast: u32,
    /// ifInBroadcastPkts.
    pub in_broadcast: u32,
    /// ifInDiscards.
    pub in_discards: u32,
    /// ifInErrors.
    pub in_errors: u32,
    /// ifInUnknownProtos.
    pub in_unknown_protos: u32,
    /// ifOutOctets.
    pub out_octets: u64,
    /// ifOutUcastPkts.
    pub out_unicast: u32,
    /// ifOutMulticastPkts.
    pub out_multicast: u32,
    /// ifOutBroadcastPkts.
    pub out_broadcast: u32,
    /// ifOutDiscards.
    pub out_discards: u32,
    /// ifOutErrors.
    pub out_errors: u32,
    /// ifPromiscuousMode.
    pub promiscuous: u32,
}

impl IfCounters {
    /// Reads a generic interface counters record.
    pub fn parse(d: &[u8]) -> Result<IfCounters> {
        need(d, 88)?;
        let w = |at: usize| be32(d, at);
        let l = |at: usize| (u64::from(be32(d, at)) << 32) | u64::from(be32(d, at + 4));
        Ok(IfCounters {
            index: w(0),
            if_type: w(4),
            speed: l(8),
            direction: w(16),
            status: w(20),
            in_octets: l(24),
            in_unicast: w(32),
            in_multicast: w(36),
            in_broadcast: w(40),
            in_discards: w(44),
            in_errors: w(48),
            in_unknown_protos: w(52),
            out_octets: l(56),
            out_unicast: w(64),
            out_multicast: w(68),
            out_broadcast: w(72),
            out_discards: w(76),
            out_errors: w(80),
            promiscuous: w(84),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn words(ws: &[u32]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn flow_sample_with_header() {
        // Datagram: v5, IPv4 agent 192.0.2.2, sub 1, seq 7, uptime 1000, 1 sample.
        let mut d = words(&[5, 1, 0xc000_0202, 1, 7, 1000, 1]);
        let header = [0xaau8; 6];
        let rec = [words(&[1, 64, 4, 6]), header.to_vec(), std::vec![0, 0]].concat();
        // Compact flow sample: seq 3, source 0:5, 1 in 256, pool, drops, in 5, out 6, 1 record.
        let sample = [words(&[3, 5, 256, 25600, 0, 5, 6, 1]), words(&[1, rec.len() as u32]), rec].concat();
        d.extend(words(&[1, sample.len() as u32]));
        d.extend(sample);
        let dg = Datagram::parse(&d).unwrap();
        assert_eq!(
            (dg.agent, dg.sub_agent_id, dg.sequence, dg.num_samples),
            (Address::V4(Ipv4Addr([192, 0, 2, 2])), 1, 7, 1)
        );
        let s = dg.samples().next().unwrap().unwrap();
        assert_eq!((s.enterprise, s.format), (0, sample_format::FLOW));
        let mut f = FlowSample::parse(s.data, false).unwrap();
        assert_eq!(
            (f.sequence, f.source_id_index, f.sampling_rate, f.input, f.output),
            (3, 5, 256, Interface::Index(5), Interface::Index(6))
        );
        let r = f.records.next().unwrap().unwrap();
        let h = SampledHeader::parse(r.data).unwrap();
        assert_eq!((h.protocol, h.frame_length, h.stripped, h.header), (1, 64, 4, &header[..]));
        assert!(f.records.next().is_none());
    }

    #[test]
    fn tunnel_records_and_discards() {
        let outer = words(&[120, 47, 0x0a00_0001, 0x0a00_0002, 0, 0, 0, 0]);
        let r = TunnelRecord::parse(flow_format::IPV4_TUNNEL_INGRESS, &outer).unwrap().unwrap();
        let TunnelRecord::Ip { ingress: true, outer } = r else { panic!("{r:?}") };
        assert_eq!((outer.protocol, outer.source), (47, Address::V4(Ipv4Addr([10, 0, 0, 1]))));
        assert_eq!(
            TunnelRecord::parse(flow_format::VNI_EGRESS, &words(&[42])),
            Some(Ok(TunnelRecord::Vni { ingress: false, vni: 42 }))
        );
        assert_eq!(
            TunnelRecord::parse(flow_format::DECAP_INGRESS, &words(&[50])),
            Some(Ok(TunnelRecord::InnerOffset { ingress: true, offset: 50 }))
        );
        assert_eq!(TunnelRecord::parse(flow_format::DECAP_INGRESS, &[0, 0]), Some(Err(Error::Truncated)));
        assert!(TunnelRecord::parse(flow_format::EXTENDED_SWITCH, &[]).is_none());
        let d = words(&[9, 0, 3, 0, 4, 5, 259, 0, 0]);
        let s = DiscardSample::parse(&d).unwrap();
        assert_eq!((s.sequence, s.source_id_index, s.input, s.output, s.reason), (9, 3, 4, 5, 259));
        assert!(DiscardSample::parse(&d[..30]).is_err());
    }

    #[test]
    fn truncation_is_an_error_never_a_panic() {
        // IPv6 agent ::1, one sample announced, 1000 bytes long, none there.
        let d = words(&[5, 2, 0, 0, 0, 1, 1, 2, 3, 1, 1, 1000]);
        for n in 0..d.len() {
            let _ = Datagram::parse(&d[..n]).map(|dg| dg.samples().count());
        }
        let dg = Datagram::parse(&d).unwrap();
        assert!(matches!(dg.agent, Address::V6(_)));
        // One sample announced whose length runs past the end.
        assert_eq!(dg.samples().next(), Some(Err(Error::Truncated)));
    }

    #[test]
    fn router_gateway_ethernet_records() {
        let mut r = [0u8; 20];
        r[3] = 1;
        r[4..8].copy_from_slice(&[192, 0, 2, 1]);
        r[11] = 24;
        r[15] = 16;
        let rt = ExtendedRouter::parse(&r[..16]).unwrap();
        assert_eq!(
            (rt.next_hop, rt.src_mask_len, rt.dst_mask_len),
            (Address::V4(Ipv4Addr([192, 0, 2, 1])), 24, 16)
        );
        assert_eq!(ExtendedRouter::parse(&r[..12]), Err(Error::Truncated));
        // Gateway: next hop, AS 65000, src AS 65001, peer 65002, one sequence of two ASes,
        // one community, local pref 100.
        let words: [u32; 14] =
            [1, 0xc000_0201, 65000, 65001, 65002, 1, 2, 2, 64512, 64513, 1, 0xfde8_0001, 100, 0];
        let mut g: [u8; 56] = [0; 56];
        for (i, w) in words.iter().enumerate() {
            g[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
        }
        let gw = ExtendedGateway::parse(&g[..52]).unwrap();
        assert_eq!((gw.as_number, gw.src_as, gw.src_peer_as, gw.local_pref), (65000, 65001, 65002, 100));
        let segs: [(u32, [u32; 2]); 1] = [(AS_SEQUENCE, [64512, 64513])];
        for ((kind, numbers), (want_kind, want)) in gw.path_segments().zip(segs) {
            assert_eq!(kind, want_kind);
            assert!(numbers.eq(want));
        }
        assert!(gw.communities().eq([0xfde8_0001]));
        // A segment count or length that runs past the record is refused, not read.
        let mut bad = g;
        bad[31] = 200;
        assert!(ExtendedGateway::parse(&bad[..52]).is_err());
        for n in 0..52 {
            assert!(ExtendedGateway::parse(&g[..n]).is_err());
        }
        let mut e = [0u8; 24];
        e[3] = 64;
        e[4..10].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        e[12..18].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        e[22] = 0x08;
        let eth = SampledEthernet::parse(&e).unwrap();
        assert_eq!((eth.length, eth.ethertype, eth.source), (64, 0x0800, MacAddr([2, 0, 0, 0, 0, 1])));
        let mut c = [0u8; 52];
        c[7] = 9;
        assert_eq!(EthernetCounters::parse(&c).unwrap().fcs_errors, 9);
        assert!(EthernetCounters::parse(&c[..48]).is_err());
    }
}

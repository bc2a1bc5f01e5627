//! Reassembly of outer IP fragments. Mirror traffic that outgrew the path MTU arrives as
//! fragments of the outer (underlay) IPv4 or IPv6 packet; they are joined before the tunnel
//! is stripped. Memory is bounded (datagrams in flight, bytes held) and incomplete datagrams
//! expire; everything reassembled, expired or refused is counted.
use dissect::stack::FLAG_FRAGMENT;
use dissect::{Decoded, Proto};
use std::collections::HashMap;

/// Limits of the reassembler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Datagrams being reassembled at once.
    pub max_datagrams: usize,
    /// Bytes held across all of them.
    pub max_bytes: usize,
    /// Capture-time nanoseconds after which an incomplete datagram is dropped.
    pub timeout_nanos: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_datagrams: 4096, max_bytes: 16 << 20, timeout_nanos: 30_000_000_000 }
    }
}

/// What the reassembler did, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyCounters {
    /// Fragments taken in.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped incomplete after the timeout (or at the end of input).
    pub expired: u64,
    /// Fragments refused: over a limit, overlapping with different bytes, cut by the
    /// capture, or larger than an IP datagram can be.
    pub refused: u64,
}

impl ReassemblyCounters {
    /// Adds another reassembler's counts.
    pub fn merge(&mut self, other: &ReassemblyCounters) {
        self.fragments += other.fragments;
        self.reassembled += other.reassembled;
        self.expired += other.expired;
        self.refused += other.refused;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: [u8; 16],
    dst: [u8; 16],
    id: u32,
    proto: u8,
}

#[derive(Debug, Default)]
struct Pending {
    first_seen: u64,
    /// Link and IP header bytes of the fragment at offset 0, without any IPv6 fragment header.
    prefix: Vec<u8>,
    /// Offset of the IP header in `prefix`.
    ip_at: usize,
    ipv6: bool,
    pieces: Vec<(u32, Vec<u8>)>,
    total: Option<u32>,
    bytes: usize,
}

/// What to do with a frame offered to the reassembler.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer<'a> {
    /// Not an outer fragment: handle the frame as it is.
    Pass,
    /// Held until its datagram is complete.
    Held,
    /// This fragment completed a datagram: the whole frame.
    Complete(&'a [u8]),
    /// Refused and counted.
    Refused,
}

/// Joins outer IP fragments.
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: Limits,
    pending: HashMap<Key, Pending>,
    held_bytes: usize,
    out: Vec<u8>,
    offers: u64,
    /// Counts so far.
    pub counters: ReassemblyCounters,
}

impl Reassembler {
    /// A reassembler with these limits.
    pub fn new(limits: Limits) -> Reassembler {
        Reassembler { limits, ..Reassembler::default() }
    }

    /// Datagrams being reassembled.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Offers a decoded frame captured at `ts`.
    pub fn offer(&mut self, decoded: Decoded<'_>, ts: u64) -> Offer<'_> {
        let (frame, stack) = (decoded.frame(), decoded.stack());
        let Some(ip) = stack.layers().iter().find(|l| matches!(l.proto, Proto::Ipv4 | Proto::Ipv6)) else {
            return Offer::Pass;
        };
        if ip.flags & FLAG_FRAGMENT == 0 {
            return Offer::Pass;
        }
        self.counters.fragments += 1;
        self.offers += 1;
        if self.offers % 256 == 0 {
            self.expire(ts);
        }
        let at = ip.offset as usize;
        let Some(f) = parse_fragment(frame, at, ip.proto == Proto::Ipv6) else {
            self.counters.refused += 1;
            return Offer::Refused;
        };
        let key = f.key;
        if !self.pending.contains_key(&key)
            && (self.pending.len() >= self.limits.max_datagrams
                || self.held_bytes + f.payload.len() > self.limits.max_bytes)
        {
            self.expire(ts);
            if self.pending.len() >= self.limits.max_datagrams
                || self.held_bytes + f.payload.len() > self.limits.max_bytes
            {
                self.counters.refused += 1;
                return Offer::Refused;
            }
        }
        let end = f.offset as usize + f.payload.len();
        let p = self.pending.entry(key).or_insert_with(|| Pending { first_seen: ts, ..Pending::default() });
        let conflict = end > 65_535
            || p.pieces.iter().any(|(o, d)| {
                let (a, b) = (*o as usize, *o as usize + d.len());
                let overlap = a < end && (f.offset as usize) < b;
                overlap && (a != f.offset as usize || d.as_slice() != f.payload)
            })
            || (f.last && p.total.is_some_and(|t| t as usize != end));
        if conflict {
            let gone = self.pending.remove(&key).map_or(0, |p| p.bytes);
            self.held_bytes -= gone;
            self.counters.refused += 1;
            return Offer::Refused;
        }
        if p.pieces.iter().any(|(o, _)| *o == f.offset) {
            return Offer::Held;
        }
        if f.offset == 0 {
            p.prefix.clear();
            p.prefix.extend_from_slice(frame.get(..f.header_end).unwrap_or(&[]));
            if f.ipv6 {
                // Drop the fragment header: its predecessor now names what followed it.
                p.prefix.truncate(f.frag_header_at);
                match f.named_by {
                    Some(ext) => {
                        if let Some(e) = p.prefix.get_mut(ext..) {
                            wire::ipv6::set_ext_next_header(e, f.next_header);
                        }
                    }
                    None => {
                        let ip = p.prefix.get_mut(at..).and_then(|b| wire::ipv6::Packet::new_checked(b).ok());
                        if let Some(mut ip) = ip {
                            ip.set_next_header(f.next_header);
                        }
                    }
                }
            }
            p.ip_at = at;
            p.ipv6 = f.ipv6;
        }
        if f.last {
            p.total = Some(end as u32);
        }
        p.pieces.push((f.offset, f.payload.to_vec()));
        p.bytes += f.payload.len();
        self.held_bytes += f.payload.len();
        if !complete(p) {
            return Offer::Held;
        }
        let Some(p) = self.pending.remove(&key) else { return Offer::Held };
        self.held_bytes -= p.bytes;
        self.counters.reassembled += 1;
        build(&mut self.out, p);
        Offer::Complete(&self.out)
    }

    /// Drops datagrams older than the timeout at capture time `now`, counting them.
    pub fn expire(&mut self, now: u64) {
        let timeout = self.limits.timeout_nanos;
        let before = self.pending.len();
        let mut freed = 0;
        self.pending.retain(|_, p| {
            let keep = now.saturating_sub(p.first_seen) <= timeout;
            if !keep {
                freed += p.bytes;
            }
            keep
        });
        self.held_bytes -= freed;
        self.counters.expired += (before - self.pending.len()) as u64;
    }

    /// Drops everything still incomplete (end of input), counting it as expired.
    pub fn finish(&mut self) {
        self.counters.expired += self.pending.len() as u64;
        self.pending.clear();
        self.held_bytes = 0;
    }
}

struct Fragment<'a> {
    key: Key,
    offset: u32,
    last: bool,
    payload: &'a [u8],
    /// End of the IP header (IPv6: after the fragment header) in the frame.
    header_end: usize,
    ipv6: bool,
    /// IPv6: where the fragment header starts, and which header names it (`None`: the fixed
    /// header; else the offset of the extension header before it), both in the frame.
    frag_header_at: usize,
    named_by: Option<usize>,
    next_header: u8,
}

fn parse_fragment(frame: &[u8], at: usize, ipv6: bool) -> Option<Fragment<'_>> {
    let ip = frame.get(at..)?;
    if !ipv6 {
        let p = wire::ipv4::Packet::new_checked(ip).ok()?;
        let hl = p.header_len();
        let total = usize::from(p.total_len());
        let payload = ip.get(hl..total)?;
        let mut key = Key { src: [0; 16], dst: [0; 16], id: u32::from(p.ident()), proto: p.protocol() };
        key.src[..4].copy_from_slice(&p.src_addr().0);
        key.dst[..4].copy_from_slice(&p.dst_addr().0);
        return Some(Fragment {
            key,
            offset: u32::from(p.frag_offset()) * 8,
            last: !p.more_frags(),
            payload,
            header_end: at + hl,
            ipv6: false,
            frag_header_at: 0,
            named_by: None,
            next_header: 0,
        });
    }
    let p = wire::ipv6::Packet::new_checked(ip).ok()?;
    let end = wire::ipv6::HEADER_LEN + usize::from(p.payload_len());
    // Walk the extension headers to the fragment header.
    let mut nh = p.next_header();
    let mut named_by = None;
    let mut pos = wire::ipv6::HEADER_LEN;
    loop {
        if !wire::ipv6::is_extension_header(nh) {
            return None;
        }
        let e = wire::ipv6::ExtHeader::parse(nh, ip.get(pos..)?).ok()?;
        if let Some(f) = e.fragment {
            let key = Key { src: p.src_addr().0, dst: p.dst_addr().0, id: f.ident, proto: e.next_header };
            return Some(Fragment {
                key,
                offset: u32::from(f.offset) * 8,
                last: !f.more,
                payload: ip.get(pos + e.len..end)?,
                header_end: at + pos + e.len,
                ipv6: true,
                frag_header_at: at + pos,
                named_by: named_by.map(|n| at + n),
                next_header: e.next_header,
            });
        }
        named_by = Some(pos);
        nh = e.next_header;
        pos += e.len;
    }
}

fn complete(p: &mut Pending) -> bool {
    let Some(total) = p.total else { return false };
    if p.prefix.is_empty() {
        return false;
    }
    p.pieces.sort_by_key(|(o, _)| *o);
    let mut covered = 0u32;
    for (o, d) in &p.pieces {
        if *o > covered {
            return false;
        }
        covered = covered.max(o + d.len() as u32);
    }
    covered >= total
}

/// Writes the reassembled frame: the first fragment's headers with lengths and fragment
/// fields fixed, then the joined payload.
fn build(out: &mut Vec<u8>, p: Pending) {
    out.clear();
    out.extend_from_slice(&p.prefix);
    let payload_start = out.len();
    for (o, d) in &p.pieces {
        let at = payload_start + *o as usize;
        if out.len() < at + d.len() {
            out.resize(at + d.len(), 0);
        }
        out[at..at + d.len()].copy_from_slice(d);
    }
    let payload_len = out.len() - payload_start;
    let Some(ip) = out.get_mut(p.ip_at..) else { return };
    if p.ipv6 {
        let headers = payload_start - p.ip_at - wire::ipv6::HEADER_LEN;
        if let Ok(mut h) = wire::ipv6::Packet::new_checked(ip) {
            h.set_payload_len((headers + payload_len).min(65_535) as u16);
        }
    } else if let Ok(mut h) = wire::ipv4::Packet::new_checked(ip) {
        let total = (h.header_len() + payload_len).min(65_535) as u16;
        h.set_total_len(total);
        h.clear_fragment();
        h.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use craft::{build as craft_build, Header};
    use dissect::Stack;
    use dissect::{Dissector, LinkType};

    /// A VXLAN frame cut into IPv4 fragments of at most `mtu` payload bytes.
    fn fragments(mtu: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
        let whole = craft_build(&[
            Header::eth(),
            Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
            Header::Udp { src: 1, dst: 4789 },
            Header::Vxlan { vni: 9 },
            Header::eth(),
            Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2]),
            Header::Payload(vec![7; 1400]),
        ]);
        let parts = craft::fragment_ipv4(&whole, mtu);
        (whole, parts)
    }

    #[test]
    fn joins_out_of_order_fragments() {
        let (whole, mut frags) = fragments(600);
        assert_eq!(frags.len(), 3);
        frags.swap(0, 2);
        let mut d = Dissector::default();
        let mut stack = Stack::new();
        let mut r = Reassembler::new(Limits::default());
        let mut done = None;
        for f in &frags {
            if let Offer::Complete(b) = r.offer(d.dissect(f, LinkType::ETHERNET, &mut stack), 1) {
                done = Some(b.to_vec());
            }
        }
        let done = done.expect("reassembled");
        assert_eq!(done, whole);
        assert_eq!(r.counters, ReassemblyCounters { fragments: 3, reassembled: 1, expired: 0, refused: 0 });
    }

    #[test]
    fn joins_ipv6_fragments() {
        let v6 = |last: u8| {
            let mut a = [0u8; 16];
            a[0] = 0x20;
            a[1] = 0x01;
            a[15] = last;
            a
        };
        let whole = craft_build(&[
            Header::eth(),
            Header::ipv6(v6(1), v6(2)),
            Header::Udp { src: 1, dst: 6081 },
            Header::Geneve { vni: 3, options: vec![], critical: false },
            Header::eth(),
            Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2]),
            Header::Payload(vec![5; 1300]),
        ]);
        let mut parts = craft::fragment_ipv6(&whole, 512, 77);
        assert_eq!(parts.len(), 3);
        parts.reverse();
        let mut d = Dissector::default();
        let mut stack = Stack::new();
        let mut r = Reassembler::new(Limits::default());
        let mut done = None;
        for f in &parts {
            if let Offer::Complete(b) = r.offer(d.dissect(f, LinkType::ETHERNET, &mut stack), 1) {
                done = Some(b.to_vec());
            }
        }
        assert_eq!(done.expect("reassembled"), whole);
        assert_eq!(r.counters.reassembled, 1);
    }

    #[test]
    fn incomplete_datagrams_expire_and_limits_refuse() {
        let (_, frags) = fragments(600);
        let mut d = Dissector::default();
        let mut stack = Stack::new();
        let mut r = Reassembler::new(Limits { max_datagrams: 1, max_bytes: 1 << 20, timeout_nanos: 1_000 });
        assert_eq!(r.offer(d.dissect(&frags[0], LinkType::ETHERNET, &mut stack), 0), Offer::Held);
        // Another datagram while the first is in flight is over the limit.
        let mut other = frags[1].clone();
        other[19] ^= 1;
        d.dissect(&other, LinkType::ETHERNET, &mut stack);
        assert_eq!(r.offer(stack.decoded(&other).unwrap(), 10), Offer::Refused);
        // Once the first has expired there is room again.
        assert!(matches!(r.offer(stack.decoded(&other).unwrap(), 5_000), Offer::Held));
        r.finish();
        assert_eq!(r.counters.expired, 2);
        assert_eq!(r.counters.refused, 1);
    }
}

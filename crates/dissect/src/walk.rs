//! The walker: decodes one frame, outermost header first, into a [`Stack`]. Each protocol
//! consumes its own header and names what follows through the [`Table`]; tunnels need no
//! special case beyond the depth bound. Nothing here allocates or reads past the captured
//! bytes.
use crate::anomaly::{Anomaly, Counters, Guess};
use crate::field::Decoded;
use crate::proto::Proto;
use crate::stack::{Layer, Stack, FLAG_FRAGMENT, FLAG_GUESSED, FLAG_IP_IN_IP, FLAG_MPLS_IN_UDP, FLAG_NVGRE};

/// The previous layer's protocol and header bytes, for decoders whose meaning depends on it.
type Prev<'a> = Option<(Proto, &'a [u8])>;
use crate::table::{Config, Lookup, MplsPayload, Next, NvgreKey, Table};
use wire::Error;

/// Link-layer header types of capture files (the pcap LINKTYPE_ values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet.
    pub const ETHERNET: LinkType = LinkType(1);
    /// PPP.
    pub const PPP: LinkType = LinkType(9);
    /// Raw IP (IPv4 or IPv6 by version).
    pub const RAW: LinkType = LinkType(101);
    /// Linux cooked v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// An MPLS label stack (also sFlow's MPLS header protocol).
    pub const MPLS: LinkType = LinkType(219);

    /// True for link types the decoder reads.
    pub fn is_supported(self) -> bool {
        matches!(self.0, 0 | 1 | 9 | 12 | 14 | 50 | 101 | 113 | 219 | 228 | 229 | 276)
    }
}

/// One decoded header: what it is, how long, and what follows. Kept to 12 bytes so that it
/// travels in registers on the hot path.
#[derive(Clone, Copy)]
struct Step {
    len: u16,
    /// Declared length of this header plus its payload, when the header says (IP, UDP);
    /// `NO_DECLARED` otherwise.
    declared: u32,
    proto: Proto,
    flags: u8,
    next: Option<Next>,
    guess: Option<Guess>,
    /// An anomaly to record once the layer is pushed.
    note: Option<Anomaly>,
    /// Push this layer, record this anomaly, and stop.
    stop: Option<Anomaly>,
}

const NO_DECLARED: u32 = u32::MAX;
const _: () = assert!(core::mem::size_of::<Result<Step, Anomaly>>() <= 12);

impl Step {
    fn new(proto: Proto, len: usize, next: Option<Next>) -> Step {
        // Headers are far below 64 KiB; a larger claimed length is clamped and then fails the
        // bounds check of the next header.
        Step {
            len: len.min(usize::from(u16::MAX)) as u16,
            declared: NO_DECLARED,
            proto,
            flags: 0,
            next,
            guess: None,
            note: None,
            stop: None,
        }
    }
    /// True when the step carries a guess, an anomaly or a stop (rarely).
    #[inline(always)]
    fn rare(&self) -> bool {
        // One comparison of the three one-byte options, which are `None` as zero.
        let packed = u32::from(opt_byte(self.guess.map(|g| g as u8)))
            | u32::from(opt_byte(self.note.map(|a| a as u8))) << 8
            | u32::from(opt_byte(self.stop.map(|a| a as u8))) << 16;
        packed != 0
    }

    /// This layer is the last: record `a` after it.
    fn stop(self, a: Anomaly) -> Step {
        Step { next: None, stop: Some(a), ..self }
    }
}

/// An optional small enum as one byte: 0 for none, the value plus one otherwise.
#[inline(always)]
fn opt_byte(v: Option<u8>) -> u8 {
    v.map_or(0, |x| x.wrapping_add(1))
}

impl From<Error> for Anomaly {
    fn from(e: Error) -> Anomaly {
        match e {
            Error::Truncated => Anomaly::Truncated,
            Error::Malformed => Anomaly::Malformed,
        }
    }
}

/// A decoded header, or the anomaly that stops decoding before any layer is pushed.
type Res = Result<Step, Anomaly>;

fn malformed(e: Error, a: Anomaly) -> Anomaly {
    match e {
        Error::Truncated => Anomaly::Truncated,
        Error::Malformed => a,
    }
}

/// A frame decoder with its dispatch table and its own counters (one per worker thread).
#[derive(Debug, Clone)]
pub struct Dissector {
    table: Table,
    counters: Counters,
    /// The depth bound, copied out of the configuration for the hot path.
    max_tunnels: usize,
    /// True when configuration adds or replaces EtherType entries.
    ethertype_overrides: bool,
}

impl Default for Dissector {
    fn default() -> Dissector {
        Dissector::new(Config::default())
    }
}

impl Dissector {
    /// A dissector with the given configuration.
    pub fn new(config: Config) -> Dissector {
        let max_tunnels = config.max_tunnels;
        let ethertype_overrides = !config.ethertypes.is_empty();
        Dissector {
            table: Table::new(config),
            counters: Counters::default(),
            max_tunnels,
            ethertype_overrides,
        }
    }
    /// The dispatch table.
    pub fn table(&self) -> &Table {
        &self.table
    }
    /// Counts so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Decodes `frame` (captured bytes) of link type `link` into `stack`, which is cleared
    /// first. Never reads past `frame`; a frame that ends early is decoded as far as its
    /// bytes go and marked truncated.
    pub fn dissect<'a>(&mut self, frame: &'a [u8], link: LinkType, stack: &'a mut Stack) -> Decoded<'a> {
        stack.start(frame);
        self.counters.frames += 1;
        let first = match link.0 {
            1 => Some(Next::Ethernet),
            0 => self.null_family(frame, stack),
            9 | 50 => Some(Next::Ppp),
            12 | 14 | 101 => Some(Next::Ip),
            219 => Some(Next::Mpls),
            228 => Some(Next::Ipv4),
            229 => Some(Next::Ipv6),
            113 | 276 => self.cooked(frame, link, stack),
            _ => None,
        };
        let mut offset = stack.payload_offset();
        let mut end = frame.len();
        let mut next = first;
        while let Some(n) = next {
            // `end` never exceeds the frame: it starts at its length and only shrinks.
            let Some(data) = frame.get(offset..end) else { break };
            // Ethernet then a plain IPv4 header, the most common pair, in one step.
            if n == Next::Ethernet {
                if let Some((ip_next, total)) = self.fast_ethernet_ipv4(data) {
                    if !stack
                        .push(Layer { proto: Proto::Eth, flags: 0, offset: offset as u32, len: 14 }, false)
                        || !stack.push(
                            Layer { proto: Proto::Ipv4, flags: 0, offset: offset as u32 + 14, len: 20 },
                            false,
                        )
                    {
                        self.note(stack, Anomaly::TooManyLayers);
                        break;
                    }
                    end = end.min(offset + 14 + total);
                    offset += 34;
                    next = ip_next;
                    continue;
                }
            }
            match self.step(n, data, frame, stack) {
                Ok(step) => {
                    if !self.push(stack, step, offset) {
                        break;
                    }
                    if step.rare() {
                        if let Some(g) = step.guess {
                            self.counters.guesses[g as usize] += 1;
                        }
                        if let Some(a) = step.note {
                            self.note(stack, a);
                        }
                        if let Some(a) = step.stop {
                            self.note(stack, a);
                            break;
                        }
                    }
                    let len = step.len as usize;
                    if step.declared != NO_DECLARED {
                        end = end.min(offset + (step.declared as usize).max(len));
                    }
                    offset += len;
                    next = step.next;
                }
                Err(a) => {
                    self.note(stack, a);
                    break;
                }
            }
        }
        if !stack.anomalies().is_empty() {
            self.counters.frames_with_anomalies += 1;
        }
        Decoded { frame, stack }
    }

    fn note(&mut self, stack: &mut Stack, a: Anomaly) {
        self.counters.anomalies[a as usize] += 1;
        stack.note(a);
    }

    #[inline]
    fn push(&mut self, stack: &mut Stack, step: Step, offset: usize) -> bool {
        let layer = Layer { proto: step.proto, flags: step.flags, offset: offset as u32, len: step.len };
        let tunnel = layer.is_tunnel();
        if tunnel && stack.tunnels() >= self.max_tunnels {
            self.note(stack, Anomaly::DepthBound);
            return false;
        }
        if !stack.push(layer, tunnel) {
            self.note(stack, Anomaly::TooManyLayers);
            return false;
        }
        true
    }

    fn null_family(&mut self, frame: &[u8], stack: &mut Stack) -> Option<Next> {
        let Some(b) = frame.get(..4) else {
            self.note(stack, Anomaly::Truncated);
            return None;
        };
        let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let family = if le < 256 { le } else { be };
        stack.push(Layer { proto: Proto::Null, flags: 0, offset: 0, len: 4 }, false);
        match family {
            2 => Some(Next::Ipv4),
            24 | 28 | 30 => Some(Next::Ipv6),
            _ => None,
        }
    }

    fn cooked(&mut self, frame: &[u8], link: LinkType, stack: &mut Stack) -> Option<Next> {
        let h = if link == LinkType::LINUX_SLL {
            wire::sll::Header::parse_v1(frame)
        } else {
            wire::sll::Header::parse_v2(frame)
        };
        let Ok(h) = h else {
            self.note(stack, Anomaly::Truncated);
            return None;
        };
        stack.push(Layer { proto: Proto::Sll, flags: 0, offset: 0, len: h.len as u16 }, false);
        if h.arphrd == wire::sll::arphrd::IPGRE {
            return Some(Next::Gre);
        }
        match h.protocol {
            0x0004 => Some(Next::Llc),
            0x0001..=0x0003 => None,
            t => self.ethertype_next(t, stack),
        }
    }

    #[inline(always)]
    fn ethertype_next(&mut self, t: u16, stack: &mut Stack) -> Option<Next> {
        match self.table.ethertype(t) {
            Lookup::Next(Next::Leaf) => None,
            Lookup::Next(n) => Some(n),
            Lookup::Unknown => {
                self.note(stack, Anomaly::UnknownEthertype);
                None
            }
        }
    }

    #[inline(always)]
    fn step(&mut self, n: Next, data: &[u8], frame: &[u8], stack: &mut Stack) -> Res {
        match n {
            Next::Ethernet => self.ethernet(data, stack),
            Next::Ipv4 => self.ipv4(data),
            Next::Ipv6 => self.ipv6(data),
            Next::Ip => match data.first().map(|b| b >> 4) {
                Some(6) => self.ipv6(data),
                Some(_) => self.ipv4(data),
                None => Err(Anomaly::Truncated),
            },
            Next::Vlan => self.tag(Proto::Vlan, data, stack),
            Next::VnTag => self.tag(Proto::VnTag, data, stack),
            Next::ETag => self.tag(Proto::ETag, data, stack),
            Next::Arista => self.tag(Proto::Arista, data, stack),
            Next::CiscoMetadata => self.tag(Proto::CiscoMetadata, data, stack),
            Next::CiscoMetadataGre => self.tag(Proto::CiscoMetadataGre, data, stack),
            Next::Pbb => {
                wire::pbb::Packet::new_checked(data)?;
                Ok(Step::new(Proto::Pbb, wire::pbb::HEADER_LEN, Some(Next::Ethernet)))
            }
            Next::Trill => {
                let p = wire::trill::Packet::new_checked(data)
                    .map_err(|e| malformed(e, Anomaly::TrillBadVersion))?;
                Ok(Step::new(Proto::Trill, p.header_len(), Some(Next::Ethernet)))
            }
            Next::Mpls => self.mpls(data),
            Next::PwControlWord => {
                if data.len() < wire::mpls::HEADER_LEN {
                    return Err(Anomaly::Truncated);
                }
                Ok(Step::new(Proto::PwControlWord, wire::mpls::HEADER_LEN, Some(Next::Ethernet)))
            }
            Next::Pppoe => {
                wire::pppoe::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::PppoeBadHeader))?;
                let ppp = wire::ppp::Header::parse(&data[wire::pppoe::HEADER_LEN..])?;
                Ok(Step::new(Proto::Pppoe, wire::pppoe::HEADER_LEN + ppp.len, ppp_next(ppp.protocol)))
            }
            Next::Ppp => {
                let ppp = wire::ppp::Header::parse(data)?;
                Ok(Step::new(Proto::Ppp, ppp.len, ppp_next(ppp.protocol)))
            }
            Next::Arp => {
                let len = data.len().min(wire::arp::HEADER_LEN);
                if data.len() < wire::arp::FIXED_LEN {
                    return Err(Anomaly::Truncated);
                }
                Ok(Step::new(Proto::Arp, len, None))
            }
            Next::Nsh => {
                let p =
                    wire::nsh::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::NshBadHeader))?;
                let next = crate::table::next_protocol(p.next_protocol());
                Ok(Step::new(Proto::Nsh, p.header_len(), next))
            }
            Next::Erspan => {
                let prev = stack.layers().last().map(|l| (l.proto, l.bytes(frame)));
                self.erspan_by_gre(data, prev)
            }
            Next::Erspan3 => self.erspan(data),
            Next::Wccp => {
                let len = wire::wccp::redirect_header_len(data);
                if data.len() < len {
                    return Err(Anomaly::Truncated);
                }
                if len == 0 {
                    return self.ipv4(data);
                }
                Ok(Step::new(Proto::Wccp, len, Some(Next::Ipv4)))
            }
            Next::Wlan => {
                let p = wire::ieee80211::Packet::new_checked(data)?;
                let next = p.carries_llc().then_some(Next::Llc);
                Ok(Step::new(Proto::Wlan, p.header_len(), next))
            }
            Next::Llc => {
                let p = wire::llc::Packet::new_checked(data)?;
                if p.is_snap() && p.snap_oui() == 0 {
                    let next = self.ethertype_next(p.snap_ethertype(), stack);
                    return Ok(Step::new(Proto::Llc, wire::llc::SNAP_LEN, next));
                }
                Ok(Step::new(Proto::Llc, wire::llc::HEADER_LEN, None))
            }
            Next::Gre => self.gre(data, stack),
            Next::Udp => self.udp(data),
            Next::Tcp => match wire::tcp::Packet::new_checked(data) {
                Ok(p) => Ok(Step::new(Proto::Tcp, p.header_len().min(data.len()), None)),
                Err(Error::Truncated) => partial_ports(Proto::Tcp, data),
                Err(Error::Malformed) => Ok(Step::new(Proto::Tcp, 20, None).stop(Anomaly::TcpBadHeaderLen)),
            },
            Next::Sctp => {
                if data.len() < 12 {
                    return Err(Anomaly::Truncated);
                }
                Ok(Step::new(Proto::Sctp, 12, None))
            }
            Next::Icmp => {
                wire::icmp::Packet::new_checked(data)?;
                Ok(Step::new(Proto::Icmp, wire::icmp::HEADER_LEN, None))
            }
            Next::Icmp6 => {
                wire::icmpv6::Packet::new_checked(data)?;
                Ok(Step::new(Proto::Icmp6, wire::icmpv6::HEADER_LEN, None))
            }
            Next::Vxlan => {
                let p = wire::vxlan::Packet::new_checked(data)?;
                let step = Step::new(Proto::Vxlan, wire::vxlan::HEADER_LEN, Some(Next::Ethernet));
                if !p.vni_valid() {
                    self.note(stack, Anomaly::VxlanNoVni);
                } else if p.reserved_bits_set() {
                    self.note(stack, Anomaly::VxlanReservedBits);
                }
                Ok(step)
            }
            Next::VxlanGpe => {
                let p = wire::vxlan_gpe::Packet::new_checked(data)?;
                let next = crate::table::next_protocol(p.next_protocol());
                if next.is_none() {
                    self.note(stack, Anomaly::GpeUnknownNextProtocol);
                }
                Ok(Step::new(Proto::VxlanGpe, wire::vxlan_gpe::HEADER_LEN, next))
            }
            Next::Geneve => {
                let p = match wire::geneve::Packet::new_checked(data) {
                    Ok(p) => p,
                    Err(Error::Malformed) if data.first().is_some_and(|b| b >> 6 == 0) => {
                        return Err(Anomaly::GeneveBadOption)
                    }
                    Err(e) => return Err(malformed(e, Anomaly::GeneveBadVersion)),
                };
                if p.options().any(|o| o.is_critical()) {
                    self.note(stack, Anomaly::GeneveCriticalOption);
                }
                let next = self.ethertype_next(p.protocol(), stack);
                Ok(Step::new(Proto::Geneve, p.header_len(), next))
            }
            Next::GtpU => {
                let p =
                    wire::gtpu::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::GtpBadHeader))?;
                let len = p.header_len();
                let mut step = Step::new(Proto::GtpU, len, None);
                if p.msg_type() == wire::gtpu::G_PDU {
                    step.next = match data.get(len).map(|b| b >> 4) {
                        Some(4) => Some(Next::Ipv4),
                        Some(6) => Some(Next::Ipv6),
                        _ => None,
                    };
                    if step.next.is_some() {
                        step.guess = Some(Guess::GtpIp);
                        step.flags |= FLAG_GUESSED;
                    }
                }
                Ok(step)
            }
            Next::Teredo => {
                let ind = wire::teredo::Indicators::parse(data)
                    .map_err(|e| malformed(e, Anomaly::TeredoBadHeader))?;
                let mut step = Step::new(Proto::Teredo, ind.len, Some(Next::Ipv6));
                step.guess = Some(Guess::Teredo);
                Ok(step)
            }
            Next::Ayiya => {
                let p = wire::ayiya::Packet::new_checked(data)
                    .map_err(|e| malformed(e, Anomaly::AyiyaBadHeader))?;
                let next = match p.next_header() {
                    4 => Some(Next::Ipv4),
                    41 => Some(Next::Ipv6),
                    _ => None,
                };
                Ok(Step::new(Proto::Ayiya, p.header_len(), next))
            }
            Next::L2tpv3 => {
                let p = wire::l2tpv3::Packet::new_checked(data)?;
                if p.is_control() {
                    return Ok(Step::new(Proto::L2tpv3, wire::l2tpv3::SESSION_LEN, None));
                }
                let s = self.table.config.l2tpv3;
                let len =
                    wire::l2tpv3::SESSION_LEN + usize::from(s.cookie_len) + if s.sublayer { 4 } else { 0 };
                if data.len() < len {
                    return Err(Anomaly::Truncated);
                }
                let mut step = Step::new(Proto::L2tpv3, len, Some(Next::Ethernet));
                step.guess = Some(Guess::L2tpv3);
                Ok(step)
            }
            Next::Sflow => Ok(Step::new(Proto::Sflow, 0, None)),
            Next::Leaf => Err(Anomaly::UnknownEthertype),
        }
    }

    /// For an Ethernet frame carrying IPv4 without options, unfragmented, not IP-in-IP and
    /// with a sane total length: what follows the IPv4 header and that total length.
    #[inline(always)]
    fn fast_ethernet_ipv4(&self, data: &[u8]) -> Option<(Option<Next>, usize)> {
        let h = data.get(..34)?;
        if self.ethertype_overrides
            || h[12] != 0x08
            || h[13] != 0x00
            || h[14] != 0x45
            || h[20] & 0x3f != 0
            || h[21] != 0
        {
            return None;
        }
        let total = usize::from(u16::from_be_bytes([h[16], h[17]]));
        let protocol = h[23];
        if total < 20 || protocol == wire::ipv4::protocol::IPIP || protocol == wire::ipv4::protocol::IPV6 {
            return None;
        }
        Some((default_ip_next(protocol), total))
    }

    #[inline(always)]
    fn ethernet(&mut self, data: &[u8], stack: &mut Stack) -> Res {
        let p = wire::ethernet::Packet::new_checked(data)?;
        let t = p.ethertype();
        // The common case without a table lookup.
        if t == wire::ethernet::ethertype::IPV4 && !self.ethertype_overrides {
            return Ok(Step::new(Proto::Eth, wire::ethernet::HEADER_LEN, Some(Next::Ipv4)));
        }
        if t == wire::ethernet::ethertype::FABRICPATH && data.len() >= wire::fabricpath::HEADER_LEN {
            // The original frame keeps its FCS, as Wireshark reads it.
            let mut step = Step::new(Proto::FabricPath, wire::fabricpath::HEADER_LEN, Some(Next::Ethernet));
            step.declared = data.len().saturating_sub(wire::fabricpath::FCS_LEN) as u32;
            return Ok(step);
        }
        if p.is_8023() {
            return Ok(Step::new(Proto::Eth, wire::ethernet::HEADER_LEN, Some(Next::Llc)));
        }
        let next = self.ethertype_next(t, stack);
        Ok(Step::new(Proto::Eth, wire::ethernet::HEADER_LEN, next))
    }

    #[inline(always)]
    fn tag(&mut self, proto: Proto, data: &[u8], stack: &mut Stack) -> Res {
        let (len, t) = match proto {
            Proto::Vlan => {
                let p = wire::vlan::Packet::new_checked(data)?;
                (wire::vlan::HEADER_LEN, p.ethertype())
            }
            Proto::VnTag => {
                let p = wire::vntag::Packet::new_checked(data)?;
                (wire::vntag::HEADER_LEN, p.ethertype())
            }
            Proto::ETag => {
                let p = wire::etag::Packet::new_checked(data)?;
                (wire::etag::HEADER_LEN, p.ethertype())
            }
            Proto::Arista => {
                let p = wire::arista::Packet::new_checked(data)
                    .map_err(|e| malformed(e, Anomaly::AristaBadVersion))?;
                (p.header_len(), p.ethertype())
            }
            Proto::CiscoMetadataGre => {
                let p = wire::cisco_metadata::Packet::new_checked(data)?;
                (wire::cisco_metadata::HEADER_LEN, p.gre_ethertype())
            }
            _ => {
                let p = wire::cisco_metadata::Packet::new_checked(data)?;
                (wire::cisco_metadata::HEADER_LEN, p.ethertype())
            }
        };
        if t < wire::ethernet::ethertype::MIN_ETHERTYPE {
            return Ok(Step::new(proto, len, Some(Next::Llc)));
        }
        let next = self.ethertype_next(t, stack);
        Ok(Step::new(proto, len, next))
    }

    #[inline(always)]
    fn ipv4(&mut self, data: &[u8]) -> Res {
        /// Where the protocol byte of an IPv4 header is.
        const IPV4_PROTOCOL_AT: usize = 9;
        // Version 4 without options, the common case, checked in one comparison.
        let fast = data.len() >= wire::ipv4::HEADER_LEN && data[0] == 0x45;
        let checked = if fast {
            Ok(wire::ipv4::Packet::new_unchecked(data))
        } else {
            wire::ipv4::Packet::new_checked(data)
        };
        let p = match checked {
            Ok(p) => p,
            // A header cut off by the capture (a sampled header's end, a snap length) still
            // shows the fields its bytes hold, from the protocol on: nothing follows it.
            Err(Error::Truncated) if data.len() > IPV4_PROTOCOL_AT && data[0] >> 4 == 4 => {
                return Ok(Step::new(Proto::Ipv4, data.len(), None).stop(Anomaly::Truncated))
            }
            Err(Error::Truncated) => return Err(Anomaly::Truncated),
            // Like Wireshark, an IPv4 type field in front of a version-6 header is read as IPv6.
            Err(Error::Malformed) if data[0] >> 4 == 6 => {
                return self.ipv6(data).map(|s| Step { note: Some(Anomaly::Ipv4BadVersion), ..s });
            }
            Err(Error::Malformed) if data[0] >> 4 != 4 => return Err(Anomaly::Ipv4BadVersion),
            Err(Error::Malformed) => return Err(Anomaly::Ipv4BadHeaderLen),
        };
        let hlen = p.header_len();
        let total = usize::from(p.total_len());
        let mut step = Step::new(Proto::Ipv4, hlen, default_ip_next(p.protocol()));
        mark_ip_in_ip(&mut step);
        // A total length of 0 is a GSO / BIG TCP super-packet: the capture gives the length.
        if total != 0 {
            if total < hlen {
                return Ok(step.stop(Anomaly::Ipv4BadTotalLen));
            }
            step.declared = total as u32;
        }
        if p.frag_offset() != 0 {
            step.flags |= FLAG_FRAGMENT;
            return Ok(step.stop(Anomaly::IpFragment));
        }
        if p.more_frags() {
            step.flags |= FLAG_FRAGMENT;
        }
        Ok(step)
    }

    #[inline(always)]
    fn ipv6(&mut self, data: &[u8]) -> Res {
        let p = match wire::ipv6::Packet::new_checked(data) {
            Ok(p) => p,
            // A cut-off header still shows the fields its bytes hold.
            Err(Error::Truncated) if data.len() >= 8 && data[0] >> 4 == 6 => {
                return Ok(Step::new(Proto::Ipv6, data.len(), None).stop(Anomaly::Truncated))
            }
            Err(e) => return Err(malformed(e, Anomaly::Ipv6BadVersion)),
        };
        let mut len = wire::ipv6::HEADER_LEN;
        let mut nh = p.next_header();
        let mut flags = 0;
        let payload = usize::from(p.payload_len());
        while wire::ipv6::is_extension_header(nh) {
            let Some(rest) = data.get(len..) else { break };
            let e = match wire::ipv6::ExtHeader::parse(nh, rest) {
                Ok(e) => e,
                Err(Error::Truncated) if payload != 0 && len + 8 > wire::ipv6::HEADER_LEN + payload => {
                    return Err(Anomaly::Ipv6BadExtension)
                }
                Err(e) => return Err(e.into()),
            };
            len += e.len;
            nh = e.next_header;
            if let Some(wire::ipv6::Fragment { offset, .. }) = e.fragment {
                flags |= FLAG_FRAGMENT;
                if offset != 0 {
                    let step = Step { flags, ..Step::new(Proto::Ipv6, len, None) };
                    return Ok(step.stop(Anomaly::IpFragment));
                }
            }
        }
        let mut step = Step::new(Proto::Ipv6, len, default_ip_next(nh));
        step.flags |= flags;
        if nh == wire::ipv4::protocol::IPV6_NONXT {
            step.next = None;
        }
        mark_ip_in_ip(&mut step);
        if payload != 0 {
            step.declared = (wire::ipv6::HEADER_LEN + payload) as u32;
        }
        Ok(step)
    }

    #[inline(always)]
    fn udp(&mut self, data: &[u8]) -> Res {
        let Ok(p) = wire::udp::Packet::new_checked(data) else { return partial_ports(Proto::Udp, data) };
        let len = usize::from(p.length());
        let mut step = Step::new(Proto::Udp, wire::udp::HEADER_LEN, None);
        if len != 0 {
            if len < wire::udp::HEADER_LEN {
                return Ok(step.stop(Anomaly::UdpBadLength));
            }
            step.declared = len as u32;
        }
        let (lo, hi) = if p.src_port() <= p.dst_port() {
            (p.src_port(), p.dst_port())
        } else {
            (p.dst_port(), p.src_port())
        };
        step.next = self.table.udp_port(lo).or_else(|| self.table.udp_port(hi));
        if step.next == Some(Next::Mpls) {
            step.flags |= FLAG_MPLS_IN_UDP;
        }
        if step.next == Some(Next::Teredo) {
            let payload = &data[wire::udp::HEADER_LEN..];
            if wire::teredo::Indicators::parse(payload).is_err() {
                step.next = None;
            }
        }
        Ok(step)
    }

    #[inline(always)]
    fn gre(&mut self, data: &[u8], stack: &mut Stack) -> Res {
        let p = wire::gre::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::GreBadVersion))?;
        if p.reserved_bits_set() {
            self.note(stack, Anomaly::GreReservedBits);
        }
        let mut step = Step::new(Proto::Gre, p.header_len(), None);
        let proto = p.protocol();
        if p.version() == 1 {
            step.next = (proto == wire::ethernet::ethertype::PPP).then_some(Next::Ppp);
            return Ok(step);
        }
        step.next = match self.table.gre_protocol(proto) {
            Lookup::Next(Next::Leaf) => None,
            Lookup::Next(n) => Some(n),
            Lookup::Unknown => {
                self.note(stack, Anomaly::UnknownGreProtocol);
                None
            }
        };
        if proto == wire::ethernet::ethertype::TEB
            && p.flags_version() == wire::nvgre::FLAGS_VERSION
            && self.table.config.nvgre == NvgreKey::Auto
        {
            step.flags |= FLAG_NVGRE;
            step.guess = Some(Guess::Nvgre);
        }
        Ok(step)
    }

    /// ERSPAN behind GRE 0x88BE (or a configured alias): type I without the S bit, else a
    /// header whose version says II or III.
    #[inline(always)]
    fn erspan_by_gre(&mut self, data: &[u8], prev: Prev<'_>) -> Res {
        let has_seq = match prev {
            Some((Proto::Gre, gre)) => gre.first().is_some_and(|b| b & 0x10 != 0),
            _ => false,
        };
        if !has_seq {
            return Ok(Step::new(Proto::Erspan1, 0, Some(Next::Ethernet)));
        }
        self.erspan(data)
    }

    #[inline(always)]
    fn erspan(&mut self, data: &[u8]) -> Res {
        let p = match wire::erspan::Packet::new_checked(data) {
            Ok(p) => p,
            // A type III header whose platform sub-header is cut off.
            Err(Error::Truncated)
                if data.len() >= wire::erspan::TYPE3_LEN && data[0] >> 4 == wire::erspan::VERSION_TYPE3 =>
            {
                let step = Step::new(Proto::Erspan3, wire::erspan::TYPE3_LEN, None);
                return Ok(step.stop(Anomaly::Truncated));
            }
            Err(e) => return Err(malformed(e, Anomaly::ErspanBadVersion)),
        };
        if p.version() == wire::erspan::VERSION_TYPE2 {
            return Ok(Step::new(Proto::Erspan2, p.header_len(), Some(Next::Ethernet)));
        }
        let next = match p.frame_type() {
            wire::erspan::frame_type::ETHERNET => Next::Ethernet,
            wire::erspan::frame_type::IP => Next::Ip,
            _ => {
                let step = Step::new(Proto::Erspan3, p.header_len(), None);
                return Ok(step.stop(Anomaly::ErspanOpaqueFrameType));
            }
        };
        Ok(Step::new(Proto::Erspan3, p.header_len(), Some(next)))
    }

    /// An MPLS label stack is one layer (as Wireshark shows it); its payload type comes from
    /// configuration or, by default, from the first nibble after the bottom of stack.
    #[inline(always)]
    fn mpls(&mut self, data: &[u8]) -> Res {
        let mut len = 0;
        let bottom = loop {
            let Some(entry) = data.get(len..len + wire::mpls::HEADER_LEN) else {
                if len == 0 {
                    return Err(Anomaly::Truncated);
                }
                return Ok(Step::new(Proto::Mpls, len, None).stop(Anomaly::Truncated));
            };
            let p = wire::mpls::Packet::new_unchecked(entry);
            len += wire::mpls::HEADER_LEN;
            if p.bottom() {
                break p;
            }
        };
        let mut step = Step::new(Proto::Mpls, len, None);
        let nibble = data.get(len).map(|b| b >> 4);
        let (v4_null, v6_null) =
            (wire::mpls::label::IPV4_EXPLICIT_NULL, wire::mpls::label::IPV6_EXPLICIT_NULL);
        let (next, guess) = match (self.table.config.mpls_payload, bottom.label(), nibble) {
            (_, _, None) => (None, None),
            (MplsPayload::Ipv4, ..) => (Some(Next::Ipv4), None),
            (MplsPayload::Ipv6, ..) => (Some(Next::Ipv6), None),
            // An explicit null label names the packet's version (RFC 3032); the packet's own
            // version nibble has the last word, and a disagreement is said.
            (MplsPayload::Auto, label, Some(n)) if label == v4_null || label == v6_null => {
                let named = if label == v4_null { 4 } else { 6 };
                if n != named {
                    step.note = Some(Anomaly::MplsExplicitNullMismatch);
                }
                let version = if n == 4 || n == 6 { n } else { named };
                (Some(if version == 4 { Next::Ipv4 } else { Next::Ipv6 }), None)
            }
            (MplsPayload::Ethernet, ..) => (Some(Next::Ethernet), None),
            (MplsPayload::EthernetCw, ..) => (Some(Next::PwControlWord), None),
            (MplsPayload::Auto, _, Some(4)) => (Some(Next::Ipv4), Some(Guess::MplsIpv4)),
            (MplsPayload::Auto, _, Some(6)) => (Some(Next::Ipv6), Some(Guess::MplsIpv6)),
            (MplsPayload::Auto, _, Some(0)) => {
                // An Ethernet pseudowire whose destination MAC starts with a 0 nibble looks like
                // a control word: read it both ways and keep the more plausible Ethernet header.
                let payload = &data[len..];
                if plausible_ethernet(payload.get(4..)) >= plausible_ethernet(Some(payload)) {
                    (Some(Next::PwControlWord), Some(Guess::MplsEthernetCw))
                } else {
                    (Some(Next::Ethernet), Some(Guess::MplsEthernet))
                }
            }
            (MplsPayload::Auto, _, Some(1)) => (None, None),
            (MplsPayload::Auto, ..) => (Some(Next::Ethernet), Some(Guess::MplsEthernet)),
        };
        step.next = next;
        step.guess = guess;
        Ok(step)
    }
}

/// How plausible it is that `data` starts with an Ethernet header: 2 for a unicast source
/// and an EtherType the decoder knows, 1 for an 802.3 length with room for LLC, else 0.
fn plausible_ethernet(data: Option<&[u8]>) -> u8 {
    let Some(d) = data.filter(|d| d.len() >= wire::ethernet::HEADER_LEN) else { return 0 };
    if d[6] & 1 != 0 {
        return 0;
    }
    let t = u16::from_be_bytes([d[12], d[13]]);
    if t < wire::ethernet::ethertype::MIN_ETHERTYPE {
        return u8::from(usize::from(t) + wire::ethernet::HEADER_LEN <= d.len() && t >= 3);
    }
    match crate::table::default_ethertype(t) {
        Lookup::Next(_) => 2,
        Lookup::Unknown => 0,
    }
}

/// A transport header cut off by the capture: kept when its ports are there.
fn partial_ports(proto: Proto, data: &[u8]) -> Res {
    if data.len() >= 4 {
        Ok(Step::new(proto, data.len(), None).stop(Anomaly::Truncated))
    } else {
        Err(Anomaly::Truncated)
    }
}

fn ppp_next(protocol: u16) -> Option<Next> {
    match protocol {
        wire::ppp::protocol::IPV4 => Some(Next::Ipv4),
        wire::ppp::protocol::IPV6 => Some(Next::Ipv6),
        wire::ppp::protocol::MPLS_UNICAST | wire::ppp::protocol::MPLS_MULTICAST => Some(Next::Mpls),
        _ => None,
    }
}

/// What follows an IP header of `protocol`; `None` for a protocol not decoded further (which
/// is not an anomaly).
fn default_ip_next(protocol: u8) -> Option<Next> {
    Some(crate::table::default_ip_protocol(protocol)).filter(|n| *n != Next::Leaf)
}

/// Marks an IP header whose payload is another IP packet as an IP-in-IP tunnel.
fn mark_ip_in_ip(step: &mut Step) {
    if matches!(step.next, Some(Next::Ipv4 | Next::Ipv6)) {
        step.flags |= FLAG_IP_IN_IP;
    }
}

#[cfg(test)]
mod tests {
    use crate::{Anomaly, Dissector, LinkType, Stack};
    use craft::{build, Header};

    /// The stack's tokens and anomalies for `headers`, captured up to `snaplen` bytes.
    fn decode(headers: &[Header], snaplen: usize) -> (String, Vec<Anomaly>) {
        let frame = build(headers);
        let mut d = Dissector::default();
        let mut stack = Stack::new();
        d.dissect(&frame[..frame.len().min(snaplen)], LinkType::ETHERNET, &mut stack);
        (stack.tokens().to_string(), stack.anomalies().to_vec())
    }

    #[test]
    fn explicit_null_labels_defer_to_the_packets_version() {
        let v4 = Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2]);
        let v6 = Header::ipv6([0x20; 16], [0x30; 16]);
        let udp = Header::Udp { src: 1, dst: 2 };
        let mpls = |label| vec![Header::eth(), Header::Mpls { labels: vec![label] }];
        let cases = [
            (0, v4.clone(), "eth.mpls.ip.udp", false),
            (2, v6.clone(), "eth.mpls.ip6.udp", false),
            (0, v6, "eth.mpls.ip6.udp", true),
            (2, v4, "eth.mpls.ip.udp", true),
        ];
        for (label, packet, want, mismatch) in cases {
            let (tokens, anomalies) = decode(&[mpls(label), vec![packet, udp.clone()]].concat(), usize::MAX);
            assert_eq!(tokens, want, "label {label}");
            assert_eq!(anomalies.contains(&Anomaly::MplsExplicitNullMismatch), mismatch, "label {label}");
        }
    }

    #[test]
    fn a_cut_ipv4_header_is_a_truncated_layer_from_its_protocol_byte_on() {
        let headers =
            [Header::eth(), Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2]), Header::Udp { src: 1, dst: 2 }];
        for (cut, want) in [(9, "eth"), (10, "eth.ip"), (19, "eth.ip"), (20, "eth.ip"), (28, "eth.ip.udp")] {
            let (tokens, anomalies) = decode(&headers, 14 + cut);
            assert_eq!(tokens, want, "cut {cut}");
            assert_eq!(anomalies.contains(&Anomaly::Truncated), cut < 28, "cut {cut}: {anomalies:?}");
        }
    }
}

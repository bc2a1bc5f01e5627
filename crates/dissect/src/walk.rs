//! The walker: decodes one frame, outermost header first, into a [`Stack`]. Each protocol's
//! module (`crate::protocol`) consumes its own header and names what follows through the
//! [`Table`]; the walker keeps only the loop, the depth bound and the counters. Nothing here
//! allocates or reads past the captured bytes.
use crate::anomaly::{Anomaly, Counters};
use crate::field::Decoded;
use crate::proto::Proto;
use crate::protocol::{self, ethernet, Step, NO_DECLARED};
use crate::stack::{Layer, Stack};
use crate::table::{Config, Lookup, Next, Table};

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

    /// True for link types the decoder reads (a protocol registers each).
    pub fn is_supported(self) -> bool {
        crate::table::link_type(self.0).is_some()
    }
}

/// A frame decoder with its dispatch table and its own counters (one per worker thread).
#[derive(Debug, Clone)]
pub struct Dissector {
    table: Table,
    counters: Counters,
    /// The depth bound, copied out of the configuration for the hot path.
    max_tunnels: usize,
    /// Where to go on once the packet being decoded ends: the next A-MSDU subframe's offset
    /// and the aggregate's end.
    resume: Option<(usize, usize)>,
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
        Dissector { table: Table::new(config), counters: Counters::default(), max_tunnels, resume: None }
    }
    /// The dispatch table.
    #[inline(always)]
    pub fn table(&self) -> &Table {
        &self.table
    }
    /// Counts so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
    /// True when configuration adds or replaces EtherType entries.
    #[inline(always)]
    pub(crate) fn ethertype_overrides(&self) -> bool {
        self.table.ethertype_overrides()
    }

    /// Decodes `frame` (captured bytes) of link type `link` into `stack`, which is cleared
    /// first. Never reads past `frame`; a frame that ends early is decoded as far as its
    /// bytes go and marked truncated.
    pub fn dissect<'a>(&mut self, frame: &'a [u8], link: LinkType, stack: &'a mut Stack) -> Decoded<'a> {
        stack.start(frame);
        self.counters.frames += 1;
        let mut offset = 0;
        let mut end = frame.len();
        let mut next =
            if link == LinkType::ETHERNET { Some(Next::Ethernet) } else { crate::table::link_type(link.0) };
        self.resume = None;
        'frame: loop {
            while let Some(n) = next {
                // `end` never exceeds the frame: it starts at its length and only shrinks.
                let Some(data) = frame.get(offset..end) else { break };
                // Ethernet then a plain IPv4 header, the most common pair, in one step.
                if n == Next::Ethernet {
                    if let Some((ip_next, total)) = ethernet::fast_ipv4(self, data) {
                        if !stack.push(
                            Layer { proto: Proto::Eth, flags: 0, offset: offset as u32, len: 14 },
                            false,
                        ) || !stack.push(
                            Layer { proto: Proto::Ipv4, flags: 0, offset: offset as u32 + 14, len: 20 },
                            false,
                        ) {
                            self.note(stack, Anomaly::TooManyLayers);
                            break 'frame;
                        }
                        end = end.min(offset + 14 + total);
                        offset += 34;
                        next = ip_next;
                        continue;
                    }
                }
                match protocol::decode(self, n, data, frame, stack) {
                    Ok(step) => {
                        if !self.push(stack, step, offset) {
                            break 'frame;
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
            // An A-MSDU goes on with its next subframe, when there is room for its header.
            match self.resume.take() {
                Some((at, aggregate_end)) if at + wire::ieee80211::SUBFRAME_HEADER_LEN <= aggregate_end => {
                    (offset, end, next) = (at, aggregate_end, Some(Next::Amsdu));
                }
                _ => break,
            }
        }
        if !stack.anomalies().is_empty() {
            self.counters.frames_with_anomalies += 1;
        }
        Decoded { frame, stack }
    }

    /// Goes on at `offset`, with an A-MSDU subframe ending no later than `end`, once the
    /// packet being decoded ends.
    pub(crate) fn resume_at(&mut self, offset: usize, end: usize) {
        self.resume = Some((offset, end));
    }

    /// Records and counts an anomaly of the frame being decoded.
    pub(crate) fn note(&mut self, stack: &mut Stack, a: Anomaly) {
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

    /// What follows an EtherType; an unknown one is noted.
    #[inline(always)]
    pub(crate) fn ethertype_next(&mut self, t: u16, stack: &mut Stack) -> Option<Next> {
        match self.table.ethertype(t) {
            Lookup::Next(Next::Leaf) => None,
            Lookup::Next(n) => Some(n),
            Lookup::Unknown => {
                self.note(stack, Anomaly::UnknownEthertype);
                None
            }
        }
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

//! One module per protocol, as Zeek's `packet_analysis/protocol/*`: each holds its decode step,
//! the fields it contributes, its dispatch registrations (EtherType, IP protocol, UDP port, GRE
//! protocol, link type) and, for a tunnel, what names its streams. This file only routes to
//! them; the walker keeps the loop.
use crate::anomaly::{Anomaly, Guess};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::{Layer, Stack, FLAG_IP_IN_IP};
use crate::table::Next;
use crate::walk::Dissector;
use wire::Error;

pub use amsdu::subframe as amsdu_subframe;
pub use wlan::{frame as wlan_frame, WlanFrame};

pub(crate) mod amsdu;
pub(crate) mod arista;
pub(crate) mod arp;
pub(crate) mod ayiya;
pub(crate) mod capwap;
pub(crate) mod chdlc;
pub(crate) mod cisco_metadata;
pub(crate) mod erspan;
pub(crate) mod etag;
pub(crate) mod ethernet;
pub(crate) mod fabricpath;
pub(crate) mod geneve;
pub(crate) mod gre;
pub(crate) mod gtp;
pub(crate) mod icmp;
pub(crate) mod icmpv6;
pub(crate) mod ipv4;
pub(crate) mod ipv6;
pub(crate) mod isl;
pub(crate) mod l2tpv3;
pub(crate) mod llc;
pub(crate) mod mpls;
pub(crate) mod nsh;
pub(crate) mod null;
pub(crate) mod pbb;
pub(crate) mod ppp;
pub(crate) mod pppoe;
pub(crate) mod pwach;
pub(crate) mod radiotap;
pub(crate) mod sctp;
pub(crate) mod sflow;
pub(crate) mod sll;
pub(crate) mod tcp;
pub(crate) mod teredo;
pub(crate) mod trill;
pub(crate) mod udp;
pub(crate) mod vlan;
pub(crate) mod vntag;
pub(crate) mod vxlan;
pub(crate) mod vxlan_gpe;
pub(crate) mod wccp;
pub(crate) mod wlan;

/// Where a protocol is found: the type-field values that announce it, by the field.
pub(crate) struct Dispatch {
    /// EtherTypes (also looked up for GRE protocols and GENEVE's protocol type).
    pub ethertypes: &'static [(u16, Next)],
    /// GRE protocol types that mean something else in GRE than as EtherTypes.
    pub gre_protocols: &'static [(u16, Next)],
    /// IP protocol numbers (IPv4 protocol, IPv6 next header).
    pub ip_protocols: &'static [(u8, Next)],
    /// UDP ports (either side; the lower port is tried first).
    pub udp_ports: &'static [(u16, Next)],
    /// Capture link types (pcap LINKTYPE_ values).
    pub link_types: &'static [(u32, Next)],
}

impl Dispatch {
    /// Found by no type field (only by its neighbours' own logic).
    pub const NONE: Dispatch =
        Dispatch { ethertypes: &[], gre_protocols: &[], ip_protocols: &[], udp_ports: &[], link_types: &[] };
}

/// Every protocol's registrations, merged into the dispatch table.
pub(crate) const DISPATCH: &[&Dispatch] = &[
    &ethernet::DISPATCH,
    &vlan::DISPATCH,
    &vntag::DISPATCH,
    &etag::DISPATCH,
    &pbb::DISPATCH,
    &trill::DISPATCH,
    &arista::DISPATCH,
    &cisco_metadata::DISPATCH,
    &mpls::DISPATCH,
    &ppp::DISPATCH,
    &pppoe::DISPATCH,
    &arp::DISPATCH,
    &nsh::DISPATCH,
    &ipv4::DISPATCH,
    &ipv6::DISPATCH,
    &gre::DISPATCH,
    &erspan::DISPATCH,
    &wccp::DISPATCH,
    &wlan::DISPATCH,
    &udp::DISPATCH,
    &tcp::DISPATCH,
    &sctp::DISPATCH,
    &icmp::DISPATCH,
    &icmpv6::DISPATCH,
    &vxlan::DISPATCH,
    &vxlan_gpe::DISPATCH,
    &geneve::DISPATCH,
    &gtp::DISPATCH,
    &teredo::DISPATCH,
    &ayiya::DISPATCH,
    &l2tpv3::DISPATCH,
    &sflow::DISPATCH,
    &sll::DISPATCH,
    &null::DISPATCH,
    &llc::DISPATCH,
    &capwap::DISPATCH,
    &chdlc::DISPATCH,
    &radiotap::DISPATCH,
];

/// One decoded header: what it is, how long, and what follows. Kept to 12 bytes so that it
/// travels in registers on the hot path.
#[derive(Clone, Copy)]
pub(crate) struct Step {
    pub len: u16,
    /// Declared length of this header plus its payload, when the header says (IP, UDP);
    /// `NO_DECLARED` otherwise.
    pub declared: u32,
    pub proto: Proto,
    pub flags: u8,
    pub next: Option<Next>,
    pub guess: Option<Guess>,
    /// An anomaly to record once the layer is pushed.
    pub note: Option<Anomaly>,
    /// Push this layer, record this anomaly, and stop.
    pub stop: Option<Anomaly>,
}

/// `Step::declared` when the header declares no length.
pub(crate) const NO_DECLARED: u32 = u32::MAX;
const _: () = assert!(core::mem::size_of::<Result<Step, Anomaly>>() <= 12);

impl Step {
    /// A header of `proto`, `len` bytes long, followed by `next`.
    pub fn new(proto: Proto, len: usize, next: Option<Next>) -> Step {
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
    pub fn rare(&self) -> bool {
        // One comparison of the three one-byte options, which are `None` as zero.
        let packed = u32::from(opt_byte(self.guess.map(|g| g as u8)))
            | u32::from(opt_byte(self.note.map(|a| a as u8))) << 8
            | u32::from(opt_byte(self.stop.map(|a| a as u8))) << 16;
        packed != 0
    }
    /// This layer is the last: record `a` after it.
    pub fn stop(self, a: Anomaly) -> Step {
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
pub(crate) type Res = Result<Step, Anomaly>;

/// A `wire` error as an anomaly, naming a malformed header as `a`.
pub(crate) fn malformed(e: Error, a: Anomaly) -> Anomaly {
    match e {
        Error::Truncated => Anomaly::Truncated,
        Error::Malformed => a,
    }
}

/// A transport header cut off by the capture: kept when its ports are there.
pub(crate) fn partial_ports(proto: Proto, data: &[u8]) -> Res {
    if data.len() >= 4 {
        Ok(Step::new(proto, data.len(), None).stop(Anomaly::Truncated))
    } else {
        Err(Anomaly::Truncated)
    }
}

/// A tag that ends in an EtherType (or an 802.3 length, then LLC).
#[inline(always)]
pub(crate) fn tag(d: &mut Dissector, proto: Proto, len: usize, t: u16, stack: &mut Stack) -> Res {
    if t < wire::ethernet::ethertype::MIN_ETHERTYPE {
        return Ok(Step::new(proto, len, Some(Next::Llc)));
    }
    Ok(Step::new(proto, len, d.ethertype_next(t, stack)))
}

/// Marks an IP header whose payload is another IP packet as an IP-in-IP tunnel.
pub(crate) fn mark_ip_in_ip(step: &mut Step) {
    if matches!(step.next, Some(Next::Ipv4 | Next::Ipv6)) {
        step.flags |= FLAG_IP_IN_IP;
    }
}

/// Decodes the header `n` at the start of `data` (the frame from this header on, up to the
/// end its outer headers declare); `frame` and `stack` hold what was decoded before it.
#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, n: Next, data: &[u8], frame: &[u8], stack: &mut Stack) -> Res {
    match n {
        Next::Ethernet => ethernet::decode(d, data, stack),
        Next::Ipv4 => ipv4::decode(d, data),
        Next::Ipv6 => ipv6::decode(d, data),
        Next::Ip => ipv4::decode_by_version(d, data),
        Next::Vlan => vlan::decode(d, data, stack),
        Next::VnTag => vntag::decode(d, data, stack),
        Next::ETag => etag::decode(d, data, stack),
        Next::Arista => arista::decode(d, data, stack),
        Next::CiscoMetadata => cisco_metadata::decode(d, data, stack),
        Next::CiscoMetadataGre => cisco_metadata::decode_in_gre(d, data, stack),
        Next::Pbb => pbb::decode(data),
        Next::Trill => trill::decode(data),
        Next::Mpls => mpls::decode(d, data),
        Next::PwControlWord => mpls::decode_control_word(data),
        Next::Pppoe => pppoe::decode(data),
        Next::Ppp => ppp::decode(data),
        Next::Arp => arp::decode(data),
        Next::Nsh => nsh::decode(data),
        Next::Erspan => erspan::decode_by_gre(data, stack.layers().last().map(|l| (l.proto, l.bytes(frame)))),
        Next::Erspan3 => erspan::decode(data),
        Next::Wccp => wccp::decode(d, data),
        Next::Wlan => wlan::decode(data, stack),
        Next::Amsdu => amsdu::decode(d, data, frame),
        Next::Capwap => capwap::decode(data, true),
        Next::CapwapControl => capwap::decode(data, false),
        Next::Chdlc => chdlc::decode(d, data, stack),
        Next::Radiotap => radiotap::decode(data),
        Next::GtpC => gtp::decode_control(data),
        Next::GtpPrime => gtp::decode_prime(data),
        Next::PwAch => pwach::decode(data),
        Next::Llc => llc::decode(d, data, stack),
        Next::Gre => gre::decode(d, data, stack),
        Next::Udp => udp::decode(d, data),
        Next::Tcp => tcp::decode(data),
        Next::Sctp => sctp::decode(data),
        Next::Icmp => icmp::decode(data),
        Next::Icmp6 => icmpv6::decode(data),
        Next::Vxlan => vxlan::decode(d, data, stack),
        Next::VxlanGpe => vxlan_gpe::decode(d, data, stack),
        Next::Geneve => geneve::decode(d, data, stack),
        Next::GtpU => gtp::decode(data),
        Next::Teredo => teredo::decode(data),
        Next::Ayiya => ayiya::decode(data),
        Next::L2tpv3 => l2tpv3::decode(d, data),
        Next::Sflow => sflow::decode(),
        Next::Null => null::decode(data),
        Next::Sll => sll::decode(d, data, false, stack),
        Next::Sll2 => sll::decode(d, data, true, stack),
        Next::Leaf => Err(Anomaly::UnknownEthertype),
    }
}

/// The fields a layer of `proto` can carry, as a bit set indexed by [`Field`].
const fn field_set(proto: Proto) -> u128 {
    let fields: &[Field] = match proto {
        Proto::Eth => ethernet::FIELDS,
        Proto::Vlan => vlan::FIELDS,
        Proto::VnTag => vntag::FIELDS,
        Proto::ETag => etag::FIELDS,
        Proto::Pbb => pbb::FIELDS,
        Proto::Trill => trill::FIELDS,
        Proto::FabricPath => fabricpath::FIELDS,
        Proto::CiscoMetadata | Proto::CiscoMetadataGre => cisco_metadata::FIELDS,
        Proto::Mpls => mpls::FIELDS,
        Proto::Pppoe => pppoe::FIELDS,
        Proto::Ppp => ppp::FIELDS,
        Proto::Arp => arp::FIELDS,
        Proto::Ipv4 => ipv4::FIELDS,
        Proto::Ipv6 => ipv6::FIELDS,
        Proto::Tcp => tcp::FIELDS,
        Proto::Udp => udp::FIELDS,
        Proto::Sctp => sctp::FIELDS,
        Proto::Icmp => icmp::FIELDS,
        Proto::Icmp6 => icmpv6::FIELDS,
        Proto::Gre => gre::FIELDS,
        Proto::Erspan1 | Proto::Erspan2 | Proto::Erspan3 => erspan::FIELDS,
        Proto::Vxlan => vxlan::FIELDS,
        Proto::VxlanGpe => vxlan_gpe::FIELDS,
        Proto::Geneve => geneve::FIELDS,
        Proto::Nsh => nsh::FIELDS,
        Proto::GtpU => gtp::FIELDS,
        Proto::Teredo => teredo::FIELDS,
        Proto::L2tpv3 => l2tpv3::FIELDS,
        Proto::Wlan => wlan::FIELDS,
        Proto::Capwap => capwap::FIELDS,
        Proto::Isl => isl::FIELDS,
        Proto::Gtpv2 => gtp::FIELDS,
        Proto::GtpPrime => gtp::PRIME_FIELDS,
        Proto::PwAch => pwach::FIELDS,
        _ => &[],
    };
    let mut set = 0u128;
    let mut i = 0;
    while i < fields.len() {
        set |= 1 << fields[i] as usize;
        i += 1;
    }
    set
}

const _: () = assert!(Field::COUNT <= 128, "the field sets are 128-bit");

/// `field_set` of every protocol, computed at compile time.
const FIELD_SETS: [u128; Proto::COUNT] = {
    let mut sets = [0u128; Proto::COUNT];
    let mut i = 0;
    while i < Proto::COUNT {
        sets[i] = field_set(Proto::ALL[i]);
        i += 1;
    }
    sets
};

/// True when layers of `proto` can carry `field` (lets lookups skip other layers).
#[inline]
pub fn carries(proto: Proto, field: Field) -> bool {
    FIELD_SETS[proto as usize] >> field as usize & 1 != 0
}

/// Emits the fields of layer `i`. Every layer's bytes were checked when it was decoded, so
/// the reads in each protocol's `fields` stay inside them.
pub fn layer_fields(frame: &[u8], layers: &[Layer], i: usize, emit: &mut dyn FnMut(Field, Value)) {
    let layer = layers[i];
    let b = layer.bytes(frame);
    match layer.proto {
        Proto::Eth => ethernet::fields(b, frame, &layers[i + 1..], emit),
        Proto::Vlan => vlan::fields(b, emit),
        Proto::VnTag => vntag::fields(b, emit),
        Proto::ETag => etag::fields(b, emit),
        Proto::Pbb => pbb::fields(b, emit),
        Proto::Trill => trill::fields(b, emit),
        Proto::FabricPath => fabricpath::fields(b, emit),
        Proto::CiscoMetadata => cisco_metadata::fields(b, emit),
        Proto::CiscoMetadataGre => cisco_metadata::fields_in_gre(b, emit),
        Proto::Mpls => mpls::fields(b, emit),
        Proto::Pppoe => pppoe::fields(b, emit),
        Proto::Ppp => ppp::fields(b, emit),
        Proto::Arp => arp::fields(b, emit),
        Proto::Ipv4 => ipv4::fields(b, emit),
        Proto::Ipv6 => ipv6::fields(b, emit),
        Proto::Tcp => tcp::fields(b, emit),
        Proto::Udp => udp::fields(b, emit),
        Proto::Sctp => sctp::fields(b, emit),
        Proto::Icmp => icmp::fields(b, emit),
        Proto::Icmp6 => icmpv6::fields(b, emit),
        Proto::Gre => gre::fields(b, layer.flags, emit),
        Proto::Erspan1 => erspan::fields_type1(emit),
        Proto::Erspan2 | Proto::Erspan3 => erspan::fields(b, emit),
        Proto::Vxlan => vxlan::fields(b, emit),
        Proto::VxlanGpe => vxlan_gpe::fields(b, emit),
        Proto::Geneve => geneve::fields(b, emit),
        Proto::Nsh => nsh::fields(b, emit),
        Proto::GtpU => gtp::fields(b, emit),
        Proto::Teredo => teredo::fields(&frame[layer.offset as usize..], emit),
        Proto::L2tpv3 => l2tpv3::fields(b, emit),
        Proto::Wlan => wlan::fields(b, emit),
        Proto::Capwap => capwap::fields(b, emit),
        Proto::Isl => isl::fields(b, emit),
        Proto::Gtpv2 => gtp::fields_v2(b, emit),
        Proto::GtpPrime => gtp::fields_prime(b, emit),
        Proto::PwAch => pwach::fields(b, emit),
        _ => {}
    }
}

/// What names a tunnel's streams, read from the header of a layer of `proto`: the
/// identifier's name (`key`, `session`, `vni`, `spi`, `teid`, `isid`, ...) and its value, or
/// `None` when the protocol has no identifier or the bytes do not read as its header.
pub fn stream_id(proto: Proto, header: &[u8]) -> Option<(&'static str, u32)> {
    match proto {
        Proto::Erspan2 | Proto::Erspan3 => erspan::stream_id(header),
        Proto::Gre => gre::stream_id(header),
        Proto::Vxlan => vxlan::stream_id(header),
        Proto::VxlanGpe => vxlan_gpe::stream_id(header),
        Proto::Geneve => geneve::stream_id(header),
        Proto::Nsh => nsh::stream_id(header),
        Proto::GtpU => gtp::stream_id(header),
        Proto::L2tpv3 => l2tpv3::stream_id(header),
        Proto::Mpls | Proto::PwControlWord => mpls::stream_id(header),
        Proto::Pbb => pbb::stream_id(header),
        Proto::Trill => trill::stream_id(header),
        Proto::FabricPath => fabricpath::stream_id(header),
        Proto::Capwap => capwap::stream_id(header),
        Proto::Isl => isl::stream_id(header),
        _ => None,
    }
}

/// A number as a field value.
pub(crate) fn u(v: impl Into<u64>) -> Value {
    Value::Uint(v.into())
}

/// A truth value as sFlow-RT writes it.
pub(crate) fn boolean(b: bool) -> Value {
    Value::Word(if b { "true" } else { "false" })
}

/// Decodes headers built by `craft` for the protocol modules' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::{Anomaly, Dissector, LinkType, Stack};

    /// The stack's tokens and anomalies of `frame` of link type `link`.
    pub fn decode(frame: &[u8], link: u32) -> (String, Vec<Anomaly>) {
        let mut d = Dissector::default();
        let mut stack = Stack::new();
        d.dissect(frame, LinkType(link), &mut stack);
        (stack.tokens().to_string(), stack.anomalies().to_vec())
    }

    /// The value of field `name` (with its depth suffix) in `frame`, as text.
    pub fn field(frame: &[u8], name: &str) -> Option<String> {
        let mut d = Dissector::default();
        let mut stack = Stack::new();
        let decoded = d.dissect(frame, LinkType::ETHERNET, &mut stack);
        let mut found = None;
        decoded.for_each_numbered(&mut |f, n, v| {
            let full = if n == 0 { f.name().to_string() } else { format!("{}.{n}", f.name()) };
            if full == name {
                found = Some(v.to_string());
            }
        });
        found
    }
}

//! Building the emitted frame: which tunnels to strip, where the inner frame starts and ends,
//! which tags to remove, and the Ethernet header to synthesize for inner IP packets.
use crate::stream::{StreamKey, StreamKind};
use dissect::{Decoded, Layer, Proto, Tunnel};
use wire::ethernet::{self, ethertype as et};
use wire::MacAddr;

/// A set of tunnel kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelSet(u32);

impl TunnelSet {
    /// Every kind.
    pub const ALL: TunnelSet = TunnelSet(u32::MAX);

    /// The kinds named in a comma-separated list (`gre,erspan,vxlan`); `all` means every kind.
    /// A stream's kind (`erspan3`, `mpls-pw`, as summaries name them) selects its family.
    pub fn parse(list: &str) -> Result<TunnelSet, String> {
        let mut set = 0u32;
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                return Ok(TunnelSet::ALL);
            }
            let family =
                || StreamKind::ALL.into_iter().find(|k| k.name() == name).and_then(StreamKind::family);
            let t = Tunnel::from_name(name).or_else(family).ok_or_else(|| {
                let names: Vec<&str> = Tunnel::ALL.iter().map(|t| t.name()).collect();
                format!("unknown tunnel kind `{name}`; known: {}, all", names.join(", "))
            })?;
            set |= 1 << (t as u32);
        }
        Ok(TunnelSet(set))
    }
    /// True when `t` is in the set.
    pub fn contains(self, t: Tunnel) -> bool {
        self.0 & (1 << (t as u32)) != 0
    }
}

/// Tags `--strip-tags` can remove from emitted frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// 802.1Q / 802.1ad / QinQ tags.
    Vlan,
    /// Cisco VN-Tag.
    VnTag,
    /// 802.1BR E-Tag.
    ETag,
    /// An MPLS label stack in front of an IP packet.
    Mpls,
}

impl Tag {
    /// The tags named in a comma-separated list (`vlan,vntag,etag,mpls`).
    pub fn parse_list(list: &str) -> Result<Vec<Tag>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| match n {
                "vlan" => Ok(Tag::Vlan),
                "vntag" => Ok(Tag::VnTag),
                "etag" => Ok(Tag::ETag),
                "mpls" => Ok(Tag::Mpls),
                _ => Err(format!("unknown tag `{n}`; known: vlan, vntag, etag, mpls")),
            })
            .collect()
    }
    fn proto(self) -> Proto {
        match self {
            Tag::Vlan => Proto::Vlan,
            Tag::VnTag => Proto::VnTag,
            Tag::ETag => Proto::ETag,
            Tag::Mpls => Proto::Mpls,
        }
    }
}

/// What to emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Tunnel kinds to strip (default all).
    pub strip: TunnelSet,
    /// Strip only this many of the outermost tunnels (default all of them).
    pub depth: Option<usize>,
    /// Tags to remove from emitted frames.
    pub strip_tags: Vec<Tag>,
    /// Drop (and count) frames that carry no tunnel instead of passing them unchanged.
    pub only_tunnelled: bool,
    /// Emit the PPP frames of a tunnel that carry no packet (its control protocols) as PPPoE
    /// session frames, instead of dropping them.
    pub keep_control: bool,
    /// Cut emitted frames to this many bytes (their original length is kept).
    pub snaplen: Option<usize>,
    /// Addresses of a synthesized Ethernet header: `None` copies the frame's outer Ethernet
    /// addresses (or uses 02:00:00:00:00:01 > 02:00:00:00:00:02 when it has none).
    pub synth_macs: Option<([u8; 6], [u8; 6])>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            strip: TunnelSet::ALL,
            depth: None,
            strip_tags: Vec::new(),
            only_tunnelled: false,
            keep_control: false,
            snaplen: None,
            synth_macs: None,
        }
    }
}

/// Source address of a synthesized Ethernet header when the frame has no outer one.
pub const SYNTH_SOURCE: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// Destination address of a synthesized Ethernet header when the frame has no outer one.
pub const SYNTH_DESTINATION: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// Why a frame was not emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Drop {
    /// `--only-tunnelled` and the frame carries no tunnel.
    NotTunnelled,
    /// The tunnel's payload is missing: truncated, or not a frame (ERSPAN III opaque type).
    NoInnerFrame,
    /// The inner packet is of a kind no Ethernet type can announce.
    UnsupportedInner,
    /// The same frame was emitted within the duplicate window.
    Duplicate,
    /// An outer fragment held for reassembly (emitted later, as part of its datagram).
    FragmentHeld,
    /// An outer fragment the reassembler refused (over a limit, inconsistent, or cut).
    FragmentRefused,
    /// The `--filter` rejected the frame.
    Filtered,
    /// The decoder read nothing of the frame: it is empty, shorter than its link header, or
    /// of a link type that is not read.
    Undecoded,
    /// A packet sent to a tunnel endpoint that is not the tunnel it terminates (random
    /// bytes, VXLAN without the I flag, another protocol).
    NotEndpointTunnel,
    /// An encrypted 802.11 data frame: its packet cannot be read.
    WlanProtected,
    /// An 802.11 management, control or null data frame: it carries no packet.
    WlanNoPayload,
}

impl Drop {
    /// Every reason.
    pub const ALL: [Drop; 11] = [
        Drop::Filtered,
        Drop::NotTunnelled,
        Drop::NoInnerFrame,
        Drop::UnsupportedInner,
        Drop::Duplicate,
        Drop::FragmentHeld,
        Drop::FragmentRefused,
        Drop::Undecoded,
        Drop::NotEndpointTunnel,
        Drop::WlanProtected,
        Drop::WlanNoPayload,
    ];
    /// The name used in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Drop::NotTunnelled => "not_tunnelled",
            Drop::NoInnerFrame => "no_inner_frame",
            Drop::UnsupportedInner => "unsupported_inner_protocol",
            Drop::Duplicate => "duplicate",
            Drop::FragmentHeld => "fragment_held",
            Drop::FragmentRefused => "fragment_refused",
            Drop::Filtered => "filtered",
            Drop::Undecoded => "undecoded",
            Drop::NotEndpointTunnel => "not_endpoint_tunnel",
            Drop::WlanProtected => "wlan_protected",
            Drop::WlanNoPayload => "wlan_no_payload",
        }
    }
}

/// A header built for an emitted frame: Ethernet II, and after it, for a PPP control frame
/// kept with `keep_control`, a PPPoE session header and the PPP protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    bytes: [u8; Head::MAX],
    len: u8,
}

impl Head {
    /// The longest header: Ethernet, PPPoE session, PPP protocol.
    const MAX: usize = ethernet::HEADER_LEN + wire::pppoe::HEADER_LEN + 2;

    /// An Ethernet header.
    fn ethernet(header: &ethernet::Repr) -> Head {
        let mut bytes = [0u8; Head::MAX];
        header.emit(&mut bytes);
        Head { bytes, len: ethernet::HEADER_LEN as u8 }
    }
    /// The header's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The frame to emit, described without copying it: an optional new Ethernet header, then
/// a range of the input frame's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emission {
    /// A rebuilt or synthesized Ethernet header, when the frame does not start at an
    /// untouched Ethernet header of the input.
    pub head: Option<Head>,
    /// The input bytes that follow the header.
    pub body: std::ops::Range<usize>,
    /// Length of the emitted frame on the wire (before any snaplen or capture cut).
    pub orig_len: u32,
    /// The outermost stripped tunnel's stream, if any tunnel was stripped.
    pub stream: Option<StreamKey>,
    /// The index of the emitted frame's first layer in the decoded stack (an Ethernet header
    /// kept, or the packet a synthesized one announces).
    pub first_layer: usize,
    /// For the first subframe of an A-MSDU: where the next subframe starts and where the
    /// aggregate ends on the wire (see [`Emission::next_subframe`]).
    pub subframes: Option<(usize, usize)>,
}

impl Emission {
    /// The header and body bytes, in order.
    pub fn parts<'a>(&'a self, frame: &'a [u8]) -> (&'a [u8], &'a [u8]) {
        (self.head.as_ref().map_or(&[][..], Head::bytes), frame.get(self.body.clone()).unwrap_or(&[]))
    }
    /// Captured length of the emitted frame.
    pub fn len(&self) -> usize {
        self.head.map_or(0, |h| h.bytes().len()) + self.body.len()
    }
    /// True when nothing is emitted (never the case for a decapsulated frame).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Writes the frame into `out` (cleared first).
    pub fn write_into(&self, frame: &[u8], out: &mut Vec<u8>) {
        let (h, b) = self.parts(frame);
        out.clear();
        out.extend_from_slice(h);
        out.extend_from_slice(b);
    }
}

/// What became of one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Emitted.
    Emitted(Emission),
    /// Not emitted.
    Dropped(Drop),
}

/// One tunnel: its layers (a tunnel header and the sub-headers of the same encapsulation,
/// such as GRE then ERSPAN) and the index of the first layer of what it carries.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    inner: usize,
}

/// True when `next` belongs to the same encapsulation as the tunnel layer `prev`: ERSPAN
/// under GRE, NSH under VXLAN-GPE, and the PPP link inside PPTP's enhanced GRE (what a tool
/// wants is the packet PPP carries; PPP that carries none, its control protocols, leaves no
/// inner frame).
fn continues(prev: Proto, next: Proto) -> bool {
    matches!(
        (prev, next),
        (Proto::Gre, Proto::Erspan1 | Proto::Erspan2 | Proto::Erspan3 | Proto::Ppp)
            | (Proto::VxlanGpe, Proto::Nsh)
    )
}

/// The tunnels of a stack, outermost first, found as they are asked for.
struct Runs<'a> {
    layers: &'a [Layer],
    i: usize,
}

impl Iterator for Runs<'_> {
    type Item = Run;
    #[inline]
    fn next(&mut self) -> Option<Run> {
        let layers = self.layers;
        while self.i < layers.len() && !layers[self.i].is_tunnel() {
            self.i += 1;
        }
        if self.i >= layers.len() {
            return None;
        }
        let start = self.i;
        while self.i + 1 < layers.len() && continues(layers[self.i].proto, layers[self.i + 1].proto) {
            self.i += 1;
        }
        self.i += 1;
        Some(Run { start, inner: self.i })
    }
}

/// The kind a `--strip` list names for a tunnel run.
fn run_kind(layers: &[Layer], run: Run) -> Tunnel {
    layers[run.inner - 1].tunnel().unwrap_or(Tunnel::Gre)
}

/// Builds emitted frames.
#[derive(Debug, Clone)]
pub struct Decapsulator {
    options: Options,
}

impl Decapsulator {
    /// A decapsulator with these options.
    pub fn new(options: Options) -> Decapsulator {
        Decapsulator { options }
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Decides what to emit for a decoded frame (`orig_len` bytes on the wire), reading only
    /// the layers the decoder checked. Copies nothing.
    pub fn decapsulate(&self, decoded: Decoded<'_>, orig_len: u32) -> Outcome {
        let mut runs = Runs { layers: decoded.stack().layers(), i: 0 };
        let first = runs.next();
        self.decide(decoded, orig_len, first, runs)
    }

    /// The stream of a decoded frame's outermost tunnel, if it has one (whether or not it
    /// is to be stripped).
    pub fn outermost_stream(decoded: Decoded<'_>) -> Option<StreamKey> {
        let first = Runs { layers: decoded.stack().layers(), i: 0 }.next()?;
        Some(StreamKey::of_run(decoded, first.start..first.inner))
    }

    /// Like [`Decapsulator::decapsulate`], with the emitted frame copied into `out`.
    pub fn decapsulate_into(&self, decoded: Decoded<'_>, orig_len: u32, out: &mut Vec<u8>) -> Outcome {
        let o = self.decapsulate(decoded, orig_len);
        match &o {
            Outcome::Emitted(e) => e.write_into(decoded.frame(), out),
            Outcome::Dropped(_) => out.clear(),
        }
        o
    }

    fn decide(&self, decoded: Decoded<'_>, orig_len: u32, first: Option<Run>, rest: Runs<'_>) -> Outcome {
        let (frame, layers) = (decoded.frame(), decoded.stack().layers());
        let mut stripped: Option<(Run, Run)> = None;
        for (i, run) in first.into_iter().chain(rest).enumerate() {
            if self.options.depth.is_some_and(|d| i >= d)
                || !self.options.strip.contains(run_kind(layers, run))
            {
                break;
            }
            stripped = Some((stripped.map_or(run, |(outer, _)| outer), run));
        }
        if first.is_none() && self.options.only_tunnelled {
            return Outcome::Dropped(Drop::NotTunnelled);
        }
        let (start, stream) = match stripped {
            Some((first, last)) => {
                let stream = Some(StreamKey::of_run(decoded, first.start..first.inner));
                let ppp = last.inner - 1;
                if last.inner < layers.len() {
                    (last.inner, stream)
                } else if self.options.keep_control && ppp > last.start && layers[ppp].proto == Proto::Ppp {
                    return self.ppp_control(decoded, orig_len, ppp, stream);
                } else {
                    return Outcome::Dropped(Drop::NoInnerFrame);
                }
            }
            // Nothing stripped: the frame is emitted from its link layer on.
            None => match layers.first().map(|l| l.proto) {
                Some(Proto::Sll | Proto::Null | Proto::Ppp | Proto::Chdlc | Proto::Radiotap)
                    if layers.len() > 1 =>
                {
                    (1, None)
                }
                _ => (0, None),
            },
        };
        // A frame the decoder read nothing of (empty, or of a link type it does not read)
        // cannot become an Ethernet frame.
        let Some(&inner) = layers.get(start) else { return Outcome::Dropped(Drop::Undecoded) };
        let unchanged = stripped.is_none()
            && self.options.strip_tags.is_empty()
            && layers.first().is_some_and(|l| l.proto == Proto::Eth);
        if unchanged {
            let whole = Emission {
                head: None,
                body: 0..frame.len(),
                orig_len,
                stream: None,
                first_layer: 0,
                subframes: None,
            };
            return self.finish(whole);
        }
        // Where the carried frame ends: the outer headers' declared lengths, then the capture.
        let mut wire_end =
            declared_end(frame, &layers[..start]).map_or(orig_len as usize, |e| e.min(orig_len as usize));
        let mut subframes = None;
        // The carried Ethernet header is emitted as it is when no tag after it is to go.
        let as_is = |wire_end: usize| {
            let cap_end = wire_end.min(frame.len());
            let offset = (inner.offset as usize).min(cap_end);
            let orig_len = wire_end.saturating_sub(inner.offset as usize) as u32;
            let e = Emission {
                head: None,
                body: offset..cap_end,
                orig_len,
                stream,
                first_layer: start,
                subframes: None,
            };
            self.finish(e)
        };
        let (mut header, mut body) = if inner.proto == Proto::Eth {
            let Ok(eth) = ethernet::Packet::new_checked(inner.bytes(frame)) else {
                return Outcome::Dropped(Drop::NoInnerFrame);
            };
            if self.options.strip_tags.is_empty() {
                return as_is(wire_end);
            }
            (ethernet::Repr::parse(&eth), start + 1)
        } else if inner.proto == Proto::Wlan {
            match wlan_as_ethernet(frame, layers, start, wire_end) {
                Ok(w) => {
                    (subframes, wire_end) = (w.subframes, w.wire_end);
                    (w.header, w.body)
                }
                Err(why) => return Outcome::Dropped(why),
            }
        } else {
            let Some(ethertype) = synthesized_type(inner.proto) else {
                return Outcome::Dropped(Drop::UnsupportedInner);
            };
            let (source, destination) = self.synth_macs(frame, layers);
            (ethernet::Repr { source, destination, ethertype }, start)
        };
        // Remove the requested tags that follow the Ethernet header.
        let tags = &self.options.strip_tags;
        while let Some(l) = layers.get(body) {
            if l.proto.is_tag() && tags.iter().any(|t| t.proto() == l.proto) {
                let Some(next) = tag_next_type(l.proto, l.bytes(frame)) else { break };
                header.ethertype = next;
                body += 1;
            } else if l.proto == Proto::Mpls && tags.contains(&Tag::Mpls) {
                match layers.get(body + 1).map(|n| n.proto) {
                    Some(Proto::Ipv4) => header.ethertype = et::IPV4,
                    Some(Proto::Ipv6) => header.ethertype = et::IPV6,
                    _ => break,
                }
                body += 1;
            } else {
                break;
            }
        }
        if inner.proto == Proto::Eth && body == start + 1 {
            return as_is(wire_end);
        }
        let cap_end = wire_end.min(frame.len());
        let body_offset = match layers.get(body) {
            Some(l) if inner.proto != Proto::Wlan || l.offset as usize <= wire_end => l.offset as usize,
            // An 802.11 frame's packet ends its subframe; nothing decoded after the header.
            _ => layers.get(body - 1).map_or(0, Layer::end),
        };
        let body = body_offset.min(cap_end)..cap_end;
        let orig_len = (ethernet::HEADER_LEN + wire_end.saturating_sub(body_offset)) as u32;
        let head = Some(Head::ethernet(&header));
        self.finish(Emission { head, body, orig_len, stream, first_layer: start, subframes })
    }

    /// The frame of the A-MSDU subframe after the one `previous` emitted, if any: an Ethernet
    /// frame from the subframe's source to its destination with its SNAP EtherType, in the
    /// stream of `previous`. Subframes without SNAP are passed over.
    pub fn next_subframe(&self, frame: &[u8], previous: &Emission) -> Option<Emission> {
        let (mut at, aggregate_end) = previous.subframes?;
        loop {
            let sub = dissect::protocol::amsdu_subframe(frame.get(at..)?)?;
            let msdu = at + wire::ieee80211::SUBFRAME_HEADER_LEN;
            let (wire_end, rest) = subframe_span(at, &sub, aggregate_end);
            let snap = frame.get(msdu..).and_then(|b| wire::llc::Packet::new_checked(b).ok());
            let snap =
                snap.filter(|p| p.is_snap() && p.snap_oui() == 0 && msdu + wire::llc::SNAP_LEN <= wire_end);
            let Some(snap) = snap else {
                at += sub.next_at();
                continue;
            };
            let head = Head::ethernet(&ethernet::Repr {
                destination: sub.destination,
                source: sub.source,
                ethertype: snap.snap_ethertype(),
            });
            let start = msdu + wire::llc::SNAP_LEN;
            let cap_start = start.min(frame.len());
            let e = Emission {
                head: Some(head),
                body: cap_start..wire_end.min(frame.len()).max(cap_start),
                orig_len: (ethernet::HEADER_LEN + wire_end - start) as u32,
                stream: previous.stream,
                first_layer: previous.first_layer,
                subframes: rest,
            };
            return match self.finish(e) {
                Outcome::Emitted(e) => Some(e),
                Outcome::Dropped(_) => None,
            };
        }
    }

    /// A PPP frame carrying no packet (a control protocol) at layer `ppp`, kept: emitted as a
    /// PPPoE session frame (session ID the tunnel's identifier, such as PPTP's call ID), which
    /// is how Ethernet carries PPP and how tools and Wireshark read it.
    fn ppp_control(
        &self,
        decoded: Decoded<'_>,
        orig_len: u32,
        ppp: usize,
        stream: Option<StreamKey>,
    ) -> Outcome {
        let (frame, layers) = (decoded.frame(), decoded.stack().layers());
        let l = layers[ppp];
        let Ok(h) = wire::ppp::Header::parse(l.bytes(frame)) else {
            return Outcome::Dropped(Drop::NoInnerFrame);
        };
        let wire_end =
            declared_end(frame, &layers[..ppp]).map_or(orig_len as usize, |e| e.min(orig_len as usize));
        let start = l.end();
        let (source, destination) = self.synth_macs(frame, layers);
        let mut head = Head::ethernet(&ethernet::Repr { source, destination, ethertype: et::PPPOE_SESSION });
        let payload = 2 + wire_end.saturating_sub(start);
        let pppoe = wire::pppoe::Repr {
            session_id: stream.map_or(0, |s| s.id as u16),
            length: payload.min(usize::from(u16::MAX)) as u16,
        };
        let shim = &mut head.bytes[ethernet::HEADER_LEN..];
        pppoe.emit(shim);
        wire::ppp::Header { protocol: h.protocol, len: 2 }.emit(&mut shim[wire::pppoe::HEADER_LEN..]);
        head.len = Head::MAX as u8;
        let cap_end = wire_end.min(frame.len());
        let body = start.min(cap_end)..cap_end;
        let orig_len = (Head::MAX + wire_end.saturating_sub(start)) as u32;
        self.finish(Emission { head: Some(head), body, orig_len, stream, first_layer: ppp, subframes: None })
    }

    fn finish(&self, mut e: Emission) -> Outcome {
        if let Some(s) = self.options.snaplen {
            let keep = s.saturating_sub(e.head.map_or(0, |h| h.bytes().len()));
            e.body.end = e.body.end.min(e.body.start + keep);
        }
        e.orig_len = e.orig_len.max(e.len() as u32);
        Outcome::Emitted(e)
    }

    /// Source and destination of a synthesized Ethernet header.
    fn synth_macs(&self, frame: &[u8], layers: &[Layer]) -> (MacAddr, MacAddr) {
        if let Some((s, d)) = self.options.synth_macs {
            return (MacAddr(s), MacAddr(d));
        }
        let outer = layers
            .first()
            .filter(|l| l.proto == Proto::Eth)
            .and_then(|l| ethernet::Packet::new_checked(l.bytes(frame)).ok());
        match outer {
            Some(eth) => (eth.source(), eth.destination()),
            None => (MacAddr(SYNTH_SOURCE), MacAddr(SYNTH_DESTINATION)),
        }
    }
}

/// The EtherType that a tag (VLAN, VN-Tag, E-Tag) announces after itself.
fn tag_next_type(proto: Proto, tag: &[u8]) -> Option<u16> {
    match proto {
        Proto::Vlan => wire::vlan::Packet::new_checked(tag).ok().map(|t| t.ethertype()),
        Proto::VnTag => wire::vntag::Packet::new_checked(tag).ok().map(|t| t.ethertype()),
        Proto::ETag => wire::etag::Packet::new_checked(tag).ok().map(|t| t.ethertype()),
        _ => None,
    }
}

/// The EtherType announcing a packet that a tunnel carried without an Ethernet header.
fn synthesized_type(p: Proto) -> Option<u16> {
    Some(match p {
        Proto::Ipv4 => et::IPV4,
        Proto::Ipv6 => et::IPV6,
        Proto::Mpls => et::MPLS,
        Proto::Arp => et::ARP,
        Proto::Ppp => et::PPP,
        Proto::Vlan => et::VLAN,
        Proto::Nsh => et::NSH,
        _ => return None,
    })
}

/// An 802.11 frame read as Ethernet: the header to emit, the index of the first layer of its
/// body, where its packet ends on the wire, and for an A-MSDU where the next subframe starts.
struct WlanEthernet {
    header: ethernet::Repr,
    body: usize,
    wire_end: usize,
    subframes: Option<(usize, usize)>,
}

/// Reads the 802.11 layer `wlan` (which the aggregate or frame ending at `wire_end` holds) as
/// an Ethernet frame: destination and source by its DS bits (an A-MSDU subframe's own for an
/// aggregate, whose first subframe it is), the EtherType of its SNAP header, or an 802.3
/// length for LLC without SNAP.
fn wlan_as_ethernet(
    frame: &[u8],
    layers: &[Layer],
    wlan: usize,
    wire_end: usize,
) -> Result<WlanEthernet, Drop> {
    use dissect::protocol::{amsdu_subframe, wlan_frame, WlanFrame};
    let l = layers[wlan];
    let (mut destination, mut source) = match wlan_frame(l.bytes(frame), l.flags) {
        Some(WlanFrame::Data { destination, source }) => (destination, source),
        Some(WlanFrame::Protected) => return Err(Drop::WlanProtected),
        Some(WlanFrame::NoPayload) => return Err(Drop::WlanNoPayload),
        None => return Err(Drop::NoInnerFrame),
    };
    let (mut at, mut wire_end, mut subframes) = (wlan + 1, wire_end, None);
    if let Some(a) = layers.get(at).filter(|a| a.proto == Proto::Amsdu) {
        let sub = amsdu_subframe(a.bytes(frame)).ok_or(Drop::NoInnerFrame)?;
        (destination, source) = (sub.destination, sub.source);
        (wire_end, subframes) = subframe_span(a.offset as usize, &sub, wire_end);
        at += 1;
    }
    let llc = layers.get(at).filter(|l| l.proto == Proto::Llc).ok_or(Drop::NoInnerFrame)?;
    let b = llc.bytes(frame);
    let snap =
        wire::llc::Packet::new_checked(b).ok().filter(|p| p.is_snap() && b.len() >= wire::llc::SNAP_LEN);
    let (ethertype, body) = match snap {
        Some(p) => (p.snap_ethertype(), at + 1),
        // LLC without SNAP (spanning tree, ...): an 802.3 frame whose length covers it.
        None => {
            let len = wire_end.saturating_sub(llc.offset as usize);
            (len.min(usize::from(et::MIN_ETHERTYPE) - 1) as u16, at)
        }
    };
    Ok(WlanEthernet { header: ethernet::Repr { destination, source, ethertype }, body, wire_end, subframes })
}

/// Where the A-MSDU subframe `sub` starting at `at` ends on the wire, and when another follows
/// it before `aggregate_end`, where that one starts and the aggregate ends.
fn subframe_span(
    at: usize,
    sub: &wire::ieee80211::Subframe,
    aggregate_end: usize,
) -> (usize, Option<(usize, usize)>) {
    let end = (at + wire::ieee80211::SUBFRAME_HEADER_LEN + usize::from(sub.len)).min(aggregate_end);
    let next = at + sub.next_at();
    let more = next + wire::ieee80211::SUBFRAME_HEADER_LEN <= aggregate_end;
    (end, more.then_some((next, aggregate_end)))
}

/// The end, in frame bytes, that the outer headers' length fields give the payload.
fn declared_end(frame: &[u8], outer: &[Layer]) -> Option<usize> {
    let mut end: Option<usize> = None;
    for l in outer {
        // A layer's bytes are taken only for the protocols whose lengths count.
        let (b, o) = (|| l.bytes(frame), l.offset as usize);
        let e = match l.proto {
            Proto::Ipv4 => wire::ipv4::Packet::new_checked(b()).ok().and_then(|p| {
                let t = usize::from(p.total_len());
                (t != 0).then_some(o + t)
            }),
            Proto::Ipv6 => wire::ipv6::Packet::new_checked(b()).ok().and_then(|p| {
                let t = usize::from(p.payload_len());
                (t != 0).then_some(o + wire::ipv6::HEADER_LEN + t)
            }),
            Proto::Udp => wire::udp::Packet::new_checked(b()).ok().and_then(|p| {
                let t = usize::from(p.length());
                (t >= wire::udp::HEADER_LEN).then_some(o + t)
            }),
            // The original frame inside FabricPath ends with its own FCS, which is not emitted.
            Proto::FabricPath => Some(frame.len().saturating_sub(wire::fabricpath::FCS_LEN)),
            // ISL's CRC follows the frame it carries.
            Proto::Isl => wire::isl::Packet::new_checked(b()).ok().map(|p| o + p.frame_end()),
            // An 802.11 frame after radiotap may end with its FCS.
            Proto::Radiotap => wire::radiotap::Header::parse(&frame[o..])
                .ok()
                .filter(|h| h.fcs)
                .map(|_| frame.len().saturating_sub(4)),
            _ => None,
        };
        if let Some(e) = e {
            end = Some(end.map_or(e, |x| x.min(e)));
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use craft::{build, Header};
    use dissect::{Dissector, LinkType, Stack};

    fn inner() -> Vec<Header> {
        vec![
            Header::Eth { src: [0, 0x50, 0x56, 1, 2, 3], dst: [0, 0x1b, 0x21, 4, 5, 6] },
            Header::ipv4([192, 168, 0, 1], [192, 168, 0, 2]),
            Header::Udp { src: 1000, dst: 53 },
            Header::Payload(vec![9; 20]),
        ]
    }
    fn outer() -> Vec<Header> {
        vec![Header::eth(), Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2])]
    }

    fn run(options: Options, frame: &[u8]) -> (Outcome, Vec<u8>) {
        let mut d = Dissector::default();
        let mut stack = Stack::new();
        let decoded = d.dissect(frame, LinkType::ETHERNET, &mut stack);
        let mut out = Vec::new();
        let o = Decapsulator::new(options).decapsulate_into(decoded, frame.len() as u32, &mut out);
        (o, out)
    }

    #[test]
    fn strips_to_the_innermost_frame() {
        let want = build(&inner());
        for mid in [
            vec![Header::Gre { key: Some(5), seq: None }],
            vec![Header::Erspan2 { session: 3, index: 1 }],
            vec![Header::Erspan3 { session: 3, timestamp: 1, platform: None }],
            vec![Header::Udp { src: 9, dst: 4789 }, Header::Vxlan { vni: 4 }],
            vec![
                Header::Udp { src: 9, dst: 6081 },
                Header::Geneve { vni: 4, options: vec![0, 1, 2, 1, 0, 0, 0, 0], critical: false },
            ],
        ] {
            let frame = build(&[outer(), mid.clone(), inner()].concat());
            let (o, out) = run(Options::default(), &frame);
            assert!(matches!(o, Outcome::Emitted(Emission { stream: Some(_), .. })), "{mid:?}");
            assert_eq!(out, want, "{mid:?}");
        }
    }

    #[test]
    fn names_the_stream() {
        let frame = build(
            &[outer(), vec![Header::Erspan3 { session: 7, timestamp: 1, platform: None }], inner()].concat(),
        );
        let (o, _) = run(Options::default(), &frame);
        let Outcome::Emitted(Emission { stream: Some(s), orig_len, .. }) = o else { panic!("{o:?}") };
        assert_eq!(s.to_string(), "erspan3 10.0.0.1>10.0.0.2 session 7");
        assert_eq!(orig_len as usize, build(&inner()).len());
    }

    #[test]
    fn synthesizes_ethernet_for_inner_ip() {
        let frame = build(
            &[
                outer(),
                vec![Header::Erspan3 { session: 3, timestamp: 1, platform: None }],
                inner()[1..].to_vec(),
            ]
            .concat(),
        );
        let (_, out) = run(Options::default(), &frame);
        // Outer addresses, IPv4 type, then the inner packet.
        assert_eq!(&out[0..6], &[0x02, 0, 0, 0, 0, 2]);
        assert_eq!(&out[6..12], &[0x02, 0, 0, 0, 0, 1]);
        assert_eq!(&out[12..14], &[0x08, 0x00]);
        assert_eq!(&out[14..], &build(&inner()[1..])[..]);
        let fixed = Options { synth_macs: Some(([1; 6], [2; 6])), ..Options::default() };
        let (_, out) = run(fixed, &frame);
        assert_eq!((&out[0..6], &out[6..12]), (&[2u8; 6][..], &[1u8; 6][..]));
    }

    #[test]
    fn ppp_in_enhanced_gre_becomes_its_ip_packet_and_control_is_dropped() {
        let pptp = Header::Pptp { call: 0x1234, seq: Some(1), ack: None };
        for carried in [
            inner()[1..].to_vec(),
            vec![Header::ipv6([0x20; 16], [0x30; 16]), Header::Udp { src: 1, dst: 2 }],
        ] {
            let frame = build(
                &[outer(), vec![pptp.clone(), Header::Ppp { protocol: None }], carried.clone()].concat(),
            );
            let (o, out) = run(Options::default(), &frame);
            let Outcome::Emitted(e) = o else { panic!("{o:?}") };
            assert_eq!(e.stream.map(|k| k.to_string()), Some("pptp 10.0.0.1>10.0.0.2 call 4660".into()));
            let ethertype =
                if matches!(carried[0], Header::Ipv4 { .. }) { [0x08, 0x00] } else { [0x86, 0xdd] };
            assert_eq!(&out[12..14], &ethertype);
            assert_eq!(&out[14..], &build(&carried)[..]);
        }
        let lcp = build(
            &[
                outer(),
                vec![
                    pptp,
                    Header::Ppp { protocol: Some(wire::ppp::protocol::LCP) },
                    Header::Payload(vec![1, 1, 0, 4]),
                ],
            ]
            .concat(),
        );
        assert_eq!(run(Options::default(), &lcp).0, Outcome::Dropped(Drop::NoInnerFrame));
    }

    #[test]
    fn depth_and_kinds_limit_stripping() {
        let middle = vec![
            Header::eth(),
            Header::ipv4([172, 16, 0, 1], [172, 16, 0, 2]),
            Header::Udp { src: 1, dst: 4789 },
            Header::Vxlan { vni: 9 },
        ];
        let frame =
            build(&[outer(), vec![Header::Gre { key: None, seq: None }], middle.clone(), inner()].concat());
        let (_, out) = run(Options { depth: Some(1), ..Options::default() }, &frame);
        assert_eq!(out, build(&[middle, inner()].concat()));
        let (o, out) =
            run(Options { strip: TunnelSet::parse("vxlan").unwrap(), ..Options::default() }, &frame);
        assert_eq!(out, frame, "an outer GRE that is not to be stripped keeps the frame whole");
        assert!(matches!(o, Outcome::Emitted(Emission { stream: None, .. })));
    }

    #[test]
    fn a_summary_kind_selects_its_family() {
        let set = TunnelSet::parse("erspan3, mpls-pw,pptp").unwrap();
        for t in [Tunnel::Erspan, Tunnel::Pseudowire, Tunnel::Gre] {
            assert!(set.contains(t), "{t:?}");
        }
        assert!(!set.contains(Tunnel::Vxlan));
        for k in StreamKind::ALL.into_iter().filter(|k| k.family().is_some()) {
            assert!(TunnelSet::parse(k.name()).is_ok(), "{}", k.name());
        }
        assert!(TunnelSet::parse("erspan4").unwrap_err().contains("known: gre, erspan"));
    }

    #[test]
    fn tags_padding_and_drops() {
        let tagged = build(
            &[vec![Header::eth(), Header::Vlan { tpid: 0x8100, vid: 5 }], inner()[1..].to_vec()].concat(),
        );
        let (_, out) = run(Options { strip_tags: vec![Tag::Vlan], ..Options::default() }, &tagged);
        assert_eq!(&out[12..14], &[0x08, 0x00]);
        assert_eq!(out.len(), tagged.len() - 4);
        assert_eq!(
            run(Options { only_tunnelled: true, ..Options::default() }, &tagged).0,
            Outcome::Dropped(Drop::NotTunnelled)
        );
        // Ethernet padding after the outer IP packet is not part of the inner frame.
        let mut padded = build(&[outer(), vec![Header::Gre { key: None, seq: None }], inner()].concat());
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(run(Options::default(), &padded).1, build(&inner()));
        // A tunnel cut before its payload cannot be stripped.
        let frame = build(&[outer(), vec![Header::Gre { key: None, seq: None }], inner()].concat());
        assert_eq!(
            run(Options::default(), &frame[..14 + 20 + 4 + 6]).0,
            Outcome::Dropped(Drop::NoInnerFrame)
        );
        let cut = run(Options { snaplen: Some(20), ..Options::default() }, &frame);
        assert_eq!(cut.1.len(), 20);
    }
}

//! The decoded form of one frame: its layers, outermost first, in a fixed-capacity array.
use crate::anomaly::Anomaly;
use crate::field::Decoded;
use crate::proto::{Proto, Tunnel};
use core::fmt;

/// Most layers one stack holds; the depth bound stops decoding long before this in practice.
pub const MAX_LAYERS: usize = 64;
/// Most distinct anomalies one stack records (all are counted regardless).
pub const MAX_ANOMALIES: usize = 8;

/// Layer flag: an IP header whose payload is another IP packet (IP-in-IP, 6in4, 4in6).
pub const FLAG_IP_IN_IP: u8 = 1;
/// Layer flag: an IP fragment (first or later).
pub const FLAG_FRAGMENT: u8 = 2;
/// Layer flag: a GRE key read as NVGRE's VSID and flow ID.
pub const FLAG_NVGRE: u8 = 4;
/// Layer flag: the layer was reached by a heuristic guess, not a type field.
pub const FLAG_GUESSED: u8 = 8;
/// Layer flag: a UDP header whose payload is an MPLS label stack (MPLS-in-UDP, RFC 7510).
pub const FLAG_MPLS_IN_UDP: u8 = 16;
/// Layer flag: an 802.11 header whose frame control bytes are swapped (as some CAPWAP access
/// points send them).
pub const FLAG_SWAPPED_FC: u8 = 32;

/// One protocol header inside a frame: its protocol and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// What the header is.
    pub proto: Proto,
    /// Flags (`FLAG_*`).
    pub flags: u8,
    /// Length of the header (its payload follows).
    pub len: u16,
    /// Offset of the header from the start of the frame.
    pub offset: u32,
}

impl Layer {
    /// True when this layer is a tunnel.
    #[inline(always)]
    pub fn is_tunnel(&self) -> bool {
        self.flags & (FLAG_IP_IN_IP | FLAG_MPLS_IN_UDP) != 0 || self.proto.is_tunnel()
    }
    /// The tunnel kind this layer is, if any.
    pub fn tunnel(&self) -> Option<Tunnel> {
        if self.flags & FLAG_IP_IN_IP != 0 {
            return Some(Tunnel::IpInIp);
        }
        if self.flags & FLAG_MPLS_IN_UDP != 0 {
            return Some(Tunnel::MplsInUdp);
        }
        self.proto.tunnel()
    }
    /// Offset of the first byte after the header.
    pub fn end(&self) -> usize {
        self.offset as usize + self.len as usize
    }
    /// The header's bytes within `frame`.
    pub fn bytes<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        frame.get(self.offset as usize..self.end()).unwrap_or(&[])
    }
}

const EMPTY: Layer = Layer { proto: Proto::Eth, flags: 0, offset: 0, len: 0 };

/// The layers of one frame, outermost first, with what went wrong while decoding it.
#[derive(Clone)]
pub struct Stack {
    layers: [Layer; MAX_LAYERS],
    len: usize,
    anomalies: [Anomaly; MAX_ANOMALIES],
    anomaly_len: usize,
    tunnels: usize,
    truncated: bool,
    /// The address and length of the frame decoded into it, so that it is only ever read
    /// together with those bytes.
    frame: (usize, usize),
}

impl Default for Stack {
    fn default() -> Stack {
        Stack::new()
    }
}

impl Stack {
    /// An empty stack.
    pub const fn new() -> Stack {
        Stack {
            layers: [EMPTY; MAX_LAYERS],
            len: 0,
            anomalies: [Anomaly::Truncated; MAX_ANOMALIES],
            anomaly_len: 0,
            tunnels: 0,
            truncated: false,
            frame: (0, 0),
        }
    }
    /// Empties the stack for decoding `frame` into it.
    pub(crate) fn start(&mut self, frame: &[u8]) {
        self.len = 0;
        self.anomaly_len = 0;
        self.tunnels = 0;
        self.truncated = false;
        self.frame = (frame.as_ptr() as usize, frame.len());
    }
    /// The stack with the frame it was decoded from; `None` for any other bytes (a stack can
    /// only be read with the frame whose layers it holds).
    pub fn decoded<'a>(&'a self, frame: &'a [u8]) -> Option<Decoded<'a>> {
        (self.frame == (frame.as_ptr() as usize, frame.len())).then_some(Decoded { frame, stack: self })
    }
    /// The layers, outermost first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers[..self.len]
    }
    /// Appends a layer (`tunnel` when it is one); returns false when the stack is full.
    #[inline(always)]
    pub(crate) fn push(&mut self, layer: Layer, tunnel: bool) -> bool {
        let Some(slot) = self.layers.get_mut(self.len) else { return false };
        *slot = layer;
        self.len += 1;
        self.tunnels += usize::from(tunnel);
        true
    }
    /// Records an anomaly (once per kind per frame).
    pub(crate) fn note(&mut self, a: Anomaly) {
        if a == Anomaly::Truncated {
            self.truncated = true;
        }
        if self.anomalies[..self.anomaly_len].contains(&a) || self.anomaly_len == MAX_ANOMALIES {
            return;
        }
        self.anomalies[self.anomaly_len] = a;
        self.anomaly_len += 1;
    }
    /// The anomalies found in this frame.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies[..self.anomaly_len]
    }
    /// Number of tunnel layers.
    pub fn tunnels(&self) -> usize {
        self.tunnels
    }
    /// True when the frame ended before a header it announced.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
    /// Offset of the bytes after the last decoded header (the innermost payload).
    pub fn payload_offset(&self) -> usize {
        self.layers().last().map_or(0, Layer::end)
    }
    /// Index of the first layer of the frame inside the innermost tunnel, or of the frame
    /// inside the `depth`-th tunnel counting from the outside when `depth` is given.
    pub fn inner_start(&self, depth: Option<usize>) -> Option<usize> {
        let mut seen = 0;
        let mut start = None;
        for (i, l) in self.layers().iter().enumerate() {
            if l.tunnel().is_some() {
                seen += 1;
                start = Some(i + 1);
                if Some(seen) == depth {
                    break;
                }
            }
        }
        start.filter(|&s| s < self.len)
    }
    /// Writes the `stack` field (`eth.ip.gre.eth.ip.tcp`) into `f`.
    pub fn write_tokens(&self, f: &mut dyn fmt::Write) -> fmt::Result {
        for (i, l) in self.layers().iter().enumerate() {
            if i > 0 {
                f.write_char('.')?;
            }
            f.write_str(l.proto.token())?;
        }
        Ok(())
    }
    /// The `stack` field as a display adapter.
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens(self)
    }
}

/// Displays a stack's `stack` field.
pub struct Tokens<'a>(&'a Stack);

impl fmt::Display for Tokens<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write_tokens(f)
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stack({}", self.tokens())?;
        if !self.anomalies().is_empty() {
            write!(f, " {:?}", self.anomalies())?;
        }
        f.write_str(")")
    }
}

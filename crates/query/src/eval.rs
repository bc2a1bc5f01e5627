//! Evaluating compiled keys, values and filters over a decoded frame. Values are written as
//! text into buffers the evaluator keeps, so after the first frames nothing is allocated.
use crate::context::{masked, Context};
use crate::filter::{Alternative, Filter};
use crate::key::{Func, Key};
use crate::names::{MetaKey, Source};
use dissect::Decoded;
use std::fmt::Write;
use std::net::IpAddr;
use wire::sflow::{Extended, Interface, Provenance};

/// One frame as the language sees it: its decoded headers and its length on the wire.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    /// The decoded frame.
    pub decoded: Decoded<'a>,
    /// Frame length (the `bytes` key and value).
    pub frame_len: u32,
    /// Where the frame was sampled, when it came in an sFlow sample.
    pub sample: Option<&'a Provenance>,
}

impl<'a> Input<'a> {
    /// A frame that came from a capture (no sFlow sample).
    pub fn new(decoded: Decoded<'a>, frame_len: u32) -> Input<'a> {
        Input { decoded, frame_len, sample: None }
    }
}

/// Appends an interface as sFlow-RT names it: its ifIndex, `unknown`, `internal`, `discard`
/// or `multiple`.
fn write_interface(i: Interface, out: &mut String) {
    match i {
        Interface::Index(0) => out.push_str("unknown"),
        Interface::Index(0x3fff_ffff) => out.push_str("internal"),
        Interface::Index(n) => push_number(out, u64::from(n)),
        Interface::Discard(_) => out.push_str("discard"),
        Interface::Multiple(_) => out.push_str("multiple"),
    }
}

/// Appends an extended-record key of `e`; false when the sample had no such record.
fn write_extended(key: MetaKey, e: &Extended, out: &mut String) -> bool {
    let number = |n: Option<u32>, out: &mut String| n.map(|n| push_number(out, u64::from(n))).is_some();
    let sw = e.switch;
    let gw = e.gateway;
    match key {
        MetaKey::VlanSource => number(sw.map(|s| s.src_vlan), out),
        MetaKey::PrioritySource => number(sw.map(|s| s.src_priority), out),
        MetaKey::VlanDestination => number(sw.map(|s| s.dst_vlan), out),
        MetaKey::PriorityDestination => number(sw.map(|s| s.dst_priority), out),
        MetaKey::IpNextHopRouter => e.router.map(|r| write!(out, "{}", r.next_hop)).is_some(),
        MetaKey::IpSourceMaskBits => number(e.router.map(|r| r.src_mask_len), out),
        MetaKey::IpDestinationMaskBits => number(e.router.map(|r| r.dst_mask_len), out),
        MetaKey::BgpNextHop => gw.map(|g| write!(out, "{}", g.next_hop)).is_some(),
        MetaKey::BgpAs => number(gw.map(|g| g.as_number), out),
        MetaKey::BgpSourceAs => number(gw.map(|g| g.src_as), out),
        MetaKey::BgpSourcePeerAs => number(gw.map(|g| g.src_peer_as), out),
        MetaKey::BgpDestinationAs => number(gw.and_then(|g| g.dst_as), out),
        MetaKey::BgpDestinationPeerAs => number(gw.and_then(|g| g.dst_peer_as), out),
        MetaKey::BgpLocalPref => number(gw.map(|g| g.local_pref), out),
        MetaKey::Agent | MetaKey::InputIfIndex | MetaKey::OutputIfIndex => false,
    }
}

/// Writes `n` in decimal at the end of `buf`; returns where the digits start.
fn digits(buf: &mut [u8], mut n: u64) -> usize {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return i;
        }
    }
}

/// Appends `n` in decimal (without the formatting machinery: this runs for every flow key).
fn push_number(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let start = digits(&mut buf, n);
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
}

/// Appends a field value as its `Display` writes it; numbers and IPv4 addresses directly.
fn push_value(out: &mut String, v: &dissect::Value) {
    match v {
        dissect::Value::Uint(n) => push_number(out, *n),
        dissect::Value::Ipv4(a) => {
            let mut buf = [0u8; 15];
            let n = a.write_text(&mut buf);
            out.push_str(std::str::from_utf8(&buf[..n]).unwrap_or_default());
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// Evaluates keys and filters; holds the scratch buffers it reuses.
#[derive(Debug, Default)]
pub struct Evaluator {
    pool: Vec<String>,
    scratch: String,
}

impl Evaluator {
    /// A new evaluator.
    pub fn new() -> Evaluator {
        Evaluator::default()
    }

    fn take(&mut self) -> String {
        let mut s = self.pool.pop().unwrap_or_else(|| String::with_capacity(64));
        s.clear();
        s
    }

    fn give(&mut self, s: String) {
        self.pool.push(s);
    }

    /// Appends the value of `key` to `out`; false (and nothing appended) when it is missing.
    pub fn key(&mut self, key: &Key, input: &Input<'_>, ctx: &Context, out: &mut String) -> bool {
        match key {
            Key::Literal(s) => {
                out.push_str(s);
                true
            }
            Key::Name { source, .. } => match *source {
                Source::Field(f, n) => match input.decoded.get(f, n) {
                    Some(v) => {
                        push_value(out, &v);
                        true
                    }
                    None => false,
                },
                Source::Stack => {
                    let _ = input.decoded.stack().write_tokens(out);
                    true
                }
                Source::Bytes => {
                    push_number(out, u64::from(input.frame_len));
                    true
                }
                Source::Meta(m) => match input.sample {
                    Some(s) => {
                        match m {
                            MetaKey::Agent => {
                                let _ = write!(out, "{}", s.agent);
                            }
                            MetaKey::InputIfIndex => write_interface(s.input, out),
                            MetaKey::OutputIfIndex => write_interface(s.output, out),
                            other => return write_extended(other, &s.extended, out),
                        }
                        true
                    }
                    None => false,
                },
                Source::Absent => false,
            },
            Key::Func(f) => self.func(f, input, ctx, out),
        }
    }

    /// Evaluates `key` into a pooled buffer; the caller gives it back.
    fn value(&mut self, key: &Key, input: &Input<'_>, ctx: &Context) -> Option<String> {
        let mut s = self.take();
        if self.key(key, input, ctx, &mut s) {
            Some(s)
        } else {
            self.give(s);
            None
        }
    }

    fn func(&mut self, f: &Func, input: &Input<'_>, ctx: &Context, out: &mut String) -> bool {
        match f {
            Func::Prefix { key, delim, n } | Func::Suffix { key, delim, n } => {
                let Some(v) = self.value(key, input, ctx) else { return false };
                let parts = v.split(delim.as_str()).count();
                let skip = if matches!(f, Func::Suffix { .. }) { parts.saturating_sub(*n) } else { 0 };
                for (i, t) in v.split(delim.as_str()).skip(skip).take(*n).enumerate() {
                    if i > 0 {
                        out.push_str(delim);
                    }
                    out.push_str(t);
                }
                self.give(v);
                true
            }
            Func::First { key, delim, tokens } | Func::Last { key, delim, tokens } => {
                let Some(v) = self.value(key, input, ctx) else { return false };
                let found = if matches!(f, Func::First { .. }) {
                    v.split(delim.as_str()).find(|t| tokens.iter().any(|x| x == t))
                } else {
                    v.rsplit(delim.as_str()).find(|t| tokens.iter().any(|x| x == t))
                };
                let ok = found.is_some();
                if let Some(t) = found {
                    out.push_str(t);
                }
                self.give(v);
                ok
            }
            Func::Mask { key, bits } => {
                let Some(v) = self.value(key, input, ctx) else { return false };
                let ok = match v.parse::<IpAddr>() {
                    Ok(a) => {
                        let _ = write!(out, "{}", masked(a, *bits));
                        true
                    }
                    Err(_) => false,
                };
                self.give(v);
                ok
            }
            Func::Bits { key, mask } => {
                let Some(v) = self.value(key, input, ctx) else { return false };
                let n = v.parse::<u64>().ok();
                self.give(v);
                match n {
                    Some(n) => {
                        let _ = write!(out, "{}", n & mask);
                        true
                    }
                    None => false,
                }
            }
            Func::Null { key, default } => {
                if !self.key(key, input, ctx, out) {
                    out.push_str(default);
                }
                true
            }
            Func::Or { keys } => keys.iter().any(|k| self.key(k, input, ctx, out)),
            Func::Eq { a, b } => {
                let va = self.value(a, input, ctx);
                let vb = self.value(b, input, ctx);
                let eq = matches!((&va, &vb), (Some(x), Some(y)) if x == y);
                out.push_str(if eq { "true" } else { "false" });
                va.into_iter().chain(vb).for_each(|s| self.give(s));
                true
            }
            Func::Range { key, lo, hi } => {
                let Some(v) = self.value(key, input, ctx) else { return false };
                let n = v.parse::<f64>().ok();
                self.give(v);
                let Some(n) = n else { return false };
                let inside = n >= *lo && hi.is_none_or(|h| n <= h);
                out.push_str(if inside { "true" } else { "false" });
                true
            }
            Func::If { key, value, then, otherwise } => {
                let v = self.value(key, input, ctx);
                let same = v.as_deref() == Some(value.as_str());
                if let Some(s) = v {
                    self.give(s);
                }
                self.key(if same { then } else { otherwise }, input, ctx, out)
            }
            Func::Concat { sep, keys } => {
                let mark = out.len();
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    if !self.key(k, input, ctx, out) {
                        out.truncate(mark);
                        return false;
                    }
                }
                true
            }
            Func::Group { key, groups } => {
                let Some(v) = self.value(key, input, ctx) else { return false };
                let label =
                    v.parse::<IpAddr>().ok().and_then(|a| groups.iter().find_map(|g| ctx.group_label(g, a)));
                let ok = label.is_some();
                if let Some(l) = label {
                    out.push_str(l);
                }
                self.give(v);
                ok
            }
            Func::Map { key, map } => {
                let Some(v) = self.value(key, input, ctx) else { return false };
                let label = ctx.map_label(map, &v);
                let ok = label.is_some();
                if let Some(l) = label {
                    out.push_str(l);
                }
                self.give(v);
                ok
            }
        }
    }

    /// True when `filter` holds for the frame.
    pub fn matches(&mut self, filter: &Filter, input: &Input<'_>, ctx: &Context) -> bool {
        match filter {
            Filter::Const(b) => *b,
            Filter::Not(f) => !self.matches(f, input, ctx),
            Filter::And(all) => all.iter().all(|f| self.matches(f, input, ctx)),
            Filter::Or(any) => any.iter().any(|f| self.matches(f, input, ctx)),
            Filter::Compare(c) => {
                // A plain field: compare typed values; format only for text and patterns.
                if let Key::Name { source: Source::Field(f, n), .. } = c.key {
                    let v = input.decoded.get(f, n);
                    let mut s = std::mem::take(&mut self.scratch);
                    s.clear();
                    let mut formatted = false;
                    let hit = c.alternatives.iter().any(|a| match (a, v) {
                        (Alternative::Null, v) => v.is_none(),
                        (_, None) => false,
                        (Alternative::Typed(t), Some(v)) => *t == v,
                        (Alternative::Text(t), Some(v)) => {
                            if !formatted {
                                push_value(&mut s, &v);
                                formatted = true;
                            }
                            *t == s
                        }
                        (Alternative::Regex(r), Some(v)) => {
                            if !formatted {
                                push_value(&mut s, &v);
                                formatted = true;
                            }
                            r.is_match(&s)
                        }
                    });
                    self.scratch = s;
                    return hit == c.positive;
                }
                let mut s = std::mem::take(&mut self.scratch);
                s.clear();
                let present = self.key(&c.key, input, ctx, &mut s);
                let hit = c.alternatives.iter().any(|a| match a {
                    Alternative::Null => !present,
                    Alternative::Text(t) => present && *t == s,
                    Alternative::Typed(t) => present && t.to_string() == s,
                    Alternative::Regex(r) => present && r.is_match(&s),
                });
                self.scratch = s;
                hit == c.positive
            }
        }
    }
}

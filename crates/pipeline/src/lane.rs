//! A receiving thread's share of the packet path: decoding, outer reassembly, the filter and
//! the decapsulation decide each frame's fate without touching the shared outputs, so several
//! threads run them at once; the pipeline then counts and writes their decisions (a whole ring
//! block of them under one lock). Each decision keeps its decoded layers until the batch is
//! delivered, so the flow engine reads every frame as it was decoded.
use crate::filter::Filter;
use capture::endpoint::Kind;
use capture::Frame;
use decap::reassembly::{Limits, Offer, ReassemblyCounters};
use decap::{Decapsulator, Drop, Emission, Outcome, Reassembler, StreamKey, StreamKind};
use dissect::{Decoded, Dissector, Proto, Stack};
use std::ops::Range;

/// What a lane decided for one frame.
pub struct Decision {
    /// How the input is counted: by its outermost tunnel's kind, untunnelled, or as an outer
    /// fragment.
    pub kind: InputKind,
    /// The frame completed an outer datagram held for reassembly.
    pub completed: bool,
    /// When the flow engine counts the frame (it passed the filter; outer fragments count one
    /// by one, as received): which of the lane's batch stacks holds the frame's own layers.
    pub counted: Option<usize>,
    /// Which of the lane's batch stacks holds the layers of what is emitted (the frame, or
    /// the datagram it completed).
    pub stack: usize,
    /// The reassembled datagram the decision is about (see [`Lane::data`]), when it is not
    /// the frame itself.
    pub datagram: Option<usize>,
    /// Emitted or dropped.
    pub fate: Fate,
}

/// How an input frame is counted: by the kind of its outermost tunnel, as untunnelled, or as
/// an outer fragment. An index into a table of counts, so that counting takes no search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Its outermost tunnel is of this kind.
    Tunnel(StreamKind),
    /// It has no tunnel.
    Untunnelled,
    /// It is an outer fragment.
    OuterFragment,
}

impl InputKind {
    /// How many there are.
    pub const COUNT: usize = StreamKind::ALL.len() + 2;

    /// Each, in the order of [`InputKind::index`].
    pub fn all() -> impl Iterator<Item = InputKind> {
        let tunnels = StreamKind::ALL.into_iter().map(InputKind::Tunnel);
        tunnels.chain([InputKind::Untunnelled, InputKind::OuterFragment])
    }

    /// Its place among all (below [`InputKind::COUNT`]).
    pub fn index(self) -> usize {
        match self {
            InputKind::Tunnel(k) => k as usize,
            InputKind::Untunnelled => StreamKind::ALL.len(),
            InputKind::OuterFragment => StreamKind::ALL.len() + 1,
        }
    }

    /// The name it is counted by in summaries: the tunnel's, as in stream names,
    /// `untunnelled` or `outer_fragment`.
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Tunnel(k) => k.name(),
            InputKind::Untunnelled => "untunnelled",
            InputKind::OuterFragment => "outer_fragment",
        }
    }

    /// The kind of what is emitted with stream `stream` (none: untunnelled).
    pub fn of(stream: Option<StreamKey>) -> InputKind {
        stream.map_or(InputKind::Untunnelled, |k| InputKind::Tunnel(k.kind))
    }
}

/// Whether a frame is emitted, and how.
pub enum Fate {
    /// Not emitted, for this reason.
    Dropped(Drop),
    /// Accepted, with nothing to emit: the pipeline has no sink that takes frames.
    Kept,
    /// Emitted as `emission` describes.
    Emitted {
        /// The emitted frame's header and body.
        emission: Emission,
        /// Where the ERSPAN III header lies (asked for by ERSPAN timestamps).
        erspan3: Option<Range<usize>>,
        /// The symmetric hash of the emitted frame's conversation (asked for by balancing).
        balance: Option<u64>,
    },
}

/// The decoder's and the reassembler's counts of one lane.
#[derive(Debug, Clone, Default)]
pub struct LaneFigures {
    /// Frames decoded, anomalies and guesses.
    pub decoder: dissect::Counters,
    /// Outer fragments and datagrams.
    pub reassembly: ReassemblyCounters,
}

/// One thread's decoder, reassembler, filter and decapsulator.
pub struct Lane {
    dissector: Dissector,
    decap: Decapsulator,
    filter: Filter,
    reassembler: Reassembler,
    actions: Actions,
    /// The tunnel endpoint this lane receives from: what it does not terminate is dropped;
    /// true when its packets come as whole frames (AF_XDP).
    endpoint: Option<(Kind, bool)>,
    /// The layers of the current batch's decisions; `stacks_used` of them are live.
    stacks: Vec<Stack>,
    stacks_used: usize,
    /// Datagrams completed by reassembly in the current batch; `used` of them are live.
    datagrams: Vec<Vec<u8>>,
    used: usize,
}

impl Lane {
    /// A lane; `want_erspan3` asks decisions to say where the ERSPAN III header is, `balance`
    /// to carry the conversation hash.
    pub fn new(
        dissector: Dissector,
        decap: Decapsulator,
        filter: Filter,
        want_erspan3: bool,
        balance: bool,
    ) -> Lane {
        Lane {
            dissector,
            decap,
            filter,
            reassembler: Reassembler::new(Limits::default()),
            actions: Actions { emit: true, count: false, want_erspan3, balance },
            endpoint: None,
            stacks: Vec::new(),
            stacks_used: 0,
            datagrams: Vec::new(),
            used: 0,
        }
    }

    /// A lane whose decisions say whether the flow engine counts a frame (`count`), and
    /// whether it emits anything (`emit`: false when no sink takes frames).
    pub fn sinks(mut self, emit: bool, count: bool) -> Lane {
        (self.actions.emit, self.actions.count) = (emit, count);
        self
    }

    /// The lane of tunnel endpoint `kind`: packets that are not that tunnel are dropped;
    /// `framed` when they come as whole frames (AF_XDP).
    pub fn for_endpoint(mut self, kind: Kind, framed: bool) -> Lane {
        self.endpoint = Some((kind, framed));
        self
    }

    /// Starts a batch of decisions: the stacks and datagrams of the previous one are done.
    pub fn begin(&mut self) {
        self.used = 0;
        self.stacks_used = 0;
    }

    /// A stack for the next decision of the batch. Only the flow engine reads a decision's
    /// layers after it is made; without it, two stacks (a frame's, a datagram's) serve every
    /// frame and stay in the cache.
    fn next_stack(&mut self) -> usize {
        let keep = self.actions.count;
        let at = if keep { self.stacks_used } else { self.stacks_used % 2 };
        if at == self.stacks.len() {
            self.stacks.push(Stack::new());
        }
        self.stacks_used += 1;
        at
    }

    /// Decides `f`'s fate.
    pub fn decide(&mut self, f: &Frame<'_>) -> Decision {
        // The frame's own stack, and one for the datagram it may complete.
        let (at, whole) = (self.next_stack(), self.next_stack());
        let decoded = self.dissector.dissect(f.data, f.link, &mut self.stacks[at]);
        let dropped = |kind, why| Decision {
            kind,
            completed: false,
            counted: None,
            stack: at,
            datagram: None,
            fate: Fate::Dropped(why),
        };
        // An endpoint's own socket hands over whole datagrams; frames from AF_XDP may be outer
        // fragments, judged once reassembled.
        let not_endpoint =
            |stack: &Stack| self.endpoint.is_some_and(|(k, framed)| !k.terminates(stack, framed));
        let framed = self.endpoint.is_some_and(|(_, framed)| framed);
        if !framed && not_endpoint(decoded.stack()) {
            return dropped(InputKind::Untunnelled, Drop::NotEndpointTunnel);
        }
        let mut d = match self.reassembler.offer(decoded, f.ts_nanos) {
            Offer::Pass if framed && not_endpoint(&self.stacks[at]) => {
                return dropped(InputKind::Untunnelled, Drop::NotEndpointTunnel)
            }
            Offer::Pass => {
                let Some(decoded) = self.stacks[at].decoded(f.data) else {
                    return dropped(InputKind::Untunnelled, Drop::Undecoded);
                };
                let mut d = judge(&self.decap, &mut self.filter, self.actions, decoded, f.orig_len);
                d.stack = at;
                // The filter judged the frame itself.
                d.counted = d.counted.map(|_| at);
                return d;
            }
            Offer::Held => dropped(InputKind::OuterFragment, Drop::FragmentHeld),
            Offer::Refused => dropped(InputKind::OuterFragment, Drop::FragmentRefused),
            Offer::Complete(datagram) => {
                if self.used == self.datagrams.len() {
                    self.datagrams.push(Vec::with_capacity(datagram.len()));
                }
                let data = &mut self.datagrams[self.used];
                data.clear();
                data.extend_from_slice(datagram);
                let decoded = self.dissector.dissect(data, f.link, &mut self.stacks[whole]);
                let mut d = if not_endpoint(decoded.stack()) {
                    dropped(InputKind::Untunnelled, Drop::NotEndpointTunnel)
                } else {
                    judge(&self.decap, &mut self.filter, self.actions, decoded, data.len() as u32)
                };
                (d.completed, d.stack, d.datagram) = (true, whole, Some(self.used));
                self.used += 1;
                d
            }
        };
        // An outer fragment counts in the flow engine as received, when the filter takes it.
        d.counted = None;
        if self.actions.count {
            let frame = self.stacks[at].decoded(f.data);
            if frame.is_some_and(|decoded| self.filter.accepts(&decoded, f.orig_len)) {
                d.counted = Some(at);
            }
        }
        d
    }

    /// The emission of the A-MSDU subframe after `previous` in `data` (see
    /// [`Decapsulator::next_subframe`]).
    pub fn next_subframe(&self, data: &[u8], previous: &Emission) -> Option<Emission> {
        self.decap.next_subframe(data, previous)
    }

    /// The bytes a decision is about: a reassembled datagram, or `frame`.
    pub fn data<'a>(&'a self, d: &Decision, frame: &'a [u8]) -> &'a [u8] {
        d.datagram.and_then(|i| self.datagrams.get(i)).map_or(frame, |d| &d[..])
    }

    /// The decoded frame `frame` whose decision counts it in the flow engine.
    pub fn counted<'a>(&'a self, d: &Decision, frame: &'a [u8]) -> Option<Decoded<'a>> {
        self.stacks.get(d.counted?)?.decoded(frame)
    }

    /// Ends reassembly: what is still incomplete counts as expired.
    pub fn finish(&mut self) {
        self.reassembler.finish();
    }

    /// The lane's counts so far.
    pub fn figures(&self) -> LaneFigures {
        LaneFigures { decoder: self.dissector.counters().clone(), reassembly: self.reassembler.counters }
    }
}

/// What a lane does with a frame the filter accepts.
#[derive(Debug, Clone, Copy)]
struct Actions {
    /// Decapsulate it (false when no sink takes frames: only the flow engine counts them).
    emit: bool,
    /// The flow engine counts accepted frames (outer fragments too, one by one).
    count: bool,
    /// Say where its ERSPAN III header is.
    want_erspan3: bool,
    /// Give the conversation hash of what it emits.
    balance: bool,
}

/// Filters, then decapsulates (as `actions` say), a decoded frame of `orig_len` bytes on the
/// wire.
fn judge(
    decap: &Decapsulator,
    filter: &mut Filter,
    actions: Actions,
    decoded: Decoded<'_>,
    orig_len: u32,
) -> Decision {
    let Actions { emit, want_erspan3, balance, .. } = actions;
    // How the input is counted: by its outermost tunnel's kind.
    let outermost = || InputKind::of(Decapsulator::outermost_stream(decoded));
    // `counted` is set (to its stack) by the caller when the filter accepted the frame.
    let decision = |kind, accepted: bool, fate| Decision {
        kind,
        completed: false,
        counted: accepted.then_some(0),
        stack: 0,
        datagram: None,
        fate,
    };
    if !filter.accepts(&decoded, orig_len) {
        return decision(outermost(), false, Fate::Dropped(Drop::Filtered));
    }
    if !emit {
        return decision(outermost(), true, Fate::Kept);
    }
    let mut kind = None;
    let fate = match decap.decapsulate(decoded, orig_len) {
        Outcome::Dropped(why) => Fate::Dropped(why),
        Outcome::Emitted(emission) => {
            let layers = decoded.stack().layers();
            let erspan3 = want_erspan3
                .then(|| layers.iter().find(|l| l.proto == Proto::Erspan3))
                .flatten()
                .map(|l| l.offset as usize..l.end());
            let balance = balance.then(|| decap::balance::conversation_hash(decoded, emission.first_layer));
            // The outermost tunnel stripped is the outermost there is.
            kind = emission.stream.map(|k| InputKind::Tunnel(k.kind));
            Fate::Emitted { emission, erspan3, balance }
        }
    };
    decision(kind.unwrap_or_else(outermost), true, fate)
}

#[cfg(test)]
mod tests {
    use super::InputKind;

    #[test]
    fn input_kinds_index_a_table_of_their_own_size_by_distinct_names() {
        let kinds: Vec<InputKind> = InputKind::all().collect();
        assert_eq!(kinds.len(), InputKind::COUNT);
        for (i, k) in kinds.iter().enumerate() {
            assert_eq!(k.index(), i, "{k:?}");
        }
        let names: std::collections::BTreeSet<&str> = kinds.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), InputKind::COUNT);
        assert!(names.contains("untunnelled") && names.contains("outer_fragment") && names.contains("vxlan"));
    }
}

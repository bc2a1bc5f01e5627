//! A receiving thread's share of `decap`'s packet path: decoding, outer reassembly, the
//! `--filter` and the decapsulation decide each frame's fate without touching the shared
//! outputs, so several threads run them at once; the job then counts and writes their
//! decisions (a whole ring block of them under one lock).
use crate::filter::Filter;
use capture::Frame;
use decap::reassembly::{Limits, Offer, ReassemblyCounters};
use decap::{Decapsulator, Drop, Emission, Outcome, Reassembler};
use dissect::{Dissector, Proto, Stack};
use std::ops::Range;

/// What a lane decided for one frame.
pub struct Decision {
    /// How the input is counted: its outermost tunnel's kind, `untunnelled` or
    /// `outer_fragment`.
    pub kind: &'static str,
    /// The frame completed an outer datagram held for reassembly.
    pub completed: bool,
    /// Emitted or dropped.
    pub fate: Fate,
}

/// Whether a frame is emitted, and how.
pub enum Fate {
    /// Not emitted, for this reason.
    Dropped(Drop),
    /// Emitted as `emission` describes.
    Emitted {
        /// The emitted frame's header and body.
        emission: Emission,
        /// The reassembled datagram the emission is cut from (see [`Lane::data`]), when it is
        /// not the frame itself.
        datagram: Option<usize>,
        /// Where the ERSPAN III header lies (asked for by `--timestamps erspan`).
        erspan3: Option<Range<usize>>,
        /// The symmetric hash of the emitted frame's conversation (asked for by `--balance`).
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
    stack: Stack,
    decap: Decapsulator,
    filter: Filter,
    reassembler: Reassembler,
    want_erspan3: bool,
    /// The tunnel endpoint this lane receives from: what it does not terminate is dropped.
    endpoint: Option<capture::endpoint::Kind>,
    /// Decisions carry the conversation hash that `--balance` spreads frames by.
    balance: bool,
    /// Datagrams completed by reassembly in the current batch; `used` of them are live.
    datagrams: Vec<Vec<u8>>,
    used: usize,
}

impl Lane {
    /// A lane; `want_erspan3` asks decisions to say where the ERSPAN III header is.
    pub fn new(dissector: Dissector, decap: Decapsulator, filter: Filter, want_erspan3: bool) -> Lane {
        Lane {
            dissector,
            stack: Stack::new(),
            decap,
            filter,
            reassembler: Reassembler::new(Limits::default()),
            want_erspan3,
            endpoint: None,
            balance: false,
            datagrams: Vec::new(),
            used: 0,
        }
    }

    /// A lane whose decisions carry the conversation hash `--balance` needs.
    pub fn balancing(mut self, on: bool) -> Lane {
        self.balance = on;
        self
    }

    /// The lane of tunnel endpoint `kind`: packets that are not that tunnel are dropped.
    pub fn for_endpoint(mut self, kind: capture::endpoint::Kind) -> Lane {
        self.endpoint = Some(kind);
        self
    }

    /// Starts a batch of decisions: the reassembled datagrams of the previous one are done.
    pub fn begin(&mut self) {
        self.used = 0;
    }

    /// Decides `f`'s fate.
    pub fn decide(&mut self, f: &Frame<'_>) -> Decision {
        let decoded = self.dissector.dissect(f.data, f.link, &mut self.stack);
        let fragment = |why| Decision { kind: "outer_fragment", completed: false, fate: Fate::Dropped(why) };
        if self.endpoint.is_some_and(|k| !k.terminates(decoded.stack())) {
            let fate = Fate::Dropped(Drop::NotEndpointTunnel);
            return Decision { kind: "untunnelled", completed: false, fate };
        }
        match self.reassembler.offer(decoded, f.ts_nanos) {
            Offer::Pass => self.judge(f.data, f.orig_len, None),
            Offer::Held => fragment(Drop::FragmentHeld),
            Offer::Refused => fragment(Drop::FragmentRefused),
            Offer::Complete(datagram) => {
                if self.used == self.datagrams.len() {
                    self.datagrams.push(Vec::with_capacity(datagram.len()));
                }
                let mut data = std::mem::take(&mut self.datagrams[self.used]);
                data.clear();
                data.extend_from_slice(datagram);
                self.dissector.dissect(&data, f.link, &mut self.stack);
                let mut d = self.judge(&data, data.len() as u32, Some(self.used));
                d.completed = true;
                self.datagrams[self.used] = data;
                self.used += 1;
                d
            }
        }
    }

    /// The bytes a decision's emission is cut from: a reassembled datagram, or `frame`.
    pub fn data<'a>(&'a self, datagram: Option<usize>, frame: &'a [u8]) -> &'a [u8] {
        datagram.and_then(|i| self.datagrams.get(i)).map_or(frame, |d| &d[..])
    }

    /// Ends reassembly: what is still incomplete counts as expired.
    pub fn finish(&mut self) {
        self.reassembler.finish();
    }

    /// The lane's counts so far.
    pub fn figures(&self) -> LaneFigures {
        LaneFigures { decoder: self.dissector.counters().clone(), reassembly: self.reassembler.counters }
    }

    /// Filters, then decapsulates, the decoded `data`.
    fn judge(&mut self, data: &[u8], orig_len: u32, datagram: Option<usize>) -> Decision {
        let kind = Decapsulator::outermost_tunnel(&self.stack).map_or("untunnelled", |t| t.name());
        // The stack holds `data`'s layers: decoded just before, as frame or datagram.
        let Some(decoded) = self.stack.decoded(data) else {
            return Decision { kind, completed: false, fate: Fate::Dropped(Drop::Undecoded) };
        };
        if !self.filter.accepts(&decoded, orig_len) {
            return Decision { kind, completed: false, fate: Fate::Dropped(Drop::Filtered) };
        }
        let fate = match self.decap.decapsulate(decoded, orig_len).0 {
            Outcome::Dropped(why) => Fate::Dropped(why),
            Outcome::Emitted(emission) => {
                let erspan3 = self
                    .want_erspan3
                    .then(|| self.stack.layers().iter().find(|l| l.proto == Proto::Erspan3))
                    .flatten()
                    .map(|l| l.offset as usize..l.end());
                let balance =
                    self.balance.then(|| decap::balance::conversation_hash(decoded, emission.first_layer));
                Fate::Emitted { emission, datagram, erspan3, balance }
            }
        };
        Decision { kind, completed: false, fate }
    }
}

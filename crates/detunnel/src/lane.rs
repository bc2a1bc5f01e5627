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
            datagrams: Vec::new(),
            used: 0,
        }
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
        self.dissector.dissect(f.data, f.link, &mut self.stack);
        let fragment = |why| Decision { kind: "outer_fragment", completed: false, fate: Fate::Dropped(why) };
        if self.endpoint.is_some_and(|k| !k.terminates(&self.stack)) {
            let fate = Fate::Dropped(Drop::NotEndpointTunnel);
            return Decision { kind: "untunnelled", completed: false, fate };
        }
        match self.reassembler.offer(f.data, &self.stack, f.ts_nanos) {
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

    /// Decapsulates and filters the decoded `data`.
    fn judge(&mut self, data: &[u8], orig_len: u32, datagram: Option<usize>) -> Decision {
        let (outcome, outer) = self.decap.decapsulate(data, orig_len, &self.stack);
        let kind = outer.map_or("untunnelled", |t| t.name());
        // The stack holds `data`'s layers: decoded just before, as frame or datagram.
        let accepted = self.stack.decoded(data).is_some_and(|d| self.filter.accepts(&d, orig_len));
        let fate = if !accepted {
            Fate::Dropped(Drop::Filtered)
        } else {
            match outcome {
                Outcome::Dropped(why) => Fate::Dropped(why),
                Outcome::Emitted(emission) => {
                    let erspan3 = self
                        .want_erspan3
                        .then(|| self.stack.layers().iter().find(|l| l.proto == Proto::Erspan3))
                        .flatten()
                        .map(|l| l.offset as usize..l.end());
                    Fate::Emitted { emission, datagram, erspan3 }
                }
            }
        };
        Decision { kind, completed: false, fate }
    }
}

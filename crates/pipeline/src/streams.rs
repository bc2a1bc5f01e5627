//! The tunnel streams a pipeline has emitted frames of: counted one by one up to a limit, each
//! numbered in the order first seen (its interface in pcapng output), the rest counted
//! together.
use crate::summary::{Counts, StreamCounts};
use decap::StreamKey;
use foldhash::HashMap;
use std::hash::{Hash, Hasher};

/// Most streams tracked one by one; frames of further streams are counted together.
pub const MAX_STREAMS: usize = 65_536;

/// Slots of the cache of streams recently counted (a power of two).
const RECENT: usize = 128;

/// One stream's counts.
#[derive(Debug, Clone, Copy)]
struct Entry {
    frames: u64,
    bytes: u64,
}

/// The streams seen.
pub struct StreamTable {
    // Keyed by what the wire says: the map's hasher is seeded per process.
    ordinals: HashMap<StreamKey, u32>,
    /// Each stream's counts, in the order first seen (its ordinal less one).
    entries: Vec<Entry>,
    /// Streams lately counted, each in the slot [`slot`] gives its key, with its ordinal (0 for
    /// none): most frames find their stream here, without hashing it.
    recent: Vec<(StreamKey, u32)>,
    other: Counts,
}

impl Default for StreamTable {
    fn default() -> StreamTable {
        let none = StreamKey::new(decap::StreamKind::Other, [0u8; 4].into(), [0u8; 4].into(), "", 0);
        StreamTable {
            ordinals: HashMap::default(),
            entries: Vec::new(),
            recent: vec![(none, 0); RECENT],
            other: Counts::default(),
        }
    }
}

/// What counting a frame of a stream found.
pub enum Seen {
    /// A stream seen before, with its number.
    Known(u32),
    /// A new stream, numbered.
    New(u32),
    /// A stream past the limit (number 0: the untunnelled interface).
    Untracked,
}

impl StreamTable {
    /// Counts a frame of `len` bytes of stream `key`.
    #[inline]
    pub fn count(&mut self, key: StreamKey, len: u64) -> Seen {
        let at = slot(&key);
        let (ordinal, new) = match self.recent[at] {
            (cached, ordinal) if ordinal != 0 && cached == key => (ordinal, false),
            _ => {
                let (ordinal, new) = match self.ordinals.get(&key) {
                    Some(&ordinal) => (ordinal, false),
                    None if self.entries.len() >= MAX_STREAMS => {
                        self.other.frames += 1;
                        self.other.bytes += len;
                        return Seen::Untracked;
                    }
                    None => {
                        self.entries.push(Entry { frames: 0, bytes: 0 });
                        let ordinal = self.entries.len() as u32;
                        self.ordinals.insert(key, ordinal);
                        (ordinal, true)
                    }
                };
                self.recent[at] = (key, ordinal);
                (ordinal, new)
            }
        };
        if let Some(e) = self.entries.get_mut(ordinal as usize - 1) {
            e.frames += 1;
            e.bytes += len;
        }
        if new {
            Seen::New(ordinal)
        } else {
            Seen::Known(ordinal)
        }
    }

    /// Every stream, most frames first, and the frames of untracked ones.
    pub fn report(&self) -> (Vec<StreamCounts>, Counts) {
        let mut v: Vec<(&StreamKey, Entry)> = (self.ordinals.iter())
            .filter_map(|(k, &ordinal)| Some((k, *self.entries.get(ordinal as usize - 1)?)))
            .collect();
        v.sort_by(|a, b| b.1.frames.cmp(&a.1.frames).then(a.0.cmp(b.0)));
        let streams = v
            .into_iter()
            .map(|(k, e)| StreamCounts {
                name: k.to_string(),
                kind: k.kind.name().to_string(),
                source: k.source().to_string(),
                destination: k.destination().to_string(),
                id: k.id,
                frames: e.frames,
                bytes: e.bytes,
            })
            .collect();
        (streams, self.other)
    }
}

/// The cache slot of `key`: the two words its `Hash` writes, folded with one multiplication
/// (cheaper than the map's seeded hash; a stream that shares a slot is found in the map).
fn slot(key: &StreamKey) -> usize {
    let mut fold = Fold(0);
    key.hash(&mut fold);
    (fold.finish() >> (64 - RECENT.trailing_zeros())) as usize
}

/// Folds the words written into it.
struct Fold(u64);

impl Hasher for Fold {
    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.write_u64(u64::from(b)));
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = self.0.rotate_left(29) ^ word;
    }

    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use decap::StreamKind;

    fn vxlan(vni: u32) -> StreamKey {
        StreamKey::new(StreamKind::Vxlan, [10, 0, 0, 1].into(), [10, 0, 0, 2].into(), "vni", vni)
    }

    #[test]
    fn streams_are_numbered_as_first_seen_and_counted_through_the_cache_and_the_map() {
        let mut table = StreamTable::default();
        // More streams than cache slots, so that some share a slot and are found in the map.
        let streams = RECENT as u32 * 3;
        for round in 0..3u64 {
            for vni in 0..streams {
                let seen = table.count(vxlan(vni), 100 + u64::from(vni));
                match (round, seen) {
                    (0, Seen::New(n)) | (1.., Seen::Known(n)) => assert_eq!(n, vni + 1),
                    _ => panic!("vni {vni}, round {round}: not numbered in order"),
                }
            }
        }
        let (counts, other) = table.report();
        assert_eq!(counts.len(), streams as usize);
        assert_eq!((other.frames, other.bytes), (0, 0));
        for c in counts {
            assert_eq!((c.frames, c.bytes), (3, 3 * (100 + u64::from(c.id))), "{}", c.name);
        }
    }

    #[test]
    fn streams_past_the_limit_are_counted_together() {
        let mut table = StreamTable::default();
        for vni in 0..MAX_STREAMS as u32 {
            table.count(vxlan(vni), 1);
        }
        assert!(matches!(table.count(vxlan(MAX_STREAMS as u32), 60), Seen::Untracked));
        assert!(matches!(table.count(vxlan(MAX_STREAMS as u32), 60), Seen::Untracked));
        assert!(matches!(table.count(vxlan(7), 60), Seen::Known(8)));
        let (counts, other) = table.report();
        assert_eq!(counts.len(), MAX_STREAMS);
        assert_eq!((other.frames, other.bytes), (2, 120));
    }
}

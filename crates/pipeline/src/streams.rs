//! The tunnel streams a pipeline has emitted frames of: counted one by one up to a limit, each
//! numbered in the order first seen (its interface in pcapng output), the rest counted
//! together.
use crate::summary::{Counts, StreamCounts};
use decap::StreamKey;
use foldhash::HashMap;

/// Most streams tracked one by one; frames of further streams are counted together.
pub const MAX_STREAMS: usize = 65_536;

/// One stream's counts and number.
#[derive(Debug, Clone, Copy)]
struct Entry {
    frames: u64,
    bytes: u64,
    /// 1 for the first stream seen, 2 for the next, ...
    ordinal: u32,
}

/// The streams seen.
#[derive(Default)]
pub struct StreamTable {
    // Keyed by what the wire says: the map's hasher is seeded per process.
    entries: HashMap<StreamKey, Entry>,
    other: Counts,
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
    pub fn count(&mut self, key: StreamKey, len: u64) -> Seen {
        if let Some(e) = self.entries.get_mut(&key) {
            e.frames += 1;
            e.bytes += len;
            return Seen::Known(e.ordinal);
        }
        if self.entries.len() >= MAX_STREAMS {
            self.other.frames += 1;
            self.other.bytes += len;
            return Seen::Untracked;
        }
        let ordinal = self.entries.len() as u32 + 1;
        self.entries.insert(key, Entry { frames: 1, bytes: len, ordinal });
        Seen::New(ordinal)
    }

    /// Every stream, most frames first, and the frames of untracked ones.
    pub fn report(&self) -> (Vec<StreamCounts>, Counts) {
        let mut v: Vec<(&StreamKey, &Entry)> = self.entries.iter().collect();
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

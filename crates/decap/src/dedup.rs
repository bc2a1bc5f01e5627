//! Duplicate suppression: drops a frame identical to one emitted within the last few
//! milliseconds (the same packet mirrored at ingress and egress). A fixed table of recent
//! frames, found by a hash keyed with a secret chosen at start (so nobody can aim frames at
//! one slot), holds where each frame's bytes are kept in a fixed ring of recent bytes: a
//! frame is a duplicate only when its bytes equal the kept ones. Memory is bounded; a frame
//! whose bytes the ring has already overwritten cannot be compared, so its repeat is let
//! through (counted), never a distinct frame dropped.

/// Slots in the table of recent frames.
pub const SLOTS: usize = 1 << 16;
/// Bytes of recent frames kept for comparison.
pub const RING_BYTES: usize = 16 << 20;

/// A recent frame: its hash, when it was seen, and where its bytes are in the ring.
#[derive(Clone, Copy, Default)]
struct Slot {
    hash: u64,
    /// Capture time, 0 for an empty slot.
    ts: u64,
    /// Position of its bytes in the stream of bytes written to the ring.
    at: u64,
    len: u32,
}

/// The window of recently emitted frames.
pub struct Dedup {
    window_nanos: u64,
    key: (u64, u64),
    slots: Box<[Slot]>,
    ring: Box<[u8]>,
    /// Bytes written to the ring so far (its write position is this modulo its size).
    written: u64,
    /// Repeats let through because the first frame's bytes had left the ring.
    pub unverified: u64,
}

impl Dedup {
    /// A window of `window_ms` milliseconds.
    pub fn new(window_ms: u64) -> Dedup {
        Dedup {
            window_nanos: window_ms.saturating_mul(1_000_000),
            key: secret_key(),
            slots: vec![Slot::default(); SLOTS].into_boxed_slice(),
            ring: vec![0u8; RING_BYTES].into_boxed_slice(),
            written: 0,
            unverified: 0,
        }
    }

    /// True when `frame`, seen at `ts_nanos`, repeats one seen within the window; otherwise
    /// remembers it.
    pub fn is_duplicate(&mut self, frame: &[u8], ts_nanos: u64) -> bool {
        self.is_duplicate_parts(&[], frame, ts_nanos)
    }

    /// Like [`Dedup::is_duplicate`] for a frame given as a header and a body.
    pub fn is_duplicate_parts(&mut self, head: &[u8], body: &[u8], ts_nanos: u64) -> bool {
        let len = head.len() + body.len();
        let h = hash(self.key, head, body);
        let i = (h as usize) & (SLOTS - 1);
        let slot = self.slots[i];
        let recent = slot.ts != 0 && slot.hash == h && ts_nanos.saturating_sub(slot.ts) <= self.window_nanos;
        if recent && slot.len as usize == len {
            match self.kept(slot) {
                Some(kept) if kept.starts_with(head) && &kept[head.len()..] == body => return true,
                Some(_) => {}
                None => self.unverified += 1,
            }
        }
        self.slots[i] = self.keep(h, head, body, ts_nanos.max(1));
        false
    }

    /// The bytes of `slot`'s frame, unless the ring has overwritten them since.
    fn kept(&self, slot: Slot) -> Option<&[u8]> {
        if self.written - slot.at > RING_BYTES as u64 {
            return None;
        }
        let start = (slot.at % RING_BYTES as u64) as usize;
        self.ring.get(start..start + slot.len as usize)
    }

    /// Copies a frame into the ring (whole, wrapping to the start when it does not fit
    /// before the end) and describes it.
    fn keep(&mut self, hash: u64, head: &[u8], body: &[u8], ts: u64) -> Slot {
        let len = head.len() + body.len();
        if len > RING_BYTES {
            return Slot { hash, ts, at: 0, len: u32::MAX };
        }
        let mut start = (self.written % RING_BYTES as u64) as usize;
        if start + len > RING_BYTES {
            self.written += (RING_BYTES - start) as u64;
            start = 0;
        }
        self.ring[start..start + head.len()].copy_from_slice(head);
        self.ring[start + head.len()..start + len].copy_from_slice(body);
        let at = self.written;
        self.written += len as u64;
        Slot { hash, ts, at, len: len as u32 }
    }
}

/// A secret for the hash, different in every process: from the standard library's random
/// hasher seed, so nothing outside can predict which frames share a slot.
fn secret_key() -> (u64, u64) {
    use std::hash::{BuildHasher, Hasher};
    let s = std::collections::hash_map::RandomState::new();
    let mut a = s.build_hasher();
    a.write_u64(0x5851_f42d_4c95_7f2d);
    let mut b = s.build_hasher();
    b.write_u64(0x1405_7b7e_f767_814f);
    (a.finish(), b.finish() | 1)
}

/// A fast 64-bit hash of the bytes of `head` then `body` (multiply-rotate over 8-byte words,
/// started from the secret key), the same whichever way a frame is split between them.
fn hash(key: (u64, u64), head: &[u8], body: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = key.0 ^ ((head.len() + body.len()) as u64).wrapping_mul(K);
    let mut word = [0u8; 8];
    let mut filled = 0;
    let step = |h: u64, w: u64| (h ^ w).wrapping_mul(key.1).rotate_left(29);
    // The header's bytes first, word by word, then the body's.
    for b in head {
        word[filled] = *b;
        filled += 1;
        if filled == 8 {
            h = step(h, u64::from_le_bytes(word));
            filled = 0;
        }
    }
    let mut rest = body;
    while filled != 0 && !rest.is_empty() {
        word[filled] = rest[0];
        rest = &rest[1..];
        filled = (filled + 1) % 8;
        if filled == 0 {
            h = step(h, u64::from_le_bytes(word));
        }
    }
    let mut chunks = rest.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = step(h, w);
    }
    for x in chunks.remainder() {
        word[filled] = *x;
        filled += 1;
    }
    for (i, x) in word[..filled].iter().enumerate() {
        h ^= u64::from(*x) << (8 * i);
    }
    (h ^ (h >> 32)).wrapping_mul(K)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window() {
        let mut d = Dedup::new(10);
        let f = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert!(!d.is_duplicate(&f, 1_000_000));
        assert!(d.is_duplicate(&f, 5_000_000));
        assert!(!d.is_duplicate(&f, 50_000_000), "outside the window it is new again");
        assert!(!d.is_duplicate(&[1u8, 2, 3], 50_000_001));
        // The same bytes split differently between header and body are the same frame.
        let bytes: Vec<u8> = (0..40).collect();
        assert_eq!(hash(d.key, &bytes[..14], &bytes[14..]), hash(d.key, &[], &bytes));
        assert_eq!(hash(d.key, &bytes[..3], &bytes[3..]), hash(d.key, &bytes, &[]));
        assert!(!d.is_duplicate_parts(&bytes[..14], &bytes[14..], 60_000_000));
        assert!(d.is_duplicate(&bytes, 61_000_000));
    }

    #[test]
    fn only_identical_frames_are_dropped() {
        // Two different frames in the same slot with the same hash: force it by writing the
        // first one's slot as if the second had hashed alike.
        let mut d = Dedup::new(10);
        let a = [7u8; 64];
        let mut b = a;
        b[10] = 8;
        assert!(!d.is_duplicate(&a, 1_000));
        let hb = hash(d.key, &[], &b);
        let ia = (hash(d.key, &[], &a) as usize) & (SLOTS - 1);
        let ib = (hb as usize) & (SLOTS - 1);
        d.slots[ib] = Slot { hash: hb, ..d.slots[ia] };
        assert!(!d.is_duplicate(&b, 2_000), "a colliding but different frame is not a duplicate");
        assert!(d.is_duplicate(&b, 3_000), "its own repeat is");
        // Keys differ from process to process (and from one table to the next).
        assert_ne!(Dedup::new(10).key, d.key);
    }

    #[test]
    fn overwritten_bytes_let_the_repeat_through_and_count_it() {
        let mut d = Dedup::new(1_000);
        // A fixed key, so which slots the frames take is the same at every run.
        d.key = (1, 3);
        let first = vec![1u8; 60_000];
        assert!(!d.is_duplicate(&first, 1));
        // Fill the ring with other frames within the window.
        for i in 0..(RING_BYTES / 60_000 + 2) {
            let mut f = vec![2u8; 60_000];
            f[..8].copy_from_slice(&(i as u64).to_le_bytes());
            d.is_duplicate(&f, 2);
        }
        assert!(!d.is_duplicate(&first, 3));
        assert_eq!(d.unverified, 1);
    }
}

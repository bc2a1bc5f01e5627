//! Duplicate suppression: drops a frame identical to one emitted within the last few
//! milliseconds (the same packet mirrored at ingress and egress). A fixed table of recent
//! frame hashes: bounded memory, constant time, and a collision only ever lets a duplicate
//! through, never drops a distinct frame wrongly unless two different frames share a 64-bit
//! hash within the window.

/// Slots in the table of recent frames.
pub const SLOTS: usize = 1 << 16;

/// The window of recently emitted frames.
pub struct Dedup {
    window_nanos: u64,
    slots: Box<[(u64, u64)]>,
}

impl Dedup {
    /// A window of `window_ms` milliseconds.
    pub fn new(window_ms: u64) -> Dedup {
        Dedup {
            window_nanos: window_ms.saturating_mul(1_000_000),
            slots: vec![(0, 0); SLOTS].into_boxed_slice(),
        }
    }

    /// True when `frame`, seen at `ts_nanos`, repeats one seen within the window; otherwise
    /// remembers it.
    pub fn is_duplicate(&mut self, frame: &[u8], ts_nanos: u64) -> bool {
        self.is_duplicate_parts(&[], frame, ts_nanos)
    }

    /// Like [`Dedup::is_duplicate`] for a frame given as a header and a body.
    pub fn is_duplicate_parts(&mut self, head: &[u8], body: &[u8], ts_nanos: u64) -> bool {
        let h = hash(head, body);
        let slot = &mut self.slots[(h as usize) & (SLOTS - 1)];
        let dup = slot.0 == h && slot.1 != 0 && ts_nanos.saturating_sub(slot.1) <= self.window_nanos;
        if !dup {
            *slot = (h, ts_nanos.max(1));
        }
        dup
    }
}

/// A fast 64-bit hash of the bytes of `head` then `body` (multiply-rotate over 8-byte
/// words), the same whichever way a frame is split between them.
fn hash(head: &[u8], body: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = ((head.len() + body.len()) as u64).wrapping_mul(K);
    let mut word = [0u8; 8];
    let mut filled = 0;
    // The header's bytes first, word by word, then the body's.
    for b in head {
        word[filled] = *b;
        filled += 1;
        if filled == 8 {
            h = (h ^ u64::from_le_bytes(word)).wrapping_mul(K).rotate_left(29);
            filled = 0;
        }
    }
    let mut rest = body;
    while filled != 0 && !rest.is_empty() {
        word[filled] = rest[0];
        rest = &rest[1..];
        filled = (filled + 1) % 8;
        if filled == 0 {
            h = (h ^ u64::from_le_bytes(word)).wrapping_mul(K).rotate_left(29);
        }
    }
    let mut chunks = rest.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
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
        assert_eq!(hash(&bytes[..14], &bytes[14..]), hash(&[], &bytes));
        assert_eq!(hash(&bytes[..3], &bytes[3..]), hash(&bytes, &[]));
    }
}

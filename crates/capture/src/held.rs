//! Frames a sink holds back to send later (after its worker lets go of a lock it shares with
//! others): one after another in one buffer, so that holding allocates nothing per frame once
//! the buffer has grown.

/// Bytes held before the holder should send them even though it was not asked to yet.
const MAX_HELD: usize = 1 << 20;

/// Frames held, each with a mark of the holder's (where its tunnel header ends, say).
#[derive(Default)]
pub(crate) struct HeldFrames {
    bytes: Vec<u8>,
    /// Where each frame ends, and its mark.
    ends: Vec<(usize, usize)>,
}

impl HeldFrames {
    /// Holds a frame given in `parts`, with `mark`; true when [`MAX_HELD`] bytes are held.
    pub(crate) fn push(&mut self, parts: &[&[u8]], mark: usize) -> bool {
        parts.iter().for_each(|p| self.bytes.extend_from_slice(p));
        self.ends.push((self.bytes.len(), mark));
        self.bytes.len() >= MAX_HELD
    }

    /// Calls `f` with each frame held and its mark, in the order held, and lets them go (the
    /// room is kept).
    pub(crate) fn send(&mut self, mut f: impl FnMut(&[u8], usize)) {
        let mut start = 0;
        for &(end, mark) in &self.ends {
            f(&self.bytes[start..end], mark);
            start = end;
        }
        self.bytes.clear();
        self.ends.clear();
    }
}

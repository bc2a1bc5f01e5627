//! A bounded log of numbered entries (events, flow records): the oldest go when it is full, and
//! readers ask for what came after the last number they saw.
use std::collections::VecDeque;

/// Entries numbered from 1, at most `capacity` of them kept.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    entries: VecDeque<(u64, T)>,
    capacity: usize,
    last: u64,
    /// Entries pushed out before anyone could have read them all.
    pub dropped: u64,
}

impl<T> Ring<T> {
    /// An empty log keeping `capacity` entries.
    pub fn new(capacity: usize) -> Ring<T> {
        Ring { entries: VecDeque::new(), capacity: capacity.max(1), last: 0, dropped: 0 }
    }

    /// Appends `entry` and returns its number.
    pub fn push(&mut self, entry: T) -> u64 {
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.last += 1;
        self.entries.push_back((self.last, entry));
        self.last
    }

    /// The number of the newest entry (0 when none was pushed).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Entries numbered after `after` that pass `keep`, newest first, at most `max`.
    pub fn after(&self, after: u64, max: usize, keep: impl Fn(&T) -> bool) -> Vec<(u64, &T)> {
        self.entries
            .iter()
            .rev()
            .take_while(|(id, _)| *id > after)
            .filter(|(_, e)| keep(e))
            .take(max)
            .map(|(id, e)| (*id, e))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_after_a_number_and_bounded() {
        let mut r = Ring::new(3);
        for c in ['a', 'b', 'c', 'd'] {
            r.push(c);
        }
        assert_eq!(r.dropped, 1);
        assert_eq!(r.after(0, 10, |_| true), [(4, &'d'), (3, &'c'), (2, &'b')]);
        assert_eq!(r.after(3, 10, |_| true), [(4, &'d')]);
        assert_eq!(r.after(0, 1, |&c| c != 'd'), [(3, &'c')]);
        assert_eq!(r.last(), 4);
    }
}

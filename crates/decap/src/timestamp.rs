//! ERSPAN type III timestamps. The header carries the low 32 bits of a hardware counter
//! whose unit is its granularity (100 µs, 100 ns, IEEE 1588 or custom); at 100 ns it wraps
//! every 429.5 s. Platform sub-headers 3 and 7 add the upper 32 bits.
//!
//! Rebuilding the time: the counter's epoch is the device's, not the Unix epoch, so the
//! first frame of each stream anchors the counter to its capture time; every later frame
//! gets the anchor plus the counter's advance, the 32-bit counter extended across wraps by
//! signed modulo-2^32 steps. IEEE 1588 with the upper word present is absolute (seconds and
//! nanoseconds) and is used as it is. A stream whose rebuilt time drifts more than an hour
//! from its capture time (a counter reset) is anchored again.
use crate::stream::StreamKey;
use std::collections::HashMap;

/// Most streams whose clocks are followed; frames of further streams keep capture time.
pub const MAX_STREAMS: usize = 65_536;
const REANCHOR_NANOS: i128 = 3_600 * 1_000_000_000;

#[derive(Debug, Clone, Copy)]
struct Clock {
    anchor_capture: i128,
    anchor_counter: i128,
    last_raw: u32,
    last_counter: i128,
}

/// Rebuilds frame times from ERSPAN III timestamps, per tunnel stream.
#[derive(Debug, Default)]
pub struct ErspanClock {
    clocks: HashMap<StreamKey, Clock>,
    /// Frames whose time came from the ERSPAN timestamp.
    pub rebuilt: u64,
    /// Times a stream was anchored again after its counter jumped.
    pub reanchored: u64,
    /// Frames left at capture time because too many streams were followed.
    pub untracked: u64,
}

impl ErspanClock {
    /// A clock with no streams yet.
    pub fn new() -> ErspanClock {
        ErspanClock::default()
    }

    /// The time of a frame of `stream` captured at `capture_ns`, from the ERSPAN III header
    /// `header` (12 or 20 bytes); `None` when the header is not type III.
    pub fn time(&mut self, stream: StreamKey, capture_ns: u64, header: &[u8]) -> Option<u64> {
        let p = wire::erspan::Packet::new_checked(header).ok()?;
        if p.version() != wire::erspan::VERSION_TYPE3 {
            return None;
        }
        let low = p.timestamp();
        let high = p.platform().and_then(|pl| pl.timestamp_high());
        let gra = p.granularity();
        if gra == 2 {
            if let Some(seconds) = high {
                self.rebuilt += 1;
                return Some(u64::from(seconds) * 1_000_000_000 + u64::from(low.min(999_999_999)));
            }
        }
        let unit: i128 = match gra {
            0 => 100_000,
            1 => 100,
            _ => 1,
        };
        let capture = i128::from(capture_ns);
        if !self.clocks.contains_key(&stream) && self.clocks.len() >= MAX_STREAMS {
            self.untracked += 1;
            return None;
        }
        let clock = self.clocks.entry(stream).or_insert(Clock {
            anchor_capture: capture,
            anchor_counter: counter(high, low, 0, low),
            last_raw: low,
            last_counter: counter(high, low, 0, low),
        });
        let c = counter(high, low, clock.last_counter, clock.last_raw);
        let mut t = clock.anchor_capture + (c - clock.anchor_counter) * unit;
        if (t - capture).abs() > REANCHOR_NANOS {
            clock.anchor_capture = capture;
            clock.anchor_counter = c;
            t = capture;
            self.reanchored += 1;
        }
        clock.last_raw = low;
        clock.last_counter = c;
        self.rebuilt += 1;
        Some(t.max(0) as u64)
    }
}

/// The extended counter: the 64-bit value when the upper word is known, else the previous
/// extended value advanced by the signed 32-bit step from the previous raw value.
fn counter(high: Option<u32>, low: u32, last_counter: i128, last_raw: u32) -> i128 {
    match high {
        Some(h) => (i128::from(h) << 32) | i128::from(low),
        None => last_counter + i128::from(low.wrapping_sub(last_raw) as i32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use wire::erspan::{Platform, Type3Repr};

    fn header(ts: u32, gra: u8, platform: Option<Platform>) -> Vec<u8> {
        let r = Type3Repr {
            vlan: 0,
            cos: 0,
            bso: 0,
            truncated: false,
            session_id: 7,
            timestamp: ts,
            sgt: 0,
            p: true,
            frame_type: 0,
            hw_id: 1,
            egress: false,
            granularity: gra,
            platform,
        };
        let mut b = vec![0; r.header_len()];
        r.emit(&mut b);
        b
    }

    fn key() -> StreamKey {
        StreamKey::new(
            crate::StreamKind::Erspan3,
            IpAddr::from([10, 0, 0, 1]),
            IpAddr::from([10, 0, 0, 2]),
            "session",
            7,
        )
    }

    #[test]
    fn wraps_at_100ns() {
        let mut c = ErspanClock::new();
        let t0 = 1_700_000_000_000_000_000u64;
        // Start 1 s before the 32-bit counter wraps (4,294,967,295 x 100 ns = 429.5 s).
        let start = u32::MAX - 10_000_000;
        assert_eq!(c.time(key(), t0, &header(start, 1, None)), Some(t0));
        // 2 s later the counter has wrapped; the capture clock is 3 ms off.
        let later = start.wrapping_add(20_000_000);
        assert_eq!(c.time(key(), t0 + 2_003_000_000, &header(later, 1, None)), Some(t0 + 2_000_000_000));
        // Across several wraps, step by step (every 100 s).
        let mut raw = later;
        let mut want = t0 + 2_000_000_000;
        for _ in 0..20 {
            raw = raw.wrapping_add(1_000_000_000);
            want += 100_000_000_000;
            assert_eq!(c.time(key(), want + 5_000, &header(raw, 1, None)), Some(want));
        }
    }

    #[test]
    fn ieee1588_with_upper_word_is_absolute() {
        let mut c = ErspanClock::new();
        let h = header(
            123_456_789,
            2,
            Some(Platform::PortTimestamp { port_index: 1, timestamp_high: 1_700_000_000 }),
        );
        assert_eq!(c.time(key(), 5, &h), Some(1_700_000_000_123_456_789));
    }

    #[test]
    fn counter_reset_reanchors() {
        let mut c = ErspanClock::new();
        let t0 = 1_700_000_000_000_000_000u64;
        c.time(key(), t0, &header(1_000, 0, None));
        // A jump of two billion 100 µs units (55 hours) cannot be real: anchor again.
        assert_eq!(c.time(key(), t0 + 1_000, &header(2_000_001_000, 0, None)), Some(t0 + 1_000));
        assert_eq!(c.reanchored, 1);
    }
}

//! Per-agent sFlow accounting: datagrams, samples, malformed datagrams, and what the datagram
//! sequence numbers say about the path from the agent — datagrams lost, duplicated, arriving
//! out of order, and agent restarts.
use std::collections::HashMap;
use std::net::IpAddr;

/// Sequence numbers further back than this many from the highest seen are not tracked one by
/// one: such a datagram counts as out of order, and its earlier count as lost stays.
pub const WINDOW: u32 = 64;

/// A sequence number that goes backwards beyond [`WINDOW`], or any backwards step while the
/// agent's uptime went back by more than this, is an agent restart rather than reordering.
pub const RESTART_UPTIME_MS: u32 = 10_000;

/// What one sequence number was, given those seen before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The first seen, or the next after the highest seen, or after a gap of `lost`.
    Ahead {
        /// Sequence numbers skipped (counted as lost until they arrive).
        lost: u32,
    },
    /// Older than the highest seen and not seen before (it had been counted as lost when
    /// `recovered`).
    OutOfOrder {
        /// The loss counted for it is taken back.
        recovered: bool,
    },
    /// Seen before.
    Duplicate,
    /// The sender restarted its numbering.
    Restart,
}

/// Tracks one sender's sequence numbers with a bitmap of the last [`WINDOW`] (as IPsec's
/// anti-replay window does), so duplicates and late arrivals are told apart exactly and memory
/// is constant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sequence {
    /// Highest sequence number seen in this numbering.
    highest: u32,
    /// Bit `k` set: `highest - k` was seen.
    seen: u64,
    /// How many numbers back from `highest` this numbering started (bits beyond were never
    /// counted as lost).
    span: u32,
    /// The sender's uptime with `highest`.
    uptime_ms: u32,
    started: bool,
}

impl Sequence {
    /// Records `sequence`, sent when the sender had been up `uptime_ms`.
    pub fn observe(&mut self, sequence: u32, uptime_ms: u32) -> Arrival {
        if !self.started {
            self.restart(sequence, uptime_ms);
            return Arrival::Ahead { lost: 0 };
        }
        let ahead = sequence.wrapping_sub(self.highest);
        if ahead != 0 && ahead < 1 << 31 {
            self.seen = if ahead >= WINDOW { 1 } else { (self.seen << ahead) | 1 };
            self.span = self.span.saturating_add(ahead);
            self.highest = sequence;
            self.uptime_ms = uptime_ms;
            return Arrival::Ahead { lost: ahead - 1 };
        }
        let back = self.highest.wrapping_sub(sequence);
        let uptime_fell = self.uptime_ms.wrapping_sub(uptime_ms);
        if back >= WINDOW || (back > 0 && uptime_fell > RESTART_UPTIME_MS && uptime_fell < 1 << 31) {
            if back >= WINDOW && uptime_fell <= RESTART_UPTIME_MS {
                // A very late datagram from the same numbering: too old to track.
                return Arrival::OutOfOrder { recovered: false };
            }
            self.restart(sequence, uptime_ms);
            return Arrival::Restart;
        }
        let bit = 1u64 << back;
        if self.seen & bit != 0 {
            return Arrival::Duplicate;
        }
        self.seen |= bit;
        Arrival::OutOfOrder { recovered: back <= self.span }
    }

    fn restart(&mut self, sequence: u32, uptime_ms: u32) {
        *self = Sequence { highest: sequence, seen: 1, span: 0, uptime_ms, started: true };
    }
}

/// What was seen from one agent (one sub-agent of it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Flow samples in them.
    pub flow_samples: u64,
    /// Counter samples in them.
    pub counter_samples: u64,
    /// Datagrams that could not be read to the end (what came before the fault is counted).
    pub malformed: u64,
    /// Datagrams missing from the sequence numbers (less those that arrived late).
    pub lost: u64,
    /// Datagrams received twice.
    pub duplicates: u64,
    /// Datagrams that arrived after a later one.
    pub out_of_order: u64,
    /// Times the agent restarted its sequence numbers.
    pub restarts: u64,
}

/// Identifies an sFlow sender: agent address and sub-agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId {
    /// The agent address in the datagram header (not the UDP source).
    pub address: IpAddr,
    /// The sub-agent.
    pub sub_agent: u32,
}

/// Statistics for every agent seen, bounded: past `max_agents` new agents are counted in
/// `refused` only.
#[derive(Debug, Clone)]
pub struct Agents {
    agents: HashMap<AgentId, (Sequence, AgentStats)>,
    max_agents: usize,
    /// Datagrams from agents beyond `max_agents`.
    pub refused: u64,
}

impl Agents {
    /// Tracks at most `max_agents` agents.
    pub fn new(max_agents: usize) -> Agents {
        Agents { agents: HashMap::new(), max_agents, refused: 0 }
    }

    /// Records a datagram header; returns the agent's statistics to count its samples in, or
    /// `None` if the agent is one too many.
    pub fn datagram(&mut self, agent: AgentId, sequence: u32, uptime_ms: u32) -> Option<&mut AgentStats> {
        if !self.agents.contains_key(&agent) && self.agents.len() >= self.max_agents {
            self.refused += 1;
            return None;
        }
        let (seq, stats) = self.agents.entry(agent).or_default();
        stats.datagrams += 1;
        match seq.observe(sequence, uptime_ms) {
            Arrival::Ahead { lost } => stats.lost += u64::from(lost),
            Arrival::OutOfOrder { recovered } => {
                stats.out_of_order += 1;
                if recovered {
                    stats.lost = stats.lost.saturating_sub(1);
                }
            }
            Arrival::Duplicate => stats.duplicates += 1,
            Arrival::Restart => stats.restarts += 1,
        }
        Some(stats)
    }

    /// Every agent and its statistics, in address order.
    pub fn list(&self) -> Vec<(AgentId, AgentStats)> {
        let mut v: Vec<_> = self.agents.iter().map(|(id, (_, s))| (*id, *s)).collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seqs: &[(u32, u32)]) -> AgentStats {
        let mut a = Agents::new(4);
        let id = AgentId { address: IpAddr::from([10, 0, 0, 1]), sub_agent: 0 };
        for &(s, up) in seqs {
            a.datagram(id, s, up).unwrap();
        }
        a.list()[0].1
    }

    fn seq(list: &[u32]) -> AgentStats {
        run(&list.iter().map(|&s| (s, s.wrapping_add(1_000_000))).collect::<Vec<_>>())
    }

    #[test]
    fn in_order_and_gaps() {
        let s = seq(&[5, 6, 7, 10, 11]);
        assert_eq!((s.datagrams, s.lost, s.out_of_order, s.duplicates), (5, 2, 0, 0));
    }

    #[test]
    fn late_arrival_takes_back_its_loss() {
        let s = seq(&[1, 2, 4, 3, 5]);
        assert_eq!((s.lost, s.out_of_order, s.duplicates), (0, 1, 0));
        // Arriving before the first one seen: out of order, no loss to take back.
        let s = seq(&[10, 9]);
        assert_eq!((s.lost, s.out_of_order), (0, 1));
    }

    #[test]
    fn duplicates_within_window() {
        let s = seq(&[1, 2, 3, 3, 1, 2, 4]);
        assert_eq!((s.lost, s.out_of_order, s.duplicates), (0, 0, 3));
        // A late one, then the same again.
        let s = seq(&[1, 3, 2, 2]);
        assert_eq!((s.lost, s.out_of_order, s.duplicates), (0, 1, 1));
    }

    #[test]
    fn wraps_around() {
        let s = seq(&[u32::MAX - 1, u32::MAX, 0, 2]);
        assert_eq!((s.lost, s.restarts), (1, 0));
    }

    #[test]
    fn restarts() {
        // Sequence back to 1 with uptime near zero: restart, nothing lost or out of order.
        let s = run(&[(500, 3_600_000), (501, 3_601_000), (1, 2_000), (2, 3_000)]);
        assert_eq!((s.lost, s.out_of_order, s.duplicates, s.restarts), (0, 0, 0, 1));
        // Far back without the uptime falling is too late to track, not a restart.
        let mut a = Agents::new(1);
        let id = AgentId { address: IpAddr::from([10, 0, 0, 1]), sub_agent: 0 };
        a.datagram(id, 1000, 50_000);
        a.datagram(id, 900, 49_900);
        assert_eq!((a.list()[0].1.out_of_order, a.list()[0].1.restarts), (1, 0));
        // Far back with uptime fallen: a restart.
        let s = run(&[(1000, 500_000), (900, 1_000)]);
        assert_eq!(s.restarts, 1);
    }

    #[test]
    fn bounded() {
        let mut a = Agents::new(2);
        for i in 0..5u8 {
            a.datagram(AgentId { address: IpAddr::from([10, 0, 0, i]), sub_agent: 0 }, 1, 1);
        }
        assert_eq!((a.list().len(), a.refused), (2, 3));
    }
}

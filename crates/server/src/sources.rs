//! Per data source (agent and ifIndex) state: the sampling rate the agent states and the
//! effective one its sample pool shows, and the interface counters of counter samples with
//! their rates, as sFlow-RT's metrics (`ifinoctets`, `ifoperstatus`, ...).
use capture::sflow::SamplingInfo;
use flows::DataSource;
use foldhash::HashMap;
use std::net::IpAddr;
use wire::sflow::IfCounters;

/// Interface counter metrics, as sFlow-RT names them. Octet and packet counters are rates per
/// second between the last two counter samples; utilization is a percentage of `ifspeed`.
pub const COUNTER_METRICS: &[&str] = &[
    "ifindex",
    "iftype",
    "ifspeed",
    "ifdirection",
    "ifadminstatus",
    "ifoperstatus",
    "ifpromiscuousmode",
    "ifinoctets",
    "ifinucastpkts",
    "ifinmulticastpkts",
    "ifinbroadcastpkts",
    "ifindiscards",
    "ifinerrors",
    "ifinunknownprotos",
    "ifoutoctets",
    "ifoutucastpkts",
    "ifoutmulticastpkts",
    "ifoutbroadcastpkts",
    "ifoutdiscards",
    "ifouterrors",
    "ifinutilization",
    "ifoututilization",
];

/// What one data source has reported.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The sampling rate of its latest flow sample.
    pub sampling_rate: u32,
    /// Flow samples received.
    pub samples: u64,
    /// Sample pool and drops of the first flow sample received.
    first: Option<(u32, u32)>,
    /// Sample pool and drops of the latest.
    last: (u32, u32),
    /// Server seconds of the latest flow sample.
    pub last_sample: f64,
    /// Latest interface counters and when they came.
    counters: Option<(f64, IfCounters)>,
    /// Per-second rates between the last two counter samples.
    rates: Option<Rates>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Rates {
    in_octets: f64,
    in_unicast: f64,
    in_multicast: f64,
    in_broadcast: f64,
    in_discards: f64,
    in_errors: f64,
    in_unknown_protos: f64,
    out_octets: f64,
    out_unicast: f64,
    out_multicast: f64,
    out_broadcast: f64,
    out_discards: f64,
    out_errors: f64,
}

impl Source {
    /// Packets per flow sample received, from the sample pool: the stated rate when nothing
    /// is lost, higher when samples are lost on the way or by the agent (`None` before two
    /// samples).
    pub fn effective_sampling_rate(&self) -> Option<f64> {
        let (pool0, _) = self.first?;
        let (pool, _) = self.last;
        (self.samples >= 2).then(|| f64::from(pool.wrapping_sub(pool0)) / (self.samples - 1) as f64)
    }

    /// Samples the agent says it dropped since the first one received.
    pub fn agent_drops(&self) -> u32 {
        self.first.map_or(0, |(_, d0)| self.last.1.wrapping_sub(d0))
    }

    /// Server seconds of the latest counter sample.
    pub fn last_counters(&self) -> Option<f64> {
        self.counters.as_ref().map(|(at, _)| *at)
    }

    /// The interface counter metric `name`, if this source has it.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let (_, c) = self.counters.as_ref()?;
        let r = self.rates;
        let rate = |f: fn(&Rates) -> f64| r.as_ref().map(f);
        let status = |bit: u32| if c.status & bit != 0 { 1.0 } else { 0.0 };
        let utilization = |octets: f64| (c.speed > 0).then(|| octets * 8.0 * 100.0 / c.speed as f64);
        Some(match name {
            "ifindex" => f64::from(c.index),
            "iftype" => f64::from(c.if_type),
            "ifspeed" => c.speed as f64,
            "ifdirection" => f64::from(c.direction),
            "ifadminstatus" => status(1),
            "ifoperstatus" => status(2),
            "ifpromiscuousmode" => f64::from(c.promiscuous),
            "ifinoctets" => rate(|r| r.in_octets)?,
            "ifinucastpkts" => rate(|r| r.in_unicast)?,
            "ifinmulticastpkts" => rate(|r| r.in_multicast)?,
            "ifinbroadcastpkts" => rate(|r| r.in_broadcast)?,
            "ifindiscards" => rate(|r| r.in_discards)?,
            "ifinerrors" => rate(|r| r.in_errors)?,
            "ifinunknownprotos" => rate(|r| r.in_unknown_protos)?,
            "ifoutoctets" => rate(|r| r.out_octets)?,
            "ifoutucastpkts" => rate(|r| r.out_unicast)?,
            "ifoutmulticastpkts" => rate(|r| r.out_multicast)?,
            "ifoutbroadcastpkts" => rate(|r| r.out_broadcast)?,
            "ifoutdiscards" => rate(|r| r.out_discards)?,
            "ifouterrors" => rate(|r| r.out_errors)?,
            "ifinutilization" => utilization(rate(|r| r.in_octets)?)?,
            "ifoututilization" => utilization(rate(|r| r.out_octets)?)?,
            _ => return None,
        })
    }
}

/// Data sources by agent and index, bounded: past `max` new ones are counted in `refused`.
#[derive(Debug, Clone)]
pub struct Sources {
    sources: HashMap<DataSource, Source>,
    max: usize,
    /// Reports from data sources beyond the limit.
    pub refused: u64,
}

impl Sources {
    /// At most `max` data sources.
    pub fn new(max: usize) -> Sources {
        Sources { sources: HashMap::default(), max, refused: 0 }
    }

    fn get(&mut self, ds: DataSource) -> Option<&mut Source> {
        if self.sources.len() >= self.max && !self.sources.contains_key(&ds) {
            self.refused += 1;
            return None;
        }
        Some(self.sources.entry(ds).or_default())
    }

    /// Records a flow sample's sampling figures.
    pub fn sampling(&mut self, agent: IpAddr, info: &SamplingInfo, now: f64) {
        let Some(s) = self.get(DataSource { agent, index: info.source_index }) else { return };
        s.sampling_rate = info.sampling_rate;
        s.samples += 1;
        s.first.get_or_insert((info.sample_pool, info.drops));
        s.last = (info.sample_pool, info.drops);
        s.last_sample = now;
    }

    /// Records a counter sample's interface counters.
    pub fn counters(&mut self, agent: IpAddr, index: u32, c: &IfCounters, now: f64) {
        let Some(s) = self.get(DataSource { agent, index }) else { return };
        if let Some((at, p)) = s.counters {
            let dt = now - at;
            if dt > 0.0 {
                let d32 = |a: u32, b: u32| f64::from(a.wrapping_sub(b)) / dt;
                let d64 = |a: u64, b: u64| a.wrapping_sub(b) as f64 / dt;
                s.rates = Some(Rates {
                    in_octets: d64(c.in_octets, p.in_octets),
                    in_unicast: d32(c.in_unicast, p.in_unicast),
                    in_multicast: d32(c.in_multicast, p.in_multicast),
                    in_broadcast: d32(c.in_broadcast, p.in_broadcast),
                    in_discards: d32(c.in_discards, p.in_discards),
                    in_errors: d32(c.in_errors, p.in_errors),
                    in_unknown_protos: d32(c.in_unknown_protos, p.in_unknown_protos),
                    out_octets: d64(c.out_octets, p.out_octets),
                    out_unicast: d32(c.out_unicast, p.out_unicast),
                    out_multicast: d32(c.out_multicast, p.out_multicast),
                    out_broadcast: d32(c.out_broadcast, p.out_broadcast),
                    out_discards: d32(c.out_discards, p.out_discards),
                    out_errors: d32(c.out_errors, p.out_errors),
                });
            }
        }
        s.counters = Some((now, *c));
    }

    /// Every data source.
    pub fn iter(&self) -> impl Iterator<Item = (&DataSource, &Source)> {
        self.sources.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(octets: u64, status: u32) -> IfCounters {
        IfCounters {
            index: 3,
            if_type: 6,
            speed: 1_000_000_000,
            direction: 1,
            status,
            in_octets: octets,
            in_unicast: 0,
            in_multicast: 0,
            in_broadcast: 0,
            in_discards: 0,
            in_errors: 0,
            in_unknown_protos: 0,
            out_octets: 0,
            out_unicast: 0,
            out_multicast: 0,
            out_broadcast: 0,
            out_discards: 0,
            out_errors: 0,
            promiscuous: 0,
        }
    }

    #[test]
    fn counter_rates_and_effective_sampling() {
        let agent = IpAddr::from([192, 0, 2, 1]);
        let mut s = Sources::new(10);
        s.counters(agent, 3, &counters(1_000, 3), 10.0);
        let ds = DataSource { agent, index: 3 };
        let src = &s.sources[&ds];
        assert_eq!(src.metric("ifoperstatus"), Some(1.0));
        assert_eq!(src.metric("ifinoctets"), None, "a rate needs two samples");
        // 125 MB in 10 s at 1 Gbit/s: 12.5 MB/s, 10 % utilization; the counter wraps.
        s.counters(agent, 3, &counters(1_000u64.wrapping_add(125_000_000), 1), 20.0);
        let src = &s.sources[&ds];
        assert_eq!(src.metric("ifinoctets"), Some(12_500_000.0));
        assert_eq!(src.metric("ifinutilization"), Some(10.0));
        assert_eq!(src.metric("ifoperstatus"), Some(0.0));
        // 1 in 100 stated; the pool says one sample in two was lost.
        for (i, pool) in [0u32, 200, 400].into_iter().enumerate() {
            let info = SamplingInfo {
                source_index: 3,
                sequence: i as u32,
                sampling_rate: 100,
                sample_pool: pool,
                drops: 0,
            };
            s.sampling(agent, &info, 1.0);
        }
        assert_eq!(s.sources[&ds].effective_sampling_rate(), Some(200.0));
    }
}

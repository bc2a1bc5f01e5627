//! The live flow engine's core: flow definitions counted per data source (agent and
//! ifIndex) as rates smoothed with each definition's time constant `t`, in bounded tables;
//! the top flows of a data source, and the active flows merged across data sources.
//!
//! Smoothing: a flow's rate decays as `e^(-Δ/t)` and a sample worth `w` (frames, or bytes)
//! adds `w/t`, so a constant stream of `r` per second converges to `r`, and a single
//! sample's contribution integrates to `w` over time — an exponentially weighted rate with
//! time constant `t` seconds (sFlow-RT publishes no formula; this is the natural reading).
use query::{Compiled, Context, Evaluator, Input, Value};
use std::collections::HashMap;
use std::net::IpAddr;

/// A data source: an agent and one of its interfaces (or other sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataSource {
    /// The agent.
    pub agent: IpAddr,
    /// The data source index (an ifIndex for interface sources).
    pub index: u32,
}

/// How active flows are combined across data sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AggMode {
    /// The largest value seen at any data source (no double counting along a path).
    #[default]
    Max,
    /// The sum over data sources.
    Sum,
}

#[derive(Debug, Clone, Copy)]
struct Rate {
    value: f64,
    /// Seconds (of the engine's clock) of the last update.
    at: f64,
}

impl Rate {
    fn decayed(&self, now: f64, t: f64) -> f64 {
        self.value * (-(now - self.at).max(0.0) / t).exp()
    }
}

/// One flow definition's state.
struct Flow {
    definition: Compiled,
    /// Per data source, flow key to smoothed rate.
    tables: HashMap<DataSource, HashMap<Box<str>, Rate>>,
    entries: usize,
    evicted: u64,
}

/// A flow at one data source.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveFlow {
    /// The flow key.
    pub key: String,
    /// The smoothed rate (per second).
    pub value: f64,
    /// Where the value was measured (for `max`, the data source with the largest value).
    pub source: DataSource,
}

/// Limits of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most flow entries per definition, across data sources.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_entries: 100_000 }
    }
}

/// Flow definitions and their smoothed tables.
pub struct Engine {
    flows: HashMap<String, Flow>,
    context: Context,
    limits: Limits,
    eval: Evaluator,
    key: String,
}

impl Engine {
    /// An engine with the groups and maps of `context`.
    pub fn new(context: Context, limits: Limits) -> Engine {
        Engine {
            flows: HashMap::new(),
            context,
            limits,
            eval: Evaluator::new(),
            key: String::with_capacity(256),
        }
    }

    /// Adds or replaces the definition `name` (its tables start empty).
    pub fn set_flow(&mut self, name: &str, definition: Compiled) {
        self.flows
            .insert(name.to_string(), Flow { definition, tables: HashMap::new(), entries: 0, evicted: 0 });
    }

    /// Removes the definition `name`; false when there was none.
    pub fn remove_flow(&mut self, name: &str) -> bool {
        self.flows.remove(name).is_some()
    }

    /// The definition names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.flows.keys().map(String::as_str)
    }

    /// Entries evicted from definition `name` to stay within the limit.
    pub fn evicted(&self, name: &str) -> u64 {
        self.flows.get(name).map_or(0, |f| f.evicted)
    }

    /// Counts one sampled frame seen at `source` at time `now` (seconds) that stands for
    /// `weight` frames, in every definition.
    pub fn add(&mut self, source: DataSource, input: &Input<'_>, weight: u64, now: f64) {
        for flow in self.flows.values_mut() {
            let d = &flow.definition;
            if !d.accepts(&mut self.eval, input, &self.context)
                || !d.flow_key(&mut self.eval, input, &self.context, &mut self.key)
            {
                continue;
            }
            let amount = match &d.value {
                Value::Frames => weight as f64,
                Value::Bytes => f64::from(input.frame_len) * weight as f64,
                // Counting distinct values and averages need per-flow sets; live they count
                // frames (see the notes of the flows crate).
                Value::Count(_) | Value::Avg(_) | Value::Rate(_) => weight as f64,
            };
            let t = d.t;
            if flow.entries >= self.limits.max_entries
                && !flow.tables.get(&source).is_some_and(|m| m.contains_key(self.key.as_str()))
            {
                evict_smallest(flow, now);
            }
            let table = flow.tables.entry(source).or_default();
            match table.get_mut(self.key.as_str()) {
                Some(r) => {
                    r.value = r.decayed(now, t) + amount / t;
                    r.at = now;
                }
                None => {
                    table.insert(self.key.as_str().into(), Rate { value: amount / t, at: now });
                    flow.entries += 1;
                }
            }
        }
    }

    /// The `n` (the definition's `n` when `None`) largest flows of `name` at `source`, at
    /// time `now`.
    pub fn top(&self, name: &str, source: DataSource, n: Option<usize>, now: f64) -> Vec<ActiveFlow> {
        let Some(flow) = self.flows.get(name) else { return Vec::new() };
        let t = flow.definition.t;
        let mut v: Vec<ActiveFlow> = flow
            .tables
            .get(&source)
            .into_iter()
            .flat_map(|m| m.iter())
            .map(|(k, r)| ActiveFlow { key: k.to_string(), value: r.decayed(now, t), source })
            .collect();
        sort(&mut v);
        v.truncate(n.unwrap_or(flow.definition.n));
        v
    }

    /// Active flows of `name` across the data sources of `agents` (all when empty), combined
    /// by `agg`, at least `min_value`, largest first, at most `max_flows`.
    pub fn active_flows(
        &self,
        name: &str,
        agents: &[IpAddr],
        max_flows: usize,
        min_value: f64,
        agg: AggMode,
        now: f64,
    ) -> Vec<ActiveFlow> {
        let Some(flow) = self.flows.get(name) else { return Vec::new() };
        let t = flow.definition.t;
        let mut merged: HashMap<&str, ActiveFlow> = HashMap::new();
        for (source, table) in &flow.tables {
            if !agents.is_empty() && !agents.contains(&source.agent) {
                continue;
            }
            for (k, r) in table {
                let value = r.decayed(now, t);
                let e =
                    merged.entry(k).or_insert(ActiveFlow { key: k.to_string(), value: 0.0, source: *source });
                match agg {
                    AggMode::Sum => e.value += value,
                    AggMode::Max if value > e.value => {
                        e.value = value;
                        e.source = *source;
                    }
                    AggMode::Max => {}
                }
            }
        }
        let mut v: Vec<ActiveFlow> = merged.into_values().filter(|f| f.value >= min_value).collect();
        sort(&mut v);
        v.truncate(max_flows);
        v
    }

    /// Drops flows whose rate has decayed below `floor` at `now`; returns how many.
    pub fn expire(&mut self, now: f64, floor: f64) -> usize {
        let mut gone = 0;
        for flow in self.flows.values_mut() {
            let t = flow.definition.t;
            for table in flow.tables.values_mut() {
                let before = table.len();
                table.retain(|_, r| r.decayed(now, t) >= floor);
                gone += before - table.len();
            }
            flow.tables.retain(|_, m| !m.is_empty());
            flow.entries -= gone.min(flow.entries);
        }
        gone
    }
}

fn sort(v: &mut [ActiveFlow]) {
    v.sort_by(|a, b| b.value.total_cmp(&a.value).then_with(|| a.key.cmp(&b.key)));
}

/// Removes the smallest tenth of a definition's entries (by their rate now), counting them.
fn evict_smallest(flow: &mut Flow, now: f64) {
    let t = flow.definition.t;
    let mut values: Vec<f64> =
        flow.tables.values().flat_map(|m| m.values().map(|r| r.decayed(now, t))).collect();
    if values.is_empty() {
        return;
    }
    let cut = (values.len() / 10).max(1);
    let (_, &mut limit, _) = values.select_nth_unstable_by(cut - 1, f64::total_cmp);
    let mut removed = 0;
    for table in flow.tables.values_mut() {
        table.retain(|_, r| {
            let drop = removed < cut && r.decayed(now, t) <= limit;
            removed += usize::from(drop);
            !drop
        });
    }
    flow.tables.retain(|_, m| !m.is_empty());
    flow.entries -= removed;
    flow.evicted += removed as u64;
}

#[cfg(test)]
mod tests {
    use super::*;
    use craft::{build, Header};
    use dissect::{Decoded, Dissector, LinkType, Stack};
    use query::Definition;

    fn engine(keys: &str, value: &str, t: f64) -> Engine {
        let mut e = Engine::new(Context::new(), Limits { max_entries: 50 });
        let d = Definition { keys: keys.into(), value: value.into(), t, ..Definition::default() };
        e.set_flow("f", d.compile(&Context::new()).unwrap());
        e
    }

    fn frame(src: u8) -> (Vec<u8>, Stack) {
        let f = build(&[
            Header::eth(),
            Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
            Header::Udp { src: 1, dst: 4789 },
            Header::Vxlan { vni: 7 },
            Header::eth(),
            Header::ipv4([192, 168, 0, src], [192, 168, 1, 1]),
            Header::Payload(vec![0; 50]),
        ]);
        let mut s = Stack::new();
        Dissector::default().dissect(&f, LinkType::ETHERNET, &mut s);
        (f, s)
    }

    fn ds(a: u8, index: u32) -> DataSource {
        DataSource { agent: IpAddr::from([192, 0, 2, a]), index }
    }

    #[test]
    fn a_steady_rate_converges_to_itself() {
        let mut e = engine("ipsource.1", "frames", 2.0);
        let (f, s) = frame(1);
        // 100 samples a second, each standing for 10 frames: 1,000 frames per second.
        for i in 0..3_000 {
            e.add(ds(1, 3), &Input::new(Decoded::new(&f, &s), f.len() as u32), 10, i as f64 / 100.0);
        }
        let top = e.top("f", ds(1, 3), None, 30.0);
        assert_eq!(top.len(), 1);
        assert!((top[0].value - 1000.0).abs() < 30.0, "{}", top[0].value);
        // With no more samples the rate decays by e every t seconds.
        let later = e.top("f", ds(1, 3), None, 32.0)[0].value;
        assert!((later / top[0].value - (-1.0f64).exp()).abs() < 0.01);
        assert_eq!(e.expire(100.0, 0.001), 1);
    }

    #[test]
    fn active_flows_combine_data_sources() {
        let mut e = engine("ipsource.1", "bytes", 1.0);
        let (a, sa) = frame(1);
        let (b, sb) = frame(2);
        let ia = Input::new(Decoded::new(&a, &sa), 100);
        let ib = Input::new(Decoded::new(&b, &sb), 100);
        // Flow 1 seen at two switches (one path), flow 2 at one.
        e.add(ds(1, 1), &ia, 1, 0.0);
        e.add(ds(2, 7), &ia, 1, 0.0);
        e.add(ds(1, 2), &ib, 3, 0.0);
        let max = e.active_flows("f", &[], 10, 0.0, AggMode::Max, 0.0);
        assert_eq!(
            max.iter().map(|f| (f.key.as_str(), f.value)).collect::<Vec<_>>(),
            [("192.168.0.2", 300.0), ("192.168.0.1", 100.0)]
        );
        let sum = e.active_flows("f", &[], 10, 0.0, AggMode::Sum, 0.0);
        assert_eq!(sum[1].value, 200.0);
        let one_agent = e.active_flows("f", &[IpAddr::from([192, 0, 2, 2])], 10, 0.0, AggMode::Max, 0.0);
        assert_eq!(one_agent.len(), 1);
        assert_eq!(one_agent[0].source, ds(2, 7));
        assert_eq!(e.active_flows("f", &[], 10, 150.0, AggMode::Max, 0.0).len(), 1, "minValue");
    }

    #[test]
    fn memory_is_bounded_and_evictions_counted() {
        let mut e = engine("ipsource.1", "frames", 2.0);
        for i in 0..200u8 {
            let (f, s) = frame(i);
            e.add(ds(1, 1), &Input::new(Decoded::new(&f, &s), 60), u64::from(i) + 1, 0.0);
        }
        let all = e.active_flows("f", &[], 1000, 0.0, AggMode::Max, 0.0);
        assert!(all.len() <= 50, "{}", all.len());
        assert!(e.evicted("f") >= 150);
        // The largest flows survive.
        assert_eq!(all[0].key, "192.168.0.199");
    }
}

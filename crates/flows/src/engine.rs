//! The live flow engine's core: flow definitions counted per data source (agent and
//! ifIndex) as rates smoothed with each definition's time constant `t`, in bounded tables;
//! the top flows of a data source, and the active flows merged across data sources.
//!
//! Smoothing: a flow's rate decays as `e^(-Δ/t)` and a sample worth `w` (frames, or bytes)
//! adds `w/t`, so a constant stream of `r` per second converges to `r`, and a single
//! sample's contribution integrates to `w` over time — an exponentially weighted rate with
//! time constant `t` seconds (sFlow-RT publishes no formula; this is the natural reading).
use query::{Compiled, Context, Evaluator, Input, Value};
// Flow keys come from the network: a keyed (per-process random) hash, but a fast one.
use foldhash::HashMap;
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
    /// When the flow (or its current log record) started.
    start: f64,
    /// The amount counted since `start` (for the flow log).
    total: f64,
}

impl Rate {
    fn decayed(&self, now: f64, t: f64) -> f64 {
        // Samples of one datagram share a time: no decay to work out between them.
        if now <= self.at {
            return self.value;
        }
        self.value * (-(now - self.at) / t).exp()
    }
}

/// What a definition does besides counting, from sFlow-RT's flow attributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Count discard samples (`dropped`) instead of packet samples.
    pub dropped: bool,
    /// Keep a flow log (`log`).
    pub log: bool,
    /// Log a flow when it starts (`flowStart`) rather than when it ends.
    pub flow_start: bool,
    /// Seconds after which a long flow is logged and its record restarted (`activeTimeout`).
    pub active_timeout: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options { dropped: false, log: false, flow_start: false, active_timeout: 60.0 }
    }
}

/// A finished flow, as the flow log records it.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    /// The definition.
    pub name: String,
    /// Where the flow was seen.
    pub source: DataSource,
    /// The flow key.
    pub key: String,
    /// The amount counted (frames or bytes, scaled by the sampling rate) from `start` to `end`.
    pub value: f64,
    /// Engine seconds of the first sample.
    pub start: f64,
    /// Engine seconds of the last sample.
    pub end: f64,
}

/// A logged flow ends when no sample has counted for it for this many seconds, or for the
/// definition's `t` when that is longer.
pub const LOG_IDLE_SECONDS: f64 = 5.0;

/// One flow definition's state.
struct Flow {
    definition: Compiled,
    options: Options,
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
    /// The data source where the flow's rate is largest.
    pub source: DataSource,
    /// How many data sources saw the flow.
    pub flow_n: usize,
}

/// Combines flows' rates at data sources into active flows: each key once, its value the
/// largest rate at any data source (`Max`: no double counting along a path) or their sum,
/// those of at least `min_value`, largest first, at most `max_flows`.
pub fn combine<'a>(
    rates: impl IntoIterator<Item = (DataSource, &'a str, f64)>,
    max_flows: usize,
    min_value: f64,
    agg: AggMode,
) -> Vec<ActiveFlow> {
    // Per key: the combined flow and the largest single rate.
    let mut merged: HashMap<&str, (ActiveFlow, f64)> = HashMap::default();
    for (source, key, value) in rates {
        let (f, best) = merged.entry(key).or_insert_with(|| {
            (ActiveFlow { key: key.to_string(), value: 0.0, source, flow_n: 0 }, f64::NEG_INFINITY)
        });
        f.flow_n += 1;
        if value > *best {
            *best = value;
            f.source = source;
        }
        f.value = match agg {
            AggMode::Sum => f.value + value,
            AggMode::Max => *best,
        };
    }
    let mut v: Vec<ActiveFlow> =
        merged.into_values().map(|(f, _)| f).filter(|f| f.value >= min_value).collect();
    v.sort_by(|a, b| b.value.total_cmp(&a.value).then_with(|| a.key.cmp(&b.key)));
    v.truncate(max_flows);
    v
}

/// Limits of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most flow entries per definition, across data sources.
    pub max_entries: usize,
    /// Most flow log records (`flowStart`) waiting to be collected; beyond it they are counted
    /// as lost.
    pub max_pending_records: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_entries: 100_000, max_pending_records: 10_000 }
    }
}

/// Flow definitions and their smoothed tables.
pub struct Engine {
    flows: HashMap<String, Flow>,
    context: Context,
    limits: Limits,
    eval: Evaluator,
    key: String,
    pending: Vec<FlowRecord>,
    /// Flow log records dropped because `max_pending_records` were waiting.
    pub records_lost: u64,
}

impl Engine {
    /// An engine with the groups and maps of `context`.
    pub fn new(context: Context, limits: Limits) -> Engine {
        Engine {
            flows: HashMap::default(),
            context,
            limits,
            eval: Evaluator::new(),
            key: String::with_capacity(256),
            pending: Vec::new(),
            records_lost: 0,
        }
    }

    /// Replaces the groups and maps that `group:` and `map:` keys read.
    pub fn set_context(&mut self, context: Context) {
        self.context = context;
    }

    /// Adds or replaces the definition `name` (its tables start empty).
    pub fn set_flow(&mut self, name: &str, definition: Compiled, options: Options) {
        self.flows.insert(
            name.to_string(),
            Flow { definition, options, tables: HashMap::default(), entries: 0, evicted: 0 },
        );
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

    /// Counts one sampled packet seen at `source` at time `now` (seconds) that stands for
    /// `weight` packets, in every definition of packet samples. `frames` counts `weight`,
    /// `bytes` counts `frame_len × weight`.
    pub fn add(&mut self, source: DataSource, input: &Input<'_>, weight: u64, now: f64) {
        self.add_sample(source, input, weight, now, false);
    }

    /// Counts one discarded packet (an sFlow discard sample) in the `dropped` definitions.
    pub fn add_dropped(&mut self, source: DataSource, input: &Input<'_>, weight: u64, now: f64) {
        self.add_sample(source, input, weight, now, true);
    }

    fn add_sample(&mut self, source: DataSource, input: &Input<'_>, weight: u64, now: f64, dropped: bool) {
        for (name, flow) in &mut self.flows {
            let d = &flow.definition;
            if flow.options.dropped != dropped
                || !d.accepts(&mut self.eval, input, &self.context)
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
            count(
                flow,
                source,
                &self.key,
                amount,
                now,
                self.limits,
                &mut Pending { records: &mut self.pending, lost: &mut self.records_lost, name },
            );
        }
    }

    /// Counts `amount` for flow `key` of definition `name` at `source`, as a sample would;
    /// false when there is no such definition.
    pub fn count(&mut self, name: &str, source: DataSource, key: &str, amount: f64, now: f64) -> bool {
        let Some(flow) = self.flows.get_mut(name) else { return false };
        let pending = &mut Pending { records: &mut self.pending, lost: &mut self.records_lost, name };
        count(flow, source, key, amount, now, self.limits, pending);
        true
    }

    /// Flow entries held by definition `name`.
    pub fn entries(&self, name: &str) -> usize {
        self.flows.get(name).map_or(0, |f| f.entries)
    }

    /// Calls `f` with every flow of `name` at the data sources of `agents` (all when empty):
    /// its data source, key, rate at `now`, and the seconds since it last counted.
    pub fn for_each(
        &self,
        name: &str,
        agents: &[IpAddr],
        now: f64,
        mut f: impl FnMut(DataSource, &str, f64, f64),
    ) {
        let Some(flow) = self.flows.get(name) else { return };
        let t = flow.definition.t;
        for (source, table) in &flow.tables {
            if !agents.is_empty() && !agents.contains(&source.agent) {
                continue;
            }
            for (k, r) in table {
                f(*source, k, r.decayed(now, t), (now - r.at).max(0.0));
            }
        }
    }

    /// Ends logged flows idle for [`LOG_IDLE_SECONDS`] (or `t`), restarts the records of those
    /// active longer than `activeTimeout`, drops flows whose rate has decayed below `floor`,
    /// and returns the flow log records made since the last call.
    pub fn housekeep(&mut self, now: f64, floor: f64) -> Vec<FlowRecord> {
        let mut records = std::mem::take(&mut self.pending);
        for (name, flow) in &mut self.flows {
            let (t, o) = (flow.definition.t, flow.options);
            let idle = LOG_IDLE_SECONDS.max(t);
            let mut gone = 0;
            for (source, table) in &mut flow.tables {
                table.retain(|key, r| {
                    let ended = now - r.at >= idle || r.decayed(now, t) < floor;
                    if o.log && !o.flow_start && r.total > 0.0 && (ended || now - r.start >= o.active_timeout)
                    {
                        records.push(FlowRecord {
                            name: name.clone(),
                            source: *source,
                            key: key.to_string(),
                            value: r.total,
                            start: r.start,
                            end: r.at,
                        });
                        r.total = 0.0;
                        r.start = r.at;
                    }
                    let keep = if o.log { !ended } else { r.decayed(now, t) >= floor };
                    gone += usize::from(!keep);
                    keep
                });
            }
            flow.tables.retain(|_, m| !m.is_empty());
            flow.entries -= gone.min(flow.entries);
        }
        records
    }

    /// Active flows of `name` across the data sources of `agents` (all when empty), combined
    /// by `agg`, at least `min_value`, largest first, at most `max_flows` (see [`combine`]).
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
        let rates = flow
            .tables
            .iter()
            .filter(|(source, _)| agents.is_empty() || agents.contains(&source.agent))
            .flat_map(|(source, table)| table.iter().map(move |(k, r)| (*source, &**k, r.decayed(now, t))));
        combine(rates, max_flows, min_value, agg)
    }
}

/// Where flow log records made while counting go.
struct Pending<'a> {
    records: &'a mut Vec<FlowRecord>,
    lost: &'a mut u64,
    /// The definition's name.
    name: &'a str,
}

/// Counts `amount` for `key` at `source` in one definition, within the limits.
fn count(
    flow: &mut Flow,
    source: DataSource,
    key: &str,
    amount: f64,
    now: f64,
    limits: Limits,
    pending: &mut Pending<'_>,
) {
    let t = flow.definition.t;
    if flow.entries >= limits.max_entries && !flow.tables.get(&source).is_some_and(|m| m.contains_key(key)) {
        evict_smallest(flow, now);
    }
    let table = flow.tables.entry(source).or_default();
    match table.get_mut(key) {
        Some(r) => {
            r.value = r.decayed(now, t) + amount / t;
            r.at = now;
            r.total += amount;
        }
        None => {
            table.insert(key.into(), Rate { value: amount / t, at: now, start: now, total: amount });
            flow.entries += 1;
            if flow.options.log && flow.options.flow_start {
                if pending.records.len() >= limits.max_pending_records {
                    *pending.lost += 1;
                } else {
                    pending.records.push(FlowRecord {
                        name: pending.name.to_string(),
                        source,
                        key: key.to_string(),
                        value: amount,
                        start: now,
                        end: now,
                    });
                }
            }
        }
    }
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
    use dissect::{Dissector, LinkType, Stack};
    use query::Definition;

    fn engine_with(keys: &str, value: &str, t: f64, options: Options) -> Engine {
        let mut e = Engine::new(Context::new(), Limits { max_entries: 50, max_pending_records: 3 });
        let d = Definition { keys: keys.into(), value: value.into(), t, ..Definition::default() };
        e.set_flow("f", d.compile(&Context::new()).unwrap(), options);
        e
    }

    fn engine(keys: &str, value: &str, t: f64) -> Engine {
        engine_with(keys, value, t, Options::default())
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
            e.add(ds(1, 3), &Input::new(s.decoded(&f).unwrap(), f.len() as u32), 10, i as f64 / 100.0);
        }
        let top = e.active_flows("f", &[], 10, 0.0, AggMode::Max, 30.0);
        assert_eq!(top.len(), 1);
        assert!((top[0].value - 1000.0).abs() < 30.0, "{}", top[0].value);
        // With no more samples the rate decays by e every t seconds.
        assert_eq!((top[0].source, top[0].flow_n), (ds(1, 3), 1));
        let later = e.active_flows("f", &[], 10, 0.0, AggMode::Max, 32.0)[0].value;
        assert!((later / top[0].value - (-1.0f64).exp()).abs() < 0.01);
        assert!(e.housekeep(100.0, 0.001).is_empty());
        assert_eq!(e.entries("f"), 0, "decayed flows are dropped");
    }

    #[test]
    fn flow_log_records_ends_and_active_timeouts() {
        let log = Options { log: true, active_timeout: 10.0, ..Options::default() };
        let mut e = engine_with("ipsource.1", "frames", 2.0, log);
        let (f, s) = frame(1);
        let input = Input::new(s.decoded(&f).unwrap(), 100);
        // Samples every second from 0 to 14: one record at the active timeout, one at the end.
        let mut records = Vec::new();
        for i in 0..15 {
            e.add(ds(1, 1), &input, 4, f64::from(i));
            records.extend(e.housekeep(f64::from(i) + 0.5, 1e-9));
        }
        records.extend(e.housekeep(30.0, 1e-9));
        let spans: Vec<_> = records.iter().map(|r| (r.start, r.end, r.value)).collect();
        assert_eq!(spans, [(0.0, 10.0, 44.0), (10.0, 14.0, 16.0)]);
        assert_eq!(records[0].key, "192.168.0.1");
        assert_eq!(records[0].name, "f");
        assert_eq!(e.entries("f"), 0);
        // flowStart: a record when a flow is first seen, bounded.
        let start = Options { log: true, flow_start: true, ..Options::default() };
        let mut e = engine_with("ipsource.1", "frames", 2.0, start);
        for i in 0..5u8 {
            let (f, s) = frame(i);
            e.add(ds(1, 1), &Input::new(s.decoded(&f).unwrap(), 100), 1, 0.0);
            e.add(ds(1, 1), &Input::new(s.decoded(&f).unwrap(), 100), 1, 0.5);
        }
        assert_eq!(e.housekeep(1.0, 1e-9).len(), 3);
        assert_eq!(e.records_lost, 2);
    }

    #[test]
    fn dropped_definitions_count_discard_samples_only() {
        let mut e = engine_with("ipsource.1", "frames", 1.0, Options { dropped: true, ..Options::default() });
        let (f, s) = frame(1);
        let input = Input::new(s.decoded(&f).unwrap(), 100);
        e.add(ds(1, 1), &input, 1, 0.0);
        assert_eq!(e.entries("f"), 0);
        e.add_dropped(ds(1, 1), &input, 1, 0.0);
        assert_eq!(e.entries("f"), 1);
    }

    #[test]
    fn active_flows_combine_data_sources() {
        let mut e = engine("ipsource.1", "bytes", 1.0);
        let (a, sa) = frame(1);
        let (b, sb) = frame(2);
        let ia = Input::new(sa.decoded(&a).unwrap(), 100);
        let ib = Input::new(sb.decoded(&b).unwrap(), 100);
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
            e.add(ds(1, 1), &Input::new(s.decoded(&f).unwrap(), 60), u64::from(i) + 1, 0.0);
        }
        let all = e.active_flows("f", &[], 1000, 0.0, AggMode::Max, 0.0);
        assert!(all.len() <= 50, "{}", all.len());
        assert!(e.evicted("f") >= 150);
        // The largest flows survive.
        assert_eq!(all[0].key, "192.168.0.199");
    }
}

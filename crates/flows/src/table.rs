//! Exact flow totals in a table of bounded size.
use query::{Compiled, Context, Evaluator, Input, Value};
use std::collections::{HashMap, HashSet};

/// What one flow has accumulated.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    /// Frames.
    pub frames: u64,
    /// Bytes (frame lengths).
    pub bytes: u64,
    /// Sum of the value key (for `avg:` and `rate:`).
    pub sum: f64,
    /// Frames where the value key was present (for `avg:`).
    pub samples: u64,
    /// Distinct values of the value key (for `count:`).
    pub distinct: Option<HashSet<Box<str>>>,
}

impl Accumulator {
    /// The flow's value for `v`.
    pub fn value(&self, v: &Value) -> f64 {
        match v {
            Value::Frames => self.frames as f64,
            Value::Bytes => self.bytes as f64,
            Value::Count(_) => self.distinct.as_ref().map_or(0, HashSet::len) as f64,
            Value::Avg(_) => {
                if self.samples == 0 {
                    0.0
                } else {
                    self.sum / self.samples as f64
                }
            }
            Value::Rate(_) => self.sum,
        }
    }
}

/// Flows by key, at most `max_flows` of them; when full, the smallest tenth (by frames) is
/// evicted and counted.
#[derive(Debug, Clone)]
pub struct FlowTable {
    flows: HashMap<Box<str>, Accumulator>,
    max_flows: usize,
    /// Flows evicted to stay within the limit.
    pub evicted: u64,
}

impl FlowTable {
    /// A table of at most `max_flows` flows.
    pub fn new(max_flows: usize) -> FlowTable {
        FlowTable { flows: HashMap::new(), max_flows: max_flows.max(1), evicted: 0 }
    }

    /// Flows held.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True when no flow is held.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// The accumulator of flow `key`, created when new (evicting small flows when full).
    pub fn entry(&mut self, key: &str) -> &mut Accumulator {
        if !self.flows.contains_key(key) {
            if self.flows.len() >= self.max_flows {
                self.evict();
            }
            self.flows.insert(key.into(), Accumulator::default());
        }
        // Present: just inserted or found.
        self.flows.get_mut(key).expect("flow present")
    }

    fn evict(&mut self) {
        let mut sizes: Vec<u64> = self.flows.values().map(|a| a.frames).collect();
        let cut = (sizes.len() / 10).max(1);
        let (_, &mut limit, _) = sizes.select_nth_unstable(cut - 1);
        let before = self.flows.len();
        let mut removed = 0;
        self.flows.retain(|_, a| {
            let drop = a.frames <= limit && removed < cut;
            removed += usize::from(drop);
            !drop
        });
        self.evicted += (before - self.flows.len()) as u64;
    }

    /// The flows, largest `value` first (ties by key), at most `top` of them.
    pub fn top(&self, value: &Value, top: usize) -> Vec<FlowRow> {
        let mut rows: Vec<FlowRow> = self
            .flows
            .iter()
            .map(|(k, a)| FlowRow {
                key: k.to_string(),
                value: a.value(value),
                frames: a.frames,
                bytes: a.bytes,
            })
            .collect();
        rows.sort_by(|a, b| b.value.total_cmp(&a.value).then_with(|| a.key.cmp(&b.key)));
        rows.truncate(top);
        rows
    }
}

/// One flow in a result.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRow {
    /// The flow key (key values joined by the definition's separator).
    pub key: String,
    /// The definition's value.
    pub value: f64,
    /// Frames.
    pub frames: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Frames seen by a counter, and why some were not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Frames (or sampled headers) offered.
    pub frames: u64,
    /// Frames the filter rejected.
    pub filtered: u64,
    /// Frames lacking one of the keys.
    pub missing_keys: u64,
    /// Frames counted.
    pub counted: u64,
}

/// Counts frames into a table by a compiled definition. Allocates only for new flows and
/// new distinct values.
pub struct Counter {
    definition: Compiled,
    context: Context,
    eval: Evaluator,
    key: String,
    value: String,
    /// The flows.
    pub table: FlowTable,
    /// Frame totals.
    pub totals: Totals,
}

impl Counter {
    /// A counter for `definition`, with the groups and maps of `context`.
    pub fn new(definition: Compiled, context: Context, max_flows: usize) -> Counter {
        Counter {
            definition,
            context,
            eval: Evaluator::new(),
            key: String::with_capacity(256),
            value: String::with_capacity(64),
            table: FlowTable::new(max_flows),
            totals: Totals::default(),
        }
    }

    /// The definition counted.
    pub fn definition(&self) -> &Compiled {
        &self.definition
    }

    /// Counts one frame.
    pub fn add(&mut self, input: &Input<'_>) {
        self.add_weighted(input, 1);
    }

    /// Counts one frame that stands for `weight` frames (an sFlow sample counts
    /// `sampling_rate` frames and `frame_length x sampling_rate` bytes).
    pub fn add_weighted(&mut self, input: &Input<'_>, weight: u64) {
        self.totals.frames += 1;
        let d = &self.definition;
        if !d.accepts(&mut self.eval, input, &self.context) {
            self.totals.filtered += 1;
            return;
        }
        if !d.flow_key(&mut self.eval, input, &self.context, &mut self.key) {
            self.totals.missing_keys += 1;
            return;
        }
        self.totals.counted += 1;
        let acc = self.table.entry(&self.key);
        acc.frames += weight;
        acc.bytes += u64::from(input.frame_len) * weight;
        let (Value::Count(k) | Value::Avg(k) | Value::Rate(k)) = &d.value else { return };
        self.value.clear();
        if !self.eval.key(k, input, &self.context, &mut self.value) {
            return;
        }
        match &d.value {
            Value::Count(_) => {
                let set = acc.distinct.get_or_insert_with(HashSet::new);
                if !set.contains(self.value.as_str()) {
                    set.insert(self.value.as_str().into());
                }
            }
            _ => {
                if let Ok(n) = self.value.parse::<f64>() {
                    acc.sum += n;
                    acc.samples += 1;
                }
            }
        }
    }

    /// The flows, largest value first.
    pub fn top(&self, n: usize) -> Vec<FlowRow> {
        self.table.top(&self.definition.value, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use craft::{build, Header};
    use dissect::{Dissector, LinkType, Stack};
    use query::Definition;

    fn count(keys: &str, value: &str, filter: Option<&str>, frames: &[Vec<u8>]) -> (Vec<FlowRow>, Totals) {
        let def = Definition {
            keys: keys.into(),
            value: value.into(),
            filter: filter.map(str::to_string),
            ..Definition::default()
        };
        let mut c = Counter::new(def.compile(&Context::new()).unwrap(), Context::new(), 1000);
        let mut d = Dissector::default();
        let mut stack = Stack::new();
        for f in frames {
            d.dissect(f, LinkType::ETHERNET, &mut stack);
            c.add(&Input::new(stack.decoded(f).unwrap(), f.len() as u32));
        }
        (c.top(10), c.totals)
    }

    fn gre(src: u8, size: usize) -> Vec<u8> {
        build(&[
            Header::eth(),
            Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
            Header::Gre { key: None, seq: None },
            Header::ipv4([192, 168, 0, src], [192, 168, 1, 1]),
            Header::Udp { src: 1, dst: 2 },
            Header::Payload(vec![0; size]),
        ])
    }

    #[test]
    fn totals_by_inner_addresses() {
        let frames = vec![
            gre(1, 10),
            gre(1, 10),
            gre(2, 100),
            build(&[Header::eth(), Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2])]),
        ];
        let (rows, t) = count("ipsource.1,ipdestination.1", "frames", None, &frames);
        assert_eq!(
            rows.iter().map(|r| (r.key.as_str(), r.value)).collect::<Vec<_>>(),
            [("192.168.0.1,192.168.1.1", 2.0), ("192.168.0.2,192.168.1.1", 1.0)]
        );
        assert_eq!(t, Totals { frames: 4, filtered: 0, missing_keys: 1, counted: 3 });
        let (rows, _) = count("ipsource.1", "bytes", None, &frames);
        assert_eq!(rows[0].key, "192.168.0.2");
        let (rows, _) = count("ipdestination", "count:ipsource.1", None, &frames);
        assert_eq!(rows[0].value, 2.0);
        let (rows, t) = count("ipdestination", "avg:ipbytes.1", Some("ipsource.1=192.168.0.1"), &frames);
        assert_eq!(rows[0].value, 38.0);
        assert_eq!(t.filtered, 2);
    }

    #[test]
    fn bounded() {
        let mut t = FlowTable::new(10);
        for i in 0..100 {
            t.entry(&i.to_string()).frames += 1;
        }
        assert!(t.len() <= 10);
        assert_eq!(t.evicted, 90);
    }
}

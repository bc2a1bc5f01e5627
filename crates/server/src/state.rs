//! The server's shared state: the workers (each behind its own lock, taken by its receiving
//! thread per datagram and by queries only while they copy what they need), what users have
//! declared, and the event and flow logs. Queries merge the workers' tables: a flow's rate is
//! the sum of its rates on every worker (smoothed rates add up exactly).
use crate::access::Access;
use crate::collector::{Totals, Worker, WorkerLimits};
use crate::flow_ipfix::FlowExport;
use crate::listener::ConnectionStats;
use crate::ring::Ring;
use crate::sources::COUNTER_METRICS;
use crate::spec::{check_name, Declared, FlowSpec, GroupSpec, MapSpec, ThresholdSpec};
use flows::{DataSource, FlowRecord};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// Limits and switches of the server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerOptions {
    /// Refuse PUT and DELETE (sFlow-RT's `http.readonly`).
    pub readonly: bool,
    /// Most flow definitions.
    pub max_flows: usize,
    /// Most thresholds.
    pub max_thresholds: usize,
    /// Events kept for `/events/json`.
    pub max_events: usize,
    /// Flow records kept for `/flows/json`.
    pub max_flow_records: usize,
    /// Most (threshold, data source, flow) pairs above their threshold tracked at once.
    pub max_armed: usize,
    /// Largest request body in bytes.
    pub max_body: usize,
    /// Flows whose smoothed rate falls below this are dropped.
    pub rate_floor: f64,
    /// Most memory all flow definitions together may hold (their compiled filters' regular
    /// expressions above all), bytes.
    pub max_definition_memory: usize,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            readonly: false,
            max_flows: 100,
            max_thresholds: 100,
            max_events: 10_000,
            max_flow_records: 10_000,
            max_armed: 100_000,
            max_body: 64 * 1024,
            rate_floor: 1e-3,
            max_definition_memory: 64 << 20,
        }
    }
}

/// Why a request failed: its HTTP status and a message that names the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status code.
    pub status: u16,
    /// What was wrong.
    pub message: String,
}

impl Failure {
    /// A 400: the request is wrong.
    pub fn bad(message: impl Into<String>) -> Failure {
        Failure { status: 400, message: message.into() }
    }
    /// A 404: no such name.
    pub fn missing(what: &str, name: &str) -> Failure {
        Failure { status: 404, message: format!("no {what} named `{name}`") }
    }
}

/// Which agents a query covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentFilter {
    /// Every agent (`ALL`; `TOPOLOGY`, `EDGE` and `CORE` too, as no topology is loaded).
    All,
    /// These agents.
    Only(Vec<IpAddr>),
}

impl AgentFilter {
    /// Parses sFlow-RT's agent parameter: `ALL`, or addresses separated by `,` or `;`.
    /// `TOPOLOGY`, `EDGE` and `CORE` select agents by the topology; none is loaded, so they
    /// mean every agent.
    pub fn parse(s: &str) -> Result<AgentFilter, Failure> {
        if matches!(s, "ALL" | "TOPOLOGY" | "EDGE" | "CORE") {
            return Ok(AgentFilter::All);
        }
        s.split([',', ';'])
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| Failure::bad(format!("agent `{a}` is not an IP address or ALL")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(AgentFilter::Only)
    }

    fn addresses(&self) -> &[IpAddr] {
        match self {
            AgentFilter::All => &[],
            AgentFilter::Only(v) => v,
        }
    }

    fn covers(&self, a: IpAddr) -> bool {
        match self {
            AgentFilter::All => true,
            AgentFilter::Only(v) => v.contains(&a),
        }
    }
}

/// One flow among a data source's top flows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopKey {
    /// The flow key.
    pub key: String,
    /// Its rate.
    pub value: f64,
    /// Milliseconds since a sample last counted for it.
    #[serde(rename = "lastUpdate")]
    pub last_update: u64,
}

/// A metric's value at one data source (`/dump`), or a summary across them (`/metric`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricValue {
    /// The agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The data source (the ifIndex, as text).
    #[serde(rename = "dataSource", skip_serializing_if = "Option::is_none")]
    pub data_source: Option<String>,
    /// The metric as asked for.
    #[serde(rename = "metricName")]
    pub metric_name: String,
    /// Its value (absent when no data source has it).
    #[serde(rename = "metricValue", skip_serializing_if = "Option::is_none")]
    pub metric_value: Option<f64>,
    /// Data sources summarised (`/metric` only).
    #[serde(rename = "metricN", skip_serializing_if = "Option::is_none")]
    pub metric_n: Option<usize>,
    /// Milliseconds since the value was updated.
    #[serde(rename = "lastUpdate", skip_serializing_if = "Option::is_none")]
    pub last_update: Option<u64>,
    /// The smallest `lastUpdate` summarised (`/metric` only).
    #[serde(rename = "lastUpdateMin", skip_serializing_if = "Option::is_none")]
    pub last_update_min: Option<u64>,
    /// The largest (`/metric` only).
    #[serde(rename = "lastUpdateMax", skip_serializing_if = "Option::is_none")]
    pub last_update_max: Option<u64>,
    /// For flow metrics, the data source's top flows.
    #[serde(rename = "topKeys", skip_serializing_if = "Option::is_none")]
    pub top_keys: Option<Vec<TopKey>>,
}

/// One active flow, de-duplicated across data sources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveFlowJson {
    /// The flow key.
    pub key: String,
    /// Its rate (the largest at any data source for `max`, the sum for `sum`).
    pub value: f64,
    /// The agent of the data source with the largest value.
    pub agent: String,
    /// That data source.
    #[serde(rename = "dataSource")]
    pub data_source: String,
    /// Data sources that saw the flow.
    #[serde(rename = "flowN")]
    pub flow_n: usize,
}

/// A threshold crossing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Its number (filled in when read).
    #[serde(rename = "eventID")]
    pub event_id: u64,
    /// The threshold's name.
    #[serde(rename = "thresholdID")]
    pub threshold_id: String,
    /// The agent.
    pub agent: String,
    /// The data source.
    #[serde(rename = "dataSource")]
    pub data_source: String,
    /// The metric.
    pub metric: String,
    /// The metric's value when it crossed.
    pub value: f64,
    /// The threshold value.
    pub threshold: f64,
    /// The flow (for `byFlow` thresholds).
    #[serde(rename = "flowKey", skip_serializing_if = "Option::is_none")]
    pub flow_key: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
}

/// A flow log record as `/flows/json` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedFlow {
    /// Its number (filled in when read).
    #[serde(rename = "flowID")]
    pub flow_id: u64,
    /// The flow definition.
    pub name: String,
    /// The agent.
    pub agent: String,
    /// The data source.
    #[serde(rename = "dataSource")]
    pub data_source: String,
    /// The flow key.
    #[serde(rename = "flowKeys")]
    pub flow_keys: String,
    /// Frames or bytes (scaled by the sampling rate) between `start` and `end`.
    pub value: f64,
    /// Milliseconds since the Unix epoch of the first sample.
    pub start: u64,
    /// Of the last.
    pub end: u64,
}

/// HTTP request counters.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Requests being answered.
    pub current: AtomicU64,
    /// Requests received.
    pub total: AtomicU64,
    /// Answers with a 4xx status.
    pub client_errors: AtomicU64,
    /// Flow definitions refused (they do not compile, or exceed a limit).
    pub definitions_refused: AtomicU64,
}

/// The shared state.
pub struct Shared {
    workers: Vec<Mutex<Worker>>,
    declared: Mutex<Declared>,
    started: Instant,
    started_ms: u64,
    /// Limits and switches.
    pub options: ServerOptions,
    events: Mutex<Ring<Event>>,
    events_tx: watch::Sender<u64>,
    flow_log: Mutex<Ring<LoggedFlow>>,
    flows_tx: watch::Sender<u64>,
    armed: Mutex<Armed>,
    /// HTTP counters.
    pub http: HttpStats,
    /// UDP ports the sFlow receivers listen on (for the kernel's drop counters).
    pub udp_ports: Mutex<Vec<u16>>,
    /// The broker pipelines' latest summaries, by name (`/pipelines/json`).
    pub pipelines: Mutex<BTreeMap<String, pipeline::Summary>>,
    /// Who may use the API.
    pub access: Access,
    /// The API listener's counters.
    pub connections: Arc<ConnectionStats>,
    /// The memory each flow definition holds, by name.
    definition_memory: Mutex<BTreeMap<String, usize>>,
    /// Flows defined on behalf of clients (the Prometheus flow export, the web UI).
    transient: Mutex<Transient>,
    /// The Kafka export, when brokers are configured.
    kafka: Option<Arc<crate::kafka::KafkaExport>>,
    /// The IPFIX exports of flow definitions with `ipfixCollectors`, by name, and the next
    /// observation domain.
    flow_exports: Mutex<(BTreeMap<String, FlowExport>, u32)>,
}

/// The observation domain of the first flow definition's IPFIX export (the sample exports
/// use 1 and up, one per worker).
const FLOW_DOMAINS: u32 = 1000;

/// Most flows defined on behalf of one kind of client (the web UI, the Prometheus export).
const MAX_TRANSIENT: usize = 32;

/// Flows defined on behalf of clients: one per distinct definition and prefix, removed when
/// no client has asked for it for a while.
#[derive(Debug, Default)]
struct Transient {
    /// By prefix and definition: the flow's name, when it was last asked for, and for how
    /// long it is kept after that.
    flows: HashMap<(String, String), (String, f64, f64)>,
    /// The number the next flow's name takes.
    next: u64,
}

/// Thresholds' hysteresis: when each (threshold, data source, flow) was last above its value.
#[derive(Debug, Default)]
struct Armed {
    over: HashMap<(String, DataSource, String), f64>,
    /// Crossings not tracked because `max_armed` were.
    refused: u64,
}

/// The worker, of `workers`, that counts what `agent` sends.
fn agent_worker(agent: &IpAddr, workers: usize) -> usize {
    use std::hash::BuildHasher;
    let h = foldhash::fast::FixedState::with_seed(0x5eed).hash_one(agent);
    (h % workers.max(1) as u64) as usize
}

/// Locks `m`, recovering the data if a thread panicked while holding it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn ms(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1000.0) as u64
}

impl Shared {
    /// The state of `workers` workers decoding with `decoder`, starting with what `declared`
    /// holds.
    pub fn new(
        workers: usize,
        decoder: &dissect::Config,
        limits: WorkerLimits,
        declared: Declared,
        options: ServerOptions,
    ) -> Result<Shared, String> {
        let ctx = declared.check()?;
        if declared.flows.len() > options.max_flows {
            return Err(format!(
                "{} flows declared; the limit is {}",
                declared.flows.len(),
                options.max_flows
            ));
        }
        let mut compiled = Vec::new();
        let mut definition_memory = BTreeMap::new();
        for (name, f) in &declared.flows {
            let (d, o) = f.definition();
            let c = d.compile(&ctx).map_err(|e| format!("flow {name}: {e}"))?;
            definition_memory.insert(name.clone(), c.memory());
            compiled.push((name.clone(), c, o));
        }
        let mut flow_exports = BTreeMap::new();
        let mut next_domain = FLOW_DOMAINS;
        for (name, f) in &declared.flows {
            if let Some(x) = FlowExport::new(f, next_domain).map_err(|e| format!("flow {name}: {e}"))? {
                flow_exports.insert(name.clone(), x);
                next_domain += 1;
            }
        }
        let total: usize = definition_memory.values().sum();
        if total > options.max_definition_memory {
            return Err(format!(
                "the flow definitions hold {} KiB; the limit is {} KiB (limits.definition_memory)",
                total >> 10,
                options.max_definition_memory >> 10
            ));
        }
        let workers: Vec<Mutex<Worker>> = (0..workers.max(1))
            .map(|_| {
                let mut w = Worker::new(decoder.clone(), ctx.clone(), limits);
                for (name, c, o) in &compiled {
                    w.engine.set_flow(name, c.clone(), *o);
                }
                Mutex::new(w)
            })
            .collect();
        let started_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Ok(Shared {
            workers,
            declared: Mutex::new(declared),
            started: Instant::now(),
            started_ms,
            options,
            events: Mutex::new(Ring::new(options.max_events)),
            events_tx: watch::channel(0).0,
            flow_log: Mutex::new(Ring::new(options.max_flow_records)),
            flows_tx: watch::channel(0).0,
            armed: Mutex::new(Armed::default()),
            http: HttpStats::default(),
            udp_ports: Mutex::new(Vec::new()),
            pipelines: Mutex::new(BTreeMap::new()),
            access: Access::default(),
            connections: Arc::new(ConnectionStats::default()),
            definition_memory: Mutex::new(definition_memory),
            transient: Mutex::new(Transient::default()),
            kafka: None,
            flow_exports: Mutex::new((flow_exports, next_domain)),
        })
    }

    /// The same state with these access rules.
    pub fn with_access(self, access: Access) -> Shared {
        Shared { access, ..self }
    }

    /// The memory all flow definitions hold together, bytes.
    pub fn definition_memory(&self) -> usize {
        lock(&self.definition_memory).values().sum()
    }

    /// Seconds since the server started: the clock of the flow engines.
    pub fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Milliseconds since the Unix epoch of server second `seconds`.
    pub fn wall_ms(&self, seconds: f64) -> u64 {
        self.started_ms + ms(seconds)
    }

    /// The number of workers.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// Worker `i`.
    pub fn worker(&self, i: usize) -> &Mutex<Worker> {
        &self.workers[i % self.workers.len()]
    }

    /// Reads an sFlow datagram received at `now` on the socket of worker `received_by`. Each
    /// agent's datagrams are counted by one worker, chosen by its address, whichever socket
    /// the kernel gave them to (an agent that changes its source port moves between sockets):
    /// its sequence numbers, sub-agents and data sources are then tracked in one place.
    pub fn datagram(&self, received_by: usize, data: &[u8], now: f64) {
        let owner = match wire::sflow::Datagram::parse(data) {
            Ok(dg) => agent_worker(&capture::sflow::agent_address(dg.agent), self.workers.len()),
            // Not readable: counted by the worker of the socket that got it.
            Err(_) => received_by,
        };
        lock(self.worker(owner)).datagram(data, now);
    }

    /// Counts a frame a broker pipeline decoded, as `weight` frames at `source`, in the flow
    /// definitions of the worker of its agent.
    pub fn count_frame(&self, source: flows::DataSource, input: &query::Input<'_>, weight: u64) {
        let now = self.now();
        let mut w = lock(self.worker(agent_worker(&source.agent, self.workers.len())));
        w.engine.add(source, input, weight, now);
        w.keys.observe(&input.decoded, now);
    }

    /// Exports a frame pipeline `pipeline` decoded, standing for `weight` frames, seen at
    /// `source`, through the worker of its agent.
    pub fn export_frame(
        &self,
        pipeline: &str,
        source: flows::DataSource,
        input: &query::Input<'_>,
        weight: u64,
    ) {
        let mut w = lock(self.worker(agent_worker(&source.agent, self.workers.len())));
        w.export_frame(pipeline, source, input, weight);
    }

    /// Whether samples are exported (Kafka or IPFIX).
    pub fn exports(&self) -> bool {
        self.kafka.is_some() || self.workers.first().is_some_and(|w| lock(w).export.is_some())
    }

    /// Reads a frame of a capture (`serve --read`): sFlow datagrams in it as received ones,
    /// other frames as samples of rate 1 (see [`Worker::frame`]).
    pub fn frame(&self, data: &[u8], link: dissect::LinkType, orig_len: u32, interface: u32, now: f64) {
        let sflow = lock(self.worker(0)).frame(data, link, orig_len, interface, now);
        if let Some(at) = sflow {
            self.datagram(0, &data[at..], now);
        }
    }

    /// A copy of what is declared.
    pub fn declared(&self) -> Declared {
        lock(&self.declared).clone()
    }

    fn writable(&self) -> Result<(), Failure> {
        if self.options.readonly {
            Err(Failure { status: 403, message: "the server is read-only".into() })
        } else {
            Ok(())
        }
    }

    /// Exports every sample the workers count to IPFIX `collectors`.
    pub fn with_ipfix(self, collectors: &[SocketAddr]) -> std::io::Result<Shared> {
        for (i, w) in self.workers.iter().enumerate() {
            lock(w).export = Some(crate::ipfix::Exporter::new(collectors.to_vec(), i)?);
        }
        Ok(self)
    }

    /// Exports every sample the workers count to Kafka through `export`.
    pub fn with_kafka(mut self, export: Arc<crate::kafka::KafkaExport>) -> Shared {
        for w in &self.workers {
            lock(w).kafka = Some(crate::kafka::KafkaWriter::new(export.clone()));
        }
        self.kafka = Some(export);
        self
    }

    /// The Kafka export, when brokers are configured.
    pub fn kafka(&self) -> Option<&crate::kafka::KafkaExport> {
        self.kafka.as_deref()
    }

    /// Hands every sample the workers hold to the exports and stops the Kafka producer once
    /// it has delivered them (or its grace period is over): the last step of a shutdown.
    pub fn finish_exports(&self) {
        for w in &self.workers {
            let mut w = lock(w);
            if let Some(k) = &mut w.kafka {
                k.flush();
            }
            if let Some(x) = &mut w.export {
                x.flush();
            }
        }
        lock(&self.flow_exports).0.values_mut().for_each(FlowExport::flush);
        if let Some(k) = &self.kafka {
            k.finish();
        }
    }

    /// What each flow definition's IPFIX export sent, by name.
    pub fn flow_ipfix_counts(&self) -> BTreeMap<String, crate::ipfix::ExportCounts> {
        lock(&self.flow_exports).0.iter().map(|(n, x)| (n.clone(), x.counts())).collect()
    }

    /// What the IPFIX exporters did, summed over the workers (`None` without collectors).
    pub fn ipfix_counts(&self) -> Option<crate::ipfix::ExportCounts> {
        let mut total: Option<crate::ipfix::ExportCounts> = None;
        for w in &self.workers {
            if let Some(x) = &lock(w).export {
                total.get_or_insert_default().add(&x.counts());
            }
        }
        total
    }

    /// Defines (or redefines) flow `name`; its tables start empty.
    pub fn set_flow(&self, name: &str, spec: FlowSpec) -> Result<(), Failure> {
        self.writable()?;
        check_name(name).map_err(Failure::bad)?;
        let mut declared = lock(&self.declared);
        if !declared.flows.contains_key(name) && declared.flows.len() >= self.options.max_flows {
            return Err(Failure::bad(format!(
                "{} flows are defined; the limit is reached",
                declared.flows.len()
            )));
        }
        let ctx = declared.context().map_err(Failure::bad)?;
        let (d, o) = spec.definition();
        let refused = |f: Failure| {
            self.http.definitions_refused.fetch_add(1, Ordering::Relaxed);
            f
        };
        let compiled = d.compile(&ctx).map_err(|e| refused(Failure::bad(e.to_string())))?;
        let memory = compiled.memory();
        let mut held = lock(&self.definition_memory);
        let others: usize = held.iter().filter(|(n, _)| *n != name).map(|(_, m)| m).sum();
        if others + memory > self.options.max_definition_memory {
            return Err(refused(Failure::bad(format!(
                "flow {name} would hold {} KiB, and the flows defined already {} KiB; the limit of all is {} KiB (limits.definition_memory)",
                memory >> 10,
                others >> 10,
                self.options.max_definition_memory >> 10
            ))));
        }
        held.insert(name.to_string(), memory);
        let mut exports = lock(&self.flow_exports);
        let export = FlowExport::new(&spec, exports.1).map_err(|e| refused(Failure::bad(e)))?;
        for w in &self.workers {
            lock(w).engine.set_flow(name, compiled.clone(), o);
        }
        match export {
            Some(x) => {
                exports.0.insert(name.to_string(), x);
                exports.1 += 1;
            }
            None => {
                exports.0.remove(name);
            }
        }
        declared.flows.insert(name.to_string(), spec);
        Ok(())
    }

    /// The flow defined on behalf of a client for `spec`: the first request defines it as
    /// `{prefix}_{N}`, later ones with the same definition reuse it, and it is removed `keep`
    /// seconds after the last one (as sFlow-RT's apps do: 10 s for browse-flows, 5 minutes for
    /// the Prometheus export). A read-only server defines none.
    pub fn transient_flow(&self, prefix: &str, spec: FlowSpec, keep: f64) -> Result<String, Failure> {
        let id = (prefix.to_string(), serde_json::to_string(&spec).unwrap_or_default());
        let now = self.now();
        let mut t = lock(&self.transient);
        if let Some((name, last, _)) = t.flows.get_mut(&id) {
            *last = now;
            return Ok(name.clone());
        }
        // Clients need no write permission for these: they may not crowd out the flows
        // defined on purpose.
        let held = t.flows.keys().filter(|(p, _)| p == prefix).count();
        if held >= MAX_TRANSIENT {
            return Err(Failure {
                status: 429,
                message: format!(
                    "{held} flows are defined for {prefix} clients already, the most there may be; \
                     one is removed {keep} s after the last request for it"
                ),
            });
        }
        let name = format!("{prefix}_{}", t.next);
        self.set_flow(&name, spec)?;
        t.next += 1;
        t.flows.insert(id, (name.clone(), now, keep));
        Ok(name)
    }

    /// Removes the client-defined flows nobody asked for within their time.
    fn expire_transient(&self, now: f64) {
        let mut expired = Vec::new();
        lock(&self.transient).flows.retain(|_, (name, last, keep)| {
            let wanted = now - *last <= *keep;
            if !wanted {
                expired.push(std::mem::take(name));
            }
            wanted
        });
        for name in expired {
            // A client may have deleted it already.
            let _ = self.remove_flow(&name);
        }
    }

    /// `/metrics/json`: every metric with values, and the milliseconds since the newest.
    pub fn active_metrics(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for metric in self.all_metrics() {
            let newest = self
                .dump(&AgentFilter::All, &metric)
                .iter()
                .filter(|v| v.metric_value.is_some())
                .filter_map(|v| v.last_update)
                .min();
            if let Some(ms) = newest {
                out.insert(metric, ms);
            }
        }
        out
    }

    /// Removes flow `name`.
    pub fn remove_flow(&self, name: &str) -> Result<(), Failure> {
        self.writable()?;
        let mut declared = lock(&self.declared);
        if declared.flows.remove(name).is_none() {
            return Err(Failure::missing("flow", name));
        }
        lock(&self.definition_memory).remove(name);
        if let Some(mut x) = lock(&self.flow_exports).0.remove(name) {
            x.flush();
        }
        for w in &self.workers {
            lock(w).engine.remove_flow(name);
        }
        Ok(())
    }

    /// Sets threshold `name`.
    pub fn set_threshold(&self, name: &str, spec: ThresholdSpec) -> Result<(), Failure> {
        self.writable()?;
        check_name(name).map_err(Failure::bad)?;
        if !spec.value.is_finite() || !spec.timeout.is_finite() || spec.timeout < 0.0 {
            return Err(Failure::bad("value and timeout must be finite numbers, timeout at least 0"));
        }
        let mut declared = lock(&self.declared);
        if !declared.thresholds.contains_key(name) && declared.thresholds.len() >= self.options.max_thresholds
        {
            return Err(Failure::bad("the limit of thresholds is reached"));
        }
        declared.thresholds.insert(name.to_string(), spec);
        Ok(())
    }

    /// Removes threshold `name`.
    pub fn remove_threshold(&self, name: &str) -> Result<(), Failure> {
        self.writable()?;
        lock(&self.declared)
            .thresholds
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| Failure::missing("threshold", name))
    }

    /// Sets (`Some`) or removes the address group or map `name`, then gives every worker the
    /// new groups and maps.
    pub fn set_set(&self, group: bool, name: &str, spec: Option<GroupSpec>) -> Result<(), Failure> {
        self.writable()?;
        check_name(name).map_err(Failure::bad)?;
        let mut declared = lock(&self.declared);
        let mut next = declared.clone();
        let sets: &mut BTreeMap<String, GroupSpec> = if group { &mut next.groups } else { &mut next.maps };
        match spec {
            Some(s) => {
                sets.insert(name.to_string(), s);
            }
            None if sets.remove(name).is_none() => {
                return Err(Failure::missing(if group { "group" } else { "map" }, name));
            }
            None => {}
        }
        let ctx = next.context().map_err(Failure::bad)?;
        for w in &self.workers {
            lock(w).engine.set_context(ctx.clone());
        }
        *declared = next;
        Ok(())
    }

    /// The address group or map `name`.
    pub fn get_set(&self, group: bool, name: &str) -> Option<MapSpec> {
        let d = lock(&self.declared);
        if group { d.groups.get(name) } else { d.maps.get(name) }.cloned()
    }

    /// Every flow of `name` at the agents' data sources: per data source, key to rate and
    /// seconds since last counted, summed over the workers.
    fn flow_tables(
        &self,
        name: &str,
        agents: &AgentFilter,
        now: f64,
    ) -> HashMap<DataSource, HashMap<String, (f64, f64)>> {
        let mut per: HashMap<DataSource, HashMap<String, (f64, f64)>> = HashMap::new();
        for w in &self.workers {
            lock(w).engine.for_each(name, agents.addresses(), now, |ds, key, value, ago| {
                let e = per.entry(ds).or_default().entry(key.to_string()).or_insert((0.0, ago));
                e.0 += value;
                e.1 = e.1.min(ago);
            });
        }
        per
    }

    /// `/activeflows`: the largest flows of `name` de-duplicated across data sources.
    pub fn active_flows(
        &self,
        agents: &AgentFilter,
        name: &str,
        max_flows: usize,
        min_value: f64,
        sum: bool,
    ) -> Result<Vec<ActiveFlowJson>, Failure> {
        if !lock(&self.declared).flows.contains_key(name) {
            return Err(Failure::missing("flow", name));
        }
        let per = self.flow_tables(name, agents, self.now());
        let rates = per
            .iter()
            .flat_map(|(ds, table)| table.iter().map(move |(key, (value, _))| (*ds, key.as_str(), *value)));
        let agg = if sum { flows::AggMode::Sum } else { flows::AggMode::Max };
        let v = flows::combine(rates, max_flows, min_value, agg)
            .into_iter()
            .map(|f| ActiveFlowJson {
                key: f.key,
                value: f.value,
                agent: f.source.agent.to_string(),
                data_source: f.source.index.to_string(),
                flow_n: f.flow_n,
            })
            .collect();
        Ok(v)
    }

    /// Every value of `metric` at the agents' data sources (`/dump`). `metric` is a flow name
    /// (optionally `INDEX.name`, one data source) or an interface counter.
    pub fn dump(&self, agents: &AgentFilter, metric: &str) -> Vec<MetricValue> {
        let now = self.now();
        let flow = {
            let d = lock(&self.declared);
            let found = |m: &str| d.flows.get(m).map(|f| (m.to_string(), f.n.clamp(5, 20)));
            found(metric).map(|(n, top)| (n, top, None)).or_else(|| {
                let (ds, name) = metric.split_once('.')?;
                let index: u32 = ds.parse().ok()?;
                found(name).map(|(n, top)| (n, top, Some(index)))
            })
        };
        let mut out = Vec::new();
        if let Some((name, n, only)) = flow {
            for (ds, table) in self.flow_tables(&name, agents, now) {
                if only.is_some_and(|i| i != ds.index) {
                    continue;
                }
                let mut top: Vec<TopKey> = table
                    .into_iter()
                    .map(|(key, (value, ago))| TopKey { key, value, last_update: ms(ago) })
                    .collect();
                top.sort_by(|a, b| b.value.total_cmp(&a.value).then_with(|| a.key.cmp(&b.key)));
                top.truncate(n);
                out.push(MetricValue {
                    agent: Some(ds.agent.to_string()),
                    data_source: Some(ds.index.to_string()),
                    metric_name: metric.to_string(),
                    metric_value: Some(top.first().map_or(0.0, |t| t.value)),
                    metric_n: None,
                    last_update: Some(top.iter().map(|t| t.last_update).min().unwrap_or(0)),
                    last_update_min: None,
                    last_update_max: None,
                    top_keys: Some(top),
                });
            }
        } else if COUNTER_METRICS.contains(&metric) {
            for w in &self.workers {
                let w = lock(w);
                for (ds, s) in w.sources.iter() {
                    let (Some(v), Some(at)) = (s.metric(metric), s.last_counters()) else { continue };
                    if agents.covers(ds.agent) {
                        out.push(MetricValue {
                            agent: Some(ds.agent.to_string()),
                            data_source: Some(ds.index.to_string()),
                            metric_name: metric.to_string(),
                            metric_value: Some(v),
                            metric_n: None,
                            last_update: Some(ms(now - at)),
                            last_update_min: None,
                            last_update_max: None,
                            top_keys: None,
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| {
            (&a.agent, a.data_source.as_deref().map(index_order))
                .cmp(&(&b.agent, b.data_source.as_deref().map(index_order)))
        });
        out
    }

    /// `/metric/{agent}/json`: the latest value of every metric at the agents' data sources,
    /// keyed `DATASOURCE.METRIC` as sFlow-RT keys them.
    pub fn latest(&self, agents: &AgentFilter) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for metric in self.all_metrics() {
            for v in self.dump(agents, &metric) {
                if let (Some(ds), Some(x)) = (v.data_source, v.metric_value) {
                    out.insert(format!("{ds}.{metric}"), x);
                }
            }
        }
        out
    }

    /// The names `ALL` stands for in `/dump` and the Prometheus export.
    pub fn all_metrics(&self) -> Vec<String> {
        let d = lock(&self.declared);
        d.flows.keys().cloned().chain(COUNTER_METRICS.iter().map(|s| s.to_string())).collect()
    }

    /// `/metric`: `metric` (optionally with a statistic prefix such as `max:` or `avg:`)
    /// summarised across the agents' data sources.
    pub fn metric(&self, agents: &AgentFilter, metric: &str) -> Result<MetricValue, Failure> {
        let (stat, name) = match metric.split_once(':') {
            Some((s, n)) => (s, n),
            None => ("max", metric),
        };
        let points = self.dump(agents, name);
        let mut v: Vec<f64> = points.iter().filter_map(|p| p.metric_value).collect();
        v.sort_by(f64::total_cmp);
        let value = statistic(stat, &v)?;
        let updates: Vec<u64> = points.iter().filter_map(|p| p.last_update).collect();
        let mut m = MetricValue {
            agent: None,
            data_source: None,
            metric_name: metric.to_string(),
            metric_value: value,
            metric_n: Some(points.len()),
            last_update: None,
            last_update_min: updates.iter().copied().min(),
            last_update_max: updates.iter().copied().max(),
            top_keys: None,
        };
        // The data source whose value is nearest the statistic stands for it.
        if let Some(target) = value {
            if let Some(p) = points.into_iter().min_by(|a, b| {
                let d = |p: &MetricValue| (p.metric_value.unwrap_or(f64::NAN) - target).abs();
                d(a).total_cmp(&d(b))
            }) {
                m.agent = p.agent;
                m.data_source = p.data_source;
                m.last_update = p.last_update;
                m.top_keys = p.top_keys;
            }
        }
        Ok(m)
    }

    /// Totals over the workers.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for w in &self.workers {
            t.merge(&lock(w).totals());
        }
        t
    }

    /// What the workers' limits turned away: new agents, data sources and flow key stacks.
    pub fn refused(&self) -> (u64, u64, u64) {
        self.workers.iter().fold((0, 0, 0), |(a, d, k), w| {
            let w = lock(w);
            (a + w.agents().refused, d + w.sources.refused, k + w.keys.refused)
        })
    }

    /// Per agent address (sub-agents summed): its counters as `/agents/json` shows them.
    pub fn agents(&self, agents: &AgentFilter) -> BTreeMap<IpAddr, AgentJson> {
        let now = self.now();
        let mut out: BTreeMap<IpAddr, AgentJson> = BTreeMap::new();
        for w in &self.workers {
            let w = lock(w);
            for (id, s) in w.agents().list() {
                if !agents.covers(id.address) {
                    continue;
                }
                let a = out.entry(id.address).or_default();
                a.datagrams += s.datagrams;
                a.lost += s.lost;
                a.duplicates += s.duplicates;
                a.out_of_order += s.out_of_order;
                a.restarts += s.restarts;
                a.malformed += s.malformed;
                a.flow_samples += s.flow_samples;
                a.counter_samples += s.counter_samples;
                a.sub_agents += 1;
            }
            for (addr, seen) in &w.seen {
                if let Some(a) = out.get_mut(addr) {
                    a.bytes += seen.bytes;
                    a.first_seen = a.first_seen.max(ms(now - seen.first));
                    a.last_seen = if a.last_seen == 0 {
                        ms(now - seen.last)
                    } else {
                        a.last_seen.min(ms(now - seen.last))
                    };
                    a.uptime = a.uptime.max(u64::from(seen.uptime_ms));
                }
            }
            for (ds, s) in w.sources.iter() {
                if let Some(a) = out.get_mut(&ds.agent) {
                    a.data_sources += 1;
                    a.agent_drops += u64::from(s.agent_drops());
                }
            }
        }
        out
    }

    /// Per data source: the stated and effective sampling rates (`/sampling/json`).
    pub fn sampling(&self, agents: &AgentFilter) -> Vec<SamplingJson> {
        let mut out = Vec::new();
        for w in &self.workers {
            let w = lock(w);
            for (ds, s) in w.sources.iter() {
                if agents.covers(ds.agent) && s.samples > 0 {
                    out.push(SamplingJson {
                        agent: ds.agent.to_string(),
                        data_source: ds.index.to_string(),
                        sampling_rate: s.sampling_rate,
                        effective_sampling_rate: s.effective_sampling_rate(),
                        samples: s.samples,
                        agent_drops: s.agent_drops(),
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            (&a.agent, index_order(&a.data_source)).cmp(&(&b.agent, index_order(&b.data_source)))
        });
        out
    }

    /// `/flowkeys/json`: every key decoded frames have had, and milliseconds since.
    pub fn flow_keys(&self) -> BTreeMap<String, u64> {
        let now = self.now();
        let mut seen = HashMap::new();
        for w in &self.workers {
            lock(w).keys.merge_into(&mut seen);
        }
        seen.into_iter().map(|(k, at)| (k, ms(now - at))).collect()
    }

    /// Entries evicted and held per flow definition, and flow records lost, over the workers.
    pub fn flow_stats(&self) -> (BTreeMap<String, (u64, usize)>, u64) {
        let names: Vec<String> = lock(&self.declared).flows.keys().cloned().collect();
        let mut out: BTreeMap<String, (u64, usize)> = names.iter().map(|n| (n.clone(), (0, 0))).collect();
        let mut lost = 0;
        for w in &self.workers {
            let w = lock(w);
            for n in &names {
                let e = out.entry(n.clone()).or_default();
                e.0 += w.engine.evicted(n);
                e.1 += w.engine.entries(n);
            }
            lost += w.engine.records_lost;
        }
        (out, lost)
    }

    /// Events after `after` (newest first; `None`: the newest one), of `threshold` when given.
    pub fn events(&self, after: Option<u64>, max: usize, threshold: Option<&str>) -> Vec<Event> {
        let r = lock(&self.events);
        let (after, max) = after.map_or((0, max.min(1)), |a| (a, max));
        r.after(after, max, |e| threshold.is_none_or(|t| e.threshold_id == t))
            .into_iter()
            .map(|(id, e)| Event { event_id: id, ..e.clone() })
            .collect()
    }

    /// Flow records after `after` (newest first; `None`: the newest one), of flow `name` when
    /// given.
    pub fn logged_flows(&self, after: Option<u64>, max: usize, name: Option<&str>) -> Vec<LoggedFlow> {
        let r = lock(&self.flow_log);
        let (after, max) = after.map_or((0, max.min(1)), |a| (a, max));
        r.after(after, max, |f| name.is_none_or(|n| f.name == n))
            .into_iter()
            .map(|(id, f)| LoggedFlow { flow_id: id, ..f.clone() })
            .collect()
    }

    /// Events and flow records dropped from their logs before being read out in full.
    pub fn log_drops(&self) -> (u64, u64) {
        (lock(&self.events).dropped, lock(&self.flow_log).dropped)
    }

    /// Crossings not tracked because the limit of armed thresholds was reached.
    pub fn armed_refused(&self) -> u64 {
        lock(&self.armed).refused
    }

    /// A receiver that changes when a new event (`true`) or flow record (`false`) is logged.
    pub fn subscribe(&self, events: bool) -> watch::Receiver<u64> {
        if events { &self.events_tx } else { &self.flows_tx }.subscribe()
    }

    /// Once a second: collects flow log records, drops decayed flows and checks thresholds.
    pub fn housekeep(&self) {
        let now = self.now();
        let mut records: Vec<FlowRecord> = Vec::new();
        for w in &self.workers {
            let mut w = lock(w);
            records.extend(w.engine.housekeep(now, self.options.rate_floor));
            if let Some(x) = &mut w.export {
                x.tick();
            }
            if let Some(k) = &mut w.kafka {
                k.flush();
            }
        }
        {
            let mut exports = lock(&self.flow_exports);
            for r in &records {
                if let Some(x) = exports.0.get_mut(&r.name) {
                    x.record(r, self.wall_ms(r.start), self.wall_ms(r.end));
                }
            }
            exports.0.values_mut().for_each(FlowExport::tick);
        }
        // Flows exported and not logged leave no record in the log.
        {
            let declared = lock(&self.declared);
            records.retain(|r| declared.flows.get(&r.name).is_some_and(|f| f.log));
        }
        if !records.is_empty() {
            let mut log = lock(&self.flow_log);
            for r in records {
                log.push(LoggedFlow {
                    flow_id: 0,
                    name: r.name,
                    agent: r.source.agent.to_string(),
                    data_source: r.source.index.to_string(),
                    flow_keys: r.key,
                    value: r.value,
                    start: self.wall_ms(r.start),
                    end: self.wall_ms(r.end),
                });
            }
            self.flows_tx.send_replace(log.last());
        }
        self.check_thresholds(now);
        self.expire_transient(now);
    }

    fn check_thresholds(&self, now: f64) {
        let thresholds = lock(&self.declared).thresholds.clone();
        let mut crossings: Vec<(String, DataSource, Option<String>, f64, &ThresholdSpec)> = Vec::new();
        for (name, t) in &thresholds {
            let is_flow = lock(&self.declared).flows.contains_key(&t.metric);
            if is_flow {
                for (ds, table) in self.flow_tables(&t.metric, &AgentFilter::All, now) {
                    if t.by_flow {
                        for (key, (v, _)) in table {
                            if v > t.value {
                                crossings.push((name.clone(), ds, Some(key), v, t));
                            }
                        }
                    } else if let Some(max) = table.values().map(|(v, _)| *v).max_by(f64::total_cmp) {
                        if max > t.value {
                            crossings.push((name.clone(), ds, None, max, t));
                        }
                    }
                }
            } else {
                for p in self.dump(&AgentFilter::All, &t.metric) {
                    let (Some(agent), Some(index), Some(v)) = (p.agent, p.data_source, p.metric_value) else {
                        continue;
                    };
                    let (Ok(agent), Ok(index)) = (agent.parse(), index.parse()) else { continue };
                    if v > t.value {
                        crossings.push((name.clone(), DataSource { agent, index }, None, v, t));
                    }
                }
            }
        }
        let mut armed = lock(&self.armed);
        let mut fired = Vec::new();
        for (name, ds, key, value, t) in crossings {
            let k = (name, ds, key.clone().unwrap_or_default());
            if let Some(at) = armed.over.get_mut(&k) {
                *at = now;
                continue;
            }
            if armed.over.len() >= self.options.max_armed {
                armed.refused += 1;
                continue;
            }
            fired.push(Event {
                event_id: 0,
                threshold_id: k.0.clone(),
                agent: ds.agent.to_string(),
                data_source: ds.index.to_string(),
                metric: t.metric.clone(),
                value,
                threshold: t.value,
                flow_key: key,
                timestamp: self.wall_ms(now),
            });
            armed.over.insert(k, now);
        }
        // Re-arm what has stayed below its value for the threshold's timeout (or was removed).
        armed.over.retain(|(name, _, _), at| thresholds.get(name).is_some_and(|t| now - *at <= t.timeout));
        drop(armed);
        if !fired.is_empty() {
            let mut log = lock(&self.events);
            for e in fired {
                log.push(e);
            }
            self.events_tx.send_replace(log.last());
        }
    }
}

/// Sorts data source names numerically where they are numbers.
fn index_order(s: &str) -> (u64, &str) {
    (s.parse().unwrap_or(u64::MAX), s)
}

/// sFlow-RT's summary statistics over sorted values; `None` when there are none.
fn statistic(stat: &str, v: &[f64]) -> Result<Option<f64>, Failure> {
    let known = ["max", "min", "sum", "avg", "var", "sdev", "med", "q1", "q2", "q3", "iqr", "any"];
    if !known.contains(&stat) {
        return Err(Failure::bad(format!(
            "unknown statistic `{stat}:`; expected one of {}",
            known.join(", ")
        )));
    }
    if v.is_empty() {
        return Ok(None);
    }
    let n = v.len() as f64;
    let quantile = |q: f64| {
        let pos = q * (n - 1.0);
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    };
    let avg = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - avg) * (x - avg)).sum::<f64>() / n;
    Ok(Some(match stat {
        "max" => v[v.len() - 1],
        "min" | "any" => v[0],
        "sum" => v.iter().sum(),
        "avg" => avg,
        "var" => var,
        "sdev" => var.sqrt(),
        "med" | "q2" => quantile(0.5),
        "q1" => quantile(0.25),
        "q3" => quantile(0.75),
        _ => quantile(0.75) - quantile(0.25),
    }))
}

/// One agent as `/agents/json` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgentJson {
    /// Datagrams received.
    #[serde(rename = "sFlowDatagramsReceived")]
    pub datagrams: u64,
    /// Datagram bytes received.
    #[serde(rename = "sFlowBytesReceived")]
    pub bytes: u64,
    /// Datagrams missing from the sequence numbers.
    #[serde(rename = "sFlowDatagramsLost")]
    pub lost: u64,
    /// Datagrams received twice.
    #[serde(rename = "sFlowDatagramsDuplicates")]
    pub duplicates: u64,
    /// Datagrams arriving after a later one.
    #[serde(rename = "sFlowDatagramsOutOfOrder")]
    pub out_of_order: u64,
    /// Datagrams that could not be read to the end.
    #[serde(rename = "sFlowDatagramsMalformed")]
    pub malformed: u64,
    /// Times the agent restarted its sequence numbers.
    #[serde(rename = "sFlowAgentRestarts")]
    pub restarts: u64,
    /// Flow samples received.
    #[serde(rename = "sFlowFlowSamples")]
    pub flow_samples: u64,
    /// Flow samples the agent says it dropped.
    #[serde(rename = "sFlowFlowDrops")]
    pub agent_drops: u64,
    /// Counter samples received.
    #[serde(rename = "sFlowCounterSamples")]
    pub counter_samples: u64,
    /// Sub-agents seen.
    #[serde(rename = "subAgents")]
    pub sub_agents: u64,
    /// Data sources seen.
    #[serde(rename = "dataSources")]
    pub data_sources: u64,
    /// Milliseconds since the first datagram.
    #[serde(rename = "firstSeen")]
    pub first_seen: u64,
    /// Milliseconds since the latest.
    #[serde(rename = "lastSeen")]
    pub last_seen: u64,
    /// The agent's uptime in its latest datagram (ms).
    pub uptime: u64,
}

/// A data source's sampling, stated and effective.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SamplingJson {
    /// The agent.
    pub agent: String,
    /// The data source.
    #[serde(rename = "dataSource")]
    pub data_source: String,
    /// The rate its flow samples state.
    #[serde(rename = "samplingRate")]
    pub sampling_rate: u32,
    /// Packets of the sample pool per flow sample received.
    #[serde(rename = "effectiveSamplingRate")]
    pub effective_sampling_rate: Option<f64>,
    /// Flow samples received.
    pub samples: u64,
    /// Samples the agent says it dropped.
    #[serde(rename = "agentDrops")]
    pub agent_drops: u32,
}

//! Prometheus text exposition: sFlow-RT's `/prometheus/...` exports of sFlow metrics, and
//! `/metrics`, detunnel's own counters and drops.
use crate::state::{lock, AgentFilter, MetricValue, Shared};
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// `name` with every character Prometheus does not allow in a metric name replaced by `_`.
fn metric_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// `v` as a label value: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Appends `sflow_METRIC{agent="…",datasource="…"} VALUE` for every value of `metric`.
pub fn sflow_metric(out: &mut String, metric: &str, values: &[MetricValue]) {
    let name = metric_name(metric);
    for v in values {
        let (Some(a), Some(ds), Some(x)) = (&v.agent, &v.data_source, v.metric_value) else { continue };
        let _ = writeln!(out, "sflow_{name}{{agent=\"{}\",datasource=\"{}\"}} {x}", label(a), label(ds));
    }
}

/// `/prometheus/analyzer/txt`: current sFlow-RT's names (which dashboards query), then the
/// older ones.
pub fn analyzer(s: &Shared) -> String {
    let t = s.totals();
    let agents = s.agents(&AgentFilter::All).len();
    let mut out = String::new();
    let _ = writeln!(out, "sflow_analyzer_agent_count {agents}");
    let _ = writeln!(out, "sflow_analyzer_received_bytes {}", t.bytes);
    let _ = writeln!(out, "sflow_analyzer_received_datagrams {}", t.datagrams);
    let _ = writeln!(out, "sflow_analyzer_discarded_datagrams {}", t.unreadable + t.malformed);
    let _ = writeln!(out, "sflow_analyzer_heap_used_bytes {}", resident_bytes());
    let _ = writeln!(out, "sflow_analyzer_cpu_load_process {}", cpu_load());
    let _ = writeln!(out, "sflow_analyzer_agents {agents}");
    let _ = writeln!(out, "sflow_analyzer_datagrams {}", t.datagrams);
    let _ = writeln!(out, "sflow_analyzer_bytes {}", t.bytes);
    let _ = writeln!(out, "sflow_analyzer_flow_samples {}", t.flow_samples);
    let _ = writeln!(out, "sflow_analyzer_counter_samples {}", t.counter_samples);
    out
}

/// The lines of the sflow-rt/prometheus app's flow export: `metric{name="value",...} value`
/// for every flow, its key split at `sep` into the values of `names`, its value times `scale`.
pub fn flow_lines(
    metric: &str,
    names: &[&str],
    sep: &str,
    flows: &[crate::state::ActiveFlowJson],
    scale: f64,
) -> String {
    let mut out = String::new();
    let metric = metric_name(metric);
    for f in flows {
        let _ = write!(out, "{metric}{{");
        for (i, (name, v)) in names.iter().zip(f.key.split(sep)).enumerate() {
            let _ = write!(out, "{}{}=\"{}\"", if i > 0 { "," } else { "" }, metric_name(name), label(v));
        }
        let _ = writeln!(out, "}} {}", f.value * scale);
    }
    out
}

/// The process's share of one core since the previous call (since start on the first).
fn cpu_load() -> f64 {
    use std::sync::Mutex;
    use std::time::Instant;
    static LAST: Mutex<Option<(Instant, f64)>> = Mutex::new(None);
    /// Clock ticks per second of /proc's times (USER_HZ on Linux).
    const TICKS: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15, the 12th and 13th after the name.
    let cpu = (ticks(11) + ticks(12)) / TICKS;
    let now = Instant::now();
    let mut last = crate::state::lock(&LAST);
    let wall_and_cpu = match *last {
        Some((since, before)) => (now.duration_since(since).as_secs_f64(), cpu - before),
        None => {
            // Since the process started: the system's uptime less the start (field 22).
            let uptime = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
            let up: f64 = uptime.split_whitespace().next().and_then(|u| u.parse().ok()).unwrap_or(0.0);
            (up - ticks(19) / TICKS, cpu)
        }
    };
    *last = Some((now, cpu));
    match wall_and_cpu {
        (wall, used) if wall > 0.0 => (used / wall).max(0.0),
        _ => 0.0,
    }
}

/// Writes one metric family with its help and type lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str, rows: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, v) in rows {
        let _ = writeln!(out, "{name}{labels} {v}");
    }
}

/// The Kafka export's families.
fn kafka_families(out: &mut String, k: &crate::kafka::KafkaCounts) {
    let one = |v: u64| vec![(String::new(), v as f64)];
    let c = "counter";
    family(out, "detunnel_kafka_samples_total", c, "Samples written into Kafka messages.", &one(k.samples));
    family(out, "detunnel_kafka_delivered_total", c, "Samples the brokers acknowledged.", &one(k.delivered));
    family(
        out,
        "detunnel_kafka_messages_total",
        c,
        "Kafka messages the brokers acknowledged.",
        &one(k.messages),
    );
    family(out, "detunnel_kafka_bytes_total", c, "Bytes of the acknowledged messages.", &one(k.bytes));
    let by = |rows: &[(&str, u64)]| -> Vec<(String, f64)> {
        rows.iter().map(|(r, v)| (format!("{{reason=\"{r}\"}}"), *v as f64)).collect()
    };
    let dropped = by(&[
        ("queue_full", k.dropped_queue_full),
        ("rejected", k.dropped_rejected),
        ("shutdown", k.dropped_shutdown),
    ]);
    family(out, "detunnel_kafka_dropped_total", c, "Samples not delivered, by reason.", &dropped);
    let errors = by(&[
        ("unreachable", k.errors_unreachable),
        ("topic", k.errors_topic),
        ("auth", k.errors_auth),
        ("counters", k.errors_counters),
    ]);
    family(out, "detunnel_kafka_errors_total", c, "Failed attempts (retried), by reason.", &errors);
    family(out, "detunnel_kafka_queued", "gauge", "Samples waiting for the brokers.", &one(k.queued));
}

/// `/metrics`: what detunnel received, dropped and holds.
pub fn own(s: &Shared) -> String {
    let t = s.totals();
    let mut out = String::new();
    let one = |v: u64| vec![(String::new(), v as f64)];
    let c = "counter";
    family(&mut out, "detunnel_sflow_datagrams_total", c, "sFlow datagrams received.", &one(t.datagrams));
    family(&mut out, "detunnel_sflow_bytes_total", c, "sFlow datagram bytes received.", &one(t.bytes));
    family(
        &mut out,
        "detunnel_sflow_datagrams_unreadable_total",
        c,
        "Datagrams that are not sFlow v5 or whose header does not parse.",
        &one(t.unreadable),
    );
    family(
        &mut out,
        "detunnel_sflow_datagrams_malformed_total",
        c,
        "Datagrams that failed part way.",
        &one(t.malformed),
    );
    let samples = vec![
        ("{kind=\"flow\"}".to_string(), t.flow_samples as f64),
        ("{kind=\"counter\"}".to_string(), t.counter_samples as f64),
        ("{kind=\"discard\"}".to_string(), t.discard_samples as f64),
    ];
    family(&mut out, "detunnel_sflow_samples_total", c, "sFlow samples received, by kind.", &samples);
    family(
        &mut out,
        "detunnel_sflow_headers_total",
        c,
        "Sampled headers decoded and counted.",
        &one(t.sampled_headers),
    );
    family(
        &mut out,
        "detunnel_sflow_skipped_total",
        c,
        "Samples, records and header protocols not read.",
        &one(t.skipped),
    );
    family(&mut out, "detunnel_file_frames_total", c, "Frames read from capture files.", &one(t.file_frames));
    if let Some(x) = s.ipfix_counts() {
        family(
            &mut out,
            "detunnel_ipfix_records_total",
            c,
            "Samples exported as IPFIX records.",
            &one(x.records),
        );
        family(
            &mut out,
            "detunnel_ipfix_messages_total",
            c,
            "IPFIX messages sent (to each collector).",
            &one(x.messages),
        );
        let not = vec![("{reason=\"not_ip\"}".to_string(), x.not_ip as f64)];
        family(&mut out, "detunnel_ipfix_not_exported_total", c, "Samples not exported, by reason.", &not);
        family(
            &mut out,
            "detunnel_ipfix_send_errors_total",
            c,
            "IPFIX messages the network refused.",
            &one(x.errors),
        );
    }
    let flow_ipfix = s.flow_ipfix_counts();
    if !flow_ipfix.is_empty() {
        let rows: Vec<(String, f64)> =
            flow_ipfix.iter().map(|(n, x)| (format!("{{flow=\"{n}\"}}"), x.records as f64)).collect();
        let help = "Completed flows exported as IPFIX records (ipfixCollectors), by flow definition.";
        family(&mut out, "detunnel_ipfix_flow_records_total", c, help, &rows);
    }
    if let Some(k) = s.kafka() {
        kafka_families(&mut out, &k.counters.counts());
    }
    let ports = lock(&s.udp_ports).clone();
    family(
        &mut out,
        "detunnel_udp_receive_drops_total",
        c,
        "Datagrams the kernel dropped on the sFlow sockets (full receive buffers).",
        &one(capture::udp::kernel_drops(&ports)),
    );
    let agents = s.agents(&AgentFilter::All);
    let per_agent = |f: &dyn Fn(&crate::state::AgentJson) -> u64| -> Vec<(String, f64)> {
        agents.iter().map(|(a, j)| (format!("{{agent=\"{a}\"}}"), f(j) as f64)).collect()
    };
    family(
        &mut out,
        "detunnel_agent_datagrams_total",
        c,
        "Datagrams per agent.",
        &per_agent(&|j| j.datagrams),
    );
    family(
        &mut out,
        "detunnel_agent_datagrams_lost_total",
        c,
        "Datagrams missing from the sequence numbers.",
        &per_agent(&|j| j.lost),
    );
    family(
        &mut out,
        "detunnel_agent_datagrams_duplicate_total",
        c,
        "Datagrams received twice.",
        &per_agent(&|j| j.duplicates),
    );
    family(
        &mut out,
        "detunnel_agent_datagrams_out_of_order_total",
        c,
        "Datagrams after a later one.",
        &per_agent(&|j| j.out_of_order),
    );
    family(
        &mut out,
        "detunnel_agent_datagrams_malformed_total",
        c,
        "Malformed datagrams per agent.",
        &per_agent(&|j| j.malformed),
    );
    family(
        &mut out,
        "detunnel_agent_restarts_total",
        c,
        "Agent sequence number restarts.",
        &per_agent(&|j| j.restarts),
    );
    let (flows, records_lost) = s.flow_stats();
    let rows = |f: &dyn Fn(&(u64, usize)) -> f64| -> Vec<(String, f64)> {
        flows.iter().map(|(n, v)| (format!("{{flow=\"{}\"}}", label(n)), f(v))).collect()
    };
    family(
        &mut out,
        "detunnel_flow_entries",
        "gauge",
        "Flow entries held per definition.",
        &rows(&|v| v.1 as f64),
    );
    family(
        &mut out,
        "detunnel_flow_evictions_total",
        c,
        "Flow entries evicted to stay within the limit.",
        &rows(&|v| v.0 as f64),
    );
    let (events, records) = s.log_drops();
    family(
        &mut out,
        "detunnel_flow_records_lost_total",
        c,
        "flowStart records lost (too many waiting).",
        &one(records_lost),
    );
    family(
        &mut out,
        "detunnel_flow_log_overwritten_total",
        c,
        "Flow log records pushed out of /flows/json.",
        &one(records),
    );
    family(
        &mut out,
        "detunnel_events_overwritten_total",
        c,
        "Events pushed out of /events/json.",
        &one(events),
    );
    family(
        &mut out,
        "detunnel_threshold_crossings_untracked_total",
        c,
        "Threshold crossings over the tracking limit.",
        &one(s.armed_refused()),
    );
    family(
        &mut out,
        "detunnel_http_requests_total",
        c,
        "HTTP requests.",
        &one(s.http.total.load(Ordering::Relaxed)),
    );
    family(
        &mut out,
        "detunnel_http_client_errors_total",
        c,
        "HTTP answers with a 4xx status.",
        &one(s.http.client_errors.load(Ordering::Relaxed)),
    );
    family(
        &mut out,
        "detunnel_http_definitions_refused_total",
        c,
        "Flow definitions refused: they do not compile or exceed a limit.",
        &one(s.http.definitions_refused.load(Ordering::Relaxed)),
    );
    family(
        &mut out,
        "detunnel_flow_definition_bytes",
        "gauge",
        "Memory the flow definitions hold (compiled filters, regular expressions).",
        &one(s.definition_memory() as u64),
    );
    let (agents, sources, stacks) = s.refused();
    let refused = vec![
        ("{limit=\"agents\"}".to_string(), agents as f64),
        ("{limit=\"data_sources\"}".to_string(), sources as f64),
        ("{limit=\"flow_key_stacks\"}".to_string(), stacks as f64),
    ];
    family(
        &mut out,
        "detunnel_limit_refused_total",
        c,
        "What a limit turned away: datagrams of agents past limits.agents, samples of data sources past limits.data_sources, frames of protocol stacks past the 1,024 /flowkeys remembers.",
        &refused,
    );
    connections(&mut out, &s.connections);
    pipelines(&mut out, s);
    family(
        &mut out,
        "detunnel_resident_bytes",
        "gauge",
        "Resident memory of the process.",
        &one(resident_bytes()),
    );
    out
}

/// The API listener's connections: open, accepted, and closed by each bound.
fn connections(out: &mut String, c: &crate::listener::ConnectionStats) {
    let one = |v: &std::sync::atomic::AtomicU64| vec![(String::new(), v.load(Ordering::Relaxed) as f64)];
    family(out, "detunnel_http_connections", "gauge", "HTTP connections open.", &one(&c.open));
    family(
        out,
        "detunnel_http_connections_total",
        "counter",
        "HTTP connections accepted.",
        &one(&c.accepted),
    );
    let closed = vec![
        ("{reason=\"evicted\"}".to_string(), c.evicted.load(Ordering::Relaxed) as f64),
        ("{reason=\"header_timeout\"}".to_string(), c.header_timeouts.load(Ordering::Relaxed) as f64),
        ("{reason=\"idle\"}".to_string(), c.idle_closed.load(Ordering::Relaxed) as f64),
    ];
    family(
        out,
        "detunnel_http_connections_closed_total",
        "counter",
        "HTTP connections closed by a bound: evicted at the connection cap, headers too slow, idle.",
        &closed,
    );
    family(
        out,
        "detunnel_http_accept_errors_total",
        "counter",
        "Failed accepts (out of file descriptors).",
        &one(&c.accept_errors),
    );
    family(
        out,
        "detunnel_http_handler_panics_total",
        "counter",
        "Requests whose handler failed (answered 500).",
        &one(&c.handler_panics),
    );
}

/// The broker pipelines' counters: per pipeline frames in, out and lost, per sink and per
/// tunnel stream.
fn pipelines(out: &mut String, s: &Shared) {
    let p = lock(&s.pipelines).clone();
    let c = "counter";
    let per = |f: &dyn Fn(&pipeline::Summary) -> u64| -> Vec<(String, f64)> {
        p.iter().map(|(n, v)| (format!("{{pipeline=\"{}\"}}", label(n)), f(v) as f64)).collect()
    };
    family(
        out,
        "detunnel_pipeline_frames_in_total",
        c,
        "Frames a pipeline received.",
        &per(&|v| v.frames_in),
    );
    family(
        out,
        "detunnel_pipeline_frames_out_total",
        c,
        "Frames a pipeline emitted.",
        &per(&|v| v.frames_out),
    );
    family(
        out,
        "detunnel_pipeline_dropped_total",
        c,
        "Frames a pipeline dropped (filter, no tunnel, duplicates, ...).",
        &per(&|v| v.dropped.values().sum()),
    );
    family(
        out,
        "detunnel_pipeline_write_errors_total",
        c,
        "Frames lost to output write errors.",
        &per(&|v| v.write_errors),
    );
    family(
        out,
        "detunnel_pipeline_socket_drops_total",
        c,
        "Datagrams the kernel dropped on endpoint sockets.",
        &per(&|v| v.socket_drops.unwrap_or(0)),
    );
    family(
        out,
        "detunnel_pipeline_ring_drops_total",
        c,
        "Frames the kernel dropped on capture rings.",
        &per(&|v| v.kernel.map_or(0, |k| k.drops)),
    );
    family(
        out,
        "detunnel_pipeline_flow_frames_total",
        c,
        "Frames a pipeline counted into the flow engine.",
        &per(&|v| v.flows.map_or(0, |f| f.counted)),
    );
    let mut sinks = Vec::new();
    let mut sink_errors = Vec::new();
    let mut sink_reopened = Vec::new();
    let mut streams = Vec::new();
    let mut sources = Vec::new();
    let (mut kinds_in, mut kinds_out) = (Vec::new(), Vec::new());
    for (n, v) in &p {
        // The summary's words: `erspan3`, `mpls-pw`, `untunnelled`, as in stream names.
        for (kind, frames) in &v.in_by_encapsulation {
            kinds_in
                .push((format!("{{pipeline=\"{}\",kind=\"{}\"}}", label(n), label(kind)), *frames as f64));
        }
        for (kind, frames) in &v.out_by_stream_kind {
            kinds_out
                .push((format!("{{pipeline=\"{}\",kind=\"{}\"}}", label(n), label(kind)), *frames as f64));
        }
        for k in &v.sources {
            let l = format!("{{pipeline=\"{}\",source=\"{}\"}}", label(n), label(&k.name));
            sources.push((l, k.frames as f64));
        }
        for k in &v.sinks {
            let l = format!("{{pipeline=\"{}\",sink=\"{}\"}}", label(n), label(&k.name));
            sinks.push((l.clone(), k.frames as f64));
            sink_errors.push((l.clone(), (k.errors + k.too_big) as f64));
            sink_reopened.push((l, k.reopened as f64));
        }
        for k in &v.streams {
            let l = format!("{{pipeline=\"{}\",stream=\"{}\"}}", label(n), label(&k.name));
            streams.push((l, k.frames as f64));
        }
    }
    family(out, "detunnel_pipeline_source_frames_total", c, "Frames a live source received.", &sources);
    family(
        out,
        "detunnel_pipeline_frames_in_by_kind_total",
        c,
        "Frames a pipeline received, by outermost encapsulation.",
        &kinds_in,
    );
    family(
        out,
        "detunnel_pipeline_frames_out_by_kind_total",
        c,
        "Frames a pipeline emitted, by the kind of tunnel stripped.",
        &kinds_out,
    );
    family(out, "detunnel_pipeline_sink_frames_total", c, "Frames a sink took.", &sinks);
    family(
        out,
        "detunnel_pipeline_sink_drops_total",
        c,
        "Frames a sink refused or found too big.",
        &sink_errors,
    );
    family(
        out,
        "detunnel_pipeline_sink_reopened_total",
        c,
        "Times a sink was opened again after its interface refused frames (a TAP or tool port deleted and created again).",
        &sink_reopened,
    );
    family(out, "detunnel_pipeline_stream_frames_total", c, "Frames per tunnel stream.", &streams);
}

/// The process's resident memory in bytes (0 where /proc is not there).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

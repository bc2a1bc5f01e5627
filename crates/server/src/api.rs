//! The REST API: sFlow-RT's paths and JSON shapes (see `SFLOW-RT.md`), plus `/metrics`
//! (detunnel's own counters for Prometheus), `/sampling/json` and `/healthz`. Bad JSON, an
//! unknown attribute, key or filter is a 400 naming the problem; an unknown name a 404;
//! bodies over the limit a 413.
use crate::prometheus;
use crate::spec::{FlowSpec, GroupSpec, ThresholdSpec};
use crate::state::{lock, AgentFilter, Failure, Shared};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

type AppState = State<Arc<Shared>>;
type Params = Query<HashMap<String, String>>;

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], self.message + "\n").into_response()
    }
}

/// The API's routes over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.options.max_body;
    Router::new()
        .route("/", get(crate::ui::root))
        .route("/api", get(crate::index::index))
        .route("/ui", get(|| async { axum::response::Redirect::permanent("/ui/") }))
        .route("/ui/", get(crate::ui::file))
        .route("/ui/api/top/json", get(crate::ui::top))
        .route("/ui/{*path}", get(crate::ui::file))
        .route("/version", get(version))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/analyzer/json", get(analyzer))
        .route("/agents/json", get(agents))
        .route("/sampling/json", get(sampling))
        .route("/flowkeys/json", get(|State(s): AppState| async move { Json(s.flow_keys()) }))
        .route("/flow/json", get(|State(s): AppState| async move { Json(s.declared().flows) }))
        .route("/flow/{name}/json", get(get_flow).put(put_flow).delete(delete_flow))
        .route("/activeflows/{agent}/{name}/json", get(active_flows))
        .route("/metric/{agent}/json", get(latest))
        .route("/metric/{agent}/{metric}/json", get(metric))
        .route("/dump/{agent}/{metric}/json", get(dump))
        .route("/flows/json", get(flow_log))
        .route("/group/json", get(|State(s): AppState| async move { Json(s.declared().groups) }))
        .route("/group/{name}/json", get(get_group).put(put_group).delete(delete_group))
        .route("/map/json", get(|State(s): AppState| async move { Json(s.declared().maps) }))
        .route("/map/{name}/json", get(get_map).put(put_map).delete(delete_map))
        .route("/threshold/json", get(|State(s): AppState| async move { Json(s.declared().thresholds) }))
        .route("/threshold/{name}/json", get(get_threshold).put(put_threshold).delete(delete_threshold))
        .route("/events/json", get(events))
        .route("/prometheus/metrics/{agent}/{metric}/txt", get(prometheus_metrics))
        .route("/prometheus/analyzer/txt", get(prometheus_analyzer))
        .route("/metrics/json", get(|State(s): AppState| async move { Json(s.active_metrics()) }))
        .route("/app/prometheus/scripts/export.js/flows/{agent}/txt", get(prometheus_flows))
        .route("/metrics", get(own_metrics))
        .route("/pipelines/json", get(|State(s): AppState| async move { Json(lock(&s.pipelines).clone()) }))
        .fallback(|| async { Failure { status: 404, message: "no such path".into() } })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(shared.clone(), crate::access::guard))
        .layer(middleware::from_fn_with_state(shared.clone(), count_requests))
        .with_state(shared)
}

async fn count_requests(State(s): AppState, req: Request, next: Next) -> Response {
    s.http.total.fetch_add(1, Ordering::Relaxed);
    s.http.current.fetch_add(1, Ordering::Relaxed);
    let r = next.run(req).await;
    s.http.current.fetch_sub(1, Ordering::Relaxed);
    if r.status().is_client_error() {
        s.http.client_errors.fetch_add(1, Ordering::Relaxed);
    }
    r
}

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| Failure::bad(format!("invalid JSON body: {e}")))
}

/// A query parameter as a number, or a 400 naming it.
fn param<T: std::str::FromStr>(p: &HashMap<String, String>, name: &str, default: T) -> Result<T, Failure> {
    match p.get(name) {
        None => Ok(default),
        Some(v) => {
            v.parse().map_err(|_| Failure::bad(format!("parameter {name}=`{v}` is not a valid number")))
        }
    }
}

/// A query parameter that is a finite number of at least 0 (a time, a value).
fn finite(p: &HashMap<String, String>, name: &str, default: f64) -> Result<f64, Failure> {
    let v: f64 = param(p, name, default)?;
    if !v.is_finite() || v < 0.0 {
        return Err(Failure::bad(format!(
            "parameter {name}=`{}` must be a finite number of at least 0",
            p.get(name).map_or("", String::as_str)
        )));
    }
    Ok(v)
}

/// A long-poll's starting record: `-1` (the newest), else the records after this ID.
fn start_id(p: &HashMap<String, String>, name: &str) -> Result<Option<u64>, Failure> {
    match param::<i64>(p, name, 0)? {
        -1 => Ok(None),
        n if n >= 0 => Ok(Some(n as u64)),
        n => Err(Failure::bad(format!("parameter {name}=`{n}` must be -1 (the newest) or an ID"))),
    }
}

async fn version() -> String {
    format!("{}\n", env!("CARGO_PKG_VERSION"))
}

/// `/analyzer/json`'s fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Analyzer {
    #[serde(rename = "sFlowAgents")]
    s_flow_agents: usize,
    #[serde(rename = "sFlowBytesReceived")]
    s_flow_bytes_received: u64,
    #[serde(rename = "sFlowDatagramsReceived")]
    s_flow_datagrams_received: u64,
    #[serde(rename = "sFlowDatagramsUnreadable")]
    s_flow_datagrams_unreadable: u64,
    #[serde(rename = "sFlowDatagramsMalformed")]
    s_flow_datagrams_malformed: u64,
    #[serde(rename = "sFlowFlowSamples")]
    s_flow_flow_samples: u64,
    #[serde(rename = "sFlowCounterSamples")]
    s_flow_counter_samples: u64,
    #[serde(rename = "sFlowDiscardSamples")]
    s_flow_discard_samples: u64,
    #[serde(rename = "sFlowSocketDrops")]
    s_flow_socket_drops: u64,
    http_connections_current: u64,
    http_connections_total: u64,
    /// Writes are refused (`http.readonly`): the UI then shows the defined flows only.
    readonly: bool,
    heap_used: u64,
    uptime: u64,
    workers: usize,
    version: &'static str,
    update_available: bool,
}

async fn analyzer(State(s): AppState) -> Json<Analyzer> {
    let t = s.totals();
    let ports = lock(&s.udp_ports).clone();
    Json(Analyzer {
        s_flow_agents: s.agents(&AgentFilter::All).len(),
        s_flow_bytes_received: t.bytes,
        s_flow_datagrams_received: t.datagrams,
        s_flow_datagrams_unreadable: t.unreadable,
        s_flow_datagrams_malformed: t.malformed,
        s_flow_flow_samples: t.flow_samples,
        s_flow_counter_samples: t.counter_samples,
        s_flow_discard_samples: t.discard_samples,
        s_flow_socket_drops: capture::udp::kernel_drops(&ports),
        http_connections_current: s.http.current.load(Ordering::Relaxed),
        http_connections_total: s.http.total.load(Ordering::Relaxed),
        readonly: s.options.readonly,
        heap_used: prometheus::resident_bytes(),
        uptime: (s.now() * 1000.0) as u64,
        workers: s.worker_count(),
        version: env!("CARGO_PKG_VERSION"),
        update_available: false,
    })
}

async fn agents(State(s): AppState, Query(p): Params) -> Result<Response, Failure> {
    let filter = p.get("agent").map_or(Ok(AgentFilter::All), |a| AgentFilter::parse(a))?;
    let map: HashMap<String, _> = s.agents(&filter).into_iter().map(|(a, j)| (a.to_string(), j)).collect();
    Ok(Json(map).into_response())
}

async fn sampling(State(s): AppState, Query(p): Params) -> Result<Response, Failure> {
    let filter = p.get("agent").map_or(Ok(AgentFilter::All), |a| AgentFilter::parse(a))?;
    Ok(Json(s.sampling(&filter)).into_response())
}

async fn get_flow(State(s): AppState, Path(name): Path<String>) -> Result<Json<FlowSpec>, Failure> {
    s.declared().flows.remove(&name).map(Json).ok_or_else(|| Failure::missing("flow", &name))
}

async fn put_flow(State(s): AppState, Path(name): Path<String>, b: Bytes) -> Result<StatusCode, Failure> {
    s.set_flow(&name, body(&b)?)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_flow(State(s): AppState, Path(name): Path<String>) -> Result<StatusCode, Failure> {
    s.remove_flow(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_threshold(State(s): AppState, Path(name): Path<String>) -> Result<Json<ThresholdSpec>, Failure> {
    s.declared().thresholds.remove(&name).map(Json).ok_or_else(|| Failure::missing("threshold", &name))
}

async fn put_threshold(
    State(s): AppState,
    Path(name): Path<String>,
    b: Bytes,
) -> Result<StatusCode, Failure> {
    s.set_threshold(&name, body(&b)?)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_threshold(State(s): AppState, Path(name): Path<String>) -> Result<StatusCode, Failure> {
    s.remove_threshold(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

fn get_set(s: &Shared, group: bool, name: &str) -> Result<Json<GroupSpec>, Failure> {
    s.get_set(group, name)
        .map(Json)
        .ok_or_else(|| Failure::missing(if group { "group" } else { "map" }, name))
}

fn put_set(s: &Shared, group: bool, name: &str, b: &[u8]) -> Result<StatusCode, Failure> {
    s.set_set(group, name, Some(body(b)?))?;
    Ok(StatusCode::NO_CONTENT)
}

fn delete_set(s: &Shared, group: bool, name: &str) -> Result<StatusCode, Failure> {
    s.set_set(group, name, None)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_group(State(s): AppState, Path(name): Path<String>) -> Result<Json<GroupSpec>, Failure> {
    get_set(&s, true, &name)
}
async fn put_group(State(s): AppState, Path(name): Path<String>, b: Bytes) -> Result<StatusCode, Failure> {
    put_set(&s, true, &name, &b)
}
async fn delete_group(State(s): AppState, Path(name): Path<String>) -> Result<StatusCode, Failure> {
    delete_set(&s, true, &name)
}
async fn get_map(State(s): AppState, Path(name): Path<String>) -> Result<Json<GroupSpec>, Failure> {
    get_set(&s, false, &name)
}
async fn put_map(State(s): AppState, Path(name): Path<String>, b: Bytes) -> Result<StatusCode, Failure> {
    put_set(&s, false, &name, &b)
}
async fn delete_map(State(s): AppState, Path(name): Path<String>) -> Result<StatusCode, Failure> {
    delete_set(&s, false, &name)
}

async fn active_flows(
    State(s): AppState,
    Path((agent, name)): Path<(String, String)>,
    Query(p): Params,
) -> Result<Response, Failure> {
    let agents = AgentFilter::parse(&agent)?;
    let max_flows: usize = param(&p, "maxFlows", 100)?;
    let min_value: f64 = param(&p, "minValue", 0.0)?;
    if min_value.is_nan() {
        return Err(Failure::bad("parameter minValue must be a number"));
    }
    let sum = match p.get("aggMode").map(String::as_str) {
        None | Some("max") => false,
        Some("sum") => true,
        Some(m) => {
            return Err(Failure::bad(format!(
                "aggMode `{m}` is not supported; use max or sum (edge and core need a topology)"
            )))
        }
    };
    if p.contains_key("filter") {
        return Err(Failure::bad(
            "the filter parameter of activeflows is not supported; filter in the flow definition",
        ));
    }
    Ok(Json(s.active_flows(&agents, &name, max_flows.min(100_000), min_value, sum)?).into_response())
}

fn metric_names(s: &Shared, list: &str) -> Vec<String> {
    if list == "ALL" {
        return s.all_metrics();
    }
    list.split([',', ';']).filter(|m| !m.is_empty()).map(String::from).collect()
}

async fn metric(
    State(s): AppState,
    Path((agent, list)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let agents = AgentFilter::parse(&agent)?;
    let v = metric_names(&s, &list).iter().map(|m| s.metric(&agents, m)).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(v).into_response())
}

async fn latest(State(s): AppState, Path(agent): Path<String>) -> Result<Response, Failure> {
    let agents = AgentFilter::parse(&agent)?;
    Ok(Json(s.latest(&agents)).into_response())
}

async fn dump(State(s): AppState, Path((agent, list)): Path<(String, String)>) -> Result<Response, Failure> {
    let agents = AgentFilter::parse(&agent)?;
    let v: Vec<_> = metric_names(&s, &list).iter().flat_map(|m| s.dump(&agents, m)).collect();
    Ok(Json(v).into_response())
}

/// Waits (for at most the `timeout` parameter's seconds) until `ready` has something after
/// the client's number, or answers at once when it already has or no timeout was given.
async fn long_poll<T>(
    mut changes: tokio::sync::watch::Receiver<u64>,
    timeout: f64,
    ready: impl Fn() -> Vec<T>,
) -> Vec<T> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(timeout.clamp(0.0, 300.0));
    loop {
        changes.borrow_and_update();
        let v = ready();
        if !v.is_empty() || timeout <= 0.0 {
            return v;
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => continue,
            _ => return ready(),
        }
    }
}

async fn flow_log(State(s): AppState, Query(p): Params) -> Result<Response, Failure> {
    let after = start_id(&p, "flowID")?;
    let max: usize = param(&p, "maxFlows", 100)?;
    let timeout = finite(&p, "timeout", 0.0)?;
    let name = p.get("name").cloned();
    let changes = s.subscribe(false);
    let v = long_poll(changes, timeout, || s.logged_flows(after, max, name.as_deref())).await;
    Ok(Json(v).into_response())
}

async fn events(State(s): AppState, Query(p): Params) -> Result<Response, Failure> {
    let after = start_id(&p, "eventID")?;
    let max: usize = param(&p, "maxEvents", 100)?;
    let timeout = finite(&p, "timeout", 0.0)?;
    let id = p.get("thresholdID").cloned();
    let changes = s.subscribe(true);
    let v = long_poll(changes, timeout, || s.events(after, max, id.as_deref())).await;
    Ok(Json(v).into_response())
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

async fn prometheus_metrics(
    State(s): AppState,
    Path((agent, list)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let agents = AgentFilter::parse(&agent)?;
    let mut out = String::new();
    for m in metric_names(&s, &list) {
        prometheus::sflow_metric(&mut out, &m, &s.dump(&agents, &m));
    }
    Ok(text(out))
}

async fn prometheus_analyzer(State(s): AppState) -> Response {
    text(prometheus::analyzer(&s))
}

/// The sflow-rt/prometheus app's flow export: a flow defined for each distinct set of `key`
/// (repeatable), `value`, `filter`, `n`, `t` and `dropped`, kept 5 minutes after the last
/// scrape; one line per active flow, `metric{key="value",...} value` (`label` renames keys).
async fn prometheus_flows(
    State(s): AppState,
    Path(agent): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    /// The separator of key values in the flows this export defines.
    const SEP: &str = "_SEP_";
    let one = |name: &str| q.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let all = |name: &str| -> Vec<&str> {
        q.iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .collect()
    };
    let number = |name: &str, default: f64| -> Result<f64, Failure> {
        match one(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| Failure::bad(format!("parameter {name}=`{v}` is not a finite number"))),
        }
    };
    let agents = AgentFilter::parse(&agent)?;
    let metric = one("metric").ok_or_else(|| Failure::bad("parameter metric is required"))?;
    let keys = all("key");
    let value = one("value").ok_or_else(|| Failure::bad("parameter value is required"))?;
    if keys.is_empty() {
        return Err(Failure::bad("parameter key is required"));
    }
    let dropped = one("dropped") == Some("true");
    let sum = match one("aggMode") {
        None => dropped,
        Some("max") => false,
        Some("sum") => true,
        Some(m) => return Err(Failure::bad(format!("aggMode `{m}` is not supported; use max or sum"))),
    };
    let mut spec = serde_json::json!({
        "keys": keys.join(","), "value": value, "fs": SEP, "dropped": dropped,
        "n": number("n", 10.0)?.clamp(0.0, 1000.0) as usize, "t": number("t", 15.0)?,
    });
    if let Some(f) = one("filter") {
        spec["filter"] = f.into();
    }
    let spec: FlowSpec = serde_json::from_value(spec).map_err(|e| Failure::bad(e.to_string()))?;
    let name = s.transient_flow("prometheus", spec, 300.0)?;
    let max_flows = number("maxFlows", 20.0)?.clamp(0.0, 100_000.0) as usize;
    let flows = s.active_flows(&agents, &name, max_flows, number("minValue", 0.1)?, sum)?;
    // Labels rename keys by position; an empty one keeps the key's name.
    let labels = all("label");
    let names: Vec<&str> =
        keys.iter().enumerate().map(|(i, k)| labels.get(i).copied().unwrap_or(k)).collect();
    let scale = number("scale", 1.0)?;
    Ok(text(prometheus::flow_lines(metric, &names, SEP, &flows, scale)))
}

async fn own_metrics(State(s): AppState) -> Response {
    text(prometheus::own(&s))
}

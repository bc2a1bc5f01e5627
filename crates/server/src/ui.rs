//! The web UI: a page served at `/ui/` from files embedded in the binary (plain HTML, CSS and
//! JavaScript, with uPlot vendored beside its licence; no build step, nothing fetched from
//! elsewhere), and the one request it makes beyond the REST API: the largest flows of a
//! definition it asks for by its parts, defined on its behalf and removed 10 s after no page
//! asks for it any more, as sFlow-RT's browse-flows does.
use crate::spec::FlowSpec;
use crate::state::{AgentFilter, Failure, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The files of the page: path under `/ui/`, content type, bytes.
const FILES: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../ui/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../ui/app.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("../ui/style.css")),
    (
        "vendor/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/vendor/uPlot.iife.min.js"),
    ),
    ("vendor/uPlot.min.css", "text/css; charset=utf-8", include_str!("../ui/vendor/uPlot.min.css")),
    ("vendor/uPlot.LICENSE", "text/plain; charset=utf-8", include_str!("../ui/vendor/uPlot.LICENSE")),
];

/// How long a flow the page defined is kept after the last request for it, in seconds.
const KEEP: f64 = 10.0;

/// `GET /ui/` and the files under it.
pub async fn file(path: Option<Path<String>>) -> Response {
    let name = path.map_or_else(|| "index.html".to_string(), |Path(p)| p);
    match FILES.iter().find(|(n, ..)| *n == name) {
        Some((_, kind, body)) => {
            ([(header::CONTENT_TYPE, *kind), (header::CACHE_CONTROL, "no-cache")], *body).into_response()
        }
        None => Failure { status: 404, message: format!("no file named `{name}` in the UI") }.into_response(),
    }
}

/// `GET /`: a browser goes to the page; anything else gets the API's index.
pub async fn root(headers: HeaderMap) -> Response {
    let browser =
        headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if browser {
        Redirect::to("/ui/").into_response()
    } else {
        crate::index::index(headers).await
    }
}

/// `/ui/api/top/json`'s query: a definition's parts and how many flows to return.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopQuery {
    keys: String,
    #[serde(default = "default_value")]
    value: String,
    #[serde(default)]
    filter: String,
    #[serde(default)]
    dropped: bool,
    #[serde(default = "default_agent")]
    agent: String,
    #[serde(default = "default_max")]
    max_flows: usize,
}

fn default_value() -> String {
    "bps".into()
}

fn default_agent() -> String {
    "ALL".into()
}

fn default_max() -> usize {
    10
}

/// What the page gets: the flow's name (for `/dump` and "copy as curl") and its largest flows.
#[derive(Debug, Serialize)]
pub struct Top {
    name: String,
    flows: Vec<crate::state::ActiveFlowJson>,
}

/// `GET /ui/api/top/json`: defines the flow (once per distinct definition) and returns its
/// largest flows now; a bad key or filter is a 400 with the decoder's own message. The value
/// may also be `bps`, `Bps` or `fps`, as browse-flows offers them.
pub async fn top(State(s): State<Arc<Shared>>, Query(q): Query<TopQuery>) -> Result<Response, Failure> {
    let agents = AgentFilter::parse(&q.agent)?;
    // browse-flows' rates: bits, bytes or frames a second (flows are rates already).
    let (value, scale) = match q.value.as_str() {
        "bps" => ("bytes", 8.0),
        "Bps" => ("bytes", 1.0),
        "fps" => ("frames", 1.0),
        v => (v, 1.0),
    };
    let mut spec =
        serde_json::json!({ "keys": q.keys, "value": value, "t": 2, "n": 20, "dropped": q.dropped });
    if !q.filter.trim().is_empty() {
        spec["filter"] = q.filter.into();
    }
    let spec: FlowSpec = serde_json::from_value(spec).map_err(|e| Failure::bad(e.to_string()))?;
    let name = s.transient_flow("ui", spec, KEEP)?;
    let mut flows = s.active_flows(&agents, &name, q.max_flows.clamp(1, 100), 0.0, false)?;
    flows.iter_mut().for_each(|f| f.value *= scale);
    Ok((StatusCode::OK, Json(Top { name, flows })).into_response())
}

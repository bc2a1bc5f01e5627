//! `GET /api` (and `GET /` for clients other than browsers, which go to the UI): an index of
//! the API, so the address `serve` announces answers with where to go next. A browser gets a
//! page with links; `curl` gets plain text.
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;

/// The API's paths (`{agent}` is an agent address or `ALL`) and what each answers.
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("GET /ui/", "the web UI: flows, the broker, the collector"),
    ("GET /api", "this index (GET / too, unless a browser asks: it goes to the UI)"),
    ("GET /version", "detunnel's version"),
    ("GET /healthz", "ok while the daemon runs"),
    ("GET /analyzer/json", "datagrams, samples and drops since start"),
    ("GET /agents/json", "the sFlow agents heard, with their counters"),
    ("GET /sampling/json", "the sampling rate each agent and data source states"),
    ("GET /flowkeys/json", "every key a flow definition can use"),
    ("GET /flow/json", "every flow definition"),
    ("GET, PUT, DELETE /flow/{name}/json", "one flow definition (PUT defines it)"),
    (
        "GET /activeflows/{agent}/{name}/json",
        "a definition's largest flows now (maxFlows, minValue, aggMode)",
    ),
    ("GET /metric/{agent}/json", "the latest metrics of an agent"),
    ("GET /metric/{agent}/{metric}/json", "one metric (a flow definition's name is one)"),
    ("GET /dump/{agent}/{metric}/json", "a metric for every agent and data source"),
    ("GET /flows/json", "the flow log of definitions that log (flowID, maxFlows, timeout)"),
    ("GET /group/json", "every address group"),
    ("GET, PUT, DELETE /group/{name}/json", "one address group"),
    ("GET /map/json", "every map"),
    ("GET, PUT, DELETE /map/{name}/json", "one map"),
    ("GET /threshold/json", "every threshold"),
    ("GET, PUT, DELETE /threshold/{name}/json", "one threshold"),
    ("GET /events/json", "threshold events (eventID, maxEvents, timeout)"),
    ("GET /prometheus/metrics/{agent}/{metric}/txt", "a metric for Prometheus"),
    ("GET /prometheus/analyzer/txt", "the analyzer's counters for Prometheus"),
    (
        "GET /app/prometheus/scripts/export.js/flows/{agent}/txt",
        "largest flows for Prometheus (metric, key, label, value, filter, scale)",
    ),
    ("GET /metrics/json", "the metrics with values, and ms since the newest"),
    ("GET /metrics", "detunnel's own counters for Prometheus"),
    ("GET /pipelines/json", "the broker pipelines' summaries"),
];

/// Answers `GET /`: HTML when the client asks for it, plain text otherwise.
pub async fn index(headers: HeaderMap) -> Response {
    let html =
        headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if html {
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page()).into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text()).into_response()
    }
}

/// The index as plain text, one endpoint a line.
fn text() -> String {
    let mut s = format!("detunnel {}: the REST API\n\n", env!("CARGO_PKG_VERSION"));
    for (path, what) in ENDPOINTS {
        let _ = writeln!(s, "{path:<46} {what}");
    }
    s
}

/// The index as a page; paths without parameters are links.
fn page() -> String {
    let mut s = format!(
        "<!doctype html><meta charset=utf-8><title>detunnel</title>\
         <h1>detunnel {}</h1><p>The REST API (sFlow-RT's paths; <code>{{agent}}</code> is an \
         agent address or <code>ALL</code>):</p><table>",
        env!("CARGO_PKG_VERSION")
    );
    for (route, what) in ENDPOINTS {
        let (methods, path) = route.rsplit_once(' ').unwrap_or(("GET", route));
        let shown = if path.contains('{') {
            format!("<code>{path}</code>")
        } else {
            format!("<a href=\"{path}\"><code>{path}</code></a>")
        };
        let _ = write!(s, "<tr><td>{methods}</td><td>{shown}</td><td>{what}</td></tr>");
    }
    s.push_str("</table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_listed_once_in_both_forms() {
        let (t, p) = (text(), page());
        for (route, _) in ENDPOINTS {
            let path = route.rsplit_once(' ').map_or(*route, |(_, p)| p);
            assert_eq!(t.matches(&format!(" {path} ")).count(), 1, "{path}");
            assert!(p.contains(&format!("<code>{path}</code>")), "{path}");
        }
        assert!(p.contains("<a href=\"/metrics\">"));
        assert!(!p.contains("href=\"/flow/{name}"));
    }
}

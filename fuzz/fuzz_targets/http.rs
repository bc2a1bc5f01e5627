//! The REST API's request handling: method, path (with its query), one header and a body
//! from the input reach the router of a live server state; every answer is a status, never
//! a crash.
#![no_main]
use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tower_service::Service;

fn shared() -> &'static (tokio::runtime::Runtime, axum::Router) {
    static S: OnceLock<(tokio::runtime::Runtime, axum::Router)> = OnceLock::new();
    S.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let declared = server::spec::Declared::default();
        let state = server::Shared::new(
            1,
            &dissect::Config::default(),
            server::collector::WorkerLimits::default(),
            declared,
            server::ServerOptions { max_flows: 20, max_thresholds: 20, ..server::ServerOptions::default() },
        )
        .unwrap();
        (rt, server::router(Arc::new(state)))
    })
}

fuzz_target!(|data: &[u8]| {
    let p = detunnel_fuzz::parts(data, 4);
    let method = match p[0].first().copied().unwrap_or(0) % 5 {
        0 => Method::GET,
        1 => Method::PUT,
        2 => Method::DELETE,
        3 => Method::POST,
        _ => Method::OPTIONS,
    };
    let path = String::from_utf8_lossy(p[1]);
    let path = if path.starts_with('/') { path.into_owned() } else { format!("/{path}") };
    let Ok(mut req) = Request::builder().method(method).uri(path).body(Body::from(p[3].to_vec())) else {
        return;
    };
    req.headers_mut().insert("host", "127.0.0.1:8008".parse().unwrap());
    if let Some((name, value)) = std::str::from_utf8(p[2]).ok().and_then(|h| h.split_once(':')) {
        if let (Ok(n), Ok(v)) = (name.parse::<axum::http::HeaderName>(), value.trim().parse()) {
            req.headers_mut().insert(n, v);
        }
    }
    let (rt, router) = shared();
    let mut router = router.clone();
    let response = rt.block_on(async {
        // A long poll's timeout is bounded: let it run out at once.
        tokio::time::timeout(std::time::Duration::from_millis(50), router.call(req)).await
    });
    if let Ok(Ok(r)) = response {
        assert!(r.status().as_u16() < 500 || r.status().as_u16() == 503, "{}", r.status());
    }
});

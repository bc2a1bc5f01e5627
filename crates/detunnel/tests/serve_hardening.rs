//! `detunnel serve` against hostile clients: expressions that would exhaust its stack or its
//! memory, floods of idle and half-sent connections, requests for other host names, writes
//! without the token, and numbers that are not numbers. Each is refused or bounded, counted,
//! and the daemon goes on answering.
mod common;

use common::have_tool;
use common::serve::{free_port, Serve};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn put_flow(s: &Serve, name: &str, keys: &str, filter: Option<&str>) -> (u16, String) {
    let mut body = serde_json::json!({ "keys": keys, "value": "frames" });
    if let Some(f) = filter {
        body["filter"] = f.into();
    }
    s.request("PUT", &format!("/flow/{name}/json"), Some(&body.to_string()))
}

fn metric(s: &Serve, name: &str) -> f64 {
    let (_, text) = s.request("GET", "/metrics", None);
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

#[test]
fn hostile_expressions_are_refused_naming_the_limit() {
    if !have_tool("curl") {
        return;
    }
    let s = Serve::start("harden-expr", "[http]\nmax_body = 1000000\n", &["--workers", "1"], None);
    let deep = format!("{}ipsource=10.0.0.1{}", "(".repeat(2_000), ")".repeat(2_000));
    let (code, text) = put_flow(&s, "deep", "ipsource", Some(&deep));
    assert_eq!((code, text.contains("deeper than 32 levels (the limit)")), (400, true), "{text}");
    let flat = vec!["false"; 10_900].join("|");
    let (code, text) = put_flow(&s, "flat", "ipsource", Some(&flat));
    assert_eq!((code, text.contains("more than 1024 comparisons (the limit)")), (400, true), "{text}");
    let key = format!("{}ipsource{}", "null:[".repeat(1_500), "]:x".repeat(1_500));
    let (code, text) = put_flow(&s, "key", &key, None);
    assert_eq!((code, text.contains("the key nests deeper than 32 levels")), (400, true), "{text}");

    // Eight PUTs of fifty costly patterns: each refused at once, memory stays put.
    let before = s.resident_bytes();
    let costly = vec![r"stack~'\w{200}'"; 50].join("|");
    for i in 0..8 {
        let t = Instant::now();
        let (code, text) = put_flow(&s, &format!("rx{i}"), "stack", Some(&costly));
        assert_eq!(code, 400, "{text}");
        assert!(text.contains("compiles to more than 1024 KiB (the limit)"), "{text}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
    let grown = s.resident_bytes().saturating_sub(before);
    assert!(grown < 64 << 20, "the daemon grew by {} MiB", grown >> 20);
    // Patterns each under the limit fill the budget of all definitions, then are refused.
    let mid = vec![r"stack~'\w{4}'"; 30].join("|");
    let mut accepted = 0;
    let refused = loop {
        let (code, text) = put_flow(&s, &format!("mid{accepted}"), "stack", Some(&mid));
        if code != 204 {
            break text;
        }
        accepted += 1;
        assert!(accepted < 100, "the definitions' memory is not bounded");
    };
    assert!(refused.contains("limits.definition_memory"), "{refused}");
    assert!(accepted >= 1, "{refused}");
    let held = metric(&s, "detunnel_flow_definition_bytes");
    assert!(held > 0.0 && held <= f64::from(64u32 << 20), "{held}");
    assert_eq!(metric(&s, "detunnel_http_definitions_refused_total"), 12.0);
    // Deleting them gives the memory back to the budget.
    for i in 0..accepted {
        assert_eq!(s.request("DELETE", &format!("/flow/mid{i}/json"), None).0, 204);
    }
    assert_eq!(metric(&s, "detunnel_flow_definition_bytes"), 0.0);
    assert_eq!(put_flow(&s, "again", "stack", Some(&mid)).0, 204);
    let log = s.stop();
    assert!(!log.contains("panicked") && !log.contains("overflow"), "{log}");
}

#[test]
fn idle_and_half_sent_connections_cannot_lock_out_a_client() {
    if !have_tool("curl") {
        return;
    }
    let config = "[http]\nmax_connections = 256\nheader_timeout = 2\nidle_timeout = 3\n";
    let s = Serve::start("harden-conn", config, &["--workers", "1"], None);
    let addr = s.http_addr();
    // 3,000 connections that send nothing, and 500 that send half a request.
    let mut held: Vec<TcpStream> = Vec::new();
    for i in 0..3_500 {
        let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else { continue };
        if i >= 3_000 {
            let _ = c.write_all(b"GET /analyzer/json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
        }
        held.push(c);
    }
    let t = Instant::now();
    let (code, body) = s.request("GET", "/analyzer/json", None);
    let took = t.elapsed();
    assert_eq!(code, 200, "{body}");
    assert!(took < Duration::from_secs(1), "the API took {took:?} under the flood");
    assert!(metric(&s, "detunnel_http_connections") <= 256.0);
    // Every flooding connection was closed by a bound: evicted at the cap, or for sending no
    // whole request within the header timeout.
    let closed = |reason: &str| {
        let (_, text) = s.request("GET", "/metrics", None);
        let prefix = format!("detunnel_http_connections_closed_total{{reason=\"{reason}\"}}");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let (evicted, slow) = (closed("evicted"), closed("header_timeout"));
    assert!(evicted > 0.0 && evicted + slow >= 3_000.0, "evicted {evicted}, header timeouts {slow}");
    drop(held);
    // A half-sent request alone is closed after the header timeout; a kept-alive connection
    // after a request is closed when it stays idle.
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    let mut kept = TcpStream::connect(addr).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let before = closed("header_timeout") + closed("idle");
    for c in [&mut half, &mut kept] {
        c.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
        let t = Instant::now();
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(c, &mut buf);
        assert!(t.elapsed() < Duration::from_secs(5), "a connection stayed open {:?}", t.elapsed());
    }
    assert!(closed("header_timeout") + closed("idle") >= before + 2.0);
    s.stop();
}

#[test]
fn other_host_names_writes_without_a_token_and_cors_are_refused() {
    if !have_tool("curl") {
        return;
    }
    // On loopback: the Host must name this server; writes need no token.
    let s = Serve::start("harden-host", "", &["--workers", "1"], None);
    let port = s.http_addr().port();
    let get =
        |host: &str| s.raw(&format!("GET /flow/json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));
    assert_eq!(get(&format!("127.0.0.1:{port}")).0, 200);
    assert_eq!(get(&format!("localhost:{port}")).0, 200);
    let (code, text) = get(&format!("rebound.example:{port}"));
    assert_eq!(code, 421, "{text}");
    assert!(text.contains("Host `rebound.example` is not a name of this server"), "{text}");
    let (code, _) = s.raw("GET /flow/json HTTP/1.0\r\n\r\n");
    assert_eq!(code, 400);
    // No CORS headers unless configured.
    let (code, text) = s.request_with("GET", "/flow/json", None, &["Origin: http://evil.example"]);
    assert_eq!(code, 200);
    assert!(!text.to_ascii_lowercase().contains("access-control"), "{text}");
    s.stop();

    // Beyond loopback without a token: reads work, writes are refused.
    let any = SocketAddr::from(([0, 0, 0, 0], free_port(false)));
    let s = Serve::start_on(None, "harden-wide", "", &["--workers", "1"], None, any);
    assert_eq!(s.request("GET", "/flow/json", None).0, 200);
    let (code, text) = put_flow(&s, "x", "ipsource", None);
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("writes need http.token"), "{text}");
    s.stop();

    // With a token: writes need it; configured origins get CORS headers.
    let config = "[http]\ntoken = \"s3cret\"\ncors_origins = [\"http://grafana.example\"]\n";
    let any = SocketAddr::from(([0, 0, 0, 0], free_port(false)));
    let s = Serve::start_on(None, "harden-token", config, &["--workers", "1"], None, any);
    let body = r#"{"keys":"ipsource"}"#;
    assert_eq!(s.request_with("PUT", "/flow/x/json", Some(body), &[]).0, 401);
    assert_eq!(s.request_with("PUT", "/flow/x/json", Some(body), &["Authorization: Bearer nope"]).0, 401);
    assert_eq!(s.request_with("PUT", "/flow/x/json", Some(body), &["Authorization: Bearer s3cret"]).0, 204);
    let (_, text) = s.request_with("GET", "/flow/json", None, &["Origin: http://grafana.example"]);
    assert!(
        text.to_ascii_lowercase().contains("access-control-allow-origin: http://grafana.example"),
        "{text}"
    );
    let (_, text) = s.request_with("GET", "/flow/json", None, &["Origin: http://evil.example"]);
    assert!(!text.to_ascii_lowercase().contains("access-control"), "{text}");
    s.stop();
}

#[test]
fn numbers_that_are_not_numbers_are_400_without_backtraces() {
    if !have_tool("curl") {
        return;
    }
    let s = Serve::start("harden-nan", "", &["--workers", "1"], None);
    for path in [
        "/events/json?timeout=NaN",
        "/flows/json?timeout=NaN",
        "/events/json?timeout=inf",
        "/flows/json?timeout=-1",
        "/events/json?eventID=-2",
        "/activeflows/ALL/stacks/json?minValue=NaN",
    ] {
        let (code, text) = s.request("GET", path, None);
        assert_eq!(code, 400, "{path}: {text}");
    }
    // sFlow-RT's clients start their long polls at -1: the newest record.
    assert_eq!(s.json("/events/json?eventID=-1&timeout=0"), serde_json::json!([]));
    assert_eq!(s.json("/flows/json?flowID=-1&timeout=0"), serde_json::json!([]));
    let log = s.stop();
    assert!(!log.contains("panicked") && !log.contains("backtrace"), "{log}");
}

#[test]
fn one_port_one_collector_and_one_agent_counted_once() {
    if !have_tool("curl") {
        return;
    }
    let s = Serve::start("harden-port", "", &["--workers", "2"], None);
    // A second collector on the same port is refused, naming the first.
    let second = std::process::Command::new(common::detunnel())
        .args([
            "serve",
            "--sflow",
            &s.sflow.to_string(),
            "--http",
            &format!("127.0.0.1:{}", free_port(false)),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("udp {} is already taken by pid", s.sflow)), "{stderr}");
    assert!(stderr.contains("(detunnel)"), "{stderr}");
    // One agent's datagrams from eight source ports (the kernel spreads them over both
    // workers' sockets): one sub-agent, 48 data sources, each listed once. (The two sockets'
    // threads may read them out of order, which the sequence numbers then show.)
    let agent = craft::sflow::Agent { address: std::net::IpAddr::from([192, 0, 2, 77]), sub_agent: 0 };
    let mut g = craft::mix::Generator::new(craft::mix::Mix::default());
    let datagrams = craft::sflow::stream(&mut g, agent, 480, 4, 100);
    let senders: Vec<_> = (0..8).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    for (i, d) in datagrams.iter().enumerate() {
        senders[i % 8].send_to(d, s.sflow).unwrap();
        if i % 32 == 31 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let agents = s.json("/agents/json");
    let a = &agents["192.0.2.77"];
    assert_eq!(a["sFlowDatagramsReceived"], 480, "{agents}");
    assert_eq!((a["subAgents"].as_u64(), a["dataSources"].as_u64()), (Some(1), Some(48)), "{agents}");
    let sampling = s.json("/sampling/json");
    let sources: Vec<_> = sampling.as_array().unwrap().iter().map(|r| r["dataSource"].clone()).collect();
    let distinct: std::collections::BTreeSet<String> = sources.iter().map(|v| v.to_string()).collect();
    assert_eq!((sources.len(), distinct.len()), (48, 48), "{sampling}");
    s.stop();
}

/// The web UI and the Prometheus flow export define flows on a GET, without write permission:
/// however many distinct definitions a client asks for, they cannot crowd out the flows
/// defined on purpose.
#[test]
fn flows_defined_for_pages_are_bounded() {
    if !have_tool("curl") {
        return;
    }
    let server = Serve::start("serve-transient", "", &["--workers", "1"], None);
    let mut refused = 0;
    for i in 0..40 {
        let (status, body) = server.request(
            "GET",
            &format!("/ui/api/top/json?keys=ipsource&filter=ipsource%3D10.0.0.{i}"),
            None,
        );
        match status {
            200 => {}
            429 => {
                refused += 1;
                assert!(body.contains("flows are defined for ui clients already"), "{body}");
            }
            s => panic!("{s}: {body}"),
        }
    }
    assert_eq!(refused, 8);
    let defined = server.json("/flow/json");
    assert_eq!(defined.as_object().unwrap().keys().filter(|n| n.starts_with("ui_")).count(), 32);
    // A flow defined on purpose still can be.
    assert_eq!(server.request("PUT", "/flow/mine/json", Some(r#"{"keys":"ipsource"}"#)).0, 204);
    server.stop();
}

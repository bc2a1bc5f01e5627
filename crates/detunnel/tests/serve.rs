//! `detunnel serve` end to end: real sFlow captures replayed to its UDP port and its answers
//! checked against tshark's decoding of the same datagrams; what sFlow-RT's published example
//! clients do, with an ordinary HTTP client, checked field by field against SFLOW-RT.md; and
//! bad requests.
mod common;

use common::serve::Serve;
use common::*;
use craft::sflow::{datagram, Agent, Sample};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The sFlow captures and what they are.
const CAPTURES: &[&str] = &[
    "sflow_expanded.pcap",
    "sflow-print-v6.pcap",
    "sflow_multiple_counter_30_pdus.pcap",
    "sflow_print-segv.pcap",
];

/// Per agent, from tshark: datagrams, flow samples, counter samples, frames (sampling rates
/// summed over sampled headers), bytes (frame length times rate), and the data sources of its
/// flow samples.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    datagrams: u64,
    flow_samples: u64,
    counter_samples: u64,
    frames: u64,
    bytes: u64,
    sources: BTreeSet<String>,
}

fn split(s: &str) -> Vec<&str> {
    s.split(',').filter(|v| !v.is_empty()).collect()
}

fn expected(dir: &std::path::Path) -> BTreeMap<String, Expected> {
    let mut want: BTreeMap<String, Expected> = BTreeMap::new();
    for name in CAPTURES {
        let rows = tshark_rows(
            &dir.join(name),
            &[
                "sflow_245.agent",
                "sflow_245.agent.v6",
                "sflow.flow_sample.sampling_rate",
                "sflow_245.header.frame_length",
                "sflow.counters_sample.sequence_number",
                "sflow.flow_sample.source_id_index",
                "sflow.flow_sample.index",
            ],
        );
        for w in rows {
            let agent = if w[0].is_empty() { &w[1] } else { &w[0] };
            if agent.is_empty() {
                continue;
            }
            let e = want.entry(agent.clone()).or_default();
            e.datagrams += 1;
            let (rates, lengths) = (split(&w[2]), split(&w[3]));
            e.flow_samples += rates.len() as u64;
            e.counter_samples += split(&w[4]).len() as u64;
            // Every flow sample in these captures carries one sampled header.
            assert_eq!(rates.len(), lengths.len(), "{name}: {w:?}");
            for (r, l) in rates.iter().zip(&lengths) {
                let (r, l): (u64, u64) = (r.parse().unwrap(), l.parse().unwrap());
                e.frames += r;
                e.bytes += r * l;
            }
            e.sources.extend(split(&w[5]).into_iter().chain(split(&w[6])).map(String::from));
        }
    }
    want
}

const REPLAY_CONFIG: &str = r#"
[flows.frames]
keys = "agent"
value = "frames"
log = true
[flows.bytes]
keys = "agent"
value = "bytes"
log = true
[flows.where]
keys = "agent"
value = "frames"
t = 600
"#;

#[test]
fn replayed_sflow_captures_agree_with_tshark() {
    let Some(dir) = captures() else { return };
    if !have_tool("tshark") || !have_tool("curl") {
        return;
    }
    let want = expected(&dir);
    assert!(want.len() >= 4, "{want:?}");
    let server = Serve::start("serve-replay", REPLAY_CONFIG, &["--workers", "2"], None);
    let mut sent = 0;
    for name in CAPTURES {
        let d: Vec<Vec<u8>> = datagrams(&dir.join(name)).into_iter().flatten().collect();
        sent += d.len();
        server.send(&d);
    }
    // Everything received: the analyzer's datagram count reaches what was sent.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.json("/analyzer/json")["sFlowDatagramsReceived"].as_u64() != Some(sent as u64) {
        assert!(Instant::now() < deadline, "{}", server.json("/analyzer/json"));
        std::thread::sleep(Duration::from_millis(50));
    }
    // /dump shows which agent and data source (port) saw the traffic.
    let dump = server.json("/dump/ALL/where/json");
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in dump.as_array().unwrap() {
        let agent = d["agent"].as_str().unwrap().to_string();
        assert_eq!(d["metricName"], "where");
        assert_eq!(d["topKeys"][0]["key"], agent.as_str(), "{d}");
        seen.entry(agent).or_default().insert(d["dataSource"].as_str().unwrap().to_string());
    }
    let want_sources: BTreeMap<String, BTreeSet<String>> = want
        .iter()
        .filter(|(_, e)| !e.sources.is_empty())
        .map(|(a, e)| (a.clone(), e.sources.clone()))
        .collect();
    assert_eq!(seen, want_sources);
    // Per agent datagrams and samples.
    let agents = server.json("/agents/json");
    for (agent, e) in &want {
        let a = &agents[agent];
        assert_eq!(a["sFlowDatagramsReceived"].as_u64(), Some(e.datagrams), "{agent}: {a}");
        assert_eq!(a["sFlowFlowSamples"].as_u64(), Some(e.flow_samples), "{agent}: {a}");
        assert_eq!(a["sFlowCounterSamples"].as_u64(), Some(e.counter_samples), "{agent}: {a}");
    }
    // The malformed datagram is counted against its agent and the server goes on.
    assert_eq!(agents["10.0.0.250"]["sFlowDatagramsMalformed"], 1, "{agents}");
    // Frames and bytes scaled by the sampling rate: the flow log's totals once the flows end.
    let mut totals: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut after = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let flows_with_samples = want.values().filter(|e| e.frames > 0).count();
    while totals.len() < 2 * flows_with_samples && Instant::now() < deadline {
        let records = server.json(&format!("/flows/json?flowID={after}&maxFlows=1000&timeout=10"));
        for r in records.as_array().unwrap() {
            after = after.max(r["flowID"].as_u64().unwrap());
            let key = (r["name"].as_str().unwrap().to_string(), r["flowKeys"].as_str().unwrap().to_string());
            *totals.entry(key).or_default() += r["value"].as_f64().unwrap();
            assert!(r["end"].as_u64() >= r["start"].as_u64(), "{r}");
        }
    }
    for (agent, e) in want.iter().filter(|(_, e)| e.frames > 0) {
        assert_eq!(totals.get(&("frames".into(), agent.clone())), Some(&(e.frames as f64)), "{agent}");
        assert_eq!(totals.get(&("bytes".into(), agent.clone())), Some(&(e.bytes as f64)), "{agent}");
    }
    let log = server.stop();
    assert!(log.contains(&format!("{sent} sFlow datagrams")), "{log}");
}

/// A VXLAN-encapsulated TCP frame between tenants `inner` and 10.1.0.2 over tunnel endpoints
/// 192.0.2.1 and 192.0.2.2, as a switch would sample it.
fn tunnelled(inner: [u8; 4], vni: u32) -> Vec<u8> {
    use craft::Header;
    in_vxlan(vni, Header::ipv4(inner, [10, 1, 0, 2]), Header::Tcp { src: 40000, dst: 443, flags: 0x18 })
}

/// Frame `ip` then `transport` in VXLAN `vni` between 192.0.2.1 and 192.0.2.2, its first 128
/// bytes, as a switch samples it.
fn in_vxlan(vni: u32, ip: craft::Header, transport: craft::Header) -> Vec<u8> {
    use craft::{build, Header};
    let mut f = build(&[
        Header::eth(),
        Header::ipv4([192, 0, 2, 1], [192, 0, 2, 2]),
        Header::Udp { src: 50000, dst: 4789 },
        Header::Vxlan { vni },
        Header::eth(),
        ip,
        transport,
        Header::Payload(vec![0; 200]),
    ]);
    f.truncate(128);
    f
}

/// `n` datagrams from agent 198.51.100.1, each with 4 samples of tenant 10.1.0.1 on ifIndex 3
/// and 1 of tenant 10.1.0.9 on ifIndex 4 (1 in 100), and a counter sample of ifIndex 3.
fn traffic(first_seq: u32, n: u32, octets: u64) -> Vec<Vec<u8>> {
    let agent = Agent { address: IpAddr::from([198, 51, 100, 1]), sub_agent: 0 };
    (0..n)
        .map(|i| {
            let flow = |source: u32, inner: [u8; 4]| Sample::Flow {
                source,
                sampling_rate: 100,
                sample_pool: 100 * (first_seq + i),
                input: source,
                output: 9,
                frame_length: 1000,
                header: tunnelled(inner, 42),
            };
            let mut samples = vec![flow(3, [10, 1, 0, 1]); 4];
            samples.push(flow(4, [10, 1, 0, 9]));
            samples.push(Sample::Counters {
                source: 3,
                speed: 1_000_000_000,
                in_octets: octets * u64::from(first_seq + i),
                out_octets: 0,
                status: 3,
            });
            datagram(agent, first_seq + i, 1000 * (first_seq + i), &samples)
        })
        .collect()
}

fn keys_of(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn sflow_rt_example_clients_work_unchanged() {
    if !have_tool("curl") {
        return;
    }
    let server = Serve::start("serve-client", "", &["--workers", "1"], None);
    // Define a flow with PUT (204), read it back (the stored spec with its defaults).
    let spec = r#"{"keys":"ipsource.1,ipdestination.1,vxlanvni","value":"frames","t":1,"log":true,"activeTimeout":10}"#;
    assert_eq!(server.request("PUT", "/flow/tenants/json", Some(spec)).0, 204);
    let got = server.json("/flow/tenants/json");
    assert_eq!(got["keys"], "ipsource.1,ipdestination.1,vxlanvni");
    assert_eq!(
        (got["value"].as_str(), got["fs"].as_str(), got["n"].as_u64()),
        (Some("frames"), Some(","), Some(5))
    );
    assert!(server.json("/flow/json").get("tenants").is_some());
    // A threshold, as largeflows.py sets one.
    let t = r#"{"metric":"tenants","value":10000,"byFlow":true,"timeout":1}"#;
    assert_eq!(server.request("PUT", "/threshold/big/json", Some(t)).0, 204);
    assert_eq!(server.json("/threshold/big/json")["byFlow"], true);

    // Two seconds of traffic: 50 datagrams a second, each sample 1 in 100.
    for second in 0..2 {
        server.send(&traffic(1 + second * 50, 50, 1_000_000));
        std::thread::sleep(Duration::from_secs(1));
    }
    // activeflows: key, value, agent, dataSource — tenant 10.1.0.1 at 4 x 50 x 100 = 20,000
    // frames a second (smoothed, rising toward it), 10.1.0.9 at a quarter of that.
    let flows = server.json("/activeflows/ALL/tenants/json?maxFlows=10");
    let flows = flows.as_array().unwrap();
    assert_eq!(flows.len(), 2, "{flows:?}");
    assert_eq!(keys_of(&flows[0]), set(&["key", "value", "agent", "dataSource", "flowN"]));
    assert_eq!(flows[0]["key"], "10.1.0.1,10.1.0.2,42");
    assert_eq!(
        (flows[0]["agent"].as_str(), flows[0]["dataSource"].as_str()),
        (Some("198.51.100.1"), Some("3"))
    );
    assert_eq!(flows[1]["dataSource"], "4");
    let (big, small) = (flows[0]["value"].as_f64().unwrap(), flows[1]["value"].as_f64().unwrap());
    assert!((5_000.0..=24_000.0).contains(&big), "{big}");
    assert!((big / small - 4.0).abs() < 0.5, "{big} {small}");
    assert_eq!(server.json("/activeflows/ALL/tenants/json?maxFlows=1").as_array().unwrap().len(), 1);
    assert_eq!(server.json("/activeflows/203.0.113.9/tenants/json").as_array().unwrap().len(), 0);

    // Long-poll events: the threshold fired for the big flow, by flow.
    let events = server.json("/events/json?maxEvents=10&timeout=5");
    let e = &events[0];
    assert_eq!(
        keys_of(e),
        set(&[
            "eventID",
            "thresholdID",
            "agent",
            "dataSource",
            "metric",
            "value",
            "threshold",
            "flowKey",
            "timestamp"
        ])
    );
    assert_eq!((e["thresholdID"].as_str(), e["metric"].as_str()), (Some("big"), Some("tenants")));
    assert_eq!(e["flowKey"], "10.1.0.1,10.1.0.2,42");
    assert!(e["value"].as_f64().unwrap() > 10_000.0);
    assert_eq!(events.as_array().unwrap().len(), 1, "only the big flow crossed: {events}");
    let last = e["eventID"].as_u64().unwrap();
    // Nothing new: the long poll waits for its timeout and returns an empty list.
    let started = Instant::now();
    let none = server.json(&format!("/events/json?eventID={last}&timeout=1"));
    assert_eq!(none, serde_json::json!([]));
    assert!(started.elapsed() >= Duration::from_millis(900));

    // metric: the flow metric's summary with topKeys; dump: every data source.
    let m = server.json("/metric/ALL/tenants/json");
    let m = &m[0];
    assert_eq!(m["metricName"], "tenants");
    assert_eq!(
        (m["agent"].as_str(), m["dataSource"].as_str(), m["metricN"].as_u64()),
        (Some("198.51.100.1"), Some("3"), Some(2))
    );
    assert_eq!(m["topKeys"][0]["key"], "10.1.0.1,10.1.0.2,42");
    for k in ["metricValue", "lastUpdate", "lastUpdateMin", "lastUpdateMax"] {
        assert!(m[k].is_number(), "{k}: {m}");
    }
    let dump = server.json("/dump/ALL/tenants/json");
    assert_eq!(dump.as_array().unwrap().len(), 2);
    assert_eq!(
        keys_of(&dump[0]),
        set(&["agent", "dataSource", "metricName", "metricValue", "lastUpdate", "topKeys"])
    );
    // Interface counters: 1,000,000 octets per datagram, 50 datagrams a second.
    let c = server.json("/metric/198.51.100.1/ifinoctets,ifoperstatus/json");
    let rate = c[0]["metricValue"].as_f64().unwrap();
    assert!(rate > 1e6, "{c}");
    assert_eq!(c[1]["metricValue"], 1.0);
    assert!(server.json("/dump/ALL/ifinutilization/json")[0]["metricValue"].is_number());
    // Every metric of an agent at once, keyed DATASOURCE.METRIC.
    let all = server.json("/metric/198.51.100.1/json");
    assert_eq!(all["3.ifoperstatus"], 1.0, "{all}");
    assert!(all["3.tenants"].as_f64().unwrap() > all["4.tenants"].as_f64().unwrap(), "{all}");
    let prom = server.request("GET", "/prometheus/metrics/ALL/ifoperstatus/txt", None).1;
    assert_eq!(prom.trim(), r#"sflow_ifoperstatus{agent="198.51.100.1",datasource="3"} 1"#);
    assert!(server.request("GET", "/prometheus/analyzer/txt", None).1.contains("sflow_analyzer_agents 1"));

    // Per agent counters, sampling, flow keys, analyzer.
    let a = &server.json("/agents/json")["198.51.100.1"];
    assert_eq!(
        (a["sFlowDatagramsReceived"].as_u64(), a["sFlowDatagramsLost"].as_u64()),
        (Some(100), Some(0))
    );
    assert_eq!(a["sFlowFlowSamples"], 500);
    let sampling = server.json("/sampling/json");
    assert_eq!(sampling[0]["samplingRate"], 100);
    let keys = server.json("/flowkeys/json");
    for k in ["ipsource.1", "vxlanvni", "tcpdestinationport", "stack"] {
        assert!(keys.get(k).is_some(), "{k} missing from {keys}");
    }
    let an = server.json("/analyzer/json");
    for k in
        ["sFlowAgents", "sFlowBytesReceived", "sFlowDatagramsReceived", "httpConnectionsTotal", "version"]
    {
        assert!(an.get(k).is_some(), "{k}: {an}");
    }
    assert_eq!(an["sFlowAgents"], 1);

    // The flow log: records once the flows go idle.
    let records = server.json("/flows/json?name=tenants&maxFlows=10&timeout=15");
    let r = &records[0];
    assert_eq!(
        keys_of(r),
        set(&["flowID", "name", "agent", "dataSource", "flowKeys", "value", "start", "end"])
    );
    let total: f64 = {
        // Wait until both flows are logged.
        let mut all = records.as_array().unwrap().clone();
        let deadline = Instant::now() + Duration::from_secs(15);
        while all.len() < 2 && Instant::now() < deadline {
            all = server.json("/flows/json?name=tenants&maxFlows=10&timeout=2").as_array().unwrap().clone();
        }
        all.iter().map(|r| r["value"].as_f64().unwrap()).sum()
    };
    // 500 samples of 1 in 100.
    assert_eq!(total, 50_000.0);

    // Groups and maps: PUT, GET, used by a definition, DELETE.
    let g = r#"{"tenants":["10.1.0.0/24"],"external":["0.0.0.0/0"]}"#;
    assert_eq!(server.request("PUT", "/group/sites/json", Some(g)).0, 204);
    assert_eq!(server.json("/group/sites/json")["tenants"][0], "10.1.0.0/24");
    let by_group = r#"{"keys":"group:ipsource.1:sites","value":"frames"}"#;
    assert_eq!(server.request("PUT", "/flow/bygroup/json", Some(by_group)).0, 204);
    assert_eq!(server.request("PUT", "/map/svc/json", Some(r#"{"web":["443"]}"#)).0, 204);
    assert_eq!(server.json("/map/json")["svc"]["web"][0], "443");
    assert_eq!(server.request("DELETE", "/map/svc/json", None).0, 204);
    assert_eq!(server.request("GET", "/map/svc/json", None).0, 404);

    // Own metrics for Prometheus.
    let metrics = server.request("GET", "/metrics", None).1;
    assert!(metrics.contains("detunnel_sflow_datagrams_total 100"), "{metrics}");
    assert!(metrics.contains("# TYPE detunnel_flow_evictions_total counter"));
    assert!(metrics.contains(r#"detunnel_agent_datagrams_lost_total{agent="198.51.100.1"} 0"#));

    // Deleting.
    assert_eq!(server.request("DELETE", "/flow/tenants/json", None).0, 204);
    assert_eq!(server.request("GET", "/flow/tenants/json", None).0, 404);
    assert_eq!(server.request("DELETE", "/threshold/big/json", None).0, 204);
    server.stop();
}

/// What real sFlow-RT clients asked and got wrong answers to (UI.md): the containerlab
/// scripts' long polls from `-1`, browse-metrics' `/metrics/json` and agent tokens, current
/// analyzer metric names, and the sflow-rt/prometheus app's flow export path.
#[test]
fn requests_of_real_sflow_rt_clients_are_answered() {
    if !have_tool("curl") {
        return;
    }
    let server = Serve::start("serve-compat", "", &["--workers", "1"], None);
    let spec = r#"{"keys":"ipsource.1","value":"frames","t":1,"log":true,"activeTimeout":1}"#;
    assert_eq!(server.request("PUT", "/flow/tenants/json", Some(spec)).0, 204);
    // The Prometheus flow export: keys repeatable, labels renaming them, a scale. The first
    // scrape defines its flow; the traffic after it is counted.
    let path = "/app/prometheus/scripts/export.js/flows/ALL/txt?metric=tenant_frames&key=ipsource.1&key=ipdestination.1&label=src&value=frames&scale=2&maxFlows=5";
    assert_eq!(server.request("GET", path, None).0, 200);
    server.send(&traffic(1, 50, 1_000_000));
    std::thread::sleep(Duration::from_secs(1));
    server.send(&traffic(51, 50, 1_000_000));
    let (status, body) = server.request("GET", path, None);
    assert_eq!(status, 200, "{body}");
    let first = body.lines().next().unwrap_or("");
    assert!(first.starts_with(r#"tenant_frames{src="10.1.0.1",ipdestination_1="10.1.0.2"} "#), "{body}");
    // The same query again reuses its flow (one definition, named after the export).
    server.request("GET", path, None);
    let defined: Vec<String> =
        keys_of(&server.json("/flow/json")).into_iter().filter(|n| n.starts_with("prometheus_")).collect();
    assert_eq!(defined.len(), 1, "{defined:?}");
    assert_eq!(
        server.request("GET", "/app/prometheus/scripts/export.js/flows/ALL/txt?metric=x", None).0,
        400
    );
    // browse-metrics: the active metrics with milliseconds since seen; EDGE and CORE.
    let metrics = server.json("/metrics/json");
    assert!(metrics["ifinoctets"].is_u64() && metrics["tenants"].is_u64(), "{metrics}");
    for token in ["EDGE", "CORE", "TOPOLOGY"] {
        assert_eq!(
            server.request("GET", &format!("/metric/{token}/ifinoctets/json"), None).0,
            200,
            "{token}"
        );
    }
    // Current analyzer names, the old ones kept.
    let analyzer = server.request("GET", "/prometheus/analyzer/txt", None).1;
    for name in [
        "sflow_analyzer_agent_count 1",
        "sflow_analyzer_received_datagrams 100",
        "sflow_analyzer_discarded_datagrams 0",
        "sflow_analyzer_heap_used_bytes ",
        "sflow_analyzer_cpu_load_process ",
        "sflow_analyzer_agents 1",
    ] {
        assert!(analyzer.contains(name), "{name}: {analyzer}");
    }
    // logflows.py and largeflows.py start their long polls at -1: the newest record.
    let newest = server.json("/flows/json?flowID=-1&maxFlows=1&timeout=10");
    assert!(newest.as_array().is_some_and(|v| v.len() <= 1), "{newest}");
    assert_eq!(server.request("GET", "/events/json?eventID=-1&maxEvents=1&timeout=1", None).0, 200);
    server.stop();
}

/// Every sample counted is exported as an IPFIX record, and tshark reads the tenant inside the
/// tunnel, the VNI as layer2SegmentId, and bytes and packets scaled by the sampling rate.
#[test]
fn every_sample_is_exported_as_ipfix_that_tshark_reads() {
    if !have_tool("curl") || !have_tool("tshark") {
        return;
    }
    let (collector, server) = ipfix_collector_and_server("serve-ipfix");
    // 100 datagrams of 5 samples (4 of tenant 10.1.0.1, 1 of 10.1.0.9; VNI 42; 1 in 100).
    server.send(&traffic(1, 100, 1_000_000));
    let messages = received(&collector);
    let metrics = server.request("GET", "/metrics", None).1;
    assert!(metrics.contains("detunnel_ipfix_records_total 500"), "{metrics}");
    server.stop();
    let fields = [
        "cflow.srcaddr",
        "cflow.dstaddr",
        "cflow.layer2_segment_id",
        "cflow.octets",
        "cflow.packets",
        "cflow.dstport",
    ];
    let seen = ipfix_records(&messages, &fields);
    // VXLAN (type 0x01 in the top byte, RFC 7133) VNI 42; 1,000-byte frames, 1 in 100.
    let segment = (1u64 << 56 | 42).to_string();
    let one = |src: &str| format!("{src} 10.1.0.2 {segment} 100000 100 443");
    assert_eq!(seen.get(&one("10.1.0.1")), Some(&400), "{seen:?}");
    assert_eq!(seen.get(&one("10.1.0.9")), Some(&100), "{seen:?}");
}

/// A UDP socket standing for an IPFIX collector, and a server exporting to it.
fn ipfix_collector_and_server(tag: &str) -> (std::net::UdpSocket, Serve) {
    let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    collector.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let config = format!("[export.ipfix]\ncollectors = [\"{}\"]\n", collector.local_addr().unwrap());
    (collector, Serve::start(tag, &config, &["--workers", "1"], None))
}

/// The messages `collector` receives until nothing more comes for its read timeout (the last
/// records go out within a second).
fn received(collector: &std::net::UdpSocket) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut buf = [0u8; 65_536];
    while let Ok(n) = collector.recv(&mut buf) {
        messages.push(buf[..n].to_vec());
    }
    messages
}

/// The IPFIX messages a collector received, as tshark reads them from a capture of its port:
/// each record's `fields` joined by spaces, and how many records had them.
fn ipfix_records(messages: &[Vec<u8>], fields: &[&str]) -> BTreeMap<String, usize> {
    let frames: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| {
            craft::build(&[
                craft::Header::eth(),
                craft::Header::ipv4([127, 0, 0, 1], [127, 0, 0, 1]),
                craft::Header::Udp { src: 40000, dst: 4739 },
                craft::Header::Payload(m.clone()),
            ])
        })
        .collect();
    let tmp = TempDir::new("ipfix-capture");
    let pcap = tmp.join("ipfix.pcap");
    std::fs::write(&pcap, craft::pcap_file(1, &frames)).unwrap();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for row in tshark_rows(&pcap, fields) {
        let cols: Vec<Vec<&str>> = row.iter().map(|c| c.split(',').collect()).collect();
        for i in 0..cols[0].len() {
            let record: Vec<&str> = cols.iter().map(|c| c.get(i).copied().unwrap_or("")).collect();
            *seen.entry(record.join(" ")).or_default() += 1;
        }
    }
    seen
}

/// Tenants on IPv6 inside VXLAN are exported with their own template (IPv6 addresses), beside
/// IPv4 ones in the same messages; tshark reads both.
#[test]
fn ipv6_tenants_are_exported_with_a_template_of_their_own() {
    if !have_tool("curl") || !have_tool("tshark") {
        return;
    }
    use craft::Header;
    let (collector, server) = ipfix_collector_and_server("serve-ipfix6");
    let v6 = |last: u16| std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last).octets();
    let frame = |inner: Header, vni: u32| in_vxlan(vni, inner, Header::Udp { src: 5353, dst: 53 });
    let agent = Agent { address: IpAddr::from([198, 51, 100, 6]), sub_agent: 0 };
    let flow = |header: Vec<u8>| Sample::Flow {
        source: 1,
        sampling_rate: 10,
        sample_pool: 10,
        input: 1,
        output: 2,
        frame_length: 500,
        header,
    };
    let datagrams: Vec<Vec<u8>> = (0..20)
        .map(|i| {
            let samples = vec![
                flow(frame(Header::ipv6(v6(1), v6(2)), 7)),
                flow(frame(Header::ipv6(v6(1), v6(2)), 7)),
                flow(frame(Header::ipv4([10, 9, 0, 1], [10, 9, 0, 2]), 8)),
            ];
            datagram(agent, i + 1, i * 10, &samples)
        })
        .collect();
    server.send(&datagrams);
    let messages = received(&collector);
    server.stop();
    // tshark lists each field over all the records of a message, so fields of one template
    // are read apart from those both templates have.
    let six = ipfix_records(&messages, &["cflow.srcaddrv6", "cflow.dstaddrv6"]);
    assert_eq!(six, [("2001:db8::1 2001:db8::2".to_string(), 40)].into(), "{six:?}");
    let four = ipfix_records(&messages, &["cflow.srcaddr", "cflow.dstaddr"]);
    assert_eq!(four, [("10.9.0.1 10.9.0.2".to_string(), 20)].into(), "{four:?}");
    let both = ipfix_records(&messages, &["cflow.layer2_segment_id", "cflow.octets", "cflow.dstport"]);
    let segment = |vni: u64| (1u64 << 56 | vni).to_string();
    let want = [(format!("{} 5000 53", segment(7)), 40), (format!("{} 5000 53", segment(8)), 20)].into();
    assert_eq!(both, want, "{both:?}");
}

/// nfdump's collector, nfcapd, takes the IPFIX export: every record, and the packet and byte
/// totals the sampling rate gives, with no sequence error.
#[test]
fn nfcapd_reads_the_ipfix_export_with_exact_totals() {
    if !have_tool("curl") || !have_tool("nfdump") {
        return;
    }
    let tmp = TempDir::new("nfcapd-files");
    let port = common::serve::free_port(true);
    let mut nfcapd = Running(
        Some(spawn_group(
            std::process::Command::new("nfcapd")
                .args(["-b", "127.0.0.1", "-p", &port.to_string(), "-w"])
                .arg(&tmp.0)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped()),
        )),
        "-TERM",
    );
    std::thread::sleep(Duration::from_millis(500));
    let config = format!("[export.ipfix]\ncollectors = [\"127.0.0.1:{port}\"]\n");
    let server = Serve::start("serve-nfcapd", &config, &["--workers", "1"], None);
    server.send(&traffic(1, 100, 1_000_000));
    // The last records leave within a second of the last sample.
    std::thread::sleep(Duration::from_millis(2500));
    server.stop();
    let said = nfcapd.stop();
    let log = String::from_utf8_lossy(&said.stdout).to_string() + &String::from_utf8_lossy(&said.stderr);
    // One line per file nfcapd closed (it starts a new one every 5 minutes of the clock, which
    // may fall within the run): flows, packets, bytes and sequence errors add up.
    let mut totals = [0u64; 4];
    for line in log.lines().filter(|l| l.contains("Flows: ")) {
        for (i, name) in ["Flows: ", "Packets: ", "Bytes: ", "Sequence Errors: "].iter().enumerate() {
            let value = line
                .split(name)
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|v| v.trim().parse::<u64>().ok());
            totals[i] += value.unwrap_or_else(|| panic!("{name}in {line}"));
        }
    }
    assert_eq!(totals, [500, 50_000, 50_000_000, 0], "{log}");
    let out = std::process::Command::new("nfdump")
        .arg("-R")
        .arg(&tmp.0)
        .args(["-q", "-o", "fmt:%sa %da %pkt %byt"])
        .output()
        .unwrap();
    let rows = String::from_utf8_lossy(&out.stdout).to_string();
    let files: Vec<_> = std::fs::read_dir(&tmp.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(out.status.success() && !rows.is_empty(), "{files:?} {}", String::from_utf8_lossy(&out.stderr));
    let tenant = |src: &str| {
        rows.lines()
            .filter(|l| l.split_whitespace().collect::<Vec<_>>() == [src, "10.1.0.2", "100", "100000"])
            .count()
    };
    assert_eq!((tenant("10.1.0.1"), tenant("10.1.0.9")), (400, 100), "{rows}");
}

#[test]
fn bad_requests_get_clear_errors() {
    if !have_tool("curl") {
        return;
    }
    let server = Serve::start("serve-bad", "[http]\nmax_body = 1000\n", &["--workers", "1"], None);
    let bad = |method: &str, path: &str, body: Option<&str>, status: u16, says: &str| {
        let (code, text) = server.request(method, path, body);
        assert_eq!(code, status, "{method} {path} {body:?}: {text}");
        assert!(text.contains(says), "{method} {path}: `{text}` does not say `{says}`");
    };
    bad("PUT", "/flow/x/json", Some("{not json"), 400, "invalid JSON");
    bad("PUT", "/flow/x/json", Some(r#"{"keys":"ipsource","vlaue":"frames"}"#), 400, "unknown field `vlaue`");
    bad("PUT", "/flow/x/json", Some(r#"{"keys":"ipsorce"}"#), 400, "ipsource");
    bad("PUT", "/flow/x/json", Some(r#"{"keys":"ipsource","filter":"(ipsource=10.0.0.1"}"#), 400, "filter");
    bad("PUT", "/flow/x/json", Some(r#"{"keys":"group:ipsource:nosuch"}"#), 400, "nosuch");
    bad("PUT", "/flow/bad%20name/json", Some(r#"{"keys":"ipsource"}"#), 400, "not a valid name");
    bad("PUT", "/group/g/json", Some(r#"{"x":["10.0.0.0/40"]}"#), 400, "10.0.0.0/40");
    bad("PUT", "/threshold/t/json", Some(r#"{"value":3}"#), 400, "missing field `metric`");
    bad("GET", "/flow/nosuch/json", None, 404, "no flow named `nosuch`");
    bad("DELETE", "/group/nosuch/json", None, 404, "nosuch");
    bad("GET", "/activeflows/ALL/nosuch/json", None, 404, "nosuch");
    bad("GET", "/activeflows/not-an-ip/stacks/json", None, 400, "not an IP address");
    bad("GET", "/activeflows/ALL/stacks/json?maxFlows=many", None, 400, "maxFlows");
    bad("GET", "/activeflows/ALL/stacks/json?aggMode=edge", None, 400, "aggMode");
    bad("GET", "/metric/ALL/mode:stacks/json", None, 400, "unknown statistic");
    bad("GET", "/nosuch", None, 404, "no such path");
    let big = format!(r#"{{"keys":"{}"}}"#, "ipsource,".repeat(200));
    let (code, _) = server.request("PUT", "/flow/x/json", Some(&big));
    assert_eq!(code, 413);
    // None of it changed anything or stopped the server.
    assert_eq!(server.json("/flow/json").as_object().unwrap().len(), 0);
    assert!(server.request("GET", "/metrics", None).1.contains("detunnel_http_client_errors_total 17"));
    server.stop();
}

#[test]
fn broker_pipelines_run_inside_the_daemon_with_their_counters_in_the_api() {
    if !have_tool("curl") {
        return;
    }
    let port = common::serve::free_port(true);
    let tmp = TempDir::new("serve-pipeline-out");
    let out = tmp.join("mirror.pcap");
    // A remote tool the pipeline also sends to, re-encapsulated.
    let tool = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tool_port = tool.local_addr().unwrap().port();
    let config = format!(
        "[pipelines.mirror]\nsources = [\"vxlan://127.0.0.1:{port}\"]\nsinks = [\"file:{}\", \"vxlan://127.0.0.1:{tool_port}?vni=5\"]\n",
        out.display()
    );
    let server = Serve::start("serve-pipeline", &config, &["--workers", "1"], None);
    std::thread::sleep(Duration::from_millis(300));
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..20u8 {
        let mut payload = craft::build(&[craft::Header::Vxlan { vni: 77 }]);
        payload.extend(tunnelled([10, 1, 0, i], 5));
        s.send_to(&payload, ("127.0.0.1", port)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = server.json("/pipelines/json");
        if p["mirror"]["frames_in"] == 20 && p["mirror"]["sinks"][0]["frames"] == 20 {
            assert_eq!(p["mirror"]["frames_out"], 20);
            assert_eq!(p["mirror"]["sinks"][0]["reopened"], 0, "{p}");
            assert_eq!(p["mirror"]["streams"][0]["id"], 77, "{p}");
            break;
        }
        assert!(Instant::now() < deadline, "{p}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = server.request("GET", "/metrics", None).1;
    assert!(metrics.contains(r#"detunnel_pipeline_frames_in_total{pipeline="mirror"} 20"#), "{metrics}");
    let source = format!(
        r#"detunnel_pipeline_source_frames_total{{pipeline="mirror",source="vxlan://127.0.0.1:{port}"}} 20"#
    );
    assert!(metrics.contains(&source), "{metrics}");
    assert!(metrics.contains(r#"detunnel_pipeline_stream_frames_total{pipeline="mirror",stream="vxlan 127.0.0.1>127.0.0.1 vni 77"} 20"#), "{metrics}");
    for way in ["in", "out"] {
        let kind =
            format!(r#"detunnel_pipeline_frames_{way}_by_kind_total{{pipeline="mirror",kind="vxlan"}} 20"#);
        assert!(metrics.contains(&kind), "{metrics}");
    }
    // The tunnel sink's families: what it sent, refused, and how often it was opened again.
    let sink = |family: &str| {
        let start = format!(r#"{family}{{pipeline="mirror",sink="vxlan://127.0.0.1:{tool_port}"#);
        metrics
            .lines()
            .find(|l| l.starts_with(&start))
            .map(|l| l.rsplit(' ').next().unwrap_or("").to_string())
    };
    assert_eq!(sink("detunnel_pipeline_sink_frames_total").as_deref(), Some("20"), "{metrics}");
    assert_eq!(sink("detunnel_pipeline_sink_drops_total").as_deref(), Some("0"), "{metrics}");
    assert_eq!(sink("detunnel_pipeline_sink_reopened_total").as_deref(), Some("0"), "{metrics}");
    server.stop();
    // Stopping the daemon flushed and closed the pipeline's file: every frame is in it.
    assert_eq!(common::frames_in(&out).len(), 20);
}

#[test]
fn a_pipeline_counts_mirrored_tenants_into_the_flow_engine() {
    if !have_tool("curl") {
        return;
    }
    let port = common::serve::free_port(true);
    let tmp = TempDir::new("serve-pipeline-flows-out");
    let out = tmp.join("tenants.pcapng");
    let config = format!(
        r#"
[flows.tenants]
keys = "ipsource.1,ipdestination.1,vxlanvni"
value = "bytes"
t = 1
log = true

[pipelines.mirror]
sources = ["vxlan://127.0.0.1:{port}"]
sinks = ["flows", "file:{}"]
"#,
        out.display()
    );
    let server = Serve::start("serve-pipeline-flows", &config, &["--workers", "1"], None);
    // Two tenants in two VNIs: 30 frames of 10.1.0.1>10.1.0.2 in VNI 100, 10 of
    // 10.2.0.1>10.2.0.2 in VNI 200, each a whole TCP frame of known size.
    let tenant = |src: [u8; 4], dst: [u8; 4], payload: usize| {
        craft::build(&[
            craft::Header::eth(),
            craft::Header::ipv4(src, dst),
            craft::Header::Tcp { src: 40000, dst: 443, flags: 0x18 },
            craft::Header::Payload(vec![0; payload]),
        ])
    };
    let (a, b) = (tenant([10, 1, 0, 1], [10, 1, 0, 2], 146), tenant([10, 2, 0, 1], [10, 2, 0, 2], 446));
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = Vec::new();
    for i in 0..40 {
        let (vni, inner) = if i % 4 == 3 { (200, &b) } else { (100, &a) };
        let mut payload = craft::build(&[craft::Header::Vxlan { vni }]);
        payload.extend_from_slice(inner);
        s.send_to(&payload, ("127.0.0.1", port)).unwrap();
        sent.push(inner.clone());
    }
    // Each frame counts as received: Ethernet, IPv4 and UDP in front of the VXLAN datagram.
    let on_wire = |inner: &[u8]| (14 + 20 + 8 + 8 + inner.len()) as f64;
    let deadline = Instant::now() + Duration::from_secs(10);
    let flows = loop {
        let flows = server.json("/activeflows/ALL/tenants/json");
        if flows.as_array().unwrap().len() == 2 {
            break flows;
        }
        assert!(Instant::now() < deadline, "{flows}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let value = |key: &str| {
        let f = flows
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == key)
            .unwrap_or_else(|| panic!("{key}: {flows}"));
        (
            f["value"].as_f64().unwrap(),
            f["agent"].as_str().unwrap().to_string(),
            f["dataSource"].as_str().unwrap().to_string(),
        )
    };
    let (va, agent_a, ds_a) = value("10.1.0.1,10.1.0.2,100");
    let (vb, agent_b, ds_b) = value("10.2.0.1,10.2.0.2,200");
    // The agent is the sender, the data source the VNI; the rates stand as the bytes sent.
    assert_eq!(
        (agent_a.as_str(), ds_a.as_str(), agent_b.as_str(), ds_b.as_str()),
        ("127.0.0.1", "100", "127.0.0.1", "200")
    );
    let ratio = va / vb;
    let want = 30.0 * on_wire(&a) / (10.0 * on_wire(&b));
    assert!((ratio - want).abs() < 0.01 * want, "{ratio} against {want}: {flows}");
    let dump = server.json("/dump/ALL/tenants/json");
    let seen: std::collections::BTreeSet<(String, String)> = dump
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["agent"].as_str().unwrap().to_string(), d["dataSource"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        seen,
        [("127.0.0.1".to_string(), "100".to_string()), ("127.0.0.1".into(), "200".into())].into(),
        "{dump}"
    );
    // The flow log's totals, once the flows have ended, are the bytes sent, exactly.
    let deadline = Instant::now() + Duration::from_secs(15);
    let totals = loop {
        let log = server.json("/flows/json?maxFlows=10");
        let mut totals = std::collections::BTreeMap::new();
        for r in log.as_array().unwrap() {
            *totals.entry(r["flowKeys"].as_str().unwrap().to_string()).or_insert(0.0) +=
                r["value"].as_f64().unwrap();
        }
        if totals.len() == 2 {
            break totals;
        }
        assert!(Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(totals["10.1.0.1,10.1.0.2,100"], 30.0 * on_wire(&a));
    assert_eq!(totals["10.2.0.1,10.2.0.2,200"], 10.0 * on_wire(&b));
    let p = server.json("/pipelines/json");
    assert_eq!(p["mirror"]["flows"]["counted"], 40, "{p}");
    server.stop();
    // The file holds the stripped frames, in order.
    let mut written = Vec::new();
    capture::FileReader::open(out.to_str().unwrap())
        .unwrap()
        .for_each(|f| {
            written.push(f.data.to_vec());
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(written, sent);
}

/// A flow definition's `ipfixCollectors`: its completed flows reach the collector as IPFIX
/// records of its keys (the tenant inside the tunnel, the VNI), whose octets add up to what
/// was sampled; a key with no IPFIX element is refused by name.
#[test]
fn a_flow_definition_exports_its_completed_flows_as_ipfix() {
    if !have_tool("curl") || !have_tool("tshark") {
        return;
    }
    let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    collector.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let server = Serve::start("serve-flow-ipfix", "", &["--workers", "1"], None);
    let at = collector.local_addr().unwrap();
    let refused = server.request(
        "PUT",
        "/flow/stacks/json",
        Some(&format!(r#"{{"keys":"stack","value":"bytes","ipfixCollectors":["{at}"]}}"#)),
    );
    assert_eq!(refused.0, 400, "{refused:?}");
    assert!(refused.1.contains("key `stack` has no IPFIX element"), "{refused:?}");
    let spec = format!(
        r#"{{"keys":"ipsource.1,ipdestination.1,tcpdestinationport,vxlanvni","value":"bytes","activeTimeout":1,"ipfixCollectors":["{at}"]}}"#
    );
    assert_eq!(server.request("PUT", "/flow/tenants/json", Some(&spec)).0, 204);
    assert!(server.json("/flow/tenants/json")["ipfixCollectors"][0] == at.to_string());
    // 100 datagrams of 4 samples of 10.1.0.1 and 1 of 10.1.0.9, 1,000 bytes 1 in 100, VNI 42.
    server.send(&traffic(1, 100, 1_000_000));
    // Until the flows have ended (5 s idle) and their last records have come.
    let messages = received(&collector);
    // Not in the flow log: the definition exports without `log`.
    assert_eq!(server.json("/flows/json?maxFlows=100").as_array().map(Vec::len), Some(0));
    let metrics = server.request("GET", "/metrics", None).1;
    assert!(metrics.contains("detunnel_ipfix_flow_records_total{flow=\"tenants\"}"), "{metrics}");
    server.stop();
    let fields =
        ["cflow.srcaddr", "cflow.dstaddr", "cflow.dstport", "cflow.layer2_segment_id", "cflow.octets"];
    let mut octets: BTreeMap<String, u64> = BTreeMap::new();
    for (record, n) in ipfix_records(&messages, &fields) {
        let (key, value) = record.rsplit_once(' ').unwrap();
        *octets.entry(key.to_string()).or_default() += value.parse::<u64>().unwrap() * n as u64;
    }
    let segment = (1u64 << 56 | 42).to_string();
    let want: BTreeMap<String, u64> = [
        (format!("10.1.0.1 10.1.0.2 443 {segment}"), 400 * 1000 * 100),
        (format!("10.1.0.9 10.1.0.2 443 {segment}"), 100 * 1000 * 100),
    ]
    .into();
    assert_eq!(octets, want);
}

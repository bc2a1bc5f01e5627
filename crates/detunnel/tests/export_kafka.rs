//! The Kafka export end to end with real components: tansu (a Kafka-protocol broker, from
//! PyPI), three `detunnel serve` collectors each fed a different agent's deterministic sFlow,
//! the topic read back by explicit partitions, and read by ClickHouse (chdb, from PyPI) through
//! the repository's DDL (`export/clickhouse.sql`: its Kafka engine table, the raw table and the
//! per-minute SummingMergeTree), whose totals must equal what the generator sent, weighted by
//! the sampling rate.
mod common;

use common::kafka::{delimited, read_topic, Broker};
use common::serve::Serve;
use common::*;
use craft::sflow::{datagram, Agent, Sample};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

/// The topic's partitions.
const PARTITIONS: i32 = 4;

/// One sample the generator sends, as the totals count it.
struct Sent {
    agent: [u8; 4],
    tunnel: &'static str,
    id: u32,
    inner: ([u8; 4], [u8; 4]),
    bytes: u64,
}

/// A sampled frame: outer IPv4 from the agent's network, VXLAN (VNI `id`) or GRE (key `id`),
/// then the tenant's IPv4 TCP packet to port 443.
fn frame(agent: [u8; 4], tunnel: &str, id: u32, inner: ([u8; 4], [u8; 4])) -> Vec<u8> {
    use craft::{build, Header};
    let outer = Header::ipv4([192, 0, 2, agent[3]], [192, 0, 2, 100]);
    let mut h = vec![Header::eth(), outer];
    if tunnel == "vxlan" {
        h.extend([Header::Udp { src: 50000, dst: 4789 }, Header::Vxlan { vni: id }]);
    } else {
        h.push(Header::Gre { key: Some(id), seq: None });
    }
    h.extend([
        Header::eth(),
        Header::ipv4(inner.0, inner.1),
        Header::Tcp { src: 40000, dst: 443, flags: 0x18 },
        Header::Payload(vec![0; 200]),
    ]);
    let mut f = build(&h);
    f.truncate(128);
    f
}

/// Agent `agent`'s stream: `count` datagrams of 5 flow samples over three tenants (VXLAN VNIs
/// 100 and 200, GRE key 300), four sources each, two sampling rates and five frame lengths.
fn stream(agent: [u8; 4], first_seq: u32, count: u32, sent: &mut Vec<Sent>) -> Vec<Vec<u8>> {
    let from = Agent { address: IpAddr::from(agent), sub_agent: 0 };
    (first_seq..first_seq + count)
        .map(|d| {
            let samples: Vec<Sample> = (0..5u32)
                .map(|s| {
                    let (tunnel, id) = [("vxlan", 100), ("vxlan", 200), ("gre", 300)][((d + s) % 3) as usize];
                    let net = (id / 100) as u8;
                    let inner = ([10, net, 0, 1 + ((d * 5 + s) % 4) as u8], [10, net, 0, 100]);
                    let rate = 100 * (1 + s % 2) * u32::from(agent[3]);
                    let len = 200 + 100 * ((d + s) % 5);
                    sent.push(Sent { agent, tunnel, id, inner, bytes: u64::from(len) * u64::from(rate) });
                    Sample::Flow {
                        source: 3,
                        sampling_rate: rate,
                        sample_pool: rate * (d * 5 + s),
                        input: 3,
                        output: 7,
                        frame_length: len,
                        header: frame(agent, tunnel, id, inner),
                    }
                })
                .collect();
            datagram(from, d, d * 10, &samples)
        })
        .collect()
}

fn have_chdb() -> bool {
    let ok = Command::new("python3").args(["-c", "import chdb"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "chdb (PyPI) is required in CI but is not installed");
        skip("chdb is not installed (pip install chdb)");
    }
    ok
}

fn config(broker: &Broker, instance: &str, extra: &str) -> String {
    format!(
        "[export]\ninstance = \"{instance}\"\n[export.kafka]\nbrokers = [\"{}\"]\ntopic = \"detunnel\"\nlinger_ms = 20\n{extra}",
        broker.address()
    )
}

/// A counter of `/metrics`.
fn metric(server: &Serve, line: &str) -> u64 {
    let text = server.request("GET", "/metrics", None).1;
    text.lines()
        .find_map(|l| l.strip_prefix(line).and_then(|v| v.trim().parse::<f64>().ok()))
        .unwrap_or_else(|| panic!("no {line} in {text}")) as u64
}

/// Waits until `server` has delivered `want` samples (or dropped some: then it fails).
fn wait_delivered(server: &Serve, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(server, "detunnel_kafka_delivered_total ") < want {
        assert!(Instant::now() < deadline, "not delivered: {}", server.request("GET", "/metrics", None).1);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn samples_in(values: &[Vec<u8>]) -> usize {
    values.iter().map(|v| delimited(v).len()).sum()
}

fn repo_file(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// Three collectors, one topic, ClickHouse: totals per agent, per tunnel and per inner address
/// pair equal the generator's, every record is there once, and nothing was dropped.
#[test]
fn three_collectors_export_to_kafka_and_clickhouse_adds_them_up_exactly() {
    let Some(broker) = Broker::start() else { return };
    if !have_chdb() || !have_tool("curl") {
        return;
    }
    broker.create_topic("detunnel", PARTITIONS as u32);
    broker.create_topic("detunnel-counters", 1);
    let mut sent = Vec::new();
    let mut servers = Vec::new();
    for (i, agent) in [[198, 51, 100, 1], [198, 51, 100, 2], [198, 51, 100, 3]].into_iter().enumerate() {
        let name = format!("collector-{}", i + 1);
        let server =
            Serve::start(&format!("kafka-{name}"), &config(&broker, &name, ""), &["--workers", "2"], None);
        let datagrams = stream(agent, 1, 400, &mut sent);
        server.send(&datagrams);
        servers.push(server);
    }
    for (i, server) in servers.iter().enumerate() {
        wait_delivered(server, 2000);
        for reason in ["queue_full", "rejected", "shutdown"] {
            let line = format!("detunnel_kafka_dropped_total{{reason=\"{reason}\"}} ");
            assert_eq!(metric(server, &line), 0, "collector {} dropped for {reason}", i + 1);
        }
        assert_eq!(metric(server, "detunnel_kafka_samples_total "), 2000);
    }
    let values = read_topic(&broker.address(), "detunnel", PARTITIONS, Duration::from_secs(30), |v| {
        samples_in(v) >= sent.len()
    });
    assert_eq!(samples_in(&values), sent.len(), "records on the topic");
    // ClickHouse reads the topic itself, through the repository's DDL (its Kafka engine table).
    let out = Command::new("python3")
        .arg(repo_file("crates/detunnel/tests/export/chdb_totals.py"))
        .arg(repo_file("export/clickhouse.sql"))
        .arg(repo_file("export/detunnel.proto"))
        .args([broker.address(), "detunnel".into(), sent.len().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "chdb: {}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["records"].as_u64(), Some(sent.len() as u64), "{got}");
    assert_eq!(got["distinct"].as_u64(), Some(sent.len() as u64), "(instance, sequence) pairs: {got}");
    // What the generator sent, weighted by the sampling rate.
    let mut per_agent: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_tunnel: BTreeMap<(String, u64), u64> = BTreeMap::new();
    let mut per_pair: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for s in &sent {
        *per_agent.entry(format!("::ffff:{}", IpAddr::from(s.agent))).or_default() += s.bytes;
        *per_tunnel.entry((s.tunnel.to_string(), u64::from(s.id))).or_default() += s.bytes;
        let pair =
            (format!("::ffff:{}", IpAddr::from(s.inner.0)), format!("::ffff:{}", IpAddr::from(s.inner.1)));
        let e = per_pair.entry(pair).or_default();
        e.0 += s.bytes;
        e.1 += 1;
    }
    let num = |v: &Value| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap();
    let rows = |k: &str| got[k].as_array().unwrap().clone();
    let agents: BTreeMap<String, u64> =
        rows("per_agent").iter().map(|r| (r[0].as_str().unwrap().to_string(), num(&r[1]))).collect();
    assert_eq!(agents, per_agent, "bytes per agent");
    let tunnels: BTreeMap<(String, u64), u64> = rows("per_tunnel")
        .iter()
        .map(|r| ((r[0].as_str().unwrap().to_string(), num(&r[1])), num(&r[2])))
        .collect();
    assert_eq!(tunnels, per_tunnel, "bytes per tunnel");
    let pairs: BTreeMap<(String, String), (u64, u64)> = rows("per_pair")
        .iter()
        .map(|r| {
            assert_eq!((num(&r[2]), num(&r[3])), (6, 443), "{r}");
            (
                (r[0].as_str().unwrap().to_string(), r[1].as_str().unwrap().to_string()),
                (num(&r[4]), num(&r[5])),
            )
        })
        .collect();
    assert_eq!(pairs, per_pair, "bytes and samples per inner address pair");
    // Every record lists the tunnel at depth 1 by kind and identifier name.
    let depth1: Vec<(String, String, u64)> = rows("depth1")
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_str().unwrap().to_string(), num(&r[2])))
        .collect();
    let gre = sent.iter().filter(|s| s.tunnel == "gre").count() as u64;
    let want = [("gre".into(), "key".into(), gre), ("vxlan".into(), "vni".into(), sent.len() as u64 - gre)];
    assert_eq!(depth1, want, "{got}");
    // The stack each record names, and the instances they came from.
    let stacks: Vec<(String, u64)> =
        rows("stacks").iter().map(|r| (r[0].as_str().unwrap().to_string(), num(&r[1]))).collect();
    let want = [
        ("eth.ip.gre.eth.ip.tcp".to_string(), gre),
        ("eth.ip.udp.vxlan.eth.ip.tcp".to_string(), sent.len() as u64 - gre),
    ];
    assert_eq!(stacks, want, "{got}");
    let instances: Vec<String> =
        rows("instances").iter().map(|r| r[0].as_str().unwrap().to_string()).collect();
    assert_eq!(instances, ["collector-1", "collector-2", "collector-3"], "{got}");
    for s in servers {
        s.stop();
    }
    // The counters topic: each instance's last record says 2,000 delivered and none dropped.
    let counters = read_topic(&broker.address(), "detunnel-counters", 1, Duration::from_secs(10), |v| {
        let last = last_counters(v);
        last.len() == 3 && last.values().all(|c| c["delivered"] == 2000)
    });
    let last = last_counters(&counters);
    assert_eq!(last.keys().cloned().collect::<Vec<_>>(), ["collector-1", "collector-2", "collector-3"]);
    for (instance, c) in last {
        assert_eq!(
            (c["samples"].as_u64(), c["delivered"].as_u64()),
            (Some(2000), Some(2000)),
            "{instance}: {c}"
        );
        let drops = ["dropped_queue_full", "dropped_rejected", "dropped_shutdown"];
        assert!(drops.iter().all(|d| c[*d] == 0), "{instance}: {c}");
    }
}

/// Each instance's latest counters record on the counters topic.
fn last_counters(values: &[Vec<u8>]) -> BTreeMap<String, Value> {
    values
        .iter()
        .map(|v| serde_json::from_slice::<Value>(v).unwrap())
        .map(|j| (j["instance"].as_str().unwrap().to_string(), j["counters"].clone()))
        .collect()
}

/// The broker stopped mid-run: the collector keeps answering and counting, queues what the
/// queue holds and drops (and counts) the rest, and delivers the queue once the broker is
/// back; what reached Kafka plus what was counted as dropped equals what was sampled.
#[test]
fn a_stopped_broker_costs_only_counted_samples() {
    let Some(mut broker) = Broker::start() else { return };
    if !have_tool("curl") {
        return;
    }
    broker.create_topic("detunnel", PARTITIONS as u32);
    let extra = "queue_size = 1500\nsamples_per_message = 10\n";
    let server = Serve::start("kafka-outage", &config(&broker, "outage", extra), &["--workers", "1"], None);
    let agent = [198, 51, 100, 7];
    let mut sent = Vec::new();
    // Before: 1,000 samples delivered and read.
    server.send(&stream(agent, 1, 200, &mut sent));
    wait_delivered(&server, 1000);
    let before = read_topic(&broker.address(), "detunnel", PARTITIONS, Duration::from_secs(10), |v| {
        samples_in(v) >= 1000
    });
    assert_eq!(samples_in(&before), 1000);
    // During: the broker is gone; 3,000 samples arrive.
    broker.stop();
    let deadline = Instant::now() + Duration::from_secs(20);
    server.send(&stream(agent, 201, 600, &mut sent));
    while metric(&server, "detunnel_kafka_errors_total{reason=\"unreachable\"} ") == 0 {
        assert!(Instant::now() < deadline, "no error counted: {}", server.request("GET", "/metrics", None).1);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.request("GET", "/healthz", None).0, 200);
    let agents = server.json("/agents/json");
    assert!(agents[std::net::Ipv4Addr::from(agent).to_string()].is_object(), "{agents}");
    let queued = metric(&server, "detunnel_kafka_queued ");
    assert!(queued <= 1500, "queued {queued} past queue_size");
    let dropped = metric(&server, "detunnel_kafka_dropped_total{reason=\"queue_full\"} ");
    assert!(dropped >= 1500, "dropped {dropped}: {}", server.request("GET", "/metrics", None).1);
    // After: the broker is back (empty: its storage was memory), then 1,000 more samples.
    let broker = Broker::start_on(broker.port);
    broker.create_topic("detunnel", PARTITIONS as u32);
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&server, "detunnel_kafka_queued ") > 0 {
        assert!(
            Instant::now() < deadline,
            "queue not delivered: {}",
            server.request("GET", "/metrics", None).1
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server.send(&stream(agent, 801, 200, &mut sent));
    let counted = |s: &Serve| {
        metric(s, "detunnel_kafka_delivered_total ")
            + metric(s, "detunnel_kafka_dropped_total{reason=\"queue_full\"} ")
            + metric(s, "detunnel_kafka_dropped_total{reason=\"rejected\"} ")
    };
    while counted(&server) < sent.len() as u64 || metric(&server, "detunnel_kafka_queued ") > 0 {
        assert!(Instant::now() < deadline, "not settled: {}", server.request("GET", "/metrics", None).1);
        std::thread::sleep(Duration::from_millis(100));
    }
    let delivered = metric(&server, "detunnel_kafka_delivered_total ");
    let dropped = sent.len() as u64 - delivered;
    let after = read_topic(&broker.address(), "detunnel", PARTITIONS, Duration::from_secs(10), |v| {
        (1000 + samples_in(v)) as u64 >= delivered
    });
    assert_eq!(
        (samples_in(&before) + samples_in(&after)) as u64
            + metric(&server, "detunnel_kafka_dropped_total{reason=\"queue_full\"} "),
        sent.len() as u64,
        "reached Kafka ({} + {}) + dropped ({dropped}) = sampled",
        samples_in(&before),
        samples_in(&after)
    );
    // The queue's 1,500 samples came through after the outage, then the last 1,000.
    assert!(samples_in(&after) >= 2500, "{}", samples_in(&after));
    let log = server.stop();
    let complaints = log.lines().filter(|l| l.contains("kafka: cannot")).count();
    assert!((1..=4).contains(&complaints), "logged {complaints} times (once a minute per kind):\n{log}");
}

/// A pipeline's `export` sink: each frame the broker takes is a record on the topic (JSON
/// here), with the pipeline's name, the tunnel and the tenant inside it.
#[test]
fn a_pipelines_frames_are_exported_as_json_records() {
    let Some(broker) = Broker::start() else { return };
    if !have_tool("curl") {
        return;
    }
    broker.create_topic("detunnel", 1);
    let port = common::serve::free_port(true);
    let extra = format!(
        "format = \"json\"\n[pipelines.mirror]\nsources = [\"vxlan://127.0.0.1:{port}\"]\nsinks = [\"export\"]\n"
    );
    let server =
        Serve::start("kafka-pipeline", &config(&broker, "broker-1", &extra), &["--workers", "1"], None);
    let inner = |src: [u8; 4], dst: [u8; 4]| {
        craft::build(&[
            craft::Header::eth(),
            craft::Header::ipv4(src, dst),
            craft::Header::Tcp { src: 40000, dst: 443, flags: 0x18 },
            craft::Header::Payload(vec![0; 100]),
        ])
    };
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..40 {
        let (vni, frame) = if i % 4 == 3 {
            (200, inner([10, 2, 0, 1], [10, 2, 0, 2]))
        } else {
            (100, inner([10, 1, 0, 1], [10, 1, 0, 2]))
        };
        let mut payload = craft::build(&[craft::Header::Vxlan { vni }]);
        payload.extend_from_slice(&frame);
        s.send_to(&payload, ("127.0.0.1", port)).unwrap();
    }
    wait_delivered(&server, 40);
    let values = read_topic(&broker.address(), "detunnel", 1, Duration::from_secs(10), |v| {
        v.iter().map(|m| m.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count()).sum::<usize>() >= 40
    });
    let records: Vec<Value> = values
        .iter()
        .flat_map(|m| {
            m.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap())
        })
        .collect();
    assert_eq!(records.len(), 40);
    let mut seen: BTreeMap<(u64, String, String), usize> = BTreeMap::new();
    for r in &records {
        assert_eq!(
            (r["type"].as_str(), r["pipeline"].as_str(), r["instance"].as_str()),
            (Some("DETUNNEL_PIPELINE"), Some("mirror"), Some("broker-1")),
            "{r}"
        );
        assert_eq!(
            (r["tunnel"].as_str(), r["sampling_rate"].as_u64(), r["tunnels"].as_u64()),
            (Some("vxlan"), Some(1), Some(1)),
            "{r}"
        );
        assert_eq!(r["stack"], "eth.ip.udp.vxlan.eth.ip.tcp", "{r}");
        assert_eq!((r["inner_proto"].as_u64(), r["inner_dst_port"].as_u64()), (Some(6), Some(443)), "{r}");
        assert_eq!(r["depths"][1]["id_name"], "vni", "{r}");
        assert_eq!(r["depths"][1]["id"], r["tunnel_id"], "{r}");
        // The frame as received: Ethernet, IPv4 and UDP before the VXLAN datagram.
        assert_eq!(r["bytes"].as_u64(), Some(14 + 20 + 8 + 8 + 14 + 20 + 20 + 100), "{r}");
        let key = (
            r["tunnel_id"].as_u64().unwrap(),
            r["inner_src_addr"].as_str().unwrap().to_string(),
            r["inner_dst_addr"].as_str().unwrap().to_string(),
        );
        *seen.entry(key).or_default() += 1;
    }
    let want: BTreeMap<(u64, String, String), usize> = [
        ((100, "10.1.0.1".to_string(), "10.1.0.2".to_string()), 30),
        ((200, "10.2.0.1".to_string(), "10.2.0.2".to_string()), 10),
    ]
    .into();
    assert_eq!(seen, want);
    let sequences: std::collections::BTreeSet<u64> =
        records.iter().map(|r| r["sequence"].as_u64().unwrap()).collect();
    assert_eq!(sequences.len(), 40, "one sequence number per record");
    let summary = server.json("/pipelines/json");
    assert_eq!(summary["mirror"]["export"]["counted"], 40, "{summary}");
    server.stop();
}

/// Stopping the collector delivers what it holds: the messages being filled and the queue.
#[test]
fn samples_in_hand_at_shutdown_are_delivered() {
    let Some(broker) = Broker::start() else { return };
    if !have_tool("curl") {
        return;
    }
    broker.create_topic("detunnel", 2);
    // Messages that fill slowly: nothing would leave before a second has passed.
    let config = config(&broker, "stopping", "samples_per_message = 1000\n")
        .replace("linger_ms = 20", "linger_ms = 1000");
    let server = Serve::start("kafka-shutdown", &config, &["--workers", "2"], None);
    let mut sent = Vec::new();
    server.send(&stream([198, 51, 100, 9], 1, 100, &mut sent));
    // Counted (the datagrams were read) before the stop, not delivered yet.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.json("/analyzer/json")["sFlowFlowSamples"].as_u64() < Some(sent.len() as u64) {
        assert!(Instant::now() < deadline, "samples not counted");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.stop();
    assert!(log.contains("kafka: 500 samples delivered, 0 dropped"), "{log}");
    let values =
        read_topic(&broker.address(), "detunnel", 2, Duration::from_secs(10), |v| samples_in(v) >= 500);
    assert_eq!(samples_in(&values), 500);
}

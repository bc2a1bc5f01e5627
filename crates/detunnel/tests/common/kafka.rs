//! A Kafka-protocol broker for the export tests — tansu, from PyPI (`../shared/EXPORT.md`),
//! in memory on a free port — and a consumer that reads a topic back by explicit partitions
//! with rskafka (never trusting the broker's end offsets, which tansu reports wrong).
use super::{have_tool, spawn_group, Running};
use rskafka::client::partition::UnknownTopicHandling;
use rskafka::client::ClientBuilder;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running tansu broker.
pub struct Broker {
    process: Running,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Broker {
    /// Starts tansu on a free port, or `None` (a skip notice; a failure in CI) without it.
    pub fn start() -> Option<Broker> {
        if !have_tool("tansu") {
            return None;
        }
        Some(Broker::start_on(super::serve::free_port(false)))
    }

    /// Starts tansu on `port` (empty: memory storage) and waits until it answers.
    pub fn start_on(port: u16) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = spawn_group(
            Command::new("tansu")
                .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
                .args(["--storage-engine", "memory://tansu/"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        // Stopped as a crash stops it: SIGTERM lets tansu serve open connections for a while.
        let b = Broker { process: Running(Some(child), "-KILL"), port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        b
    }

    /// `HOST:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates topic `name` with `partitions` partitions.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let out = Command::new("tansu")
            .args(["topic", "create", "--broker", &format!("tcp://{}", self.address())])
            .args(["--partitions", &partitions.to_string(), name])
            .output()
            .unwrap();
        assert!(out.status.success(), "tansu topic create: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Stops the broker (what it held is gone: its storage is memory).
    pub fn stop(&mut self) {
        if self.process.0.is_some() {
            self.process.stop();
        }
    }
}

/// The values of every record of `topic` (all `partitions`), reading until `enough` says the
/// values so far are all that is expected and then once more (to see any extra), or until
/// `timeout`.
pub fn read_topic(
    broker: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
    enough: impl Fn(&[Vec<u8>]) -> bool,
) -> Vec<Vec<u8>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = ClientBuilder::new(vec![broker.to_string()]).build().await.unwrap();
        let mut clients = Vec::new();
        for p in 0..partitions {
            clients.push(client.partition_client(topic, p, UnknownTopicHandling::Retry).await.unwrap());
        }
        let mut offsets = vec![0i64; partitions as usize];
        let mut values = Vec::new();
        let deadline = Instant::now() + timeout;
        let mut last_round = false;
        loop {
            let mut got = 0;
            for (p, c) in clients.iter().enumerate() {
                let (records, _) = c.fetch_records(offsets[p], 1..4_000_000, 100).await.unwrap();
                for r in records {
                    offsets[p] = r.offset + 1;
                    values.push(r.record.value.unwrap_or_default());
                    got += 1;
                }
            }
            if got > 0 {
                continue;
            }
            if last_round || Instant::now() >= deadline {
                return values;
            }
            if enough(&values) {
                last_round = true;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    })
}

/// The length-delimited messages in `value`, each as its bytes (a value that does not split
/// into whole messages fails the test).
pub fn delimited(value: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < value.len() {
        let (mut len, mut shift) = (0usize, 0);
        loop {
            let b = value[at];
            at += 1;
            len |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b < 0x80 {
                break;
            }
        }
        assert!(at + len <= value.len(), "a record runs past its Kafka message");
        out.push(&value[at..at + len]);
        at += len;
    }
    out
}

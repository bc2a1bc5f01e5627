//! Kafka export of every sample (`[export.kafka]`): workers write each sample's record
//! (`sample_record`) into a message of its agent's samples and hand full messages to a bounded
//! queue — when the queue holds `queue_size` samples, further messages are dropped and counted,
//! never buffered and never waited for. A producer thread of its own takes the queue in order,
//! gathers messages for `linger`, and produces them with rskafka, each on the partition its key
//! hashes to (Kafka's murmur2, as Java producers place keys: one agent's samples stay in order
//! on one partition). A broker that is down or slow, a missing topic or refused credentials
//! are counted, logged once a minute, and retried with backoff while the queue fills; once the
//! broker is back, what is queued is delivered. Every 10 s the counters go to a second topic.
use crate::sample_record::{self, Format, Origin};
use rskafka::client::error::{Error as KafkaError, ProtocolError};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{ClientBuilder, Credentials, SaslConfig};
use rskafka::record::Record;
use rskafka::BackoffConfig;
use serde::Deserialize;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Largest `samples_per_message`.
pub const MAX_SAMPLES_PER_MESSAGE: usize = 1000;
/// Most bytes produced to one partition in one request (under Kafka's default limit of a
/// record batch, 1 MiB).
const PARTITION_BYTES: usize = 900 << 10;
/// How often the counters are sent to the counters topic.
const COUNTERS_EVERY: Duration = Duration::from_secs(10);
/// How often a kind of error is logged at most.
const LOG_EVERY: Duration = Duration::from_secs(60);
/// Backoff between attempts after an error: first and longest.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));
/// How long a connection or a produce request may take before it counts as failed (a broker
/// that is gone can leave a request unanswered).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long, once the daemon stops, what is queued may take to be delivered.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// `[export.kafka]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// Bootstrap brokers, `HOST:PORT`.
    pub brokers: Vec<String>,
    /// The topic the samples go to.
    pub topic: String,
    /// The topic the counters go to every 10 s ("" for none).
    #[serde(default = "default_counters_topic")]
    pub counters_topic: String,
    /// `protobuf` (length-delimited `detunnel.v1.Sample`) or `json` (a line per sample).
    #[serde(default)]
    pub format: Format,
    /// What picks a message's partition: `agent` (the default) or `none` (round robin).
    #[serde(default)]
    pub key: KeyName,
    /// `none`, `gzip` or `snappy`.
    #[serde(default)]
    pub compression: CompressionName,
    /// How long the producer gathers messages before producing them, ms.
    #[serde(default = "default_linger")]
    pub linger_ms: u64,
    /// Most samples waiting for the brokers; past it samples are dropped and counted.
    #[serde(default = "default_queue")]
    pub queue_size: usize,
    /// Most samples in one Kafka message (1 for consumers that read one record per message).
    #[serde(default = "default_per_message")]
    pub samples_per_message: usize,
    /// SASL authentication, when the brokers ask for it.
    pub sasl: Option<Sasl>,
}

/// `[export.kafka.sasl]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sasl {
    /// `plain`, `scram-sha-256` or `scram-sha-512`.
    pub mechanism: SaslMechanism,
    /// The user.
    pub username: String,
    /// The password.
    pub password: String,
}

/// `mechanism`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum SaslMechanism {
    /// PLAIN (RFC 4616): the password in the clear; use it over a trusted network only.
    #[serde(rename = "plain")]
    Plain,
    /// SCRAM-SHA-256 (RFC 7677).
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    /// SCRAM-SHA-512.
    #[serde(rename = "scram-sha-512")]
    ScramSha512,
}

fn default_counters_topic() -> String {
    "detunnel-counters".into()
}
fn default_linger() -> u64 {
    100
}
fn default_queue() -> usize {
    1_000_000
}
fn default_per_message() -> usize {
    100
}

/// `key`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KeyName {
    /// The agent's address.
    #[default]
    Agent,
    /// No key: messages go round the partitions.
    None,
}

/// `compression`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CompressionName {
    /// None.
    #[default]
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
}

impl KafkaSettings {
    /// Checks the settings; the error names the one that is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.brokers.is_empty() {
            return Err("export.kafka.brokers: name at least one broker, HOST:PORT".into());
        }
        if self.topic.is_empty() {
            return Err("export.kafka.topic: name the topic the samples go to".into());
        }
        if !(1..=MAX_SAMPLES_PER_MESSAGE).contains(&self.samples_per_message) {
            return Err(format!("export.kafka.samples_per_message: 1 to {MAX_SAMPLES_PER_MESSAGE}"));
        }
        if self.queue_size == 0 {
            return Err("export.kafka.queue_size: at least 1".into());
        }
        Ok(())
    }
}

/// What the export did; every drop and error by its reason.
#[derive(Debug, Default)]
pub struct KafkaCounters {
    /// Samples written into messages handed to the queue.
    pub samples: AtomicU64,
    /// Samples the brokers acknowledged.
    pub delivered: AtomicU64,
    /// Messages and bytes the brokers acknowledged.
    pub messages: AtomicU64,
    /// Bytes of the acknowledged messages.
    pub bytes: AtomicU64,
    /// Samples dropped because the queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Samples the brokers refused for good (a message too large, say).
    pub dropped_rejected: AtomicU64,
    /// Samples still queued when the daemon stopped and the grace period ended.
    pub dropped_shutdown: AtomicU64,
    /// Attempts that failed because no broker answered (or answered late).
    pub errors_unreachable: AtomicU64,
    /// Attempts that failed because the topic does not exist.
    pub errors_topic: AtomicU64,
    /// Attempts that failed on authentication or authorisation.
    pub errors_auth: AtomicU64,
    /// Counter records that could not be sent.
    pub errors_counters: AtomicU64,
    /// Samples waiting in the queue.
    pub queued: AtomicU64,
}

/// A snapshot of [`KafkaCounters`], for `/metrics` and the counters topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct KafkaCounts {
    /// Samples written into messages.
    pub samples: u64,
    /// Samples acknowledged.
    pub delivered: u64,
    /// Messages acknowledged.
    pub messages: u64,
    /// Bytes acknowledged.
    pub bytes: u64,
    /// Dropped: queue full.
    pub dropped_queue_full: u64,
    /// Dropped: refused by the brokers.
    pub dropped_rejected: u64,
    /// Dropped: still queued at shutdown.
    pub dropped_shutdown: u64,
    /// Errors: no broker.
    pub errors_unreachable: u64,
    /// Errors: no such topic.
    pub errors_topic: u64,
    /// Errors: authentication.
    pub errors_auth: u64,
    /// Errors: the counters topic.
    pub errors_counters: u64,
    /// Samples queued now.
    pub queued: u64,
}

impl KafkaCounters {
    /// A snapshot.
    pub fn counts(&self) -> KafkaCounts {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        KafkaCounts {
            samples: g(&self.samples),
            delivered: g(&self.delivered),
            messages: g(&self.messages),
            bytes: g(&self.bytes),
            dropped_queue_full: g(&self.dropped_queue_full),
            dropped_rejected: g(&self.dropped_rejected),
            dropped_shutdown: g(&self.dropped_shutdown),
            errors_unreachable: g(&self.errors_unreachable),
            errors_topic: g(&self.errors_topic),
            errors_auth: g(&self.errors_auth),
            errors_counters: g(&self.errors_counters),
            queued: g(&self.queued),
        }
    }
}

/// A Kafka message in the making or in the queue: records of one agent's samples.
struct Message {
    key: IpAddr,
    /// The writer's count of messages before it (places unkeyed messages round the partitions).
    serial: u64,
    samples: u64,
    data: Vec<u8>,
}

/// The export shared by the workers and the producer thread.
pub struct KafkaExport {
    settings: KafkaSettings,
    instance: String,
    sequence: AtomicU64,
    queue: mpsc::UnboundedSender<Message>,
    /// What was exported, dropped and refused.
    pub counters: KafkaCounters,
    stopping: AtomicBool,
    producer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl KafkaExport {
    /// Starts the producer thread of `settings`; `instance` names this collector in every
    /// record.
    pub fn start(settings: KafkaSettings, instance: String) -> std::io::Result<Arc<KafkaExport>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let export = Arc::new(KafkaExport {
            settings,
            instance,
            sequence: AtomicU64::new(0),
            queue: tx,
            counters: KafkaCounters::default(),
            stopping: AtomicBool::new(false),
            producer: Mutex::new(None),
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let handle = {
            let export = export.clone();
            std::thread::Builder::new()
                .name("kafka".into())
                .spawn(move || runtime.block_on(Producer::new(export, rx).run()))?
        };
        *crate::state::lock(&export.producer) = Some(handle);
        Ok(export)
    }

    /// Hands a full message to the producer, or drops it when the queue is full.
    fn enqueue(&self, m: Message) {
        let c = &self.counters;
        if c.queued.load(Ordering::Relaxed) + m.samples > self.settings.queue_size as u64 {
            c.dropped_queue_full.fetch_add(m.samples, Ordering::Relaxed);
            return;
        }
        c.queued.fetch_add(m.samples, Ordering::Relaxed);
        if let Err(e) = self.queue.send(m) {
            // The producer is gone (the daemon is stopping).
            c.queued.fetch_sub(e.0.samples, Ordering::Relaxed);
            c.dropped_shutdown.fetch_add(e.0.samples, Ordering::Relaxed);
        }
    }

    /// Stops the producer once what is queued is delivered or `SHUTDOWN_GRACE` has passed;
    /// what is left is counted as dropped at shutdown. Call after the workers' `flush`.
    pub fn finish(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        let handle = crate::state::lock(&self.producer).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// A worker's side of the export: the message being filled.
pub struct KafkaWriter {
    export: Arc<KafkaExport>,
    open: Option<Message>,
    messages: u64,
}

impl KafkaWriter {
    /// A writer into `export`.
    pub fn new(export: Arc<KafkaExport>) -> KafkaWriter {
        KafkaWriter { export, open: None, messages: 0 }
    }

    /// Writes the record of `decoded`, sampled at `origin`.
    pub fn sample(&mut self, decoded: &dissect::Decoded<'_>, origin: &Origin<'_>) {
        let per_message = self.export.settings.samples_per_message as u64;
        if self.open.as_ref().is_some_and(|m| m.key != origin.agent || m.samples >= per_message) {
            self.flush();
        }
        let x = &self.export;
        let serial = &mut self.messages;
        let m = self.open.get_or_insert_with(|| {
            *serial += 1;
            Message {
                key: origin.agent,
                serial: *serial,
                samples: 0,
                data: Vec::with_capacity(per_message as usize * 256),
            }
        });
        let sequence = x.sequence.fetch_add(1, Ordering::Relaxed);
        sample_record::write(&mut m.data, x.settings.format, decoded, origin, &x.instance, sequence);
        m.samples += 1;
        if m.samples >= per_message {
            self.flush();
        }
    }

    /// Hands the message being filled to the producer (call once a second and at the end).
    pub fn flush(&mut self) {
        if let Some(m) = self.open.take() {
            self.export.counters.samples.fetch_add(m.samples, Ordering::Relaxed);
            self.export.enqueue(m);
        }
    }
}

/// Kafka's partitioner hash (murmur2 with Kafka's seed), as Java producers place keys.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate().rev() {
            h ^= u32::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition, of `partitions`, of key `key`, as Java producers compute it.
pub fn partition_of(key: &[u8], partitions: usize) -> usize {
    (murmur2(key) & 0x7fff_ffff) as usize % partitions.max(1)
}

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Unreachable,
    Topic,
    Auth,
    /// The brokers refuse these records for good.
    Rejected,
}

fn classify(e: &KafkaError) -> Failure {
    if let KafkaError::ServerError { protocol_error, .. } = e {
        return match protocol_error {
            ProtocolError::UnknownTopicOrPartition => Failure::Topic,
            ProtocolError::SaslAuthenticationFailed
            | ProtocolError::TopicAuthorizationFailed
            | ProtocolError::ClusterAuthorizationFailed => Failure::Auth,
            ProtocolError::MessageTooLarge
            | ProtocolError::RecordListTooLarge
            | ProtocolError::InvalidRecord
            | ProtocolError::CorruptMessage => Failure::Rejected,
            _ => Failure::Unreachable,
        };
    }
    // Retries that ran out wrap the server's error.
    let text = e.to_string();
    if text.contains("UnknownTopicOrPartition") {
        Failure::Topic
    } else if text.contains("Authentication") || text.contains("Authorization") || text.contains("Sasl") {
        Failure::Auth
    } else {
        Failure::Unreachable
    }
}

/// The producer thread's state.
struct Producer {
    export: Arc<KafkaExport>,
    rx: mpsc::UnboundedReceiver<Message>,
    /// Messages taken from the queue and not yet acknowledged, oldest first.
    pending: Vec<Message>,
    /// When each kind of failure was last logged.
    logged: [Option<Instant>; 4],
    last_counters: Instant,
}

/// A connection: the samples topic's partitions and the counters topic's.
struct Connection {
    partitions: Vec<PartitionClient>,
    counters: Option<PartitionClient>,
}

impl Producer {
    fn new(export: Arc<KafkaExport>, rx: mpsc::UnboundedReceiver<Message>) -> Producer {
        Producer { export, rx, pending: Vec::new(), logged: [None; 4], last_counters: Instant::now() }
    }

    fn stopping(&self) -> bool {
        self.export.stopping.load(Ordering::Relaxed)
    }

    async fn run(mut self) {
        let mut backoff = BACKOFF.0;
        let mut deadline: Option<Instant> = None;
        loop {
            if self.stopping() && self.drained(&mut deadline) {
                break;
            }
            let connected = tokio::time::timeout(REQUEST_TIMEOUT, self.connect()).await;
            let connection =
                match connected.unwrap_or_else(|_| Err((Failure::Unreachable, "timed out".into()))) {
                    Ok(c) => c,
                    Err(f) => {
                        self.failed(f, "cannot connect");
                        self.sleep(&mut backoff).await;
                        continue;
                    }
                };
            backoff = BACKOFF.0;
            match self.produce_until_failure(&connection, &mut deadline).await {
                Ok(()) => break,
                Err(f) => {
                    self.failed(f, "cannot produce");
                    self.sleep(&mut backoff).await;
                }
            }
        }
        let left: u64 = self.pending.iter().map(|m| m.samples).sum();
        let c = &self.export.counters;
        c.queued.fetch_sub(left, Ordering::Relaxed);
        c.dropped_shutdown.fetch_add(left, Ordering::Relaxed);
        self.rx.close();
        while let Ok(m) = self.rx.try_recv() {
            c.queued.fetch_sub(m.samples, Ordering::Relaxed);
            c.dropped_shutdown.fetch_add(m.samples, Ordering::Relaxed);
        }
    }

    /// Once the daemon stops: takes what is left in the queue into `pending`, and says whether
    /// the producer is done — nothing pending, or the grace period (counted from the first
    /// call, kept in `deadline`) over.
    fn drained(&mut self, deadline: &mut Option<Instant>) -> bool {
        let d = *deadline.get_or_insert_with(|| Instant::now() + SHUTDOWN_GRACE);
        while let Ok(m) = self.rx.try_recv() {
            self.pending.push(m);
        }
        self.pending.is_empty() || Instant::now() >= d
    }

    /// Waits `backoff` (or less when stopping), doubling it for next time.
    async fn sleep(&self, backoff: &mut Duration) {
        let wait = if self.stopping() { BACKOFF.0 } else { *backoff };
        tokio::time::sleep(wait).await;
        *backoff = (*backoff * 2).min(BACKOFF.1);
    }

    /// Counts a failure and logs it, once a minute per kind.
    fn failed(&mut self, f: (Failure, String), doing: &str) {
        let c = &self.export.counters;
        match f.0 {
            Failure::Unreachable => &c.errors_unreachable,
            Failure::Topic => &c.errors_topic,
            Failure::Auth => &c.errors_auth,
            Failure::Rejected => &c.dropped_rejected,
        }
        .fetch_add(1, Ordering::Relaxed);
        let last = &mut self.logged[f.0 as usize];
        if last.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            *last = Some(Instant::now());
            eprintln!(
                "detunnel serve: kafka: {doing} (retrying; {} samples queued): {}",
                c.queued.load(Ordering::Relaxed),
                f.1
            );
        }
    }

    async fn connect(&self) -> Result<Connection, (Failure, String)> {
        let s = &self.export.settings;
        let fail = |e: KafkaError| (classify(&e), e.to_string());
        // rskafka retries inside; bound that so our own backoff, counting and logging run.
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            base: 2.0,
            deadline: Some(Duration::from_secs(2)),
        };
        let mut builder = ClientBuilder::new(s.brokers.clone()).client_id("detunnel").backoff_config(backoff);
        if let Some(sasl) = &s.sasl {
            let c = Credentials::new(sasl.username.clone(), sasl.password.clone());
            builder = builder.sasl_config(match sasl.mechanism {
                SaslMechanism::Plain => SaslConfig::Plain(c),
                SaslMechanism::ScramSha256 => SaslConfig::ScramSha256(c),
                SaslMechanism::ScramSha512 => SaslConfig::ScramSha512(c),
            });
        }
        let client = builder.build().await.map_err(fail)?;
        let topics = client.list_topics().await.map_err(fail)?;
        let count = |name: &str| topics.iter().find(|t| t.name == name).map_or(0, |t| t.partitions.len());
        let n = count(&s.topic);
        if n == 0 {
            return Err((Failure::Topic, format!("no topic `{}` on the brokers", s.topic)));
        }
        let mut partitions = Vec::with_capacity(n);
        for p in 0..n as i32 {
            partitions.push(
                client
                    .partition_client(s.topic.clone(), p, UnknownTopicHandling::Error)
                    .await
                    .map_err(fail)?,
            );
        }
        let counters = match count(&s.counters_topic) {
            0 => None,
            n => {
                let p = partition_of(self.export.instance.as_bytes(), n) as i32;
                client.partition_client(s.counters_topic.clone(), p, UnknownTopicHandling::Error).await.ok()
            }
        };
        Ok(Connection { partitions, counters })
    }

    /// Takes messages from the queue and produces them until a failure (returned) or the end
    /// (the daemon stopping and everything delivered, or the grace period over).
    async fn produce_until_failure(
        &mut self,
        conn: &Connection,
        deadline: &mut Option<Instant>,
    ) -> Result<(), (Failure, String)> {
        let linger = Duration::from_millis(self.export.settings.linger_ms);
        // The counters go out on every connection (an instance announces itself), every 10 s,
        // and at the end.
        self.last_counters = Instant::now();
        self.send_counters(conn).await;
        loop {
            if self.last_counters.elapsed() >= COUNTERS_EVERY {
                self.last_counters = Instant::now();
                self.send_counters(conn).await;
            }
            if self.stopping() {
                if self.drained(deadline) {
                    self.send_counters(conn).await;
                    return Ok(());
                }
            } else if self.pending.is_empty() {
                match tokio::time::timeout(Duration::from_millis(200), self.rx.recv()).await {
                    Ok(Some(m)) => self.pending.push(m),
                    Ok(None) => return Ok(()),
                    Err(_) => continue,
                }
                // Gather for `linger`, or until a request's worth for every partition.
                let until = tokio::time::Instant::now() + linger;
                let mut bytes = self.pending.iter().map(|m| m.data.len()).sum::<usize>();
                while bytes < PARTITION_BYTES * conn.partitions.len() {
                    match tokio::time::timeout_at(until, self.rx.recv()).await {
                        Ok(Some(m)) => {
                            bytes += m.data.len();
                            self.pending.push(m);
                        }
                        _ => break,
                    }
                }
            }
            self.produce_round(conn).await?;
        }
    }

    /// Produces the pending messages, in order, up to a request's worth for each partition,
    /// all partitions at once; what a partition refused stays pending (in order).
    async fn produce_round(&mut self, conn: &Connection) -> Result<(), (Failure, String)> {
        let n = conn.partitions.len();
        let now = timestamp();
        let mut by_partition: Vec<(Vec<Record>, Vec<usize>)> =
            (0..n).map(|_| (Vec::new(), Vec::new())).collect();
        let mut bytes = vec![0usize; n];
        let mut full = vec![false; n];
        for (i, m) in self.pending.iter().enumerate() {
            let key = match self.export.settings.key {
                KeyName::Agent => Some(key_bytes(m.key)),
                KeyName::None => None,
            };
            let p = key.as_deref().map_or(m.serial as usize % n, |k| partition_of(k, n));
            // A partition's later messages wait for the next round once one did not fit.
            if full[p] || (bytes[p] > 0 && bytes[p] + m.data.len() > PARTITION_BYTES) {
                full[p] = true;
                continue;
            }
            bytes[p] += m.data.len();
            let record = Record {
                key,
                // A copy: the message stays pending until a broker acknowledges it.
                value: Some(m.data.clone()),
                headers: Default::default(),
                timestamp: now,
            };
            by_partition[p].0.push(record);
            by_partition[p].1.push(i);
        }
        let compression = match self.export.settings.compression {
            CompressionName::None => Compression::NoCompression,
            CompressionName::Gzip => Compression::Gzip,
            CompressionName::Snappy => Compression::Snappy,
        };
        let requests = by_partition.into_iter().enumerate().filter(|(_, (r, _))| !r.is_empty()).map(
            |(p, (records, which))| {
                let client = &conn.partitions[p];
                async move {
                    let result =
                        tokio::time::timeout(REQUEST_TIMEOUT, client.produce(records, compression)).await;
                    (which, result.map_err(|_| None).and_then(|r| r.map_err(Some)))
                }
            },
        );
        let results = futures::future::join_all(requests).await;
        let mut failure = None;
        let mut done = vec![false; self.pending.len()];
        let c = &self.export.counters;
        for (which, result) in results {
            match result {
                Ok(_) => {
                    for &i in &which {
                        done[i] = true;
                        let m = &self.pending[i];
                        c.delivered.fetch_add(m.samples, Ordering::Relaxed);
                        c.messages.fetch_add(1, Ordering::Relaxed);
                        c.bytes.fetch_add(m.data.len() as u64, Ordering::Relaxed);
                    }
                }
                Err(None) => failure = Some((Failure::Unreachable, "no answer in time".into())),
                Err(Some(e)) => match classify(&e) {
                    Failure::Rejected => {
                        for &i in &which {
                            done[i] = true;
                            c.dropped_rejected.fetch_add(self.pending[i].samples, Ordering::Relaxed);
                        }
                    }
                    // Left pending, in order, for the next attempt.
                    f => failure = Some((f, e.to_string())),
                },
            }
        }
        let mut i = 0;
        self.pending.retain(|m| {
            let keep = !done[i];
            if !keep {
                c.queued.fetch_sub(m.samples, Ordering::Relaxed);
            }
            i += 1;
            keep
        });
        failure.map_or(Ok(()), Err)
    }

    /// Sends the counters, as one JSON record, to the counters topic (when it exists).
    async fn send_counters(&self, conn: &Connection) {
        let Some(client) = &conn.counters else { return };
        let counts = self.export.counters.counts();
        let value = serde_json::json!({
            "instance": self.export.instance,
            "time_ms": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
            "counters": counts,
        });
        let record = Record {
            key: Some(self.export.instance.as_bytes().to_vec()),
            value: Some(value.to_string().into_bytes()),
            headers: Default::default(),
            timestamp: timestamp(),
        };
        let sent =
            tokio::time::timeout(REQUEST_TIMEOUT, client.produce(vec![record], Compression::NoCompression));
        if !matches!(sent.await, Ok(Ok(_))) {
            self.export.counters.errors_counters.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Now, as a record's timestamp.
fn timestamp() -> chrono::DateTime<chrono::Utc> {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The key of an agent: its address's bytes.
fn key_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_as_kafkas_java_client_hashes_them() {
        // Apache Kafka's own test vectors for its murmur2 (UtilsTest.testMurmur2).
        for (key, want) in [
            (&b"21"[..], -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            (b"abc", 479_470_107),
        ] {
            assert_eq!(murmur2(key), want, "{}", String::from_utf8_lossy(key));
        }
        assert!((0..1000u32).all(|i| partition_of(&i.to_be_bytes(), 7) < 7));
    }

    #[test]
    fn settings_that_cannot_work_are_named() {
        let toml = |s: &str| -> KafkaSettings { serde_json::from_str(s).unwrap() };
        let ok = toml(r#"{"brokers":["127.0.0.1:9092"],"topic":"t"}"#);
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(
            (ok.samples_per_message, ok.queue_size, ok.counters_topic.as_str()),
            (100, 1_000_000, "detunnel-counters")
        );
        let e = toml(r#"{"brokers":[],"topic":"t"}"#).check().unwrap_err();
        assert!(e.contains("export.kafka.brokers"), "{e}");
        let e = toml(r#"{"brokers":["b:1"],"topic":"t","samples_per_message":0}"#).check().unwrap_err();
        assert!(e.contains("samples_per_message"), "{e}");
        let sasl = toml(
            r#"{"brokers":["b:1"],"topic":"t","sasl":{"mechanism":"scram-sha-512","username":"u","password":"p"}}"#,
        );
        assert_eq!(sasl.sasl.map(|s| s.mechanism), Some(SaslMechanism::ScramSha512));
        let bad = serde_json::from_str::<KafkaSettings>(
            r#"{"brokers":["b:1"],"topic":"t","sasl":{"mechanism":"gssapi","username":"u","password":"p"}}"#,
        );
        assert!(bad.unwrap_err().to_string().contains("unknown variant `gssapi`"));
    }
}

//! `detunnel serve`: receiving threads (one `SO_REUSEPORT` socket per worker and address),
//! a housekeeping thread (flow log, thresholds, expiry, once a second), an optional capture
//! reader, and the REST API on tokio. SIGINT and SIGTERM stop it cleanly.
use crate::cli::{DecoderArgs, ServeArgs};
use crate::serve_config::Config;
use anyhow::{Context as _, Result};
use capture::FileReader;
use server::collector::WorkerLimits;
use server::state::lock;
use server::{ServerOptions, Shared};
use std::net::UdpSocket;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a thread looks up from its work to see whether to stop.
const POLL: Duration = Duration::from_millis(100);
/// How often the flow log, thresholds and expiry are brought up to date.
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// How long answers in progress may take to finish once the daemon is stopping.
const GRACE: Duration = Duration::from_millis(250);

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(args: &ServeArgs) -> Result<ExitCode> {
    let config = match &args.config {
        Some(path) => Config::read(path)?,
        None => Config::builtin(),
    };
    run_with(config, args)
}

/// Runs the daemon with `config` (the file `args` names, or one built in code), the flags of
/// `args` replacing its settings, until SIGINT or SIGTERM.
pub fn run_with(config: Config, args: &ServeArgs) -> Result<ExitCode> {
    let decoder = config
        .decoder
        .as_ref()
        .map_or(Ok(DecoderArgs { max_tunnels: 8, ..Default::default() }), |d| d.args())?;
    let listen = if args.sflow.is_empty() { config.sflow.listen.clone() } else { args.sflow.clone() };
    let http = args.http.unwrap_or(config.http.listen);
    let workers = match args.workers.unwrap_or(config.sflow.workers) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let l = &config.limits;
    let limits = WorkerLimits {
        flows: flows::Limits { max_entries: l.flow_entries, ..flows::Limits::default() },
        max_agents: l.agents,
        max_sources: l.data_sources,
    };
    let options = ServerOptions {
        readonly: config.http.readonly,
        max_flows: l.flows,
        max_thresholds: l.thresholds,
        max_events: l.events,
        max_flow_records: l.flow_records,
        max_body: config.http.max_body,
        max_definition_memory: l.definition_memory.saturating_mul(1 << 20),
        ..ServerOptions::default()
    };
    let connection_limits = config.http.connection_limits()?;
    let access = config.http.access(http);
    if let Some(w) = access.warning() {
        eprintln!("detunnel serve: warning: {w}");
    }
    let mut shared = Shared::new(workers, &decoder.config(), limits, config.declared(), options)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.config.as_deref().unwrap_or("built-in configuration")))?
        .with_access(access);
    if let Some(ipfix) = config.export.ipfix.as_ref().filter(|i| !i.collectors.is_empty()) {
        shared = shared.with_ipfix(&ipfix.collectors).context("cannot export IPFIX")?;
        let list: Vec<String> = ipfix.collectors.iter().map(ToString::to_string).collect();
        eprintln!("detunnel serve: every sample exported as IPFIX to {}", list.join(", "));
    }
    if let Some(kafka) = &config.export.kafka {
        kafka
            .check()
            .map_err(|e| anyhow::anyhow!("{}: {e}", args.config.as_deref().unwrap_or("configuration")))?;
        let instance = match &config.export.instance {
            Some(i) => i.clone(),
            None => default_instance(listen.first().map_or(6343, |a| a.port())),
        };
        let export = server::kafka::KafkaExport::start(kafka.clone(), instance.clone())
            .context("cannot start the Kafka export")?;
        shared = shared.with_kafka(export);
        eprintln!(
            "detunnel serve: every sample exported to Kafka topic {} on {} as instance {instance}",
            kafka.topic,
            kafka.brokers.join(", ")
        );
    }
    let shared = Arc::new(shared);
    quiet_panics();
    // The API's connection cap needs room below the limit of open files.
    capture::process::raise_open_files();
    let stop = Arc::new(AtomicBool::new(false));
    // Every socket, pipeline and file is opened before anything is announced or started:
    // one that cannot work stops the daemon at start, named, with nothing half-running.
    let mut sockets = Vec::new();
    for addr in &listen {
        capture::udp::check_not_taken(*addr).context("cannot receive sFlow")?;
        for i in 0..workers {
            let asked = config.sflow.receive_buffer;
            let socket = capture::udp::shared_socket(*addr, asked, POLL)
                .with_context(|| format!("cannot receive sFlow on {addr}"))?;
            let granted = capture::udp::receive_buffer(&socket);
            // The sockets of an address are alike: said once.
            if i == 0 {
                if let Some(w) = capture::udp::buffer_shortfall(&format!("sFlow on {addr}"), granted, asked) {
                    eprintln!("detunnel serve: warning: {w}");
                }
            }
            sockets.push((i, socket));
        }
    }
    let api = std::net::TcpListener::bind(http)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .with_context(|| format!("cannot serve the REST API on {http}"))?;
    let mut opened = Vec::new();
    for (name, config) in config.pipelines()? {
        let sources: Vec<String> = config.sources.iter().map(ToString::to_string).collect();
        let publish: pipeline::job::Publish = {
            let (shared, name) = (shared.clone(), name.clone());
            Box::new(move |s: &pipeline::Summary| {
                lock(&shared.pipelines).insert(name.clone(), s.clone());
            })
        };
        let flows = Box::new(server::engine_sink::EngineSink(shared.clone()));
        let export: Option<Box<dyn pipeline::FlowCounter>> = shared.exports().then(|| {
            Box::new(server::engine_sink::ExportSink { shared: shared.clone(), pipeline: name.clone() }) as _
        });
        let hooks = pipeline::Hooks { publish: Some(publish), flows: Some(flows), export, progress: false };
        let p = pipeline::Pipeline::open(&config, stop.clone(), hooks)
            .map_err(|e| anyhow::anyhow!("pipeline `{name}`: {e}"))?;
        opened.push((name, sources, p));
    }
    let reader = args.read.as_ref().map(|path| FileReader::open_until(path, stop.clone())).transpose()?;

    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for (i, socket) in sockets {
        let (shared, stop) = (shared.clone(), stop.clone());
        threads.push(std::thread::Builder::new().name(format!("sflow-{i}")).spawn(move || {
            receive(&shared, i, &socket, &stop);
        })?);
    }
    for addr in &listen {
        lock(&shared.udp_ports).push(addr.port());
        let counted = pipeline::summary::counted(workers as u64, "worker");
        eprintln!("detunnel serve: sFlow on udp {addr} ({counted})");
    }
    {
        let (shared, stop) = (shared.clone(), stop.clone());
        threads.push(std::thread::Builder::new().name("housekeeping".into()).spawn(move || {
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(POLL);
                if last.elapsed() >= HOUSEKEEPING {
                    last = Instant::now();
                    shared.housekeep();
                }
            }
        })?);
    }
    for (name, sources, p) in opened {
        eprintln!("detunnel serve: pipeline {name}: {}", sources.join(", "));
        threads.push(start_pipeline(&shared, name, p)?);
    }
    if let Some(reader) = reader {
        let (shared, stop, realtime) = (shared.clone(), stop.clone(), args.realtime);
        threads.push(std::thread::Builder::new().name("read".into()).spawn(move || {
            read_file(&shared, reader, realtime, &stop);
        })?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(api)
            .with_context(|| format!("cannot serve the REST API on {http}"))?;
        eprintln!("detunnel serve: REST API on http://{http}/");
        server::listener::serve(
            listener,
            server::router(shared.clone()),
            connection_limits,
            shared.connections.clone(),
            signalled(),
            GRACE,
        )
        .await;
        anyhow::Ok(())
    });
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    shared.finish_exports();
    if let Some(k) = shared.kafka() {
        let c = k.counters.counts();
        eprintln!(
            "detunnel serve: kafka: {} samples delivered, {} dropped (queue full {}, refused {}, at shutdown {})",
            c.delivered,
            c.dropped_queue_full + c.dropped_rejected + c.dropped_shutdown,
            c.dropped_queue_full,
            c.dropped_rejected,
            c.dropped_shutdown
        );
    }
    served?;
    let t = shared.totals();
    eprintln!(
        "detunnel serve: stopped; {} sFlow datagrams ({} unreadable, {} malformed), {} sampled headers, {} file frames",
        t.datagrams, t.unreadable, t.malformed, t.sampled_headers, t.file_frames
    );
    Ok(ExitCode::SUCCESS)
}

/// The export instance's default name: this host's name and the sFlow port.
fn default_instance(port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    format!("{}:{port}", if host.is_empty() { "detunnel" } else { host })
}

/// Runs an opened broker pipeline on its own thread until the daemon stops; a failure is
/// logged and shown in its summary.
fn start_pipeline(shared: &Arc<Shared>, name: String, p: pipeline::Pipeline) -> Result<JoinHandle<()>> {
    let shared = shared.clone();
    Ok(std::thread::Builder::new().name(format!("pipeline-{name}")).spawn(move || {
        if let Some(e) = p.run().error {
            eprintln!("detunnel serve: pipeline {name}: {e}");
            lock(&shared.pipelines).entry(name).or_default().error = Some(e.to_string());
        }
    })?)
}

/// A panic (a bug, never a client's doing) is logged in one line without a backtrace: the
/// API answers the request 500 and goes on.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        eprintln!("detunnel serve: internal error in {}: {info}", thread.name().unwrap_or("a thread"));
    }));
}

/// Resolves on SIGINT or SIGTERM.
async fn signalled() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        // Without signal handlers the default action (exit) still stops the process.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    eprintln!("detunnel serve: stopping");
}

/// Receives datagrams on `socket` into worker `index` until `stop`.
fn receive(shared: &Shared, index: usize, socket: &UdpSocket, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        match socket.recv(&mut buf) {
            Ok(n) => {
                shared.datagram(index, &buf[..n], shared.now());
            }
            Err(e) if capture::udp::read_ended_early(&e) => {}
            Err(e) => {
                eprintln!("detunnel serve: receive error: {e}");
                std::thread::sleep(POLL);
            }
        }
    }
}

/// Feeds a capture to worker 0, at file speed or at the pace of its timestamps.
fn read_file(shared: &Shared, mut reader: FileReader, realtime: bool, stop: &AtomicBool) {
    let started = Instant::now();
    let mut first_ts: Option<u64> = None;
    let result = reader.for_each(|f| {
        if stop.load(Ordering::Relaxed) {
            return ControlFlow::Break(());
        }
        if realtime {
            let first = *first_ts.get_or_insert(f.ts_nanos);
            let due = Duration::from_nanos(f.ts_nanos.saturating_sub(first));
            // Sleep in short steps so a stop is noticed.
            while let Some(wait) = due.checked_sub(started.elapsed()) {
                if stop.load(Ordering::Relaxed) {
                    return ControlFlow::Break(());
                }
                std::thread::sleep(wait.min(POLL));
            }
        }
        shared.frame(f.data, f.link, f.orig_len, f.interface, shared.now());
        ControlFlow::Continue(())
    });
    match result {
        Ok(()) => eprintln!("detunnel serve: read {} ({} records)", reader.name(), reader.records()),
        Err(e) => eprintln!("detunnel serve: {e}"),
    }
}

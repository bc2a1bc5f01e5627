//! `detunnel generate`: synthetic tunnelled traffic written with `wire`'s emit code.
use crate::cli::{FormatArg, GenerateArgs};
use anyhow::{bail, Context, Result};
use capture::FileWriter;
use craft::mix::{Generator, Mix};
use dissect::LinkType;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The mix these flags describe.
pub fn mix(args: &GenerateArgs) -> Mix {
    Mix {
        encaps: args.encap.0.clone(),
        nest: args.nest,
        flows: args.flows,
        streams: args.streams,
        min_size: args.size.0,
        max_size: args.size.1,
        seed: args.seed,
    }
}

/// Writes `args.count` frames to `args.write` (or sends them as sFlow).
pub fn run(args: &GenerateArgs) -> Result<ExitCode> {
    if let Some(to) = args.sflow {
        return send_sflow(args, to);
    }
    if let Some(iface) = &args.iface {
        return send_to_interface(args, iface);
    }
    if args.write == "-" && std::io::stdout().is_terminal() {
        bail!("refusing to write a capture to a terminal; use -w FILE or pipe it (| tcpdump -r -)");
    }
    let format = FormatArg::resolve(args.format, &args.write);
    let compression = args.compress.or_else(|| capture::Compression::from_path(&args.write));
    let mut out =
        FileWriter::create_compressed(&args.write, format, compression, LinkType::ETHERNET, "generated")
            .with_context(|| format!("cannot create {}", args.write))?;
    let mut generator = Generator::new(mix(args));
    let start = 1_700_000_000_000_000_000u64;
    let started = Instant::now();
    // A progress line on a terminal, twice a second.
    let mut progress = (!args.quiet && std::io::stderr().is_terminal()).then(Instant::now);
    let mut bytes = 0u64;
    for i in 0..args.count {
        let frame = generator.frame();
        out.write(0, start + i * 1_000, frame.len() as u32, &frame)
            .with_context(|| format!("writing {}", args.write))?;
        bytes += frame.len() as u64;
        if progress.is_some_and(|last| i % 1024 == 0 && last.elapsed() >= PROGRESS) {
            eprint!(
                "\r\x1b[2Kgenerate: {i} of {} frames ({:.0}%), {:.1} MB",
                args.count,
                i as f64 * 100.0 / args.count as f64,
                bytes as f64 / 1e6
            );
            progress = Some(Instant::now());
        }
    }
    out.finish().with_context(|| format!("writing {}", args.write))?;
    if progress.is_some() {
        eprint!("\r\x1b[2K");
    }
    if !args.quiet {
        eprintln!(
            "detunnel generate: {} frames ({:.1} MB) to {} in {:.2} s",
            args.count,
            bytes as f64 / 1e6,
            if args.write == "-" { "standard output" } else { &args.write },
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// How often the progress line is redrawn.
const PROGRESS: Duration = Duration::from_millis(500);

/// Distinct datagrams built per agent; sending cycles through them, numbering each anew.
const POOL: usize = 256;

/// Offset of the sequence number in a datagram with an IPv4 agent address.
const SEQUENCE_AT: usize = 16;

/// Sends `args.count` generated frames onto interface `iface` at `args.rate` frames a second
/// (0: as fast as it takes them); prints what it sent and what the interface refused.
fn send_to_interface(args: &GenerateArgs, iface: &str) -> Result<ExitCode> {
    let mut port =
        capture::tool_port::ToolPort::open(iface).with_context(|| format!("cannot send on {iface}"))?;
    port.wait_for_room();
    let mut generator = Generator::new(mix(args));
    // A pool of frames built once: sending, not building, is what is measured.
    let pool: Vec<Vec<u8>> = (0..POOL * 16).map(|_| generator.frame()).collect();
    let started = Instant::now();
    for n in 0..args.count {
        port.send(&[], &pool[n as usize % pool.len()]);
        if args.rate > 0 && n % 64 == 63 {
            let due = Duration::from_secs_f64((n + 1) as f64 / args.rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                port.flush();
                std::thread::sleep(wait);
            }
        }
    }
    port.finish();
    let secs = started.elapsed().as_secs_f64();
    let c = port.counts;
    if !args.quiet {
        eprintln!(
            "detunnel generate: {} frames ({:.1} MB) onto {iface} in {secs:.3} s: {:.0} frames/s; refused {}, too big {}",
            c.frames,
            c.bytes as f64 / 1e6,
            c.frames as f64 / secs,
            c.errors,
            c.too_big
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends `args.count` sFlow datagrams of `args.samples` sampled headers each to `to`, at
/// `args.rate` datagrams a second (0: as fast as possible); prints what it sent.
fn send_sflow(args: &GenerateArgs, to: std::net::SocketAddr) -> Result<ExitCode> {
    use craft::sflow::Agent;
    let mut generator = Generator::new(mix(args));
    let pools: Vec<Vec<Vec<u8>>> = (0..args.agents)
        .map(|a| {
            let agent = Agent { address: std::net::IpAddr::from([192, 0, 2, 1 + a as u8]), sub_agent: 0 };
            craft::sflow::stream(&mut generator, agent, POOL as u32, args.samples, args.sampling_rate)
        })
        .collect();
    let mut pools = pools;
    let socket = std::net::UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
    let started = Instant::now();
    let mut sequences = vec![0u32; pools.len()];
    for n in 0..args.count {
        let a = (n % pools.len() as u64) as usize;
        let d = &mut pools[a][(sequences[a] as usize) % POOL];
        sequences[a] += 1;
        d[SEQUENCE_AT..SEQUENCE_AT + 4].copy_from_slice(&sequences[a].to_be_bytes());
        socket.send_to(d, to).with_context(|| format!("sending to {to}"))?;
        if args.rate > 0 && n % 32 == 31 {
            let due = Duration::from_secs_f64((n + 1) as f64 / args.rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "sent {} sFlow datagrams ({} samples) to {to} in {secs:.3} s: {:.0} datagrams/s",
        args.count,
        args.count * u64::from(args.samples),
        args.count as f64 / secs
    );
    Ok(ExitCode::SUCCESS)
}

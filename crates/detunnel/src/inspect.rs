//! `detunnel inspect`: one line per frame with its stack and fields at every depth.
use crate::cli::InspectArgs;
use crate::render;
use anyhow::Result;
use capture::FileReader;
use dissect::{Dissector, Stack};
use std::collections::BTreeMap;
use std::io::{BufWriter, ErrorKind, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Runs the command; the summary goes to standard error.
pub fn run(args: &InspectArgs) -> Result<ExitCode> {
    let stop = crate::stop::on_signals()?;
    if args.read == "-" && std::io::IsTerminal::is_terminal(&std::io::stdin()) && !args.quiet {
        eprintln!("detunnel inspect: reading a capture from standard input (pipe one in: tcpdump -w - | detunnel inspect; or give -r FILE)");
    }
    let reader = match FileReader::open_until(&args.read, stop.clone()) {
        Ok(r) => r,
        Err(_) if stop.load(Ordering::Relaxed) => return Ok(ExitCode::from(130)),
        Err(e) => return Err(e.into()),
    };
    run_on(reader, args)
}

/// Prints the frames of `reader` until it ends or a signal stops it (exit status 130 then).
fn run_on(mut reader: FileReader, args: &InspectArgs) -> Result<ExitCode> {
    let mut filter = pipeline::filter::Filter::new(args.filter.as_deref(), &args.sets.context()?)?;
    let mut dissector = Dissector::new(args.decoder.config());
    let mut stack = Stack::new();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut line = String::with_capacity(1024);
    let mut stacks: BTreeMap<String, u64> = BTreeMap::new();
    let mut write_error = None;
    let mut unsupported = 0u64;
    let mut printed = 0u64;
    let read = reader.for_each(|frame| {
        if !frame.link.is_supported() {
            unsupported += 1;
        }
        let d = dissector.dissect(frame.data, frame.link, &mut stack);
        if !filter.accepts(&d, frame.orig_len) {
            return ControlFlow::Continue(());
        }
        line.clear();
        if args.json {
            render::json_line(&mut line, frame.record, frame.orig_len, &d);
        } else {
            render::text_line(&mut line, frame.record, frame.orig_len, &d);
        }
        line.push('\n');
        *stacks.entry(stack.tokens().to_string()).or_default() += 1;
        if let Err(e) = out.write_all(line.as_bytes()) {
            write_error = Some(e);
            return ControlFlow::Break(());
        }
        printed += 1;
        if args.count.is_some_and(|c| printed >= c) {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    let flushed = out.flush();
    if let Some(e) = write_error.or(flushed.err()) {
        if e.kind() != ErrorKind::BrokenPipe {
            return Err(anyhow::anyhow!("writing standard output: {e}"));
        }
    }
    if !args.quiet {
        summary(&dissector, &stacks, unsupported, reader.records());
    }
    read?;
    if reader.stopped() {
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(d: &Dissector, stacks: &BTreeMap<String, u64>, unsupported: u64, frames: u64) {
    let c = d.counters();
    let mut s = format!("{frames} frames, {} with anomalies\n", c.frames_with_anomalies);
    if unsupported > 0 {
        s.push_str(&format!("  {unsupported} frames of an unsupported link type\n"));
    }
    let mut by_count: Vec<_> = stacks.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    s.push_str("stacks:\n");
    for (k, n) in by_count.iter().take(20) {
        s.push_str(&format!("  {n:>10}  {}\n", if k.is_empty() { "(none)" } else { k }));
    }
    let anomalies: Vec<_> = c.anomaly_counts().collect();
    if !anomalies.is_empty() {
        s.push_str("anomalies:\n");
        for (name, n) in anomalies {
            s.push_str(&format!("  {n:>10}  {name}\n"));
        }
    }
    let guesses: Vec<_> = c.guess_counts().collect();
    if !guesses.is_empty() {
        s.push_str("heuristic guesses:\n");
        for (name, n) in guesses {
            s.push_str(&format!("  {n:>10}  {name}\n"));
        }
    }
    eprint!("{s}");
}

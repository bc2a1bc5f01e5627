//! `detunnel flows`: exact flow totals over a capture, largest first, with the flow-table
//! code the server uses.
use crate::cli::FlowsArgs;
use anyhow::Result;
use capture::FileReader;
use dissect::{Dissector, Proto, Stack};
use flows::Counter;
use pipeline::sflow::{Sampled, SflowReader};
use query::{Definition, Input};
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Runs the command.
pub fn run(args: &FlowsArgs) -> Result<ExitCode> {
    let ctx = args.sets.context()?;
    let def = Definition {
        keys: args.keys.clone(),
        value: args.value.clone(),
        filter: args.filter.clone(),
        fs: args.fs.clone(),
        ..Definition::default()
    };
    let compiled = def.compile(&ctx)?;
    let stop = crate::stop::on_signals()?;
    let mut reader = match FileReader::open_until(&args.read, stop.clone()) {
        Ok(r) => r,
        Err(_) if stop.load(Ordering::Relaxed) => return Ok(ExitCode::from(130)),
        Err(e) => return Err(e.into()),
    };
    let mut counter = Counter::new(compiled, ctx, args.max_flows);
    let mut dissector = Dissector::new(args.decoder.config());
    let mut stack = Stack::new();
    let mut sflow = SflowReader::new(args.decoder.config(), MAX_AGENTS);
    reader.for_each(|f| {
        let decoded = dissector.dissect(f.data, f.link, &mut stack);
        if !args.sflow {
            counter.add(&Input::new(decoded, f.orig_len));
            return ControlFlow::Continue(());
        }
        let Some(l) = decoded.stack().layers().iter().find(|l| l.proto == Proto::Sflow) else {
            return ControlFlow::Continue(());
        };
        sflow.datagram(&f.data[l.offset as usize..], |item| {
            // Discarded packets are not traffic; `detunnel flows` counts packet samples.
            if let Sampled::Frame { input, weight, discarded: false, .. } = item {
                counter.add_weighted(input, weight);
            }
        });
        ControlFlow::Continue(())
    })?;
    let rows = counter.top(args.top);
    let mut out = String::new();
    if args.json {
        out.push('[');
        for (i, r) in rows.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("{{\"key\": {}, \"value\": {}}}", json_string(&r.key), number(r.value)));
        }
        out.push_str("]\n");
    } else {
        let width = rows.iter().map(|r| number(r.value).len()).max().unwrap_or(5).max(5);
        out.push_str(&format!(
            "{:>width$}  {}\n",
            "value",
            if args.keys.is_empty() { "(total)" } else { &args.keys }
        ));
        for r in &rows {
            out.push_str(&format!("{:>width$}  {}\n", number(r.value), r.key));
        }
    }
    std::io::stdout().write_all(out.as_bytes())?;
    if !args.quiet && args.sflow {
        let t = sflow.totals;
        eprintln!(
            "{} sFlow datagrams: {} malformed; {} records or headers of other formats skipped",
            t.datagrams,
            t.malformed + t.unreadable,
            t.skipped + t.discard_samples
        );
        for (id, a) in sflow.agents.list() {
            eprintln!(
                "  agent {}/{}: {} datagrams, {} flow samples, {} counter samples; {} lost, {} duplicate, \
                 {} out of order, {} restarts, {} malformed",
                id.address,
                id.sub_agent,
                a.datagrams,
                a.flow_samples,
                a.counter_samples,
                a.lost,
                a.duplicates,
                a.out_of_order,
                a.restarts,
                a.malformed
            );
        }
        if sflow.agents.refused > 0 {
            let refused = sflow.agents.refused;
            eprintln!("  {refused} datagrams from agents past the first {MAX_AGENTS} not itemised");
        }
    }
    if !args.quiet {
        let t = counter.totals;
        eprintln!(
            "{} frames: {} counted, {} filtered out, {} without every key; {} flows{}",
            t.frames,
            t.counted,
            t.filtered,
            t.missing_keys,
            counter.table.len(),
            if counter.table.evicted > 0 {
                format!(", {} evicted (--max-flows)", counter.table.evicted)
            } else {
                String::new()
            }
        );
    }
    if stop.load(Ordering::Relaxed) {
        eprintln!("detunnel: interrupted; the totals above are of the frames read until then");
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// Agents itemised in the `--sflow` summary.
const MAX_AGENTS: usize = 10_000;

/// A number as JSON and people write it: integral values without a fraction.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

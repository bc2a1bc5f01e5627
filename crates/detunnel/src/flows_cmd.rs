//! `detunnel flows`: exact flow totals over a capture, largest first, with the flow-table
//! code the server uses.
use crate::cli::FlowsArgs;
use anyhow::Result;
use flows::Counter;
use pipeline::{Finished, Hooks, PipelineConfig, Sink, Source, StartError};
use query::Definition;
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

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
    // The pipeline of the broker and the daemon, with the flow table as its only sink.
    let counter = Arc::new(Mutex::new(Counter::new(compiled, ctx, args.max_flows)));
    let config = PipelineConfig {
        decoder: args.decoder.config(),
        sflow: args.sflow,
        count: args.count,
        ..PipelineConfig::new(vec![Source::File(args.read.clone())], vec![Sink::Flows { sample: 1 }])
    };
    let hooks = Hooks { flows: Some(Box::new(counter.clone())), ..Hooks::default() };
    let Finished { summary, error } = match pipeline::run(&config, stop, hooks) {
        Ok(f) => f,
        Err(StartError::Stopped) => return Ok(ExitCode::from(130)),
        Err(e) => return Err(anyhow::anyhow!("{e}")),
    };
    if let Some(e) = error {
        return Err(e.into());
    }
    let counter = counter.lock().unwrap_or_else(|e| e.into_inner());
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
    if let (false, Some(sflow)) = (args.quiet, &summary.sflow) {
        eprintln!(
            "{} sFlow datagrams: {} malformed; {} records or headers of other formats skipped",
            sflow.datagrams, sflow.malformed, sflow.skipped
        );
        for a in &sflow.agents {
            eprintln!(
                "  agent {}/{}: {} datagrams, {} flow samples, {} counter samples; {} lost, {} duplicate, \
                 {} out of order, {} restarts, {} malformed",
                a.agent,
                a.sub_agent,
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
        if sflow.agents_refused > 0 {
            let (refused, max) = (sflow.agents_refused, pipeline::run::MAX_SFLOW_AGENTS);
            eprintln!("  {refused} datagrams from agents past the first {max} not itemised");
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
    if summary.interrupted {
        eprintln!("detunnel: interrupted; the totals above are of the frames read until then");
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

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

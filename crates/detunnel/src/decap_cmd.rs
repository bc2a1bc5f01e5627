//! `detunnel decap`: its flags become a pipeline configuration, which the `pipeline` library
//! runs; the summary goes to standard error.
use crate::cli::{DecapArgs, FormatArg, StatsArg, TimestampArg};
use anyhow::{anyhow, Result};
use pipeline::{FileSink, Finished, Hooks, PipelineConfig, Sink, Source, StartError};
use std::process::ExitCode;

/// Runs the command until its input ends, or SIGINT or SIGTERM.
pub fn run(args: &DecapArgs) -> Result<ExitCode> {
    let stop = crate::stop::on_signals()?;
    let config = config(args)?;
    let hooks = Hooks { progress: !args.quiet, ..Hooks::default() };
    let Finished { summary, error } = match pipeline::run(&config, stop, hooks) {
        Ok(f) => f,
        // Stopped before the input said what it is: nothing was read, nothing written.
        Err(StartError::Stopped) => return Ok(ExitCode::from(130)),
        Err(StartError::Filter(e)) => return Err(e.into()),
        Err(e) => return Err(anyhow!("{e}")),
    };
    if !args.quiet {
        match args.stats {
            StatsArg::Json => eprintln!("{}", summary.json()),
            StatsArg::Text => eprint!("{}", summary.text()),
        }
    }
    if let Some(e) = error {
        return Err(e.into());
    }
    if summary.interrupted {
        eprintln!("detunnel: interrupted; everything read so far was written");
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// The pipeline `decap`'s flags describe.
pub fn config(args: &DecapArgs) -> Result<PipelineConfig> {
    let mut sources: Vec<Source> = args.read.iter().map(|r| Source::File(r.clone())).collect();
    sources.extend(args.listen.iter().map(|e| Source::Endpoint(*e)));
    sources.extend(args.interface.iter().map(|i| Source::Interface(i.clone())));
    let mut sinks = Vec::new();
    if args.write.is_some() || args.split_streams.is_some() {
        let rotation = capture::Rotation {
            size_bytes: args.rotate_size.map(|mb| mb.saturating_mul(1_000_000)),
            seconds: args.rotate_seconds,
            retry: false,
        };
        let format = FormatArg::resolve(args.format, args.write.as_deref().unwrap_or(""));
        let (path, split_streams) = (args.write.clone(), args.split_streams.clone());
        let compression = args.compress.or_else(|| path.as_deref().and_then(capture::Compression::from_path));
        sinks.push(Sink::File(FileSink { path, format, compression, rotation, split_streams }));
    }
    sinks.extend(args.tap.iter().map(|t| Sink::Tap(t.clone())));
    sinks.extend(args.out.iter().map(|o| Sink::Port(o.clone())));
    sinks.extend(args.to.iter().map(|t| Sink::Tunnel(*t)));
    let config = PipelineConfig {
        sources,
        workers: usize::from(args.workers),
        promiscuous: args.promiscuous,
        xdp: args.xdp,
        buffer_mib: args.buffer_mib,
        decoder: args.decoder.config(),
        filter: args.filter.clone(),
        context: args.sets.context()?,
        decap: decap::Options {
            strip: args.strip,
            depth: args.depth,
            strip_tags: args.strip_tags.clone().unwrap_or_default(),
            only_tunnelled: args.only_tunnelled,
            keep_control: args.keep_control,
            snaplen: args.snaplen.map(|s| s as usize),
            synth_macs: args.synth_mac,
        },
        erspan_timestamps: args.timestamps == TimestampArg::Erspan,
        dedup_ms: args.dedup,
        balance: args.balance,
        sinks,
        sflow: false,
        count: args.count,
    };
    config.check().map_err(|e| anyhow!("{e}"))?;
    Ok(config)
}

//! `detunnel generate`: synthetic tunnelled traffic written with `wire`'s emit code.
use crate::cli::{FormatArg, GenerateArgs};
use anyhow::{bail, Context, Result};
use capture::FileWriter;
use craft::mix::{Generator, Mix};
use dissect::LinkType;
use std::io::IsTerminal;
use std::process::ExitCode;

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

/// Writes `args.count` frames to `args.write`.
pub fn run(args: &GenerateArgs) -> Result<ExitCode> {
    if args.write == "-" && std::io::stdout().is_terminal() {
        bail!("refusing to write a capture to a terminal; use -w FILE or pipe it (| tcpdump -r -)");
    }
    let format = FormatArg::resolve(args.format, &args.write);
    let mut out = FileWriter::create(&args.write, format, LinkType::ETHERNET, "generated")
        .with_context(|| format!("cannot create {}", args.write))?;
    let mut generator = Generator::new(mix(args));
    let start = 1_700_000_000_000_000_000u64;
    for i in 0..args.count {
        let frame = generator.frame();
        out.write(0, start + i * 1_000, frame.len() as u32, &frame)
            .with_context(|| format!("writing {}", args.write))?;
    }
    out.finish().with_context(|| format!("writing {}", args.write))?;
    Ok(ExitCode::SUCCESS)
}

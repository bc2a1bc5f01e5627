//! The `detunnel` command: parses the command line and runs the subcommand.
mod cli;
mod decap_cmd;
mod demo;
mod flows_cmd;
mod generate;
mod inspect;
mod render;
mod serve;
mod serve_config;
mod stop;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // Words after the flags are a usage error, said with where they go.
    let refusal = match &args.command {
        cli::Command::Inspect(a) => a.habits.refusal("inspect", false),
        cli::Command::Flows(a) => a.habits.refusal("flows", false),
        cli::Command::Decap(a) => a.habits.refusal("decap", true),
        _ => None,
    };
    if let Some(why) = refusal {
        eprintln!("detunnel: {why}");
        return ExitCode::from(2);
    }
    let result = match args.command {
        cli::Command::Inspect(a) => inspect::run(&a),
        cli::Command::Decap(a) => decap_cmd::run(&a),
        cli::Command::Flows(a) => flows_cmd::run(&a),
        cli::Command::Generate(a) => generate::run(&a),
        cli::Command::Demo(args) => demo::run(&args),
        cli::Command::Serve(a) => serve::run(&a),
    };
    match result {
        Ok(code) => code,
        // A flow expression that does not parse is a usage error, like a bad flag.
        Err(e) if e.downcast_ref::<query::QueryError>().is_some() => {
            eprintln!("detunnel: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("detunnel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

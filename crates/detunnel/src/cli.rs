//! Command-line flags, tcpdump-like where tcpdump has a word for it.
use clap::{Args, Parser, Subcommand};

/// Makes tunnelled traffic visible: decodes GRE, ERSPAN, VXLAN, GENEVE, MPLS and more.
#[derive(Debug, Parser)]
#[command(name = "detunnel", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print one line per frame with its stack and its fields at every depth.
    Inspect(InspectArgs),
}

/// Flags of `detunnel inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Capture to read (pcap or pcapng); `-` reads standard input.
    #[arg(short = 'r', long = "read", value_name = "FILE", default_value = "-")]
    pub read: String,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many frames.
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Most tunnels decoded in one frame.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_tunnels: usize,
    /// Decode UDP port PORT as PROTO (e.g. `4790=vxlan`); repeatable.
    #[arg(long = "udp-port", value_name = "PORT=PROTO", value_parser = parse_port_proto)]
    pub udp_ports: Vec<(u16, dissect::Next)>,
    /// Decode GRE protocol TYPE as PROTO (e.g. `0x8949=erspan`); repeatable.
    #[arg(long = "gre-protocol", value_name = "TYPE=PROTO", value_parser = parse_port_proto)]
    pub gre_protocols: Vec<(u16, dissect::Next)>,
    /// Do not print the counter summary on standard error.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

impl InspectArgs {
    /// The decoder configuration these flags describe.
    pub fn decoder_config(&self) -> dissect::Config {
        dissect::Config {
            max_tunnels: self.max_tunnels,
            udp_ports: self.udp_ports.clone(),
            gre_protocols: self.gre_protocols.clone(),
            ..dissect::Config::default()
        }
    }
}

/// Parses `NUMBER=PROTO`, the number decimal or 0x-hex.
fn parse_port_proto(s: &str) -> Result<(u16, dissect::Next), String> {
    let (n, p) = s.split_once('=').ok_or_else(|| format!("expected NUMBER=PROTO, got `{s}`"))?;
    let num = match n.strip_prefix("0x").or_else(|| n.strip_prefix("0X")) {
        Some(h) => u16::from_str_radix(h, 16),
        None => n.parse(),
    }
    .map_err(|_| format!("`{n}` is not a number from 0 to 65535"))?;
    let names: Vec<&str> = dissect::Next::NAMES.iter().map(|(n, _)| *n).collect();
    let next = dissect::Next::from_name(p).ok_or_else(|| format!("unknown protocol `{p}`; known: {}", names.join(", ")))?;
    Ok((num, next))
}

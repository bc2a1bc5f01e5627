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
    /// Strip the tunnels from captures: write the frames they carried, as Ethernet frames.
    Decap(Box<DecapArgs>),
    /// Exact flow totals of a capture, by sFlow-RT's keys, values and filters.
    Flows(FlowsArgs),
    /// Write synthetic tunnelled traffic (pcap or pcapng) for tests, demos and benchmarks.
    Generate(GenerateArgs),
    /// The whole product on loopback: the daemon fed with synthetic mirrored traffic (a broker
    /// pipeline and sFlow), its web UI, until Ctrl-C.
    Demo(DemoArgs),
    /// The daemon: sFlow collector and flow engine behind an sFlow-RT compatible REST API.
    Serve(ServeArgs),
}

/// Flags of `detunnel serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML; `detunnel.example.toml` shows every setting).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<String>,
    /// Receive sFlow on this address (repeatable; replaces the config's `sflow.listen`); a
    /// host name is resolved once, at start.
    #[arg(long = "sflow", value_name = "HOST:PORT", value_parser = capture::resolve::socket_addr)]
    pub sflow: Vec<std::net::SocketAddr>,
    /// Serve the REST API on this address (replaces the config's `http.listen`); a host name
    /// is resolved once, at start.
    #[arg(long = "http", value_name = "HOST:PORT", value_parser = capture::resolve::socket_addr)]
    pub http: Option<std::net::SocketAddr>,
    /// Receiving and counting threads (replaces the config's `sflow.workers`; default: one
    /// per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Also feed this capture (pcap or pcapng) through the engine: sFlow datagrams in it are
    /// read as received, other frames count as samples of rate 1.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<String>,
    /// Replay `--read` at the pace of its timestamps instead of as fast as it can.
    #[arg(long, requires = "read")]
    pub realtime: bool,
}

/// Flags of `detunnel demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Serve the web UI and the REST API here (another free port on loopback when it is taken).
    #[arg(long = "http", value_name = "HOST:PORT", default_value = "127.0.0.1:8008", value_parser = capture::resolve::socket_addr)]
    pub http: std::net::SocketAddr,
    /// Mirrored frames a second fed to the broker pipeline (sFlow samples 1 in 10 of them).
    #[arg(long, value_name = "FPS", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate: u32,
}

/// Flags of `detunnel generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output file; `-` writes to standard output (not to a terminal).
    #[arg(short = 'w', long = "write", value_name = "FILE", default_value = "-")]
    pub write: String,
    /// Output format; by default pcapng for `.pcapng` files, else pcap.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Compress the output: gzip, zstd or lz4; by default as the name's last extension says
    /// (`.gz`, `.zst`, `.lz4`).
    #[arg(long, value_name = "KIND", value_parser = capture::Compression::parse)]
    pub compress: Option<capture::Compression>,
    /// Number of frames.
    #[arg(short = 'c', long = "count", value_name = "N", default_value_t = 1000)]
    pub count: u64,
    /// No progress line and no summary.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Encapsulations to mix, comma-separated: plain, gre, nvgre, erspan1, erspan2, erspan3,
    /// vxlan, geneve, gpe, ipip, gtp, mpls, qinq.
    #[arg(long, value_name = "LIST", default_value = "erspan2,erspan3,gre,vxlan,geneve", value_parser = parse_encaps)]
    pub encap: EncapList,
    /// Encapsulations applied to each frame (2 puts a tunnel inside a tunnel).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub nest: usize,
    /// Distinct inner flows.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub flows: u32,
    /// Distinct tunnel streams per encapsulation (keys, sessions, VNIs).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub streams: u32,
    /// Inner frame size range in bytes, `MIN-MAX` or one size.
    #[arg(long, value_name = "MIN-MAX", default_value = "64-1500", value_parser = parse_size)]
    pub size: (usize, usize),
    /// Seed: the same seed and flags give the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Send the frames as sFlow v5 datagrams to this address instead of writing a capture
    /// (`-c` then counts datagrams); for the collector benchmark and demos.
    #[arg(long, value_name = "HOST:PORT", conflicts_with_all = ["write", "format", "iface"], value_parser = capture::resolve::socket_addr)]
    pub sflow: Option<std::net::SocketAddr>,
    /// Send the frames onto network interface IFACE (through a transmit ring, as `decap --out`
    /// writes) instead of writing a capture: traffic for a live broker to take (`--rate`
    /// frames a second; 0 as fast as the interface takes them).
    #[arg(long, value_name = "IFACE", conflicts_with_all = ["write", "format", "compress"])]
    pub iface: Option<String>,
    /// With `--sflow`: flow samples per datagram, each a 128-byte sampled header.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub samples: u32,
    /// With `--sflow`: the sampling rate the samples state.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub sampling_rate: u32,
    /// With `--sflow`: datagrams per second (0: as fast as the socket takes them).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub rate: u64,
    /// With `--sflow`: distinct agents sending (192.0.2.1 and up).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=250))]
    pub agents: u32,
}

/// Capture file formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    /// Classic pcap (nanosecond timestamps).
    Pcap,
    /// pcapng.
    Pcapng,
}

impl FormatArg {
    /// The writer format for `path`, this flag overriding the extension.
    pub fn resolve(flag: Option<FormatArg>, path: &str) -> capture::Format {
        match flag {
            Some(FormatArg::Pcap) => capture::Format::Pcap,
            Some(FormatArg::Pcapng) => capture::Format::Pcapng,
            None => capture::Format::from_path(path),
        }
    }
}

/// A comma-separated list of encapsulations.
#[derive(Debug, Clone)]
pub struct EncapList(pub Vec<craft::mix::Encap>);

fn parse_encaps(s: &str) -> Result<EncapList, String> {
    s.split(',')
        .map(|n| {
            craft::mix::Encap::from_name(n.trim()).ok_or_else(|| {
                let names: Vec<&str> = craft::mix::Encap::NAMES.iter().map(|(n, _)| *n).collect();
                format!("unknown encapsulation `{n}`; known: {}", names.join(", "))
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map(EncapList)
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: usize = a.trim().parse().map_err(|_| format!("`{a}` is not a size in bytes"))?;
    let b: usize = b.trim().parse().map_err(|_| format!("`{b}` is not a size in bytes"))?;
    if a > b || !(60..=9000).contains(&a) || b > 9000 {
        return Err(format!("size range `{s}` must be MIN-MAX with 60 <= MIN <= MAX <= 9000"));
    }
    Ok((a, b))
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
    /// Stop after printing N frames (as tcpdump's -c: frames that pass the filter).
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Print only frames that pass this sFlow-RT filter (e.g. `ipsource.1=10.0.0.1`).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Address groups and value maps for the filter.
    #[command(flatten)]
    pub sets: SetArgs,
    /// Decoder options.
    #[command(flatten)]
    pub decoder: DecoderArgs,
    /// Do not print the counter summary on standard error.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// tcpdump's habits: `-n`, and words after the flags.
    #[command(flatten)]
    pub habits: TcpdumpHabits,
}

/// Flags of `detunnel flows`.
#[derive(Debug, Args)]
pub struct FlowsArgs {
    /// Capture to read (pcap or pcapng); `-` reads standard input.
    #[arg(short = 'r', long = "read", value_name = "FILE", default_value = "-")]
    pub read: String,
    /// Flow keys, comma-separated (e.g. `ipsource.1,ipdestination.1,stack`); none gives one total.
    #[arg(long, value_name = "KEYS", default_value = "")]
    pub keys: String,
    /// What to add up: frames, bytes, count:KEY, avg:KEY or rate:KEY.
    #[arg(long, value_name = "VALUE", default_value = "frames")]
    pub value: String,
    /// Only frames that pass this filter.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Separator between key values.
    #[arg(long, value_name = "SEP", default_value = ",")]
    pub fs: String,
    /// How many flows to print, largest first.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// Most flows held; beyond, the smallest are evicted and counted.
    #[arg(long = "max-flows", value_name = "N", default_value_t = 1_000_000)]
    pub max_flows: usize,
    /// Print sFlow-RT's activeflows JSON shape: `[{"key": "a,b", "value": 123}, ...]`.
    #[arg(long)]
    pub json: bool,
    /// Stop after counting N frames (as tcpdump's -c: frames that pass the filter).
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Count the packets sampled in the capture's sFlow datagrams (UDP 6343) instead of its
    /// frames: each sampled header is decoded through its tunnels and counts `sampling_rate`
    /// frames and `frame_length x sampling_rate` bytes; `agent`, `inputifindex` and
    /// `outputifindex` become keys.
    #[arg(long)]
    pub sflow: bool,
    /// Address groups and value maps for `group:` and `map:` keys.
    #[command(flatten)]
    pub sets: SetArgs,
    /// Decoder options.
    #[command(flatten)]
    pub decoder: DecoderArgs,
    /// No summary on standard error.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// tcpdump's habits: `-n`, and words after the flags.
    #[command(flatten)]
    pub habits: TcpdumpHabits,
}

/// Named address groups and value maps (sFlow-RT's `/group` and `/map`).
#[derive(Debug, Clone, Args, Default)]
pub struct SetArgs {
    /// An address group entry `NAME:LABEL=PREFIX,...` (e.g. `ddos:private=10.0.0.0/8`); repeatable.
    #[arg(long = "group", value_name = "NAME:LABEL=PREFIXES")]
    pub groups: Vec<String>,
    /// A map entry `NAME:LABEL=VALUE,...` (e.g. `svc:web=80,443`); repeatable.
    #[arg(long = "map", value_name = "NAME:LABEL=VALUES")]
    pub maps: Vec<String>,
}

impl SetArgs {
    /// The groups and maps these flags define, built as the daemon builds its declared ones.
    pub fn context(&self) -> anyhow::Result<query::Context> {
        let (mut groups, mut maps) = (query::context::Sets::new(), query::context::Sets::new());
        for (flag, entries) in [("--group", &self.groups), ("--map", &self.maps)] {
            let sets = if flag == "--group" { &mut groups } else { &mut maps };
            for e in entries {
                let parsed = e
                    .split_once(':')
                    .and_then(|(name, rest)| rest.split_once('=').map(|(label, v)| (name, label, v)));
                let Some((name, label, values)) = parsed else {
                    anyhow::bail!("{flag} {e}: expected NAME:LABEL=VALUE,VALUE...");
                };
                let values = values.split(',').map(str::trim).filter(|v| !v.is_empty()).map(String::from);
                sets.entry(name.to_string())
                    .or_default()
                    .entry(label.to_string())
                    .or_default()
                    .extend(values);
            }
        }
        query::Context::from_sets(&groups, &maps).map_err(|m| anyhow::anyhow!("{m}"))
    }
}

/// Flags of `detunnel decap`.
#[derive(Debug, Args)]
pub struct DecapArgs {
    /// Capture to read (pcap or pcapng); `-` reads standard input. Repeat to merge several
    /// captures by timestamp, as mergecap does.
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        required_unless_present_any = ["listen", "interface"],
        conflicts_with_all = ["listen", "interface"]
    )]
    pub read: Vec<String>,
    /// Capture live from interface IFACE (AF_PACKET TPACKET_V3 rings); repeatable. Runs until
    /// SIGINT or SIGTERM.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Vec<String>,
    /// Receiving threads per source: with `-i`, per interface, sharing it through a
    /// PACKET_FANOUT hash group (both directions of a flow reach the same thread); with a UDP
    /// `--listen`, sockets sharing its port (SO_REUSEPORT: each sender reaches one of them);
    /// with `--xdp`, one per receive queue of the interface.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// With `-i`: put the interface in promiscuous mode while capturing.
    #[arg(long)]
    pub promiscuous: bool,
    /// Receive through AF_XDP instead: an XDP program on the interface hands its frames to a
    /// socket per worker (one per receive queue, from queue 0) sharing memory with detunnel.
    /// With `-i`, every frame of the interface (the kernel sees none of them); with
    /// `--listen`, the endpoint's packets (its address must be one of an interface's), the
    /// rest going on to the kernel. Frames take the time they are read.
    #[arg(long)]
    pub xdp: bool,
    /// Each worker's receive buffer, in MiB (tcpdump's -B counts KiB): its ring with `-i`, its
    /// socket's buffer with `--listen` (past net.core.rmem_max as root), its frames' memory
    /// with `--xdp` (4 KiB a frame); what is held while the worker is busy, before the kernel
    /// drops.
    #[arg(long = "buffer", value_name = "MIB", default_value_t = capture::DEFAULT_BUFFER_MIB,
          value_parser = clap::value_parser!(u32).range(i64::from(*capture::BUFFER_MIB.start())..=i64::from(*capture::BUFFER_MIB.end())))]
    pub buffer_mib: u32,
    /// Terminate tunnels: `vxlan://ADDR[:4789]`, `geneve://ADDR[:6081]`, `gpe://ADDR[:4790]`,
    /// `udpgre://ADDR[:4754]`, `gre://ADDR` (GRE, NVGRE, ERSPAN; raw socket, root),
    /// `ipip://ADDR`; repeatable. Runs until SIGINT or SIGTERM.
    #[arg(long = "listen", value_name = "URL", value_parser = capture::endpoint::Endpoint::parse)]
    pub listen: Vec<capture::endpoint::Endpoint>,
    /// Write the stripped frames into TAP interface NAME (created and brought up, or attached
    /// to), for tcpdump, Zeek or Suricata to listen on; repeatable.
    #[arg(long = "tap", value_name = "NAME")]
    pub tap: Vec<String>,
    /// Send the stripped frames re-encapsulated to a tool elsewhere: `vxlan://HOST[:4789]?vni=N`,
    /// `geneve://HOST[:6081]?vni=N`, `gre://HOST[?key=K]`, `erspan2://HOST?session=S`,
    /// `erspan3://HOST?session=S`; repeatable.
    #[arg(long = "to", value_name = "URL", value_parser = capture::encap::Target::parse)]
    pub to: Vec<capture::encap::Target>,
    /// Write the stripped frames onto network interface IFACE (a tool port), through a
    /// transmit ring, in batches; repeatable.
    #[arg(long = "out", value_name = "IFACE")]
    pub out: Vec<String>,
    /// Spread frames over the TAPs, tool ports and `--to` targets by a symmetric hash of their
    /// flow (both directions of a conversation reach the same one) instead of copying every
    /// frame to all.
    #[arg(long)]
    pub balance: bool,
    /// Output file; `-` writes to standard output (not to a terminal).
    #[arg(short = 'w', long = "write", value_name = "FILE", required_unless_present_any = ["split_streams", "tap", "to", "out"])]
    pub write: Option<String>,
    /// Start a new output file once this one holds MB million bytes: `x.pcapng`, then
    /// `x.1.pcapng`, `x.2.pcapng`, ...
    #[arg(short = 'C', value_name = "MB", requires = "write", value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_size: Option<u64>,
    /// Start a new output file when a frame is SECONDS (by its timestamp) after the first of
    /// the current one; `%Y %m %d %H %M %S` in the `-w` name are replaced by the time (UTC).
    #[arg(short = 'G', value_name = "SECONDS", requires = "write", value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_seconds: Option<u64>,
    /// Output format; by default pcapng for `.pcapng` files, else pcap. In pcapng every
    /// tunnel stream is its own interface, named after it.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Compress the output (and the streams' files): gzip, zstd or lz4; by default as the
    /// name's last extension says (`.gz`, `.zst`, `.lz4`).
    #[arg(long, value_name = "KIND", value_parser = capture::Compression::parse)]
    pub compress: Option<capture::Compression>,
    /// Strip only the N outermost tunnels.
    #[arg(long, value_name = "N")]
    pub depth: Option<usize>,
    /// Tunnel kinds to strip, comma-separated: gre, erspan, vxlan, gpe, geneve, nsh, ipip, gtp,
    /// teredo, ayiya, l2tp, pw, mplsudp, pbb, trill, fabricpath, capwap, isl, or all (the names of the
    /// summary, such as erspan3 or mpls-pw, name their family).
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = decap::TunnelSet::parse)]
    pub strip: decap::TunnelSet,
    /// Tags to remove from emitted frames, comma-separated: vlan, vntag, etag, mpls.
    #[arg(long = "strip-tags", value_name = "LIST", value_parser = decap::Tag::parse_list)]
    pub strip_tags: Option<std::vec::Vec<decap::Tag>>,
    /// Drop (and count) frames that carry no tunnel instead of passing them unchanged.
    #[arg(long = "only-tunnelled")]
    pub only_tunnelled: bool,
    /// Emit PPP control frames (LCP, IPCP, CCP, ...) found inside tunnels, as PPPoE session
    /// frames, instead of dropping them as `no_inner_frame`.
    #[arg(long = "keep-control")]
    pub keep_control: bool,
    /// Cut emitted frames to N bytes.
    #[arg(short = 's', long = "snaplen", value_name = "N", value_parser = clap::value_parser!(u32).range(14..))]
    pub snaplen: Option<u32>,
    /// Drop a frame identical to one emitted within the last MS milliseconds.
    #[arg(long, value_name = "MS")]
    pub dedup: Option<u64>,
    /// Stop after writing N frames (as tcpdump's -c: frames that pass the filter and are
    /// emitted).
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Frame times: `capture` (as read) or `erspan` (rebuilt from ERSPAN III timestamps).
    #[arg(long, value_enum, default_value = "capture")]
    pub timestamps: TimestampArg,
    /// Also write one file per tunnel stream into DIR.
    #[arg(long = "split-streams", value_name = "DIR")]
    pub split_streams: Option<String>,
    /// Addresses of the Ethernet header synthesized for inner IP packets, `SRC,DST`; by
    /// default the frame's outer Ethernet addresses.
    #[arg(long = "synth-mac", value_name = "SRC,DST", value_parser = parse_mac_pair)]
    pub synth_mac: Option<([u8; 6], [u8; 6])>,
    /// End-of-run summary on standard error as text or JSON.
    #[arg(long, value_enum, default_value = "text")]
    pub stats: StatsArg,
    /// Emit only frames that pass this sFlow-RT filter, which sees outer and inner fields
    /// (e.g. `vxlanvni=42&ipprotocol.1=6`).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Address groups and value maps for the filter.
    #[command(flatten)]
    pub sets: SetArgs,
    /// No summary and no progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Decoder options.
    #[command(flatten)]
    pub decoder: DecoderArgs,
    /// tcpdump's habits: `-n`, and words after the flags.
    #[command(flatten)]
    pub habits: TcpdumpHabits,
}

/// What tcpdump's users type out of habit: `-n`, which changes nothing here, and words after
/// the flags, which tcpdump reads as its capture filter and detunnel does not (they are taken
/// only to say where they go instead of clap's bare "unexpected argument").
#[derive(Debug, Args)]
pub struct TcpdumpHabits {
    /// Accepted as tcpdump's `-n`: detunnel never turns addresses or ports into names.
    #[arg(short = 'n')]
    pub numeric: bool,
    /// (Not read.)
    #[arg(hide = true, value_name = "WORDS")]
    pub words: Vec<String>,
}

impl TcpdumpHabits {
    /// Why command `command` refuses the words, if there are any; `merges` when it reads
    /// several captures (`-r` repeated).
    pub fn refusal(&self, command: &str, merges: bool) -> Option<String> {
        let words = self.words.join(" ");
        let first = self.words.first()?;
        // `-r a.pcap b.pcap`: a second capture without its own -r.
        let capture = |w: &String| {
            let name = capture::Compression::strip(w);
            name.ends_with(".pcap")
                || name.ends_with(".pcapng")
                || name.ends_with(".cap")
                || std::path::Path::new(w).is_file()
        };
        if self.words.iter().all(capture) {
            return Some(if merges {
                format!("`{words}` after the flags: give each capture its own -r (`-r FILE -r {first}`)")
            } else {
                format!(
                    "`{words}` after the flags: {command} reads one capture (-r FILE); `detunnel decap -r A -r B -w -` merges several by time"
                )
            });
        }
        let how = query::habits::bpf_hint(&words).unwrap_or_else(|| {
            "detunnel's filters are sFlow-RT's, which read the fields inside the tunnels too (e.g. `vxlanvni=42&ipprotocol.1=6`)".into()
        });
        Some(format!("`{words}` after the flags: {command} takes its filter as --filter EXPR, not after the flags as tcpdump does; {how}"))
    }
}

/// Where frame times come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TimestampArg {
    /// The capture's own timestamps.
    Capture,
    /// ERSPAN type III timestamps where there are some.
    Erspan,
}

/// How the summary is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatsArg {
    /// Readable text.
    Text,
    /// One JSON object.
    Json,
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() != 6 {
        return Err(format!("`{s}` is not a MAC address like 02:00:00:00:00:01"));
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        m[i] = u8::from_str_radix(p, 16)
            .map_err(|_| format!("`{s}` is not a MAC address like 02:00:00:00:00:01"))?;
    }
    Ok(m)
}

fn parse_mac_pair(s: &str) -> Result<([u8; 6], [u8; 6]), String> {
    let (a, b) = s.split_once(',').ok_or_else(|| format!("expected SRC,DST MAC addresses, got `{s}`"))?;
    Ok((parse_mac(a)?, parse_mac(b)?))
}

/// Decoder options shared by every command that decodes frames.
#[derive(Debug, Clone, Args, Default)]
pub struct DecoderArgs {
    /// Most tunnels decoded in one frame.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_tunnels: usize,
    /// Decode UDP port PORT as PROTO (e.g. `4790=vxlan`); repeatable.
    #[arg(long = "udp-port", value_name = "PORT=PROTO", value_parser = parse_port_proto)]
    pub udp_ports: Vec<(u16, dissect::Next)>,
    /// Decode GRE protocol TYPE as PROTO (e.g. `0x8949=erspan`); repeatable.
    #[arg(long = "gre-protocol", value_name = "TYPE=PROTO", value_parser = parse_port_proto)]
    pub gre_protocols: Vec<(u16, dissect::Next)>,
    /// Decode IP protocol NUMBER as PROTO (e.g. `97=none`, `99=gre`); repeatable.
    #[arg(long = "ip-protocol", value_name = "NUMBER=PROTO", value_parser = parse_ip_protocol)]
    pub ip_protocols: Vec<(u8, dissect::Next)>,
    /// What follows an MPLS label stack: `auto` (by the first nibble, counted as a guess),
    /// `ipv4`, `ipv6`, `ethernet` (pseudowire without control word) or `ethernet-cw`.
    #[arg(long = "mpls-payload", value_enum, default_value = "auto")]
    pub mpls_payload: MplsPayloadArg,
    /// Read the key of GRE-TEB with only the K flag as NVGRE's VSID and flow ID (`auto`) or
    /// only as a GRE key (`never`).
    #[arg(long, value_enum, default_value = "auto")]
    pub nvgre: NvgreArg,
    /// L2TPv3 cookie length in bytes (0, 4 or 8), as agreed out of band.
    #[arg(long = "l2tpv3-cookie", value_name = "BYTES", default_value_t = 0, value_parser = parse_cookie_len)]
    pub l2tpv3_cookie: u8,
    /// L2TPv3 sessions carry the default 4-byte L2-specific sublayer.
    #[arg(long = "l2tpv3-sublayer")]
    pub l2tpv3_sublayer: bool,
}

pub fn parse_cookie_len(s: &str) -> Result<u8, String> {
    match s {
        "0" | "4" | "8" => Ok(s.parse().unwrap_or(0)),
        _ => Err(format!("an L2TPv3 cookie is 0, 4 or 8 bytes, not `{s}`")),
    }
}

/// `--mpls-payload` values.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum MplsPayloadArg {
    /// By the first nibble after the bottom of stack.
    #[default]
    Auto,
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// Ethernet pseudowire without control word.
    Ethernet,
    /// Ethernet pseudowire with control word.
    EthernetCw,
}

/// `--nvgre` values.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum NvgreArg {
    /// Read the key as VSID and flow ID too.
    #[default]
    Auto,
    /// Only as a GRE key.
    Never,
}

impl DecoderArgs {
    /// The decoder configuration these flags describe.
    pub fn config(&self) -> dissect::Config {
        dissect::Config {
            max_tunnels: self.max_tunnels,
            udp_ports: self.udp_ports.clone(),
            gre_protocols: self.gre_protocols.clone(),
            ip_protocols: self.ip_protocols.clone(),
            mpls_payload: match self.mpls_payload {
                MplsPayloadArg::Auto => dissect::MplsPayload::Auto,
                MplsPayloadArg::Ipv4 => dissect::MplsPayload::Ipv4,
                MplsPayloadArg::Ipv6 => dissect::MplsPayload::Ipv6,
                MplsPayloadArg::Ethernet => dissect::MplsPayload::Ethernet,
                MplsPayloadArg::EthernetCw => dissect::MplsPayload::EthernetCw,
            },
            nvgre: match self.nvgre {
                NvgreArg::Auto => dissect::NvgreKey::Auto,
                NvgreArg::Never => dissect::NvgreKey::Never,
            },
            l2tpv3: dissect::table::L2tpv3Session {
                cookie_len: self.l2tpv3_cookie,
                sublayer: self.l2tpv3_sublayer,
            },
            ..dissect::Config::default()
        }
    }
}

/// Parses `NUMBER=PROTO`, the number decimal or 0x-hex.
pub fn parse_port_proto(s: &str) -> Result<(u16, dissect::Next), String> {
    let (n, p) = s.split_once('=').ok_or_else(|| format!("expected NUMBER=PROTO, got `{s}`"))?;
    let num = match n.strip_prefix("0x").or_else(|| n.strip_prefix("0X")) {
        Some(h) => u16::from_str_radix(h, 16),
        None => n.parse(),
    }
    .map_err(|_| format!("`{n}` is not a number from 0 to 65535"))?;
    let names: Vec<&str> = dissect::Next::NAMES.iter().map(|(n, _)| *n).collect();
    let next = dissect::Next::from_name(p)
        .ok_or_else(|| format!("unknown protocol `{p}`; known: {}", names.join(", ")))?;
    Ok((num, next))
}

/// Parses `NUMBER=PROTO` for an IP protocol number (0 to 255).
pub fn parse_ip_protocol(s: &str) -> Result<(u8, dissect::Next), String> {
    let (num, next) = parse_port_proto(s)?;
    let num = u8::try_from(num).map_err(|_| format!("IP protocol {num} is not a number from 0 to 255"))?;
    Ok((num, next))
}

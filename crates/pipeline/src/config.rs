//! A pipeline's typed configuration: where frames come from, what the lane does to them, and
//! where they go. `detunnel decap` builds one from its flags, `detunnel serve` from the typed
//! `[pipelines.NAME]` tables of its configuration file ([`PipelineSpec`]), and `detunnel
//! flows` from its own; sources and sinks are also written as short strings
//! (`vxlan://0.0.0.0:4789`, `iface:eth1`, `file:/var/cap/x.pcapng`, `tap:mon0`, `flows`).
use capture::encap::Target;
use capture::endpoint::Endpoint;
use capture::{Compression, Format, Rotation};
use serde::Deserialize;

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A capture file (pcap or pcapng, plain or read from standard input as `-`); several
    /// are merged by timestamp, as mergecap does.
    File(String),
    /// A tunnel endpoint terminated by detunnel itself.
    Endpoint(Endpoint),
    /// An interface's AF_PACKET ring.
    Interface(String),
}

impl Source {
    /// Reads `iface:NAME`, `file:PATH` or a tunnel endpoint URL (`vxlan://0.0.0.0:4789`).
    pub fn parse(s: &str) -> Result<Source, String> {
        if let Some(name) = s.strip_prefix("iface:") {
            return check_interface_name(name).map(|()| Source::Interface(name.to_string()));
        }
        if let Some(path) = s.strip_prefix("file:") {
            return Ok(Source::File(path.to_string()));
        }
        if s.contains("://") {
            return Endpoint::parse(s).map(Source::Endpoint);
        }
        Err(format!("`{s}`: a source is KIND://ADDRESS[:PORT] (a tunnel endpoint), iface:NAME or file:PATH"))
    }

    /// True for the sources that run until stopped.
    pub fn is_live(&self) -> bool {
        !matches!(self, Source::File(_))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "file:{p}"),
            Source::Endpoint(e) => write!(f, "{}://{}", e.kind.scheme(), e.addr),
            Source::Interface(i) => write!(f, "iface:{i}"),
        }
    }
}

/// A capture file output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSink {
    /// The file (`-` for standard output); `%Y %m %d %H %M %S` are replaced by the time of
    /// each file's first frame. `None` writes only the per-stream files of `split_streams`.
    pub path: Option<String>,
    /// pcap or pcapng.
    pub format: Format,
    /// Each file (the streams' files too) compressed so (by default, as the name says).
    pub compression: Option<Compression>,
    /// When to start a new file (its `retry` is set for live sources).
    pub rotation: Rotation,
    /// Also write one file per tunnel stream into this folder.
    pub split_streams: Option<String>,
}

impl FileSink {
    /// A file output in the format its name implies, not rotated.
    pub fn new(path: &str) -> FileSink {
        FileSink {
            path: Some(path.to_string()),
            format: Format::from_path(path),
            compression: Compression::from_path(path),
            rotation: Rotation::default(),
            split_streams: None,
        }
    }
}

/// Where frames go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// The stripped frames into a capture file.
    File(FileSink),
    /// The stripped frames into a TAP interface.
    Tap(String),
    /// The stripped frames re-encapsulated to a remote tool.
    Tunnel(Target),
    /// The stripped frames onto a network interface (a tool port).
    Port(String),
    /// Every frame the pipeline accepts (1 in `sample` of them, counted as `sample` frames),
    /// decoded, into the flow engine.
    Flows {
        /// Count 1 in this many frames.
        sample: u64,
    },
    /// Every frame the pipeline accepts (1 in `sample`, standing for `sample` frames), decoded,
    /// as a record of the daemon's exports (`[export.kafka]`, `[export.ipfix]`).
    Export {
        /// Export 1 in this many frames.
        sample: u64,
    },
}

impl Sink {
    /// Reads `flows`, `flows:N` (1 in N frames), `export`, `export:N`, `file:PATH`,
    /// `tap:NAME`, `out:IFACE` or a tunnel URL (`vxlan://tool:4789?vni=7`, `gre://...`,
    /// `erspan3://...`).
    pub fn parse(s: &str) -> Result<Sink, String> {
        let flows = |sample| Sink::Flows { sample };
        let export = |sample| Sink::Export { sample };
        for (name, sink) in [("flows", &flows as &dyn Fn(u64) -> Sink), ("export", &export)] {
            if s == name {
                return Ok(sink(1));
            }
            if let Some(n) = s.strip_prefix(name).and_then(|r| r.strip_prefix(':')) {
                let sample = n
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("`{s}`: {name}:N needs N of 1 or more"))?;
                return Ok(sink(sample));
            }
        }
        if let Some(path) = s.strip_prefix("file:") {
            return Ok(Sink::File(FileSink::new(path)));
        }
        if let Some(name) = s.strip_prefix("tap:") {
            return check_interface_name(name).map(|()| Sink::Tap(name.to_string()));
        }
        if let Some(name) = s.strip_prefix("out:") {
            return check_interface_name(name).map(|()| Sink::Port(name.to_string()));
        }
        if s.contains("://") {
            return Target::parse(s).map(Sink::Tunnel);
        }
        Err(format!(
            "`{s}`: a sink is flows, flows:N, export, export:N, file:PATH, tap:NAME, out:IFACE or a tunnel URL (vxlan://HOST?vni=N, ...)"
        ))
    }

    /// True for the sinks that take decoded frames (flows, export) rather than stripped ones.
    pub fn counts(&self) -> bool {
        matches!(self, Sink::Flows { .. } | Sink::Export { .. })
    }
}

/// Refuses a name no interface can have (the kernel's limit is 15 bytes).
fn check_interface_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', ':']) {
        return Err(format!("`{name}` is not an interface name (1 to 15 characters, no `/`, `:` or space)"));
    }
    Ok(())
}

/// Everything a pipeline does.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Where frames come from: capture files, or live sources (not both).
    pub sources: Vec<Source>,
    /// Receiving threads per live source.
    pub workers: usize,
    /// Interfaces are captured in promiscuous mode.
    pub promiscuous: bool,
    /// Interfaces and endpoints are received through AF_XDP (an XDP program hands their
    /// frames to sockets sharing memory with detunnel) instead of AF_PACKET rings and UDP or
    /// raw sockets.
    pub xdp: bool,
    /// Each live worker's receive buffer, MiB: its ring on an interface, its socket's buffer
    /// on an endpoint; what is held while the worker is busy.
    pub buffer_mib: u32,
    /// The decoder's configuration.
    pub decoder: dissect::Config,
    /// Only frames that pass this filter go on.
    pub filter: Option<String>,
    /// The address groups and value maps the filter may name.
    pub context: query::Context,
    /// What decapsulation emits.
    pub decap: decap::Options,
    /// Frame times from ERSPAN III timestamps.
    pub erspan_timestamps: bool,
    /// Drop a frame identical to one emitted within this many milliseconds.
    pub dedup_ms: Option<u64>,
    /// Spread frames over the TAP and tunnel sinks by conversation instead of copying them.
    pub balance: bool,
    /// Where frames go.
    pub sinks: Vec<Sink>,
    /// Frames holding sFlow datagrams stand for the packets they sample: each sampled header,
    /// decoded, goes to the flows sink as `sampling_rate` frames with its provenance (agent,
    /// data source, interfaces); other frames are not counted.
    pub sflow: bool,
    /// Stop after this many frames out (emitted, or counted when only the flow engine takes
    /// them), as tcpdump's `-c` does.
    pub count: Option<u64>,
}

impl PipelineConfig {
    /// A pipeline from `sources` to `sinks` doing nothing else (the decoder's defaults).
    pub fn new(sources: Vec<Source>, sinks: Vec<Sink>) -> PipelineConfig {
        PipelineConfig {
            sources,
            workers: 1,
            promiscuous: false,
            xdp: false,
            buffer_mib: capture::DEFAULT_BUFFER_MIB,
            decoder: dissect::Config::default(),
            filter: None,
            context: query::Context::new(),
            decap: decap::Options::default(),
            erspan_timestamps: false,
            dedup_ms: None,
            balance: false,
            sinks,
            sflow: false,
            count: None,
        }
    }

    /// True when the sources run until stopped.
    pub fn is_live(&self) -> bool {
        self.sources.iter().any(Source::is_live)
    }

    /// Checks the configuration makes a pipeline: at least one source and one sink, files and
    /// live sources not mixed, one flows sink at most.
    pub fn check(&self) -> Result<(), String> {
        if self.sources.is_empty() {
            return Err("a pipeline needs a source".into());
        }
        if self.sinks.is_empty() {
            return Err("a pipeline needs a sink (a file, a TAP, a tunnel or flows)".into());
        }
        if self.is_live() && self.sources.iter().any(|s| !s.is_live()) {
            return Err("capture files and live sources cannot be read by one pipeline".into());
        }
        if self.sinks.iter().filter(|s| matches!(s, Sink::Flows { .. })).count() > 1 {
            return Err("a pipeline counts into the flow engine once: one flows sink".into());
        }
        if self.sinks.iter().filter(|s| matches!(s, Sink::Export { .. })).count() > 1 {
            return Err("a pipeline exports its frames once: one export sink".into());
        }
        if self.workers == 0 || self.workers > 64 {
            return Err(format!("workers = {}: from 1 to 64", self.workers));
        }
        if self.xdp && !self.is_live() {
            return Err(
                "AF_XDP (xdp, --xdp) receives from interfaces and endpoints, not capture files".into()
            );
        }
        if self.xdp && self.promiscuous {
            return Err(
                "promiscuous mode is for capture rings; with AF_XDP set it on the interface (ip link set IFACE promisc on)"
                    .into(),
            );
        }
        Ok(())
    }
}

/// A pipeline as `[pipelines.NAME]` writes it in `detunnel.toml`. Unknown settings are errors
/// naming them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// Sources: `vxlan://0.0.0.0:4789`, `gre://0.0.0.0`, `iface:eth1`, `file:x.pcap`.
    pub sources: Vec<String>,
    /// Sinks: `flows`, `file:PATH`, `tap:NAME`, a tunnel URL, or a table (a file with rotation).
    pub sinks: Vec<SinkSpec>,
    /// Receiving threads per live source.
    #[serde(default = "one")]
    pub workers: usize,
    /// Capture interfaces in promiscuous mode.
    #[serde(default)]
    pub promiscuous: bool,
    /// Receive interfaces and endpoints through AF_XDP.
    #[serde(default)]
    pub xdp: bool,
    /// Each live worker's receive buffer (ring or socket), MiB.
    #[serde(default = "default_buffer_mib")]
    pub buffer_mib: u32,
    /// Only frames that pass this filter.
    pub filter: Option<String>,
    /// Tunnel kinds to strip (`gre`, `erspan`, `vxlan`, ... or `all`).
    pub strip: Option<Vec<String>>,
    /// Strip only the N outermost tunnels.
    pub depth: Option<usize>,
    /// Tags to remove: `vlan`, `vntag`, `etag`, `mpls`.
    #[serde(default)]
    pub strip_tags: Vec<String>,
    /// Drop frames without a tunnel.
    #[serde(default)]
    pub only_tunnelled: bool,
    /// Emit PPP control frames inside tunnels instead of dropping them.
    #[serde(default)]
    pub keep_control: bool,
    /// Cut emitted frames to this many bytes.
    pub snaplen: Option<usize>,
    /// Drop a frame identical to one emitted within this many milliseconds.
    pub dedup: Option<u64>,
    /// `capture` or `erspan`.
    pub timestamps: Option<String>,
    /// Addresses of synthesized Ethernet headers, `SRC,DST`.
    pub synth_mac: Option<String>,
    /// Spread frames over the TAPs and tunnels by conversation.
    #[serde(default)]
    pub balance: bool,
}

fn default_buffer_mib() -> u32 {
    capture::DEFAULT_BUFFER_MIB
}

fn one() -> usize {
    1
}

/// A sink as the configuration file writes it: a string, or a table for a file with options
/// or a sampled flows sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SinkSpec {
    /// As [`Sink::parse`] reads it.
    Short(String),
    /// A table.
    Table(SinkTable),
}

/// A sink written as a table: exactly one of `file`, `flows`, `tap` or `to`, with options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkTable {
    /// A capture file.
    pub file: Option<String>,
    /// The flow engine.
    pub flows: Option<bool>,
    /// The daemon's exports.
    pub export: Option<bool>,
    /// A TAP interface.
    pub tap: Option<String>,
    /// A tool port (a network interface).
    pub out: Option<String>,
    /// A tunnel URL.
    pub to: Option<String>,
    /// File: `pcap` or `pcapng` (by default by the name).
    pub format: Option<String>,
    /// File: `gzip`, `zstd` or `lz4` (by default by the name's last extension).
    pub compress: Option<String>,
    /// File: a new file past this many million bytes.
    pub rotate_mb: Option<u64>,
    /// File: a new file this many seconds after a file's first frame.
    pub rotate_seconds: Option<u64>,
    /// File: also one file per tunnel stream in this folder.
    pub split_streams: Option<String>,
    /// Flows and export: take 1 in this many frames.
    pub sample: Option<u64>,
}

impl SinkSpec {
    /// The sink this describes.
    pub fn sink(&self) -> Result<Sink, String> {
        let t = match self {
            SinkSpec::Short(s) => return Sink::parse(s),
            SinkSpec::Table(t) => t,
        };
        let given = [
            t.file.is_some(),
            t.flows == Some(true),
            t.export == Some(true),
            t.tap.is_some(),
            t.to.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err("a sink table names one of file, flows = true, export = true, tap or to".into());
        }
        let file_options = t.format.is_some()
            || t.compress.is_some()
            || t.rotate_mb.is_some()
            || t.rotate_seconds.is_some()
            || t.split_streams.is_some();
        if t.file.is_none() && file_options {
            return Err(
                "format, compress, rotate_mb, rotate_seconds and split_streams are options of a file sink"
                    .into(),
            );
        }
        if t.flows != Some(true) && t.export != Some(true) && t.sample.is_some() {
            return Err("sample is an option of the flows and export sinks".into());
        }
        if let Some(path) = &t.file {
            let format = match t.format.as_deref() {
                None => Format::from_path(path),
                Some("pcap") => Format::Pcap,
                Some("pcapng") => Format::Pcapng,
                Some(other) => return Err(format!("format `{other}`: pcap or pcapng")),
            };
            let rotation = Rotation {
                size_bytes: t.rotate_mb.map(|mb| mb.saturating_mul(1_000_000)),
                seconds: t.rotate_seconds,
                retry: false,
            };
            let split_streams = t.split_streams.clone();
            let compression = match t.compress.as_deref() {
                None => Compression::from_path(path),
                Some(name) => Some(Compression::parse(name)?),
            };
            let path = Some(path.clone());
            return Ok(Sink::File(FileSink { path, format, compression, rotation, split_streams }));
        }
        if t.flows == Some(true) || t.export == Some(true) {
            let sample = t.sample.unwrap_or(1);
            if sample == 0 {
                return Err("sample = 0: count 1 in N frames with N of 1 or more".into());
            }
            return Ok(if t.flows == Some(true) { Sink::Flows { sample } } else { Sink::Export { sample } });
        }
        if let Some(name) = &t.tap {
            return Sink::parse(&format!("tap:{name}"));
        }
        if let Some(name) = &t.out {
            return Sink::parse(&format!("out:{name}"));
        }
        Sink::parse(t.to.as_deref().unwrap_or(""))
    }
}

impl PipelineSpec {
    /// The pipeline this describes, decoding with `decoder` and filtering with the groups
    /// and maps of `context`.
    pub fn config(
        &self,
        decoder: dissect::Config,
        context: query::Context,
    ) -> Result<PipelineConfig, String> {
        let sources = self.sources.iter().map(|s| Source::parse(s)).collect::<Result<Vec<_>, _>>()?;
        let sinks = self.sinks.iter().map(SinkSpec::sink).collect::<Result<Vec<_>, _>>()?;
        let strip = match &self.strip {
            Some(kinds) => decap::TunnelSet::parse(&kinds.join(","))?,
            None => decap::TunnelSet::ALL,
        };
        let strip_tags = decap::Tag::parse_list(&self.strip_tags.join(","))?;
        let erspan_timestamps = match self.timestamps.as_deref() {
            None | Some("capture") => false,
            Some("erspan") => true,
            Some(other) => return Err(format!("timestamps = `{other}`: capture or erspan")),
        };
        let synth_macs = self.synth_mac.as_deref().map(parse_mac_pair).transpose()?;
        let sizes = capture::BUFFER_MIB;
        if !sizes.contains(&self.buffer_mib) {
            return Err(format!(
                "buffer_mib = {}: {} to {} MiB",
                self.buffer_mib,
                sizes.start(),
                sizes.end()
            ));
        }
        let config = PipelineConfig {
            sources,
            workers: self.workers,
            promiscuous: self.promiscuous,
            xdp: self.xdp,
            buffer_mib: self.buffer_mib,
            decoder,
            filter: self.filter.clone(),
            context,
            decap: decap::Options {
                strip,
                depth: self.depth,
                strip_tags,
                only_tunnelled: self.only_tunnelled,
                keep_control: self.keep_control,
                snaplen: self.snaplen,
                synth_macs,
            },
            erspan_timestamps,
            dedup_ms: self.dedup,
            balance: self.balance,
            sinks,
            sflow: false,
            count: None,
        };
        config.check()?;
        Ok(config)
    }
}

/// Reads a MAC address like `02:00:00:00:00:01`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let bad = || format!("`{s}` is not a MAC address like 02:00:00:00:00:01");
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        m[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(m)
}

/// Reads `SRC,DST` MAC addresses.
pub fn parse_mac_pair(s: &str) -> Result<([u8; 6], [u8; 6]), String> {
    let (a, b) = s.split_once(',').ok_or_else(|| format!("expected SRC,DST MAC addresses, got `{s}`"))?;
    Ok((parse_mac(a)?, parse_mac(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_sinks_from_strings() {
        assert!(matches!(Source::parse("vxlan://0.0.0.0:4789"), Ok(Source::Endpoint(_))));
        assert_eq!(Source::parse("iface:eth1"), Ok(Source::Interface("eth1".into())));
        assert!(Source::parse("iface:much-too-long-name").unwrap_err().contains("15 characters"));
        assert!(Source::parse("eth1").unwrap_err().contains("iface:NAME"));
        assert_eq!(Sink::parse("flows"), Ok(Sink::Flows { sample: 1 }));
        assert_eq!(Sink::parse("flows:100"), Ok(Sink::Flows { sample: 100 }));
        assert!(Sink::parse("flows:0").is_err());
        assert_eq!(Sink::parse("export"), Ok(Sink::Export { sample: 1 }));
        assert_eq!(Sink::parse("export:10"), Ok(Sink::Export { sample: 10 }));
        assert!(Sink::parse("export:").is_err());
        assert!(
            matches!(Sink::parse("file:/var/cap/x.pcapng"), Ok(Sink::File(f)) if f.format == Format::Pcapng)
        );
        assert_eq!(Sink::parse("tap:mon0"), Ok(Sink::Tap("mon0".into())));
        assert!(Sink::parse("tap:a-tap-name-too-long").unwrap_err().contains("15 characters"));
        assert!(matches!(Sink::parse("vxlan://127.0.0.1:4789?vni=7"), Ok(Sink::Tunnel(_))));
        assert!(Sink::parse("vxlan://127.0.0.1").unwrap_err().contains("vni"));
    }

    #[test]
    fn a_spec_from_toml() {
        let spec: PipelineSpec = toml::from_str(
            r#"
            sources = ["vxlan://127.0.0.1:4789", "gre://0.0.0.0"]
            sinks = ["flows", { file = "/tmp/x-%H.pcapng", rotate_seconds = 300, compress = "zstd" }, "tap:mon0", "file:/tmp/y.pcap.gz"]
            filter = "vxlanvni=7"
            strip_tags = ["vlan"]
            dedup = 5
            "#,
        )
        .unwrap();
        let c = spec.config(dissect::Config::default(), query::Context::new()).unwrap();
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.buffer_mib, 64);
        assert_eq!(c.sinks[0], Sink::Flows { sample: 1 });
        let Sink::File(f) = &c.sinks[1] else { panic!("{:?}", c.sinks[1]) };
        assert_eq!(
            (f.rotation.seconds, f.format, f.compression),
            (Some(300), Format::Pcapng, Some(Compression::Zstd))
        );
        let Sink::File(g) = &c.sinks[3] else { panic!("{:?}", c.sinks[3]) };
        assert_eq!((g.format, g.compression), (Format::Pcap, Some(Compression::Gzip)));
        let buffer = |mib: u32| {
            let toml = format!("sources = [\"iface:eth0\"]\nsinks = [\"flows\"]\nbuffer_mib = {mib}");
            let spec: PipelineSpec = toml::from_str(&toml).unwrap();
            spec.config(dissect::Config::default(), query::Context::new()).map(|c| c.buffer_mib)
        };
        assert_eq!(buffer(256), Ok(256));
        assert_eq!(buffer(2), Err("buffer_mib = 2: 4 to 4095 MiB".to_string()));
        let xz: PipelineSpec =
            toml::from_str("sources = [\"file:x.pcap\"]\nsinks = [{ file = \"y\", compress = \"xz\" }]")
                .unwrap();
        let e = xz.config(dissect::Config::default(), query::Context::new()).unwrap_err();
        assert!(e.contains("known: gzip, zstd, lz4"), "{e}");
        assert_eq!(c.decap.strip_tags, vec![decap::Tag::Vlan]);
        let e = toml::from_str::<PipelineSpec>("sources = []\nsinks = []\nstrip_tag = []\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `strip_tag`"), "{e}");
        let bad: PipelineSpec =
            toml::from_str("sources = [\"iface:eth0\"]\nsinks = [{ tap = \"t\", sample = 3 }]").unwrap();
        assert!(bad
            .config(dissect::Config::default(), query::Context::new())
            .unwrap_err()
            .contains("sample"));
        let mixed: PipelineSpec =
            toml::from_str("sources = [\"iface:eth0\", \"file:x.pcap\"]\nsinks = [\"flows\"]").unwrap();
        assert!(mixed
            .config(dissect::Config::default(), query::Context::new())
            .unwrap_err()
            .contains("cannot"));
    }

    #[test]
    fn af_xdp_is_for_live_sources_without_promiscuous_mode() {
        let config = |toml: &str| {
            let spec: PipelineSpec = toml::from_str(toml).unwrap();
            spec.config(dissect::Config::default(), query::Context::new())
                .and_then(|c| c.check().map(|()| c.xdp))
        };
        assert_eq!(config("sources = [\"iface:eth0\"]\nsinks = [\"flows\"]\nxdp = true"), Ok(true));
        let e = config("sources = [\"file:x.pcap\"]\nsinks = [\"flows\"]\nxdp = true").unwrap_err();
        assert!(e.contains("not capture files"), "{e}");
        let e = config("sources = [\"iface:eth0\"]\nsinks = [\"flows\"]\nxdp = true\npromiscuous = true")
            .unwrap_err();
        assert!(e.contains("promisc on"), "{e}");
    }
}

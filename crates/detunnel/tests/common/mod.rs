//! Helpers shared by the integration tests: temporary folders, outside tools, and the
//! tshark field comparison that `../shared/captures/compare.py` also performs.
#![allow(dead_code)]

use capture::FileReader;
use dissect::{Dissector, Proto, Stack};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The detunnel binary under test.
pub fn detunnel() -> &'static str {
    env!("CARGO_BIN_EXE_detunnel")
}

/// A temporary folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates a fresh folder named after `tag`.
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("detunnel-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    /// A path inside the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The frames of the capture at `path`, in order (a capture that cannot be read fails the
/// test).
pub fn frames_in(path: &Path) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    FileReader::open(path.to_str().unwrap())
        .unwrap()
        .for_each(|f| {
            v.push(f.data.to_vec());
            ControlFlow::Continue(())
        })
        .unwrap();
    v
}

/// Says that the running test skips its work and why, on standard error itself: `cargo test`
/// shows it without `--nocapture` (it captures only what `eprintln!` writes).
pub fn skip(why: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
}

/// True when `tool` runs here. In CI (CI set) a missing tool is a failure; elsewhere the
/// caller skips with a printed notice.
pub fn have_tool(tool: &str) -> bool {
    let runs =
        |flag: &str| Command::new(tool).arg(flag).output().map(|o| o.status.success()).unwrap_or(false);
    // `ip` and pmacct answer -V rather than --version.
    let ok = runs("--version") || runs("-V");
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "{tool} is required in CI but is not installed");
        skip(&format!("{tool} is not installed"));
    }
    ok
}

/// The captures folder from DETUNNEL_CAPTURES, or None (with a notice) when it is unset.
pub fn captures() -> Option<PathBuf> {
    match std::env::var_os("DETUNNEL_CAPTURES") {
        Some(p) => {
            // A relative path is taken from the workspace root, where README's commands run.
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let p = root.join(PathBuf::from(p));
            assert!(p.is_dir(), "DETUNNEL_CAPTURES={} is not a folder", p.display());
            Some(p)
        }
        None => {
            skip("DETUNNEL_CAPTURES is not set");
            None
        }
    }
}

/// tshark fields and the detunnel field family each maps to, with the protocol token that
/// carries it (the same table compare.py uses).
pub const FAMILIES: &[(&str, &str, &str)] = &[
    ("eth.src", "macsource", "eth"),
    ("eth.dst", "macdestination", "eth"),
    ("vlan.id", "vlan", "vlan"),
    ("mpls.label", "mplslabel", "mpls"),
    ("ip.src", "ipsource", "ip"),
    ("ip.dst", "ipdestination", "ip"),
    ("ip.proto", "ipprotocol", "ip"),
    ("ipv6.src", "ip6source", "ipv6"),
    ("ipv6.dst", "ip6destination", "ipv6"),
    ("tcp.srcport", "tcpsourceport", "tcp"),
    ("tcp.dstport", "tcpdestinationport", "tcp"),
    ("udp.srcport", "udpsourceport", "udp"),
    ("udp.dstport", "udpdestinationport", "udp"),
    ("gre.key", "grekey", "gre"),
    ("erspan.spanid", "erspansession", "erspan"),
    ("vxlan.vni", "vxlanvni", "vxlan"),
    ("geneve.vni", "genevevni", "geneve"),
];

/// Decodes `pcap` with tshark (plus `extra` arguments) into one map per frame of
/// `detunnel name (with depth suffix) -> normalised value`.
pub fn tshark_fields(pcap: &Path, extra: &[&str]) -> Vec<BTreeMap<String, String>> {
    let conf = TempDir::new("wsconf");
    let mut cmd = Command::new("tshark");
    cmd.env("WIRESHARK_CONFIG_DIR", &conf.0).env("LC_ALL", "C").arg("-n").arg("-r").arg(pcap);
    cmd.args(extra);
    cmd.args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]);
    cmd.args(["-e", "frame.protocols"]);
    for (f, _, _) in FAMILIES {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
    let cut = ["icmp", "icmpv6", "sflow", "data", "dns"];
    // tshark 4.0 files 802.1ad S-tags, PBB customer addresses and 802.11 addresses under
    // other fields, so those families are not compared in such frames (as compare.py does).
    let skip_if: [(&str, &str); 5] = [
        ("vlan", "ieee8021ad"),
        ("macsource", "ieee8021ah"),
        ("macdestination", "ieee8021ah"),
        ("macsource", "wlan"),
        ("macdestination", "wlan"),
    ];
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for t in cols[0].split(':') {
                if cut.contains(&t) {
                    break;
                }
                *counts.entry(t).or_default() += 1;
            }
            let mut m = BTreeMap::new();
            let tokens: Vec<&str> = cols[0].split(':').collect();
            for (i, (_, name, token)) in FAMILIES.iter().enumerate() {
                if skip_if.iter().any(|(f, t)| f == name && tokens.contains(t)) {
                    m.insert(format!("skip:{name}"), String::new());
                    continue;
                }
                let raw = cols.get(i + 1).copied().unwrap_or("");
                let allowed = counts.get(token).copied().unwrap_or(0);
                for (n, v) in raw.split(',').filter(|v| !v.is_empty()).take(allowed).enumerate() {
                    m.insert(suffixed(name, n), normalise(v));
                }
            }
            m
        })
        .collect()
}

fn suffixed(name: &str, n: usize) -> String {
    if n == 0 {
        name.to_string()
    } else {
        format!("{name}.{n}")
    }
}

fn normalise(v: &str) -> String {
    let v = v.trim().to_ascii_lowercase();
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).map(|n| n.to_string()).unwrap_or(v),
        None => v,
    }
}

/// Drops from `got` the families tshark could not represent in `want` (marked `skip:`).
pub fn without_skipped(want: &mut BTreeMap<String, String>, got: &mut BTreeMap<String, String>) {
    let skipped: Vec<String> =
        want.keys().filter_map(|k| k.strip_prefix("skip:")).map(str::to_string).collect();
    want.retain(|k, _| !k.starts_with("skip:"));
    got.retain(|k, _| !skipped.iter().any(|s| k.split('.').next() == Some(s.as_str())));
}

/// Adds `inner` (fields of a packet tshark decoded on its own) to `outer` as the deeper
/// occurrences: each name's depth suffix is moved past the occurrences `outer` has.
pub fn continue_with(outer: &mut BTreeMap<String, String>, inner: BTreeMap<String, String>) {
    let base_count = |m: &BTreeMap<String, String>, base: &str| {
        m.keys().filter(|k| k.split('.').next() == Some(base)).count()
    };
    let counts: BTreeMap<String, usize> = inner
        .keys()
        .map(|k| k.split('.').next().unwrap().to_string())
        .map(|b| {
            let n = base_count(outer, &b);
            (b, n)
        })
        .collect();
    for (k, v) in inner {
        let mut parts = k.splitn(2, '.');
        let base = parts.next().unwrap();
        let n: usize = parts.next().map(|d| d.parse().unwrap()).unwrap_or(0);
        outer.insert(suffixed(base, n + counts[base]), v);
    }
}

/// Runs `detunnel inspect --json` (plus `extra` flags) and returns, per frame, the fields
/// of the compared families.
pub fn detunnel_fields(pcap: &Path, extra: &[&str]) -> Vec<BTreeMap<String, String>> {
    let out = Command::new(detunnel())
        .args(["inspect", "-q", "--json", "-r"])
        .arg(pcap)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "inspect failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let mut m = BTreeMap::new();
            let fields =
                line.split("\"fields\": {").nth(1).unwrap().split("}, \"anomalies\"").next().unwrap();
            for kv in fields.split(", \"").map(|s| s.trim_start_matches('"')) {
                let Some((k, v)) = kv.split_once("\": ") else { continue };
                let base = k.split('.').next().unwrap();
                if FAMILIES.iter().any(|(_, n, _)| *n == base) {
                    m.insert(k.to_string(), normalise(v.trim_matches('"')));
                }
            }
            m
        })
        .collect()
}

/// Every capture file (pcap or pcapng) in `dir`, sorted.
pub fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    paths.sort();
    paths
}

/// Protocols after which tshark decodes data that is not a tunnelled frame (as compare.py).
pub const CUT: &[&str] = &["icmp", "icmpv6", "sflow", "cflow", "pim", "data", "snmp", "dns", "bootp", "dhcp"];

/// One frame of a tshark oracle file.
pub struct OracleFrame {
    /// Column name to its text.
    pub columns: BTreeMap<String, String>,
    /// How many times each protocol token occurs before the first `CUT` protocol.
    pub counts: BTreeMap<String, usize>,
}

impl OracleFrame {
    /// The values of `column` that belong to the frame's own headers (before the cut).
    pub fn values(&self, column: &str, token: &str) -> Vec<String> {
        let allowed = self.counts.get(token).copied().unwrap_or(0);
        let raw = self.columns.get(column).map(String::as_str).unwrap_or("");
        raw.split(',').filter(|v| !v.is_empty()).take(allowed).map(|v| v.to_ascii_lowercase()).collect()
    }
}

/// Reads an oracle file (`NAME.oracle.tsv`).
pub fn read_oracle(path: &Path) -> Vec<OracleFrame> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|line| {
            let columns: BTreeMap<String, String> = header
                .iter()
                .zip(line.split('\t').chain(std::iter::repeat("")))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect();
            let mut counts = BTreeMap::new();
            for t in columns["frame.protocols"].split(':') {
                if CUT.contains(&t) {
                    break;
                }
                *counts.entry(t.to_string()).or_default() += 1;
            }
            OracleFrame { columns, counts }
        })
        .collect()
}

/// The UDP payloads of the sFlow datagrams in a capture, by frame.
pub fn datagrams(path: &Path) -> Vec<Option<Vec<u8>>> {
    let mut d = Dissector::default();
    let mut stack = Stack::new();
    let mut out = Vec::new();
    FileReader::open(path.to_str().unwrap())
        .unwrap()
        .for_each(|f| {
            d.dissect(f.data, f.link, &mut stack);
            out.push(
                stack
                    .layers()
                    .iter()
                    .find(|l| l.proto == Proto::Sflow)
                    .map(|l| f.data[l.offset as usize..].to_vec()),
            );
            ControlFlow::Continue(())
        })
        .unwrap();
    out
}

/// tshark's values of `fields` for every frame of `path`, a row per frame, several occurrences
/// of a field joined by commas.
pub fn tshark_rows(path: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(path).args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Runs `detunnel decap --stats json -r input -w output` with `extra` flags, failing the test
/// when it fails, and returns its summary.
pub fn decap_file(input: &Path, output: &Path, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(detunnel())
        .args(["decap", "--stats", "json"])
        .args(extra)
        .arg("-r")
        .arg(input)
        .arg("-w")
        .arg(output)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "decap {extra:?}: {text}");
    serde_json::from_str(text.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// True when running as root; in CI not being root is a failure, elsewhere a skip notice.
pub fn root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().next());
    let ok = uid == Some("0");
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "the namespace tests need root in CI");
        skip("not root");
    }
    ok
}

/// Runs `ip ARGS`, failing the test when it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// Starts `cmd` as the leader of a process group of its own, so that ending the group ends
/// every process it started (pmacctd's plugins, whatever `ip netns exec` runs).
pub fn spawn_group(cmd: &mut Command) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0).spawn().unwrap()
}

/// Kills the process group `child` leads (see [`spawn_group`]), or `child` alone when it
/// leads none, and reaps it.
pub fn kill_group(child: &mut std::process::Child) {
    let group = format!("-{}", child.id());
    let _ =
        Command::new("/bin/kill").args(["-KILL", "--", &group]).stderr(std::process::Stdio::null()).status();
    let _ = child.kill();
    let _ = child.wait();
}

/// The names of the processes running in network namespace `ns`.
pub fn processes_in(ns: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "pids", ns]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
        .map(|c| c.trim().to_string())
        .collect()
}

/// A child process stopped with a signal (`-INT`, `-TERM`) by `stop`, or killed with its
/// process group on drop.
pub struct Running(pub Option<std::process::Child>, pub &'static str);

impl Running {
    /// Sends the signal and waits; returns what the process wrote.
    pub fn stop(&mut self) -> std::process::Output {
        let child = self.0.take().unwrap();
        let _ = std::process::Command::new("/bin/kill").args([self.1, &child.id().to_string()]).status();
        child.wait_with_output().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            kill_group(&mut c);
        }
    }
}

pub mod kafka;
pub mod serve;
pub mod terminal;

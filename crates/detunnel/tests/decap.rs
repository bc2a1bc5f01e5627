//! `detunnel decap` on real captures and on generated traffic, read back by tshark.
mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

/// Protocol tokens tshark uses for tunnel layers.
const TUNNEL_TOKENS: &[&str] = &[
    "gre",
    "erspan",
    "vxlan",
    "geneve",
    "gtp",
    "teredo",
    "nsh",
    "pwethcw",
    "pwethnocw",
    "pwethheuristic",
    "ayiya",
    "cfp",
    "ieee8021ah",
    "trill",
];

fn decap(input: &Path, output: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(detunnel())
        .arg("decap")
        .arg("-r")
        .arg(input)
        .arg("-w")
        .arg(output)
        .args(["--stats", "json"])
        .args(extra)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
}

/// The numbers in the JSON array after `"name": [`.
fn json_list(stats: &str, name: &str) -> Vec<u64> {
    let Some(rest) = stats.split(&format!("\"{name}\": [")).nth(1) else { return vec![] };
    rest.split(']').next().unwrap().split(',').filter_map(|n| n.trim().parse().ok()).collect()
}

/// The values of `family` in `fields`, outermost first.
fn values(fields: &BTreeMap<String, String>, family: &str) -> Vec<String> {
    (0..)
        .map_while(|n| {
            fields.get(&if n == 0 { family.to_string() } else { format!("{family}.{n}") }).cloned()
        })
        .collect()
}

/// Families compared, with our stack token that carries each.
const SUFFIX_FAMILIES: &[(&str, &str)] = &[
    ("ipsource", "ip"),
    ("ipdestination", "ip"),
    ("ipprotocol", "ip"),
    ("ip6source", "ip6"),
    ("ip6destination", "ip6"),
    ("tcpsourceport", "tcp"),
    ("tcpdestinationport", "tcp"),
    ("udpsourceport", "udp"),
    ("udpdestinationport", "udp"),
];

/// tshark's protocol list for each frame of `pcap`, and its complaints.
fn tshark_protocols(pcap: &Path) -> (Vec<String>, String) {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-e", "frame.protocols"])
        .output()
        .unwrap();
    let warnings: String =
        String::from_utf8_lossy(&out.stderr).lines().filter(|l| !l.contains("Running as user")).collect();
    (String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect(), warnings)
}

/// Our decoder's stack of each input frame, as tokens.
fn stacks(pcap: &Path) -> Vec<Vec<String>> {
    let out = Command::new(detunnel()).args(["inspect", "-q", "--json", "-r"]).arg(pcap).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let stack = l.split("\"stack\": \"").nth(1).unwrap().split('"').next().unwrap();
            stack.split('.').filter(|t| !t.is_empty()).map(str::to_string).collect()
        })
        .collect()
}

/// Index of the first token after the innermost tunnel (0 when there is none).
fn inner_start(tokens: &[String]) -> usize {
    const TUNNELS: &[&str] = &[
        "gre",
        "erspan",
        "vxlan",
        "gpe",
        "geneve",
        "nsh",
        "gtp",
        "teredo",
        "ayiya",
        "l2tp",
        "pwcw",
        "pbb",
        "trill",
        "fabricpath",
    ];
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1).map(String::as_str);
        let ip_in_ip = matches!(t.as_str(), "ip" | "ip6") && matches!(next, Some("ip" | "ip6"));
        let mpls_in_udp = t == "udp" && next == Some("mpls");
        if TUNNELS.contains(&t.as_str()) || ip_in_ip || mpls_in_udp {
            start = i + 1;
        }
    }
    start
}

#[test]
fn every_capture_decapsulates_to_its_innermost_frames() {
    let Some(dir) = captures() else { return };
    if !have_tool("tshark") {
        return;
    }
    let tmp = TempDir::new("decap-captures");
    let exceptions =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/oracle-exceptions.md"))
            .unwrap();
    let paths = capture_files(&dir);
    let mut problems = Vec::new();
    let mut checked = 0;
    for input in paths {
        let name = input.file_name().unwrap().to_string_lossy().to_string();
        let output = tmp.join(&format!("{name}.out.pcap"));
        let (ok, stats) = decap(&input, &output, &[]);
        assert!(ok, "{name}: decap failed: {stats}");
        let (protocols, warnings) = tshark_protocols(&output);
        if !warnings.is_empty() {
            problems.push(format!("{name}: tshark warns: {warnings}"));
        }
        let oracle_path = input.with_file_name(format!("{name}.oracle.tsv"));
        let oracle = tshark_oracle(&oracle_path);
        let emitted_fields = tshark_fields(&output, &[]);
        let dropped = json_list(&stats, "dropped_frames");
        // A frame that completes an outer datagram carries that whole datagram.
        let reassembled = json_list(&stats, "reassembled_frames");
        let input_stacks = stacks(&input);
        let kept: Vec<usize> = (1..=oracle.len()).filter(|n| !dropped.contains(&(*n as u64))).collect();
        if kept.len() != emitted_fields.len() {
            problems.push(format!("{name}: {} frames kept but {} written", kept.len(), emitted_fields.len()));
            continue;
        }
        for (i, n) in kept.iter().enumerate() {
            let excepted = exceptions.lines().any(|l| l.starts_with(&format!("| {name} | {n} |")));
            let tokens = &input_stacks[n - 1];
            let start = inner_start(tokens);
            if start > 0 && protocols[i].split(':').any(|t| TUNNEL_TOKENS.contains(&t)) {
                problems.push(format!("{name} frame {n}: a tunnel is left: {}", protocols[i]));
            }
            // The emitted headers are exactly the input's headers after the innermost tunnel.
            for (family, token) in SUFFIX_FAMILIES.iter().filter(|_| !reassembled.contains(&(*n as u64))) {
                let all = values(&oracle[n - 1], family);
                let outer = tokens[..start].iter().filter(|t| t == token).count().min(all.len());
                let want = &all[outer..];
                let got = values(&emitted_fields[i], family);
                if want != got.as_slice() && !excepted {
                    problems.push(format!(
                        "{name} frame {n} ({}): {family} of the inner frame {want:?}, emitted {got:?}",
                        tokens.join(".")
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} frames checked");
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// An oracle file as one map per frame of detunnel field name to value.
fn tshark_oracle(path: &Path) -> Vec<BTreeMap<String, String>> {
    read_oracle(path)
        .iter()
        .map(|frame| {
            let mut m = BTreeMap::new();
            for (tfield, name, token) in FAMILIES {
                for (n, v) in frame.values(tfield, token).into_iter().enumerate() {
                    m.insert(if n == 0 { name.to_string() } else { format!("{name}.{n}") }, v);
                }
            }
            m
        })
        .collect()
}

#[test]
fn generated_mix_strips_cleanly_into_named_stream_interfaces() {
    if !have_tool("tshark") {
        return;
    }
    let tmp = TempDir::new("decap-mix");
    let input = tmp.join("mix.pcap");
    let st = Command::new(detunnel())
        .args([
            "generate",
            "-c",
            "3000",
            "--streams",
            "3",
            "--encap",
            "gre,nvgre,erspan1,erspan2,erspan3,vxlan,geneve,gpe,ipip,gtp,mpls,qinq",
            "--nest",
            "2",
            "-w",
        ])
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    // tshark decodes what generate writes, without complaint.
    let (protocols, warnings) = tshark_protocols(&input);
    assert!(warnings.is_empty(), "{warnings}");
    assert_eq!(protocols.len(), 3000);
    assert!(protocols.iter().all(|p| !p.contains("malformed")), "tshark finds malformed generated frames");
    let output = tmp.join("out.pcapng");
    let (ok, stats) = decap(&input, &output, &[]);
    assert!(ok, "{stats}");
    let (protocols, warnings) = tshark_protocols(&output);
    assert!(warnings.is_empty(), "{warnings}");
    assert_eq!(protocols.len(), 3000, "{stats}");
    for p in &protocols {
        assert!(!p.split(':').any(|t| TUNNEL_TOKENS.contains(&t)), "left over: {p}");
    }
    // Each stream is an interface named after it.
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&output)
        .args(["-T", "fields", "-e", "frame.interface_name"])
        .output()
        .unwrap();
    let names: std::collections::BTreeSet<String> =
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    assert!(
        names.iter().any(|n| n.starts_with("erspan3 10.0.0.") && n.contains(">10.255.0.1 session ")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("vxlan ") && n.contains(" vni 500")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("gre ") && n.contains(" key 10")), "{names:?}");
    assert!(stats.contains("\"streams\": [{\"name\": "), "{stats}");
}

#[test]
fn pipes_into_tcpdump_and_merges_inputs_by_time() {
    if !have_tool("tcpdump") {
        return;
    }
    let tmp = TempDir::new("decap-pipe");
    let a = tmp.join("a.pcap");
    let b = tmp.join("b.pcap");
    for (p, seed) in [(&a, "1"), (&b, "2")] {
        assert!(Command::new(detunnel())
            .args(["generate", "-c", "50", "--seed", seed, "-w"])
            .arg(p)
            .status()
            .unwrap()
            .success());
    }
    let mut child = Command::new(detunnel())
        .args(["decap", "-q", "-r"])
        .arg(&a)
        .arg("-r")
        .arg(&b)
        .args(["-w", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let tcpdump = Command::new("tcpdump")
        .args(["-n", "-tt", "-r", "-"])
        .stdin(child.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let text = String::from_utf8_lossy(&tcpdump.stdout);
    let times: Vec<f64> =
        text.lines().map(|l| l.split_whitespace().next().unwrap().parse().unwrap()).collect();
    assert_eq!(times.len(), 100, "{}", String::from_utf8_lossy(&tcpdump.stderr));
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "merged output is in time order");
    assert!(text.lines().all(|l| l.contains(" IP 192.168.")), "inner frames only");
}

#[test]
fn bad_input_and_outputs_give_clear_errors() {
    let tmp = TempDir::new("decap-bad");
    let input = tmp.join("in.pcap");
    let generate = ["generate", "-c", "20", "--size", "100", "--encap", "vxlan", "-w"];
    assert!(Command::new(detunnel()).args(generate).arg(&input).status().unwrap().success());
    // Cut the file inside its 11th record.
    let mut bytes = std::fs::read(&input).unwrap();
    let record_len = (bytes.len() - 24) / 20;
    bytes.truncate(24 + 10 * record_len + 30);
    let cut = tmp.join("cut.pcap");
    std::fs::write(&cut, &bytes).unwrap();
    let output = tmp.join("out.pcap");
    let out = Command::new(detunnel())
        .arg("decap")
        .arg("-q")
        .arg("-r")
        .arg(&cut)
        .arg("-w")
        .arg(&output)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cut.pcap")
            && err.contains("record 11")
            && err.contains(&format!("byte offset {}", 24 + 10 * record_len)),
        "{err}"
    );
    // What was written before the error is a whole, readable capture.
    assert_eq!(common::frames_in(&output).len(), 10);
    // Not a capture at all.
    let junk = tmp.join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture file at all").unwrap();
    let out = Command::new(detunnel())
        .arg("decap")
        .arg("-r")
        .arg(&junk)
        .arg("-w")
        .arg(tmp.join("o2.pcap"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.pcap: not a pcap or pcapng file"));
    // An output that cannot be created.
    let out = Command::new(detunnel())
        .arg("decap")
        .arg("-r")
        .arg(&input)
        .args(["-w", "/nonexistent/dir/out.pcap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot create /nonexistent/dir/out.pcap"));
}

//! `detunnel flows` against totals computed from the tshark oracles of the real captures,
//! and the command line's handling of bad expressions.
mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Flows as `detunnel flows --json` reports them.
fn flows(capture: &Path, keys: &str) -> BTreeMap<String, u64> {
    let out = Command::new(detunnel())
        .args(["flows", "-q", "--json", "--top", "1000000", "--value", "frames", "--keys", keys, "-r"])
        .arg(capture)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut m = BTreeMap::new();
    for item in text.split("{\"key\": \"").skip(1) {
        let (key, rest) = item.split_once("\", \"value\": ").unwrap();
        let value: u64 = rest.split('}').next().unwrap().parse().unwrap();
        m.insert(key.to_string(), value);
    }
    m
}

/// The same totals from an oracle: frames by the values of `families` at their depths.
fn oracle_flows(oracle: &Path, families: &[(&str, usize)]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    'frames: for frame in read_oracle(oracle) {
        let mut key = Vec::new();
        for (field, depth) in families {
            let token = if field.starts_with("ipv6") { "ipv6" } else { field.split('.').next().unwrap() };
            match frame.values(field, token).get(*depth) {
                Some(v) => key.push(v.clone()),
                None => continue 'frames,
            }
        }
        *m.entry(key.join(",")).or_default() += 1;
    }
    m
}

#[test]
fn totals_equal_the_oracles() {
    let Some(dir) = captures() else { return };
    let exceptions =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/oracle-exceptions.md"))
            .unwrap();
    let sets: [(&str, &[(&str, usize)]); 4] = [
        ("ipsource.1,ipdestination.1", &[("ip.src", 1), ("ip.dst", 1)]),
        ("ipsource,ipdestination", &[("ip.src", 0), ("ip.dst", 0)]),
        ("ip6source,ip6destination", &[("ipv6.src", 0), ("ipv6.dst", 0)]),
        ("ipsource.1,udpdestinationport", &[("ip.src", 1), ("udp.dstport", 0)]),
    ];
    let mut checked = 0;
    let mut problems = Vec::new();
    for capture in capture_files(&dir) {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        if exceptions.contains(&format!("| {name} |")) {
            continue;
        }
        let oracle = capture.with_file_name(format!("{name}.oracle.tsv"));
        for (keys, families) in &sets {
            let want = oracle_flows(&oracle, families);
            let got = flows(&capture, keys);
            if want != got {
                problems.push(format!("{name} {keys}: oracle {want:?}, detunnel {got:?}"));
            }
            checked += want.values().sum::<u64>();
        }
    }
    assert!(checked > 500, "only {checked} frames counted");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn bad_expressions_are_usage_errors_that_point_and_suggest() {
    let tmp = TempDir::new("flows-bad");
    let input = tmp.join("in.pcap");
    assert!(Command::new(detunnel())
        .args(["generate", "-c", "10", "-w"])
        .arg(&input)
        .status()
        .unwrap()
        .success());
    for (args, want) in [
        (
            vec!["flows", "--keys", "ipsource,ipdestinaton"],
            "keys at column 10: unknown key `ipdestinaton`; did you mean `ipdestination`?",
        ),
        (
            vec!["flows", "--keys", "ipsource", "--filter", "(ipprotocol=6"],
            "filter at column 1: `(` is not closed by `)`",
        ),
        (vec!["flows", "--keys", "country:ipsource"], "needs a GeoIP country database"),
        (vec!["inspect", "--filter", "vxlanvni=>1"], ""),
        (vec!["decap", "-w", "/dev/null", "--filter", "ipsourc=1"], "did you mean `ipsource`?"),
    ] {
        let out = Command::new(detunnel()).args(&args).arg("-r").arg(&input).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if want.is_empty() {
            assert!(out.status.success(), "{args:?}: {err}");
            continue;
        }
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(err.lines().any(|l| l.trim_start().starts_with('^')), "{args:?} shows where: {err}");
    }
}

//! The decoder against the tshark oracles of the real captures in DETUNNEL_CAPTURES, with
//! the exact check `../shared/captures/compare.py` performs. Every disagreement must be one
//! listed, with its evidence, in `tests/oracle-exceptions.md`.
mod common;

use common::*;
use std::collections::BTreeMap;
use std::process::Command;

/// Frames per capture that `tests/oracle-exceptions.md` lists.
fn exceptions() -> BTreeMap<String, usize> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/oracle-exceptions.md"))
            .unwrap();
    let mut m = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| capture")) {
        let capture = line.split('|').nth(1).unwrap().trim().to_string();
        *m.entry(capture).or_default() += 1;
    }
    m
}

#[test]
fn every_capture_agrees_with_its_tshark_oracle() {
    let Some(dir) = captures() else { return };
    let script = dir.join("compare.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--dir")
        .arg(&dir)
        .arg("--detunnel")
        .arg(detunnel())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    let expected = exceptions();
    let mut capture = String::new();
    let mut checked = 0;
    let mut problems = Vec::new();
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with("decoder agreement") {
            capture = line.trim().to_string();
        } else if let Some(counts) = line.trim().strip_suffix(" frames agree") {
            let (agree, total) = counts.split_once('/').unwrap();
            let (agree, total): (usize, usize) = (agree.parse().unwrap(), total.parse().unwrap());
            let allowed = expected.get(&capture).copied().unwrap_or(0);
            if total - agree != allowed {
                problems.push(format!(
                    "{capture}: {} frames disagree, {allowed} listed as exceptions",
                    total - agree
                ));
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "compare.py reported no capture:\n{text}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn readme_documents_every_field() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    for f in dissect::Field::ALL {
        assert!(
            readme.contains(&format!("| `{}` |", f.name())),
            "README.md does not document the field `{}`",
            f.name()
        );
    }
}

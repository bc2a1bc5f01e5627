//! The sFlow v5 decoder (`wire::sflow`) against tshark on the real sFlow captures, and on
//! every truncation and random corruption of their datagrams.
mod common;

use capture::FileReader;
use common::*;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;
use wire::sflow::{sample_format, CountersSample, Datagram, FlowSample, Record, SampledHeader};

/// What we read of one datagram, in tshark's terms.
fn summary(bytes: &[u8]) -> Option<[String; 7]> {
    let dg = Datagram::parse(bytes).ok()?;
    let (mut rates, mut lengths, mut counter_seqs) = (Vec::new(), Vec::new(), Vec::new());
    for s in dg.samples() {
        let s: Record<'_> = s.ok()?;
        match (s.enterprise, s.format) {
            (0, sample_format::FLOW | sample_format::FLOW_EXPANDED) => {
                let f = FlowSample::parse(s.data, s.format == sample_format::FLOW_EXPANDED).ok()?;
                rates.push(f.sampling_rate.to_string());
                for r in f.records {
                    let r = r.ok()?;
                    if (r.enterprise, r.format) == (0, 1) {
                        lengths.push(SampledHeader::parse(r.data).ok()?.frame_length.to_string());
                    }
                }
            }
            (0, sample_format::COUNTERS | sample_format::COUNTERS_EXPANDED) => {
                let c = CountersSample::parse(s.data, s.format == sample_format::COUNTERS_EXPANDED).ok()?;
                counter_seqs.push(c.sequence.to_string());
            }
            _ => {}
        }
    }
    Some([
        dg.agent.to_string(),
        dg.sub_agent_id.to_string(),
        dg.sequence.to_string(),
        dg.num_samples.to_string(),
        rates.join(","),
        lengths.join(","),
        counter_seqs.join(","),
    ])
}

#[test]
fn datagrams_agree_with_tshark() {
    let Some(dir) = captures() else { return };
    if !have_tool("tshark") {
        return;
    }
    let mut checked = 0;
    for name in ["sflow_expanded.pcap", "sflow-print-v6.pcap", "sflow_multiple_counter_30_pdus.pcap"] {
        let path = dir.join(name);
        let want = tshark_rows(
            &path,
            &[
                "sflow_245.agent",
                "sflow_245.agent.v6",
                "sflow_245.sub_agent_id",
                "sflow_245.sequence_number",
                "sflow_245.numsamples",
                "sflow.flow_sample.sampling_rate",
                "sflow_245.header.frame_length",
                "sflow.counters_sample.sequence_number",
            ],
        );
        for (i, (dg, w)) in datagrams(&path).iter().zip(&want).enumerate() {
            let Some(dg) = dg else {
                assert!(
                    w[0].is_empty() && w[1].is_empty(),
                    "{name} frame {}: tshark sees sFlow, we do not",
                    i + 1
                );
                continue;
            };
            if w[0].is_empty() && w[1].is_empty() {
                // Sent to 6343 but not an sFlow v5 datagram for tshark either.
                assert!(summary(dg).is_none(), "{name} frame {}: tshark rejects it, we decode it", i + 1);
                continue;
            }
            let got = summary(dg).unwrap_or_else(|| panic!("{name} frame {}: not decoded", i + 1));
            let agent = if w[0].is_empty() { w[1].clone() } else { w[0].clone() };
            let expected =
                [agent, w[2].clone(), w[3].clone(), w[4].clone(), w[5].clone(), w[6].clone(), w[7].clone()];
            assert_eq!(got, expected, "{name} frame {}", i + 1);
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} datagrams checked");
}

/// A small deterministic generator (xorshift64).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn hostile_datagrams_never_panic() {
    let Some(dir) = captures() else { return };
    let mut all = Vec::new();
    for name in [
        "sflow_expanded.pcap",
        "sflow-print-v6.pcap",
        "sflow_multiple_counter_30_pdus.pcap",
        "sflow_print-segv.pcap",
    ] {
        all.extend(datagrams(&dir.join(name)).into_iter().flatten());
    }
    assert!(!all.is_empty());
    let mut state = 0x1234_5678_9abc_def1u64;
    let mut n = 0;
    for d in &all {
        for len in 0..=d.len() {
            let _ = summary(&d[..len]);
            n += 1;
        }
        for _ in 0..500 {
            let mut m = d.clone();
            for _ in 0..1 + next(&mut state) % 4 {
                let at = (next(&mut state) as usize) % m.len();
                m[at] ^= 1 << (next(&mut state) % 8);
            }
            let _ = summary(&m);
            n += 1;
        }
    }
    assert!(n > 20_000);
}

#[test]
fn flows_counts_sampled_headers_scaled_by_their_sampling_rate() {
    let Some(dir) = captures() else { return };
    if !have_tool("tshark") {
        return;
    }
    let run = |capture: &str, keys: &str, value: &str| {
        let out = Command::new(detunnel())
            .args(["flows", "-q", "--sflow", "--json", "--keys", keys, "--value", value, "-r"])
            .arg(dir.join(capture))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // One sample of a 126-byte frame, 1 in 1000, on ifIndex 29001 (tshark -V of the capture).
    assert_eq!(
        run("sflow_expanded.pcap", "agent,inputifindex,ipsource,ipdestination,vlan", "frames"),
        r#"[{"key": "49.49.49.49,29001,52.52.52.52,53.53.53.53,809", "value": 1000}]"#
    );
    assert_eq!(run("sflow_expanded.pcap", "tcpsourceport", "bytes"), r#"[{"key": "22", "value": 126000}]"#);
    // The extended router and gateway records (tshark -V: next hop 54.54.54.54, masks 32 and
    // 22, AS router 28976, source 203476, peer 203476, AS sequence 8218 29605 203361,
    // localpref 100).
    assert_eq!(
        run(
            "sflow_expanded.pcap",
            "ipnexthoprouter,ipsourcemaskbits,ipdestinationmaskbits,bgpnexthop,bgpas,bgpsourceas,bgpsourcepeeras,bgpdestinationpeeras,bgpdestinationas,bgplocalpref",
            "frames"
        ),
        r#"[{"key": "54.54.54.54,32,22,54.54.54.54,28976,203476,203476,8218,203361,100", "value": 1000}]"#
    );
    // The extended switch records (tshark -V: VLAN 10 in and out, priority 0), on all 13 samples.
    assert_eq!(
        run("sflow-print-v6.pcap", "vlansource,vlandestination,prioritysource,prioritydestination", "frames"),
        r#"[{"key": "10,10,0,0", "value": 13}]"#
    );
    // As many sampled headers as tshark finds, each counting its sampling rate (1 here).
    let headers: usize = tshark_rows(&dir.join("sflow-print-v6.pcap"), &["sflow_245.header_protocol"])
        .iter()
        .map(|row| row[0].split(',').filter(|v| !v.is_empty()).count())
        .sum();
    assert!(headers > 0);
    assert_eq!(run("sflow-print-v6.pcap", "", "frames"), format!(r#"[{{"key": "", "value": {headers}}}]"#));
}

/// The per-agent lines of `flows --sflow`'s summary: (agent/sub-agent, [datagrams, lost,
/// duplicate, out of order]).
fn agent_lines(capture: &Path) -> BTreeMap<String, [u64; 4]> {
    let out = Command::new(detunnel()).args(["flows", "--sflow", "-r"]).arg(capture).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut agents = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        let Some(rest) = line.trim().strip_prefix("agent ") else { continue };
        let (id, figures) = rest.split_once(": ").unwrap();
        let n = |word: &str| -> u64 {
            let before = figures.split(word).next().unwrap();
            before.rsplit([' ', ',', ';']).find(|s| !s.is_empty()).unwrap().parse().unwrap()
        };
        agents.insert(id.to_string(), [n(" datagrams"), n(" lost"), n(" duplicate"), n(" out of order")]);
    }
    agents
}

#[test]
fn flows_reports_each_agent_as_its_sequence_numbers_say() {
    let Some(dir) = captures() else { return };
    if !have_tool("tshark") {
        return;
    }
    for name in ["sflow_expanded.pcap", "sflow-print-v6.pcap", "sflow_multiple_counter_30_pdus.pcap"] {
        let path = dir.join(name);
        let rows = tshark_rows(
            &path,
            &["sflow_245.agent", "sflow_245.agent.v6", "sflow_245.sub_agent_id", "sflow_245.sequence_number"],
        );
        // Per agent from tshark: every sequence number, in arrival order (none arrive late here).
        let mut seqs: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for w in &rows {
            if w.len() < 4 || w[3].is_empty() {
                continue;
            }
            let agent = if w[0].is_empty() { &w[1] } else { &w[0] };
            seqs.entry(format!("{agent}/{}", w[2])).or_default().push(w[3].parse().unwrap());
        }
        let want: BTreeMap<String, [u64; 4]> = seqs
            .into_iter()
            .map(|(id, s)| {
                let distinct: std::collections::BTreeSet<u64> = s.iter().copied().collect();
                let span = distinct.last().unwrap() - distinct.first().unwrap() + 1;
                let n = s.len() as u64;
                (id, [n, span - distinct.len() as u64, n - distinct.len() as u64, 0])
            })
            .collect();
        assert_eq!(agent_lines(&path), want, "{name}");
    }
    // The same datagrams replayed with one dropped, one sent twice and two swapped.
    let tmp = TempDir::new("sflow-agents");
    let replay = tmp.join("replay.pcap");
    let mut frames = Vec::new();
    FileReader::open(dir.join("sflow-print-v6.pcap").to_str().unwrap())
        .unwrap()
        .for_each(|f| {
            frames.push((f.ts_nanos, f.orig_len, f.link, f.data.to_vec()));
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(frames.len(), 25);
    let order = [0, 1, 2, 3, 5, 6, 7, 7, 8, 9, 11, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
    let mut w =
        capture::FileWriter::create(replay.to_str().unwrap(), capture::Format::Pcap, frames[0].2, "replay")
            .unwrap();
    for i in order {
        let (ts, len, _, data) = &frames[i];
        w.write(0, *ts, *len, data).unwrap();
    }
    w.finish().unwrap();
    let got = agent_lines(&replay);
    assert_eq!(got.get("30::1:1:1/0"), Some(&[25, 1, 1, 1]), "{got:?}");
}

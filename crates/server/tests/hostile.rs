//! Random and mutated sFlow datagrams never panic the collector, are all counted (malformed
//! ones against their agent when the header names one), and memory stays bounded.
use craft::counting::{live_bytes, Counting};
use craft::sflow::{datagram, Agent, Sample};
use server::collector::{Worker, WorkerLimits};
use server::spec::FlowSpec;
use std::io::Write;
use std::net::IpAddr;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A small deterministic generator (xorshift64).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Valid datagrams to mutate: tunnelled and plain samples, counters, IPv4 and IPv6 agents.
fn seeds() -> Vec<Vec<u8>> {
    use craft::mix::{Encap, Generator, Mix};
    let mut out = Vec::new();
    let mut g =
        Generator::new(Mix { encaps: Encap::NAMES.iter().map(|(_, e)| *e).collect(), ..Mix::default() });
    for i in 0..40u32 {
        let mut frame = g.frame();
        frame.truncate(128);
        let flow = Sample::Flow {
            source: i % 5,
            sampling_rate: 1 + i * 7,
            sample_pool: i * 100,
            input: i,
            output: 0x3fff_ffff,
            frame_length: 1500,
            header: frame,
        };
        let counters = Sample::Counters {
            source: i % 5,
            speed: 1 << 30,
            in_octets: u64::from(i),
            out_octets: 0,
            status: 3,
        };
        let address = if i % 2 == 0 {
            IpAddr::from([10, 0, 0, i as u8])
        } else {
            IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16])
        };
        out.push(datagram(Agent { address, sub_agent: i % 3 }, i, i * 1000, &[flow.clone(), counters, flow]));
    }
    out.extend(captured());
    out
}

/// The sFlow datagrams of the real captures (none, with a notice, without DETUNNEL_CAPTURES).
fn captured() -> Vec<Vec<u8>> {
    let Some(dir) = std::env::var_os("DETUNNEL_CAPTURES") else {
        // Written past the test harness's capture, so that `cargo test` shows it.
        let _ = writeln!(std::io::stderr(), "SKIP (captured seeds): DETUNNEL_CAPTURES is not set");
        return Vec::new();
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir);
    let mut out = Vec::new();
    let mut d = dissect::Dissector::default();
    let mut stack = dissect::Stack::new();
    for name in ["sflow_expanded.pcap", "sflow-print-v6.pcap", "sflow_multiple_counter_30_pdus.pcap"] {
        let mut r = capture::FileReader::open(dir.join(name).to_str().unwrap()).unwrap();
        r.for_each(|f| {
            d.dissect(f.data, f.link, &mut stack);
            if let Some(l) = stack.layers().iter().find(|l| l.proto == dissect::Proto::Sflow) {
                out.push(f.data[l.offset as usize..].to_vec());
            }
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    }
    assert!(out.len() > 40);
    out
}

#[test]
fn a_hundred_thousand_mutated_datagrams() {
    let limits = WorkerLimits { max_agents: 1000, max_sources: 5000, ..WorkerLimits::default() };
    let mut w = Worker::new(dissect::Config::default(), query::Context::new(), limits);
    for (name, json) in [
        ("tenants", r#"{"keys":"ipsource.1,ipdestination.1,stack","value":"bytes"}"#),
        (
            "ports",
            r#"{"keys":"agent,inputifindex,tcpdestinationport","value":"frames","log":true,"flowStart":true}"#,
        ),
        ("drops", r#"{"keys":"ipsource","value":"frames","dropped":true}"#),
    ] {
        let spec: FlowSpec = serde_json::from_str(json).unwrap();
        let (d, o) = spec.definition();
        w.engine.set_flow(name, d.compile(&query::Context::new()).unwrap(), o);
    }
    let seeds = seeds();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let before = live_bytes();
    let mut offered = 0u64;
    let mut peak_growth = 0usize;
    while offered < 100_000 {
        let seed = &seeds[(next(&mut state) % seeds.len() as u64) as usize];
        let mut d = seed.clone();
        match next(&mut state) % 4 {
            // Flip a few bits.
            0 | 1 => {
                for _ in 0..1 + next(&mut state) % 6 {
                    let at = (next(&mut state) as usize) % d.len();
                    d[at] ^= 1 << (next(&mut state) % 8);
                }
            }
            // Cut it short.
            2 => d.truncate((next(&mut state) as usize) % d.len()),
            // Overwrite a word with an extreme value (lengths, counts).
            _ => {
                let at = ((next(&mut state) as usize) % (d.len() / 4)) * 4;
                let v = [0u32, 1, 0x7fff_ffff, 0xffff_ffff, 0x8000_0000][(next(&mut state) % 5) as usize];
                d[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
        }
        // Now and then pure noise.
        if next(&mut state) % 50 == 0 {
            d = (0..next(&mut state) % 300).map(|_| next(&mut state) as u8).collect();
        }
        w.datagram(&d, offered as f64 * 1e-3);
        offered += 1;
        if offered % 10_000 == 0 {
            let _ = w.engine.housekeep(offered as f64 * 1e-3, 1e-3);
            peak_growth = peak_growth.max(live_bytes().saturating_sub(before));
        }
    }
    let t = w.totals();
    assert_eq!(t.datagrams, offered);
    let per_agent_malformed: u64 = w.agents().list().iter().map(|(_, s)| s.malformed).sum();
    println!(
        "{offered} datagrams: {} unreadable, {} malformed ({per_agent_malformed} against an agent, {} agents, {} refused), {} headers counted, peak growth {} KiB",
        t.unreadable, t.malformed, w.agents().list().len(), w.agents().refused, t.sampled_headers, peak_growth >> 10
    );
    assert!(t.unreadable > 1000 && t.malformed > 1000, "mutations should break many: {t:?}");
    assert!(t.sampled_headers > 10_000, "{t:?}");
    assert!(per_agent_malformed <= t.malformed && per_agent_malformed + 100 > t.malformed / 2, "{t:?}");
    assert!(w.agents().list().len() <= 1000);
    // Tables, agents and data sources are bounded: well under 64 MiB however many arrive.
    assert!(peak_growth < 64 << 20, "{peak_growth}");
}

//! `cargo bench -p dissect`: nanoseconds to decode one frame of each representative
//! encapsulation, and the ratio to a baseline measured in the same run (reading every byte
//! of the same frames once), since the machines are shared and absolute figures drift.
use craft::timing::{iterations, median_ns};
use craft::{build, Header};
use dissect::{Dissector, LinkType, Stack};
use std::hint::black_box;

const ROUNDS: usize = 7;

fn frames() -> Vec<(&'static str, Vec<u8>)> {
    let inner = || {
        vec![
            Header::eth(),
            Header::ipv4([192, 168, 0, 1], [192, 168, 0, 2]),
            Header::Tcp { src: 40000, dst: 443, flags: 0x18 },
            Header::Payload(vec![0; 64]),
        ]
    };
    let outer = || vec![Header::eth(), Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2])];
    let mut opts = vec![0u8; 16];
    let n = wire::geneve::emit_option(&mut opts, 0x0102, 0x01, &[1, 2, 3, 4]);
    wire::geneve::emit_option(&mut opts[n..], 0x0103, 0x02, &[5, 6, 7, 8]);
    vec![
        ("gre-teb", build(&[outer(), vec![Header::Gre { key: Some(100), seq: None }], inner()].concat())),
        (
            "erspan3+subheader",
            build(
                &[
                    outer(),
                    vec![Header::Erspan3 {
                        session: 7,
                        timestamp: 1,
                        platform: Some(wire::erspan::Platform::PortTimestamp {
                            port_index: 3,
                            timestamp_high: 1,
                        }),
                    }],
                    inner(),
                ]
                .concat(),
            ),
        ),
        (
            "vxlan",
            build(
                &[outer(), vec![Header::Udp { src: 50000, dst: 4789 }, Header::Vxlan { vni: 42 }], inner()]
                    .concat(),
            ),
        ),
        (
            "geneve+options",
            build(
                &[
                    outer(),
                    vec![
                        Header::Udp { src: 50000, dst: 6081 },
                        Header::Geneve { vni: 5000, options: opts, critical: false },
                    ],
                    inner(),
                ]
                .concat(),
            ),
        ),
        (
            "vxlan-in-gre",
            build(
                &[
                    outer(),
                    vec![Header::Gre { key: Some(7), seq: None }],
                    vec![
                        Header::eth(),
                        Header::ipv4([172, 16, 0, 1], [172, 16, 0, 2]),
                        Header::Udp { src: 50000, dst: 4789 },
                        Header::Vxlan { vni: 42 },
                    ],
                    inner(),
                ]
                .concat(),
            ),
        ),
        (
            "qinq+mpls-pw",
            build(
                &[
                    vec![
                        Header::eth(),
                        Header::Vlan { tpid: 0x88a8, vid: 100 },
                        Header::Vlan { tpid: 0x8100, vid: 200 },
                        Header::Mpls { labels: vec![1000, 2000] },
                        Header::PwControlWord,
                    ],
                    inner(),
                ]
                .concat(),
            ),
        ),
    ]
}

fn main() {
    let mut d = Dissector::default();
    let mut stack = Stack::new();
    println!("{:<20} {:>10} {:>10} {:>8}  stack", "frame", "ns/frame", "baseline", "ratio");
    for (name, frame) in frames() {
        let decode = median_ns(ROUNDS, iterations(200_000), |it| {
            let mut n = 0;
            for _ in 0..it {
                d.dissect(black_box(&frame), LinkType::ETHERNET, &mut stack);
                n += stack.layers().len() as u64;
            }
            n
        });
        // Baseline: read every byte of the frame once.
        let baseline = median_ns(ROUNDS, iterations(200_000), |it| {
            let mut n = 0u64;
            for _ in 0..it {
                n = black_box(&frame).iter().fold(n, |a, b| a.wrapping_add(u64::from(*b)));
            }
            n
        });
        d.dissect(&frame, LinkType::ETHERNET, &mut stack);
        println!("{name:<20} {decode:>10.1} {baseline:>10.1} {:>8.2}  {}", decode / baseline, stack.tokens());
    }
    // Traffic as it arrives: a different encapsulation from one frame to the next (the mix of
    // `bench/decap.py`), so the branch predictor cannot learn one path; the frames stay in cache.
    let mut g = craft::mix::Generator::new(craft::mix::Mix { max_size: 512, ..craft::mix::Mix::default() });
    let mix: Vec<Vec<u8>> = (0..2_000).map(|_| g.frame()).collect();
    let per_frame = |total: f64| total / mix.len() as f64;
    let decode = per_frame(median_ns(ROUNDS, iterations(200), |it| {
        let mut n = 0;
        for _ in 0..it {
            for f in &mix {
                d.dissect(black_box(f), LinkType::ETHERNET, &mut stack);
                n += stack.layers().len() as u64;
            }
        }
        n
    }));
    let baseline = per_frame(median_ns(ROUNDS, iterations(200), |it| {
        let mut n = 0u64;
        for _ in 0..it {
            for f in &mix {
                n = black_box(f).iter().fold(n, |a, b| a.wrapping_add(u64::from(*b)));
            }
        }
        n
    }));
    println!(
        "{:<20} {decode:>10.1} {baseline:>10.1} {:>8.2}  (2,000 frames, 5 kinds at random)",
        "random mix",
        decode / baseline
    );
}

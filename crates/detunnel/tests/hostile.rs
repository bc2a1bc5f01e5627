//! Hostile input: every frame of every capture (and of every synthetic encapsulation)
//! truncated at every length and with random byte flips — at least 200,000 mutated frames —
//! decodes without a panic and without a layer reaching past the captured bytes; 1,000
//! nested GRE layers stop at the depth bound with a counted anomaly.
mod common;

use capture::FileReader;
use craft::{build, Header};
use dissect::{Anomaly, Decoded, Dissector, LinkType, Stack};
use std::ops::ControlFlow;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn check(d: &mut Dissector, stack: &mut Stack, frame: &[u8], link: LinkType) {
    d.dissect(frame, link, stack);
    for l in stack.layers() {
        assert!(
            l.end() <= frame.len(),
            "layer {:?} ends at {} past {} captured bytes",
            l.proto,
            l.end(),
            frame.len()
        );
    }
    let mut n = 0;
    Decoded::new(frame, stack).for_each(&mut |_, _| n += 1);
}

fn base_frames() -> Vec<(Vec<u8>, LinkType)> {
    let mut frames = Vec::new();
    if let Some(dir) = common::captures() {
        for p in common::capture_files(&dir) {
            let mut r = FileReader::open(p.to_str().unwrap()).unwrap();
            r.for_each(|f| {
                frames.push((f.data.to_vec(), f.link));
                ControlFlow::Continue(())
            })
            .unwrap();
        }
    }
    let inner =
        || vec![Header::eth(), Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2]), Header::Udp { src: 9, dst: 10 }];
    let outer = || vec![Header::eth(), Header::ipv4([3, 3, 3, 3], [4, 4, 4, 4])];
    for mid in [
        vec![Header::Gre { key: Some(1), seq: Some(2) }],
        vec![Header::Erspan2 { session: 1, index: 2 }],
        vec![Header::Erspan3 {
            session: 3,
            timestamp: 4,
            platform: Some(wire::erspan::Platform::PortTimestamp { port_index: 1, timestamp_high: 2 }),
        }],
        vec![Header::Udp { src: 1, dst: 4789 }, Header::Vxlan { vni: 7 }],
        vec![
            Header::Udp { src: 1, dst: 6081 },
            Header::Geneve { vni: 7, options: vec![1, 2, 3, 1, 9, 9, 9, 9], critical: true },
        ],
        vec![Header::Udp { src: 1, dst: 4790 }, Header::VxlanGpe { vni: 7 }],
        vec![Header::Nvgre { vsid: 5, flow_id: 1 }],
        vec![Header::L2tpv3 { session: 5, cookie: vec![] }],
    ] {
        frames.push((build(&[outer(), mid, inner()].concat()), LinkType::ETHERNET));
    }
    frames.push((
        build(
            &[vec![Header::eth(), Header::Mpls { labels: vec![1, 2, 3] }, Header::PwControlWord], inner()]
                .concat(),
        ),
        LinkType::ETHERNET,
    ));
    frames.push((
        build(&[vec![Header::eth(), Header::Trill { ingress: 1, egress: 2 }], inner()].concat()),
        LinkType::ETHERNET,
    ));
    frames
}

#[test]
fn mutated_frames_never_panic_or_overread() {
    let frames = base_frames();
    let mut d = Dissector::default();
    let mut stack = Stack::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut mutated = 0usize;
    for (frame, link) in &frames {
        for len in 0..=frame.len().min(512) {
            check(&mut d, &mut stack, &frame[..len], *link);
            mutated += 1;
        }
    }
    // Random byte flips in the headers until at least 200,000 mutated frames are decoded.
    let mut buf = Vec::new();
    while mutated < 200_000 {
        for (frame, link) in &frames {
            if frame.is_empty() {
                continue;
            }
            buf.clear();
            buf.extend_from_slice(&frame[..frame.len().min(256)]);
            for _ in 0..1 + rng.next() % 4 {
                let at = (rng.next() as usize) % buf.len();
                buf[at] ^= 1 << (rng.next() % 8);
            }
            let cut = buf.len() - (rng.next() as usize % (buf.len().min(16) + 1)).min(buf.len());
            check(&mut d, &mut stack, &buf[..cut.max(1)], *link);
            mutated += 1;
        }
    }
    println!("{mutated} mutated frames decoded, {} with anomalies", d.counters().frames_with_anomalies);
    assert!(mutated >= 200_000);
}

#[test]
fn thousand_nested_gre_stop_at_the_depth_bound() {
    let mut headers = vec![Header::eth()];
    for i in 0..1000u32 {
        headers.push(Header::ipv4([10, 0, (i >> 8) as u8, i as u8], [10, 1, 0, 1]));
        headers.push(Header::Gre { key: None, seq: None });
    }
    headers.push(Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2]));
    let frame = build(&headers);
    let mut d = Dissector::default();
    let mut stack = Stack::new();
    d.dissect(&frame, LinkType::ETHERNET, &mut stack);
    assert_eq!(stack.tunnels(), 8);
    assert!(stack.anomalies().contains(&Anomaly::DepthBound), "{stack:?}");
    assert_eq!(d.counters().anomalies[Anomaly::DepthBound as usize], 1);
}

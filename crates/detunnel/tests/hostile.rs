//! Hostile input: every frame of every capture (and of every synthetic encapsulation)
//! truncated at every length and with random byte flips — at least 200,000 mutated frames —
//! decodes without a panic and without a layer reaching past the captured bytes, and goes
//! through every path of decapsulation (every option, every link type, reassembly, stream
//! keys, duplicates, the balance hash, the ERSPAN clock) without a panic; 1,000 nested GRE
//! layers stop at the depth bound with a counted anomaly.
mod common;

use capture::FileReader;
use craft::{build, Header};
use dissect::{Anomaly, Dissector, LinkType, Stack};
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

    /// `frame`'s first 256 bytes with one to four bits flipped and up to 16 bytes cut from
    /// the end, in `buf`.
    fn mutate<'a>(&mut self, frame: &[u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
        buf.clear();
        buf.extend_from_slice(&frame[..frame.len().min(256)]);
        for _ in 0..1 + self.next() % 4 {
            let at = (self.next() as usize) % buf.len();
            buf[at] ^= 1 << (self.next() % 8);
        }
        let cut = buf.len() - (self.next() as usize % (buf.len().min(16) + 1)).min(buf.len());
        &buf[..cut]
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
    stack.decoded(frame).unwrap().for_each(&mut |_, _| n += 1);
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
            let m = rng.mutate(frame, &mut buf);
            // At least one byte, as before the cut.
            let m = if m.is_empty() { &frame[..1] } else { m };
            check(&mut d, &mut stack, m, *link);
            mutated += 1;
        }
    }
    println!("{mutated} mutated frames decoded, {} with anomalies", d.counters().frames_with_anomalies);
    assert!(mutated >= 200_000);
}

/// Every decapsulation path over one decoded frame.
struct DecapPaths {
    decaps: Vec<decap::Decapsulator>,
    reassembler: decap::Reassembler,
    dedup: decap::Dedup,
    clock: decap::ErspanClock,
    out: Vec<u8>,
    emitted: u64,
}

impl DecapPaths {
    fn new() -> DecapPaths {
        use decap::{Options, Tag, TunnelSet};
        let all_tags = vec![Tag::Vlan, Tag::VnTag, Tag::ETag, Tag::Mpls];
        let options = [
            Options::default(),
            Options { strip_tags: all_tags.clone(), ..Options::default() },
            Options { strip_tags: all_tags, depth: Some(1), snaplen: Some(20), ..Options::default() },
            Options { depth: Some(0), only_tunnelled: true, ..Options::default() },
            Options {
                strip: TunnelSet::parse("vxlan,gtp,pw,ipip").unwrap(),
                synth_macs: Some(([2; 6], [4; 6])),
                snaplen: Some(0),
                ..Options::default()
            },
        ];
        DecapPaths {
            decaps: options.into_iter().map(decap::Decapsulator::new).collect(),
            reassembler: decap::Reassembler::new(decap::reassembly::Limits::default()),
            dedup: decap::Dedup::new(10),
            clock: decap::ErspanClock::new(),
            out: Vec::new(),
            emitted: 0,
        }
    }

    fn run(&mut self, d: &mut Dissector, stack: &mut Stack, frame: &[u8], link: LinkType, ts: u64) {
        let decoded = d.dissect(frame, link, stack);
        let offered = match self.reassembler.offer(decoded, ts) {
            decap::reassembly::Offer::Complete(datagram) => Some(datagram.to_vec()),
            _ => None,
        };
        self.decapsulate(decoded, ts);
        if let Some(datagram) = offered {
            let decoded = d.dissect(&datagram, link, stack);
            self.decapsulate(decoded, ts);
        }
    }

    fn decapsulate(&mut self, decoded: dissect::Decoded<'_>, ts: u64) {
        let (frame, stack) = (decoded.frame(), decoded.stack());
        for (i, dc) in self.decaps.iter().enumerate() {
            for orig_len in [frame.len() as u32, 0, u32::MAX] {
                let outcome = dc.decapsulate(decoded, orig_len);
                let decap::Outcome::Emitted(e) = outcome else { continue };
                let (head, body) = e.parts(frame);
                assert_eq!(head.len() + body.len(), e.len());
                self.emitted += 1;
                e.write_into(frame, &mut self.out);
                decap::balance::conversation_hash(decoded, e.first_layer);
                self.dedup.is_duplicate_parts(head, body, ts + i as u64);
                if let Some(key) = e.stream {
                    let _ = (key.to_string(), key.file_name(), key.source(), key.destination());
                    if key.kind == decap::StreamKind::Erspan3 {
                        let header = stack.layers().iter().find(|l| l.proto == dissect::Proto::Erspan3);
                        if let Some(h) = header {
                            self.clock.time(key, ts, h.bytes(frame));
                        }
                    }
                }
            }
        }
    }
}

/// Link types decap may be given: every one the decoder reads and one it does not.
const LINKS: &[LinkType] = &[
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::NULL,
    LinkType::PPP,
    LinkType::MPLS,
    LinkType(147),
];

#[test]
fn mutated_frames_never_panic_any_decap_path() {
    let mut frames = base_frames();
    frames.push((Vec::new(), LinkType::ETHERNET));
    frames.push((vec![0x08], LinkType::ETHERNET));
    let mut d = Dissector::default();
    let mut stack = Stack::new();
    let mut paths = DecapPaths::new();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut mutated = 0usize;
    let mut ts = 1_700_000_000_000_000_000u64;
    for (frame, link) in &frames {
        for len in 0..=frame.len().min(128) {
            for l in std::iter::once(link).chain(LINKS) {
                paths.run(&mut d, &mut stack, &frame[..len], *l, ts);
                mutated += 1;
            }
        }
    }
    let mut buf = Vec::new();
    while mutated < 200_000 {
        for (frame, link) in &frames {
            if frame.is_empty() {
                continue;
            }
            let l = if rng.next() % 4 == 0 { LINKS[rng.next() as usize % LINKS.len()] } else { *link };
            ts += rng.next() % 2_000_000_000;
            let m = rng.mutate(frame, &mut buf);
            paths.run(&mut d, &mut stack, m, l, ts);
            mutated += 1;
        }
    }
    println!("{mutated} mutated frames through decap, {} emissions", paths.emitted);
    assert!(paths.emitted > 100_000);
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

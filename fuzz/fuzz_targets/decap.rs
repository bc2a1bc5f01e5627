//! The decoder and every path of decapsulation: the first byte picks the link type, the
//! second the options (tags to strip, depth, kinds, snaplen, synthesized addresses), the
//! rest is the frame. Outer reassembly, the duplicate window, the balance hash, stream
//! names and the ERSPAN clock all see it.
#![no_main]
use decap::{Decapsulator, Options, Outcome, Tag, TunnelSet};
use dissect::{Dissector, Proto, Stack};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

struct State {
    dissector: Dissector,
    stack: Stack,
    reassembler: decap::Reassembler,
    dedup: decap::Dedup,
    clock: decap::ErspanClock,
    out: Vec<u8>,
    ts: u64,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        dissector: Dissector::default(),
        stack: Stack::new(),
        reassembler: decap::Reassembler::new(decap::reassembly::Limits::default()),
        dedup: decap::Dedup::new(10),
        clock: decap::ErspanClock::new(),
        out: Vec::new(),
        ts: 1_700_000_000_000_000_000,
    });
}

fn options(choice: u8) -> Options {
    let tags = [Tag::Vlan, Tag::VnTag, Tag::ETag, Tag::Mpls];
    Options {
        strip_tags: tags
            .iter()
            .enumerate()
            .filter(|(i, _)| choice & (1 << i) != 0)
            .map(|(_, t)| *t)
            .collect(),
        depth: (choice & 0x10 != 0).then_some(usize::from(choice >> 6)),
        strip: if choice & 0x20 != 0 {
            TunnelSet::parse("vxlan,gre,gtp,pw").unwrap()
        } else {
            TunnelSet::ALL
        },
        only_tunnelled: choice & 0x40 != 0,
        keep_control: choice & 0x04 != 0,
        snaplen: (choice & 0x80 != 0).then_some(usize::from(choice & 0x3f)),
        synth_macs: (choice & 0x08 != 0).then_some(([2; 6], [4; 6])),
    }
}

fuzz_target!(|data: &[u8]| {
    let [link, choice, frame @ ..] = data else { return };
    let link = detunnel_fuzz::LINKS[usize::from(*link) % detunnel_fuzz::LINKS.len()];
    let decap = Decapsulator::new(options(*choice));
    STATE.with(|s| {
        let s = &mut *s.borrow_mut();
        s.ts += u64::from(*choice) * 1_000_000;
        let mut stack = std::mem::take(&mut s.stack);
        let decoded = s.dissector.dissect(frame, link, &mut stack);
        let datagram = match s.reassembler.offer(decoded, s.ts) {
            decap::reassembly::Offer::Complete(d) => Some(d.to_vec()),
            _ => None,
        };
        let run = |decoded: dissect::Decoded<'_>, s: &mut State| {
            let (bytes, stack) = (decoded.frame(), decoded.stack());
            for orig_len in [bytes.len() as u32, 0, u32::MAX] {
                let outcome = decap.decapsulate(decoded, orig_len);
                let Outcome::Emitted(mut e) = outcome else { continue };
                // An A-MSDU's other subframes.
                while let Some(next) = decap.next_subframe(bytes, &e) {
                    assert!(next.body.start >= e.body.start);
                    e = next;
                }
                let (head, body) = e.parts(bytes);
                assert_eq!(head.len() + body.len(), e.len());
                e.write_into(bytes, &mut s.out);
                decap::balance::conversation_hash(decoded, e.first_layer);
                s.dedup.is_duplicate_parts(head, body, s.ts);
                if let Some(key) = e.stream {
                    let _ = (key.to_string(), key.file_name());
                    if let Some(h) = stack.layers().iter().find(|l| l.proto == Proto::Erspan3) {
                        s.clock.time(key, s.ts, h.bytes(bytes));
                    }
                }
            }
        };
        run(decoded, s);
        if let Some(d) = datagram {
            let mut inner = Stack::new();
            let decoded = s.dissector.dissect(&d, link, &mut inner);
            run(decoded, s);
        }
        s.stack = stack;
    });
});

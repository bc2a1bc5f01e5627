//! Evaluating a compiled filter and keys allocates nothing per frame once the evaluator's
//! buffers have grown: a counting allocator watches this thread.
use craft::counting::{allocations_in, Counting};
use craft::mix::{Encap, Generator, Mix};
use dissect::{Dissector, LinkType, Stack};
use query::{Context, Definition, Evaluator, Input};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn evaluation_allocates_nothing_per_frame() {
    let frames: Vec<Vec<u8>> = Generator::new(Mix {
        encaps: vec![Encap::Vxlan, Encap::Erspan3, Encap::Gre, Encap::Mpls],
        ..Mix::default()
    })
    .take(64)
    .collect();
    let mut d = Dissector::default();
    let stacks: Vec<Stack> = frames
        .iter()
        .map(|f| {
            let mut s = Stack::new();
            d.dissect(f, LinkType::ETHERNET, &mut s);
            s
        })
        .collect();
    let mut ctx = Context::new();
    ctx.add_group("site", "inside", &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]).unwrap();
    let def = Definition {
        keys: "ipsource.1,[prefix:stack:.:4],group:ipdestination.1:site,null:vxlanvni:none,mask:ipsource:16"
            .into(),
        filter: Some(
            "(ipprotocol.1=6,17|tcpflags~....1..1.)&first:stack:.:ip:ip6=ip&ipsource!=10.9.9.9".into(),
        ),
        ..Definition::default()
    };
    let c = def.compile(&ctx).unwrap();
    let mut eval = Evaluator::new();
    let mut key = String::with_capacity(512);
    let run = |eval: &mut Evaluator, key: &mut String| {
        let mut n = 0;
        for (f, s) in frames.iter().zip(&stacks) {
            let input = Input::new(s.decoded(f).unwrap(), f.len() as u32);
            if c.accepts(eval, &input, &ctx) && c.flow_key(eval, &input, &ctx, key) {
                n += key.len();
            }
        }
        n
    };
    // Warm up: the evaluator's buffers and the regex engine's cache grow once.
    for _ in 0..3 {
        run(&mut eval, &mut key);
    }
    let (allocations, total) = allocations_in(|| (0..100).map(|_| run(&mut eval, &mut key)).sum::<usize>());
    assert!(total > 0);
    assert_eq!(allocations, 0, "evaluation allocated");
}

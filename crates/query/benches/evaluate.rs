//! `cargo bench -p query`: nanoseconds per frame to evaluate a typical flow definition —
//! three keys and a two-term filter — on decoded frames, next to the time to decode them
//! (the baseline, measured in the same run).
use craft::mix::{Encap, Generator, Mix};
use craft::timing::{iterations, median_ns};
use dissect::{Dissector, LinkType, Stack};
use query::{Context, Definition, Evaluator, Input};
use std::hint::black_box;

fn main() {
    let mix = Mix {
        encaps: vec![Encap::Vxlan, Encap::Gre, Encap::Erspan3],
        flows: 64,
        min_size: 64,
        max_size: 512,
        ..Mix::default()
    };
    let frames: Vec<Vec<u8>> = Generator::new(mix).take(256).collect();
    let mut d = Dissector::default();
    let stacks: Vec<Stack> = frames
        .iter()
        .map(|f| {
            let mut s = Stack::new();
            d.dissect(f, LinkType::ETHERNET, &mut s);
            s
        })
        .collect();
    let ctx = Context::new();
    let def = Definition {
        keys: "ipsource.1,ipdestination.1,stack".into(),
        value: "frames".into(),
        filter: Some("ipprotocol.1=6,17&ipsource=10.0.0.1,10.0.0.2,10.0.0.3".into()),
        ..Definition::default()
    };
    let compiled = def.compile(&ctx).expect("compiles");
    let mut eval = Evaluator::new();
    let mut key = String::with_capacity(256);
    let n = iterations(2_000);
    let evaluate = median_ns(7, n, |it| {
        let mut hits = 0u64;
        for _ in 0..it {
            for (f, s) in frames.iter().zip(&stacks) {
                let input = Input::new(s.decoded(f).unwrap(), f.len() as u32);
                if compiled.accepts(&mut eval, &input, &ctx)
                    && compiled.flow_key(&mut eval, &input, &ctx, &mut key)
                {
                    hits += key.len() as u64;
                }
            }
        }
        hits
    }) / frames.len() as f64;
    let mut stack = Stack::new();
    let decode = median_ns(7, n, |it| {
        let mut layers = 0u64;
        for _ in 0..it {
            for f in &frames {
                d.dissect(black_box(f), LinkType::ETHERNET, &mut stack);
                layers += stack.layers().len() as u64;
            }
        }
        layers
    }) / frames.len() as f64;
    println!("definition: keys {:?}, filter {:?}", def.keys, def.filter.as_deref().unwrap_or(""));
    println!("evaluate (filter + keys) {evaluate:8.1} ns/frame");
    println!("decode (baseline)        {decode:8.1} ns/frame");
    println!("ratio                    {:8.2}", evaluate / decode);
}

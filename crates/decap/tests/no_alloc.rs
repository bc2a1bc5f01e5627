//! Proves the decapsulation path allocates nothing per frame: a counting allocator watches
//! this thread while frames of every encapsulation the generator knows, alone and nested, are
//! decoded, decapsulated (with tags stripped) and named by their stream.
use craft::counting::{allocations_in, Counting};
use craft::mix::{Encap, Generator, Mix};
use decap::{Decapsulator, Options, Outcome, Tag};
use dissect::{Dissector, LinkType, Stack};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn decapsulating_allocates_nothing() {
    let mut frames = Vec::new();
    for nest in [1, 2] {
        let encaps = Encap::NAMES.iter().map(|(_, e)| *e).collect();
        let mut g = Generator::new(Mix { encaps, nest, ..Mix::default() });
        frames.extend((0..200).map(|_| g.frame()));
    }
    let plain = Decapsulator::new(Options::default());
    let stripping =
        Decapsulator::new(Options { strip_tags: vec![Tag::Vlan, Tag::Mpls], ..Options::default() });
    let mut dissector = Dissector::default();
    let mut stack = Stack::new();
    let (mut emitted, mut streams) = (0u64, 0u64);
    let (allocations, ()) = allocations_in(|| {
        for _ in 0..20 {
            for f in &frames {
                let decoded = dissector.dissect(f, LinkType::ETHERNET, &mut stack);
                for d in [&plain, &stripping] {
                    if let Outcome::Emitted(e) = d.decapsulate(decoded, f.len() as u32) {
                        emitted += e.len() as u64;
                        streams += u64::from(e.stream.is_some_and(|k| k.id > 0 || !k.id_name.is_empty()));
                    }
                }
            }
        }
    });
    assert!(emitted > 0 && streams > 0, "the frames were decapsulated");
    assert_eq!(allocations, 0, "the decapsulation path allocated");
}

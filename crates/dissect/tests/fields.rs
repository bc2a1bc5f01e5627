//! The field lookup shortcut (`carries`) agrees with what every layer emits, for frames of
//! every encapsulation the generator builds.
use craft::mix::{Encap, Generator, Mix};
use dissect::protocol::{carries, layer_fields};
use dissect::{Dissector, Field, LinkType, Stack};

#[test]
fn carries_matches_what_layers_emit() {
    let mut d = Dissector::default();
    let mut stack = Stack::new();
    let mut seen = 0;
    for (_, encap) in Encap::NAMES {
        let mix = Mix { encaps: vec![*encap, Encap::Qinq], nest: 2, ..Mix::default() };
        for frame in Generator::new(mix).take(20) {
            d.dissect(&frame, LinkType::ETHERNET, &mut stack);
            let layers = stack.layers();
            for i in 0..layers.len() {
                layer_fields(&frame, layers, i, &mut |f, _| {
                    assert!(
                        carries(layers[i].proto, f),
                        "{:?} emits {} but `carries` says it does not",
                        layers[i].proto,
                        f.name()
                    );
                    seen += 1;
                });
            }
            // And every field found by a full walk is found by the shortcut.
            let decoded = stack.decoded(&frame).unwrap();
            let mut counts = [0usize; Field::COUNT];
            decoded.for_each(&mut |f, v| {
                assert_eq!(decoded.get(f, counts[f as usize]), Some(v), "{}", f.name());
                counts[f as usize] += 1;
            });
        }
    }
    assert!(seen > 1000);
}

//! Proves the decode path allocates nothing per frame: a counting allocator watches this
//! thread while frames of every encapsulation are decoded and their fields read.
use craft::counting::{allocations_in, Counting};
use dissect::{Dissector, Field, LinkType, Stack};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn decoding_allocates_nothing() {
    let frames = common_frames();
    let mut d = Dissector::default();
    let mut stack = Stack::new();
    let mut sum = 0u64;
    let (allocations, ()) = allocations_in(|| {
        for _ in 0..100 {
            for f in &frames {
                d.dissect(f, LinkType::ETHERNET, &mut stack);
                let decoded = stack.decoded(f).unwrap();
                decoded.for_each(&mut |_, v| {
                    if let dissect::Value::Uint(n) = v {
                        sum = sum.wrapping_add(n);
                    }
                });
                if let Some(dissect::Value::Uint(n)) = decoded.get(Field::TcpSourcePort, 0) {
                    sum = sum.wrapping_add(n);
                }
            }
        }
    });
    assert!(sum > 0);
    assert_eq!(allocations, 0, "the decode path allocated");
}

fn common_frames() -> Vec<Vec<u8>> {
    use craft::{build, Header};
    let inner = || {
        vec![
            Header::eth(),
            Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2]),
            Header::Tcp { src: 1, dst: 2, flags: 2 },
        ]
    };
    let outer = || vec![Header::eth(), Header::ipv4([3, 3, 3, 3], [4, 4, 4, 4])];
    vec![
        build(&[outer(), vec![Header::Gre { key: Some(1), seq: None }], inner()].concat()),
        build(&[outer(), vec![Header::Erspan2 { session: 1, index: 2 }], inner()].concat()),
        build(
            &[outer(), vec![Header::Erspan3 { session: 1, timestamp: 2, platform: None }], inner()].concat(),
        ),
        build(
            &[outer(), vec![Header::Udp { src: 1, dst: 4789 }, Header::Vxlan { vni: 5 }], inner()].concat(),
        ),
        build(
            &[
                outer(),
                vec![
                    Header::Udp { src: 1, dst: 6081 },
                    Header::Geneve { vni: 5, options: vec![0, 1, 2, 1, 0, 0, 0, 0], critical: false },
                ],
                inner(),
            ]
            .concat(),
        ),
        build(
            &[
                vec![
                    Header::eth(),
                    Header::Vlan { tpid: 0x88a8, vid: 1 },
                    Header::Vlan { tpid: 0x8100, vid: 2 },
                    Header::Mpls { labels: vec![1, 2] },
                    Header::PwControlWord,
                ],
                inner(),
            ]
            .concat(),
        ),
    ]
}

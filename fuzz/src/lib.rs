//! What the fuzz targets share: the inputs they split into parts, and the real frames they
//! evaluate flow expressions against.

/// Splits `data` at the first `count - 1` zero bytes into `count` parts (missing ones empty).
pub fn parts(data: &[u8], count: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(count);
    let mut rest = data;
    for _ in 1..count {
        match rest.iter().position(|b| *b == 0) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out.push(rest);
    out
}

/// Generated frames of every encapsulation, alone and nested.
pub fn frames() -> Vec<Vec<u8>> {
    use craft::mix::{Encap, Generator, Mix};
    let mut frames = Vec::new();
    for nest in [1, 2] {
        let encaps = Encap::NAMES.iter().map(|(_, e)| *e).collect();
        let mut g = Generator::new(Mix { encaps, nest, max_size: 200, ..Mix::default() });
        frames.extend((0..30).map(|_| g.frame()));
    }
    frames
}

/// Link types a frame may be given: every one the decoder reads, and one it does not.
pub const LINKS: &[dissect::LinkType] = &[
    dissect::LinkType::ETHERNET,
    dissect::LinkType::RAW,
    dissect::LinkType::IPV4,
    dissect::LinkType::IPV6,
    dissect::LinkType::LINUX_SLL,
    dissect::LinkType::LINUX_SLL2,
    dissect::LinkType::NULL,
    dissect::LinkType::PPP,
    dissect::LinkType::MPLS,
    dissect::LinkType(147),
];

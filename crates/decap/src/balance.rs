//! Spreading frames over several sinks so that both directions of a conversation reach the
//! same one: a hash of the frame's flow that does not change when source and destination
//! swap (addresses and ports are ordered before hashing).

/// A symmetric hash of an Ethernet frame's conversation: IPv4 or IPv6 addresses, protocol and
/// TCP/UDP/SCTP ports when present (after any VLAN tags), else the MAC addresses.
pub fn symmetric_hash(frame: &[u8]) -> u64 {
    let mut at = 12;
    let mut ethertype = be16(frame, at);
    while matches!(ethertype, Some(0x8100 | 0x88a8 | 0x9100)) {
        at += 4;
        ethertype = be16(frame, at);
    }
    let l3 = at + 2;
    let (a, b, proto, l4) = match ethertype {
        Some(0x0800) if frame.len() >= l3 + 20 => {
            let ihl = usize::from(frame[l3] & 0x0f) * 4;
            let fragment = be16(frame, l3 + 6).unwrap_or(0) & 0x1fff != 0;
            (
                &frame[l3 + 12..l3 + 16],
                &frame[l3 + 16..l3 + 20],
                frame[l3 + 9],
                (!fragment).then_some(l3 + ihl),
            )
        }
        Some(0x86dd) if frame.len() >= l3 + 40 => {
            (&frame[l3 + 8..l3 + 24], &frame[l3 + 24..l3 + 40], frame[l3 + 6], Some(l3 + 40))
        }
        _ if frame.len() >= 12 => return mix(ordered(&frame[0..6], &frame[6..12]), 0),
        _ => return 0,
    };
    let mut h = mix(ordered(a, b), u64::from(proto));
    if let (Some(p), true) = (l4, matches!(proto, 6 | 17 | 132)) {
        if let (Some(sp), Some(dp)) = (be16(frame, p), be16(frame, p + 2)) {
            let (lo, hi) = if sp <= dp { (sp, dp) } else { (dp, sp) };
            h = mix(h, (u64::from(lo) << 16) | u64::from(hi));
        }
    }
    h
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

/// A hash of two byte strings that is the same in either order.
fn ordered(a: &[u8], b: &[u8]) -> u64 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &x in lo.iter().chain(hi) {
        h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(&[0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0; 16]);
        f
    }

    #[test]
    fn both_directions_hash_alike_and_conversations_differ() {
        let a = frame([10, 0, 0, 1], [10, 0, 0, 2], 40000, 443);
        let b = frame([10, 0, 0, 2], [10, 0, 0, 1], 443, 40000);
        assert_eq!(symmetric_hash(&a), symmetric_hash(&b));
        let c = frame([10, 0, 0, 1], [10, 0, 0, 2], 40001, 443);
        assert_ne!(symmetric_hash(&a), symmetric_hash(&c));
        // 1,000 conversations spread over 2 sinks about evenly.
        let ones = (0..1000u16)
            .filter(|i| symmetric_hash(&frame([10, 0, 0, 1], [10, 0, 0, 2], 30000 + i, 80)) % 2 == 1)
            .count();
        assert!((400..600).contains(&ones), "{ones}");
        assert_eq!(symmetric_hash(&[]), 0);
    }
}

//! A-MSDU subframes inside an 802.11 data frame: destination, source and length, then LLC/SNAP
//! and the packet. Each subframe is one layer; the walker resumes at the next subframe when
//! the packet inside one has been decoded, so that the stack holds every subframe in order,
//! as Wireshark shows them.
use super::{Res, Step};
use crate::anomaly::Anomaly;
use crate::proto::Proto;
use crate::table::Next;
use crate::walk::Dissector;
use wire::ieee80211::{Subframe, SUBFRAME_HEADER_LEN};

/// `data` is the aggregate from this subframe on, a part of `frame`.
#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], frame: &[u8]) -> Res {
    let sub = Subframe::parse(data)?;
    let offset = data.as_ptr() as usize - frame.as_ptr() as usize;
    d.resume_at(offset + sub.next_at(), offset + data.len());
    let mut step = Step::new(Proto::Amsdu, SUBFRAME_HEADER_LEN, Some(Next::Llc));
    step.declared = (SUBFRAME_HEADER_LEN + usize::from(sub.len)) as u32;
    if data.len() < step.declared as usize {
        step.note = Some(Anomaly::Truncated);
    }
    Ok(step)
}

/// The destination and source of a subframe, and where the subframe after it starts, counted
/// from this one's start.
pub fn subframe(header: &[u8]) -> Option<Subframe> {
    Subframe::parse(header).ok()
}

#[cfg(test)]
mod tests {
    use crate::protocol::testing::{decode, field};
    use craft::{amsdu, build, Header};
    use wire::ieee80211::Repr;
    use wire::MacAddr;

    #[test]
    fn every_subframe_is_decoded_in_turn() {
        let a = |n| MacAddr([2, 0, 0, 0, 0, n]);
        let wlan =
            Repr { ds: 1, addresses: [a(1), a(2), a(3), a(4)], qos: true, amsdu: true, protected: false };
        let packet =
            |last| vec![Header::ipv4([10, 0, 0, last], [10, 0, 0, 9]), Header::Udp { src: 1, dst: 2 }];
        let agg = amsdu([2, 0, 0, 0, 0, 7], [2, 0, 0, 0, 0, 8], &[packet(1), packet(2), packet(3)]);
        let outer = [
            Header::eth(),
            Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2]),
            Header::GreProtocol { protocol: 0x8200 },
        ];
        let f = build(&[outer.to_vec(), vec![Header::Wlan(wlan), Header::Payload(agg)]].concat());
        let (tokens, anomalies) = decode(&f, 1);
        assert_eq!(tokens, "eth.ip.gre.wlan.amsdu.llc.ip.udp.amsdu.llc.ip.udp.amsdu.llc.ip.udp");
        assert!(anomalies.is_empty(), "{anomalies:?}");
        assert_eq!(field(&f, "ipsource.3").as_deref(), Some("10.0.0.3"));
        // A cut aggregate: the subframes that are there, the last marked truncated.
        let (tokens, anomalies) = decode(&f[..f.len() - 30], 1);
        assert_eq!(tokens, "eth.ip.gre.wlan.amsdu.llc.ip.udp.amsdu.llc.ip.udp.amsdu.llc");
        assert_eq!(anomalies, [crate::Anomaly::Truncated]);
    }
}

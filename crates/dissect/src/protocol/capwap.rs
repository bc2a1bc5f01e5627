//! CAPWAP (RFC 5415): the data channel carries 802.3 frames, or 802.11 frames when the T flag
//! and the 802.11 binding say so (RFC 5416); the control channel carries control messages,
//! often inside DTLS. Neither carries a packet when it is a keep-alive or a later fragment.
use super::{u, Dispatch, Res, Step};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;
use wire::capwap::Packet;

/// Where CAPWAP is found: the data channel on 5247, the control channel on 5246.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { udp_ports: &[(5247, Next::Capwap), (5246, Next::CapwapControl)], ..Dispatch::NONE };

/// The fields of a CAPWAP header.
pub(crate) const FIELDS: &[Field] = &[Field::CapwapRadioId, Field::CapwapWbid];

/// The preamble of a DTLS-protected CAPWAP packet, and its length.
const DTLS_PREAMBLE: u8 = 0x01;
const DTLS_PREAMBLE_LEN: usize = 4;

/// A header on the data channel (`data_channel`) or the control channel.
#[inline(always)]
pub(crate) fn decode(data: &[u8], data_channel: bool) -> Res {
    // Encrypted: the preamble is all there is to read.
    if data.first() == Some(&DTLS_PREAMBLE) && data.len() >= DTLS_PREAMBLE_LEN {
        return Ok(Step::new(Proto::Capwap, DTLS_PREAMBLE_LEN, None));
    }
    let p = Packet::new_checked(data)?;
    let carries = data_channel && !p.keep_alive() && !(p.fragment() && p.fragment_offset() != 0);
    let next = match (carries, p.native()) {
        (false, _) => None,
        (true, false) => Some(Next::Ethernet),
        (true, true) => p.carries_ieee80211().then_some(Next::Wlan),
    };
    Ok(Step::new(Proto::Capwap, p.header_len(), next))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    if let Ok(p) = Packet::new_checked(b) {
        emit(Field::CapwapRadioId, u(p.radio_id()));
        emit(Field::CapwapWbid, u(p.wbid()));
    }
}

/// Streams are named by the radio.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    Packet::new_checked(b).ok().map(|p| ("radio", u32::from(p.radio_id())))
}

#[cfg(test)]
mod tests {
    use crate::protocol::testing::{decode, field};
    use craft::{build, Header};

    #[test]
    fn data_and_control_channels() {
        let capwap = |native| {
            Header::Capwap(wire::capwap::Repr { radio_id: 3, wbid: 1, native, radio_mac: Some([0; 6]) })
        };
        let outer = |port| {
            vec![
                Header::eth(),
                Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2]),
                Header::Udp { src: port, dst: port },
            ]
        };
        let f = build(
            &[outer(5247), vec![capwap(false), Header::eth(), Header::ipv4([3, 3, 3, 3], [4, 4, 4, 4])]]
                .concat(),
        );
        assert_eq!(decode(&f, 1).0, "eth.ip.udp.capwap.eth.ip");
        assert_eq!(field(&f, "capwapradioid").as_deref(), Some("3"));
        let control = build(&[outer(5246), vec![capwap(false), Header::Payload(vec![0; 16])]].concat());
        assert_eq!(decode(&control, 1), ("eth.ip.udp.capwap".to_string(), vec![]));
        let dtls = build(&[outer(5246), vec![Header::Payload(vec![1, 0, 0, 0, 0x17, 0xfe, 0xfd])]].concat());
        assert_eq!(decode(&dtls, 1), ("eth.ip.udp.capwap".to_string(), vec![]));
    }
}

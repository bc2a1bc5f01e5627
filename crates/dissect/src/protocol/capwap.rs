//! CAPWAP (RFC 5415): the data channel carries 802.3 frames, or 802.11 frames when the T flag
//! and the 802.11 binding say so (RFC 5416); the control channel carries control messages,
//! often inside DTLS. Neither carries a packet when it is a keep-alive or a later fragment.
use super::{u, Dispatch, Res, Step};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;
use wire::capwap::Packet;
use wire::Error;

/// Where CAPWAP is found: the data channel on 5247, the control channel on 5246.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { udp_ports: &[(5247, Next::Capwap), (5246, Next::CapwapControl)], ..Dispatch::NONE };

/// The fields of a CAPWAP header.
pub(crate) const FIELDS: &[Field] = &[Field::CapwapRadioId, Field::CapwapWbid];

/// The preamble of a DTLS-protected CAPWAP packet, and its length.
const DTLS_PREAMBLE: u8 = 0x01;
const DTLS_PREAMBLE_LEN: usize = 4;

/// A header on the data channel (`data_channel`) or the control channel.
pub(crate) fn decode(data: &[u8], data_channel: bool) -> Res {
    let p = match Packet::new_checked(data) {
        Ok(p) => p,
        // Encrypted: the preamble is all there is to read.
        Err(Error::Malformed) if data[0] == DTLS_PREAMBLE && data.len() >= DTLS_PREAMBLE_LEN => {
            return Ok(Step::new(Proto::Capwap, DTLS_PREAMBLE_LEN, None))
        }
        Err(e) => return Err(e.into()),
    };
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

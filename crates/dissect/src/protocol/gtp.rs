//! GTP: GTP-U and GTPv1-C (one header, message types apart: only a G-PDU carries a packet;
//! echo, error indication, end marker and control messages carry none), GTPv2-C, and GTP'
//! (charging records on UDP 3386).
use super::{malformed, u, Dispatch, Res, Step};
use crate::anomaly::{Anomaly, Guess};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::FLAG_GUESSED;
use crate::table::Next;

/// Where GTP is found: GTP-U on 2152, GTP-C on 2123, GTP' on 3386.
pub(crate) const DISPATCH: Dispatch = Dispatch {
    udp_ports: &[
        (wire::udp::port::GTP_U, Next::GtpU),
        (wire::gtpv2::PORT, Next::GtpC),
        (wire::gtp_prime::PORT, Next::GtpPrime),
    ],
    ..Dispatch::NONE
};

/// The fields of a GTP header.
pub(crate) const FIELDS: &[Field] = &[Field::GtpTeid, Field::GtpMsgType];
/// The fields of a GTP' header.
pub(crate) const PRIME_FIELDS: &[Field] = &[Field::GtpMsgType];

/// A GTPv1 header (GTP-U or GTPv1-C).
#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    let p = wire::gtpu::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::GtpBadHeader))?;
    let len = p.header_len();
    let mut step = Step::new(Proto::GtpU, len, None);
    if p.msg_type() == wire::gtpu::G_PDU {
        step.next = match data.get(len).map(|b| b >> 4) {
            Some(4) => Some(Next::Ipv4),
            Some(6) => Some(Next::Ipv6),
            _ => None,
        };
        if step.next.is_some() {
            step.guess = Some(Guess::GtpIp);
            step.flags |= FLAG_GUESSED;
        }
    }
    Ok(step)
}

/// A GTP-C header: version 1 or version 2.
#[inline(always)]
pub(crate) fn decode_control(data: &[u8]) -> Res {
    match data.first().map(|b| b >> 5) {
        Some(2) => {
            let p =
                wire::gtpv2::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::GtpBadHeader))?;
            Ok(Step::new(Proto::Gtpv2, p.header_len(), None))
        }
        _ => decode(data),
    }
}

/// A GTP' header.
#[inline(always)]
pub(crate) fn decode_prime(data: &[u8]) -> Res {
    let p = wire::gtp_prime::Packet::new_checked(data).map_err(|e| malformed(e, Anomaly::GtpBadHeader))?;
    Ok(Step::new(Proto::GtpPrime, p.header_len(), None))
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::gtpu::Packet::new_unchecked(b);
    emit(Field::GtpTeid, u(p.teid()));
    emit(Field::GtpMsgType, u(p.msg_type()));
}

pub(crate) fn fields_v2(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::gtpv2::Packet::new_unchecked(b);
    if let Some(t) = p.teid() {
        emit(Field::GtpTeid, u(t));
    }
    emit(Field::GtpMsgType, u(p.msg_type()));
}

pub(crate) fn fields_prime(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::GtpMsgType, u(wire::gtp_prime::Packet::new_unchecked(b).msg_type()));
}

/// Streams are named by the tunnel endpoint identifier.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    wire::gtpu::Packet::new_checked(b).ok().map(|p| ("teid", p.teid()))
}

#[cfg(test)]
mod tests {
    use crate::protocol::testing::{decode, field};
    use craft::{build, Header};

    #[test]
    fn only_a_g_pdu_carries_a_packet() {
        let outer = |port| {
            vec![
                Header::eth(),
                Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2]),
                Header::Udp { src: port, dst: port },
            ]
        };
        let prime = build(
            &[outer(3386), vec![Header::GtpPrime { msg_type: 240 }, Header::Payload(vec![0; 8])]].concat(),
        );
        assert_eq!(decode(&prime, 1), ("eth.ip.udp.gtpprime".to_string(), vec![]));
        assert_eq!(field(&prime, "gtpmsgtype").as_deref(), Some("240"));
        let v2 = build(&[outer(2123), vec![Header::Gtpv2 { msg_type: 32, teid: Some(77) }]].concat());
        assert_eq!(decode(&v2, 1), ("eth.ip.udp.gtpv2".to_string(), vec![]));
        assert_eq!(field(&v2, "gtpteid").as_deref(), Some("77"));
        let gpdu = build(
            &[outer(2152), vec![Header::GtpU { teid: 5 }, Header::ipv4([3, 3, 3, 3], [4, 4, 4, 4])]].concat(),
        );
        assert_eq!(decode(&gpdu, 1).0, "eth.ip.udp.gtp.ip");
        let mut echo = gpdu.clone();
        echo[14 + 20 + 8 + 1] = 1;
        assert_eq!(decode(&echo, 1), ("eth.ip.udp.gtp".to_string(), vec![]));
    }
}

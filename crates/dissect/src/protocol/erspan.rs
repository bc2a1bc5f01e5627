//! ERSPAN types I, II and III. Type I has no header of its own: GRE 0x88BE without a sequence
//! number; II and III are told apart by their version field.
use super::{malformed, u, Dispatch, Res, Step};
use crate::anomaly::Anomaly;
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;
use wire::erspan::{frame_type, Packet, TYPE3_LEN, VERSION_TYPE2, VERSION_TYPE3};
use wire::ethernet::ethertype as et;
use wire::Error;

/// Where ERSPAN is found.
pub(crate) const DISPATCH: Dispatch =
    Dispatch { gre_protocols: &[(et::ERSPAN, Next::Erspan), (et::ERSPAN3, Next::Erspan3)], ..Dispatch::NONE };

/// The fields of an ERSPAN header.
pub(crate) const FIELDS: &[Field] = &[
    Field::ErspanType,
    Field::ErspanVersion,
    Field::ErspanSession,
    Field::ErspanVlan,
    Field::ErspanCos,
    Field::ErspanIndex,
    Field::ErspanTimestamp,
    Field::ErspanGranularity,
    Field::ErspanSgt,
    Field::ErspanHwId,
    Field::ErspanFrameType,
    Field::ErspanDirection,
    Field::ErspanPlatformId,
    Field::ErspanPortIndex,
];

/// ERSPAN behind GRE 0x88BE (or a configured alias): type I without the S bit in the GRE
/// header before it (`prev`), else a header whose version says II or III.
#[inline(always)]
pub(crate) fn decode_by_gre(data: &[u8], prev: Option<(Proto, &[u8])>) -> Res {
    let has_seq = match prev {
        Some((Proto::Gre, gre)) => gre.first().is_some_and(|b| b & 0x10 != 0),
        _ => false,
    };
    if !has_seq {
        return Ok(Step::new(Proto::Erspan1, 0, Some(Next::Ethernet)));
    }
    decode(data)
}

#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    let p = match Packet::new_checked(data) {
        Ok(p) => p,
        // A type III header whose platform sub-header is cut off.
        Err(Error::Truncated) if data.len() >= TYPE3_LEN && data[0] >> 4 == VERSION_TYPE3 => {
            return Ok(Step::new(Proto::Erspan3, TYPE3_LEN, None).stop(Anomaly::Truncated));
        }
        Err(e) => return Err(malformed(e, Anomaly::ErspanBadVersion)),
    };
    if p.version() == VERSION_TYPE2 {
        return Ok(Step::new(Proto::Erspan2, p.header_len(), Some(Next::Ethernet)));
    }
    let next = match p.frame_type() {
        frame_type::ETHERNET => Next::Ethernet,
        frame_type::IP => Next::Ip,
        _ => return Ok(Step::new(Proto::Erspan3, p.header_len(), None).stop(Anomaly::ErspanOpaqueFrameType)),
    };
    Ok(Step::new(Proto::Erspan3, p.header_len(), Some(next)))
}

/// Type I's only field.
pub(crate) fn fields_type1(emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::ErspanType, u(1u8));
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = Packet::new_unchecked(b);
    emit(Field::ErspanType, u(p.erspan_type()));
    emit(Field::ErspanVersion, u(p.version()));
    emit(Field::ErspanSession, u(p.session_id()));
    emit(Field::ErspanVlan, u(p.vlan()));
    emit(Field::ErspanCos, u(p.cos()));
    if p.version() == VERSION_TYPE2 {
        emit(Field::ErspanIndex, u(p.index()));
        return;
    }
    emit(Field::ErspanTimestamp, u(p.timestamp()));
    emit(Field::ErspanGranularity, u(p.granularity()));
    emit(Field::ErspanSgt, u(p.sgt()));
    emit(Field::ErspanHwId, u(p.hw_id()));
    emit(Field::ErspanFrameType, u(p.frame_type()));
    emit(Field::ErspanDirection, Value::Word(if p.egress() { "egress" } else { "ingress" }));
    if let Some(pl) = p.platform() {
        emit(Field::ErspanPlatformId, u(pl.id()));
        if let Some(i) = pl.port_index() {
            emit(Field::ErspanPortIndex, u(i));
        }
    }
}

/// Streams are named by the session (type I has none).
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    Packet::new_checked(b).ok().map(|p| ("session", u32::from(p.session_id())))
}

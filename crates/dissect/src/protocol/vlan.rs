//! 802.1Q, 802.1ad and the legacy QinQ tags.
use super::{tag, u, Dispatch, Res};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::Stack;
use crate::table::Next;
use crate::walk::Dissector;
use wire::ethernet::ethertype as et;

/// Where VLAN tags are found.
pub(crate) const DISPATCH: Dispatch = Dispatch {
    ethertypes: &[
        (et::VLAN, Next::Vlan),
        (et::QINQ, Next::Vlan),
        (et::QINQ_9100, Next::Vlan),
        (et::QINQ_9200, Next::Vlan),
    ],
    ..Dispatch::NONE
};

/// The fields of a VLAN tag.
pub(crate) const FIELDS: &[Field] = &[Field::Vlan, Field::Priority];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = wire::vlan::Packet::new_checked(data)?;
    tag(d, Proto::Vlan, wire::vlan::HEADER_LEN, p.ethertype(), stack)
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    let p = wire::vlan::Packet::new_unchecked(b);
    emit(Field::Vlan, u(p.vid()));
    emit(Field::Priority, u(p.pcp()));
}

//! Cisco MetaData (the security group tag), on Ethernet and inside GRE, where its EtherType
//! comes first.
use super::{tag, u, Dispatch, Res};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::stack::Stack;
use crate::table::Next;
use crate::walk::Dissector;
use wire::cisco_metadata::{Packet, HEADER_LEN};
use wire::ethernet::ethertype::CISCO_METADATA;

/// Where Cisco MetaData is found.
pub(crate) const DISPATCH: Dispatch = Dispatch {
    ethertypes: &[(CISCO_METADATA, Next::CiscoMetadata)],
    gre_protocols: &[(CISCO_METADATA, Next::CiscoMetadataGre)],
    ..Dispatch::NONE
};

/// The fields of a Cisco MetaData header.
pub(crate) const FIELDS: &[Field] = &[Field::CmdSgt];

#[inline(always)]
pub(crate) fn decode(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = Packet::new_checked(data)?;
    tag(d, Proto::CiscoMetadata, HEADER_LEN, p.ethertype(), stack)
}

#[inline(always)]
pub(crate) fn decode_in_gre(d: &mut Dissector, data: &[u8], stack: &mut Stack) -> Res {
    let p = Packet::new_checked(data)?;
    tag(d, Proto::CiscoMetadataGre, HEADER_LEN, p.gre_ethertype(), stack)
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::CmdSgt, u(Packet::new_unchecked(b).sgt()));
}

pub(crate) fn fields_in_gre(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::CmdSgt, u(Packet::new_unchecked(b).gre_sgt()));
}

//! Cisco ISL: recognised by its destination address in place of an Ethernet header; a 26-byte
//! header, the original frame, and a CRC that the LEN field leaves out.
use super::{u, Res, Step};
use crate::field::{Field, Value};
use crate::proto::Proto;
use crate::table::Next;
use wire::isl::{Packet, HEADER_LEN};

/// The fields of an ISL header: its VLAN, as a tag's.
pub(crate) const FIELDS: &[Field] = &[Field::Vlan];

/// The ISL header at the start of `data` (which starts with an ISL destination address).
#[inline(always)]
pub(crate) fn decode(data: &[u8]) -> Res {
    let p = Packet::new_checked(data)?;
    // Type 0 is Ethernet; Token Ring, FDDI and ATM frames are not decoded.
    let next = (p.frame_type() == 0).then_some(Next::Ethernet);
    let mut step = Step::new(Proto::Isl, HEADER_LEN, next);
    step.declared = p.frame_end() as u32;
    Ok(step)
}

pub(crate) fn fields(b: &[u8], emit: &mut dyn FnMut(Field, Value)) {
    emit(Field::Vlan, u(Packet::new_unchecked(b).vlan()));
}

/// Streams are named by the VLAN.
pub(crate) fn stream_id(b: &[u8]) -> Option<(&'static str, u32)> {
    Packet::new_checked(b).ok().map(|p| ("vlan", u32::from(p.vlan())))
}

#[cfg(test)]
mod tests {
    use crate::protocol::testing::{decode, field};
    use craft::{build, Header};

    #[test]
    fn isl_carries_the_frame_its_crc_left_out() {
        let f = build(&[Header::Isl { vlan: 300 }, Header::eth(), Header::ipv4([1, 1, 1, 1], [2, 2, 2, 2])]);
        assert_eq!(decode(&f, 1), ("isl.eth.ip".to_string(), vec![]));
        assert_eq!(field(&f, "vlan").as_deref(), Some("300"));
        // Multicast addresses near ISL's are plain Ethernet.
        let mut other = f.clone();
        other[4] = 0xcc;
        assert_eq!(decode(&other, 1).0, "eth.llc");
    }
}

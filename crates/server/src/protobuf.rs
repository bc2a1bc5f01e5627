//! Protocol Buffers' binary encoding, as far as the export writes it: varints, length-delimited
//! fields and nested messages appended to a buffer, and length-delimited framing of whole
//! messages (a varint length before each, as goflow2 and ClickHouse's `Protobuf` format read
//! them). Fields holding their type's default value are left out, as proto3 encoders do.

/// Wire type of varint fields.
const VARINT: u8 = 0;
/// Wire type of length-delimited fields (bytes, strings, messages, packed lists).
const LEN: u8 = 2;

/// Appends `v` as a varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `bytes`: the few bytes of an address or a name one at a time, which costs less
/// than a call to copy them.
#[inline]
pub fn extend(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() <= 16 {
        for &b in bytes {
            out.push(b);
        }
    } else {
        out.extend_from_slice(bytes);
    }
}

/// Bytes `v` takes as a varint.
fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, u64::from(field) << 3 | u64::from(wire_type));
}

/// Appends field `field` holding the unsigned integer `v` (left out when 0).
#[inline]
pub fn put_uint(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(out, field, VARINT);
        put_varint(out, v);
    }
}

/// Appends field `field` holding `bytes` (left out when empty).
#[inline]
pub fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    if !bytes.is_empty() {
        put_key(out, field, LEN);
        put_varint(out, bytes.len() as u64);
        extend(out, bytes);
    }
}

/// Appends field `field` holding the message `body` writes; an empty message is still written
/// (it counts as an element of a repeated field).
pub fn put_message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    put_key(out, field, LEN);
    delimited(out, body);
}

/// Appends the message `body` writes with its length before it: the framing of a stream of
/// messages, and of a nested message's bytes. Room for a one-byte length is kept before the
/// body (two bytes from 128); a longer length moves the body once.
pub fn delimited(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    delimited_in(out, 1, body);
}

/// [`delimited`] for a message likely 128 bytes or longer (a record): room for a two-byte
/// length is kept.
pub fn delimited_long(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    delimited_in(out, 2, body);
}

#[inline]
fn delimited_in(out: &mut Vec<u8>, room: usize, body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.resize(at + room, 0);
    body(out);
    let len = out.len() - at - room;
    let prefix = varint_len(len as u64);
    if prefix != room {
        // Move the body to sit right after its prefix.
        if prefix > room {
            out.resize(out.len() + prefix - room, 0);
        }
        out.copy_within(at + room..at + room + len, at + prefix);
        out.truncate(at + prefix + len);
    }
    let mut v = len as u64;
    for b in &mut out[at..at + prefix] {
        *b = if v >= 0x80 { v as u8 | 0x80 } else { v as u8 };
        v >>= 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_little_endian_groups_of_seven_bits() {
        for (v, bytes) in [
            (0u64, vec![0u8]),
            (1, vec![1]),
            (300, vec![0xac, 0x02]),
            (u64::MAX, {
                let mut b = vec![0xff; 9];
                b.push(1);
                b
            }),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, bytes, "{v}");
            assert_eq!(varint_len(v), bytes.len(), "{v}");
        }
    }

    #[test]
    fn fields_and_nested_messages_encode_as_protoc_does() {
        // message M { uint32 a = 1; string b = 2; N n = 1000; }  message N { uint32 c = 1; }
        // with a = 150, b = "hi", n = { c = 3 }: the bytes protoc's encoder writes.
        let mut out = Vec::new();
        put_uint(&mut out, 1, 150);
        put_bytes(&mut out, 2, b"hi");
        put_uint(&mut out, 3, 0);
        put_message(&mut out, 1000, |m| put_uint(m, 1, 3));
        assert_eq!(out, [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0xc2, 0x3e, 0x02, 0x08, 0x03]);
    }

    #[test]
    fn a_long_body_gets_a_longer_length_prefix() {
        for len in [0usize, 127, 128, 16_383, 16_384, 100_000, 3_000_000] {
            for room in [1, 2] {
                let mut out = vec![9u8];
                delimited_in(&mut out, room, |m| m.extend(std::iter::repeat_n(7u8, len)));
                let mut prefix = Vec::new();
                put_varint(&mut prefix, len as u64);
                assert_eq!(&out[1..1 + prefix.len()], &prefix[..], "{len}");
                assert_eq!(out.len(), 1 + prefix.len() + len, "{len}");
                assert!(out[1 + prefix.len()..].iter().all(|&b| b == 7));
            }
        }
    }
}

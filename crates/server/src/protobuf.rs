//! Protocol Buffers' binary encoding, as far as the export writes it: varints, length-delimited
//! fields and nested messages, and length-delimited framing of whole messages (a varint length
//! before each, as goflow2 and ClickHouse's `Protobuf` format read them). Fields holding their
//! type's default value are left out, as proto3 encoders do. A [`Writer`] fills a slice made
//! ready for the whole message, so that a byte costs a store (no capacity check and length
//! update per byte, as pushing to a `Vec` does).

/// Wire type of varint fields.
const VARINT: u8 = 0;
/// Wire type of length-delimited fields (bytes, strings, messages, packed lists).
const LEN: u8 = 2;
/// Most bytes a varint takes.
pub const VARINT_MAX: usize = 10;
/// Most bytes a field of a varint takes: a key of a field number under 2^21, and the varint.
pub const UINT_FIELD_MAX: usize = 3 + VARINT_MAX;
/// Most bytes a length-delimited field takes besides its content (content under 2^21 bytes).
pub const LEN_FIELD_OVERHEAD: usize = 3 + 3;

/// Bytes `v` takes as a varint.
fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Writes a message into a slice long enough for it (the caller bounds its length; a longer
/// message is a bug and panics).
pub struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> Writer<'a> {
    /// A writer filling `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Writer<'a> {
        Writer { buf, at: 0 }
    }

    /// Bytes written.
    pub fn written(&self) -> usize {
        self.at
    }

    /// Writes one byte.
    #[inline]
    pub fn byte(&mut self, b: u8) {
        self.buf[self.at] = b;
        self.at += 1;
    }

    /// Writes `bytes` (the few of an address or a name one at a time, which costs less than a
    /// call to copy them).
    #[inline]
    pub fn bytes(&mut self, bytes: &[u8]) {
        if bytes.len() <= 16 {
            for &b in bytes {
                self.byte(b);
            }
        } else {
            self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
            self.at += bytes.len();
        }
    }

    /// Writes `v` as a varint.
    #[inline]
    pub fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte(v as u8 | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    #[inline]
    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire_type));
    }

    /// Writes field `field` holding the unsigned integer `v` (left out when 0).
    #[inline]
    pub fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, VARINT);
            self.varint(v);
        }
    }

    /// Writes field `field` holding `bytes` (left out when empty).
    #[inline]
    pub fn field_bytes(&mut self, field: u32, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.key(field, LEN);
            self.varint(bytes.len() as u64);
            self.bytes(bytes);
        }
    }

    /// Writes field `field` holding the message `body` writes; an empty message is still
    /// written (it counts as an element of a repeated field).
    #[inline]
    pub fn message(&mut self, field: u32, body: impl FnOnce(&mut Writer<'_>)) {
        self.key(field, LEN);
        self.delimited(1, body);
    }

    /// Writes the message `body` writes with its length before it, `room` bytes kept for the
    /// length; a length that takes more or fewer moves the body once (the buffer needs
    /// `VARINT_MAX - room` bytes to spare for that).
    pub fn delimited(&mut self, room: usize, body: impl FnOnce(&mut Writer<'_>)) {
        let start = self.at;
        self.at += room;
        body(self);
        let len = self.at - start - room;
        let prefix = varint_len(len as u64);
        if prefix != room {
            self.buf.copy_within(start + room..start + room + len, start + prefix);
        }
        self.at = start;
        self.varint(len as u64);
        self.at = start + prefix + len;
    }
}

/// Appends the message `body` writes, with its length before it (two bytes kept for it: a
/// record is usually 128 bytes or longer), into `out`; `bound` is the most bytes the message
/// may take.
pub fn append_delimited(out: &mut Vec<u8>, bound: usize, body: impl FnOnce(&mut Writer<'_>)) {
    let start = out.len();
    out.resize(start + bound + VARINT_MAX, 0);
    let mut w = Writer::new(&mut out[start..]);
    w.delimited(2, body);
    let n = w.written();
    out.truncate(start + n);
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
            let mut buf = [0u8; VARINT_MAX];
            let mut w = Writer::new(&mut buf);
            w.varint(v);
            let n = w.written();
            assert_eq!(&buf[..n], &bytes[..], "{v}");
            assert_eq!(varint_len(v), bytes.len(), "{v}");
        }
    }

    #[test]
    fn fields_and_nested_messages_encode_as_protoc_does() {
        // message M { uint32 a = 1; string b = 2; N n = 1000; }  message N { uint32 c = 1; }
        // with a = 150, b = "hi", n = { c = 3 }: the bytes protoc's encoder writes.
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        w.uint(1, 150);
        w.field_bytes(2, b"hi");
        w.uint(3, 0);
        w.message(1000, |m| m.uint(1, 3));
        let n = w.written();
        assert_eq!(&buf[..n], [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0xc2, 0x3e, 0x02, 0x08, 0x03]);
    }

    #[test]
    fn a_body_of_any_length_gets_its_length_before_it() {
        for len in [0usize, 1, 127, 128, 16_383, 16_384, 100_000, 3_000_000] {
            let mut out = vec![9u8];
            append_delimited(&mut out, len, |w| {
                for _ in 0..len {
                    w.byte(7);
                }
            });
            let mut buf = [0u8; VARINT_MAX];
            let mut w = Writer::new(&mut buf);
            w.varint(len as u64);
            let n = w.written();
            let prefix = &buf[..n];
            assert_eq!(&out[1..1 + prefix.len()], prefix, "{len}");
            assert_eq!(out.len(), 1 + prefix.len() + len, "{len}");
            assert!(out[1 + prefix.len()..].iter().all(|&b| b == 7));
        }
    }
}

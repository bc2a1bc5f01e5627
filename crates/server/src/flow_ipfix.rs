//! IPFIX export of a flow definition's completed flows (its `ipfixCollectors` attribute, as
//! sFlow-RT has it): each flow the engine logs — when it ends, or every `activeTimeout` — is a
//! data record of the definition's own template: one information element per key (the inner
//! keys `ipsource.1`, ... map to the same elements: the tenant's addresses), the value as
//! octets or packets, the flow's start and end, and the agent. A key with no IPFIX element
//! makes the definition an error that names it.
use crate::ipfix::{ExportCounts, MessageWriter};
use crate::spec::FlowSpec;
use flows::FlowRecord;
use std::net::{IpAddr, SocketAddr};
use wire::ipfix::{FieldSpec, PORT};

/// The template's ID (each definition is an exporting process of its own).
const TEMPLATE: u16 = 256;

/// How a key's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Ipv4,
    Ipv6,
    Mac,
    /// An unsigned number this many bytes long.
    Number(u16),
    /// RFC 7133's layer2SegmentId: the type in the top byte, the identifier below.
    Segment(u8),
}

/// The information element of key `name` (without its `.N` depth): its ID, length and how
/// its value is written.
fn element(name: &str) -> Option<(u16, u16, Encoding)> {
    use Encoding::*;
    Some(match name {
        "ipsource" => (8, 4, Ipv4),
        "ipdestination" => (12, 4, Ipv4),
        "ip6source" => (27, 16, Ipv6),
        "ip6destination" => (28, 16, Ipv6),
        "ipprotocol" | "ip6nexthdr" => (4, 1, Number(1)),
        "iptos" | "ip6tos" => (5, 1, Number(1)),
        "tcpsourceport" | "udpsourceport" | "sctpsourceport" => (7, 2, Number(2)),
        "tcpdestinationport" | "udpdestinationport" | "sctpdestinationport" => (11, 2, Number(2)),
        "macsource" => (56, 6, Mac),
        "macdestination" => (80, 6, Mac),
        "vlan" => (58, 2, Number(2)),
        "inputifindex" => (10, 4, Number(4)),
        "outputifindex" => (14, 4, Number(4)),
        "mplslabel" => (70, 3, Number(3)),
        "vxlanvni" => (351, 8, Segment(0x01)),
        "grevsid" => (351, 8, Segment(0x02)),
        "grekey" => (296, 4, Number(4)),
        _ => return None,
    })
}

/// The keys that export, for error messages.
const EXPORTABLE: &str = "ipsource, ipdestination, ip6source, ip6destination, ipprotocol, iptos, \
    tcp/udp/sctp source and destination ports, macsource, macdestination, vlan, inputifindex, \
    outputifindex, mplslabel, vxlanvni, grevsid, grekey (each at any depth, .N)";

/// One flow definition's IPFIX export.
pub struct FlowExport {
    writer: MessageWriter,
    fields: Vec<FieldSpec>,
    keys: Vec<Encoding>,
    separator: String,
    record_len: usize,
}

impl FlowExport {
    /// The export `spec` asks for (`None` without collectors), sent as observation domain
    /// `domain`; an error names what cannot be exported.
    pub fn new(spec: &FlowSpec, domain: u32) -> Result<Option<FlowExport>, String> {
        if spec.ipfix_collectors.is_empty() {
            return Ok(None);
        }
        let collectors = spec
            .ipfix_collectors
            .iter()
            .map(|c| {
                c.parse::<SocketAddr>()
                    .or_else(|_| c.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, PORT)))
                    .map_err(|_| format!("ipfixCollectors: `{c}` is not an IP address (or ADDRESS:PORT)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut fields = Vec::new();
        let mut keys = Vec::new();
        for key in spec.keys.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            let base = key.split_once('.').map_or(
                key,
                |(b, depth)| {
                    if depth.parse::<u32>().is_ok() {
                        b
                    } else {
                        key
                    }
                },
            );
            let (id, len, encoding) = element(base).ok_or_else(|| {
                format!("ipfixCollectors: key `{key}` has no IPFIX element; these keys export: {EXPORTABLE}")
            })?;
            if fields.iter().any(|f: &FieldSpec| f.id == id) {
                return Err(format!("ipfixCollectors: key `{key}` is the same IPFIX element as another key"));
            }
            fields.push(FieldSpec { id, len, enterprise: None });
            keys.push(encoding);
        }
        let value = match spec.value.as_str() {
            "bytes" => 1,  // octetDeltaCount
            "frames" => 2, // packetDeltaCount
            v => return Err(format!("ipfixCollectors: value `{v}` does not export; use bytes or frames")),
        };
        fields.extend([
            FieldSpec { id: value, len: 8, enterprise: None },
            FieldSpec { id: 152, len: 8, enterprise: None }, // flowStartMilliseconds
            FieldSpec { id: 153, len: 8, enterprise: None }, // flowEndMilliseconds
            FieldSpec { id: 130, len: 4, enterprise: None }, // exporterIPv4Address (the agent)
        ]);
        let writer = MessageWriter::new(collectors, domain)
            .map_err(|e| format!("ipfixCollectors: cannot open a socket: {e}"))?;
        let record_len = wire::ipfix::record_len(&fields);
        Ok(Some(FlowExport { writer, fields, keys, separator: spec.fs.clone(), record_len }))
    }

    /// Adds the record of flow `r`, which ran from `start_ms` to `end_ms` (Unix ms).
    pub fn record(&mut self, r: &FlowRecord, start_ms: u64, end_ms: u64) {
        let mut out = vec![0u8; self.record_len];
        let mut at = 0;
        // A key the flow lacks a value for stays zero.
        let mut values = r.key.split(self.separator.as_str());
        for (encoding, field) in self.keys.iter().zip(&self.fields) {
            write_key(&mut out[at..at + field.len as usize], *encoding, values.next().unwrap_or(""));
            at += field.len as usize;
        }
        let agent = match r.source.agent {
            IpAddr::V4(a) => a.octets(),
            IpAddr::V6(_) => [0; 4],
        };
        for bytes in [
            &(r.value.max(0.0).round() as u64).to_be_bytes()[..],
            &start_ms.to_be_bytes(),
            &end_ms.to_be_bytes(),
            &agent,
        ] {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        }
        self.writer.record(&[(TEMPLATE, &self.fields)], TEMPLATE, &out);
    }

    /// Sends what is gathered when a second has passed (call it once a second).
    pub fn tick(&mut self) {
        self.writer.tick();
    }

    /// Sends what is gathered now.
    pub fn flush(&mut self) {
        self.writer.flush();
    }

    /// What was sent.
    pub fn counts(&self) -> ExportCounts {
        self.writer.counts
    }
}

/// Writes a key's text `value` into `out` (left zero when it does not read as its type, as an
/// absent key's empty value does not).
fn write_key(out: &mut [u8], encoding: Encoding, value: &str) {
    match encoding {
        Encoding::Ipv4 => {
            if let Ok(a) = value.parse::<std::net::Ipv4Addr>() {
                out.copy_from_slice(&a.octets());
            }
        }
        Encoding::Ipv6 => {
            if let Ok(a) = value.parse::<std::net::Ipv6Addr>() {
                out.copy_from_slice(&a.octets());
            }
        }
        Encoding::Mac => {
            let hex: String = value.chars().filter(char::is_ascii_hexdigit).collect();
            if let (12, Ok(v)) = (hex.len(), u64::from_str_radix(&hex, 16)) {
                out.copy_from_slice(&v.to_be_bytes()[2..]);
            }
        }
        Encoding::Number(len) => {
            if let Ok(v) = value.parse::<u64>() {
                out.copy_from_slice(&v.to_be_bytes()[8 - len as usize..]);
            }
        }
        Encoding::Segment(kind) => {
            if let Ok(v) = value.parse::<u32>() {
                out.copy_from_slice(&(u64::from(kind) << 56 | u64::from(v & 0x00ff_ffff)).to_be_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(keys: &str, value: &str) -> FlowSpec {
        let json = serde_json::json!({ "keys": keys, "value": value, "ipfixCollectors": ["127.0.0.1"] });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn keys_without_an_element_are_named() {
        assert!(FlowExport::new(&spec("ipsource.1,ipdestination.1,vxlanvni", "bytes"), 1).unwrap().is_some());
        let e = FlowExport::new(&spec("ipsource,stack", "bytes"), 1).err().unwrap();
        assert!(e.contains("key `stack` has no IPFIX element"), "{e}");
        let e = FlowExport::new(&spec("ipsource,ipsource.1", "bytes"), 1).err().unwrap();
        assert!(e.contains("same IPFIX element"), "{e}");
        let e = FlowExport::new(&spec("ipsource", "ipbytes"), 1).err().unwrap();
        assert!(e.contains("use bytes or frames"), "{e}");
        let mut bad = spec("ipsource", "bytes");
        bad.ipfix_collectors = vec!["collector.example".into()];
        assert!(FlowExport::new(&bad, 1).err().unwrap().contains("not an IP address"));
    }

    #[test]
    fn values_are_written_as_their_elements_read() {
        let mut b = [0u8; 8];
        write_key(&mut b, Encoding::Segment(1), "42");
        assert_eq!(u64::from_be_bytes(b), 1 << 56 | 42);
        let mut m = [0u8; 6];
        write_key(&mut m, Encoding::Mac, "00:1b:21:aa:bb:cc");
        assert_eq!(m, [0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc]);
        let mut p = [0u8; 2];
        write_key(&mut p, Encoding::Number(2), "443");
        assert_eq!(p, [1, 187]);
        let mut none = [9u8; 4];
        write_key(&mut none, Encoding::Ipv4, "");
        assert_eq!(none, [9; 4], "an empty value leaves the field as it is");
    }
}

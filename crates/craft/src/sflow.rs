//! Builds sFlow v5 datagrams (XDR, big-endian words): flow samples carrying sampled packet
//! headers, and counter samples carrying generic interface counters — for tests, demos and
//! the collector benchmark.
use std::net::IpAddr;

/// One sample of a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sample {
    /// A flow sample (compact format) with one sampled-header record (Ethernet).
    Flow {
        /// The data source's ifIndex.
        source: u32,
        /// 1 in this many packets.
        sampling_rate: u32,
        /// Packets that could have been sampled.
        sample_pool: u32,
        /// Input ifIndex.
        input: u32,
        /// Output ifIndex.
        output: u32,
        /// Length of the original frame.
        frame_length: u32,
        /// The sampled bytes (the frame's first bytes).
        header: Vec<u8>,
    },
    /// A counter sample (compact) with generic interface counters.
    Counters {
        /// The ifIndex.
        source: u32,
        /// ifSpeed, bits per second.
        speed: u64,
        /// ifInOctets.
        in_octets: u64,
        /// ifOutOctets.
        out_octets: u64,
        /// ifStatus: bit 0 admin up, bit 1 oper up.
        status: u32,
    },
}

/// A datagram's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agent {
    /// The agent address.
    pub address: IpAddr,
    /// The sub-agent.
    pub sub_agent: u32,
}

fn put(out: &mut Vec<u8>, w: u32) {
    out.extend_from_slice(&w.to_be_bytes());
}

fn put64(out: &mut Vec<u8>, w: u64) {
    out.extend_from_slice(&w.to_be_bytes());
}

/// Appends `format`, a length placeholder, what `body` writes, and fills the length in.
fn record(out: &mut Vec<u8>, format: u32, body: impl FnOnce(&mut Vec<u8>)) {
    put(out, format);
    let at = out.len();
    put(out, 0);
    body(out);
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

/// A datagram from `agent` with `sequence`, `uptime_ms` and `samples` (each sample's own
/// sequence number is its position plus `sequence × samples.len()`).
pub fn datagram(agent: Agent, sequence: u32, uptime_ms: u32, samples: &[Sample]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + samples.len() * 200);
    put(&mut out, 5);
    match agent.address {
        IpAddr::V4(a) => {
            put(&mut out, 1);
            out.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            put(&mut out, 2);
            out.extend_from_slice(&a.octets());
        }
    }
    put(&mut out, agent.sub_agent);
    put(&mut out, sequence);
    put(&mut out, uptime_ms);
    put(&mut out, samples.len() as u32);
    for (i, s) in samples.iter().enumerate() {
        let sample_seq = sequence.wrapping_mul(samples.len() as u32).wrapping_add(i as u32);
        match s {
            Sample::Flow { source, sampling_rate, sample_pool, input, output, frame_length, header } => {
                record(&mut out, 1, |o| {
                    for w in [sample_seq, *source, *sampling_rate, *sample_pool, 0, *input, *output, 1] {
                        put(o, w);
                    }
                    record(o, 1, |o| {
                        for w in [1, *frame_length, 4, header.len() as u32] {
                            put(o, w);
                        }
                        o.extend_from_slice(header);
                        o.resize(o.len() + (4 - header.len() % 4) % 4, 0);
                    });
                });
            }
            Sample::Counters { source, speed, in_octets, out_octets, status } => {
                record(&mut out, 2, |o| {
                    for w in [sample_seq, *source, 1] {
                        put(o, w);
                    }
                    record(o, 1, |o| {
                        for w in [*source, 6] {
                            put(o, w);
                        }
                        put64(o, *speed);
                        put(o, 1);
                        put(o, *status);
                        put64(o, *in_octets);
                        for _ in 0..6 {
                            put(o, 0);
                        }
                        put64(o, *out_octets);
                        for _ in 0..6 {
                            put(o, 0);
                        }
                    });
                });
            }
        }
    }
    out
}

/// `count` datagrams from `agent`, each with `samples` flow samples (1 in `sampling_rate`) of
/// the next frames of `generator` cut to 128 bytes, over ifIndexes 1 to 48 — the stream the
/// collector benchmark sends.
pub fn stream(
    generator: &mut crate::mix::Generator,
    agent: Agent,
    count: u32,
    samples: u32,
    sampling_rate: u32,
) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let samples: Vec<Sample> = (0..samples)
                .map(|s| {
                    let mut frame = generator.frame();
                    let frame_length = frame.len() as u32 + 4;
                    frame.truncate(128);
                    let port = 1 + (i + s) % 48;
                    Sample::Flow {
                        source: port,
                        sampling_rate,
                        sample_pool: (i * samples + s).wrapping_mul(sampling_rate),
                        input: port,
                        output: 49,
                        frame_length,
                        header: frame,
                    }
                })
                .collect();
            datagram(agent, i, i * 10, &samples)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::sflow::{CountersSample, Datagram, FlowSample, IfCounters, SampledHeader};

    #[test]
    fn wire_reads_what_is_built() {
        let agent = Agent { address: IpAddr::from([192, 0, 2, 1]), sub_agent: 3 };
        let header = vec![0xab; 77];
        let samples = [
            Sample::Flow {
                source: 5,
                sampling_rate: 100,
                sample_pool: 1000,
                input: 5,
                output: 6,
                frame_length: 1500,
                header: header.clone(),
            },
            Sample::Counters {
                source: 5,
                speed: 10_000_000_000,
                in_octets: 1 << 40,
                out_octets: 7,
                status: 3,
            },
        ];
        let d = datagram(agent, 9, 1234, &samples);
        let dg = Datagram::parse(&d).unwrap();
        assert_eq!((dg.sub_agent_id, dg.sequence, dg.uptime_ms, dg.num_samples), (3, 9, 1234, 2));
        let mut it = dg.samples();
        let f = FlowSample::parse(it.next().unwrap().unwrap().data, false).unwrap();
        assert_eq!((f.source_id_index, f.sampling_rate, f.sample_pool), (5, 100, 1000));
        let h = SampledHeader::parse(f.records.clone().next().unwrap().unwrap().data).unwrap();
        assert_eq!((h.frame_length, h.header), (1500, &header[..]));
        let c = CountersSample::parse(it.next().unwrap().unwrap().data, false).unwrap();
        let ifc = IfCounters::parse(c.records.clone().next().unwrap().unwrap().data).unwrap();
        assert_eq!(
            (ifc.index, ifc.speed, ifc.in_octets, ifc.out_octets, ifc.status),
            (5, 10_000_000_000, 1 << 40, 7, 3)
        );
        assert!(it.next().is_none());
    }
}

//! What a pipeline did, as one typed value: frames and bytes in and out, input by
//! encapsulation, output by tunnel kind, drops by reason, reassembly, the ERSPAN clock,
//! decoder anomalies, the kernel's drops, live sources, every sink and every tunnel stream.
//! `--stats json` and `/pipelines/json` serialize it; [`Summary::text`] is the summary people
//! read.
use serde::Serialize;
use std::collections::BTreeMap;

/// A pipeline's summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Frames received or read.
    pub frames_in: u64,
    /// Their captured bytes.
    pub bytes_in: u64,
    /// Frames emitted that reached the outputs (those a failing file lost are not).
    pub frames_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Seconds the pipeline ran.
    pub seconds: f64,
    /// A signal stopped reading capture files before their end.
    pub interrupted: bool,
    /// Frames in, by outermost encapsulation.
    pub in_by_encapsulation: BTreeMap<String, u64>,
    /// Frames out, by the kind of tunnel stripped (`untunnelled` for none).
    pub out_by_stream_kind: BTreeMap<String, u64>,
    /// Frames not emitted, by reason (every reason, 0 included).
    pub dropped: BTreeMap<String, u64>,
    /// Record numbers of the first dropped frames.
    pub dropped_frames: Vec<u64>,
    /// Record numbers of the first frames that completed a reassembled datagram.
    pub reassembled_frames: Vec<u64>,
    /// Outer fragments.
    pub reassembly: Reassembly,
    /// ERSPAN III times, when they are asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erspan_timestamps: Option<ErspanTimestamps>,
    /// Repeats let through because their first copy had left the duplicate ring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedup_unverified: Option<u64>,
    /// Anomalies the decoder found, by name.
    pub decoder_anomalies: BTreeMap<String, u64>,
    /// The capture rings' kernel counters, for interface sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Kernel>,
    /// Datagrams the kernel dropped on the endpoints' sockets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_drops: Option<u64>,
    /// Frames each worker decoded, when several share the sources (how evenly the fanout
    /// spread them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<u64>,
    /// Output files opened.
    pub files: u32,
    /// Frames lost to failed writes of the output files.
    pub write_errors: u64,
    /// Live sources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceCounts>,
    /// TAP and tunnel sinks.
    pub sinks: Vec<SinkCounts>,
    /// The flows sink.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<FlowCounts>,
    /// The export sink.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<FlowCounts>,
    /// sFlow datagrams read as the packets they sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sflow: Option<SflowCounts>,
    /// Tunnel streams, most frames first.
    pub streams: Vec<StreamCounts>,
    /// Frames of streams past the number tracked one by one.
    pub other_streams: Counts,
    /// `-c`: the run stopped when this many frames were out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_reached: Option<u64>,
    /// The output pipe's reader stopped reading (a normal end, as for tcpdump).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub output_closed: bool,
    /// Why the pipeline stopped, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Frames and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Frames.
    pub frames: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Outer fragments: taken, datagrams reassembled, expired and refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Reassembly {
    /// Fragments taken.
    pub fragments: u64,
    /// Datagrams reassembled.
    pub reassembled: u64,
    /// Incomplete datagrams that expired.
    pub expired: u64,
    /// Fragments refused.
    pub refused: u64,
}

/// ERSPAN III times rebuilt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErspanTimestamps {
    /// Frames given their ERSPAN time.
    pub rebuilt: u64,
    /// Streams whose counter jumped and were anchored again.
    pub reanchored: u64,
    /// Frames of streams past the number tracked.
    pub untracked: u64,
}

/// The kernel's counters of the capture rings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Kernel {
    /// Frames the kernel saw.
    pub packets: u64,
    /// Frames it dropped for a full ring.
    pub drops: u64,
}

/// A live source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceCounts {
    /// `vxlan://0.0.0.0:4789`, `interface eth1`, ...
    pub name: String,
    /// Frames received.
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// A TAP, tool port or tunnel sink.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkCounts {
    /// `tap mon0`, `vxlan://192.0.2.9:4789?vni=7`, ...
    pub name: String,
    /// Frames written.
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Frames too big for it.
    pub too_big: u64,
    /// Frames it refused.
    pub errors: u64,
    /// Times it was opened again after its interface refused frames: a TAP deleted and created
    /// again, a tool port whose socket went stale (deleted and created again).
    pub reopened: u64,
}

/// The flows sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FlowCounts {
    /// Frames offered to it (accepted by the filter, not duplicates).
    pub offered: u64,
    /// Frames counted (1 in `sample`).
    pub counted: u64,
    /// Its sampling rate.
    pub sample: u64,
}

/// sFlow datagrams read, and their agents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SflowCounts {
    /// Datagrams.
    pub datagrams: u64,
    /// Datagrams that are not sFlow v5 or failed part way.
    pub malformed: u64,
    /// Records, headers and discard samples not counted.
    pub skipped: u64,
    /// Every agent and sub-agent.
    pub agents: Vec<AgentCounts>,
    /// Datagrams of agents past the number tracked.
    pub agents_refused: u64,
}

/// What one agent (and sub-agent) sent, and what its sequence numbers say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgentCounts {
    /// The agent's address.
    pub agent: String,
    /// The sub-agent.
    pub sub_agent: u32,
    /// Datagrams.
    pub datagrams: u64,
    /// Flow samples.
    pub flow_samples: u64,
    /// Counter samples.
    pub counter_samples: u64,
    /// Datagrams missing from the sequence.
    pub lost: u64,
    /// Datagrams received twice.
    pub duplicates: u64,
    /// Datagrams after a later one.
    pub out_of_order: u64,
    /// Sequence restarts.
    pub restarts: u64,
    /// Malformed datagrams.
    pub malformed: u64,
}

/// A tunnel stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamCounts {
    /// `erspan3 10.0.0.1>10.0.0.2 session 7`.
    pub name: String,
    /// Its tunnel kind.
    pub kind: String,
    /// The tunnel's source address.
    pub source: String,
    /// The tunnel's destination address.
    pub destination: String,
    /// Its identifier (VNI, key, session; 0 for none).
    pub id: u32,
    /// Frames emitted.
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Streams listed one by one in the text summary.
const TEXT_STREAMS: usize = 40;

/// One-line JSON with a space after each `:` and `,`, as `--stats json` has always printed.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        separate(w, first)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        separate(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

/// `, ` before every item but the first.
fn separate<W: ?Sized + std::io::Write>(w: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        w.write_all(b", ")
    }
}

impl Summary {
    /// The summary as one line of JSON (`--stats json`).
    pub fn json(&self) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Spaced);
        // Serializing plain data into memory cannot fail.
        let _ = self.serialize(&mut ser);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The summary as people read it (`detunnel decap` prints it on standard error).
    pub fn text(&self) -> String {
        let nonzero = |m: &BTreeMap<String, u64>| -> Vec<(String, u64)> {
            m.iter().filter(|(_, n)| **n > 0).map(|(k, n)| (k.clone(), *n)).collect()
        };
        let mut s = format!(
            "detunnel decap: {} in ({:.1} MB), {} out ({:.1} MB), {:.2} s\n",
            counted(self.frames_in, "frame"),
            self.bytes_in as f64 / 1e6,
            self.frames_out,
            self.bytes_out as f64 / 1e6,
            self.seconds
        );
        s.push_str(&format!("  in by encapsulation: {}\n", by_count(&nonzero(&self.in_by_encapsulation))));
        s.push_str(&format!("  out by tunnel kind:  {}\n", by_count(&nonzero(&self.out_by_stream_kind))));
        let drops = nonzero(&self.dropped);
        s.push_str(&format!(
            "  dropped: {}\n",
            if drops.is_empty() { "none".into() } else { by_count(&drops) }
        ));
        let r = self.reassembly;
        if r.fragments > 0 {
            s.push_str(&format!(
                "  outer fragments: {} taken, {} datagrams reassembled, {} expired, {} refused\n",
                r.fragments, r.reassembled, r.expired, r.refused
            ));
        }
        if let Some(c) = self.erspan_timestamps {
            s.push_str(&format!(
                "  erspan timestamps: {} rebuilt, {} re-anchored\n",
                c.rebuilt, c.reanchored
            ));
        }
        if let Some(n) = self.dedup_unverified.filter(|n| *n > 0) {
            s.push_str(&format!(
                "  duplicates: {n} repeats let through (the first copy had left the 16 MiB comparison ring)\n"
            ));
        }
        if !self.decoder_anomalies.is_empty() {
            let a: Vec<(String, u64)> = self.decoder_anomalies.iter().map(|(k, n)| (k.clone(), *n)).collect();
            s.push_str(&format!("  decoder anomalies: {}\n", by_count(&a)));
        }
        if let Some(k) = self.kernel {
            s.push_str(&format!(
                "  capture rings: {} frames seen by the kernel, {} dropped (ring full)\n",
                k.packets, k.drops
            ));
        }
        if let Some(drops) = self.socket_drops {
            s.push_str(&format!(
                "  endpoint sockets: {drops} datagrams dropped by the kernel (buffers full)\n"
            ));
        }
        if !self.workers.is_empty() {
            let each: Vec<String> = self.workers.iter().map(u64::to_string).collect();
            s.push_str(&format!("  workers: {} frames decoded\n", each.join(" / ")));
        }
        if let Some(n) = self.count_reached {
            s.push_str(&format!("  stopped after {} out (-c)\n", counted(n, "frame")));
        }
        if self.output_closed {
            // Frames still on their way when the reader left were not delivered; that is
            // the pipe's normal end, not a write error.
            s.push_str(&format!(
                "  output: its reader stopped reading (a pipe closed early) after {} frames; the run ended there ({} frames on their way not delivered)\n",
                self.frames_out, self.write_errors
            ));
        } else if self.write_errors > 0 || self.files > 1 {
            s.push_str(&format!(
                "  output: {} files, {} frames lost to write errors\n",
                self.files, self.write_errors
            ));
        }
        for k in &self.sinks {
            let back = match k.reopened {
                0 => String::new(),
                1 => "; opened again once".to_string(),
                n => format!("; opened again {n} times"),
            };
            s.push_str(&format!(
                "  {}: {} frames written ({} bytes), {} too big, {} refused{back}\n",
                k.name, k.frames, k.bytes, k.too_big, k.errors
            ));
        }
        if let Some(f) = self.flows {
            s.push_str(&format!(
                "  flows: {} frames counted into the flow engine (1 in {} of {})\n",
                f.counted, f.sample, f.offered
            ));
        }
        s.push_str(&format!("  streams: {}\n", self.streams.len()));
        for k in self.streams.iter().take(TEXT_STREAMS) {
            s.push_str(&format!("    {:>10} frames {:>14} bytes  {}\n", k.frames, k.bytes, k.name));
        }
        if self.streams.len() > TEXT_STREAMS {
            s.push_str(&format!(
                "    ... and {} more (--stats json lists them all)\n",
                self.streams.len() - TEXT_STREAMS
            ));
        }
        if self.other_streams.frames > 0 {
            s.push_str(&format!(
                "    {:>10} frames {:>14} bytes  (streams beyond {})\n",
                self.other_streams.frames,
                self.other_streams.bytes,
                crate::streams::MAX_STREAMS
            ));
        }
        s
    }
}

/// `n` of `noun`, in words that agree: "1 frame", "2 frames".
pub fn counted(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// `name count, ...`, largest first.
fn by_count(v: &[(String, u64)]) -> String {
    let mut v = v.to_vec();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sink_opened_again_says_how_often() {
        let sink = |name: &str, reopened| SinkCounts {
            name: name.into(),
            frames: 130,
            bytes: 9_000,
            too_big: 0,
            errors: 20,
            reopened,
        };
        let s = Summary {
            sinks: vec![sink("out tp1", 0), sink("tap mon0", 1), sink("out tp2", 2)],
            ..Summary::default()
        };
        let text = s.text();
        assert!(text.contains("out tp1: 130 frames written (9000 bytes), 0 too big, 20 refused\n"), "{text}");
        assert!(
            text.contains(
                "tap mon0: 130 frames written (9000 bytes), 0 too big, 20 refused; opened again once\n"
            ),
            "{text}"
        );
        assert!(text.contains("; opened again 2 times\n"), "{text}");
    }

    #[test]
    fn one_frame_is_said_in_the_singular() {
        let one = Summary { frames_in: 1, frames_out: 1, count_reached: Some(1), ..Summary::default() };
        let text = one.text();
        assert!(text.starts_with("detunnel decap: 1 frame in (0.0 MB), 1 out"), "{text}");
        assert!(text.contains("  stopped after 1 frame out (-c)\n"), "{text}");
        let two = Summary { frames_in: 2, ..Summary::default() };
        assert!(two.text().starts_with("detunnel decap: 2 frames in"), "{}", two.text());
    }

    #[test]
    fn several_workers_say_what_each_decoded_and_one_says_nothing() {
        let s = Summary { workers: vec![2_100, 1_900], ..Summary::default() };
        assert!(s.text().contains("  workers: 2100 / 1900 frames decoded\n"), "{}", s.text());
        assert_eq!(serde_json::to_value(&s).unwrap()["workers"], serde_json::json!([2_100, 1_900]));
        let one = Summary::default();
        assert!(!one.text().contains("workers"), "{}", one.text());
        assert!(serde_json::to_value(&one).unwrap().get("workers").is_none());
    }
}

//! `cargo bench -p server`: sFlow samples decoded and counted per second on one core by a
//! collector worker — datagrams of 8 flow samples with 128-byte tunnelled headers, counted
//! into three flow definitions — and the ratio to a baseline measured in the same run
//! (reading the same datagrams' samples and records with `wire` alone), since the machines
//! are shared and absolute figures drift; then the same worker writing every sample's Kafka
//! export record too (to a broker that is not there: the records are written, the messages
//! dropped at the queue), as a ratio to the worker without export. `bench/sflow.py` and
//! `bench/export.py` measure whole processes over UDP.
use craft::mix::{Generator, Mix};
use craft::sflow::{stream, Agent};
use craft::timing::{iterations, median_ns};
use server::collector::{Worker, WorkerLimits};
use server::spec::FlowSpec;
use std::hint::black_box;
use wire::sflow::{Datagram, FlowSample};

const SAMPLES: u32 = 8;

/// The three definitions of the benchmark (the same as bench/sflow.py's).
pub const FLOWS: [(&str, &str); 3] = [
    ("outer", r#"{"keys":"ipsource,ipdestination","value":"bytes"}"#),
    ("tenants", r#"{"keys":"ipsource.1,ipdestination.1,ipprotocol.1","value":"frames"}"#),
    ("stacks", r#"{"keys":"stack","value":"frames"}"#),
];

fn main() {
    let agent = Agent { address: std::net::IpAddr::from([192, 0, 2, 1]), sub_agent: 0 };
    let datagrams = stream(&mut Generator::new(Mix::default()), agent, 4096, SAMPLES, 1000);
    let mut w = Worker::new(dissect::Config::default(), query::Context::new(), WorkerLimits::default());
    for (name, json) in FLOWS {
        let (d, o) = serde_json::from_str::<FlowSpec>(json).unwrap().definition();
        w.engine.set_flow(name, d.compile(&query::Context::new()).unwrap(), o);
    }
    let n = iterations(200_000);
    let mut clock = 0.0;
    let collect = median_ns(7, n, |n| {
        for i in 0..n {
            clock += 1e-5;
            w.datagram(black_box(&datagrams[i % datagrams.len()]), clock);
        }
        w.totals().sampled_headers
    });
    let baseline = median_ns(7, n, |n| {
        let mut records = 0u64;
        for i in 0..n {
            let dg = Datagram::parse(black_box(&datagrams[i % datagrams.len()])).unwrap();
            for s in dg.samples() {
                let f = FlowSample::parse(s.unwrap().data, false).unwrap();
                records += f.records.map(|r| r.unwrap().data.len() as u64).sum::<u64>();
            }
        }
        records
    });
    let settings: server::kafka::KafkaSettings =
        serde_json::from_str(r#"{"brokers":["127.0.0.1:1"],"topic":"bench","queue_size":1}"#).unwrap();
    let export = server::kafka::KafkaExport::start(settings, "bench".into()).unwrap();
    w.kafka = Some(server::kafka::KafkaWriter::new(export));
    let exported = median_ns(7, n, |n| {
        for i in 0..n {
            clock += 1e-5;
            w.datagram(black_box(&datagrams[i % datagrams.len()]), clock);
        }
        w.totals().sampled_headers
    });
    let per_sample = collect / f64::from(SAMPLES);
    println!(
        "collect: {collect:.0} ns per datagram of {SAMPLES} samples, {per_sample:.0} ns per sample: {:.2} M samples/s per core",
        1e3 / per_sample
    );
    println!(
        "baseline (wire parse only): {baseline:.0} ns per datagram; collect/baseline = {:.1}",
        collect / baseline
    );
    let per_exported = exported / f64::from(SAMPLES);
    println!(
        "collect and write the Kafka record: {per_exported:.0} ns per sample: {:.2} M samples/s per core; exported/collect = {:.2}",
        1e3 / per_exported,
        exported / collect
    );
}

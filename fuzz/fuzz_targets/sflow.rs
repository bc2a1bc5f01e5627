//! The sFlow collector: a datagram read by a worker with flow definitions of every kind
//! (tenant keys, interface keys with a flow log, dropped packets).
#![no_main]
use libfuzzer_sys::fuzz_target;
use server::collector::{Worker, WorkerLimits};
use std::cell::RefCell;

thread_local! {
    static WORKER: RefCell<(Worker, f64)> = RefCell::new((worker(), 0.0));
}

fn worker() -> Worker {
    let limits = WorkerLimits { max_agents: 100, max_sources: 1000, ..WorkerLimits::default() };
    let mut w = Worker::new(dissect::Config::default(), query::Context::new(), limits);
    for (name, json) in [
        ("tenants", r#"{"keys":"ipsource.1,ipdestination.1,stack,vxlanvni","value":"bytes"}"#),
        (
            "ports",
            r#"{"keys":"agent,inputifindex,outputifindex,tcpdestinationport","value":"frames","log":true,"flowStart":true}"#,
        ),
        ("routes", r#"{"keys":"bgpdestinationas,ipnexthoprouter,vlansource","value":"frames"}"#),
        ("drops", r#"{"keys":"ipsource","value":"frames","dropped":true}"#),
    ] {
        let spec: server::spec::FlowSpec = serde_json::from_str(json).unwrap();
        let (d, o) = spec.definition();
        w.engine.set_flow(name, d.compile(&query::Context::new()).unwrap(), o);
    }
    w
}

fuzz_target!(|data: &[u8]| {
    WORKER.with(|w| {
        let (w, now) = &mut *w.borrow_mut();
        *now += 0.01;
        w.datagram(data, *now);
        if w.totals().datagrams % 1000 == 0 {
            let _ = w.engine.housekeep(*now, 1e-3);
        }
    });
});

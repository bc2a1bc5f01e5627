//! The flow language: keys, filter and value (the input's parts, split at zero bytes) are
//! compiled — refused within the limits, never with a crash or a long wait — and what
//! compiles is evaluated on frames of every encapsulation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use query::{Context, Definition, Evaluator, Input};

fuzz_target!(|data: &[u8]| {
    let p = detunnel_fuzz::parts(data, 3);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let ctx = Context::new();
    let def = Definition {
        keys: text(p[0]),
        filter: Some(text(p[1])),
        value: if p[2].is_empty() { "bytes".into() } else { text(p[2]) },
        ..Definition::default()
    };
    let Ok(compiled) = def.compile(&ctx) else { return };
    assert!(compiled.memory() <= query::limits::MAX_DEFINITION_BYTES);
    let mut eval = Evaluator::default();
    let mut dissector = dissect::Dissector::default();
    let mut stack = dissect::Stack::new();
    let mut key = String::new();
    for frame in FRAMES.with(|f| f.clone()) {
        dissector.dissect(&frame, dissect::LinkType::ETHERNET, &mut stack);
        let input = Input::new(stack.decoded(&frame).unwrap(), frame.len() as u32);
        if compiled.accepts(&mut eval, &input, &ctx) {
            compiled.flow_key(&mut eval, &input, &ctx, &mut key);
        }
    }
});

thread_local! {
    static FRAMES: Vec<Vec<u8>> = detunnel_fuzz::frames().into_iter().step_by(6).collect();
}

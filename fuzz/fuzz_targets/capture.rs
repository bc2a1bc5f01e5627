//! The capture readers: any bytes as a pcap or pcapng stream (and as a mapped file) are read
//! frame by frame, each decoded, or refused with an error naming the record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::ops::ControlFlow;

fuzz_target!(|data: &[u8]| {
    let mut d = dissect::Dissector::default();
    let mut stack = dissect::Stack::new();
    let Ok(mut r) = capture::FileReader::new("fuzz", std::io::Cursor::new(data.to_vec())) else { return };
    let mut frames = 0u32;
    let walked = r.for_each(|f| {
        d.dissect(f.data, f.link, &mut stack);
        frames += 1;
        // A record may claim a lot; reading stays bounded all the same.
        ControlFlow::Continue(())
    });
    if let Err(e) = walked {
        let message = e.to_string();
        assert!(message.len() < 400, "{message}");
    }
});

//! Copies every record of a capture file to another, decoding nothing: the floor for any
//! tool that reads frames and writes them through `capture`'s reader and writer. The
//! decap benchmark (`bench/decap.py`) runs it beside `cp` and `detunnel decap`.
//!
//! Usage: `copy_records IN OUT`
use capture::{FileReader, FileWriter, Format};
use std::ops::ControlFlow;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = &args[..] else {
        eprintln!("usage: copy_records IN OUT");
        std::process::exit(2);
    };
    if let Err(e) = copy(input, output) {
        eprintln!("copy_records: {e}");
        std::process::exit(1);
    }
}

fn copy(input: &str, output: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut reader = FileReader::open(input)?;
    let mut writer = None;
    let mut failed: Option<Box<dyn std::error::Error>> = None;
    reader.for_each(|f| {
        let w = match &mut writer {
            Some(w) => w,
            None => match FileWriter::create(output, Format::from_path(output), f.link, "copy") {
                Ok(w) => writer.insert(w),
                Err(e) => {
                    failed = Some(e.into());
                    return ControlFlow::Break(());
                }
            },
        };
        match w.write(0, f.ts_nanos, f.orig_len, f.data) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                failed = Some(e.into());
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some(w) = writer {
        w.finish()?;
    }
    Ok(())
}

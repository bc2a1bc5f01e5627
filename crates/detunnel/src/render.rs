//! Text and JSON renderings of a decoded frame.
use dissect::{Decoded, Field};
use std::fmt::Write;

/// Appends `name` with the depth suffix of its `n`-th occurrence (`ipsource`, `ipsource.1`).
fn push_name(out: &mut String, field: Field, n: u32) {
    out.push_str(field.name());
    if n > 0 {
        let _ = write!(out, ".{n}");
    }
}

/// The JSON object `detunnel inspect --json` prints for one frame (no trailing newline).
pub fn json_line(out: &mut String, number: u64, orig_len: u32, d: &Decoded<'_>) {
    let _ = write!(
        out,
        "{{\"frame\": {number}, \"len\": {orig_len}, \"caplen\": {}, \"stack\": \"{}\", \"fields\": {{",
        d.frame().len(),
        d.stack().tokens()
    );
    let mut first = true;
    d.for_each_numbered(&mut |field, n, value| {
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push('"');
        push_name(out, field, n);
        out.push_str("\": ");
        if value.is_number() {
            let _ = write!(out, "{value}");
        } else {
            let _ = write!(out, "\"{value}\"");
        }
    });
    out.push_str("}, \"anomalies\": [");
    for (i, a) in d.stack().anomalies().iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "\"{}\"", a.name());
    }
    out.push_str("]}");
}

/// The text line `detunnel inspect` prints for one frame (no trailing newline).
pub fn text_line(out: &mut String, number: u64, orig_len: u32, d: &Decoded<'_>) {
    let _ = write!(out, "{number} len {orig_len}");
    if (orig_len as usize) != d.frame().len() {
        let _ = write!(out, " cap {}", d.frame().len());
    }
    let _ = write!(out, " {}", d.stack().tokens());
    d.for_each_numbered(&mut |field, n, value| {
        out.push(' ');
        push_name(out, field, n);
        let _ = write!(out, "={value}");
    });
    for a in d.stack().anomalies() {
        let _ = write!(out, " !{}", a.name());
    }
}

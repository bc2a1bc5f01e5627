//! Writes pcap (nanosecond) or pcapng capture files, to a file or standard output, buffered.
//! pcapng output can hold several interfaces; detunnel gives each tunnel stream its own.
use dissect::LinkType;
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap with nanosecond timestamps.
    Pcap,
    /// pcapng with one interface description per interface.
    Pcapng,
}

impl Format {
    /// The format a file name implies: `.pcapng` (or `.ng`) is pcapng, anything else pcap.
    pub fn from_path(path: &str) -> Format {
        if path.ends_with(".pcapng") || path.ends_with(".ng") {
            Format::Pcapng
        } else {
            Format::Pcap
        }
    }
}

const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const SNAPLEN: u32 = 262_144;

/// A capture file being written. Call [`FileWriter::finish`] to flush it; dropping it also
/// flushes, but cannot report an error.
pub struct FileWriter {
    out: BufWriter<Box<dyn Write + Send>>,
    format: Format,
    interfaces: u32,
    link: LinkType,
    frames: u64,
}

impl FileWriter {
    /// Creates `path` (`-` for standard output) holding frames of link type `link`. For pcap
    /// that is the file's link type; for pcapng it is the first interface, named `name`.
    pub fn create(path: &str, format: Format, link: LinkType, name: &str) -> io::Result<FileWriter> {
        let sink: Box<dyn Write + Send> =
            if path == "-" { Box::new(io::stdout()) } else { Box::new(File::create(path)?) };
        FileWriter::new(sink, format, link, name)
    }

    /// Writes to any byte sink.
    pub fn new(
        sink: Box<dyn Write + Send>,
        format: Format,
        link: LinkType,
        name: &str,
    ) -> io::Result<FileWriter> {
        let mut w = FileWriter {
            out: BufWriter::with_capacity(1 << 20, sink),
            format,
            interfaces: 0,
            link,
            frames: 0,
        };
        match format {
            Format::Pcap => {
                let mut h = [0u8; 24];
                h[0..4].copy_from_slice(&PCAP_MAGIC_NANOS.to_le_bytes());
                h[4..6].copy_from_slice(&2u16.to_le_bytes());
                h[6..8].copy_from_slice(&4u16.to_le_bytes());
                h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
                h[20..24].copy_from_slice(&link.0.to_le_bytes());
                w.out.write_all(&h)?;
                w.interfaces = 1;
            }
            Format::Pcapng => {
                // Section header: byte-order magic, version 1.0, section length unknown.
                let mut shb = Vec::with_capacity(28);
                shb.extend_from_slice(&0x0a0d_0d0au32.to_le_bytes());
                shb.extend_from_slice(&28u32.to_le_bytes());
                shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
                shb.extend_from_slice(&1u16.to_le_bytes());
                shb.extend_from_slice(&0u16.to_le_bytes());
                shb.extend_from_slice(&(-1i64).to_le_bytes());
                shb.extend_from_slice(&28u32.to_le_bytes());
                w.out.write_all(&shb)?;
                w.add_interface(name, link)?;
            }
        }
        Ok(w)
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Declares another interface (pcapng only) and returns its ID; in a pcap file every frame
    /// shares interface 0.
    pub fn add_interface(&mut self, name: &str, link: LinkType) -> io::Result<u32> {
        if self.format == Format::Pcap {
            return Ok(0);
        }
        let name = name.as_bytes();
        let name_len = name.len().min(0xfff0);
        let padded = name_len.div_ceil(4) * 4;
        // Options: if_name, if_tsresol = 9 (nanoseconds), end of options.
        let opts_len = 4 + padded + 4 + 4 + 4;
        let total = 20 + opts_len;
        let mut b = Vec::with_capacity(total);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&(total as u32).to_le_bytes());
        b.extend_from_slice(&(link.0 as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&SNAPLEN.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&(name_len as u16).to_le_bytes());
        b.extend_from_slice(&name[..name_len]);
        b.resize(b.len() + padded - name_len, 0);
        b.extend_from_slice(&9u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&[9, 0, 0, 0]);
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(total as u32).to_le_bytes());
        self.out.write_all(&b)?;
        self.interfaces += 1;
        Ok(self.interfaces - 1)
    }

    /// Writes one frame captured at `ts_nanos` (since the Unix epoch) on `interface`.
    #[inline]
    pub fn write(&mut self, interface: u32, ts_nanos: u64, orig_len: u32, data: &[u8]) -> io::Result<()> {
        self.write_parts(interface, ts_nanos, orig_len, &[], data)
    }

    /// Writes one frame given as a header followed by a body, without joining them first.
    #[inline]
    pub fn write_parts(
        &mut self,
        interface: u32,
        ts_nanos: u64,
        orig_len: u32,
        head: &[u8],
        body: &[u8],
    ) -> io::Result<()> {
        let caplen = (head.len() + body.len()) as u32;
        let orig_len = orig_len.max(caplen);
        match self.format {
            Format::Pcap => {
                let mut h = [0u8; 16];
                h[0..4].copy_from_slice(&((ts_nanos / 1_000_000_000) as u32).to_le_bytes());
                h[4..8].copy_from_slice(&((ts_nanos % 1_000_000_000) as u32).to_le_bytes());
                h[8..12].copy_from_slice(&caplen.to_le_bytes());
                h[12..16].copy_from_slice(&orig_len.to_le_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(head)?;
                self.out.write_all(body)?;
            }
            Format::Pcapng => {
                let len = caplen as usize;
                let padded = len.div_ceil(4) * 4;
                let total = (32 + padded) as u32;
                let mut h = [0u8; 28];
                h[0..4].copy_from_slice(&6u32.to_le_bytes());
                h[4..8].copy_from_slice(&total.to_le_bytes());
                h[8..12].copy_from_slice(&interface.min(self.interfaces.saturating_sub(1)).to_le_bytes());
                h[12..16].copy_from_slice(&((ts_nanos >> 32) as u32).to_le_bytes());
                h[16..20].copy_from_slice(&(ts_nanos as u32).to_le_bytes());
                h[20..24].copy_from_slice(&caplen.to_le_bytes());
                h[24..28].copy_from_slice(&orig_len.to_le_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(head)?;
                self.out.write_all(body)?;
                self.out.write_all(&[0u8; 3][..padded - len])?;
                self.out.write_all(&total.to_le_bytes())?;
            }
        }
        self.frames += 1;
        Ok(())
    }

    /// The link type of interface 0.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Flushes everything written to the file or pipe.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes what was written so far, keeping the writer open.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileReader;
    use std::ops::ControlFlow;
    use std::sync::{Arc, Mutex};

    /// A sink the test can read back after the writer is done.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn roundtrip(format: Format) {
        let sink = Shared::default();
        let mut w = FileWriter::new(Box::new(sink.clone()), format, LinkType::ETHERNET, "eth0").unwrap();
        let second = w.add_interface("gre 10.0.0.1>10.0.0.2 key 7", LinkType::ETHERNET).unwrap();
        w.write(0, 1_700_000_000_123_456_789, 100, &[1, 2, 3]).unwrap();
        w.write(second, 1_700_000_001_000_000_001, 5, &[4, 5, 6, 7, 8]).unwrap();
        w.finish().unwrap();
        let bytes = sink.0.lock().unwrap().clone();
        let mut r = FileReader::new("mem", std::io::Cursor::new(bytes)).unwrap();
        let mut seen = Vec::new();
        r.for_each(|f| {
            seen.push((f.interface, f.ts_nanos, f.orig_len, f.data.to_vec()));
            ControlFlow::Continue(())
        })
        .unwrap();
        let want_if = if format == Format::Pcapng { 1 } else { 0 };
        assert_eq!(seen[0], (0, 1_700_000_000_123_456_789, 100, vec![1, 2, 3]));
        assert_eq!(seen[1], (want_if, 1_700_000_001_000_000_001, 5, vec![4, 5, 6, 7, 8]));
    }

    #[test]
    fn pcap_roundtrip() {
        roundtrip(Format::Pcap);
    }

    #[test]
    fn pcapng_roundtrip() {
        roundtrip(Format::Pcapng);
    }
}

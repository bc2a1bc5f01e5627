//! Writes pcap (nanosecond) or pcapng capture files, to a file or standard output, buffered,
//! optionally compressed (gzip, zstd, lz4: each buffer a whole member of its own). pcapng
//! output can hold several interfaces; detunnel gives each tunnel stream its own.
use crate::compression::Compression;
use crate::writing::{new_buffers, Buffers, Out, Output, Sink, Writing, Written, BUFFER, NOT_A_FRAME};
use dissect::LinkType;
use std::fs::File;
use std::io::{self, Write};

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap with nanosecond timestamps.
    Pcap,
    /// pcapng with one interface description per interface.
    Pcapng,
}

impl Format {
    /// The format a file name implies: `.pcapng` (or `.ng`) is pcapng, anything else pcap;
    /// a compression extension after it does not count (`x.pcapng.gz` is pcapng).
    pub fn from_path(path: &str) -> Format {
        let path = Compression::strip(path);
        if path.ends_with(".pcapng") || path.ends_with(".ng") {
            Format::Pcapng
        } else {
            Format::Pcap
        }
    }
}

const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const SNAPLEN: u32 = 262_144;

/// A write that failed: the file, what went wrong, and the frames that did not reach it.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {error}; {lost} frames did not reach it")]
pub struct WriteError {
    /// The file (or `-`).
    pub path: String,
    /// What the system said.
    pub error: io::Error,
    /// Frames given to the writer that are not in the file.
    pub lost: u64,
    /// Their bytes.
    pub lost_bytes: u64,
}

/// A capture file being written. Records are gathered in a buffer and written out a
/// megabyte at a time; when a write fails (a full disk), the file is cut back to its last
/// whole record, the frames that did not reach it are counted as lost, and the writer refuses
/// further frames. Call [`FileWriter::finish`] to write out the rest; dropping it also tries,
/// but cannot report an error.
pub struct FileWriter {
    sink: Sink,
    path: String,
    format: Format,
    interfaces: u32,
    link: LinkType,
    /// The records gathered, and where each ends with the length of its frame (`NOT_A_FRAME`
    /// for a header block).
    buffers: Buffers,
    /// Bytes of the buffers written out or handed on, before compression.
    handed: u64,
    /// Frames given to the writer, and frames known to be in the file.
    frames: u64,
    frames_written: u64,
    failed: bool,
}

impl FileWriter {
    /// Creates `path` (`-` for standard output) holding frames of link type `link`. For pcap
    /// that is the file's link type; for pcapng it is the first interface, named `name`. A
    /// name ending in `.gz`, `.zst` or `.lz4` is written compressed so.
    pub fn create(path: &str, format: Format, link: LinkType, name: &str) -> io::Result<FileWriter> {
        FileWriter::create_compressed(path, format, Compression::from_path(path), link, name)
    }

    /// Like [`FileWriter::create`], compressed as `compression` says whatever the name.
    pub fn create_compressed(
        path: &str,
        format: Format,
        compression: Option<Compression>,
        link: LinkType,
        name: &str,
    ) -> io::Result<FileWriter> {
        let out =
            if path == "-" { Out::Other(Box::new(io::stdout())) } else { Out::File(File::create(path)?) };
        let mut w = FileWriter::with_out(out, path, format, link, name)?;
        if let Sink::Here(o) = &mut w.sink {
            o.compression = compression;
        }
        Ok(w)
    }

    /// Writes to any byte sink.
    pub fn new(
        sink: Box<dyn Write + Send>,
        format: Format,
        link: LinkType,
        name: &str,
    ) -> io::Result<FileWriter> {
        FileWriter::with_out(Out::Other(sink), "output", format, link, name)
    }

    fn with_out(out: Out, path: &str, format: Format, link: LinkType, name: &str) -> io::Result<FileWriter> {
        let mut w = FileWriter {
            sink: Sink::Here(Output::new(out)),
            path: path.to_string(),
            format,
            interfaces: 0,
            link,
            buffers: new_buffers(),
            handed: 0,
            frames: 0,
            frames_written: 0,
            failed: false,
        };
        match format {
            Format::Pcap => {
                let mut h = [0u8; 24];
                h[0..4].copy_from_slice(&PCAP_MAGIC_NANOS.to_le_bytes());
                h[4..6].copy_from_slice(&2u16.to_le_bytes());
                h[6..8].copy_from_slice(&4u16.to_le_bytes());
                h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
                h[20..24].copy_from_slice(&link.0.to_le_bytes());
                w.buffers.0.extend_from_slice(&h);
                w.end_record(NOT_A_FRAME);
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
                w.buffers.0.extend_from_slice(&shb);
                w.end_record(NOT_A_FRAME);
                w.add_interface(name, link).map_err(|e| e.error)?;
            }
        }
        Ok(w)
    }

    /// From now on, the gathered buffers are written out as `how` says (a writer that
    /// already hands them on keeps doing so). Results, and a failure, are taken in as they
    /// come; a failure waits for what is still being written first, so that the counts are
    /// final.
    pub fn writing(&mut self, how: &Writing) {
        self.sink.change(how);
    }

    /// The file's name (`-` for standard output).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Frames given to the writer so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Frames known to be in the file (written out, not just gathered).
    pub fn frames_written(&self) -> u64 {
        self.frames_written
    }

    /// Bytes given to the writer so far (headers and records), written out or not.
    pub fn bytes(&self) -> u64 {
        self.handed + self.buffers.0.len() as u64
    }

    /// Declares another interface (pcapng only) and returns its ID; in a pcap file every frame
    /// shares interface 0.
    pub fn add_interface(&mut self, name: &str, link: LinkType) -> Result<u32, WriteError> {
        if self.format == Format::Pcap {
            return Ok(0);
        }
        self.refuse_if_failed()?;
        let name = name.as_bytes();
        let name_len = name.len().min(0xfff0);
        let padded = name_len.div_ceil(4) * 4;
        // Options: if_name, if_tsresol = 9 (nanoseconds), end of options.
        let opts_len = 4 + padded + 4 + 4 + 4;
        let total = 20 + opts_len;
        let b = &mut self.buffers.0;
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
        self.end_record(NOT_A_FRAME);
        self.interfaces += 1;
        Ok(self.interfaces - 1)
    }

    /// Writes one frame captured at `ts_nanos` (since the Unix epoch) on `interface`.
    #[inline]
    pub fn write(
        &mut self,
        interface: u32,
        ts_nanos: u64,
        orig_len: u32,
        data: &[u8],
    ) -> Result<(), WriteError> {
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
    ) -> Result<(), WriteError> {
        self.frames += 1;
        if self.failed {
            return Err(self.refused(1, (head.len() + body.len()) as u64));
        }
        let caplen = (head.len() + body.len()) as u32;
        let orig_len = orig_len.max(caplen);
        match self.format {
            Format::Pcap => {
                // Classic pcap holds 32-bit seconds: a later time cannot be written.
                let secs = u32::try_from(ts_nanos / 1_000_000_000).unwrap_or(u32::MAX);
                let mut h = [0u8; 16];
                h[0..4].copy_from_slice(&secs.to_le_bytes());
                h[4..8].copy_from_slice(&((ts_nanos % 1_000_000_000) as u32).to_le_bytes());
                h[8..12].copy_from_slice(&caplen.to_le_bytes());
                h[12..16].copy_from_slice(&orig_len.to_le_bytes());
                self.buffers.0.extend_from_slice(&h);
                self.buffers.0.extend_from_slice(head);
                self.buffers.0.extend_from_slice(body);
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
                self.buffers.0.extend_from_slice(&h);
                self.buffers.0.extend_from_slice(head);
                self.buffers.0.extend_from_slice(body);
                self.buffers.0.extend_from_slice(&[0u8; 3][..padded - len]);
                self.buffers.0.extend_from_slice(&total.to_le_bytes());
            }
        }
        self.end_record(caplen);
        if self.buffers.0.len() >= BUFFER {
            self.write_out()?;
        }
        Ok(())
    }

    /// The link type of interface 0.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Writes out everything gathered and closes the file.
    pub fn finish(mut self) -> Result<(), WriteError> {
        self.flush()
    }

    /// Writes out what was gathered so far, keeping the writer open.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.refuse_if_failed()?;
        self.write_out()?;
        let done = self.sink.flush();
        self.account(done)
    }

    /// Takes in what writing buffers did: the frames now in the file, and the first
    /// failure with every frame lost (after a failure, what is still being written is waited
    /// for, so that the counts are final).
    fn account(&mut self, mut done: Vec<Written>) -> Result<(), WriteError> {
        if done.iter().any(|w| w.error.is_some()) {
            done.extend(self.sink.drain());
        }
        let mut failure: Option<WriteError> = None;
        for w in done {
            self.frames_written += w.frames;
            if let Some((error, lost, lost_bytes)) = w.error {
                match &mut failure {
                    None => failure = Some(WriteError { path: self.path.clone(), error, lost, lost_bytes }),
                    Some(f) => {
                        f.lost += lost;
                        f.lost_bytes += lost_bytes;
                    }
                }
            }
        }
        match failure {
            None => Ok(()),
            Some(f) => {
                self.failed = true;
                Err(f)
            }
        }
    }

    fn end_record(&mut self, frame_len: u32) {
        self.buffers.1.push((self.buffers.0.len() as u32, frame_len));
    }

    fn refuse_if_failed(&self) -> Result<(), WriteError> {
        if self.failed {
            return Err(self.refused(0, 0));
        }
        Ok(())
    }

    fn refused(&self, lost: u64, lost_bytes: u64) -> WriteError {
        let error = io::Error::other("an earlier write failed");
        WriteError { path: self.path.clone(), error, lost, lost_bytes }
    }

    /// Writes the buffer out (or hands it on to be written).
    fn write_out(&mut self) -> Result<(), WriteError> {
        if self.buffers.0.is_empty() {
            return Ok(());
        }
        self.handed += self.buffers.0.len() as u64;
        let done = self.sink.write(&mut self.buffers);
        self.account(done)
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if !self.failed {
            let _ = self.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FileReader, WriteQueue};
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
    fn compressed_files_hold_whole_members_read_back_as_one_capture() {
        let dir = std::env::temp_dir().join(format!("detunnel-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, kind) in [
            ("a.pcapng.gz", Compression::Gzip),
            ("a.pcap.zst", Compression::Zstd),
            ("a.pcap.lz4", Compression::Lz4),
        ] {
            let path = dir.join(name);
            let path = path.to_str().unwrap();
            let format = Format::from_path(path);
            assert_eq!(format, if name.contains("pcapng") { Format::Pcapng } else { Format::Pcap });
            let mut w = FileWriter::create(path, format, LinkType::ETHERNET, "eth0").unwrap();
            // Over three megabytes: several buffers, each its own member.
            for i in 0..3000u32 {
                let frame: Vec<u8> = (0..1000u32).map(|b| (b * 7 + i) as u8).collect();
                w.write(0, u64::from(i) * 1000, 1000, &frame).unwrap();
            }
            w.finish().unwrap();
            let written = std::fs::read(path).unwrap();
            assert_eq!(Compression::sniff(&written), Some(kind), "{name}");
            assert!(written.len() < 3_000_000, "{name}: {} bytes", written.len());
            let mut r = FileReader::open(path).unwrap();
            assert_eq!(r.compression(), Some(kind));
            let mut n = 0u32;
            r.for_each(|f| {
                assert_eq!((f.ts_nanos, f.data[1]), (u64::from(n) * 1000, (7 + n) as u8));
                n += 1;
                ControlFlow::Continue(())
            })
            .unwrap();
            assert_eq!(n, 3000, "{name}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A sink that takes `room` bytes, then refuses.
    struct Full {
        data: Shared,
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let n = b.len().min(self.room);
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::StorageFull));
            }
            self.room -= n;
            self.data.write(&b[..n])
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Writes 5,000 frames of 700 bytes (several buffers) into a sink with `room` bytes,
    /// written as `how` says (queued: by another thread meanwhile, as a live pipeline's workers
    /// do, and by the writer's own when too much waits); the bytes the sink got, frames
    /// written and frames lost.
    fn write_frames(format: Format, how: &Writing, room: usize) -> (Vec<u8>, u64, u64) {
        let data = Shared::default();
        let sink = Full { data: data.clone(), room };
        let mut w = FileWriter::new(Box::new(sink), format, LinkType::ETHERNET, "eth0").unwrap();
        w.writing(how);
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let other = match how {
            Writing::Queued(queue) => {
                let (queue, done) = (queue.clone(), done.clone());
                Some(std::thread::spawn(move || {
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        queue.write_waiting();
                        std::thread::yield_now();
                    }
                }))
            }
            _ => None,
        };
        let mut lost = 0;
        for i in 0..5000u32 {
            let frame: Vec<u8> = (0..700u32).map(|b| (b * 3 + i) as u8).collect();
            if let Err(e) = w.write_parts(0, u64::from(i) * 1000, 700, &frame[..14], &frame[14..]) {
                lost += e.lost;
            }
        }
        if let Err(e) = w.flush() {
            lost += e.lost;
        }
        let written = w.frames_written();
        drop(w);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = other {
            t.join().unwrap();
        }
        let bytes = data.0.lock().unwrap().clone();
        (bytes, written, lost)
    }

    #[test]
    fn written_behind_or_queued_the_bytes_are_the_same_and_a_failure_counts_every_frame() {
        for format in [Format::Pcap, Format::Pcapng] {
            let (here, n, lost) = write_frames(format, &Writing::Here, usize::MAX);
            assert_eq!((n, lost), (5000, 0));
            for how in [Writing::Behind, Writing::Queued(WriteQueue::default())] {
                let (other, n, lost) = write_frames(format, &how, usize::MAX);
                assert_eq!((n, lost), (5000, 0));
                assert!(here == other, "{format:?}: the file differs when written behind or queued");
            }
            // A full disk part way: every frame is written or counted lost, however written.
            for how in [Writing::Here, Writing::Behind, Writing::Queued(WriteQueue::default())] {
                let (_, written, lost) = write_frames(format, &how, 2_500_000);
                assert!(written > 0 && written < 5000, "{format:?}: {written}");
                assert_eq!(written + lost, 5000, "{format:?}: {written} + {lost}");
            }
        }
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

//! A capture output that rotates: a new file when the current one holds enough bytes (`-C`)
//! or spans enough time (`-G`), the same name again when asked (SIGHUP, after logrotate moved
//! the file), and — for live sources — a fresh file a second after a failed write (a full
//! disk), counting what was lost in between. File names get a sequence number before the
//! extension, or the time of the file's first frame where the name has `%Y %m %d %H %M %S`.
//! Every pcapng file declares the same interfaces in the same order, so a stream keeps its
//! interface ID across files.
use crate::compression::Compression;
use crate::writer::{FileWriter, Format, WriteError};
use crate::writing::Writing;
use dissect::LinkType;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When to start a new file, and how to meet a failed write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Start a new file when this one would pass this many bytes.
    pub size_bytes: Option<u64>,
    /// Start a new file when a frame's time is this many seconds past the file's first.
    pub seconds: Option<u64>,
    /// A failed write is survived: the frames are counted as lost and, a second later, the
    /// next frame opens a fresh file (live sources). Otherwise the first failure is final.
    pub retry: bool,
}

/// The name the first interface of every file gets.
pub const FIRST_INTERFACE: &str = "untunnelled";

/// A rotating capture output.
pub struct RotatingWriter {
    base: String,
    format: Format,
    compression: Option<Compression>,
    rotation: Rotation,
    writer: Option<FileWriter>,
    /// Interfaces declared after the first, in order (each file declares them all).
    interfaces: Vec<String>,
    index: u32,
    file_start: Option<u64>,
    reopen: Arc<AtomicBool>,
    /// Who writes each file's buffers out (see [`FileWriter::writing`]).
    writing: Writing,
    /// A write failed; no file is opened again before `retry_at`.
    broken: bool,
    retry_at: Instant,
    /// Frames written to files that were closed.
    closed_frames: u64,
    /// Frames lost to failed writes, and their bytes.
    lost: u64,
    lost_bytes: u64,
    /// Files opened.
    files: u32,
}

impl RotatingWriter {
    /// An output named `base` (`-` for standard output, which neither rotates nor reopens),
    /// each file compressed as `compression` says. The first file is created now, so that a
    /// name that cannot be written is an error at once — unless the name holds the time,
    /// which only the first frame gives.
    pub fn create(
        base: &str,
        format: Format,
        compression: Option<Compression>,
        rotation: Rotation,
    ) -> Result<RotatingWriter, WriteError> {
        if base == "-" && (rotation.size_bytes.is_some() || rotation.seconds.is_some()) {
            let error = std::io::Error::other("-C and -G rotate files; they cannot write to standard output");
            return Err(WriteError { path: base.into(), error, lost: 0, lost_bytes: 0 });
        }
        let mut w = RotatingWriter {
            base: base.to_string(),
            format,
            compression,
            rotation,
            writer: None,
            interfaces: Vec::new(),
            index: 0,
            file_start: None,
            reopen: Arc::new(AtomicBool::new(false)),
            writing: Writing::Here,
            broken: false,
            retry_at: Instant::now(),
            closed_frames: 0,
            lost: 0,
            lost_bytes: 0,
            files: 0,
        };
        if !base.contains('%') {
            w.open(0)?;
        } else if let Some(dir) = std::path::Path::new(base).parent() {
            // A folder without the time in its name must exist now.
            let dir_name = dir.to_string_lossy();
            if !dir_name.is_empty() && !dir_name.contains('%') && !dir.is_dir() {
                let error = std::io::Error::new(std::io::ErrorKind::NotFound, "its folder does not exist");
                return Err(WriteError { path: base.into(), error, lost: 0, lost_bytes: 0 });
            }
        }
        Ok(w)
    }

    /// From now on, every file's buffers are written out as `how` says: on a thread of the
    /// file's own, overlapping the system's copying with the gathering of the next records
    /// (inputs read as fast as they can be), or by the workers of a live pipeline.
    pub fn writing(&mut self, how: Writing) {
        if let Some(w) = &mut self.writer {
            w.writing(&how);
        }
        self.writing = how;
    }

    /// The flag that asks for the file to be reopened (SIGHUP): set it to have the next frame
    /// reopen the file under its name.
    pub fn reopen_flag(&self) -> Arc<AtomicBool> {
        self.reopen.clone()
    }

    /// The format written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Declares an interface (a tunnel stream) in this file and every later one; returns
    /// its ID (0 is [`FIRST_INTERFACE`]; a pcap file has only that one).
    pub fn add_interface(&mut self, name: &str) -> Result<u32, WriteError> {
        if self.format == Format::Pcap {
            return Ok(0);
        }
        self.interfaces.push(name.to_string());
        let id = self.interfaces.len() as u32;
        if let Some(w) = &mut self.writer {
            if let Err(e) = w.add_interface(name, LinkType::ETHERNET) {
                return Err(self.failed(e));
            }
        }
        Ok(id)
    }

    /// Writes a frame (a header and a body) captured at `ts` on `interface`, opening the next
    /// file first when rotation, SIGHUP or an earlier failure says so.
    #[inline]
    pub fn write(
        &mut self,
        interface: u32,
        ts: u64,
        orig_len: u32,
        head: &[u8],
        body: &[u8],
    ) -> Result<(), WriteError> {
        let len = (head.len() + body.len()) as u64;
        if self.broken && (!self.rotation.retry || Instant::now() < self.retry_at) {
            let error = std::io::Error::other("the output is failing");
            return Err(self.count(WriteError {
                path: self.current_path(ts),
                error,
                lost: 1,
                lost_bytes: len,
            }));
        }
        if self.rotation_due(ts, len + 32) {
            if let Err(mut e) = self.next_file(ts) {
                // The frame at hand is lost with the file that could not be opened.
                self.lost += 1;
                self.lost_bytes += len;
                e.lost += 1;
                e.lost_bytes += len;
                return Err(e);
            }
        }
        let Some(w) = &mut self.writer else { return Ok(()) };
        self.file_start.get_or_insert(ts);
        match w.write_parts(interface, ts, orig_len, head, body) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Writes out what was gathered (live sources do so every 100 ms).
    pub fn flush(&mut self) -> Result<(), WriteError> {
        match self.writer.as_mut().map(FileWriter::flush) {
            Some(Err(e)) => Err(self.failed(e)),
            _ => Ok(()),
        }
    }

    /// Writes out and closes the current file.
    pub fn finish(&mut self) -> Result<(), WriteError> {
        match self.writer.take() {
            Some(w) => {
                let before = w.frames();
                let written = w.frames_written();
                let done = w.finish();
                match done {
                    Ok(()) => {
                        self.closed_frames += before;
                        Ok(())
                    }
                    Err(e) => {
                        self.closed_frames += written.max(before.saturating_sub(e.lost));
                        self.mark_broken();
                        Err(self.count(e))
                    }
                }
            }
            None => Ok(()),
        }
    }

    /// Frames given to the files (the open one's still being written out), and frames
    /// lost to failed writes.
    pub fn frames(&self) -> (u64, u64) {
        let open = self.writer.as_ref().map_or(0, |w| w.frames());
        (self.closed_frames + open, self.lost)
    }

    /// Bytes of the frames lost to failed writes.
    pub fn lost_bytes(&self) -> u64 {
        self.lost_bytes
    }

    /// Files opened so far.
    pub fn files(&self) -> u32 {
        self.files
    }

    fn current_path(&self, ts: u64) -> String {
        self.writer
            .as_ref()
            .map_or_else(|| file_name(&self.base, self.index, ts, self.by_size()), |w| w.path().to_string())
    }

    fn by_size(&self) -> bool {
        self.rotation.size_bytes.is_some()
    }

    /// Counts a failure's lost frames, and closes the file (its end is unknown now).
    fn failed(&mut self, e: WriteError) -> WriteError {
        if let Some(w) = self.writer.take() {
            self.closed_frames += w.frames_written();
            // The writer has failed: dropping it writes nothing more.
        }
        self.mark_broken();
        self.count(e)
    }

    /// No file is opened again for a second (and never without `retry`).
    fn mark_broken(&mut self) {
        self.broken = true;
        self.retry_at = Instant::now() + Duration::from_secs(1);
    }

    fn count(&mut self, e: WriteError) -> WriteError {
        self.lost += e.lost;
        self.lost_bytes += e.lost_bytes;
        e
    }

    /// True when the frame at `ts` of `len` bytes goes to a new file: none is open, the last
    /// one failed, SIGHUP asked for it, or `-C` or `-G` says so.
    fn rotation_due(&self, ts: u64, len: u64) -> bool {
        // Standard output cannot be reopened: SIGHUP is for files.
        let reopen = self.reopen.load(Ordering::Relaxed) && self.base != "-";
        let Some(w) = &self.writer else { return true };
        if self.broken || reopen {
            return true;
        }
        let by_size = self.rotation.size_bytes.is_some_and(|max| w.frames() > 0 && w.bytes() + len > max);
        let by_time = self
            .rotation
            .seconds
            .is_some_and(|s| self.file_start.is_some_and(|t0| ts >= t0 + s * 1_000_000_000));
        by_size || by_time
    }

    /// Closes the current file and opens the next (the same name after SIGHUP).
    fn next_file(&mut self, ts: u64) -> Result<(), WriteError> {
        let reopen = self.reopen.swap(false, Ordering::Relaxed);
        let had = self.writer.is_some() || self.files > 0;
        self.finish()?;
        if had && !reopen {
            self.index += 1;
        }
        self.open(ts)
    }

    fn open(&mut self, ts: u64) -> Result<(), WriteError> {
        let path = file_name(&self.base, self.index, ts, self.by_size());
        let fail = |error| WriteError { path: path.clone(), error, lost: 0, lost_bytes: 0 };
        let mut w = FileWriter::create_compressed(
            &path,
            self.format,
            self.compression,
            LinkType::ETHERNET,
            FIRST_INTERFACE,
        )
        .map_err(fail)?;
        w.writing(&self.writing);
        for name in &self.interfaces {
            w.add_interface(name, LinkType::ETHERNET)?;
        }
        self.writer = Some(w);
        self.files += 1;
        self.file_start = None;
        self.broken = false;
        Ok(())
    }
}

/// The name of output file number `index` (0 is the name as given) whose first frame has
/// timestamp `ts_nanos`. A name with the time in it gets a number only when `by_size` (several
/// files can then start in the same second).
fn file_name(base: &str, index: u32, ts_nanos: u64, by_size: bool) -> String {
    if base.contains('%') {
        let name = strftime(base, ts_nanos / 1_000_000_000);
        return if index == 0 || !by_size { name } else { numbered(&name, index) };
    }
    if index == 0 {
        base.to_string()
    } else {
        numbered(base, index)
    }
}

/// `x.pcapng` → `x.N.pcapng`; `x.pcap.gz` → `x.N.pcap.gz`; `x` → `x.N`.
fn numbered(name: &str, index: u32) -> String {
    if let Some(c) = Compression::from_path(name) {
        let plain = &name[..name.len() - c.extension().len()];
        return format!("{}{}", numbered(plain, index), c.extension());
    }
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind('.') {
        Some(dot) if dot > 0 => format!("{}.{index}{}", &name[..slash + dot], &name[slash + dot..]),
        _ => format!("{name}.{index}"),
    }
}

/// Replaces `%Y %m %d %H %M %S %%` by the UTC time `secs` since the Unix epoch.
fn strftime(pattern: &str, secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{y:04}")),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('H') => out.push_str(&format!("{:02}", rem / 3600)),
            Some('M') => out.push_str(&format!("{:02}", rem / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", rem % 60)),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Year, month and day of day `z` since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name("/var/cap/x.pcapng", 0, 0, true), "/var/cap/x.pcapng");
        assert_eq!(file_name("/var/cap/x.pcapng", 2, 0, false), "/var/cap/x.2.pcapng");
        assert_eq!(file_name("dir.d/out", 1, 0, true), "dir.d/out.1");
        assert_eq!(file_name("x.pcapng.zst", 4, 0, true), "x.4.pcapng.zst");
        // 2026-11-21 18:30:05 UTC.
        let t = 1_795_285_805u64 * 1_000_000_000;
        assert_eq!(file_name("cap-%Y%m%d-%H%M%S.pcap", 3, t, false), "cap-20261121-183005.pcap");
        assert_eq!(file_name("cap-%H%M%S.pcap", 3, t, true), "cap-183005.3.pcap");
        assert_eq!(file_name("%Y/%%x", 0, 0, false), "1970/%x");
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    /// `-C` counts the bytes handed on to be written, not only those written already: files
    /// written behind (or queued) stay within their size too.
    #[test]
    fn files_stay_within_their_size_however_they_are_written() {
        let dir = std::env::temp_dir().join(format!("detunnel-rotating-{}", std::process::id()));
        for how in [Writing::Here, Writing::Behind, Writing::Queued(crate::WriteQueue::default())] {
            std::fs::create_dir_all(&dir).unwrap();
            let base = dir.join("out.pcap");
            let rotation = Rotation { size_bytes: Some(3_000_000), ..Rotation::default() };
            let mut w = RotatingWriter::create(base.to_str().unwrap(), Format::Pcap, None, rotation).unwrap();
            w.writing(how);
            let frame = [7u8; 1000];
            for i in 0..10_000u64 {
                w.write(0, i, 1000, &frame[..14], &frame[14..]).unwrap();
            }
            w.finish().unwrap();
            assert_eq!(w.frames(), (10_000, 0));
            let mut sizes: Vec<u64> =
                std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).collect();
            sizes.sort_unstable();
            assert_eq!(sizes.len(), 4, "{sizes:?}");
            assert!(sizes.iter().all(|s| *s <= 3_000_000), "{sizes:?}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

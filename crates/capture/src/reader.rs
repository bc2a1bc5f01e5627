//! Streaming reader for pcap and pcapng files (or standard input), frame by frame, with
//! errors that name the file, the record number and the byte offset.
use crate::compression::{Compression, Watch};
use dissect::LinkType;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};
use std::fs::File;
use std::io::Read;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Initial read buffer; grown up to [`MAX_BLOCK`] for larger records.
const INITIAL_BUFFER: usize = 1 << 18;
/// Largest record accepted; a bigger one is a corrupt file, not a frame.
pub const MAX_BLOCK: usize = 1 << 24;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Captured bytes.
    pub data: &'a [u8],
    /// Length on the wire.
    pub orig_len: u32,
    /// Capture time in nanoseconds since the Unix epoch.
    pub ts_nanos: u64,
    /// Link-layer type.
    pub link: LinkType,
    /// pcapng interface ID (0 for pcap).
    pub interface: u32,
    /// Record number in the file, from 1.
    pub record: u64,
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read. (The I/O error is part of the message, not a
    /// `source`, so that error chains do not print it twice.)
    #[error("{file}: {error}")]
    Io {
        /// File name.
        file: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is not a pcap or pcapng capture.
    #[error("{file}: not a pcap or pcapng file ({reason})")]
    NotCapture {
        /// File name.
        file: String,
        /// What was wrong.
        reason: String,
    },
    /// A record is corrupt or the file ends inside it.
    #[error("{file}: record {record} at byte offset {offset}: {reason}")]
    Corrupt {
        /// File name.
        file: String,
        /// Record number (from 1) that could not be read.
        record: u64,
        /// Byte offset of that record in the file.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}

struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    ts_per_sec: u64,
    ts_offset: i64,
}

/// Where the bytes come from.
enum Source {
    /// pcap-parser over a byte stream (pcapng, standard input, pipes).
    Stream(Box<dyn PcapReaderIterator + Send>),
    /// A classic pcap file mapped into memory: frames are read in place, without copies.
    Mapped(MappedPcap),
}

/// A memory-mapped classic pcap file.
struct MappedPcap {
    map: memmap2::Mmap,
    at: usize,
    /// Bytes before this offset have been handed back to the kernel.
    released: usize,
    big_endian: bool,
    nanos: bool,
    link: LinkType,
}

/// Classic pcap magic numbers as they appear in the first four bytes of a file.
const PCAP_MAGICS: [([u8; 4], bool, bool); 4] = [
    ([0xd4, 0xc3, 0xb2, 0xa1], false, false),
    ([0xa1, 0xb2, 0xc3, 0xd4], true, false),
    ([0x4d, 0x3c, 0xb2, 0xa1], false, true),
    ([0xa1, 0xb2, 0x3c, 0x4d], true, true),
];
const PCAP_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

impl MappedPcap {
    /// Maps `file` when it is a classic pcap file; `None` for anything else.
    #[allow(unsafe_code)]
    fn open(file: &File) -> Option<MappedPcap> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() || (meta.len() as usize) < PCAP_HEADER_LEN {
            return None;
        }
        // SAFETY: the map is only read. If another process truncates the file while it is
        // mapped, reading the lost pages raises SIGBUS; a capture that is being cut short
        // under the reader is not a case this tool can recover from either way.
        let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
        let _ = map.advise(memmap2::Advice::Sequential);
        let (_, big_endian, nanos) = *PCAP_MAGICS.iter().find(|(m, _, _)| map[..4] == m[..])?;
        let word = |at: usize| read_u32(&map[at..at + 4], big_endian);
        let link = LinkType(word(20) & 0xffff);
        Some(MappedPcap { map, at: PCAP_HEADER_LEN, released: 0, big_endian, nanos, link })
    }

    /// Gives the pages already read back to the kernel, so that the process's resident
    /// memory stays small however large the file is.
    #[allow(unsafe_code)]
    fn release_read_pages(&mut self) {
        const STEP: usize = 8 << 20;
        let upto = self.at & !(STEP - 1);
        if upto > self.released {
            // SAFETY: a read-only shared mapping of a file; dropping its pages only means
            // they are read again from the page cache if touched, and nothing here touches
            // bytes before `at` again.
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    self.released,
                    upto - self.released,
                )
            };
            self.released = upto;
        }
    }
}

fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// Reads frames from a pcap or pcapng file.
pub struct FileReader {
    name: String,
    /// The input's compression, and what its decompressor saw.
    compressed: Option<(Compression, Watch)>,
    source: Source,
    legacy_link: LinkType,
    legacy_nanos: bool,
    interfaces: Vec<Interface>,
    record: u64,
    offset: u64,
    /// Set to end the reading early (after the frame at hand).
    stop: Arc<AtomicBool>,
    /// In a pcapng section: its byte order.
    pcapng_big_endian: Option<bool>,
    /// The file's size, for a regular file.
    size: Option<u64>,
}

/// Bytes of a pcapng block's type and two length fields.
const PCAPNG_FRAMING: u32 = 12;

/// A byte stream that may block (standard input, a pipe, a FIFO), read so that a stop
/// request ends a blocked read within [`STOP_POLL_MS`]: it waits for data in short polls
/// and, once `stop` is set, reads as the end of the input.
struct Stoppable<R> {
    inner: R,
    fd: std::os::fd::RawFd,
    stop: Arc<AtomicBool>,
}

/// How often a blocked read looks at its stop flag, in milliseconds.
pub const STOP_POLL_MS: i32 = 100;

impl<R: Read> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            let mut p = libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 };
            // SAFETY: poll reads and writes only the one pollfd passed.
            #[allow(unsafe_code)]
            let ready = unsafe { libc::poll(&mut p, 1, STOP_POLL_MS) };
            if ready > 0 {
                // Readable, at its end, or an error that the read itself reports.
                return self.inner.read(buf);
            }
            // A timeout, or a signal (perhaps the one that asks to stop): look again.
        }
    }
}

impl FileReader {
    /// Opens `path`, or standard input when `path` is `-`.
    pub fn open(path: &str) -> Result<FileReader, CaptureError> {
        FileReader::open_until(path, Arc::new(AtomicBool::new(false)))
    }

    /// Opens `path` (`-` for standard input) to read until it ends or `stop` is set: a read
    /// blocked on a quiet pipe or FIFO notices `stop` within [`STOP_POLL_MS`], and the
    /// reader then ends cleanly after the last whole record.
    pub fn open_until(path: &str, stop: Arc<AtomicBool>) -> Result<FileReader, CaptureError> {
        use std::os::fd::AsRawFd;
        if path == "-" {
            use std::os::fd::AsFd;
            // Read from the descriptor itself: bytes held in a buffer of the process would be
            // invisible to the poll that waits for more.
            let stdin = std::io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map(File::from)
                .map_err(|error| CaptureError::Io { file: "standard input".into(), error })?;
            let fd = stdin.as_raw_fd();
            let mut r =
                FileReader::new("standard input", Stoppable { inner: stdin, fd, stop: stop.clone() })?;
            r.stop = stop;
            return Ok(r);
        }
        let f = File::open(path).map_err(|error| CaptureError::Io { file: path.to_string(), error })?;
        let meta = f.metadata().map_err(|error| CaptureError::Io { file: path.to_string(), error })?;
        if meta.is_dir() {
            return Err(CaptureError::NotCapture { file: path.to_string(), reason: "it is a folder".into() });
        }
        if let Some(mapped) = MappedPcap::open(&f) {
            return Ok(FileReader {
                name: path.to_string(),
                compressed: None,
                source: Source::Mapped(mapped),
                legacy_link: LinkType::ETHERNET,
                legacy_nanos: false,
                interfaces: Vec::new(),
                record: 0,
                offset: PCAP_HEADER_LEN as u64,
                stop,
                pcapng_big_endian: None,
                size: Some(meta.len()),
            });
        }
        let fd = f.as_raw_fd();
        let mut r = FileReader::new(path, Stoppable { inner: f, fd, stop: stop.clone() })?;
        r.stop = stop;
        // A compressed file's size says nothing of how far through its frames a reader is.
        r.size = (meta.is_file() && r.compressed.is_none()).then_some(meta.len());
        Ok(r)
    }

    /// Reads a capture from any byte stream, decompressing it when it starts with the magic
    /// bytes of gzip, zstd or lz4; `name` names it in errors.
    pub fn new<R: Read + Send + 'static>(name: &str, input: R) -> Result<FileReader, CaptureError> {
        let (input, compressed) = crate::compression::decompressing(input)
            .map_err(|error| CaptureError::Io { file: name.to_string(), error })?;
        let reader = pcap_parser::create_reader(INITIAL_BUFFER, input).map_err(|e| {
            // A compressed stream that does not decompress says why, and where.
            if let Some((_, watch)) = &compressed {
                if let Some(why) = watch.error() {
                    let error = std::io::Error::other(format!(
                        "{why}, within the first {} compressed bytes",
                        watch.consumed()
                    ));
                    return CaptureError::Io { file: name.to_string(), error };
                }
            }
            CaptureError::NotCapture {
                file: name.to_string(),
                reason: match e {
                    PcapError::Eof => "the file is empty".to_string(),
                    PcapError::ReadError => "read error".to_string(),
                    PcapError::HeaderNotRecognized => "unknown magic number".to_string(),
                    PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
                        format!("malformed header ({})", kind.description())
                    }
                    _ => "the file ends inside its header".to_string(),
                },
            }
        })?;
        Ok(FileReader {
            name: name.to_string(),
            compressed,
            source: Source::Stream(reader),
            legacy_link: LinkType::ETHERNET,
            legacy_nanos: false,
            interfaces: Vec::new(),
            record: 0,
            offset: 0,
            stop: Arc::new(AtomicBool::new(false)),
            pcapng_big_endian: None,
            size: None,
        })
    }

    /// True when the reading ended early because the stop flag was set.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The name used in errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's size in bytes, when it is a regular file (not a pipe).
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Frames read so far.
    pub fn records(&self) -> u64 {
        self.record
    }

    /// Calls `f` with every frame in order until the file ends, `f` breaks, or the stop flag
    /// is set (a stream's frames already read are still handed over; a read that would wait
    /// ends the walk). A corrupt or truncated record ends the walk with an error naming it;
    /// the frames before it have already been handed to `f`.
    pub fn for_each<F>(&mut self, mut f: F) -> Result<(), CaptureError>
    where
        F: FnMut(&Frame<'_>) -> ControlFlow<()>,
    {
        match &mut self.source {
            Source::Mapped(m) => {
                let stop = &self.stop;
                let f = |frame: &Frame<'_>| {
                    if stop.load(Ordering::Relaxed) {
                        return ControlFlow::Break(());
                    }
                    f(frame)
                };
                for_each_mapped(m, &self.name, &mut self.record, &mut self.offset, f)
            }
            Source::Stream(_) => self.for_each_streamed(f),
        }
    }

    /// The error for a read that failed: for a compressed input, what its decompressor said
    /// and how far into the compressed bytes (the record's offset counts decompressed ones).
    fn read_error(&self) -> CaptureError {
        let why = match &self.compressed {
            Some((_, watch)) => match watch.error() {
                Some(e) => format!("{e}, within the first {} compressed bytes", watch.consumed()),
                None => "read error".to_string(),
            },
            None => "read error".to_string(),
        };
        corrupt(&self.name, self.record, self.offset, why)
    }

    /// The input's compression, if it is compressed.
    pub fn compression(&self) -> Option<Compression> {
        self.compressed.as_ref().map(|c| c.0)
    }

    fn for_each_streamed<F>(&mut self, mut f: F) -> Result<(), CaptureError>
    where
        F: FnMut(&Frame<'_>) -> ControlFlow<()>,
    {
        let Source::Stream(reader) = &mut self.source else { return Ok(()) };
        loop {
            // pcap-parser trusts a pcapng block's length to hold its 12 bytes of framing (it
            // overflows on less): such a block is refused here.
            if let (Some(big_endian), Some(word)) = (self.pcapng_big_endian, reader.data().get(4..8)) {
                let len = read_u32(word, big_endian);
                if len < PCAPNG_FRAMING {
                    let why = format!(
                        "block length {len} is less than a block's {PCAPNG_FRAMING} bytes of framing"
                    );
                    return Err(corrupt(&self.name, self.record, self.offset, why));
                }
            }
            match reader.next() {
                Ok((len, block)) => {
                    let frame = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            // The upper bits of the link-type word carry FCS information (pcap-linktype).
                            self.legacy_link = LinkType(h.network.0 as u32 & 0xffff);
                            self.legacy_nanos = h.is_nanosecond_precision();
                            None
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let per_sec = if self.legacy_nanos { 1_000_000_000 } else { 1_000_000 };
                            let sub = u64::from(b.ts_usec) * (1_000_000_000 / per_sec);
                            let caplen = (b.caplen as usize).min(b.data.len());
                            Some(Frame {
                                data: &b.data[..caplen],
                                orig_len: b.origlen,
                                ts_nanos: u64::from(b.ts_sec) * 1_000_000_000 + sub,
                                link: self.legacy_link,
                                interface: 0,
                                record: self.record + 1,
                            })
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                            self.interfaces.clear();
                            self.pcapng_big_endian = Some(shb.big_endian());
                            None
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            let Some(ts_per_sec) = ts_per_sec(idb.if_tsresol) else {
                                return Err(corrupt(
                                    &self.name,
                                    self.record,
                                    self.offset,
                                    format!(
                                        "interface declares the time resolution 0x{:02x}, which no clock has",
                                        idb.if_tsresol
                                    ),
                                ));
                            };
                            self.interfaces.push(Interface {
                                link: LinkType(idb.linktype.0 as u32),
                                ts_per_sec,
                                ts_offset: idb.ts_offset(),
                            });
                            None
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let Some(ifc) = self.interfaces.get(epb.if_id as usize) else {
                                return Err(corrupt(
                                    &self.name,
                                    self.record,
                                    self.offset,
                                    format!("packet on undeclared interface {}", epb.if_id),
                                ));
                            };
                            let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                            let Some(ts) = nanos_since_epoch(raw, ifc) else {
                                return Err(corrupt(
                                    &self.name,
                                    self.record,
                                    self.offset,
                                    "the packet's time is past the year 2554, beyond what detunnel can hold",
                                ));
                            };
                            let caplen = (epb.caplen as usize).min(epb.data.len());
                            Some(Frame {
                                data: &epb.data[..caplen],
                                orig_len: epb.origlen,
                                ts_nanos: ts,
                                link: ifc.link,
                                interface: epb.if_id,
                                record: self.record + 1,
                            })
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            let Some(ifc) = self.interfaces.first() else {
                                return Err(corrupt(
                                    &self.name,
                                    self.record,
                                    self.offset,
                                    "simple packet before any interface",
                                ));
                            };
                            Some(Frame {
                                data: spb.data,
                                orig_len: spb.origlen,
                                ts_nanos: 0,
                                link: ifc.link,
                                interface: 0,
                                record: self.record + 1,
                            })
                        }
                        PcapBlockOwned::NG(_) => None,
                    };
                    let flow = match frame {
                        Some(fr) => {
                            self.record += 1;
                            f(&fr)
                        }
                        None => ControlFlow::Continue(()),
                    };
                    reader.consume(len);
                    self.offset += len as u64;
                    if flow.is_break() {
                        return Ok(());
                    }
                }
                Err(PcapError::Eof) => return Ok(()),
                // A stop ends the input after the last whole record.
                Err(PcapError::Incomplete(_) | PcapError::UnexpectedEof)
                    if self.stop.load(Ordering::Relaxed) =>
                {
                    return Ok(())
                }
                Err(PcapError::Incomplete(_)) => {
                    if reader.reader_exhausted() {
                        return Err(corrupt(
                            &self.name,
                            self.record,
                            self.offset,
                            "the file ends inside this record",
                        ));
                    }
                    if reader.refill().is_err() {
                        return Err(self.read_error());
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    return Err(corrupt(
                        &self.name,
                        self.record,
                        self.offset,
                        "the file ends inside this record",
                    ))
                }
                Err(PcapError::BufferTooSmall) => {
                    let size = reader.data().len().max(INITIAL_BUFFER) * 2;
                    if size > MAX_BLOCK || !reader.grow(size) {
                        return Err(corrupt(
                            &self.name,
                            self.record,
                            self.offset,
                            format!("record larger than {MAX_BLOCK} bytes"),
                        ));
                    }
                    if reader.refill().is_err() {
                        return Err(self.read_error());
                    }
                }
                Err(PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind)) => {
                    let why = format!("malformed block ({})", kind.description());
                    return Err(corrupt(&self.name, self.record, self.offset, why));
                }
                Err(PcapError::ReadError) => return Err(self.read_error()),
                Err(PcapError::HeaderNotRecognized) => {
                    return Err(corrupt(&self.name, self.record, self.offset, "unknown block type"));
                }
            }
        }
    }
}

/// Timestamp units per second that a pcapng `if_tsresol` value declares: a power of 10, or of
/// 2 when its high bit is set; `None` for a unit finer than one per 2^-63 s or 10^-19 s.
fn ts_per_sec(tsresol: u8) -> Option<u64> {
    let exponent = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 != 0 {
        1u64.checked_shl(exponent).filter(|_| exponent < 64)
    } else {
        10u64.checked_pow(exponent)
    }
}

/// A pcapng timestamp of `raw` units of `ifc` in nanoseconds since the Unix epoch (before the
/// epoch reads as the epoch); `None` when it does not fit.
fn nanos_since_epoch(raw: u64, ifc: &Interface) -> Option<u64> {
    let secs = i128::from(raw / ifc.ts_per_sec) + i128::from(ifc.ts_offset);
    let frac = u128::from(raw % ifc.ts_per_sec);
    let nanos = (frac * 1_000_000_000 / u128::from(ifc.ts_per_sec)) as i128;
    u64::try_from((secs.max(0) * 1_000_000_000 + nanos).max(0)).ok()
}

/// Walks the records of a mapped classic pcap file in place.
fn for_each_mapped<F>(
    m: &mut MappedPcap,
    name: &str,
    record: &mut u64,
    offset: &mut u64,
    mut f: F,
) -> Result<(), CaptureError>
where
    F: FnMut(&Frame<'_>) -> ControlFlow<()>,
{
    let sub_unit = if m.nanos { 1 } else { 1_000 };
    loop {
        let data = &m.map[..];
        let at = m.at;
        *offset = at as u64;
        if at == data.len() {
            return Ok(());
        }
        let Some(h) = data.get(at..at + RECORD_HEADER_LEN) else {
            return Err(corrupt(name, *record, *offset, "the file ends inside this record's header"));
        };
        let word = |i: usize| read_u32(&h[i..i + 4], m.big_endian);
        let (sec, frac, caplen, origlen) = (word(0), word(4), word(8) as usize, word(12));
        if caplen > MAX_BLOCK {
            return Err(corrupt(name, *record, *offset, format!("record claims {caplen} captured bytes")));
        }
        let start = at + RECORD_HEADER_LEN;
        let Some(bytes) = data.get(start..start + caplen) else {
            return Err(corrupt(name, *record, *offset, "the file ends inside this record"));
        };
        *record += 1;
        let frame = Frame {
            data: bytes,
            orig_len: origlen,
            ts_nanos: u64::from(sec) * 1_000_000_000 + u64::from(frac) * sub_unit,
            link: m.link,
            interface: 0,
            record: *record,
        };
        let flow = f(&frame);
        m.at = start + caplen;
        if *record % 4096 == 0 {
            m.release_read_pages();
        }
        if flow.is_break() {
            *offset = m.at as u64;
            return Ok(());
        }
    }
}

/// The error for the record after `record`, which starts at `offset`.
fn corrupt(name: &str, record: u64, offset: u64, reason: impl Into<String>) -> CaptureError {
    CaptureError::Corrupt { file: name.to_string(), record: record + 1, offset, reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap(records: &[&[u8]]) -> Vec<u8> {
        let mut v =
            vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
        for (i, r) in records.iter().enumerate() {
            v.extend_from_slice(&(i as u32 + 1).to_le_bytes());
            v.extend_from_slice(&5u32.to_le_bytes());
            v.extend_from_slice(&(r.len() as u32).to_le_bytes());
            v.extend_from_slice(&(r.len() as u32).to_le_bytes());
            v.extend_from_slice(r);
        }
        v
    }

    #[test]
    fn reads_records() {
        let data = pcap(&[&[1, 2, 3], &[4, 5]]);
        let mut r = FileReader::new("mem", std::io::Cursor::new(data)).unwrap();
        let mut seen = Vec::new();
        r.for_each(|f| {
            seen.push((f.record, f.data.to_vec(), f.ts_nanos, f.link));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen[0], (1, vec![1, 2, 3], 1_000_005_000, LinkType::ETHERNET));
        assert_eq!(seen[1].0, 2);
    }

    #[test]
    fn truncated_record_is_named() {
        let mut data = pcap(&[&[1, 2, 3], &[4, 5, 6, 7]]);
        data.truncate(data.len() - 2);
        let mut r = FileReader::new("mem", std::io::Cursor::new(data)).unwrap();
        let mut n = 0;
        let err = r
            .for_each(|_| {
                n += 1;
                ControlFlow::Continue(())
            })
            .unwrap_err();
        assert_eq!(n, 1);
        let msg = err.to_string();
        assert!(msg.contains("record 2 at byte offset 43"), "{msg}");
    }

    /// A pcapng file with one interface of time resolution `tsresol` and one packet at `raw`.
    fn pcapng(tsresol: u8, raw: u64) -> Vec<u8> {
        let mut v = Vec::new();
        let block = |v: &mut Vec<u8>, kind: u32, body: &[u8]| {
            let len = (12 + body.len()) as u32;
            v.extend_from_slice(&kind.to_le_bytes());
            v.extend_from_slice(&len.to_le_bytes());
            v.extend_from_slice(body);
            v.extend_from_slice(&len.to_le_bytes());
        };
        block(
            &mut v,
            0x0a0d_0d0a,
            &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        );
        // Link type 1, snaplen 0; option if_tsresol (9), length 1; end of options.
        block(&mut v, 1, &[1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, tsresol, 0, 0, 0, 0, 0, 0, 0]);
        let mut epb = vec![0u8; 20];
        epb[4..8].copy_from_slice(&((raw >> 32) as u32).to_le_bytes());
        epb[8..12].copy_from_slice(&(raw as u32).to_le_bytes());
        epb[12..16].copy_from_slice(&4u32.to_le_bytes());
        epb[16..20].copy_from_slice(&4u32.to_le_bytes());
        epb.extend_from_slice(&[1, 2, 3, 4]);
        block(&mut v, 6, &epb);
        v
    }

    fn first_time(data: Vec<u8>) -> Result<u64, CaptureError> {
        let mut r = FileReader::new("mem", std::io::Cursor::new(data))?;
        let mut ts = None;
        r.for_each(|f| {
            ts = Some(f.ts_nanos);
            ControlFlow::Break(())
        })?;
        Ok(ts.unwrap())
    }

    #[test]
    fn pcapng_times_in_every_resolution() {
        // 1.5 s in microseconds, nanoseconds, and 2^-20 s (the high bit: a power of two).
        assert_eq!(first_time(pcapng(6, 1_500_000)).unwrap(), 1_500_000_000);
        assert_eq!(first_time(pcapng(9, 1_500_000_000)).unwrap(), 1_500_000_000);
        assert_eq!(first_time(pcapng(0x80 | 20, 3 << 19)).unwrap(), 1_500_000_000);
        // Seconds: a raw time past what nanoseconds hold is an error, not a wrapped time.
        let e = first_time(pcapng(0, u64::MAX / 2)).unwrap_err().to_string();
        assert!(e.contains("record 1") && e.contains("past the year 2554"), "{e}");
        let e = first_time(pcapng(0x80 | 64, 1)).unwrap_err().to_string();
        assert!(e.contains("time resolution 0xc0"), "{e}");
    }

    #[test]
    fn a_pcapng_block_shorter_than_its_framing_is_an_error() {
        // A section header, then a process information block (0x80000008) claiming 8 bytes:
        // the parser underneath would overflow on it (found by the capture fuzz target).
        let mut data = pcapng(9, 0);
        data.truncate(28);
        data.extend_from_slice(&[0x08, 0, 0, 0x80, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let e = first_time(data).unwrap_err().to_string();
        assert!(e.contains("record 1") && e.contains("block length 8 is less than"), "{e}");
    }

    #[test]
    fn not_a_capture() {
        let err =
            FileReader::new("x", std::io::Cursor::new(b"hello world, not pcap".to_vec())).err().unwrap();
        assert!(err.to_string().contains("not a pcap"));
    }
}

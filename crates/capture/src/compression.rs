//! Compressed captures: gzip, zstd and lz4, as Wireshark reads them. A compressed input is
//! recognised by its magic bytes, not its name, and read as the stream of all its members
//! (gzip) or frames (zstd, lz4), so concatenated files read as one. Output is compressed a
//! buffer at a time, each buffer a whole member or frame of its own: whatever ends the
//! writing, every member already in the file can be read.
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (RFC 1952), `.gz`.
    Gzip,
    /// Zstandard (RFC 8878), `.zst`.
    Zstd,
    /// LZ4 frames, `.lz4`.
    Lz4,
}

/// The formats with their names, file extensions and magic bytes.
const FORMATS: [(Compression, &str, &str, &[u8]); 3] = [
    (Compression::Gzip, "gzip", ".gz", &[0x1f, 0x8b]),
    (Compression::Zstd, "zstd", ".zst", &[0x28, 0xb5, 0x2f, 0xfd]),
    (Compression::Lz4, "lz4", ".lz4", &[0x04, 0x22, 0x4d, 0x18]),
];

/// Bytes of a zstd frame's window that a reader accepts (zstd's own default limit): a
/// frame that asks for more is refused rather than allowed to take the memory.
const MAX_ZSTD_WINDOW: u64 = 128 << 20;

impl Compression {
    /// The format named `name` (`gzip`, `zstd`, `lz4`).
    pub fn parse(name: &str) -> Result<Compression, String> {
        FORMATS.iter().find(|f| f.1 == name).map(|f| f.0).ok_or_else(|| {
            let names: Vec<&str> = FORMATS.iter().map(|f| f.1).collect();
            format!("unknown compression `{name}`; known: {}", names.join(", "))
        })
    }

    /// The format a file name's last extension implies (`x.pcap.gz` is gzip).
    pub fn from_path(path: &str) -> Option<Compression> {
        FORMATS.iter().find(|f| path.ends_with(f.2)).map(|f| f.0)
    }

    /// `path` without the extension of the format it implies, if any (`x.pcap.gz` → `x.pcap`).
    pub fn strip(path: &str) -> &str {
        Compression::from_path(path).map_or(path, |c| &path[..path.len() - c.extension().len()])
    }

    /// The format whose magic bytes `head` starts with.
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        FORMATS.iter().find(|f| head.starts_with(f.3)).map(|f| f.0)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// Its file extension, with the dot.
    pub fn extension(self) -> &'static str {
        self.entry().2
    }

    fn entry(self) -> &'static (Compression, &'static str, &'static str, &'static [u8]) {
        // Every format has its entry.
        FORMATS.iter().find(|f| f.0 == self).unwrap_or(&FORMATS[0])
    }

    /// `data` as one whole member (gzip) or frame (zstd, lz4), appended to `out`.
    pub fn pack(self, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        use std::io::Write;
        match self {
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
                e.write_all(data)?;
                e.finish()?;
            }
            Compression::Zstd => {
                ruzstd::encoding::compress(data, out, ruzstd::encoding::CompressionLevel::Fastest);
            }
            Compression::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(out);
                e.write_all(data)?;
                e.finish().map_err(io::Error::other)?;
            }
        }
        Ok(())
    }
}

/// What a decompressing reader saw: how many compressed bytes it took from its input, and
/// the error that stopped it, for the reader's error message.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    consumed: Arc<AtomicU64>,
    error: Arc<Mutex<Option<String>>>,
}

impl Watch {
    /// Compressed bytes read from the input so far.
    pub fn consumed(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }

    /// Why decompressing stopped, if it failed.
    pub fn error(&self) -> Option<String> {
        self.error.lock().map_or(None, |e| e.clone())
    }
}

/// A byte stream read through whatever decoding it needs.
pub type ByteStream = Box<dyn Read + Send>;

/// `input` decompressed when it starts with a compression format's magic bytes (with the
/// format and its [`Watch`]), or as it is.
pub fn decompressing<R: Read + Send + 'static>(
    mut input: R,
) -> io::Result<(ByteStream, Option<(Compression, Watch)>)> {
    // The first bytes, read whole even from a pipe that hands them over one at a time.
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole = Prefixed { head, at: 0, len: got, inner: input };
    let Some(kind) = Compression::sniff(&head[..got]) else {
        return Ok((Box::new(whole), None));
    };
    let watch = Watch::default();
    let counted = BufReader::new(Counting { inner: whole, consumed: watch.consumed.clone() });
    let decoder: ByteStream = match kind {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(counted)),
        Compression::Zstd => Box::new(ZstdFrames::new(counted)),
        Compression::Lz4 => Box::new(Lz4Frames(lz4_flex::frame::FrameDecoder::new(counted))),
    };
    let watched = Watched { inner: decoder, kind, error: watch.error.clone() };
    Ok((Box::new(watched), Some((kind, watch))))
}

/// The bytes read to recognise a stream, then the rest of it: a read hands over what is
/// left of the first bytes together with what one read of the stream gives, as one read of
/// the stream alone would have (a capture's reader expects its header in one read).
struct Prefixed<R> {
    head: [u8; 4],
    at: usize,
    len: usize,
    inner: R,
}

impl<R: Read> Read for Prefixed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.len - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.head[self.at..self.at + n]);
        self.at += n;
        if n == buf.len() {
            return Ok(n);
        }
        match self.inner.read(&mut buf[n..]) {
            Ok(m) => Ok(n + m),
            // The first bytes are handed over; the error comes again on the next read.
            Err(_) if n > 0 => Ok(n),
            Err(e) => Err(e),
        }
    }
}

/// A reader that counts the bytes read through it.
struct Counting<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A decompressor that keeps its first error for the message, and says a stream that ends
/// early in so many words.
struct Watched {
    inner: ByteStream,
    kind: Compression,
    error: Arc<Mutex<Option<String>>>,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            let why = match e.kind() {
                io::ErrorKind::UnexpectedEof => format!("the {} stream ends early", self.kind.name()),
                _ => format!("the {} stream is corrupt ({e})", self.kind.name()),
            };
            if let Ok(mut slot) = self.error.lock() {
                slot.get_or_insert(why);
            }
        })
    }
}

/// Every lz4 frame of a stream (the decoder ends its output at the end of each frame).
struct Lz4Frames<R: BufRead>(lz4_flex::frame::FrameDecoder<R>);

impl<R: BufRead> Read for Lz4Frames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.0.read(buf)?;
            if n > 0 || buf.is_empty() || self.0.get_mut().fill_buf()?.is_empty() {
                return Ok(n);
            }
        }
    }
}

/// Every zstd frame of a stream, one after the other (ruzstd decodes one frame at a time);
/// skippable frames are skipped.
struct ZstdFrames<R> {
    source: R,
    decoder: ruzstd::decoding::FrameDecoder,
    in_frame: bool,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(source: R) -> ZstdFrames<R> {
        let mut decoder = ruzstd::decoding::FrameDecoder::new();
        decoder.set_max_window_size(MAX_ZSTD_WINDOW);
        ZstdFrames { source, decoder, in_frame: false }
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        let invalid = |e: FrameDecoderError| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
        // Nothing is asked: decoding on would finish the frame and lose what it holds.
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if self.source.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                match self.decoder.init(&mut self.source) {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                        length,
                        ..
                    })) => {
                        let skipped =
                            io::copy(&mut (&mut self.source).take(u64::from(length)), &mut io::sink())?;
                        if skipped < u64::from(length) {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                    }
                    Err(e) => return Err(invalid(e)),
                }
                continue;
            }
            let n = self.decoder.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            // Nothing more to collect of a finished frame: the next one starts.
            if self.decoder.is_finished() {
                self.in_frame = false;
                continue;
            }
            self.decoder
                .decode_blocks(&mut self.source, ruzstd::decoding::BlockDecodingStrategy::UptoBytes(1 << 16))
                .map_err(invalid)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unpack(bytes: Vec<u8>) -> (Vec<u8>, Option<Compression>, Option<String>) {
        let (mut r, found) = decompressing(io::Cursor::new(bytes)).unwrap();
        let mut out = Vec::new();
        let _ = r.read_to_end(&mut out);
        let error = found.as_ref().and_then(|(_, w)| w.error());
        (out, found.map(|f| f.0), error)
    }

    /// Bytes that compress, but not to nothing.
    fn sample(len: usize) -> Vec<u8> {
        let mut x = 0x2545_f491u32;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if i % 16 == 0 {
                    x as u8
                } else {
                    (i % 251) as u8
                }
            })
            .collect()
    }

    #[test]
    fn members_concatenated_read_as_one_stream() {
        let data = sample(1_200_000);
        for kind in [Compression::Gzip, Compression::Zstd, Compression::Lz4] {
            let mut packed = Vec::new();
            kind.pack(&data[..500_000], &mut packed).unwrap();
            kind.pack(&data[500_000..], &mut packed).unwrap();
            assert!(packed.len() < data.len() * 9 / 10, "{kind:?}: {}", packed.len());
            let (out, found, error) = unpack(packed);
            assert_eq!((out.len(), found, error), (data.len(), Some(kind), None), "{kind:?}");
            assert!(out == data, "{kind:?}: other bytes came out");
        }
        assert_eq!(unpack(b"ab".to_vec()), (b"ab".to_vec(), None, None));
    }

    #[test]
    fn an_empty_read_loses_nothing() {
        // A capture reader may ask for nothing; the zstd reader once decoded its whole frame
        // then and dropped it.
        let data = sample(600_000);
        for kind in [Compression::Gzip, Compression::Zstd, Compression::Lz4] {
            let mut packed = Vec::new();
            kind.pack(&data, &mut packed).unwrap();
            let (mut r, _) = decompressing(io::Cursor::new(packed)).unwrap();
            let (mut out, mut buf) = (Vec::new(), vec![0u8; 4096]);
            loop {
                assert_eq!(r.read(&mut []).unwrap(), 0);
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            assert!(out == data, "{kind:?}: {} of {} bytes", out.len(), data.len());
        }
    }

    #[test]
    fn a_cut_or_corrupt_stream_is_said() {
        let data = sample(100_000);
        for kind in [Compression::Gzip, Compression::Zstd, Compression::Lz4] {
            let mut packed = Vec::new();
            kind.pack(&data, &mut packed).unwrap();
            let cut = packed[..packed.len() / 2].to_vec();
            let (_, _, error) = unpack(cut);
            assert!(error.as_ref().is_some_and(|e| e.contains(kind.name())), "{kind:?}: {error:?}");
            let mut bad = packed.clone();
            let mid = bad.len() / 2;
            bad[mid..mid + 8].copy_from_slice(&[0xff; 8]);
            let (out, _, error) = unpack(bad);
            assert!(error.is_some() || out != data, "{kind:?}: corruption went unseen");
        }
    }

    #[test]
    fn a_zstd_window_past_the_limit_is_refused() {
        // A frame header asking for a 2 GiB window (exponent 31), then an empty raw block.
        let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x01, 0x00, 0x00];
        let (out, found, error) = unpack(frame.to_vec());
        assert_eq!((out.len(), found), (0, Some(Compression::Zstd)));
        assert!(error.is_some_and(|e| e.contains("zstd") && e.to_lowercase().contains("window")));
    }

    #[test]
    fn names_and_extensions() {
        assert_eq!(Compression::from_path("a.pcapng.zst"), Some(Compression::Zstd));
        assert_eq!(Compression::from_path("a.pcap"), None);
        assert_eq!(Compression::parse("lz4"), Ok(Compression::Lz4));
        assert!(Compression::parse("xz").unwrap_err().contains("known: gzip, zstd, lz4"));
    }
}

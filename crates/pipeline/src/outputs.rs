//! Where emitted frames go: capture files (rotating, each tunnel stream its own pcapng
//! interface, optionally one file per stream), TAP interfaces and tunnels to remote tools.
use crate::config::FileSink;
use crate::summary::SinkCounts;
use capture::{Compression, FileWriter, Format, RotatingWriter, WriteError, WriteQueue, Writing};
use decap::StreamKey;
use dissect::LinkType;
use foldhash::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// One capture file output.
pub struct FileOut {
    /// The main file (none when only streams' files are written).
    writer: Option<RotatingWriter>,
    split: Option<Split>,
}

/// One file per tunnel stream (and one for untunnelled frames) in a folder.
struct Split {
    dir: String,
    format: Format,
    compression: Option<Compression>,
    /// Who writes each stream's file out.
    writing: Writing,
    streams: HashMap<u32, FileWriter>,
    untunnelled: Option<FileWriter>,
}

impl Split {
    fn create(&self, name: &str, interface: &str) -> Result<FileWriter, WriteError> {
        let format = if self.format == Format::Pcapng { "pcapng" } else { "pcap" };
        let compressed = self.compression.map_or("", Compression::extension);
        let path = format!("{}/{name}.{format}{compressed}", self.dir);
        let mut w = FileWriter::create_compressed(
            &path,
            self.format,
            self.compression,
            LinkType::ETHERNET,
            interface,
        )
        .map_err(|error| WriteError { path, error, lost: 0, lost_bytes: 0 })?;
        w.writing(&self.writing);
        Ok(w)
    }
}

impl FileOut {
    /// Creates the output `sink` describes; an output that cannot be created is an error
    /// naming it. A live pipeline survives failed writes, and its files' buffers are written
    /// by whichever worker next takes them from `queue`.
    pub fn open(sink: &FileSink, live: bool, queue: &WriteQueue) -> Result<FileOut, String> {
        if sink.path.as_deref() == Some("-") && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            return Err(
                "refusing to write a capture to a terminal; use -w FILE or pipe it (| tcpdump -r -)".into()
            );
        }
        let rotation = capture::Rotation { retry: live, ..sink.rotation };
        let writer = match &sink.path {
            Some(path) => {
                let mut w = RotatingWriter::create(path, sink.format, sink.compression, rotation)
                    .map_err(|e| format!("cannot create {}: {}", e.path, e.error))?;
                // Read as fast as it can be, the input is decoded while the last buffers are
                // written out (both cores); a live pipeline's workers write between batches,
                // not holding the job.
                w.writing(if live { Writing::Queued(queue.clone()) } else { Writing::Behind });
                Some(w)
            }
            None => None,
        };
        let split = match &sink.split_streams {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the folder {dir}: {e}"))?;
                Some(Split {
                    dir: dir.clone(),
                    format: sink.format,
                    compression: sink.compression,
                    // Not a thread per stream: read from files, each is written as it fills.
                    writing: if live { Writing::Queued(queue.clone()) } else { Writing::Here },
                    streams: HashMap::default(),
                    untunnelled: None,
                })
            }
            None => None,
        };
        Ok(FileOut { writer, split })
    }

    /// The flag that asks for the main file to be reopened (SIGHUP).
    pub fn reopen_flag(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicBool>> {
        self.writer.as_ref().map(RotatingWriter::reopen_flag)
    }

    /// Declares stream `key`, number `ordinal`: an interface in every file, and its own file
    /// when streams are split.
    pub fn declare(&mut self, key: &StreamKey, ordinal: u32) -> Result<(), WriteError> {
        let name = key.to_string();
        if let Some(w) = &mut self.writer {
            w.add_interface(&name)?;
        }
        if let Some(split) = &mut self.split {
            let w = split.create(&key.file_name(), &name)?;
            split.streams.insert(ordinal, w);
        }
        Ok(())
    }

    /// Writes a frame of stream `ordinal` (0: untunnelled, or a stream past the number tracked
    /// when not `tracked`) captured at `ts`.
    #[inline]
    pub fn write(
        &mut self,
        ordinal: u32,
        tracked: bool,
        ts: u64,
        orig_len: u32,
        head: &[u8],
        body: &[u8],
    ) -> Result<(), WriteError> {
        if let Some(split) = self.split.as_mut().filter(|_| tracked) {
            let own = if ordinal == 0 {
                if split.untunnelled.is_none() {
                    split.untunnelled = Some(
                        split
                            .create(capture::rotating::FIRST_INTERFACE, capture::rotating::FIRST_INTERFACE)?,
                    );
                }
                split.untunnelled.as_mut()
            } else {
                split.streams.get_mut(&ordinal)
            };
            if let Some(w) = own {
                w.write_parts(0, ts, orig_len, head, body)?;
            }
        }
        match &mut self.writer {
            Some(w) => w.write(ordinal, ts, orig_len, head, body),
            None => Ok(()),
        }
    }

    /// Writes out what was gathered (live pipelines do so every 100 ms).
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.writer.as_mut().map_or(Ok(()), RotatingWriter::flush)
    }

    /// Writes out and closes every file.
    pub fn finish(&mut self) -> Result<(), WriteError> {
        let mut result = self.writer.as_mut().map_or(Ok(()), RotatingWriter::finish);
        if let Some(split) = &mut self.split {
            for w in split.streams.drain().map(|(_, w)| w).chain(split.untunnelled.take()) {
                let done = w.finish();
                result = result.and(done);
            }
        }
        result
    }

    /// Files opened, frames lost to failed writes and their bytes.
    pub fn losses(&self) -> (u32, u64, u64) {
        self.writer.as_ref().map_or((0, 0, 0), |w| (w.files(), w.frames().1, w.lost_bytes()))
    }
}

/// A sink that takes frames one at a time and never fails the pipeline: what it cannot take
/// it counts. It has a part for each worker (one, when its frames must leave in the order
/// delivered), which the worker's frames go to.
pub struct FrameSink {
    parts: Vec<Part>,
}

/// One worker's part of a sink. Live, with several workers, the worker hands it frames while
/// it holds the job's lock and has it send them (the system calls) after letting go
/// ([`Held::send`]), so that one worker's sending does not hold up the others' delivering.
type Part = Arc<Mutex<Box<dyn Outlet>>>;

/// What a part of a frame sink does: a TAP writer, a tool port's transmit ring, a tunnel's
/// socket.
trait Outlet: Send {
    /// Takes a frame given as a header and a body, captured at `ts` (sends it, or holds it).
    fn send(&mut self, head: &[u8], body: &[u8], ts: u64);
    /// Sends what it holds.
    fn flush(&mut self);
    /// At the end: sends what it holds and waits until it is gone.
    fn finish(&mut self) {
        self.flush();
    }
    /// Its name in the summary and its counts (frames, bytes, too big, refused), and the
    /// times this part was opened again.
    fn counts(&self) -> (String, [u64; 4], u64);
}

impl Outlet for capture::tap::Tap {
    fn send(&mut self, head: &[u8], body: &[u8], _: u64) {
        capture::tap::Tap::send(self, head, body);
    }
    fn flush(&mut self) {
        capture::tap::Tap::flush(self);
    }
    fn counts(&self) -> (String, [u64; 4], u64) {
        let c = self.counts;
        (format!("tap {}", self.name()), [c.frames, c.bytes, c.too_big, c.errors], c.reopened)
    }
}

impl Outlet for capture::tool_port::ToolPort {
    fn send(&mut self, head: &[u8], body: &[u8], _: u64) {
        capture::tool_port::ToolPort::send(self, head, body);
    }
    fn flush(&mut self) {
        capture::tool_port::ToolPort::flush(self);
    }
    fn finish(&mut self) {
        capture::tool_port::ToolPort::finish(self);
    }
    fn counts(&self) -> (String, [u64; 4], u64) {
        let c = self.counts;
        (format!("out {}", self.name()), [c.frames, c.bytes, c.too_big, c.errors], c.reopened)
    }
}

impl Outlet for capture::encap::Sender {
    fn send(&mut self, head: &[u8], body: &[u8], ts: u64) {
        capture::encap::Sender::send(self, head, body, ts);
    }
    fn flush(&mut self) {
        capture::encap::Sender::flush(self);
    }
    fn counts(&self) -> (String, [u64; 4], u64) {
        let c = self.counts;
        (self.target().to_string(), [c.frames, c.bytes, 0, c.errors], 0)
    }
}

/// The parts of the sinks one worker sends from after letting go of the job's lock.
#[derive(Default)]
pub struct Held(Vec<Part>);

impl Held {
    /// No sink has a part for this worker.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sends what the worker handed these parts.
    pub fn send(&self) {
        self.0.iter().for_each(|p| lock(p).flush());
    }
}

fn lock(part: &Part) -> MutexGuard<'_, Box<dyn Outlet>> {
    part.lock().unwrap_or_else(|e| e.into_inner())
}

impl FrameSink {
    /// A TAP with a writer for each of `workers`; with more than one, each holds its frames
    /// until its worker sends them (one worker has no one to hold up, and holding costs a copy).
    pub fn tap(name: &str, workers: usize) -> std::io::Result<FrameSink> {
        let mut first = capture::tap::Tap::open(name)?;
        if workers > 1 {
            first.hold();
        }
        let mut parts: Vec<Box<dyn Outlet>> = vec![];
        for _ in 1..workers {
            parts.push(Box::new(first.another()?));
        }
        parts.insert(0, Box::new(first));
        Ok(FrameSink::of(parts))
    }

    /// A tool port with a transmit ring for each of `workers`; live, each ring is handed to
    /// the kernel when its worker sends, in larger batches than 64.
    pub fn port(name: &str, workers: usize, live: bool) -> std::io::Result<FrameSink> {
        let open = || -> std::io::Result<Box<dyn Outlet>> {
            let mut port = capture::tool_port::ToolPort::open(name)?;
            if live {
                port.hold();
            }
            Ok(Box::new(port))
        };
        Ok(FrameSink::of((0..workers).map(|_| open()).collect::<std::io::Result<_>>()?))
    }

    /// A tunnel to a remote tool with a socket for each of `workers` (with more than one,
    /// each holds its datagrams until its worker sends them) — or, when the tunnel numbers
    /// its datagrams (ERSPAN), one socket all workers hand theirs to, so that they leave in
    /// the order numbered.
    pub fn tunnel(target: capture::encap::Target, workers: usize) -> std::io::Result<FrameSink> {
        let mut parts: Vec<Box<dyn Outlet>> = vec![];
        for _ in 0..workers {
            let mut sender = capture::encap::Sender::open(target)?;
            if workers > 1 {
                sender.hold();
            }
            let sequenced = sender.is_sequenced();
            parts.push(Box::new(sender));
            if sequenced {
                break;
            }
        }
        Ok(FrameSink::of(parts))
    }

    fn of(parts: Vec<Box<dyn Outlet>>) -> FrameSink {
        FrameSink { parts: parts.into_iter().map(|p| Arc::new(Mutex::new(p))).collect() }
    }

    /// Adds worker `worker`'s part to those it sends from after letting go of the job's lock.
    pub fn held(&self, worker: usize, into: &mut Held) {
        into.0.push(self.parts[worker % self.parts.len()].clone());
    }

    /// Hands a frame given as a header and a body, captured at `ts`, to worker `worker`'s part.
    pub fn send(&mut self, worker: usize, head: &[u8], body: &[u8], ts: u64) {
        lock(&self.parts[worker % self.parts.len()]).send(head, body, ts);
    }

    /// At the end: sends what is held and waits (briefly) until a tool port's interface has
    /// sent what it was given.
    pub fn finish(&mut self) {
        self.parts.iter().for_each(|p| lock(p).finish());
    }

    /// What it took and refused (all parts together), and the times it was opened again: each
    /// part opens again after its interface comes back (a tool port's rings each, a TAP's
    /// writers each taking the new device), so the most any part did.
    pub fn counts(&self) -> SinkCounts {
        let (name, _, _) = lock(&self.parts[0]).counts();
        let ([frames, bytes, too_big, errors], reopened) = self.parts.iter().fold(([0; 4], 0), |sum, p| {
            let (_, c, back) = lock(p).counts();
            (std::array::from_fn(|i| sum.0[i] + c[i]), sum.1.max(back))
        });
        SinkCounts { name, frames, bytes, too_big, errors, reopened }
    }
}

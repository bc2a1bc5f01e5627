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
/// it counts.
pub enum FrameSink {
    /// A TAP interface: a writer for each worker.
    Tap(Vec<Part<capture::tap::Tap>>),
    /// A tunnel to a remote tool.
    Tunnel(capture::encap::Sender),
    /// A tool port (an interface written through a transmit ring): a ring for each worker.
    Port(Vec<Part<capture::tool_port::ToolPort>>),
}

/// One worker's part of a sink. Live, the worker hands it frames while it holds the job's
/// lock and has it send them (the system calls) after letting go ([`Held::send`]), so
/// that one worker's sending does not hold up the others' delivering; only that worker and
/// the job (under its lock) touch it, so its own lock is never waited for.
pub type Part<T> = Arc<Mutex<T>>;

/// The parts of the sinks one worker sends from after letting go of the job's lock.
#[derive(Clone, Default)]
pub struct Held {
    taps: Vec<Part<capture::tap::Tap>>,
    ports: Vec<Part<capture::tool_port::ToolPort>>,
}

impl Held {
    /// Sends what the worker handed these parts.
    pub fn send(&self) {
        self.taps.iter().for_each(|t| lock(t).flush());
        self.ports.iter().for_each(|p| lock(p).flush());
    }
}

fn lock<T>(part: &Mutex<T>) -> MutexGuard<'_, T> {
    part.lock().unwrap_or_else(|e| e.into_inner())
}

impl FrameSink {
    /// A TAP with a writer for each of `workers`; with more than one, each holds its frames
    /// until its worker sends them (see [`Part`]; one worker has no one to hold up, and
    /// holding costs a copy).
    pub fn tap(name: &str, workers: usize) -> std::io::Result<FrameSink> {
        let mut first = capture::tap::Tap::open(name)?;
        if workers > 1 {
            first.hold();
        }
        let mut parts = vec![];
        for _ in 1..workers {
            parts.push(Arc::new(Mutex::new(first.another()?)));
        }
        parts.insert(0, Arc::new(Mutex::new(first)));
        Ok(FrameSink::Tap(parts))
    }

    /// A tool port with a transmit ring for each of `workers`; live, each ring is handed to
    /// the kernel when its worker sends (see [`Part`]), in larger batches than 64.
    pub fn port(name: &str, workers: usize, live: bool) -> std::io::Result<FrameSink> {
        let open = || -> std::io::Result<Part<capture::tool_port::ToolPort>> {
            let mut port = capture::tool_port::ToolPort::open(name)?;
            if live {
                port.hold();
            }
            Ok(Arc::new(Mutex::new(port)))
        };
        Ok(FrameSink::Port((0..workers).map(|_| open()).collect::<std::io::Result<_>>()?))
    }

    /// Worker `worker`'s parts, which it sends from after letting go of the job's lock.
    pub fn held(&self, worker: usize, into: &mut Held) {
        match self {
            FrameSink::Tap(parts) => into.taps.extend(parts.get(worker).cloned()),
            FrameSink::Port(parts) => into.ports.extend(parts.get(worker).cloned()),
            FrameSink::Tunnel(_) => {}
        }
    }

    /// Sends (or, live, hands to worker `worker`'s part) a frame given as a header and a
    /// body, captured at `ts`.
    pub fn send(&mut self, worker: usize, head: &[u8], body: &[u8], ts: u64) {
        match self {
            FrameSink::Tap(parts) => lock(&parts[worker]).send(head, body),
            FrameSink::Tunnel(s) => s.send(head, body, ts),
            FrameSink::Port(parts) => lock(&parts[worker]).send(head, body),
        }
    }

    /// Hands on what the sink holds (a tool port's batch, a TAP's held frames): when the
    /// input goes quiet.
    pub fn flush(&mut self) {
        match self {
            FrameSink::Tap(parts) => parts.iter().for_each(|t| lock(t).flush()),
            FrameSink::Port(parts) => parts.iter().for_each(|p| lock(p).flush()),
            FrameSink::Tunnel(_) => {}
        }
    }

    /// At the end: sends what is held and waits (briefly) until a tool port's interface has
    /// sent what it was given.
    pub fn finish(&mut self) {
        match self {
            FrameSink::Tap(parts) => parts.iter().for_each(|t| lock(t).flush()),
            FrameSink::Port(parts) => parts.iter().for_each(|p| lock(p).finish()),
            FrameSink::Tunnel(_) => {}
        }
    }

    /// What it took and refused (all workers' parts together).
    pub fn counts(&self) -> SinkCounts {
        match self {
            FrameSink::Tap(parts) => summed(
                format!("tap {}", lock(&parts[0]).name()),
                parts.iter().map(|t| lock(t).counts).map(|c| [c.frames, c.bytes, c.too_big, c.errors]),
            ),
            FrameSink::Port(parts) => summed(
                format!("out {}", lock(&parts[0]).name()),
                parts.iter().map(|p| lock(p).counts).map(|c| [c.frames, c.bytes, c.too_big, c.errors]),
            ),
            FrameSink::Tunnel(s) => {
                let (c, t) = (s.counts, s.target());
                let name = t.to_string();
                SinkCounts { name, frames: c.frames, bytes: c.bytes, too_big: 0, errors: c.errors }
            }
        }
    }
}

/// A sink's counts: frames, bytes, too big and refused, summed over its parts.
fn summed(name: String, parts: impl Iterator<Item = [u64; 4]>) -> SinkCounts {
    let [frames, bytes, too_big, errors] =
        parts.fold([0; 4], |sum, c| std::array::from_fn(|i| sum[i] + c[i]));
    SinkCounts { name, frames, bytes, too_big, errors }
}

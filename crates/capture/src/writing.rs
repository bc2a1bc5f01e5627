//! Who writes a capture writer's gathered buffers out: the thread that gathers them (the
//! default); a thread of the writer's own, so that reading overlaps the system's copying (an
//! input read as fast as it can be: `decap -r`); or, for live pipelines whose workers gather
//! under one lock, whichever worker next calls [`WriteQueue::write_waiting`] once it has let
//! go of that lock, so that one worker's write does not hold up the others' delivering.
//! Whoever writes, a file's buffers are written in the order they were gathered, and what each
//! write did comes back to the writer to be counted.
use crate::compression::Compression;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

/// Bytes gathered before they are written out.
pub(crate) const BUFFER: usize = 1 << 20;
/// The frame length of a record that holds no frame.
pub(crate) const NOT_A_FRAME: u32 = u32::MAX;
/// Buffers a queued file lets wait before the thread gathering writes them itself.
const MAX_WAITING: usize = 4;

/// Who writes a capture writer's buffers out.
#[derive(Clone, Default)]
pub enum Writing {
    /// The thread that gathers them, when one is full.
    #[default]
    Here,
    /// A thread of the writer's own (at most two buffers in flight while a third is gathered).
    Behind,
    /// Whichever thread calls [`WriteQueue::write_waiting`] on this queue next; past
    /// a few buffers waiting, the gathering thread.
    Queued(WriteQueue),
}

/// Where the bytes go: a file (which a failed write can cut back to its last whole record)
/// or any other byte sink.
pub(crate) enum Out {
    File(File),
    Other(Box<dyn Write + Send>),
}

impl Out {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Out::File(f) => f.write(b),
            Out::Other(w) => w.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::File(f) => f.flush(),
            Out::Other(w) => w.flush(),
        }
    }
}

/// The file (or other byte sink) and what writing to it needs.
pub(crate) struct Output {
    out: Out,
    /// Each buffer is written as one compressed member of this format.
    pub(crate) compression: Option<Compression>,
    /// The compressed buffer.
    packed: Vec<u8>,
    /// The file's length (after compression), where a failed write cuts it back to.
    file_len: u64,
    /// A write failed: nothing more is written.
    failed: bool,
}

/// What writing one buffer (or flushing) did: frames now in the file, and a failure with the
/// frames and bytes it lost.
pub(crate) struct Written {
    pub(crate) frames: u64,
    pub(crate) error: Option<(io::Error, u64, u64)>,
}

impl Written {
    /// What a flush did.
    fn flushed(r: io::Result<()>) -> Written {
        Written { frames: 0, error: r.err().map(|e| (e, 0, 0)) }
    }
}

/// The frames of a buffer's records, and their bytes.
fn frames_in(ends: &[(u32, u32)]) -> (u64, u64) {
    let f = ends.iter().filter(|(_, len)| *len != NOT_A_FRAME);
    (f.clone().count() as u64, f.map(|(_, len)| u64::from(*len)).sum::<u64>())
}

impl Output {
    /// Writes to `out`, uncompressed.
    pub(crate) fn new(out: Out) -> Output {
        Output { out, compression: None, packed: Vec::new(), file_len: 0, failed: false }
    }

    /// Writes `buf` (records ending at `ends`) out, compressed into one member when asked.
    /// When the system refuses part of it, the file is cut back to the last whole record (of
    /// a compressed file: to the end of the last whole member) and the frames after it are
    /// lost; after a failure every buffer is refused, its frames lost.
    fn write_buffer(&mut self, buf: &[u8], ends: &[(u32, u32)]) -> Written {
        let (frames_buffered, bytes_buffered) = frames_in(ends);
        if self.failed {
            let error = io::Error::other("an earlier write failed");
            return Written { frames: 0, error: Some((error, frames_buffered, bytes_buffered)) };
        }
        let mut error = None;
        let out: &[u8] = match self.compression {
            None => buf,
            Some(c) => {
                self.packed.clear();
                if let Err(e) = c.pack(buf, &mut self.packed) {
                    self.packed.clear();
                    error = Some(e);
                }
                &self.packed
            }
        };
        let mut done = 0;
        while error.is_none() && done < out.len() {
            match self.out.write(&out[done..]) {
                Ok(0) => error = Some(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => error = Some(e),
            }
        }
        let Some(e) = error else {
            self.file_len += done as u64;
            return Written { frames: frames_buffered, error: None };
        };
        // What reached the file whole: records of a plain file; nothing of a part-written member.
        let (whole, keep) = match self.compression {
            None => {
                let whole = ends.partition_point(|(end, _)| *end as usize <= done);
                (whole, whole.checked_sub(1).map_or(0, |i| ends[i].0 as u64))
            }
            Some(_) => (0, 0),
        };
        let (kept_frames, kept_bytes) = frames_in(&ends[..whole]);
        if let Out::File(f) = &mut self.out {
            // A record or member cut in the middle would make the file unreadable past it.
            let _ = f.set_len(self.file_len + keep);
        }
        self.file_len += keep;
        self.failed = true;
        Written {
            frames: kept_frames,
            error: Some((e, frames_buffered - kept_frames, bytes_buffered - kept_bytes)),
        }
    }

    /// Writes `buf` and `ends` out and empties them for reuse.
    fn write_and_clear(&mut self, (buf, ends): &mut Buffers) -> Written {
        let w = self.write_buffer(buf, ends);
        buf.clear();
        ends.clear();
        w
    }
}

/// A buffer of records and where each ends.
pub(crate) type Buffers = (Vec<u8>, Vec<(u32, u32)>);

/// An empty buffer, of the size gathered.
pub(crate) fn new_buffers() -> Buffers {
    (Vec::with_capacity(BUFFER + 65_536), Vec::with_capacity(4096))
}

/// Where a writer's gathered buffers go.
pub(crate) enum Sink {
    /// Written by the thread that gathers them.
    Here(Output),
    /// Written by a thread of their own.
    Behind(Behind),
    /// Written by whichever thread takes them from a [`WriteQueue`].
    Queued(Queued),
    /// Between two of these, for an instant.
    Moving,
}

impl Sink {
    /// From now on, buffers are written as `how` says (only a sink written here changes).
    pub(crate) fn change(&mut self, how: &Writing) {
        *self = match (std::mem::replace(self, Sink::Moving), how) {
            (Sink::Here(output), Writing::Behind) => Sink::Behind(Behind::start(output)),
            (Sink::Here(output), Writing::Queued(queue)) => Sink::Queued(Queued::new(output, queue.clone())),
            (sink, _) => sink,
        };
    }

    /// Writes the gathered `buffers` out or hands them on, leaving them empty; what was
    /// reported meanwhile.
    pub(crate) fn write(&mut self, buffers: &mut Buffers) -> Vec<Written> {
        match self {
            Sink::Here(o) => vec![o.write_and_clear(buffers)],
            Sink::Behind(b) => b.hand(buffers),
            Sink::Queued(q) => q.hand(buffers),
            Sink::Moving => Vec::new(),
        }
    }

    /// Waits until every buffer handed on is written, then flushes the output.
    pub(crate) fn flush(&mut self) -> Vec<Written> {
        match self {
            Sink::Here(o) => vec![Written::flushed(o.out.flush())],
            Sink::Behind(b) => b.flush(),
            Sink::Queued(q) => q.flush(),
            Sink::Moving => Vec::new(),
        }
    }

    /// Waits until every buffer handed on is written (after a failure: so that the counts
    /// are final); what was reported.
    pub(crate) fn drain(&mut self) -> Vec<Written> {
        match self {
            Sink::Behind(b) => b.drain(),
            Sink::Queued(q) => q.drain(),
            Sink::Here(_) | Sink::Moving => Vec::new(),
        }
    }
}

/// A buffer to write; or, without one, a flush.
type Task = Option<Buffers>;

/// Buffers being written on a thread of their own: at most two in flight while a third is
/// gathered.
pub(crate) struct Behind {
    tasks: Option<SyncSender<Task>>,
    done: Receiver<(Written, Task)>,
    /// Empty buffers to gather into.
    spare: Vec<Buffers>,
    /// Tasks sent and not reported yet.
    in_flight: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Behind {
    fn start(mut output: Output) -> Behind {
        let (tasks, take) = std::sync::mpsc::sync_channel::<Task>(4);
        let (report, done) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("write".into())
            .spawn(move || {
                for task in take {
                    let result = match task {
                        Some(mut buffers) => (output.write_and_clear(&mut buffers), Some(buffers)),
                        None => (Written::flushed(output.out.flush()), None),
                    };
                    if report.send(result).is_err() {
                        break;
                    }
                }
                let _ = output.out.flush();
            })
            .ok();
        let spare = (0..2).map(|_| new_buffers()).collect();
        Behind { tasks: Some(tasks), done, spare, in_flight: 0, thread }
    }

    /// One report of the thread (waiting for it), its buffers kept for reuse.
    fn receive(&mut self) -> Written {
        match self.done.recv() {
            Ok(r) => self.take_in(r),
            Err(_) => {
                // The thread is gone (it could not start, or panicked): what it held is lost.
                self.in_flight = 0;
                let error = io::Error::other("the writing thread stopped");
                Written { frames: 0, error: Some((error, 0, 0)) }
            }
        }
    }

    /// Takes in one report of the thread, its buffers kept for reuse.
    fn take_in(&mut self, (written, buffers): (Written, Task)) -> Written {
        self.in_flight -= 1;
        self.spare.extend(buffers);
        written
    }

    /// Sends the gathered `buffers` to be written, leaving empty ones in their place
    /// (waiting for one when two are in flight); returns what was reported meanwhile.
    fn hand(&mut self, buffers: &mut Buffers) -> Vec<Written> {
        let mut done = Vec::new();
        while self.spare.is_empty() && self.in_flight > 0 {
            done.push(self.receive());
        }
        let mut full = self.spare.pop().unwrap_or_default();
        std::mem::swap(buffers, &mut full);
        let (frames, bytes) = frames_in(&full.1);
        match self.tasks.as_ref().map(|t| t.send(Some(full))) {
            Some(Ok(())) => self.in_flight += 1,
            _ => {
                let error = io::Error::other("the writing thread stopped");
                done.push(Written { frames: 0, error: Some((error, frames, bytes)) });
            }
        }
        while let Ok(r) = self.done.try_recv() {
            let w = self.take_in(r);
            done.push(w);
        }
        done
    }

    /// Waits until everything sent is written; what was reported.
    fn drain(&mut self) -> Vec<Written> {
        let mut done = Vec::new();
        while self.in_flight > 0 {
            done.push(self.receive());
        }
        done
    }

    /// Waits until everything sent is written, then flushes the output.
    fn flush(&mut self) -> Vec<Written> {
        if let Some(t) = &self.tasks {
            if t.send(None).is_ok() {
                self.in_flight += 1;
            }
        }
        self.drain()
    }
}

impl Drop for Behind {
    fn drop(&mut self) {
        self.drain();
        // Closing the channel ends the thread.
        self.tasks = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Locks `m`; a thread that panicked holding it left nothing half-done that matters here.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A file whose buffers wait, in order, for whichever thread writes next.
pub(crate) struct QueuedFile {
    output: Mutex<Output>,
    waiting: Mutex<VecDeque<Buffers>>,
    /// What each write did, and its buffers emptied for reuse.
    reports: Mutex<Vec<(Written, Buffers)>>,
    /// It is in its queue's list (at most once).
    listed: AtomicBool,
}

impl QueuedFile {
    /// Writes every buffer waiting, in order, with `output` held (so no other thread takes one
    /// in between).
    fn write_waiting(&self, output: &mut Output) {
        loop {
            let next = lock(&self.waiting).pop_front();
            let Some(mut buffers) = next else { return };
            let w = output.write_and_clear(&mut buffers);
            lock(&self.reports).push((w, buffers));
        }
    }
}

/// The writer's side of a queued file.
pub(crate) struct Queued {
    file: Arc<QueuedFile>,
    queue: WriteQueue,
    /// Empty buffers to gather into.
    spare: Vec<Buffers>,
    /// Buffers handed on and not reported yet.
    in_flight: usize,
}

impl Queued {
    fn new(output: Output, queue: WriteQueue) -> Queued {
        let file = QueuedFile {
            output: Mutex::new(output),
            waiting: Mutex::new(VecDeque::with_capacity(MAX_WAITING + 1)),
            reports: Mutex::new(Vec::with_capacity(MAX_WAITING + 1)),
            listed: AtomicBool::new(false),
        };
        Queued { file: Arc::new(file), queue, spare: Vec::new(), in_flight: 0 }
    }

    /// Takes in what was reported, its buffers kept for reuse.
    fn take_reports(&mut self, done: &mut Vec<Written>) {
        for (w, buffers) in lock(&self.file.reports).drain(..) {
            self.in_flight -= 1;
            self.spare.push(buffers);
            done.push(w);
        }
    }

    /// Puts the gathered `buffers` in the queue, leaving empty ones in their place (writing
    /// what waits first, here, when too much does); returns what was reported meanwhile.
    fn hand(&mut self, buffers: &mut Buffers) -> Vec<Written> {
        let mut done = Vec::new();
        self.take_reports(&mut done);
        if self.in_flight >= MAX_WAITING {
            done.extend(self.drain());
        }
        let mut full = self.spare.pop().unwrap_or_else(new_buffers);
        std::mem::swap(buffers, &mut full);
        lock(&self.file.waiting).push_back(full);
        self.in_flight += 1;
        self.queue.list(&self.file);
        done
    }

    /// Writes what waits, here (waiting for a thread writing one to finish); what was reported.
    fn drain(&mut self) -> Vec<Written> {
        self.file.write_waiting(&mut lock(&self.file.output));
        let mut done = Vec::new();
        self.take_reports(&mut done);
        done
    }

    /// Writes what waits, here, then flushes the output.
    fn flush(&mut self) -> Vec<Written> {
        let mut output = lock(&self.file.output);
        self.file.write_waiting(&mut output);
        let flushed = Written::flushed(output.out.flush());
        drop(output);
        let mut done = Vec::new();
        self.take_reports(&mut done);
        done.push(flushed);
        done
    }
}

/// Files whose buffers wait to be written, shared by the workers of a live pipeline; each
/// calls [`WriteQueue::write_waiting`] after letting go of the lock it gathers under.
#[derive(Clone, Default)]
pub struct WriteQueue(Arc<Mutex<Vec<Arc<QueuedFile>>>>);

impl WriteQueue {
    /// Lists `file` as having buffers waiting, unless it is listed already.
    fn list(&self, file: &Arc<QueuedFile>) {
        if !file.listed.swap(true, Ordering::AcqRel) {
            lock(&self.0).push(file.clone());
        }
    }

    /// Writes out every buffer waiting, each file's in the order gathered. A file another
    /// thread is writing is left to it, and looked at again on the next call.
    pub fn write_waiting(&self) {
        loop {
            let next = lock(&self.0).pop();
            let Some(file) = next else { return };
            file.listed.store(false, Ordering::Release);
            // (A statement: the lock's guard goes before `file` does.)
            match file.output.try_lock() {
                Ok(mut output) => file.write_waiting(&mut output),
                Err(TryLockError::Poisoned(p)) => file.write_waiting(&mut p.into_inner()),
                Err(TryLockError::WouldBlock) => return self.list(&file),
            };
        }
    }
}

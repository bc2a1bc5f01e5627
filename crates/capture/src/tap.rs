//! A TAP interface as a sink: detunnel writes the stripped Ethernet frames into it, so that
//! tcpdump, Zeek or Suricata can listen on it as on any interface. A TAP detunnel creates
//! disappears when detunnel closes it; an existing (persistent) one is attached to.
//!
//! Each worker writes through a [`Tap`] of its own (see [`Tap::another`]): all share one
//! interface and one queue, each with its own descriptor; the kernel takes their writes side
//! by side (two workers wrote 1.93 times one worker's frames, so a queue per worker,
//! `IFF_MULTI_QUEUE`, was not needed). A worker
//! that delivers under a lock it shares with others holds its frames ([`Tap::hold`]) and
//! writes them ([`Tap::flush`]) after letting go, so that the system call per frame — what a
//! TAP costs — is not made while the others wait.
use crate::held::HeldFrames;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tun::AbstractDevice;

/// What a TAP sink did with the frames given to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapCounts {
    /// Frames written.
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Frames longer than the interface's MTU plus the Ethernet header: not written.
    pub too_big: u64,
    /// Frames the kernel refused (interface down, no reader buffer): not written.
    pub errors: u64,
    /// Times the interface was created again after it disappeared (by this writer or
    /// another) that this writer has written through since.
    pub reopened: u64,
}

/// The interface every writer of one TAP shares.
struct Shared {
    /// Counts the times it was created again: a writer whose descriptor is older takes a new
    /// one before it writes.
    generation: AtomicU64,
    device: Mutex<Device>,
}

/// The interface as last created.
struct Device {
    device: tun::Device,
    /// When it was last (re)created: a failing one is tried again a second later.
    opened: Instant,
    max_frame: usize,
}

/// One writer of a TAP interface.
pub struct Tap {
    name: String,
    shared: Arc<Shared>,
    /// This writer's own descriptor of the device, and the device's generation it belongs to.
    file: File,
    generation: u64,
    /// Largest frame written: MTU plus the 14-byte Ethernet header (and a VLAN tag's 4).
    max_frame: usize,
    /// Frames are held until [`Tap::flush`] instead of written at once.
    holding: bool,
    /// The frames held.
    held: HeldFrames,
    /// What was written and dropped.
    pub counts: TapCounts,
}

impl Tap {
    /// Creates (or attaches to) TAP interface `name` and brings it up.
    pub fn open(name: &str) -> io::Result<Tap> {
        let (device, max_frame) = create(name)?;
        let file = descriptor(&device)?;
        let device = Mutex::new(Device { device, opened: Instant::now(), max_frame });
        Ok(Tap::writer(name, Arc::new(Shared { generation: AtomicU64::new(0), device }), file, 0, max_frame))
    }

    /// Another writer of the same interface (for another thread), with its own counts.
    pub fn another(&self) -> io::Result<Tap> {
        let device = lock(&self.shared.device);
        let file = descriptor(&device.device)?;
        let generation = self.shared.generation.load(Ordering::Acquire);
        let t = Tap::writer(&self.name, self.shared.clone(), file, generation, device.max_frame);
        Ok(Tap { holding: self.holding, ..t })
    }

    fn writer(name: &str, shared: Arc<Shared>, file: File, generation: u64, max_frame: usize) -> Tap {
        Tap {
            name: name.to_string(),
            shared,
            file,
            generation,
            max_frame,
            holding: false,
            held: HeldFrames::default(),
            counts: TapCounts::default(),
        }
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// From now on frames are held until [`Tap::flush`] (or until a megabyte is held).
    pub fn hold(&mut self) {
        self.holding = true;
    }

    /// Writes one Ethernet frame given as a header and a body (or holds it, see
    /// [`Tap::hold`]); a frame too big for the interface or refused by the kernel is counted
    /// and dropped (the sink never blocks the packet path on an error).
    pub fn send(&mut self, head: &[u8], body: &[u8]) {
        if head.len() + body.len() > self.max_frame {
            self.counts.too_big += 1;
            return;
        }
        if !self.holding && head.is_empty() {
            self.write(body);
            return;
        }
        // Held, or a header to join to the body: into the held frames.
        if self.held.push(&[head, body], 0) || !self.holding {
            self.flush();
        }
    }

    /// Writes the frames held.
    pub fn flush(&mut self) {
        let mut held = std::mem::take(&mut self.held);
        held.send(|frame, _| self.write(frame));
        self.held = held;
    }

    /// Writes one frame whole (a TAP takes a frame in one write or not at all). One buffer:
    /// a TAP took a frame as two (`writev`) about 10% slower than whole.
    fn write(&mut self, frame: &[u8]) {
        // Another writer created the interface again: this one's descriptor is of the old one.
        if self.shared.generation.load(Ordering::Acquire) != self.generation {
            self.recover();
        }
        match self.file.write(frame) {
            Ok(n) if n == frame.len() => {
                self.counts.frames += 1;
                self.counts.bytes += frame.len() as u64;
            }
            _ => {
                self.counts.errors += 1;
                self.recover();
            }
        }
    }

    /// After a refused frame: when the interface no longer exists (someone deleted it), creates
    /// it again, at most once a second. A writer whose interface another writer created again
    /// (seen before it writes, or after a refused frame) takes a descriptor of the new one.
    fn recover(&mut self) {
        let mut device = lock(&self.shared.device);
        let mut generation = self.shared.generation.load(Ordering::Acquire);
        if generation == self.generation {
            let gone = !std::path::Path::new("/sys/class/net").join(&self.name).exists();
            if !gone || device.opened.elapsed() < Duration::from_secs(1) {
                return;
            }
            device.opened = Instant::now();
            let Ok((fresh, max_frame)) = create(&self.name) else {
                return;
            };
            device.device = fresh;
            device.max_frame = max_frame;
            generation += 1;
            self.shared.generation.store(generation, Ordering::Release);
        }
        if let Ok(file) = descriptor(&device.device) {
            self.counts.reopened += generation - self.generation;
            (self.file, self.generation, self.max_frame) = (file, generation, device.max_frame);
        }
    }
}

fn lock(device: &Mutex<Device>) -> std::sync::MutexGuard<'_, Device> {
    device.lock().unwrap_or_else(|e| e.into_inner())
}

/// A descriptor of its own for the device's open file (a duplicate).
#[allow(unsafe_code)]
fn descriptor(device: &tun::Device) -> io::Result<File> {
    // SAFETY: the device's descriptor is open while `device` lives, which outlasts this call;
    // the borrow only serves to duplicate it.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(device.as_raw_fd()) };
    Ok(File::from(fd.try_clone_to_owned()?))
}

/// Creates (or attaches to) TAP `name`, brings it up; returns it and its largest frame.
fn create(name: &str) -> io::Result<(tun::Device, usize)> {
    let mut config = tun::Configuration::default();
    config.tun_name(name).layer(tun::Layer::L2).up();
    let device = tun::create(&config).map_err(|e| io::Error::other(format!("TAP {name}: {e}")))?;
    let mtu = device.mtu().map_err(|e| io::Error::other(format!("TAP {name}: {e}")))?;
    Ok((device, usize::from(mtu) + 18))
}

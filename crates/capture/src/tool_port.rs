//! A tool port: an interface detunnel writes the stripped frames onto, as a hardware broker
//! forwards to the physical ports its tools listen on. Frames are copied into an `AF_PACKET`
//! `TPACKET_V2` transmit ring (with `PACKET_QDISC_BYPASS`, which skips the queueing
//! discipline a monitoring port does not need) and handed to the kernel in batches with one
//! `send`. Each frame goes with a `virtio_net_hdr` (`PACKET_VNET_HDR`) whose header length is
//! the whole frame: the kernel then copies it into the socket buffer, rather than pointing at
//! the ring's pages — which a veth (or anything that forwards the buffer) would have to copy
//! into freshly allocated, zeroed pages, a page per frame. What the interface refuses — frames too big for its MTU, frames while it is down,
//! frames the ring had no room for — is counted, never waited for. An interface that goes down
//! and comes back is written to again; one that was deleted and created again is reopened.
// The system calls and the ring shared with the kernel need `unsafe`; each block says why it
// is sound.
#![allow(unsafe_code)]

use crate::packet_socket::{self, ifindex, setsockopt};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

/// `TPACKET_V2` in `enum tpacket_versions`.
const TPACKET_V2: libc::c_int = 1;
/// Where a frame's bytes start in its slot: after `struct tpacket2_hdr`, aligned to 16.
const DATA_AT: usize = 32;
/// Length of `struct virtio_net_hdr`, before each frame when the socket has `PACKET_VNET_HDR`.
const VNET_HDR_LEN: usize = 10;
/// Frames per batch handed to the kernel.
const BATCH: u32 = 64;
/// Ring size in bytes (the slot size follows from the interface's MTU).
const RING_BYTES: usize = 4 << 20;
/// Slot status values (`linux/if_packet.h`).
const TP_STATUS_AVAILABLE: u32 = 0;
const TP_STATUS_SEND_REQUEST: u32 = 1;
const TP_STATUS_SENDING: u32 = 2;
const TP_STATUS_WRONG_FORMAT: u32 = 4;

/// What a tool port did with the frames given to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounts {
    /// Frames handed to the interface.
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Frames longer than the interface's MTU plus the Ethernet header: not written.
    pub too_big: u64,
    /// Frames the interface refused (down, gone, a malformed frame) or the ring had no room for.
    pub errors: u64,
    /// Times the port was opened again (its interface went down and came back, or was
    /// deleted and created again).
    pub reopened: u64,
}

/// An open tool port.
pub struct ToolPort {
    name: String,
    ring: TxRing,
    /// Frames queued in the ring since the last hand-over, and their bytes.
    queued: (u32, u64),
    /// When the port was last (re)opened: a failing one is tried again a second later.
    opened: Instant,
    /// Wait for room in a full ring instead of counting the frame as refused.
    wait_for_room: bool,
    /// Frames are handed over only by [`ToolPort::flush`] (or when the ring is full), not
    /// every 64.
    holding: bool,
    /// What was written and refused.
    pub counts: PortCounts,
}

/// The transmit ring of one `AF_PACKET` socket bound to an interface.
struct TxRing {
    fd: OwnedFd,
    map: *mut u8,
    len: usize,
    slot_size: usize,
    slots: usize,
    next: usize,
    /// Largest frame: the MTU plus an Ethernet header and a VLAN tag.
    max_frame: usize,
    /// Each frame has a `virtio_net_hdr` before it (the kernel copies the frame whole).
    vnet: bool,
}

// SAFETY: the ring's memory is owned by this value alone (the kernel only reads slots it was
// handed), so it may move to another thread.
unsafe impl Send for TxRing {}

/// The interface's MTU, from sysfs.
fn mtu(name: &str) -> io::Result<usize> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/mtu"))?;
    text.trim().parse().map_err(|_| io::Error::other(format!("cannot read the MTU of {name}")))
}

impl TxRing {
    fn open(name: &str) -> io::Result<TxRing> {
        let ifindex = ifindex(name)?;
        let max_frame = mtu(name)? + 18;
        // Protocol 0: this socket sends and receives nothing.
        let fd = packet_socket::open(0)?;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &TPACKET_V2)?;
        // Before the ring is set up (the kernel refuses it after). Without it (older kernels)
        // frames go as the ring's pages.
        let vnet = setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VNET_HDR, &1 as &libc::c_int).is_ok();
        // Older kernels lack it; the frames then go through the queueing discipline.
        let _ = setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &1 as &libc::c_int);
        let slot_size = (DATA_AT + VNET_HDR_LEN + max_frame).next_power_of_two().max(2048);
        let block = slot_size.max(1 << 16);
        let blocks = (RING_BYTES / block).max(1);
        let req = libc::tpacket_req {
            tp_block_size: block as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: slot_size as u32,
            tp_frame_nr: (block / slot_size * blocks) as u32,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_TX_RING, &req)?;
        let len = block * blocks;
        let map = packet_socket::map(&fd, len)?;
        let ring = TxRing { fd, map, len, slot_size, slots: len / slot_size, next: 0, max_frame, vnet };
        packet_socket::bind(&ring.fd, ifindex, 0)?;
        Ok(ring)
    }

    /// The status word of slot `i`, shared with the kernel.
    fn status(&self, i: usize) -> *mut u32 {
        // SAFETY: `i < slots`, so the slot lies inside the mapping; its header starts with
        // `tp_status`.
        unsafe { self.map.add(i * self.slot_size).cast::<u32>() }
    }

    /// True when the next slot is free (or holds a frame the kernel refused, which is ours
    /// again); false while the kernel has not sent it yet.
    fn has_room(&self) -> bool {
        // SAFETY: the status word is shared with the kernel: read volatile.
        let s = unsafe { ptr::read_volatile(self.status(self.next)) };
        s == TP_STATUS_AVAILABLE || s == TP_STATUS_WRONG_FORMAT
    }

    /// Copies the frame `head` then `body` into the next slot, which must have room, and marks
    /// it for sending.
    fn queue(&mut self, head: &[u8], body: &[u8]) {
        let status = self.status(self.next);
        let len = head.len() + body.len();
        let (at, vnet_len) = self.frame_at();
        // SAFETY: the slot is ours (available); the frame fits (checked by the caller against
        // `max_frame`, and `DATA_AT + VNET_HDR_LEN + max_frame <= slot_size`).
        unsafe {
            let slot = self.map.add(self.next * self.slot_size);
            if self.vnet {
                // virtio_net_hdr: no flags, no GSO; hdr_len (little-endian, as virtio 1.0 has
                // it on every host detunnel runs on) is the whole frame, copied into the
                // buffer's linear part.
                let mut h = [0u8; VNET_HDR_LEN];
                h[2..4].copy_from_slice(&(len as u16).to_le_bytes());
                ptr::copy_nonoverlapping(h.as_ptr(), slot.add(DATA_AT), VNET_HDR_LEN);
            }
            ptr::copy_nonoverlapping(head.as_ptr(), slot.add(at), head.len());
            ptr::copy_nonoverlapping(body.as_ptr(), slot.add(at + head.len()), body.len());
            // tp_len, then tp_snaplen, after tp_status: the frame with its virtio header.
            ptr::write_volatile(slot.add(4).cast::<u32>(), (vnet_len + len) as u32);
            ptr::write_volatile(slot.add(8).cast::<u32>(), (vnet_len + len) as u32);
            // The frame is written before the kernel may see the slot as its own.
            fence(Ordering::Release);
            ptr::write_volatile(status, TP_STATUS_SEND_REQUEST);
        }
        self.next = (self.next + 1) % self.slots;
    }

    /// Where a frame starts in its slot, and the length of the virtio header before it.
    fn frame_at(&self) -> (usize, usize) {
        if self.vnet {
            (DATA_AT + VNET_HDR_LEN, VNET_HDR_LEN)
        } else {
            (DATA_AT, 0)
        }
    }

    /// Hands every queued slot to the kernel, without waiting.
    fn hand_over(&self) -> io::Result<()> {
        // SAFETY: a send without a buffer tells the kernel to send the ring's queued slots.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), ptr::null(), 0, libc::MSG_DONTWAIT) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Copies the `n` frames queued last (not handed over) into `fresh`, in order; how many
    /// and their bytes.
    fn move_queued(&self, n: u32, fresh: &mut TxRing) -> (u64, u64) {
        let (mut moved, mut bytes) = (0, 0);
        for k in 0..n as usize {
            let i = (self.next + self.slots - n as usize + k) % self.slots;
            // SAFETY: slot `i` is one we queued and the kernel did not take (its hand-over
            // failed); its length was written by `queue` and fits the slot.
            let (at, vnet_len) = self.frame_at();
            let frame = unsafe {
                let slot = self.map.add(i * self.slot_size);
                let len = (ptr::read_volatile(slot.add(4).cast::<u32>()) as usize).saturating_sub(vnet_len);
                std::slice::from_raw_parts(slot.add(at), len.min(self.slot_size - at))
            };
            if frame.len() <= fresh.max_frame && fresh.has_room() {
                fresh.queue(frame, &[]);
                moved += 1;
                bytes += frame.len() as u64;
            }
        }
        (moved, bytes)
    }

    /// Takes back the slots the kernel has not sent (its interface is down or gone); how many.
    /// They are the last ones queued, and the kernel goes on from the first of them: the next
    /// frame is queued there.
    fn reclaim(&mut self) -> u64 {
        let (mut unsent, mut refused) = (0, 0);
        for i in 0..self.slots {
            let status = self.status(i);
            // SAFETY: shared status word: volatile; a slot the kernel is not sending is ours.
            unsafe {
                match ptr::read_volatile(status) {
                    TP_STATUS_SEND_REQUEST => unsent += 1,
                    // Refused as malformed: the kernel went past it.
                    TP_STATUS_WRONG_FORMAT => refused += 1,
                    _ => continue,
                }
                ptr::write_volatile(status, TP_STATUS_AVAILABLE);
            }
        }
        self.next = (self.next + self.slots - unsent % self.slots) % self.slots;
        (unsent + refused) as u64
    }

    /// True while the kernel still holds queued or sending slots.
    fn busy(&self) -> bool {
        (0..self.slots).any(|i| {
            // SAFETY: shared status word, read volatile.
            let s = unsafe { ptr::read_volatile(self.status(i)) };
            s == TP_STATUS_SEND_REQUEST || s == TP_STATUS_SENDING
        })
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `open`, which nothing else uses.
        unsafe {
            libc::munmap(self.map.cast(), self.len);
        }
    }
}

impl ToolPort {
    /// Opens a tool port on interface `name` (which must exist; detunnel does not bring it up).
    pub fn open(name: &str) -> io::Result<ToolPort> {
        Ok(ToolPort {
            name: name.to_string(),
            ring: TxRing::open(name)?,
            queued: (0, 0),
            opened: Instant::now(),
            wait_for_room: false,
            holding: false,
            counts: PortCounts::default(),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes a full ring wait (a millisecond at a time) until the interface has sent enough
    /// to take the next frame, as a traffic generator wants; a broker's port never waits.
    pub fn wait_for_room(&mut self) {
        self.wait_for_room = true;
    }

    /// From now on the frames queued go to the interface when [`ToolPort::flush`] is called
    /// (or the ring is full), not every 64: for a worker that queues them while holding a lock
    /// shared with others, and hands them over (the system call that costs) after letting go.
    pub fn hold(&mut self) {
        self.holding = true;
    }

    /// Queues one Ethernet frame given as a header and a body; every 64 frames the queue goes
    /// to the interface (unless held, see [`ToolPort::hold`]). A frame too big for the
    /// interface, or with no room in the ring, is counted and dropped: the packet path never
    /// waits for a port.
    pub fn send(&mut self, head: &[u8], body: &[u8]) {
        let len = head.len() + body.len();
        if len > self.ring.max_frame {
            self.counts.too_big += 1;
            return;
        }
        if !self.ring.has_room() {
            // The ring is full: hand it over and look once more.
            self.flush();
            let until = Instant::now() + Duration::from_secs(1);
            while self.wait_for_room && !self.ring.has_room() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(1));
            }
            if !self.ring.has_room() {
                self.counts.errors += 1;
                return;
            }
        }
        self.ring.queue(head, body);
        self.queued.0 += 1;
        self.queued.1 += len as u64;
        if self.queued.0 >= BATCH && !self.holding {
            self.flush();
        }
    }

    /// Hands the queued frames to the interface (call it when the input goes quiet and at the
    /// end). Frames an interface that is down or gone could not take are counted as errors.
    pub fn flush(&mut self) {
        if self.queued.0 == 0 {
            return;
        }
        let (n, bytes) = std::mem::take(&mut self.queued);
        if self.ring.hand_over().is_ok() {
            self.counts.frames += u64::from(n);
            self.counts.bytes += bytes;
            return;
        }
        // Refused: the interface is down, or its socket went stale (the interface went down
        // and came back, or was deleted and created again). When it is up, a fresh socket
        // takes the frames; else they are counted as refused.
        if let Some(mut fresh) = self.reopen() {
            let (moved, moved_bytes) = self.ring.move_queued(n, &mut fresh);
            self.ring = fresh;
            self.counts.reopened += 1;
            if self.ring.hand_over().is_ok() {
                self.counts.frames += moved;
                self.counts.bytes += moved_bytes;
                self.counts.errors += u64::from(n) - moved;
                return;
            }
        }
        self.counts.errors += self.ring.reclaim();
    }

    /// Waits (up to a second) until the kernel has sent everything handed to it: for the end
    /// of a run, so that nothing counted as written is still in the ring when the process exits.
    pub fn finish(&mut self) {
        self.flush();
        let until = Instant::now() + Duration::from_secs(1);
        while self.ring.busy() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        // What the kernel did not send by then (the interface went down) is not written.
        let left = self.ring.reclaim();
        self.counts.errors += left;
        self.counts.frames = self.counts.frames.saturating_sub(left);
    }

    /// A fresh transmit ring, when the interface is up (at most one try a second).
    fn reopen(&mut self) -> Option<TxRing> {
        if self.opened.elapsed() < Duration::from_secs(1) {
            return None;
        }
        self.opened = Instant::now();
        let flags = std::fs::read_to_string(format!("/sys/class/net/{}/flags", self.name)).ok()?;
        let up =
            u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).ok()? & libc::IFF_UP as u32 != 0;
        up.then(|| TxRing::open(&self.name).ok()).flatten()
    }
}

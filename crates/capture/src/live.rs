//! Live capture from an interface: an `AF_PACKET` socket with a `TPACKET_V3` memory-mapped
//! receive ring (the kernel fills blocks of frames, detunnel reads them in place and hands the
//! block back), optionally a member of a `PACKET_FANOUT` group so several workers share an
//! interface, each conversation (both ways, and inside its tunnel) on one worker (`fanout`),
//! and promiscuous mode on request.
//! The kernel's own counters (frames seen and dropped for a full ring) are read with
//! `PACKET_STATISTICS`.
// The system calls and the shared ring need `unsafe`; each block says why it is sound.
#![allow(unsafe_code)]

use crate::packet_socket::{self, getsockopt, ifindex, setsockopt};
use crate::reader::Frame;
use dissect::LinkType;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{fence, Ordering};

/// Ring geometry: blocks of 1 MiB (as many as the ring's size in MiB), retired to user space
/// after 10 ms.
const BLOCK_SIZE: u32 = 1 << 20;
const FRAME_SIZE: u32 = 2048;
const RETIRE_MS: u32 = 10;
/// Offset of `hdr.bh1.block_status` in a block descriptor (after `version`, `offset_to_priv`).
const STATUS_AT: usize = 8;
/// `TPACKET_V3` in `enum tpacket_versions`.
const TPACKET_V3: libc::c_int = 2;

/// Kernel counters of a ring (or an AF_XDP socket) since the last read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Frames that passed the socket's filter.
    pub packets: u64,
    /// Frames dropped because the ring was full (or, with AF_XDP, a frame was too long).
    pub drops: u64,
}

/// A `TPACKET_V3` receive ring on one interface.
pub struct Ring {
    fd: OwnedFd,
    /// The interface's name and the index it had when the ring was bound.
    name: String,
    ifindex: u32,
    map: *mut u8,
    len: usize,
    /// Blocks in the ring.
    blocks: u32,
    current: u32,
    record: u64,
}

// SAFETY: the ring's memory is owned by this value alone (the kernel only writes blocks it
// owns), so it may move to another thread.
unsafe impl Send for Ring {}

impl Ring {
    /// Opens a ring of `mib` MiB (within [`crate::BUFFER_MIB`]) on interface `name`; joins fanout
    /// group `fanout` (spreading conversations) when given; puts the interface in promiscuous
    /// mode when `promiscuous` (for as long as the socket is open).
    pub fn open(name: &str, mib: u32, fanout: Option<u16>, promiscuous: bool) -> io::Result<Ring> {
        let sizes = crate::BUFFER_MIB;
        if !sizes.contains(&mib) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a ring of {mib} MiB: {} to {} MiB", sizes.start(), sizes.end()),
            ));
        }
        let blocks = mib * ((1 << 20) / BLOCK_SIZE);
        let ifindex = ifindex(name)?;
        let proto = (libc::ETH_P_ALL as u16).to_be();
        let fd = packet_socket::open(proto)?;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &TPACKET_V3)?;
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_SIZE,
            tp_block_nr: blocks,
            tp_frame_size: FRAME_SIZE,
            tp_frame_nr: BLOCK_SIZE / FRAME_SIZE * blocks,
            tp_retire_blk_tov: RETIRE_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)?;
        let len = blocks as usize * BLOCK_SIZE as usize;
        let map = packet_socket::map(&fd, len)?;
        let ring = Ring { fd, name: name.to_string(), ifindex, map, len, blocks, current: 0, record: 0 };
        packet_socket::bind(&ring.fd, ifindex, proto)?;
        if promiscuous {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex as i32,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(&ring.fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)?;
        }
        if let Some(group) = fanout {
            crate::fanout::join(&ring.fd, group)?;
        }
        Ok(ring)
    }

    fn block(&self, i: u32) -> *mut u8 {
        // SAFETY: `i < self.blocks`, so the offset stays inside the mapping.
        unsafe { self.map.add(i as usize * BLOCK_SIZE as usize) }
    }

    /// True when the next block belongs to user space (the kernel handed it over).
    fn ready(&self) -> bool {
        // SAFETY: the block descriptor starts every block; its status word is shared with the
        // kernel, so it is read volatile.
        let status = unsafe { ptr::read_volatile(self.block(self.current).add(STATUS_AT).cast::<u32>()) };
        status & libc::TP_STATUS_USER != 0
    }

    /// Waits up to `timeout_ms` for the next block (a signal may end the wait early); then
    /// [`Ring::next_block`] says whether it came. An interface that went down is waited for
    /// (it comes back up on its own); one that is gone — deleted, or replaced by another of the
    /// same name — is an error of kind `NotFound`: this ring will see nothing more.
    pub fn wait(&self, timeout_ms: i32) -> io::Result<()> {
        if self.ready() {
            return Ok(());
        }
        let mut pfd =
            libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN | libc::POLLERR, revents: 0 };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let failed = r > 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0;
        if failed {
            // The interface went down or away: the socket holds the error (ENETDOWN) until it
            // is read, and every poll returns at once meanwhile — a worker spinning on a core.
            self.clear_error();
        }
        // Checked on quiet waits too: an interface deleted while down reports nothing more.
        if (failed || r == 0) && ifindex(&self.name).ok() != Some(self.ifindex) {
            let what = format!("interface {} disappeared", self.name);
            return Err(io::Error::new(io::ErrorKind::NotFound, what));
        }
        Ok(())
    }

    /// Reads (and so clears) the socket's pending error; which one it was does not matter.
    fn clear_error(&self) {
        let mut err: libc::c_int = 0;
        let _ = getsockopt(&self.fd, libc::SOL_SOCKET, libc::SO_ERROR, &mut err);
    }

    /// The next block of frames, if the kernel has handed it over; it goes back to the kernel
    /// when the returned value is dropped.
    pub fn next_block(&mut self) -> Option<Block<'_>> {
        if !self.ready() {
            return None;
        }
        let base = self.block(self.current);
        fence(Ordering::Acquire);
        // SAFETY: the block belongs to user space until its status is set back; the header
        // fields are read within the block.
        let (count, first) = unsafe {
            let desc = base.cast::<libc::tpacket_block_desc>();
            let h = (*desc).hdr.bh1;
            (h.num_pkts as usize, h.offset_to_first_pkt as usize)
        };
        Some(Block { ring: self, base, count, first })
    }

    /// The kernel's counters since the last call.
    pub fn stats(&self) -> io::Result<RingStats> {
        let mut s = libc::tpacket_stats_v3 { tp_packets: 0, tp_drops: 0, tp_freeze_q_cnt: 0 };
        getsockopt(&self.fd, libc::SOL_PACKET, libc::PACKET_STATISTICS, &mut s)?;
        Ok(RingStats { packets: u64::from(s.tp_packets), drops: u64::from(s.tp_drops) })
    }
}

/// A block of frames the kernel handed to user space; handed back when dropped.
pub struct Block<'r> {
    ring: &'r mut Ring,
    base: *mut u8,
    count: usize,
    first: usize,
}

impl Block<'_> {
    /// The frames of the block, in order; they can be walked more than once while the block
    /// is held.
    pub fn frames(&self) -> Frames<'_> {
        Frames {
            base: self.base,
            at: self.first,
            left: self.count,
            record: self.ring.record,
            block: PhantomData,
        }
    }
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        fence(Ordering::Release);
        // SAFETY: hands the block back: the status word is written volatile after every read
        // (no `Frames` can outlive the block).
        unsafe {
            ptr::write_volatile(self.base.add(STATUS_AT).cast::<u32>(), libc::TP_STATUS_KERNEL);
        }
        self.ring.current = (self.ring.current + 1) % self.ring.blocks;
        self.ring.record += self.count as u64;
    }
}

/// The frames of a [`Block`], borrowed from the ring's memory.
pub struct Frames<'b> {
    base: *const u8,
    at: usize,
    left: usize,
    record: u64,
    block: PhantomData<&'b [u8]>,
}

impl<'b> Iterator for Frames<'b> {
    type Item = Frame<'b>;

    fn next(&mut self) -> Option<Frame<'b>> {
        if self.left == 0 || self.at + std::mem::size_of::<libc::tpacket3_hdr>() > BLOCK_SIZE as usize {
            return None;
        }
        // SAFETY: `at` is inside the block (checked above), which user space holds while the
        // `Block` this borrows from lives; the kernel wrote a tpacket3_hdr there and the frame
        // bytes at `tp_mac` for `tp_snaplen` bytes, cut to the block's end.
        let (hdr, data) = unsafe {
            let hdr = ptr::read_unaligned(self.base.add(self.at).cast::<libc::tpacket3_hdr>());
            let start = (self.at + usize::from(hdr.tp_mac)).min(BLOCK_SIZE as usize);
            let len = (hdr.tp_snaplen as usize).min(BLOCK_SIZE as usize - start);
            (hdr, std::slice::from_raw_parts(self.base.add(start), len))
        };
        self.left -= 1;
        self.record += 1;
        // The last frame, or a broken offset, ends the walk.
        self.at =
            if hdr.tp_next_offset == 0 { BLOCK_SIZE as usize } else { self.at + hdr.tp_next_offset as usize };
        if self.left > 0 && self.at < BLOCK_SIZE as usize {
            // The next frame's header and first bytes, read while this one is worked on.
            let len = packet_socket::PREFETCHED.min(BLOCK_SIZE as usize - self.at);
            // SAFETY: `at..at + len` lies inside the block (cut above).
            packet_socket::prefetch(unsafe { std::slice::from_raw_parts(self.base.add(self.at), len) });
        }
        Some(Frame {
            data,
            orig_len: hdr.tp_len,
            ts_nanos: u64::from(hdr.tp_sec) * 1_000_000_000 + u64::from(hdr.tp_nsec),
            link: LinkType::ETHERNET,
            interface: 0,
            record: self.record,
        })
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `open`, once; the socket closes after.
        unsafe {
            libc::munmap(self.map.cast(), self.len);
        }
    }
}

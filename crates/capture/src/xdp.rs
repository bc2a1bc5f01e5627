//! Live capture through AF_XDP (`--xdp`): an XDP program on the interface (`xdp_program`)
//! hands the frames it picks to a socket per receive queue, whose frames arrive in memory
//! shared with user space (the UMEM), announced on a receive ring; detunnel reads them in
//! place and gives their buffers back on the fill ring. No socket buffer is made per frame
//! and no system call is made while frames keep coming. Drivers that can put frames straight
//! into that memory do (zero copy); others, veth among them, copy each frame once. The kernel
//! gives no receive time here: a batch's frames take the time it was read.
// The shared rings and memory need `unsafe`; each block says why it is sound.
#![allow(unsafe_code)]

use crate::live::RingStats;
use crate::packet_socket::{check, getsockopt, ifindex, map_at, prefetch, setsockopt, PREFETCHED};
use crate::reader::Frame;
use crate::xdp_program::Attached;
pub use crate::xdp_program::Pick;
use dissect::LinkType;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Each frame's buffer in the shared memory; the kernel keeps 256 bytes of it in front of the
/// frame, so frames up to 3,840 bytes are taken (longer ones are dropped, and counted).
const CHUNK: u32 = 4096;
/// Frames read per batch at most.
const BATCH: u32 = 1024;
/// How long a socket woken by a frame waits for more before it reads them: the kernel wakes
/// it for each frame that finds the ring empty, which at 400,000 frames a second cost about
/// 1 µs of CPU a frame (3.5 times a capture ring's). The ring holds every frame of that time
/// below 16 million frames a second (the default buffer); frames take the time they are read,
/// so up to this much late.
pub const GATHER: std::time::Duration = std::time::Duration::from_millis(1);
/// How many frames ahead of the one read the next is prefetched.
const AHEAD: u32 = 4;

/// The program on an interface, shared by the sockets of its queues.
#[derive(Clone)]
pub struct Program {
    attached: Arc<Attached>,
    ifindex: u32,
}

impl Program {
    /// Attaches a program picking `pick` to interface `name`, for sockets on `queues` queues.
    pub fn attach(name: &str, pick: Pick, queues: u32) -> io::Result<Program> {
        let ifindex = ifindex(name)?;
        Ok(Program { attached: Arc::new(Attached::attach(ifindex, pick, queues)?), ifindex })
    }

    /// True when interface `name` is the one the program was attached to (not one made again
    /// since with the same name).
    pub fn is_on(&self, name: &str) -> bool {
        ifindex(name).ok() == Some(self.ifindex)
    }
}

/// A ring shared with the kernel: a producer and a consumer index and a power of two of
/// entries.
struct Shared {
    map: *mut u8,
    len: usize,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    entries: *mut u8,
    mask: u32,
}

impl Shared {
    /// Maps the ring of `count` entries of `size` bytes at page offset `offset` of `fd`.
    fn map(
        fd: &OwnedFd,
        o: &libc::xdp_ring_offset,
        count: u32,
        size: usize,
        offset: u64,
    ) -> io::Result<Shared> {
        let len = o.desc as usize + count as usize * size;
        let map = map_at(Some(fd), len, offset)?;
        // SAFETY: the offsets the kernel gave lie inside the mapping; the indexes are
        // aligned 32-bit words the kernel also reads and writes, so they are used atomically.
        Ok(unsafe {
            Shared {
                map,
                len,
                producer: map.add(o.producer as usize).cast(),
                consumer: map.add(o.consumer as usize).cast(),
                entries: map.add(o.desc as usize),
                mask: count - 1,
            }
        })
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: inside the mapping, which lives as long as `self`.
        unsafe { &*self.producer }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { &*self.consumer }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `map`, once.
        unsafe {
            libc::munmap(self.map.cast(), self.len);
        }
    }
}

/// An AF_XDP socket on one queue of an interface, with its shared memory and rings.
pub struct XdpSocket {
    // Dropped in order: the rings and memory before the socket, the socket before the program.
    rx: Shared,
    fill: Shared,
    umem: *mut u8,
    umem_len: usize,
    fd: OwnedFd,
    _program: Program,
    /// The ring's next entry to read, and the fill ring's next to write.
    rx_next: u32,
    fill_next: u32,
    record: u64,
    /// Frames read (`record`) and the kernel's drops when the counts were last asked for.
    counted: u64,
    dropped: u64,
}

// SAFETY: the mappings are owned by this value alone (the kernel writes only the entries and
// buffers it owns), so it may move to another thread.
unsafe impl Send for XdpSocket {}

impl XdpSocket {
    /// Opens a socket on queue `queue` of the interface `program` is attached to, with `mib`
    /// MiB of frame buffers (within [`crate::BUFFER_MIB`]; rounded down to a power of two of
    /// frames), and has the program send that queue's frames to it.
    pub fn open(program: &Program, queue: u32, mib: u32) -> io::Result<XdpSocket> {
        let sizes = crate::BUFFER_MIB;
        if !sizes.contains(&mib) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a buffer of {mib} MiB: {} to {} MiB", sizes.start(), sizes.end()),
            ));
        }
        let frames = 1u32 << (63 - (u64::from(mib) * (1 << 20) / u64::from(CHUNK)).leading_zeros());
        // SAFETY: plain socket creation; the descriptor is owned right away.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        check(raw)?;
        // SAFETY: `raw` is a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let umem_len = frames as usize * CHUNK as usize;
        let umem = map_at(None, umem_len, 0)?;
        let unmap = |e: io::Error| {
            // SAFETY: unmaps the mapping just made, once, on the way out.
            unsafe { libc::munmap(umem.cast(), umem_len) };
            e
        };
        let reg = libc::xdp_umem_reg {
            addr: umem as u64,
            len: umem_len as u64,
            chunk_size: CHUNK,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        let rings = || -> io::Result<(Shared, Shared)> {
            setsockopt(&fd, libc::SOL_XDP, libc::XDP_UMEM_REG, &reg)?;
            setsockopt(&fd, libc::SOL_XDP, libc::XDP_UMEM_FILL_RING, &frames)?;
            // Required, though nothing is sent.
            setsockopt(&fd, libc::SOL_XDP, libc::XDP_UMEM_COMPLETION_RING, &64u32)?;
            setsockopt(&fd, libc::SOL_XDP, libc::XDP_RX_RING, &frames)?;
            // SAFETY: all zero is a valid xdp_mmap_offsets.
            let mut off: libc::xdp_mmap_offsets = unsafe { std::mem::zeroed() };
            getsockopt(&fd, libc::SOL_XDP, libc::XDP_MMAP_OFFSETS, &mut off)?;
            let rx = Shared::map(
                &fd,
                &off.rx,
                frames,
                std::mem::size_of::<libc::xdp_desc>(),
                libc::XDP_PGOFF_RX_RING as u64,
            )?;
            let fill = Shared::map(&fd, &off.fr, frames, 8, libc::XDP_UMEM_PGOFF_FILL_RING)?;
            Ok((rx, fill))
        };
        let (rx, fill) = rings().map_err(unmap)?;
        let mut socket = XdpSocket {
            rx,
            fill,
            umem,
            umem_len,
            fd,
            _program: program.clone(),
            rx_next: 0,
            fill_next: 0,
            record: 0,
            counted: 0,
            dropped: 0,
        };
        // Every buffer to the kernel.
        for i in 0..frames {
            socket.give(u64::from(i) * u64::from(CHUNK));
        }
        socket.fill.producer().store(socket.fill_next, Ordering::Release);
        let addr = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: 0,
            sxdp_ifindex: program.ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: 0,
        };
        // SAFETY: `addr` is a sockaddr_xdp of the size given.
        check(unsafe {
            libc::bind(
                socket.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_xdp).cast(),
                std::mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        })
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) => io::Error::other(format!("no receive queue {queue} to bind to ({e})")),
            _ => e,
        })?;
        program.attached.insert(queue, &socket.fd)?;
        Ok(socket)
    }

    /// Puts buffer `addr` on the fill ring (published by the caller).
    fn give(&mut self, addr: u64) {
        let at = (self.fill_next & self.fill.mask) as usize;
        // SAFETY: `at` is an entry of the fill ring, one of those user space owns (every
        // buffer is either the kernel's or one just read, so the ring never overfills).
        unsafe { ptr::write(self.fill.entries.cast::<u64>().add(at), addr) };
        self.fill_next = self.fill_next.wrapping_add(1);
    }

    /// Frames waiting on the receive ring.
    fn waiting(&self) -> u32 {
        self.rx.producer().load(Ordering::Acquire).wrapping_sub(self.rx_next)
    }

    /// Waits up to `timeout_ms` for frames (a signal may end the wait early); woken by the
    /// first, it lets [`GATHER`] pass before it returns, so that a batch gathers. An interface
    /// that is gone is an error of kind `NotFound`.
    pub fn wait(&self, timeout_ms: i32) -> io::Result<()> {
        if self.waiting() > 0 {
            return Ok(());
        }
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(e) };
        }
        // A socket whose interface was deleted is unbound and polls as quiet (no POLLERR):
        // the error the kernel left on it says so.
        if r == 0 || pfd.revents & libc::POLLERR != 0 {
            let mut err: libc::c_int = 0;
            getsockopt(&self.fd, libc::SOL_SOCKET, libc::SO_ERROR, &mut err)?;
            if err == 0 {
                return Ok(());
            }
            let e = io::Error::from_raw_os_error(err);
            return Err(if err == libc::ENETDOWN || err == libc::ENXIO {
                io::Error::new(io::ErrorKind::NotFound, e)
            } else {
                e
            });
        }
        if r > 0 {
            std::thread::sleep(GATHER);
        }
        Ok(())
    }

    /// The frames waiting (up to a batch), handed back when the batch is dropped.
    pub fn batch(&mut self) -> XdpBatch<'_> {
        let count = self.waiting().min(BATCH);
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: writes one timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
        let ts = now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64;
        XdpBatch { first: self.rx_next, count, ts, socket: self }
    }

    /// The kernel's counts since the last call: frames the program handed to the socket
    /// (read and dropped), and those dropped (the receive ring full, or a frame too long).
    pub fn stats(&mut self) -> io::Result<RingStats> {
        // SAFETY: all zero is a valid xdp_statistics.
        let mut s: libc::xdp_statistics = unsafe { std::mem::zeroed() };
        getsockopt(&self.fd, libc::SOL_XDP, libc::XDP_STATISTICS, &mut s)?;
        // The kernel's counters only grow.
        let dropped = s.rx_dropped + s.rx_ring_full;
        let drops = dropped.saturating_sub(self.dropped);
        self.dropped = dropped;
        let packets = self.record - self.counted + drops;
        self.counted = self.record;
        Ok(RingStats { packets, drops })
    }
}

impl Drop for XdpSocket {
    fn drop(&mut self) {
        // SAFETY: unmaps the frame memory mapped in `open`, once (the rings unmap themselves).
        unsafe {
            libc::munmap(self.umem.cast(), self.umem_len);
        }
    }
}

/// Frames read from the receive ring; their buffers go back to the kernel when it is dropped.
pub struct XdpBatch<'s> {
    socket: &'s mut XdpSocket,
    first: u32,
    count: u32,
    ts: u64,
}

impl XdpBatch<'_> {
    /// True when no frame came.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The frames, in order; they can be walked more than once while the batch is held.
    pub fn frames(&self) -> XdpFrames<'_> {
        XdpFrames { batch: self, at: 0, record: self.socket.record }
    }

    /// Asks the processor for the first bytes of the batch's `i`th frame: each frame has a
    /// page of its own, where its hardware prefetcher does not look ahead.
    fn prefetch(&self, i: u32) {
        let d = self.desc(i);
        let s = &*self.socket;
        let end = (d.addr as usize).saturating_add((d.len as usize).min(PREFETCHED)).min(s.umem_len);
        let start = (d.addr as usize).min(end);
        // SAFETY: `start..end` lies inside the frame memory (cut above), which the socket
        // maps while it lives.
        prefetch(unsafe { std::slice::from_raw_parts(s.umem.add(start), end - start) });
    }

    /// The descriptor of the batch's `i`th frame.
    fn desc(&self, i: u32) -> libc::xdp_desc {
        let rx = &self.socket.rx;
        let at = (self.first.wrapping_add(i) & rx.mask) as usize;
        // SAFETY: entry `at` is one the kernel produced (below the producer index read
        // with acquire ordering) and user space has not yet given back.
        unsafe { ptr::read(rx.entries.cast::<libc::xdp_desc>().add(at)) }
    }
}

impl Drop for XdpBatch<'_> {
    fn drop(&mut self) {
        for i in 0..self.count {
            let addr = self.desc(i).addr;
            self.socket.give(addr);
        }
        let s = &mut *self.socket;
        s.fill.producer().store(s.fill_next, Ordering::Release);
        s.rx_next = s.rx_next.wrapping_add(self.count);
        s.rx.consumer().store(s.rx_next, Ordering::Release);
        s.record += u64::from(self.count);
    }
}

/// The frames of an [`XdpBatch`], borrowed from the shared memory.
pub struct XdpFrames<'b> {
    batch: &'b XdpBatch<'b>,
    at: u32,
    record: u64,
}

impl<'b> Iterator for XdpFrames<'b> {
    type Item = Frame<'b>;

    fn next(&mut self) -> Option<Frame<'b>> {
        if self.at == self.batch.count {
            return None;
        }
        let d = self.batch.desc(self.at);
        if self.at + AHEAD < self.batch.count {
            self.batch.prefetch(self.at + AHEAD);
        }
        self.at += 1;
        self.record += 1;
        let s = &*self.batch.socket;
        // A descriptor pointing outside the memory (the kernel never writes one) gives an
        // empty frame rather than a read out of bounds.
        let start = (d.addr as usize).min(s.umem_len);
        let len = (d.len as usize).min(s.umem_len - start);
        // SAFETY: the bytes lie inside the frame memory (cut above), in a buffer the kernel
        // handed over and gets back only when the batch is dropped.
        let data = unsafe { std::slice::from_raw_parts(s.umem.add(start), len) };
        Some(Frame {
            data,
            orig_len: d.len,
            ts_nanos: self.batch.ts,
            link: LinkType::ETHERNET,
            interface: 0,
            record: self.record,
        })
    }
}

/// How many receive queues interface `name` has (each needs a socket of its own: a socket
/// takes only its queue's frames).
pub fn receive_queues(name: &str) -> io::Result<u32> {
    let dir = std::fs::read_dir(format!("/sys/class/net/{name}/queues"))
        .map_err(|e| io::Error::new(e.kind(), format!("cannot count the receive queues of {name}: {e}")))?;
    let rx =
        dir.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with("rx-")).count();
    Ok(rx as u32)
}

/// The interface that has address `addr` (an endpoint's: its packets arrive there).
pub fn interface_with(addr: IpAddr) -> io::Result<String> {
    let mut list: *mut libc::ifaddrs = ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, freed below.
    check(unsafe { libc::getifaddrs(&mut list) })?;
    let mut found = None;
    let mut at = list;
    while !at.is_null() {
        // SAFETY: `at` is an entry of the list getifaddrs made; its address, when present,
        // is a sockaddr of the family it says, and its name a C string.
        unsafe {
            let entry = &*at;
            let sa = entry.ifa_addr;
            let has = !sa.is_null()
                && match (i32::from((*sa).sa_family), addr) {
                    (libc::AF_INET, IpAddr::V4(v4)) => {
                        let sin = &*sa.cast::<libc::sockaddr_in>();
                        sin.sin_addr.s_addr.to_ne_bytes() == v4.octets()
                    }
                    (libc::AF_INET6, IpAddr::V6(v6)) => {
                        let sin6 = &*sa.cast::<libc::sockaddr_in6>();
                        sin6.sin6_addr.s6_addr == v6.octets()
                    }
                    _ => false,
                };
            if has {
                found = Some(std::ffi::CStr::from_ptr(entry.ifa_name).to_string_lossy().into_owned());
                break;
            }
            at = entry.ifa_next;
        }
    }
    // SAFETY: frees the list getifaddrs made, once.
    unsafe { libc::freeifaddrs(list) };
    found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no interface has address {addr}")))
}

//! Many datagrams from one socket with one system call (`recvmmsg`): a tunnel endpoint takes
//! what the kernel has queued, up to [`SLOTS`] at a time, instead of a system call (and a
//! wake-up) per packet. After a batch of fewer than half the slots the next call waits
//! [`GATHER`] first, so that under load the kernel gathers a batch while the thread sleeps
//! (at 300,000 packets a second, about 30) rather than waking it for each packet; the socket's
//! buffer holds far more than arrives meanwhile. Each slot keeps room before its datagram for
//! the headers the endpoint writes in front.
// `recvmmsg` and the socket addresses it fills need `unsafe`; each block says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Datagrams taken with one system call at most.
pub const SLOTS: usize = 32;
/// Room for the largest UDP datagram.
const DATAGRAM_MAX: usize = 65_536;
/// How long a call after a short batch waits before it reads.
pub const GATHER: std::time::Duration = std::time::Duration::from_micros(100);

/// Room for a `SCM_TIMESTAMPNS` control message (`CMSG_SPACE` of a `timespec`) and then some.
const CONTROL_LEN: usize = 64;

/// The slots one `recvmmsg` fills: each datagram's length, sender and the time the kernel
/// received it.
pub struct RecvBatch {
    /// `SLOTS` slots of `head + DATAGRAM_MAX` bytes.
    buf: Vec<u8>,
    head: usize,
    lens: [usize; SLOTS],
    from: [Option<SocketAddr>; SLOTS],
    /// Receive times, nanoseconds since the Unix epoch.
    times: [u64; SLOTS],
    count: usize,
    /// The last batch was short: gather before the next.
    short: bool,
}

impl RecvBatch {
    /// Slots with `head` bytes of room before each datagram.
    pub fn new(head: usize) -> RecvBatch {
        RecvBatch {
            buf: vec![0; SLOTS * (head + DATAGRAM_MAX)],
            head,
            lens: [0; SLOTS],
            from: [None; SLOTS],
            times: [0; SLOTS],
            count: 0,
            short: false,
        }
    }

    fn slot_len(&self) -> usize {
        self.head + DATAGRAM_MAX
    }

    /// Datagrams in the last batch.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Datagram `i` of the last batch: its slot (the room, then the datagram; `head + len`
    /// bytes), its sender and its receive time.
    pub fn get(&self, i: usize) -> (&[u8], Option<SocketAddr>, u64) {
        let at = i * self.slot_len();
        (&self.buf[at..at + self.head + self.lens[i]], self.from[i], self.times[i])
    }

    /// The room before datagram `i` of the last batch, and the datagram's length and sender.
    pub fn head_mut(&mut self, i: usize) -> (&mut [u8], usize, Option<SocketAddr>) {
        let at = i * self.slot_len();
        (&mut self.buf[at..at + self.head], self.lens[i], self.from[i])
    }

    /// Receives what `fd` has queued, up to `SLOTS` datagrams, waiting for the first as long
    /// as the socket's receive timeout allows; how many (the timeout is an error, `WouldBlock`
    /// or `TimedOut`). Receive times are the kernel's where the socket has `SO_TIMESTAMPNS`
    /// on, else the time of the call's return.
    pub fn fill(&mut self, fd: RawFd) -> io::Result<usize> {
        self.count = 0;
        if self.short {
            std::thread::sleep(GATHER);
        }
        let slot_len = self.slot_len();
        let head = self.head;
        // SAFETY: all-zero is a valid value of these plain C structures.
        let mut names: [libc::sockaddr_storage; SLOTS] = unsafe { std::mem::zeroed() };
        let mut iov: [libc::iovec; SLOTS] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; SLOTS] = unsafe { std::mem::zeroed() };
        // u64 elements: aligned for the `cmsghdr` the kernel writes at each start.
        let mut control = [[0u64; CONTROL_LEN / 8]; SLOTS];
        for i in 0..SLOTS {
            iov[i] = libc::iovec {
                // SAFETY: the slot's datagram part lies inside `buf` (SLOTS slots of slot_len).
                iov_base: unsafe { self.buf.as_mut_ptr().add(i * slot_len + head) }.cast(),
                iov_len: DATAGRAM_MAX,
            };
            let m = &mut msgs[i].msg_hdr;
            m.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
            m.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            m.msg_iov = &mut iov[i];
            m.msg_iovlen = 1;
            m.msg_control = control[i].as_mut_ptr().cast();
            m.msg_controllen = CONTROL_LEN;
        }
        // SAFETY: every message points at memory that lives through the call (the slots, the
        // names, the iovecs, the control buffers) and says how long it is.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                SLOTS as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            // Nothing came within the socket's timeout: traffic is sparse, no need to gather.
            self.short = false;
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        self.short = n < SLOTS / 2;
        let mut now = None;
        for i in 0..n {
            self.lens[i] = (msgs[i].msg_len as usize).min(DATAGRAM_MAX);
            self.from[i] = socket_addr(&names[i]);
            self.times[i] =
                kernel_time(&msgs[i].msg_hdr).unwrap_or_else(|| *now.get_or_insert_with(unix_nanos));
        }
        self.count = n;
        Ok(n)
    }
}

/// Nanoseconds since the Unix epoch, now.
fn unix_nanos() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The receive time in a message's `SCM_TIMESTAMPNS` control message, if it has one.
fn kernel_time(m: &libc::msghdr) -> Option<u64> {
    // SAFETY: the kernel wrote `msg_controllen` bytes of control messages into the buffer
    // `msg_control` points at; the CMSG macros walk them within that length.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(m);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let t = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                return Some(t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64);
            }
            c = libc::CMSG_NXTHDR(m, c);
        }
    }
    None
}

/// The address the kernel wrote into `s`, if it is IPv4 or IPv6.
fn socket_addr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large
            // enough and aligned for.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn queued_datagrams_come_in_one_call_with_their_senders() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_millis(200))).unwrap();
        crate::packet_socket::setsockopt(&rx, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &1i32).unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let sent = unix_nanos();
        for i in 0..40u8 {
            tx.send_to(&vec![i; 10 + i as usize], rx.local_addr().unwrap()).unwrap();
        }
        let mut b = RecvBatch::new(42);
        let mut got = Vec::new();
        while got.len() < 40 {
            let n = b.fill(rx.as_raw_fd()).unwrap();
            // The kernel may still be taking datagrams after `send_to` returned (its loopback
            // receive runs when the machine lets it): each was stamped before the read.
            let read = unix_nanos();
            assert!((1..=SLOTS).contains(&n));
            for i in 0..n {
                let (slot, from, time) = b.get(i);
                assert_eq!(from, Some(tx.local_addr().unwrap()));
                // The kernel's time: taken when it was received, after the send began and
                // before the read that returned it.
                assert!((sent..=read).contains(&time), "{time} not in {sent}..={read}");
                got.push(slot[42..].to_vec());
            }
        }
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d, &vec![i as u8; 10 + i]);
        }
        // Nothing more: the socket's timeout ends the wait.
        let e = b.fill(rx.as_raw_fd()).unwrap_err();
        assert!(matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut), "{e}");
    }
}

//! What the receive ring (`live`) and the transmit ring (`tool_port`) share: an `AF_PACKET`
//! socket bound to one interface, its options, and its ring mapped into memory.
// System calls need `unsafe`; each block says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr;

/// A system call's result: an error when it is negative.
pub(crate) fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Reads socket option `name` at `level` into `value` (a plain C value of the option's size).
pub(crate) fn getsockopt<T>(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &mut T,
) -> io::Result<()> {
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` points to a live `T` and `len` is its size.
    check(unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, (value as *mut T).cast(), &mut len) })
}

/// Sets socket option `name` at `level` to `value`.
pub(crate) fn setsockopt<T>(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of the size given.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })
}

/// The index of interface `name`.
pub(crate) fn ifindex(name: &str) -> io::Result<u32> {
    let cname = std::ffi::CString::new(name).map_err(|_| io::Error::other("interface name has a NUL"))?;
    // SAFETY: `cname` is a valid C string.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(io::Error::other(format!("no interface named {name}")));
    }
    Ok(index)
}

/// A new raw `AF_PACKET` socket for `protocol` (network byte order; 0 receives nothing).
pub(crate) fn open(protocol: u16) -> io::Result<OwnedFd> {
    // SAFETY: plain socket creation; the descriptor is owned right away.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, libc::c_int::from(protocol)) };
    check(raw)?;
    // SAFETY: `raw` is a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Maps the ring of `len` bytes the kernel allocated for `fd`.
pub(crate) fn map(fd: &OwnedFd, len: usize) -> io::Result<*mut u8> {
    map_at(Some(fd), len, 0)
}

/// Maps `len` bytes: those at `offset` of what the kernel allocated for `fd` (shared with it,
/// its pages all mapped at once), or, without `fd`, fresh private memory.
pub(crate) fn map_at(fd: Option<&OwnedFd>, len: usize, offset: u64) -> io::Result<*mut u8> {
    let (flags, raw) = match fd {
        Some(fd) => (libc::MAP_SHARED | libc::MAP_POPULATE, fd.as_raw_fd()),
        None => (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1),
    };
    // SAFETY: maps a socket's own memory or fresh memory; checked below.
    let map = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            raw,
            offset as libc::off_t,
        )
    };
    if map == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(map.cast())
}

/// How many of a frame's first bytes are prefetched before it is read.
pub(crate) const PREFETCHED: usize = 512;

/// Asks the processor for `bytes`, a cache line at a time, ahead of their reading: a frame the
/// kernel wrote into a ring is not in this core's cache, and the hardware prefetcher does not
/// look across pages.
#[inline]
pub(crate) fn prefetch(bytes: &[u8]) {
    for line in bytes.chunks(64) {
        // SAFETY: the address is that of a byte of `bytes`; a prefetch reads nothing and
        // cannot fault.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = line;
    }
}

/// Binds `fd` to interface `ifindex` for `protocol` (network byte order).
pub(crate) fn bind(fd: &OwnedFd, ifindex: u32, protocol: u16) -> io::Result<()> {
    // SAFETY: an all-zero sockaddr_ll is valid; the fields that matter are set.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol;
    addr.sll_ifindex = ifindex as i32;
    // SAFETY: `addr` is a sockaddr_ll of the size given.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })
}

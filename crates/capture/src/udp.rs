//! UDP receiving sockets: one per worker on the same address with `SO_REUSEPORT` (the kernel
//! spreads senders over them by a hash of their addresses), large receive buffers, and the
//! kernel's own drop counter for them.
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

/// Refuses `addr` when a UDP socket of another process is bound to it (the same port, and
/// the same address or a wildcard on either side): with `SO_REUSEPORT` both would bind and the
/// kernel would silently split the senders between them. Sockets of this process may share
/// the port (one per worker). The error names the other process.
pub fn check_not_taken(addr: SocketAddr) -> io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    let tables = read_tables(&["/proc/net/udp", "/proc/net/udp6"]);
    let mut inodes: Vec<u64> = tables
        .iter()
        .flat_map(|t| rows(t))
        .filter(|r| r.port == addr.port() && r.address.is_none_or(|a| overlaps(a, addr.ip())))
        .map(|r| r.inode)
        .collect();
    // Our own sockets may share it.
    let own = socket_inodes("/proc/self/fd");
    inodes.retain(|i| *i != 0 && !own.contains(i));
    if inodes.is_empty() {
        return Ok(());
    }
    let holder = process_holding(&inodes).unwrap_or_else(|| "another process".to_string());
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("udp {addr} is already taken by {holder}; two receivers on one port would each get a share of the senders"),
    ))
}

/// True when two local addresses take the same datagrams: equal, or either a wildcard.
fn overlaps(a: std::net::IpAddr, b: std::net::IpAddr) -> bool {
    let v4 = |ip: std::net::IpAddr| match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    };
    a.is_unspecified() || b.is_unspecified() || v4(a) == v4(b)
}

/// The socket inodes among the descriptors listed in `fd_dir`.
fn socket_inodes(fd_dir: &str) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(fd_dir) else { return Vec::new() };
    entries
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok())
        .collect()
}

/// `pid N (name)` of a process holding one of the sockets `inodes`.
fn process_holding(inodes: &[u64]) -> Option<String> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if socket_inodes(&format!("/proc/{pid}/fd")).iter().any(|i| inodes.contains(i)) {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            return Some(format!("pid {pid} ({})", name.trim()));
        }
    }
    None
}

/// Gives `s` a receive buffer of `bytes`: past `net.core.rmem_max` when the process may
/// (`SO_RCVBUFFORCE`, root or CAP_NET_ADMIN), else as much as that cap allows
/// ([`receive_buffer`] says how much).
pub fn set_receive_buffer(s: &Socket, bytes: usize) -> io::Result<()> {
    let asked = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    if crate::packet_socket::setsockopt(s, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &asked).is_err() {
        s.set_recv_buffer_size(bytes)?;
    }
    Ok(())
}

/// The receive buffer the kernel granted socket `s`, bytes (half of what it reports).
pub fn receive_buffer(s: &impl std::os::fd::AsFd) -> usize {
    socket2::SockRef::from(s).recv_buffer_size().map_or(0, |b| b / 2)
}

/// What to say when the sockets of `what` were granted `granted` bytes of receive buffer
/// each, of the `asked`: nothing when they got it all.
pub fn buffer_shortfall(what: &str, granted: usize, asked: usize) -> Option<String> {
    (granted < asked).then(|| {
        format!(
            "{what}: a receive buffer of {} KiB per socket, not the {} KiB asked (the kernel caps it at \
             net.core.rmem_max, which root or CAP_NET_ADMIN passes, and at 1 GiB)",
            granted >> 10,
            asked >> 10
        )
    })
}

/// A socket bound to `addr` that other sockets may share (`SO_REUSEPORT`), with a receive
/// buffer of `receive_buffer` bytes (see [`set_receive_buffer`]), whose reads time out after
/// `timeout` so its thread can notice a shutdown.
pub fn shared_socket(addr: SocketAddr, receive_buffer: usize, timeout: Duration) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // `[::]` takes IPv4 senders too.
        s.set_only_v6(false)?;
    }
    set_receive_buffer(&s, receive_buffer)?;
    s.set_read_timeout(Some(timeout))?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// True when a read on a socket with a timeout ended with nothing read and nothing wrong: the
/// timeout passed, or a signal came (reads with `SO_RCVTIMEO` are not restarted after a
/// handler, and fail with `EINTR` once a stopped process is continued). Reading again is right.
pub fn read_ended_early(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}

/// Datagrams the kernel dropped on every UDP socket bound to one of `ports` (the `drops`
/// column of `/proc/net/udp` and `/proc/net/udp6`; 0 where they cannot be read).
pub fn kernel_drops(ports: &[u16]) -> u64 {
    let tables = read_tables(&["/proc/net/udp", "/proc/net/udp6"]);
    tables.iter().flat_map(|t| rows(t)).filter(|r| ports.contains(&r.port)).map(|r| r.drops).sum()
}

/// Packets the kernel dropped on one socket (UDP, or raw when `raw`): its own row of
/// `/proc/net/{udp,udp6}` or `/proc/net/{raw,raw6}`, found by its inode, so that sockets
/// sharing a port are each counted once. `None` when the row cannot be read.
pub fn socket_drops(socket: &impl AsRawFd, raw: bool) -> Option<u64> {
    let inode = std::fs::metadata(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?.ino();
    let names: &[&str] =
        if raw { &["/proc/net/raw", "/proc/net/raw6"] } else { &["/proc/net/udp", "/proc/net/udp6"] };
    let tables = read_tables(names);
    let found = tables.iter().flat_map(|t| rows(t)).find(|r| r.inode == inode);
    found.map(|r| r.drops)
}

fn read_tables(names: &[&str]) -> Vec<String> {
    names.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
}

/// One socket's row of a `/proc/net/udp`-style table.
struct Row {
    /// The local address (`None` when it does not parse).
    address: Option<std::net::IpAddr>,
    port: u16,
    inode: u64,
    drops: u64,
}

/// A local address as `/proc/net/udp{,6}` writes it: hex, 32-bit words in host order.
fn proc_address(hex: &str) -> Option<std::net::IpAddr> {
    let words: Vec<u32> = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<_>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    match bytes.len() {
        4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// The rows of one `/proc/net/udp`-style table (the header line skipped).
fn rows(table: &str) -> impl Iterator<Item = Row> + '_ {
    table.lines().skip(1).filter_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (address, port) = cols.get(1)?.rsplit_once(':')?;
        Some(Row {
            address: proc_address(address),
            port: u16::from_str_radix(port, 16).ok()?,
            inode: cols.get(9)?.parse().ok()?,
            drops: cols.last()?.parse().ok()?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_receive_buffer_is_said_with_both_sizes() {
        let w = buffer_shortfall("sFlow on 0.0.0.0:6343", 4 << 20, 8 << 20).unwrap();
        assert!(
            w.starts_with("sFlow on 0.0.0.0:6343: a receive buffer of 4096 KiB per socket, not the 8192 KiB"),
            "{w}"
        );
        assert_eq!(buffer_shortfall("x", 8 << 20, 8 << 20), None);
        // Within the cap (a stock net.core.rmem_max is 208 KiB), a socket gets what it asks for.
        let s = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        set_receive_buffer(&s, 100_000).unwrap();
        assert_eq!(receive_buffer(&s), 100_000);
    }

    #[test]
    fn reads_the_drop_column_of_the_ports_asked_for() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  1: 00000000:18C7 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 17\n\
  2: 00000000:18C7 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2 2 0000000000000000 3\n\
  3: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3 2 0000000000000000 9\n";
        let drops =
            |ports: &[u16]| rows(table).filter(|r| ports.contains(&r.port)).map(|r| r.drops).sum::<u64>();
        assert_eq!(drops(&[6343]), 20);
        assert_eq!(drops(&[53, 6343]), 29);
        assert_eq!(drops(&[1]), 0);
        assert_eq!(rows(table).find(|r| r.inode == 2).map(|r| r.drops), Some(3));
        let local = rows(table).find(|r| r.inode == 3).and_then(|r| r.address);
        assert_eq!(local, Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn a_port_another_process_holds_is_refused_naming_it() {
        let mine = shared_socket("127.0.0.1:0".parse().unwrap(), 1 << 16, Duration::from_millis(10)).unwrap();
        let addr = mine.local_addr().unwrap();
        // This process's own sockets may share the port.
        check_not_taken(addr).unwrap();
        // Another process's socket on it (python, holding it for a moment) may not.
        let script = format!(
            "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEPORT,1)\ns.bind(('0.0.0.0',{}))\nprint('bound',flush=True)\ntime.sleep(5)",
            addr.port()
        );
        let Ok(mut other) = std::process::Command::new("python3")
            .args(["-c", &script])
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            // Written past the test harness's capture, so that `cargo test` shows it.
            let _ = std::io::Write::write_all(&mut std::io::stderr(), b"SKIP: python3 is not installed\n");
            return;
        };
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(other.stdout.take().unwrap()), &mut line)
            .unwrap();
        let e = check_not_taken(addr).unwrap_err().to_string();
        let _ = other.kill();
        let _ = other.wait();
        assert!(e.contains(&format!("udp {addr} is already taken by pid {} (python3)", other.id())), "{e}");
        drop(mine);
    }

    #[test]
    fn sockets_share_a_port() {
        let a = shared_socket("127.0.0.1:0".parse().unwrap(), 1 << 20, Duration::from_millis(10)).unwrap();
        let addr = a.local_addr().unwrap();
        let b = shared_socket(addr, 1 << 20, Duration::from_millis(10)).unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
        // Each socket finds its own row.
        assert_eq!(socket_drops(&a, false), Some(0));
        assert_eq!(socket_drops(&b, false), Some(0));
    }
}

//! UDP receiving sockets: one per worker on the same address with `SO_REUSEPORT` (the kernel
//! spreads senders over them by a hash of their addresses), large receive buffers, and the
//! kernel's own drop counter for them.
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

/// A socket bound to `addr` that other sockets may share (`SO_REUSEPORT`), asking for
/// `receive_buffer` bytes of buffer (the kernel caps it at `net.core.rmem_max`), whose reads
/// time out after `timeout` so its thread can notice a shutdown.
pub fn shared_socket(addr: SocketAddr, receive_buffer: usize, timeout: Duration) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // `[::]` takes IPv4 senders too.
        s.set_only_v6(false)?;
    }
    s.set_recv_buffer_size(receive_buffer)?;
    s.set_read_timeout(Some(timeout))?;
    s.bind(&addr.into())?;
    Ok(s.into())
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
    port: u16,
    inode: u64,
    drops: u64,
}

/// The rows of one `/proc/net/udp`-style table (the header line skipped).
fn rows(table: &str) -> impl Iterator<Item = Row> + '_ {
    table.lines().skip(1).filter_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        Some(Row {
            port: u16::from_str_radix(cols.get(1)?.rsplit(':').next()?, 16).ok()?,
            inode: cols.get(9)?.parse().ok()?,
            drops: cols.last()?.parse().ok()?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

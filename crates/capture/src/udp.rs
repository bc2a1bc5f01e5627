//! UDP receiving sockets: one per worker on the same address with `SO_REUSEPORT` (the kernel
//! spreads senders over them by a hash of their addresses), large receive buffers, and the
//! kernel's own drop counter for them.
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, UdpSocket};
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
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|table| drops_in(&table, ports))
        .sum()
}

/// Sums the drops of `ports`' rows in one `/proc/net/udp` table.
fn drops_in(table: &str, ports: &[u16]) -> u64 {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let port = u16::from_str_radix(cols.get(1)?.rsplit(':').next()?, 16).ok()?;
            ports.contains(&port).then(|| cols.last()?.parse::<u64>().ok()).flatten()
        })
        .sum()
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
        assert_eq!(drops_in(table, &[6343]), 20);
        assert_eq!(drops_in(table, &[53, 6343]), 29);
        assert_eq!(drops_in(table, &[1]), 0);
    }

    #[test]
    fn sockets_share_a_port() {
        let a = shared_socket("127.0.0.1:0".parse().unwrap(), 1 << 20, Duration::from_millis(10)).unwrap();
        let addr = a.local_addr().unwrap();
        let b = shared_socket(addr, 1 << 20, Duration::from_millis(10)).unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
    }
}

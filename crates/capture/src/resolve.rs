//! Addresses as people write them: `192.0.2.1`, `[2001:db8::1]:4789`, `localhost:6343`,
//! `tool.example` — a host name is resolved once, when the address is read.
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// `text` as a socket address, `default_port` when it names none; also whether it named a
/// port. A name resolves to its first address (IPv4 first when it has both).
pub fn resolve(text: &str, default_port: u16) -> Result<(SocketAddr, bool), String> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok((a, true));
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok((SocketAddr::new(ip, default_port), false));
    }
    let (host, port, explicit) = match text.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            let port = p.parse::<u16>().map_err(|_| format!("`{p}` in `{text}` is not a port"))?;
            (h, port, true)
        }
        _ => (text, default_port, false),
    };
    if host.is_empty() {
        return Err(format!("`{text}` names no host"));
    }
    let addrs: Vec<SocketAddr> =
        (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve `{host}`: {e}"))?.collect();
    let first = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied();
    first.map(|a| (a, explicit)).ok_or_else(|| format!("`{host}` has no address"))
}

/// Reads an address flag (`--sflow`, `--http`): `HOST:PORT`, a name resolved once.
pub fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    match resolve(text, 0)? {
        (a, true) => Ok(a),
        (_, false) => Err(format!("`{text}` needs a port: HOST:PORT")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names() {
        assert_eq!(resolve("192.0.2.1", 4789).unwrap(), ("192.0.2.1:4789".parse().unwrap(), false));
        assert_eq!(resolve("[::1]:7", 4789).unwrap(), ("[::1]:7".parse().unwrap(), true));
        assert_eq!(resolve("::1", 9).unwrap().0, "[::1]:9".parse().unwrap());
        let (a, explicit) = resolve("localhost:6343", 0).unwrap();
        assert!(a.ip().is_loopback() && a.port() == 6343 && explicit);
        assert!(resolve("localhost:http", 0).unwrap_err().contains("not a port"));
        assert!(socket_addr("localhost").unwrap_err().contains("needs a port"));
        assert!(resolve("no-such-host.invalid:1", 0).unwrap_err().contains("cannot resolve"));
    }
}

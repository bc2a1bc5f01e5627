//! Who may use the API. A request must name this server in its Host header (the listen
//! address, loopback names when it listens there, or a configured name), so that a web page
//! cannot reach it through DNS rebinding; writes need the configured token when the API
//! listens beyond loopback (unless explicitly opened); CORS headers go only to configured
//! origins.
use crate::state::{Failure, Shared};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The API's access rules (`[http]` in `detunnel.toml`).
#[derive(Debug, Clone)]
pub struct Access {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// Further names clients may use in the Host header (`http.hosts`); `*` allows any.
    pub hosts: Vec<String>,
    /// The token writes need (`Authorization: Bearer TOKEN`).
    pub token: Option<String>,
    /// Allow writes without a token although the API listens beyond loopback.
    pub open_writes: bool,
    /// Origins that get CORS headers (`*` for any).
    pub cors_origins: Vec<String>,
}

impl Default for Access {
    fn default() -> Access {
        Access {
            listen: SocketAddr::from(([127, 0, 0, 1], 8008)),
            hosts: Vec::new(),
            token: None,
            open_writes: false,
            cors_origins: Vec::new(),
        }
    }
}

impl Access {
    /// True when clients beyond this machine can reach the API.
    pub fn beyond_loopback(&self) -> bool {
        !self.listen.ip().is_loopback()
    }

    /// A warning to print at start, when the rules leave writes open to the network.
    pub fn warning(&self) -> Option<String> {
        (self.beyond_loopback() && self.token.is_none() && self.open_writes).then(|| {
            format!(
                "the REST API on {} accepts writes from anyone who can reach it (http.open_writes); set http.token to require a token",
                self.listen
            )
        })
    }

    /// True when `host` (a Host header's value) names this server.
    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        if self.hosts.iter().any(|h| h == "*" || h.eq_ignore_ascii_case(name)) {
            return true;
        }
        let listen = self.listen.ip();
        let loopback_too = listen.is_loopback() || listen.is_unspecified();
        match name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => ip == listen || listen.is_unspecified() || (loopback_too && ip.is_loopback()),
            Err(_) => loopback_too && name.eq_ignore_ascii_case("localhost"),
        }
    }

    /// Refuses a write that lacks what the rules ask for.
    fn check_write(&self, headers: &HeaderMap) -> Result<(), Failure> {
        match &self.token {
            Some(token) => {
                let given = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or("");
                if constant_time_eq(given.trim().as_bytes(), token.as_bytes()) {
                    Ok(())
                } else {
                    Err(Failure { status: 401, message: "this write needs `Authorization: Bearer TOKEN` with the token of http.token".into() })
                }
            }
            None if self.beyond_loopback() && !self.open_writes => Err(Failure {
                status: 403,
                message: format!(
                    "the REST API listens beyond loopback ({}): writes need http.token (or http.open_writes = true)",
                    self.listen
                ),
            }),
            None => Ok(()),
        }
    }

    /// The origin to name in CORS headers for a request from `origin`, if it is allowed.
    fn cors_origin<'a>(&self, origin: &'a str) -> Option<&'a str> {
        self.cors_origins.iter().any(|o| o == "*" || o == origin).then_some(origin)
    }
}

/// The host part of a Host header (without the port), lower-case dots trimmed.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
    .trim_end_matches('.')
}

/// Compares without leaking where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The middleware applying [`Access`] to every request.
pub async fn guard(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let access = &s.access;
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    match host {
        None => return Failure::bad("a request needs a Host header").into_response(),
        Some(h) if !access.host_allowed(h) => {
            let message = format!(
                "Host `{}` is not a name of this server; add it to http.hosts in the configuration",
                host_name(h)
            );
            return Failure { status: 421, message }.into_response();
        }
        Some(_) => {}
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .and_then(|o| access.cors_origin(o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    if req.method() == Method::OPTIONS && origin.is_some() {
        let mut r = StatusCode::NO_CONTENT.into_response();
        cors_headers(r.headers_mut(), origin);
        return r;
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if let Err(f) = access.check_write(req.headers()) {
            return f.into_response();
        }
    }
    let mut r = next.run(req).await;
    cors_headers(r.headers_mut(), origin);
    r
}

fn cors_headers(h: &mut HeaderMap, origin: Option<HeaderValue>) {
    let Some(origin) = origin else { return };
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, PUT, POST, DELETE"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Content-Type, Authorization"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(listen: &str, hosts: &[&str]) -> Access {
        Access {
            listen: listen.parse().unwrap(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..Access::default()
        }
    }

    #[test]
    fn hosts() {
        let a = access("127.0.0.1:8008", &[]);
        for ok in ["127.0.0.1:8008", "localhost:8008", "LOCALHOST", "[::1]:8008", "127.0.0.1"] {
            assert!(a.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example:8008", "evil.example", "10.0.0.1:8008", "localhost.evil.example"] {
            assert!(!a.host_allowed(bad), "{bad}");
        }
        let a = access("0.0.0.0:8008", &["collector.example"]);
        for ok in ["192.0.2.7:8008", "[2001:db8::1]:8008", "collector.example:8008", "Collector.Example."] {
            assert!(a.host_allowed(ok), "{ok}");
        }
        assert!(!a.host_allowed("rebound.example:8008"));
        let a = access("192.0.2.7:8008", &[]);
        assert!(a.host_allowed("192.0.2.7:8008"));
        assert!(!a.host_allowed("localhost:8008"));
        assert!(!a.host_allowed("192.0.2.8"));
        assert!(access("0.0.0.0:8008", &["*"]).host_allowed("anything.example"));
    }

    #[test]
    fn writes() {
        let mut h = HeaderMap::new();
        assert!(access("127.0.0.1:8008", &[]).check_write(&h).is_ok());
        let wide = access("0.0.0.0:8008", &[]);
        assert_eq!(wide.check_write(&h).unwrap_err().status, 403);
        assert!(Access { open_writes: true, ..wide.clone() }.check_write(&h).is_ok());
        let t = Access { token: Some("s3cret".into()), ..wide };
        assert_eq!(t.check_write(&h).unwrap_err().status, 401);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cre"));
        assert_eq!(t.check_write(&h).unwrap_err().status, 401);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert!(t.check_write(&h).is_ok());
    }
}

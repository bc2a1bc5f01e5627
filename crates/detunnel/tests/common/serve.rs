//! Runs `detunnel serve` on free ports for a test, talks to its REST API with curl (an
//! ordinary HTTP client), sends it sFlow datagrams, and stops it with SIGTERM.
use super::{detunnel, TempDir};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server.
pub struct Serve {
    child: Option<Child>,
    /// Base URL of the REST API.
    pub url: String,
    /// Where it receives sFlow.
    pub sflow: SocketAddr,
    /// Runs commands inside the server's network namespace (`ip netns exec NS`), if any.
    netns: Option<String>,
    dir: TempDir,
}

/// `program`, run inside network namespace `netns` when given.
pub fn command_in(netns: Option<&str>, program: &str) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, program]);
            c
        }
        None => Command::new(program),
    }
}

/// A free local port (TCP or UDP), as the kernel hands them out.
pub fn free_port(udp: bool) -> u16 {
    if udp {
        UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    } else {
        TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }
}

impl Serve {
    /// Starts `detunnel serve` with `config` (TOML) and `args`, on 127.0.0.1 ports of its own
    /// unless `sflow` names the sFlow address; waits until `/healthz` answers.
    pub fn start(tag: &str, config: &str, args: &[&str], sflow: Option<SocketAddr>) -> Serve {
        Serve::start_in(None, tag, config, args, sflow)
    }

    /// Like [`Serve::start`], inside network namespace `netns` when given.
    pub fn start_in(
        netns: Option<&str>,
        tag: &str,
        config: &str,
        args: &[&str],
        sflow: Option<SocketAddr>,
    ) -> Serve {
        let http = SocketAddr::from(([127, 0, 0, 1], free_port(false)));
        Serve::start_on(netns, tag, config, args, sflow, http)
    }

    /// Like [`Serve::start_in`], with the REST API on `http` (clients use 127.0.0.1 and its
    /// port when it is a wildcard address).
    pub fn start_on(
        netns: Option<&str>,
        tag: &str,
        config: &str,
        args: &[&str],
        sflow: Option<SocketAddr>,
        http: SocketAddr,
    ) -> Serve {
        let dir = TempDir::new(tag);
        let cfg = dir.join("detunnel.toml");
        std::fs::write(&cfg, config).unwrap();
        let sflow = sflow.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], free_port(true))));
        let log = std::fs::File::create(dir.join("serve.log")).unwrap();
        let child = command_in(netns, detunnel())
            .args(["serve", "-c"])
            .arg(&cfg)
            .args(["--sflow", &sflow.to_string(), "--http", &http.to_string()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let client =
            if http.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], http.port())) } else { http };
        let s = Serve {
            child: Some(child),
            url: format!("http://{client}"),
            sflow,
            netns: netns.map(String::from),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while s.request("GET", "/healthz", None).0 != 200 {
            assert!(Instant::now() < deadline, "serve did not start: {}", s.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    /// What the server wrote on standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }

    /// Sends `method path` with an optional JSON body; returns the status and the body.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.curl(method, path, body, &[], false)
    }

    /// Where the REST API answers.
    pub fn http_addr(&self) -> SocketAddr {
        self.url.trim_start_matches("http://").parse().unwrap()
    }

    /// Sends `request` (a whole HTTP request as written) on a fresh connection; returns the
    /// status and the whole response (headers and body).
    pub fn raw(&self, request: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(self.http_addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).to_string();
        let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, text)
    }

    /// Sends `method path` with extra headers (`Name: value`); returns the status and the
    /// response's headers and body.
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[&str],
    ) -> (u16, String) {
        self.curl(method, path, body, headers, true)
    }

    /// Runs curl (inside the server's namespace, if any); returns the status and what it
    /// printed: the body, after the response's headers when `include_headers`.
    fn curl(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[&str],
        include_headers: bool,
    ) -> (u16, String) {
        let mut cmd = command_in(self.netns.as_deref(), "curl");
        cmd.args(["-s", "-m", "60", "-o", "-", "-w", "\n%{http_code}", "-X", method]);
        if include_headers {
            cmd.arg("-i");
        }
        for h in headers {
            cmd.args(["-H", h]);
        }
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary", b]);
        }
        let out = cmd.arg(format!("{}{path}", self.url)).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// The server's resident memory, bytes (from /proc).
    pub fn resident_bytes(&self) -> u64 {
        let pid = self.child.as_ref().map_or(0, |c| c.id());
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
        statm.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4096
    }

    /// GETs `path`, expecting 200 and JSON.
    pub fn json(&self, path: &str) -> serde_json::Value {
        let (code, body) = self.request("GET", path, None);
        assert_eq!(code, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Sends each datagram to the sFlow port, pacing so that the socket buffer never fills.
    pub fn send(&self, datagrams: &[Vec<u8>]) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        for (i, d) in datagrams.iter().enumerate() {
            s.send_to(d, self.sflow).unwrap();
            if i % 64 == 63 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Stops the server with SIGTERM; returns its log after checking it exited cleanly.
    pub fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let ok =
            Command::new("/bin/kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success();
        assert!(ok);
        let status = child.wait().unwrap();
        let log = self.log();
        assert!(status.success(), "serve exited with {status}: {log}");
        log
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

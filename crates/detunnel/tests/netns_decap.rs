//! The live broker against a real peer: the Linux kernel's own VXLAN device in one namespace
//! sends to another, where `detunnel decap --listen vxlan://…` terminates VXLAN and writes the
//! inner frames into a TAP; tcpdump on the TAP must capture exactly the frames the VXLAN
//! device sent. Needs root, `ip`, tcpdump and python3 (CI has them; elsewhere it skips with a
//! notice).
mod common;

use capture::FileReader;
use common::serve::command_in;
use common::*;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Namespace `a` with a kernel VXLAN device (VNI 42, 10.42.0.1) toward 192.0.2.2 in namespace
/// `b`, which has no VXLAN device: detunnel is the tunnel's far end. Removed on drop.
struct Peers {
    a: String,
    b: String,
}

impl Peers {
    fn new() -> Peers {
        let id = std::process::id() % 100_000;
        let p = Peers { a: format!("dtda{id}"), b: format!("dtdb{id}") };
        for ns in [&p.a, &p.b] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            // No IPv6 chatter (router solicitations, MLD) on the tunnel: only what the test sends.
            let out = command_in(Some(ns), "sysctl")
                .args(["-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
                .output()
                .unwrap();
            assert!(out.status.success());
        }
        ip(&["link", "add", "va", "netns", &p.a, "type", "veth", "peer", "name", "vb", "netns", &p.b]);
        ip(&["-n", &p.a, "addr", "add", "192.0.2.1/24", "dev", "va"]);
        ip(&["-n", &p.b, "addr", "add", "192.0.2.2/24", "dev", "vb"]);
        ip(&["-n", &p.a, "link", "set", "va", "up"]);
        ip(&["-n", &p.b, "link", "set", "vb", "up"]);
        ip(&[
            "-n",
            &p.a,
            "link",
            "add",
            "vx0",
            "type",
            "vxlan",
            "id",
            "42",
            "remote",
            "192.0.2.2",
            "dstport",
            "4789",
            "dev",
            "va",
        ]);
        ip(&["-n", &p.a, "addr", "add", "10.42.0.1/24", "dev", "vx0"]);
        ip(&["-n", &p.a, "link", "set", "vx0", "up"]);
        // A fixed neighbour: no ARP, so every inner frame is one the test sends.
        ip(&["-n", &p.a, "neigh", "add", "10.42.0.2", "lladdr", "02:00:00:00:00:02", "dev", "vx0"]);
        p
    }
}

impl Drop for Peers {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A process stopped with SIGINT (SIGTERM for detunnel) and waited for on drop.
struct Running(Option<Child>, &'static str);

impl Running {
    fn stop(&mut self) -> std::process::Output {
        let child = self.0.take().unwrap();
        let _ = Command::new("/bin/kill").args([self.1, &child.id().to_string()]).status();
        child.wait_with_output().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn tcpdump(ns: &str, dev: &str, out: &Path) -> Running {
    let child = command_in(Some(ns), "tcpdump")
        .args(["-i", dev, "-U", "-n", "-w"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Running(Some(child), "-INT")
}

fn frames(path: &Path) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    FileReader::open(path.to_str().unwrap())
        .unwrap()
        .for_each(|f| {
            v.push(f.data.to_vec());
            ControlFlow::Continue(())
        })
        .unwrap();
    v
}

#[test]
fn kernel_vxlan_terminated_into_a_tap() {
    if !root() || !have_tool("ip") || !have_tool("tcpdump") || !have_tool("python3") {
        return;
    }
    let peers = Peers::new();
    let tmp = TempDir::new("netns-decap");
    let mut decap = Running(
        Some(
            command_in(Some(&peers.b), detunnel())
                .args(["decap", "--listen", "vxlan://192.0.2.2:4789", "--tap", "mon0", "--stats", "json"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ),
        "-TERM",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new("ip")
        .args(["-n", &peers.b, "-o", "link", "show", "mon0"])
        .output()
        .unwrap()
        .stdout
        .is_empty()
    {
        assert!(Instant::now() < deadline, "mon0 never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (sent_pcap, tap_pcap) = (tmp.join("sent.pcap"), tmp.join("tap.pcap"));
    let mut on_tap = tcpdump(&peers.b, "mon0", &tap_pcap);
    let mut sent = tcpdump(&peers.a, "vx0", &sent_pcap);
    std::thread::sleep(Duration::from_secs(2));
    const N: u32 = 50;
    let script = format!(
        "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         for i in range({N}):\n    s.sendto(bytes([i])*(60+i*20),('10.42.0.2',9999))\n    time.sleep(0.01)\n"
    );
    let out = command_in(Some(&peers.a), "python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_secs(1));
    sent.stop();
    on_tap.stop();
    let summary = decap.stop();
    let summary = String::from_utf8_lossy(&summary.stderr).to_string();
    let (sent, got) = (frames(&sent_pcap), frames(&tap_pcap));
    assert_eq!(sent.len(), N as usize, "the VXLAN device sent other frames too");
    assert_eq!(got, sent, "the TAP carried other frames than were sent: {summary}");
    let json: serde_json::Value = serde_json::from_str(summary.lines().last().unwrap()).unwrap();
    assert_eq!(json["tap"]["frames"], N, "{summary}");
    assert_eq!(json["streams"][0]["kind"], "vxlan");
    assert_eq!(json["streams"][0]["id"], 42);
    assert_eq!(json["streams"][0]["source"], "192.0.2.1");
}

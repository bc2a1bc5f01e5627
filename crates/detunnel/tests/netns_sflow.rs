//! Real sFlow agents in network namespaces: pmacct's `pmacctd` with the `sfprobe` plugin
//! samples a veth that carries the kernel's own VXLAN traffic between two namespaces, and
//! `detunnel serve` answers inner and outer flows that match the traffic sent, and `/dump`
//! shows which agent and port saw them. Needs root, `ip` and pmacct (CI has them; elsewhere
//! it skips with a notice).
mod common;

use common::serve::{command_in, Serve};
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Two namespaces joined by a veth pair, each with a kernel VXLAN device (VNI 42) over it;
/// removed on drop.
struct VxlanPair {
    a: String,
    b: String,
}

impl VxlanPair {
    fn new(tag: &str) -> VxlanPair {
        let id = std::process::id() % 100_000;
        let (a, b) = (format!("dt{tag}a{id}"), format!("dt{tag}b{id}"));
        let p = VxlanPair { a: a.clone(), b: b.clone() };
        for ns in [&a, &b] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&["link", "add", "va", "netns", &a, "type", "veth", "peer", "name", "vb", "netns", &b]);
        for (ns, dev, me, peer, inner) in [
            (&a, "va", "192.0.2.1", "192.0.2.2", "10.42.0.1"),
            (&b, "vb", "192.0.2.2", "192.0.2.1", "10.42.0.2"),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{me}/24"), "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&[
                "-n", ns, "link", "add", "vx0", "type", "vxlan", "id", "42", "remote", peer, "dstport",
                "4789", "dev", dev,
            ]);
            ip(&["-n", ns, "addr", "add", &format!("{inner}/24"), "dev", "vx0"]);
            ip(&["-n", ns, "link", "set", "vx0", "up"]);
        }
        p
    }

    /// Sends `n` UDP datagrams from 10.42.0.1 (namespace a) to 10.42.0.2:9999 through VXLAN.
    fn send_inner(&self, n: u32) {
        let script = format!(
            "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
             s.bind(('10.42.0.1',40000))\nfor i in range({n}):\n    s.sendto(b'x'*100,('10.42.0.2',9999))\n    time.sleep(0.002)\n"
        );
        let out = command_in(Some(&self.a), "python3").args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for VxlanPair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

const CONFIG: &str = r#"
[flows.inner]
keys = "ipsource.1,ipdestination.1,vxlanvni"
value = "frames"
t = 600
[flows.outer]
keys = "ipsource,ipdestination"
value = "frames"
t = 600
[flows.inner_log]
keys = "ipsource.1,ipdestination.1,udpdestinationport.1,vxlanvni"
value = "frames"
log = true
"#;

#[test]
fn pmacct_sfprobe_sampling_kernel_vxlan() {
    if !root() || !have_tool("ip") || !have_tool("curl") || !have_tool("python3") || !have_tool("pmacctd") {
        return;
    }
    let pair = VxlanPair::new("pm");
    let sflow = "127.0.0.1:6343".parse().unwrap();
    let server = Serve::start_in(Some(&pair.b), "netns-pmacct", CONFIG, &["--workers", "1"], Some(sflow));
    let tmp = TempDir::new("netns-pmacct-conf");
    let conf = tmp.join("sfprobe.conf");
    std::fs::write(
        &conf,
        "daemonize: false\npcap_interface: vb\nplugins: sfprobe[sf]\nsfprobe_receiver[sf]: 127.0.0.1:6343\n\
         sfprobe_agentip[sf]: 192.0.2.2\nsfprobe_agentsubid[sf]: 1\nsampling_rate[sf]: 1\nsnaplen: 256\n",
    )
    .unwrap();
    // pmacctd forks its plugin: the probe runs as a process group, ended as one.
    let probe = Running(
        Some(spawn_group(
            command_in(Some(&pair.b), "pmacctd")
                .arg("-f")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )),
        "-TERM",
    );
    // Let pmacctd open its capture before the traffic starts.
    std::thread::sleep(Duration::from_secs(2));
    const SENT: u32 = 200;
    pair.send_inner(SENT);

    // The tenants inside the tunnel and the tunnel endpoints outside it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (inner, outer) = loop {
        let inner = server.json("/activeflows/ALL/inner/json?maxFlows=20");
        let outer = server.json("/activeflows/ALL/outer/json?maxFlows=20");
        let has = |v: &serde_json::Value, k: &str| v.as_array().unwrap().iter().any(|f| f["key"] == k);
        if has(&inner, "10.42.0.1,10.42.0.2,42") && has(&outer, "192.0.2.1,192.0.2.2") {
            break (inner, outer);
        }
        assert!(Instant::now() < deadline, "flows never appeared: {inner} {outer}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(250));
    };
    for f in inner.as_array().unwrap().iter().chain(outer.as_array().unwrap()) {
        assert_eq!(f["agent"], "192.0.2.2", "{f}");
    }
    // /dump: the agent and the port (sfprobe's ifIndex) that saw the tenant flow.
    let dump = server.json("/dump/ALL/inner/json");
    let d = dump.as_array().unwrap();
    assert!(!d.is_empty());
    assert!(d.iter().all(|e| e["agent"] == "192.0.2.2" && e["dataSource"].is_string()), "{dump}");
    assert!(d.iter().any(|e| e["topKeys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["key"] == "10.42.0.1,10.42.0.2,42")));
    // At sampling rate 1 every datagram sent is counted once: the flow log's total.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut total = 0.0;
    let mut after = 0;
    while total < f64::from(SENT) && Instant::now() < deadline {
        for r in server
            .json(&format!("/flows/json?name=inner_log&flowID={after}&maxFlows=100&timeout=5"))
            .as_array()
            .unwrap()
        {
            after = after.max(r["flowID"].as_u64().unwrap());
            if r["flowKeys"] == "10.42.0.1,10.42.0.2,9999,42" {
                total += r["value"].as_f64().unwrap();
            }
        }
    }
    assert_eq!(total, f64::from(SENT), "{}", server.log());
    let agents = server.json("/agents/json");
    assert_eq!(agents["192.0.2.2"]["sFlowDatagramsLost"], 0, "{agents}");
    server.stop();
    drop(probe);
    let left = processes_in(&pair.b);
    assert!(left.is_empty(), "still running in {}: {left:?}", pair.b);
}

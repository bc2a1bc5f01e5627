//! A real sFlow agent carrying real tunnels: Open vSwitch with its userspace datapath (no
//! kernel module) mirrors a namespace's traffic into GRE, GENEVE and VXLAN tunnel ports of its
//! own; the tunnelled packets cross a second OVS bridge that exports sFlow, and
//! `detunnel serve` must see the tenants inside each tunnel, the tunnel identifiers, and the
//! agent and port that saw them. Needs root, `ip` and Open vSwitch (CI has them; elsewhere it
//! skips with a notice).
mod common;

use common::serve::{command_in, Serve};
use common::*;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

/// Builds the namespaces and the switch (`ECOSYSTEM.md`'s recipe): in `ns`, p1 (10.50.0.1) →
/// o1 on br0, whose mirrors copy everything into GRE (key 100), GENEVE (VNI 5000) and VXLAN
/// (VNI 42) ports toward 192.0.2.20; br-phy (192.0.2.10) sends them out o3 → o4 on br-mon,
/// which forwards to o5 → p5 (192.0.2.20, namespace `remote`) and samples every packet into
/// sFlow (agent 127.0.0.1) to 127.0.0.1:6343.
const SETUP: &str = r#"
set -e
ip netns add $O; ip netns add $R
ip -n $O link set lo up; ip -n $R link set lo up
ip -n $O link add p1 type veth peer name o1
ip -n $O link add o3 type veth peer name o4
ip -n $O link add o5 type veth peer name p5
ip -n $O link set p5 netns $R
for d in p1 o1 o3 o4 o5; do ip -n $O link set $d up; done
ip -n $O addr add 10.50.0.1/24 dev p1
ip -n $O neigh add 10.50.0.2 lladdr 02:00:00:00:00:02 dev p1
ip -n $R addr add 192.0.2.20/24 dev p5; ip -n $R link set p5 up
export OVS_RUNDIR=$D OVS_LOGDIR=$D OVS_DBDIR=$D OVS_SYSCONFDIR=$D
ip netns exec $O ovsdb-tool create $D/conf.db /usr/share/openvswitch/vswitch.ovsschema
ip netns exec $O ovsdb-server --remote=punix:$D/db.sock --pidfile=$D/ovsdb-server.pid --detach --log-file=$D/ovsdb-server.log $D/conf.db
V="ip netns exec $O ovs-vsctl --db=unix:$D/db.sock"
$V --no-wait init
ip netns exec $O ovs-vswitchd unix:$D/db.sock --pidfile=$D/ovs-vswitchd.pid --detach --log-file=$D/ovs-vswitchd.log
for b in br0 br-phy br-mon; do $V add-br $b -- set bridge $b datapath_type=netdev; done
$V add-port br0 o1
$V add-port br-phy o3
$V add-port br-mon o4 -- add-port br-mon o5
ip -n $O addr add 192.0.2.10/24 dev br-phy; ip -n $O link set br-phy up
$V add-port br0 gre0 -- set interface gre0 type=gre options:remote_ip=192.0.2.20 options:key=100
$V add-port br0 gnv0 -- set interface gnv0 type=geneve options:remote_ip=192.0.2.20 options:key=5000
$V add-port br0 vx0 -- set interface vx0 type=vxlan options:remote_ip=192.0.2.20 options:key=42
for p in gre0 gnv0 vx0; do
  $V -- --id=@p get port $p -- --id=@m create mirror name=m$p select-all=true output-port=@p -- add bridge br0 mirrors @m
done
$V -- --id=@s create sflow agent=lo target=\"127.0.0.1:6343\" header=128 sampling=1 polling=2 -- set bridge br-mon sflow=@s
"#;

/// Stops the switch and removes the namespaces.
const TEARDOWN: &str = r#"
export OVS_RUNDIR=$D
[ -f $D/ovs-vswitchd.pid ] && ip netns exec $O ovs-appctl -t $D/ovs-vswitchd.$(cat $D/ovs-vswitchd.pid).ctl exit --cleanup
[ -f $D/ovsdb-server.pid ] && kill $(cat $D/ovsdb-server.pid)
ip netns del $O; ip netns del $R; rm -rf $D
"#;

struct Switch {
    env: [(&'static str, String); 3],
}

impl Switch {
    /// Builds the switch (SETUP, then `extra`) in namespaces named after `tag`.
    fn start(tag: &str, extra: &str) -> Switch {
        let id = std::process::id() % 100_000;
        let sw = Switch {
            env: [
                ("O", format!("dto{tag}{id}")),
                ("R", format!("dtr{tag}{id}")),
                ("D", std::env::temp_dir().join(format!("detunnel-ovs{tag}-{id}")).display().to_string()),
            ],
        };
        std::fs::create_dir_all(&sw.env[2].1).unwrap();
        let out = sw.run(&format!("{SETUP}\n{extra}"));
        assert!(out.status.success(), "OVS setup: {}", String::from_utf8_lossy(&out.stderr));
        sw
    }

    fn run(&self, script: &str) -> std::process::Output {
        Command::new("bash")
            .args(["-c", script])
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap()
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        let _ = self.run(TEARDOWN);
    }
}

const CONFIG: &str = r#"
[flows.inner]
keys = "ipsource.1,ipdestination.1,stack"
value = "frames"
t = 600
[flows.gre]
keys = "ipsource.1,grekey"
value = "frames"
t = 600
[flows.geneve]
keys = "ipsource.1,genevevni"
value = "frames"
t = 600
[flows.vxlan]
keys = "ipsource.1,vxlanvni"
value = "frames"
t = 600
[flows.port]
keys = "ipsource.1,inputifindex"
value = "frames"
t = 600
[flows.outer]
keys = "ipsource,ipdestination"
value = "frames"
t = 600
[flows.inner_log]
# In GRE the tenant's UDP header is the first one (udpdestinationport); inside VXLAN and
# GENEVE it is the second (udpdestinationport.1).
keys = "ipsource.1,ipdestination.1,or:udpdestinationport.1:udpdestinationport,stack"
value = "frames"
log = true
"#;

#[test]
fn open_vswitch_sflow_of_its_own_gre_geneve_and_vxlan() {
    if !root()
        || !have_tool("ip")
        || !have_tool("curl")
        || !have_tool("python3")
        || !have_tool("ovs-vswitchd")
    {
        return;
    }
    let sw = Switch::start("s", "");
    let ns = sw.env[0].1.clone();
    let server = Serve::start_in(
        Some(&ns),
        "netns-ovs",
        CONFIG,
        &["--workers", "1"],
        Some("127.0.0.1:6343".parse().unwrap()),
    );
    // A first datagram to port 9998 lets OVS resolve the tunnels' next hop (it drops what it
    // sends before that); then the counted ones to 9999.
    const SENT: u32 = 100;
    let script = format!(
        "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         s.sendto(b'x'*100,('10.50.0.2',9998))\ntime.sleep(1)\n\
         for i in range({SENT}):\n    s.sendto(b'x'*100,('10.50.0.2',9999))\n    time.sleep(0.005)\n"
    );
    let out = command_in(Some(&ns), "python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Every tunnel's tenants, and its identifier, and the endpoints outside.
    let want_inner = [
        "10.50.0.1,10.50.0.2,eth.ip.gre.eth.ip.udp",
        "10.50.0.1,10.50.0.2,eth.ip.udp.geneve.eth.ip.udp",
        "10.50.0.1,10.50.0.2,eth.ip.udp.vxlan.eth.ip.udp",
    ];
    let has = |v: &serde_json::Value, k: &str| v.as_array().unwrap().iter().any(|f| f["key"] == k);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let inner = server.json("/activeflows/ALL/inner/json?maxFlows=50");
        let ids: Vec<serde_json::Value> = ["gre", "geneve", "vxlan"]
            .iter()
            .map(|f| server.json(&format!("/activeflows/ALL/{f}/json")))
            .collect();
        let outer = server.json("/activeflows/ALL/outer/json?maxFlows=50");
        if want_inner.iter().all(|k| has(&inner, k))
            && has(&ids[0], "10.50.0.1,100")
            && has(&ids[1], "10.50.0.1,5000")
            && has(&ids[2], "10.50.0.1,42")
            && has(&outer, "192.0.2.10,192.0.2.20")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "flows never appeared: {inner}\n{ids:?}\n{outer}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // /dump: agent 127.0.0.1 (OVS's agent=lo) and its bridge's data source saw all three
    // tunnels; the samples' input port is o4, where the tunnels entered br-mon.
    let dump = server.json("/dump/ALL/inner/json");
    let d = dump.as_array().unwrap();
    assert_eq!(d.len(), 1, "{dump}");
    assert_eq!(d[0]["agent"], "127.0.0.1");
    let keys: Vec<&str> =
        d[0]["topKeys"].as_array().unwrap().iter().map(|k| k["key"].as_str().unwrap()).collect();
    assert!(want_inner.iter().all(|k| keys.contains(k)), "{dump}");
    let o4 = Command::new("ip").args(["-n", &ns, "-o", "link", "show", "o4"]).output().unwrap();
    let o4 = String::from_utf8_lossy(&o4.stdout).split(':').next().unwrap().trim().to_string();
    let ports = server.json("/activeflows/ALL/port/json");
    assert!(has(&ports, &format!("10.50.0.1,{o4}")), "{ports}");
    // Sampling every packet: each tunnel carried each datagram once.
    let mut totals: BTreeMap<String, f64> = BTreeMap::new();
    let mut after = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while totals.len() < 3 && Instant::now() < deadline {
        for r in server
            .json(&format!("/flows/json?name=inner_log&flowID={after}&maxFlows=100&timeout=5"))
            .as_array()
            .unwrap()
        {
            after = after.max(r["flowID"].as_u64().unwrap());
            let key = r["flowKeys"].as_str().unwrap();
            if key.starts_with("10.50.0.1,10.50.0.2,9999,") {
                *totals.entry(key.rsplit(',').next().unwrap().to_string()).or_default() +=
                    r["value"].as_f64().unwrap();
            }
        }
    }
    let want: BTreeMap<String, f64> =
        ["eth.ip.gre.eth.ip.udp", "eth.ip.udp.geneve.eth.ip.udp", "eth.ip.udp.vxlan.eth.ip.udp"]
            .iter()
            .map(|s| (s.to_string(), f64::from(SENT)))
            .collect();
    assert_eq!(totals, want, "{}", server.log());
    server.stop();
}

/// ERSPAN type II (session 1, index 7) and type III (session 2, hardware id 4) ports on br0,
/// mirrored like the others.
const ERSPAN: &str = r#"
set -e
export OVS_RUNDIR=$D OVS_LOGDIR=$D OVS_DBDIR=$D OVS_SYSCONFDIR=$D
V="ip netns exec $O ovs-vsctl --db=unix:$D/db.sock"
$V add-port br0 ers2 -- set interface ers2 type=erspan options:remote_ip=192.0.2.20 options:key=1 options:erspan_ver=1 options:erspan_idx=7
$V add-port br0 ers3 -- set interface ers3 type=erspan options:remote_ip=192.0.2.20 options:key=2 options:erspan_ver=2 options:erspan_dir=1 options:erspan_hwid=4
for p in ers2 ers3; do
  $V -- --id=@p get port $p -- --id=@m create mirror name=m$p select-all=true output-port=@p -- add bridge br0 mirrors @m
done
"#;

/// The frames of a capture.
fn frames(path: &std::path::Path) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    capture::FileReader::open(path.to_str().unwrap())
        .unwrap()
        .for_each(|f| {
            v.push(f.data.to_vec());
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    v
}

#[test]
fn open_vswitch_gre_erspan_geneve_and_vxlan_terminated_by_decap() {
    if !root()
        || !have_tool("ip")
        || !have_tool("tcpdump")
        || !have_tool("python3")
        || !have_tool("ovs-vswitchd")
    {
        return;
    }
    let sw = Switch::start("b", ERSPAN);
    let (ns, remote) = (sw.env[0].1.clone(), sw.env[1].1.clone());
    let tmp = TempDir::new("netns-ovs-decap");
    let out_pcap = tmp.join("out.pcapng");
    let sent_pcap = tmp.join("sent.pcap");
    // The far end of every tunnel, in the remote namespace: GRE and ERSPAN on a raw socket,
    // GENEVE and VXLAN on UDP.
    let decap = command_in(Some(&remote), detunnel())
        .args([
            "decap",
            "--listen",
            "gre://192.0.2.20",
            "--listen",
            "geneve://192.0.2.20",
            "--listen",
            "vxlan://192.0.2.20",
        ])
        .args(["--stats", "json", "-w"])
        .arg(&out_pcap)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // And the same tunnels captured live on the remote veth, two fanout workers.
    let ring_pcap = tmp.join("ring.pcapng");
    let ring = command_in(Some(&remote), detunnel())
        .args(["decap", "-i", "p5", "--workers", "2", "--filter", "ipprotocol!=1", "--stats", "json", "-w"])
        .arg(&ring_pcap)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let sent = command_in(Some(&ns), "tcpdump")
        .args(["-i", "p1", "-U", "-n", "-w"])
        .arg(&sent_pcap)
        .arg("udp port 9999")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    const N: u32 = 40;
    let script = format!(
        "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         s.sendto(b'warm',('10.50.0.2',9998))\ntime.sleep(1)\n\
         for i in range({N}):\n    s.sendto(bytes([i])*(50+i),('10.50.0.2',9999))\n    time.sleep(0.005)\n"
    );
    let out = command_in(Some(&ns), "python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_secs(1));
    for (child, sig) in [(&sent, "-INT"), (&decap, "-TERM"), (&ring, "-TERM")] {
        Command::new("/bin/kill").args([sig, &child.id().to_string()]).status().unwrap();
    }
    let _ = { sent }.wait();
    let out = decap.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{summary}");
    let sent = frames(&sent_pcap);
    assert_eq!(sent.len(), N as usize);
    // Every frame sent came out of every tunnel, unchanged.
    let got = frames(&out_pcap);
    for f in &sent {
        assert_eq!(
            got.iter().filter(|g| *g == f).count(),
            5,
            "a sent frame did not come out of all five tunnels: {summary}"
        );
    }
    // Live capture (-i): the same, and the kernel dropped nothing.
    let ring = ring.wait_with_output().unwrap();
    let ring_summary = String::from_utf8_lossy(&ring.stderr).to_string();
    assert!(ring.status.success(), "{ring_summary}");
    let from_ring = frames(&ring_pcap);
    for f in &sent {
        assert_eq!(from_ring.iter().filter(|g| *g == f).count(), 5, "-i: {ring_summary}");
    }
    let rj: serde_json::Value = serde_json::from_str(ring_summary.lines().last().unwrap()).unwrap();
    assert_eq!(rj["kernel"]["drops"], 0, "{ring_summary}");
    assert!(rj["kernel"]["packets"].as_u64().unwrap() >= 5 * u64::from(N), "{ring_summary}");
    let json: serde_json::Value = serde_json::from_str(summary.lines().last().unwrap()).unwrap();
    let mut kinds: Vec<(String, u64)> = json["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap().to_string(), s["id"].as_u64().unwrap()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [("erspan2", 1), ("erspan3", 2), ("geneve", 5000), ("gre", 100), ("vxlan", 42)]
            .map(|(k, i)| (k.to_string(), i)),
        "{summary}"
    );
}

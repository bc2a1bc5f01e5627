//! The live broker against a real peer: the Linux kernel's own VXLAN device in one namespace
//! sends to another, where `detunnel decap --listen vxlan://…` terminates VXLAN and writes the
//! inner frames into a TAP; tcpdump on the TAP must capture exactly the frames the VXLAN
//! device sent. Needs root, `ip`, tcpdump and python3 (CI has them; elsewhere it skips with a
//! notice).
mod common;

use common::serve::command_in;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Namespace `a` with a kernel VXLAN device (VNI 42, 10.42.0.1) toward 192.0.2.2 in namespace
/// `b`, which has no VXLAN device: detunnel is the tunnel's far end. Removed on drop.
struct Peers {
    a: String,
    b: String,
    c: String,
}

impl Peers {
    fn new(tag: &str) -> Peers {
        let id = std::process::id() % 100_000;
        let p = Peers { a: format!("dt{tag}a{id}"), b: format!("dt{tag}b{id}"), c: format!("dt{tag}c{id}") };
        for ns in [&p.a, &p.b, &p.c] {
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
        add_vxlan(&p.a, "vx0", "42", "192.0.2.2", &["dev", "va"]);
        ip(&["-n", &p.a, "addr", "add", "10.42.0.1/24", "dev", "vx0"]);
        ip(&["-n", &p.a, "link", "set", "vx0", "up"]);
        // A fixed neighbour: no ARP, so every inner frame is one the test sends.
        ip(&["-n", &p.a, "neigh", "add", "10.42.0.2", "lladdr", "02:00:00:00:00:02", "dev", "vx0"]);
        // The tool's namespace c: a kernel VXLAN device (VNI 77) that detunnel re-encapsulates to.
        ip(&["link", "add", "vc", "netns", &p.b, "type", "veth", "peer", "name", "vc2", "netns", &p.c]);
        ip(&["-n", &p.b, "addr", "add", "198.51.100.1/24", "dev", "vc"]);
        ip(&["-n", &p.c, "addr", "add", "198.51.100.2/24", "dev", "vc2"]);
        ip(&["-n", &p.b, "link", "set", "vc", "up"]);
        ip(&["-n", &p.c, "link", "set", "vc2", "up"]);
        add_vxlan(&p.c, "vx1", "77", "198.51.100.1", &["dev", "vc2"]);
        ip(&["-n", &p.c, "link", "set", "vx1", "up"]);
        p
    }
}

/// Adds kernel VXLAN device `name` (VNI `vni`, UDP 4789) toward `remote` in namespace `ns`,
/// with further `ip link add … type vxlan` arguments.
fn add_vxlan(ns: &str, name: &str, vni: &str, remote: &str, more: &[&str]) {
    let args =
        ["-n", ns, "link", "add", name, "type", "vxlan", "id", vni, "remote", remote, "dstport", "4789"];
    ip(&[&args[..], more].concat());
}

impl Drop for Peers {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b, &self.c] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn tcpdump(ns: &str, dev: &str, out: &Path) -> Running {
    let child = spawn_group(
        command_in(Some(ns), "tcpdump")
            .args(["-i", dev, "-U", "-n", "-w"])
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    Running(Some(child), "-INT")
}

/// Runs `detunnel decap ARGS` in namespace `ns` and waits until its TAP `last_tap` exists.
fn decap_into_taps(ns: &str, args: &[&str], last_tap: &str) -> Running {
    let child = command_in(Some(ns), detunnel())
        .arg("decap")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let running = Running(Some(child), "-TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new("ip")
        .args(["-n", ns, "-o", "link", "show", last_tap])
        .output()
        .unwrap()
        .stdout
        .is_empty()
    {
        assert!(Instant::now() < deadline, "{last_tap} never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    running
}

/// Sink `i` of decap's JSON summary.
fn json_sink(summary: &str, i: usize) -> serde_json::Value {
    let json: serde_json::Value = serde_json::from_str(summary.lines().last().unwrap()).unwrap();
    json["sinks"][i].clone()
}

#[test]
fn kernel_vxlan_terminated_into_a_tap_and_re_encapsulated_to_a_tool() {
    if !root() || !have_tool("ip") || !have_tool("tcpdump") || !have_tool("python3") {
        return;
    }
    let peers = Peers::new("d");
    let tmp = TempDir::new("netns-decap");
    let mut decap = decap_into_taps(
        &peers.b,
        &[
            "--listen",
            "vxlan://192.0.2.2:4789",
            "--tap",
            "mon0",
            "--stats",
            "json",
            "--to",
            "vxlan://198.51.100.2:4789?vni=77",
        ],
        "mon0",
    );
    let (sent_pcap, tap_pcap, tool_pcap) =
        (tmp.join("sent.pcap"), tmp.join("tap.pcap"), tmp.join("tool.pcap"));
    let mut on_tap = tcpdump(&peers.b, "mon0", &tap_pcap);
    let mut sent = tcpdump(&peers.a, "vx0", &sent_pcap);
    let mut at_tool = tcpdump(&peers.c, "vx1", &tool_pcap);
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
    at_tool.stop();
    let summary = decap.stop();
    let summary = String::from_utf8_lossy(&summary.stderr).to_string();
    let (sent, got) = (frames_in(&sent_pcap), frames_in(&tap_pcap));
    assert_eq!(sent.len(), N as usize, "the VXLAN device sent other frames too");
    assert_eq!(got, sent, "the TAP carried other frames than were sent: {summary}");
    // Re-encapsulated to the tool's kernel VXLAN device, which delivered the same frames.
    assert_eq!(frames_in(&tool_pcap), sent, "the tool's VXLAN device got other frames: {summary}");
    assert_eq!(json_sink(&summary, 1)["frames"], N);
    let json: serde_json::Value = serde_json::from_str(summary.lines().last().unwrap()).unwrap();
    assert_eq!(json_sink(&summary, 0)["frames"], N, "{summary}");
    assert_eq!(json["socket_drops"], 0, "{summary}");
    assert_eq!(json["streams"][0]["kind"], "vxlan");
    assert_eq!(json["streams"][0]["id"], 42);
    assert_eq!(json["streams"][0]["source"], "192.0.2.1");
}

/// A UDP frame between 10.42.0.1:`port` and 10.42.0.2:9999, in either direction, as bytes for
/// an AF_PACKET socket on the VXLAN device.
const CONVERSATIONS: &str = r#"
import socket, struct
def frame(src, dst, sport, dport, n):
    payload = bytes([n]) * 40
    udp = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), n, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return bytes.fromhex('020000000002' '020000000001' '0800') + ip + udp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('vx0', 0))
for port in range(40000, 40020):
    for n in range(3):
        s.send(frame('10.42.0.1', '10.42.0.2', port, 9999, n))
        s.send(frame('10.42.0.2', '10.42.0.1', 9999, port, n))
"#;

/// Which outputs (by their place in `paths`, from 1) carried each conversation of
/// `CONVERSATIONS` (known by its client port), and how many of its frames each did.
fn conversations_by_output(paths: &[&Path]) -> std::collections::BTreeMap<u16, Vec<(usize, usize)>> {
    let conversation = |f: &Vec<u8>| {
        let (sport, dport) = (u16::from_be_bytes([f[34], f[35]]), u16::from_be_bytes([f[36], f[37]]));
        if sport == 9999 {
            dport
        } else {
            sport
        }
    };
    let mut on: std::collections::BTreeMap<u16, Vec<(usize, usize)>> = Default::default();
    for (i, path) in paths.iter().enumerate() {
        for f in frames_in(path) {
            let e = on.entry(conversation(&f)).or_default();
            match e.iter_mut().find(|(t, _)| *t == i + 1) {
                Some(x) => x.1 += 1,
                None => e.push((i + 1, 1)),
            }
        }
    }
    // All 20 conversations, each whole (3 frames each way) on one output.
    assert_eq!(on.len(), 20, "{on:?}");
    for (c, outputs) in &on {
        assert_eq!(outputs.len(), 1, "conversation {c} split over outputs: {outputs:?}");
        assert_eq!(outputs[0].1, 6, "conversation {c} incomplete: {outputs:?}");
    }
    on
}

#[test]
fn balance_keeps_each_conversation_whole_on_one_tap() {
    if !root() || !have_tool("ip") || !have_tool("tcpdump") || !have_tool("python3") {
        return;
    }
    let peers = Peers::new("l");
    let taps = ["--tap", "mon1", "--tap", "mon2"];
    balanced(&peers, &taps, &peers.b, ["mon1", "mon2"]);
}

/// Sends `CONVERSATIONS` through `decap --listen vxlan://192.0.2.2 OUTPUTS --balance` in
/// namespace `b`, captures its two outputs `devs` in namespace `at`, and checks that each
/// conversation went whole to one of them, and that both had a share.
fn balanced(peers: &Peers, outputs: &[&str], at: &str, devs: [&str; 2]) {
    let tmp = TempDir::new(&format!("netns-balance-{}", devs[0]));
    let args = [&["--listen", "vxlan://192.0.2.2", "--balance", "-q"][..], outputs].concat();
    let mut decap = decap_into_taps(&peers.b, &args, outputs[outputs.len() - 1]);
    let (p1, p2) = (tmp.join("one.pcap"), tmp.join("two.pcap"));
    let mut t1 = tcpdump(at, devs[0], &p1);
    let mut t2 = tcpdump(at, devs[1], &p2);
    std::thread::sleep(Duration::from_secs(2));
    let out = command_in(Some(&peers.a), "python3").args(["-c", CONVERSATIONS]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_secs(1));
    t1.stop();
    t2.stop();
    decap.stop();
    let on = conversations_by_output(&[&p1, &p2]);
    let on_first = on.values().filter(|t| t[0].0 == 1).count();
    assert!((3..=17).contains(&on_first), "{on_first} of 20 conversations on {}", devs[0]);
}

#[test]
fn a_full_disk_costs_frames_not_the_process() {
    if !root() || !have_tool("python3") {
        return;
    }
    let tmp = TempDir::new("decap-full-disk");
    let disk = tmp.join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let mounted =
        Command::new("mount").args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"]).arg(&disk).status().unwrap();
    assert!(mounted.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(disk.clone());
    let port = common::serve::free_port(true);
    let out = disk.join("x.pcap");
    let mut decap = Running(
        Some(
            Command::new(detunnel())
                .args(["decap", "--listen", &format!("vxlan://127.0.0.1:{port}"), "--stats", "json", "-w"])
                .arg(&out)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ),
        "-TERM",
    );
    std::thread::sleep(Duration::from_millis(500));
    // VXLAN datagrams of ~1 kB frames with a counter in the payload.
    let send = |from: u32, n: u32| {
        let script = format!(
            "import socket,struct,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
             for i in range({from},{from}+{n}):\n    inner=bytes.fromhex('020000000002020000000001'+'88b5')+struct.pack('!I',i)+bytes(996)\n    s.sendto(bytes.fromhex('0800000000002a00')+inner,('127.0.0.1',{port}))\n    time.sleep(0.0005)\n"
        );
        assert!(Command::new("python3").args(["-c", &script]).status().unwrap().success());
    };
    // 600 kB into a 256 kB disk: the disk fills, frames are lost and counted.
    send(0, 600);
    std::thread::sleep(Duration::from_millis(500));
    // Space comes back; after its one-second back-off detunnel opens a fresh file.
    std::fs::remove_file(&out).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    send(600, 50);
    std::thread::sleep(Duration::from_millis(500));
    let summary = decap.stop();
    let summary = String::from_utf8_lossy(&summary.stderr).to_string();
    let line = summary.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("{summary}"));
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(json["frames_in"], 650, "{summary}");
    // Every frame is either written or counted as lost.
    let (out, lost) = (json["frames_out"].as_u64().unwrap(), json["write_errors"].as_u64().unwrap());
    assert_eq!(out + lost, 650, "{summary}");
    assert!(lost > 200, "{summary}");
    let mut files: Vec<_> = std::fs::read_dir(&disk).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let last = files.last().expect("a fresh file after the disk had room again");
    let got = frames_in(last);
    // The frames after the space came back, all of them, in the fresh file.
    let counters: Vec<u32> = got.iter().map(|f| u32::from_be_bytes([f[14], f[15], f[16], f[17]])).collect();
    assert_eq!(counters, (600..650).collect::<Vec<_>>(), "{summary}");
}

/// A small tmpfs mounted for a test, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: std::path::PathBuf, size: &str) -> SmallDisk {
        std::fs::create_dir_all(&path).unwrap();
        let options = format!("size={size}");
        let mounted =
            Command::new("mount").args(["-t", "tmpfs", "-o", &options, "tmpfs"]).arg(&path).status();
        assert!(mounted.unwrap().success());
        SmallDisk(path)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_while_rotating_reports_what_reached_the_files() {
    if !root() {
        return;
    }
    let tmp = TempDir::new("decap-full-rotating");
    let input = tmp.join("in.pcap");
    let made = Command::new(detunnel())
        .args(["generate", "-c", "4000", "--size", "900-1400", "--encap", "vxlan,gre", "-w"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(made.success());
    let disk = SmallDisk::mount(tmp.join("disk"), "2m");
    let out = disk.0.join("x.pcap");
    let run = Command::new(detunnel())
        .args(["decap", "-C", "1", "--stats", "json", "-r"])
        .arg(&input)
        .arg("-w")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    let line = stderr.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("{stderr}"));
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&disk.0).unwrap().map(|e| e.unwrap().path()).collect();
    // x.pcap, x.1.pcap, x.2.pcap, ...: in the order they were written.
    files.sort_by_key(|p| p.to_string_lossy().split('.').rev().nth(1).and_then(|n| n.parse::<u32>().ok()));
    assert!(files.len() >= 2, "{files:?}");
    // Every file is whole (the last one cut back to its last whole record), and the summary
    // counts exactly what is in them.
    let in_files: usize = files.iter().map(|f| frames_in(f).len()).sum();
    assert_eq!(json["frames_out"].as_u64().unwrap() as usize, in_files, "{stderr}");
    assert!(json["write_errors"].as_u64().unwrap() > 0, "{stderr}");
    assert_eq!(json["files"].as_u64().unwrap() as usize, files.len(), "{stderr}");
    // The error names the file that failed: the last one.
    let last = files.last().unwrap().file_name().unwrap().to_string_lossy().to_string();
    let error = stderr.lines().find(|l| l.starts_with("detunnel: ")).unwrap_or("");
    assert!(error.contains(&format!("writing {}", disk.0.join(&last).display())), "{last}: {stderr}");
    assert!(error.contains("No space left on device"), "{stderr}");
}

#[test]
fn a_deleted_tap_comes_back() {
    if !root() || !have_tool("ip") || !have_tool("tcpdump") || !have_tool("python3") {
        return;
    }
    let ns = format!("dttap{}", std::process::id() % 100_000);
    ip(&["netns", "add", &ns]);
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _gone = Gone(ns.clone());
    ip(&["-n", &ns, "link", "set", "lo", "up"]);
    let mut decap = decap_into_taps(
        &ns,
        // Two workers: each writes through its own descriptor, holding its frames until it lets
        // go of the job's lock; the one that finds the TAP gone creates it again.
        &["--listen", "vxlan://127.0.0.1:4789", "--workers", "2", "--tap", "mon9", "--stats", "json"],
        "mon9",
    );
    let send = |n: u32| {
        let script = format!(
            "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
             for i in range({n}):\n    s.sendto(bytes.fromhex('0800000000002a00'+'020000000002020000000001'+'88b5')+bytes([i])*60,('127.0.0.1',4789))\n    time.sleep(0.1)\n"
        );
        assert!(command_in(Some(&ns), "python3").args(["-c", &script]).status().unwrap().success());
    };
    // Someone deletes the TAP; frames meanwhile are refused, then detunnel creates it again.
    ip(&["-n", &ns, "link", "del", "mon9"]);
    send(20);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Command::new("ip")
        .args(["-n", &ns, "-o", "link", "show", "mon9", "up"])
        .output()
        .unwrap()
        .stdout
        .is_empty()
    {
        assert!(Instant::now() < deadline, "mon9 was not created again");
        std::thread::sleep(Duration::from_millis(50));
    }
    let tmp = TempDir::new("tap-back");
    let pcap = tmp.join("mon9.pcap");
    let mut listen = tcpdump(&ns, "mon9", &pcap);
    std::thread::sleep(Duration::from_secs(2));
    send(10);
    // tcpdump (libpcap's TPACKET_V3 ring) hands frames over when a block retires, up to a
    // second later.
    std::thread::sleep(Duration::from_millis(1500));
    listen.stop();
    let summary = decap.stop();
    let summary = String::from_utf8_lossy(&summary.stderr).to_string();
    assert!(summary.contains(r#""name": "tap mon9""#), "{summary}");
    // Ours (EtherType 0x88b5), not the kernel's own IPv6 chatter on a new interface.
    let ours: Vec<u8> =
        frames_in(&pcap).iter().filter(|f| f[12..14] == [0x88, 0xb5]).map(|f| f[14]).collect();
    assert_eq!(ours, (0..10).collect::<Vec<u8>>(), "frames after the TAP came back reach its listeners");
    // Created again once; both workers wrote through the new one, and it counts once.
    assert_eq!(json_sink(&summary, 0)["reopened"], 1, "{summary}");
}

/// Captures with `decap -i` plus `args` in namespace `ns` into `out` (summary as JSON on
/// standard error); its pid (`ip netns exec` runs detunnel in its own place) and the process.
fn capture_in(ns: &str, args: &[&str], out: &std::path::Path) -> (u32, Running) {
    decap_writing(ns, &[&["-i"], args].concat(), out)
}

/// Runs `detunnel decap ARGS --stats json -w OUT` in namespace `ns`; its pid and the process.
fn decap_writing(ns: &str, args: &[&str], out: &std::path::Path) -> (u32, Running) {
    let child = command_in(Some(ns), detunnel())
        .arg("decap")
        .args(args)
        .args(["--stats", "json", "-w"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child.id(), Running(Some(child), "-TERM"))
}

/// Sends UDP datagrams `from..from+10` (each 50 bytes of its number), 10 ms apart, from
/// namespace `ns` to port 9999 of `to`.
fn send_numbered(ns: &str, to: &str, from: u32) {
    let script = format!(
        "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         for i in range({from},{from}+10):\n    s.sendto(bytes([i])*50,('{to}',9999))\n    time.sleep(0.01)\n"
    );
    assert!(command_in(Some(ns), "python3").args(["-c", &script]).status().unwrap().success());
}

/// The numbers of the datagrams `send_numbered` sent that are in capture `out`, in order.
fn numbers_in(out: &std::path::Path) -> Vec<u8> {
    frames_in(out)
        .iter()
        .filter(|f| f.len() > 42 && f[12..14] == [0x08, 0x00] && f[23] == 17)
        .map(|f| f[42])
        .collect()
}

#[test]
fn capture_survives_its_interface_going_down_and_up() {
    if !root() || !have_tool("ip") || !have_tool("python3") {
        return;
    }
    let peers = Peers::new("i");
    let tmp = TempDir::new("netns-ifdown");
    let out = tmp.join("out.pcap");
    // The smallest ring, 4 blocks: frames 10 ms apart are retired a block or two each, so the
    // walk wraps around the ring several times.
    let (_, mut decap) = capture_in(&peers.b, &["vb", "--buffer", "4"], &out);
    std::thread::sleep(Duration::from_secs(1));
    let send = |from: u32| send_numbered(&peers.a, "10.42.0.2", from);
    send(0);
    std::thread::sleep(Duration::from_millis(300));
    ip(&["-n", &peers.b, "link", "set", "vb", "down"]);
    std::thread::sleep(Duration::from_secs(1));
    ip(&["-n", &peers.b, "link", "set", "vb", "up"]);
    std::thread::sleep(Duration::from_secs(2));
    send(10);
    std::thread::sleep(Duration::from_millis(500));
    let summary = decap.stop();
    let summary = String::from_utf8_lossy(&summary.stderr).to_string();
    // The inner UDP datagrams, by their first payload byte: all 20, before and after.
    assert_eq!(numbers_in(&out), (0..20).collect::<Vec<u8>>(), "{summary}");
}

/// CPU time process `pid` has used, in clock ticks (user + system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn capture_rests_while_its_interface_is_gone_and_takes_it_back_when_made_again() {
    gone_and_back("j", &["--workers", "2"]);
}

#[test]
fn af_xdp_capture_rests_while_its_interface_is_gone_and_takes_it_back_when_made_again() {
    gone_and_back("k", &["--xdp"]);
}

/// Captures from interface `ub` (with `extra` arguments) while it goes down, is deleted and
/// is made again: the workers rest meanwhile, then take it back.
fn gone_and_back(tag: &str, extra: &[&str]) {
    if !root() || !have_tool("ip") || !have_tool("python3") {
        return;
    }
    let peers = Peers::new(tag);
    let make = || {
        ip(&[
            "link", "add", "ua", "netns", &peers.a, "type", "veth", "peer", "name", "ub", "netns", &peers.b,
        ]);
        ip(&["-n", &peers.a, "addr", "add", "10.77.0.1/24", "dev", "ua"]);
        ip(&["-n", &peers.b, "addr", "add", "10.77.0.2/24", "dev", "ub"]);
        ip(&["-n", &peers.a, "link", "set", "ua", "up"]);
        ip(&["-n", &peers.b, "link", "set", "ub", "up"]);
        // Under an XDP program ub's kernel answers no ARP: a fixed neighbour.
        let out = command_in(Some(&peers.b), "cat").arg("/sys/class/net/ub/address").output().unwrap();
        let mac = String::from_utf8(out.stdout).unwrap();
        ip(&["-n", &peers.a, "neigh", "replace", "10.77.0.2", "lladdr", mac.trim(), "dev", "ua"]);
    };
    make();
    let tmp = TempDir::new(&format!("netns-ifgone-{tag}"));
    let out = tmp.join("out.pcap");
    let (pid, mut decap) = capture_in(&peers.b, &[&["ub"], extra].concat(), &out);
    std::thread::sleep(Duration::from_secs(1));
    let send = |from: u32| send_numbered(&peers.a, "10.77.0.2", from);
    send(0);
    std::thread::sleep(Duration::from_millis(300));
    // Down, then deleted: the workers wait without spinning (they did, at 75% of a core).
    ip(&["-n", &peers.b, "link", "set", "ub", "down"]);
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(1500));
    ip(&["-n", &peers.b, "link", "del", "ub"]);
    std::thread::sleep(Duration::from_millis(1500));
    let used = cpu_ticks(pid) - before;
    assert!(used < 30, "{used} ticks of CPU in 3 s while the interface was down and gone");
    // Made again, with another index: both workers open it again and capture.
    make();
    std::thread::sleep(Duration::from_millis(2500));
    send(10);
    std::thread::sleep(Duration::from_millis(500));
    let summary = decap.stop();
    let summary = String::from_utf8_lossy(&summary.stderr).to_string();
    assert_eq!(summary.matches("interface ub disappeared").count(), 1, "{summary}");
    assert_eq!(summary.matches("interface ub is back").count(), 1, "{summary}");
    assert_eq!(numbers_in(&out), (0..20).collect::<Vec<u8>>(), "{summary}");
}

#[test]
fn outer_fragments_made_by_the_kernel_are_reassembled_by_the_workers() {
    outer_fragments_reassembled("g", &["-i", "vb", "--workers", "2"]);
}

#[test]
fn outer_fragments_reach_an_af_xdp_endpoint_and_are_reassembled() {
    outer_fragments_reassembled("h", &["--listen", "vxlan://192.0.2.2", "--xdp"]);
}

/// Sends 30 frames whose VXLAN datagrams the kernel fragments to detunnel, receiving with
/// `args`: each frame is written whole, once.
fn outer_fragments_reassembled(tag: &str, args: &[&str]) {
    if !root() || !have_tool("ip") || !have_tool("python3") {
        return;
    }
    // A VXLAN device not tied to the veth takes 4000-byte frames over its 1500-byte underlay:
    // the kernel sends each VXLAN datagram as IPv4 fragments (VXLAN does not set DF), as a
    // mirror session that outgrew the path MTU does.
    let peers = Peers::new(tag);
    add_vxlan(&peers.a, "vx9", "43", "192.0.2.2", &["local", "192.0.2.1"]);
    ip(&["-n", &peers.a, "link", "set", "vx9", "mtu", "4000", "up"]);
    let tmp = TempDir::new(&format!("netns-frag-{tag}"));
    let out = tmp.join("out.pcap");
    let child = command_in(Some(&peers.b), detunnel())
        .arg("decap")
        .args(args)
        .args(["--stats", "json", "-w"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut decap = Running(Some(child), "-TERM");
    std::thread::sleep(Duration::from_secs(1));
    // 30 Ethernet frames of 2,514 bytes (EtherType 0x88b5, payload byte i) into vx9.
    let script = "import socket,time\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n\
                  s.bind(('vx9',0))\n\
                  for i in range(30):\n    s.send(bytes.fromhex('020000000002020000000001'+'88b5')+bytes([i])*2500)\n    time.sleep(0.01)\n";
    assert!(command_in(Some(&peers.a), "python3").args(["-c", script]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(500));
    let done = decap.stop();
    let summary = String::from_utf8_lossy(&done.stderr).to_string();
    assert!(done.status.success(), "{summary}");
    let mut got: Vec<u8> = frames_in(&out)
        .iter()
        .filter(|f| f.len() == 2514 && f[12..14] == [0x88, 0xb5] && f[14..].iter().all(|b| *b == f[14]))
        .map(|f| f[14])
        .collect();
    got.sort();
    assert_eq!(got, (0..30).collect::<Vec<u8>>(), "every frame whole, once: {summary}");
    let line = summary.lines().find(|l| l.starts_with('{')).unwrap();
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    let r = &json["reassembly"];
    assert_eq!(r["reassembled"], 30, "{summary}");
    assert_eq!(r["fragments"], 60, "two fragments a datagram: {summary}");
    assert_eq!((r["expired"].as_u64(), r["refused"].as_u64()), (Some(0), Some(0)), "{summary}");
}

/// Tool ports `tp1`, `tp2` in namespace `b`: veth pairs whose other ends, `tq1` and `tq2`, are
/// in the tool's namespace `c`, where tcpdump listens as a tool would.
fn tool_ports(peers: &Peers) {
    for i in ["1", "2"] {
        let (port, tool) = (format!("tp{i}"), format!("tq{i}"));
        ip(&[
            "link", "add", &port, "netns", &peers.b, "type", "veth", "peer", "name", &tool, "netns", &peers.c,
        ]);
        ip(&["-n", &peers.b, "link", "set", &port, "up"]);
        ip(&["-n", &peers.c, "link", "set", &tool, "up"]);
    }
}

/// Sends `n` UDP datagrams from namespace `a` through its kernel VXLAN device, `first` the
/// first payload byte.
fn send_through_vxlan(peers: &Peers, first: u32, n: u32) {
    let script = format!(
        "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         for i in range({first},{first}+{n}):\n    s.sendto(bytes([i%256])*(60+i*7%900),('10.42.0.2',9999))\n    time.sleep(0.005)\n"
    );
    let out = command_in(Some(&peers.a), "python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// With tool ports made in `peers`: a VXLAN endpoint in `b` writing onto tool port `port`
/// (summary as JSON), and tcpdump on `a`'s VXLAN device into `sent.pcap` in `tmp`; the two,
/// that file and `tool.pcap` beside it, for what the tool gets.
fn onto_tool_port(peers: &Peers, port: &str, tmp: &TempDir) -> (Running, Running, PathBuf, PathBuf) {
    tool_ports(peers);
    let decap =
        decap_into_taps(&peers.b, &["--listen", "vxlan://192.0.2.2", "--out", port, "--stats", "json"], port);
    let (sent_pcap, tool_pcap) = (tmp.join("sent.pcap"), tmp.join("tool.pcap"));
    (decap, tcpdump(&peers.a, "vx0", &sent_pcap), sent_pcap, tool_pcap)
}

#[test]
fn tool_ports_carry_the_stripped_frames_and_survive_an_interface_going_down() {
    if !root() || !have_tool("ip") || !have_tool("tcpdump") || !have_tool("python3") {
        return;
    }
    let peers = Peers::new("o");
    let tmp = TempDir::new("netns-out");
    let (mut decap, mut sent, sent_pcap, tool_pcap) = onto_tool_port(&peers, "tp1", &tmp);
    let mut at_tool = tcpdump(&peers.c, "tq1", &tool_pcap);
    std::thread::sleep(Duration::from_secs(2));
    send_through_vxlan(&peers, 0, 100);
    std::thread::sleep(Duration::from_millis(500));
    // The port goes down: what is sent meanwhile is refused and counted, not waited for.
    ip(&["-n", &peers.b, "link", "set", "tp1", "down"]);
    send_through_vxlan(&peers, 100, 20);
    std::thread::sleep(Duration::from_millis(500));
    ip(&["-n", &peers.b, "link", "set", "tp1", "up"]);
    std::thread::sleep(Duration::from_secs(2));
    send_through_vxlan(&peers, 120, 30);
    std::thread::sleep(Duration::from_secs(1));
    sent.stop();
    at_tool.stop();
    let summary = String::from_utf8_lossy(&decap.stop().stderr).to_string();
    let (sent, got) = (frames_in(&sent_pcap), frames_in(&tool_pcap));
    assert_eq!(sent.len(), 150, "the VXLAN device sent other frames too");
    // Exactly the stripped frames, byte for byte: the first 100, then the 30 after the port
    // came back; of the 20 sent while it was down, those refused are counted.
    let same = |a: &[Vec<u8>], b: &[Vec<u8>]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y);
    assert!(
        got.len() >= 130 && same(&got[..100], &sent[..100]),
        "{} frames at the tool: {summary}",
        got.len()
    );
    assert!(
        same(&got[got.len() - 30..], &sent[120..]),
        "the frames after the port came back differ: {summary}"
    );
    let port = json_sink(&summary, 0);
    assert_eq!(port["name"], "out tp1", "{summary}");
    let (frames, errors) = (port["frames"].as_u64().unwrap(), port["errors"].as_u64().unwrap());
    assert_eq!(frames + errors, 150, "{summary}");
    assert_eq!(frames, got.len() as u64, "written frames are the frames the tool got: {summary}");
    // Down and up again, the port's socket carries on: nothing was opened again.
    assert_eq!(port["reopened"], 0, "{summary}");
}

#[test]
fn a_tool_port_deleted_and_created_again_is_opened_again() {
    if !root() || !have_tool("ip") || !have_tool("tcpdump") || !have_tool("python3") {
        return;
    }
    let peers = Peers::new("q");
    let tmp = TempDir::new("netns-out-again");
    let (mut decap, mut sent, sent_pcap, tool_pcap) = onto_tool_port(&peers, "tp2", &tmp);
    std::thread::sleep(Duration::from_secs(2));
    send_through_vxlan(&peers, 0, 20);
    // Deleted (both ends of the pair): what is sent meanwhile is refused and counted.
    ip(&["-n", &peers.b, "link", "del", "tp2"]);
    send_through_vxlan(&peers, 20, 10);
    std::thread::sleep(Duration::from_millis(500));
    ip(&["link", "add", "tp2", "netns", &peers.b, "type", "veth", "peer", "name", "tq2", "netns", &peers.c]);
    ip(&["-n", &peers.b, "link", "set", "tp2", "up"]);
    ip(&["-n", &peers.c, "link", "set", "tq2", "up"]);
    let mut at_tool = tcpdump(&peers.c, "tq2", &tool_pcap);
    // A port is looked for again at most once a second.
    std::thread::sleep(Duration::from_secs(2));
    send_through_vxlan(&peers, 30, 30);
    std::thread::sleep(Duration::from_secs(1));
    sent.stop();
    at_tool.stop();
    let summary = String::from_utf8_lossy(&decap.stop().stderr).to_string();
    let (sent, got) = (frames_in(&sent_pcap), frames_in(&tool_pcap));
    assert_eq!(sent.len(), 60, "the VXLAN device sent other frames too");
    // The frames after it was created again reach the tool, byte for byte.
    let ours: Vec<&Vec<u8>> = got.iter().filter(|f| sent.contains(f)).collect();
    assert_eq!(ours.len(), 30, "{summary}");
    assert!(ours.iter().zip(&sent[30..]).all(|(a, b)| *a == b), "{summary}");
    let port = json_sink(&summary, 0);
    let (frames, errors) = (port["frames"].as_u64().unwrap(), port["errors"].as_u64().unwrap());
    assert_eq!(frames + errors, 60, "{summary}");
    assert!(errors >= 10, "the frames sent while it was gone are refused: {summary}");
    assert_eq!(port["reopened"], 1, "{summary}");
}

#[test]
fn balance_keeps_each_conversation_whole_on_one_tool_port() {
    if !root() || !have_tool("ip") || !have_tool("tcpdump") || !have_tool("python3") {
        return;
    }
    let peers = Peers::new("p");
    tool_ports(&peers);
    balanced(&peers, &["--out", "tp1", "--out", "tp2"], &peers.c, ["tq1", "tq2"]);
}

#[test]
fn generate_sends_onto_an_interface_at_the_rate_asked() {
    if !root() || !have_tool("ip") {
        return;
    }
    let peers = Peers::new("g");
    let rx = || {
        let out = command_in(Some(&peers.b), "cat")
            .arg("/sys/class/net/vb/statistics/rx_packets")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().unwrap()
    };
    let before = rx();
    let started = Instant::now();
    let out = command_in(Some(&peers.a), detunnel())
        .args(["generate", "--iface", "va", "-c", "20000", "--size", "64-1000", "--rate", "10000"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("20000 frames") && said.contains("refused 0, too big 0"), "{said}");
    // 20,000 frames at 10,000 a second: two seconds, give or take the start.
    assert!(took >= Duration::from_millis(1900) && took < Duration::from_secs(10), "{took:?}");
    assert!(rx() - before >= 20_000, "{} frames arrived", rx() - before);
}

#[test]
fn two_workers_share_one_erspan_session_by_the_conversations_it_carries() {
    if !root() || !have_tool("ip") {
        return;
    }
    // One switch mirroring into one ERSPAN II session: the kernel's fanout hash reads only
    // the outer addresses, which are the same for every frame (one worker took them all).
    let peers = Peers::new("s");
    let tmp = TempDir::new("netns-spread");
    let out = tmp.join("out.pcap");
    let (_, mut decap) = capture_in(&peers.b, &["vb", "--workers", "2"], &out);
    std::thread::sleep(Duration::from_secs(1));
    let sent = command_in(Some(&peers.a), detunnel())
        .args(["generate", "--iface", "va", "-c", "4000", "--encap", "erspan2", "--streams", "1"])
        .args(["--flows", "1000", "--size", "64-300", "--rate", "20000"])
        .output()
        .unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    std::thread::sleep(Duration::from_millis(500));
    let (text, summary) = summary_of(&decap.stop());
    assert_eq!(summary["frames_out"], 4000, "{text}");
    let workers: Vec<u64> =
        summary["workers"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
    assert_eq!(workers.iter().sum::<u64>(), 4000, "{text}");
    assert!(workers.iter().all(|&n| n > 1600), "each worker takes a fair share: {workers:?}");
    assert_eq!(frames_in(&out).len(), 4000);
}

/// The inner UDP datagrams to port 9999 in capture `path`, sorted (two workers keep each
/// flow's order, not the order between flows).
fn datagrams_to_9999(path: &Path) -> Vec<Vec<u8>> {
    let mut frames: Vec<Vec<u8>> = frames_in(path)
        .into_iter()
        .filter(|f| {
            f.len() > 42 && f[12..14] == [0x08, 0x00] && f[23] == 17 && f[36..38] == 9999u16.to_be_bytes()
        })
        .collect();
    frames.sort();
    frames
}

#[test]
fn two_workers_write_into_one_tap_one_tool_port_and_one_tunnel() {
    if !root() || !have_tool("ip") || !have_tool("tcpdump") || !have_tool("python3") {
        return;
    }
    let peers = Peers::new("w");
    tool_ports(&peers);
    let tmp = TempDir::new("netns-workers");
    // Each worker writes its frames into the TAP, its own ring of the tool port and its own
    // socket of the tunnel after letting go of the job's lock.
    let args = ["-i", "vb", "--workers", "2", "--tap", "mon0", "--out", "tp1", "--stats", "json"];
    let to = ["--to", "vxlan://198.51.100.2:4789?vni=77"];
    let mut decap = decap_into_taps(&peers.b, &[&args[..], &to].concat(), "mon0");
    let (sent_pcap, tap_pcap, tool_pcap) =
        (tmp.join("sent.pcap"), tmp.join("tap.pcap"), tmp.join("tool.pcap"));
    let tunnelled_pcap = tmp.join("tunnelled.pcap");
    let mut tunnelled = tcpdump(&peers.c, "vx1", &tunnelled_pcap);
    let mut sent = tcpdump(&peers.a, "vx0", &sent_pcap);
    let mut on_tap = tcpdump(&peers.b, "mon0", &tap_pcap);
    let mut at_tool = tcpdump(&peers.c, "tq1", &tool_pcap);
    std::thread::sleep(Duration::from_secs(2));
    // 300 datagrams from 30 source ports: the kernel's VXLAN source port follows the inner
    // flow, and the fanout spreads the outer flows over the two workers.
    const N: usize = 300;
    let script = format!(
        "import socket,time\nss=[socket.socket(socket.AF_INET,socket.SOCK_DGRAM) for _ in range(30)]\n\
         for i,s in enumerate(ss): s.bind(('10.42.0.1',41000+i))\n\
         for i in range({N}):\n    ss[i%30].sendto(bytes([i%256])*(60+i%400),('10.42.0.2',9999))\n    time.sleep(0.002)\n"
    );
    let out = command_in(Some(&peers.a), "python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_millis(1500));
    sent.stop();
    on_tap.stop();
    at_tool.stop();
    tunnelled.stop();
    let summary = String::from_utf8_lossy(&decap.stop().stderr).to_string();
    let sent = datagrams_to_9999(&sent_pcap);
    assert_eq!(sent.len(), N, "the VXLAN device sent other frames");
    assert_eq!(datagrams_to_9999(&tap_pcap), sent, "the TAP's frames: {summary}");
    assert_eq!(datagrams_to_9999(&tool_pcap), sent, "the tool port's frames: {summary}");
    assert_eq!(datagrams_to_9999(&tunnelled_pcap), sent, "the tool's VXLAN device's frames: {summary}");
    for i in 0..3 {
        let sink = json_sink(&summary, i);
        assert!(sink["frames"].as_u64().unwrap() >= N as u64, "{summary}");
        assert_eq!((&sink["errors"], &sink["too_big"]), (&0.into(), &0.into()), "{summary}");
    }
}

/// Runs `detunnel decap ARGS --stats json -w OUT` in namespace `ns`, giving it a second to
/// attach its XDP program.
fn decap_to_file(ns: &str, args: &[&str], out: &Path) -> Running {
    let (_, running) = decap_writing(ns, args, out);
    std::thread::sleep(Duration::from_secs(1));
    running
}

/// The JSON summary of a stopped decap.
fn summary_of(done: &std::process::Output) -> (String, serde_json::Value) {
    let text = String::from_utf8_lossy(&done.stderr).to_string();
    assert!(done.status.success(), "{text}");
    let line = text.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no summary: {text}"));
    (text.clone(), serde_json::from_str(line).unwrap())
}

/// True when the kernel of `to` answers, within a second, a datagram sent from namespace `ns`
/// to its UDP port 9 (nothing listens: the answer is ICMP port unreachable).
fn kernel_answers(ns: &str, to: &str) -> bool {
    let script = format!(
        "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(1)\n\
         s.connect(('{to}',9))\ns.send(b'probe')\n\
         try:\n    s.recv(16)\nexcept ConnectionRefusedError:\n    sys.exit(0)\nexcept socket.timeout:\n    sys.exit(1)\n"
    );
    command_in(Some(ns), "python3").args(["-c", &script]).status().unwrap().success()
}

#[test]
fn an_endpoint_through_af_xdp_takes_its_tunnel_and_leaves_the_rest_to_the_kernel() {
    if !root() || !have_tool("ip") || !have_tool("tcpdump") || !have_tool("python3") {
        return;
    }
    let peers = Peers::new("x");
    let tmp = TempDir::new("netns-xdp");
    let (sent_pcap, out) = (tmp.join("sent.pcap"), tmp.join("out.pcap"));
    let mut decap = decap_to_file(&peers.b, &["--listen", "vxlan://192.0.2.2", "--xdp"], &out);
    let mut sent = tcpdump(&peers.a, "vx0", &sent_pcap);
    std::thread::sleep(Duration::from_secs(2));
    // The host still answers what is not the tunnel (ARP for the VXLAN device's first datagram
    // too: no fixed neighbour for 192.0.2.2).
    assert!(kernel_answers(&peers.a, "192.0.2.2"), "the kernel no longer answers under the XDP program");
    send_through_vxlan(&peers, 0, 100);
    std::thread::sleep(Duration::from_millis(500));
    sent.stop();
    let (text, json) = summary_of(&decap.stop());
    let sent = frames_in(&sent_pcap);
    assert_eq!(sent.len(), 100, "the VXLAN device sent other frames too");
    assert_eq!(frames_in(&out), sent, "the file holds other frames than were sent: {text}");
    assert_eq!(json["kernel"]["packets"], 100, "only the tunnel's packets reach the socket: {text}");
    assert_eq!(json["kernel"]["drops"], 0, "{text}");
    assert_eq!(json["sources"][0]["name"], "vxlan://192.0.2.2:4789", "{text}");
    assert_eq!(json["streams"][0]["id"], 42, "{text}");
}

#[test]
fn an_interface_through_af_xdp_gives_every_frame_to_detunnel_and_none_to_the_kernel() {
    if !root() || !have_tool("ip") || !have_tool("tcpdump") || !have_tool("python3") {
        return;
    }
    let peers = Peers::new("y");
    // vb's kernel will not answer ARP under the program: a fixed neighbour for the tunnel.
    let mac = String::from_utf8(
        command_in(Some(&peers.b), "cat").arg("/sys/class/net/vb/address").output().unwrap().stdout,
    )
    .unwrap();
    ip(&["-n", &peers.a, "neigh", "add", "192.0.2.2", "lladdr", mac.trim(), "dev", "va"]);
    let tmp = TempDir::new("netns-xdp-i");
    let (sent_pcap, out) = (tmp.join("sent.pcap"), tmp.join("out.pcap"));
    // One queue, so more workers than that are refused, saying how many.
    let refused = command_in(Some(&peers.b), detunnel())
        .args(["decap", "-i", "vb", "--xdp", "--workers", "2", "-w", "/dev/null"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && said.contains("--workers 1"), "{said}");
    let mut decap = decap_to_file(&peers.b, &["-i", "vb", "--xdp"], &out);
    let mut sent = tcpdump(&peers.a, "vx0", &sent_pcap);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !kernel_answers(&peers.a, "192.0.2.2"),
        "the kernel answered a datagram the program should have taken"
    );
    send_through_vxlan(&peers, 0, 100);
    std::thread::sleep(Duration::from_millis(500));
    sent.stop();
    let (text, json) = summary_of(&decap.stop());
    let sent = frames_in(&sent_pcap);
    assert_eq!(sent.len(), 100, "the VXLAN device sent other frames too");
    // The probe came to detunnel, untunnelled, and is written as it came.
    let got = frames_in(&out);
    let inner = |f: &&Vec<u8>| f.len() > 34 && f[12..14] == [0x08, 0x00] && f[26..29] == [10, 42, 0];
    let stripped: Vec<Vec<u8>> = got.iter().filter(inner).cloned().collect();
    assert_eq!(stripped, sent, "the file holds other stripped frames than were sent: {text}");
    let probe =
        |f: &Vec<u8>| f.len() > 42 && f[23] == 17 && f[36..38] == [0, 9] && f[42..].starts_with(b"probe");
    assert!(got.iter().any(probe), "no probe in the file: {text}");
    assert_eq!(json["kernel"]["drops"], 0, "{text}");
    assert_eq!(json["sources"][0]["name"], "interface vb", "{text}");
}

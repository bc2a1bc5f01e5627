//! `detunnel decap` options end to end: reassembly, ERSPAN timestamps, duplicates, split
//! streams, what to strip, and an interrupted run.
mod common;

use capture::{FileReader, FileWriter, Format};
use common::*;
use craft::{build, Header};
use dissect::LinkType;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::{Command, Stdio};

fn inner(n: u8) -> Vec<Header> {
    vec![
        Header::Eth { src: [0, 0x50, 0x56, 0, 0, n], dst: [0, 0x1b, 0x21, 0, 0, 1] },
        Header::ipv4([192, 168, 0, n], [172, 16, 0, 1]),
        Header::Udp { src: 1000 + u16::from(n), dst: 53 },
        Header::Payload(vec![n; 40]),
    ]
}

fn outer() -> Vec<Header> {
    vec![Header::eth(), Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2])]
}

/// Writes `frames` with their timestamps (ns) as a pcap file.
fn write(path: &Path, frames: &[(u64, Vec<u8>)]) {
    let mut w = FileWriter::create(path.to_str().unwrap(), Format::Pcap, LinkType::ETHERNET, "test").unwrap();
    for (ts, f) in frames {
        w.write(0, *ts, f.len() as u32, f).unwrap();
    }
    w.finish().unwrap();
}

/// Reads every frame of a capture: (timestamp ns, bytes).
fn read(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut v = Vec::new();
    FileReader::open(path.to_str().unwrap())
        .unwrap()
        .for_each(|f| {
            v.push((f.ts_nanos, f.data.to_vec()));
            ControlFlow::Continue(())
        })
        .unwrap();
    v
}

fn decap(args: &[&str]) -> (bool, String) {
    let out = Command::new(detunnel()).arg("decap").args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
}

const T0: u64 = 1_700_000_000_000_000_000;

#[test]
fn outer_fragments_are_reassembled_before_stripping() {
    let tmp = TempDir::new("opt-frag");
    let big = [outer(), vec![Header::Udp { src: 7, dst: 4789 }, Header::Vxlan { vni: 3 }], inner(1)].concat();
    let mut whole = build(&big);
    // Make the inner frame larger than one fragment.
    let extra = 1200;
    whole.extend(std::iter::repeat_n(9u8, extra));
    let ip_len = (whole.len() - 14) as u16;
    whole[16..18].copy_from_slice(&ip_len.to_be_bytes());
    whole[24..26].copy_from_slice(&[0, 0]);
    let c = wire::checksum(&whole[14..34]);
    whole[24..26].copy_from_slice(&c.to_be_bytes());
    let udp_len = (whole.len() - 34) as u16;
    whole[38..40].copy_from_slice(&udp_len.to_be_bytes());
    let mut parts = craft::fragment_ipv4(&whole, 600);
    assert_eq!(parts.len(), 3);
    parts.swap(1, 2);
    let plain = build(&inner(2));
    let mut frames: Vec<(u64, Vec<u8>)> =
        parts.into_iter().enumerate().map(|(i, p)| (T0 + i as u64, p)).collect();
    frames.push((T0 + 10, plain.clone()));
    let input = tmp.join("in.pcap");
    let output = tmp.join("out.pcap");
    write(&input, &frames);
    let (ok, stats) =
        decap(&["-r", input.to_str().unwrap(), "-w", output.to_str().unwrap(), "--stats", "json"]);
    assert!(ok, "{stats}");
    let out = read(&output);
    assert_eq!(out.len(), 2, "{stats}");
    assert_eq!(out[0].1, whole[50..].to_vec(), "the inner frame of the reassembled datagram");
    assert_eq!(out[1].1, plain);
    assert!(
        stats.contains(
            "\"reassembly\": {\"fragments\": 3, \"reassembled\": 1, \"expired\": 0, \"refused\": 0}"
        ),
        "{stats}"
    );
}

#[test]
fn erspan_timestamps_rebuild_frame_times() {
    let tmp = TempDir::new("opt-ts");
    // The ERSPAN counter (100 ns) advances 1.0005 s per frame; the capture clock 1 s plus jitter.
    let start = u32::MAX - 5_000_000;
    let frames: Vec<(u64, Vec<u8>)> = (0..5u64)
        .map(|i| {
            let ts = start.wrapping_add((i * 10_005_000) as u32);
            let f = build(
                &[outer(), vec![Header::Erspan3 { session: 4, timestamp: ts, platform: None }], inner(1)]
                    .concat(),
            );
            (T0 + i * 1_000_000_000 + (i % 2) * 3_000_000, f)
        })
        .collect();
    let input = tmp.join("in.pcap");
    write(&input, &frames);
    let by_capture = tmp.join("capture.pcap");
    let by_erspan = tmp.join("erspan.pcap");
    assert!(decap(&["-q", "-r", input.to_str().unwrap(), "-w", by_capture.to_str().unwrap()]).0);
    let (ok, stats) =
        decap(&["-r", input.to_str().unwrap(), "-w", by_erspan.to_str().unwrap(), "--timestamps", "erspan"]);
    assert!(ok, "{stats}");
    let captured: Vec<u64> = read(&by_capture).iter().map(|f| f.0).collect();
    let rebuilt: Vec<u64> = read(&by_erspan).iter().map(|f| f.0).collect();
    assert_eq!(captured, frames.iter().map(|f| f.0).collect::<Vec<_>>());
    assert_eq!(
        rebuilt,
        (0..5u64).map(|i| T0 + i * 1_000_500_000).collect::<Vec<_>>(),
        "across the counter's wrap"
    );
    assert!(stats.contains("erspan timestamps: 5 rebuilt"), "{stats}");
}

#[test]
fn duplicates_within_the_window_are_dropped() {
    let tmp = TempDir::new("opt-dedup");
    // The same packet mirrored at ingress and egress, by two sessions, 1 ms apart; and again later.
    let copy = |session| build(&[outer(), vec![Header::Erspan2 { session, index: 1 }], inner(1)].concat());
    let frames = vec![
        (T0, copy(1)),
        (T0 + 1_000_000, copy(2)),
        (T0 + 50_000_000, copy(1)),
        (T0 + 50_500_000, build(&inner(2))),
    ];
    let input = tmp.join("in.pcap");
    let output = tmp.join("out.pcap");
    write(&input, &frames);
    let (ok, stats) =
        decap(&["-r", input.to_str().unwrap(), "-w", output.to_str().unwrap(), "--dedup", "10"]);
    assert!(ok, "{stats}");
    assert_eq!(read(&output).len(), 3, "{stats}");
    assert!(stats.contains("dropped: duplicate 1"), "{stats}");
}

#[test]
fn split_streams_writes_one_file_per_stream() {
    let tmp = TempDir::new("opt-split");
    let input = tmp.join("in.pcap");
    let st = Command::new(detunnel())
        .args(["generate", "-c", "400", "--encap", "vxlan,gre,plain", "--streams", "2", "-w"])
        .arg(&input)
        .status();
    assert!(st.unwrap().success());
    let dir = tmp.join("streams");
    let output = tmp.join("all.pcapng");
    let (ok, stats) = decap(&[
        "-r",
        input.to_str().unwrap(),
        "-w",
        output.to_str().unwrap(),
        "--split-streams",
        dir.to_str().unwrap(),
    ]);
    assert!(ok, "{stats}");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    // Stream files take the format of the main output (pcapng here).
    assert!(names.contains(&"untunnelled.pcapng".to_string()), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("vxlan_10.0.0.1-10.255.0.1_vni_500")), "{names:?}");
    let total: usize = names.iter().map(|n| read(&dir.join(n)).len()).sum();
    assert_eq!(total, 400);
    assert_eq!(read(&output).len(), 400);
}

/// The stacks our own decoder sees in a capture.
fn stacks(path: &Path) -> Vec<String> {
    let out = Command::new(detunnel()).args(["inspect", "-q", "--json", "-r"]).arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split("\"stack\": \"").nth(1).unwrap().split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn what_is_stripped_follows_the_flags() {
    let tmp = TempDir::new("opt-strip");
    let vxlan_in_gre = build(
        &[
            outer(),
            vec![Header::Gre { key: Some(1), seq: None }],
            vec![
                Header::eth(),
                Header::ipv4([172, 16, 9, 1], [172, 16, 9, 2]),
                Header::Udp { src: 5, dst: 4789 },
                Header::Vxlan { vni: 8 },
            ],
            vec![inner(1)[0].clone(), Header::Vlan { tpid: 0x8100, vid: 30 }],
            inner(1)[1..].to_vec(),
        ]
        .concat(),
    );
    let plain = build(&inner(2));
    let input = tmp.join("in.pcap");
    write(&input, &[(T0, vxlan_in_gre), (T0 + 1, plain)]);
    let out = tmp.join("out.pcap");
    let run = |extra: &[&str]| {
        let mut args = vec!["-q", "-r", input.to_str().unwrap(), "-w", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let (ok, err) = decap(&args);
        assert!(ok, "{err}");
        stacks(&out)
    };
    assert_eq!(run(&[]), ["eth.q.ip.udp", "eth.ip.udp"]);
    assert_eq!(run(&["--depth", "1"]), ["eth.ip.udp.vxlan.eth.q.ip.udp", "eth.ip.udp"]);
    assert_eq!(run(&["--strip", "vxlan"]), ["eth.ip.gre.eth.ip.udp.vxlan.eth.q.ip.udp", "eth.ip.udp"]);
    assert_eq!(run(&["--strip-tags", "vlan"]), ["eth.ip.udp", "eth.ip.udp"]);
    assert_eq!(run(&["--only-tunnelled"]), ["eth.q.ip.udp"]);
    let cut = run(&["--snaplen", "40"]);
    assert_eq!(cut.len(), 2);
    assert!(read(&out).iter().all(|f| f.1.len() == 40));
}

#[test]
fn an_interrupted_run_leaves_a_whole_capture() {
    let tmp = TempDir::new("opt-sigint");
    let input = tmp.join("in.pcap");
    assert!(Command::new(detunnel())
        .args(["generate", "-c", "20000", "-w"])
        .arg(&input)
        .status()
        .unwrap()
        .success());
    let bytes = std::fs::read(&input).unwrap();
    let output = tmp.join("out.pcap");
    let mut child = Command::new(detunnel())
        .args(["decap", "-q", "-r", "-", "-w"])
        .arg(&output)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    std::thread::sleep(std::time::Duration::from_millis(100));
    // More input wakes the reader, which then sees the signal; it may already have stopped.
    let _ = stdin.write_all(&bytes[bytes.len() / 2..bytes.len() / 2 + 65_536]);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let frames = read(&output);
    assert!(frames.len() > 1000 && frames.len() < 20_000, "{} frames", frames.len());
}

/// Frames with their timestamps.
type Frames = Vec<(u64, Vec<u8>)>;

/// The output files in `dir`, sorted, with their frames.
fn outputs(dir: &Path) -> Vec<(String, Frames)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("out"))
        .collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), read(&dir.join(&n)))).collect()
}

#[test]
fn rotation_by_size_and_by_time() {
    let tmp = TempDir::new("decap-rotate");
    // 600 GRE-tunnelled frames of ~4 kB, 0.1 s apart: 60 s and 2.5 MB of output.
    let frames: Vec<(u64, Vec<u8>)> = (0..600u64)
        .map(|i| {
            let mut h = outer();
            h.push(Header::Gre { key: Some(7), seq: None });
            let mut inner = inner((i % 250) as u8);
            inner[3] = Header::Payload(vec![i as u8; 4000]);
            h.extend(inner);
            (T0 + i * 100_000_000, build(&h))
        })
        .collect();
    let input = tmp.join("in.pcap");
    write(&input, &frames);
    let timestamps = |files: &[(String, Frames)]| -> Vec<u64> {
        files.iter().flat_map(|(_, f)| f.iter().map(|(ts, _)| *ts)).collect()
    };
    // -C: files of at most 1 MB (one frame more at most), in order, each pcapng file declaring
    // the stream's interface again (the reader would refuse a frame on an undeclared one).
    let dir = TempDir::new("decap-rotate-size");
    let out = dir.join("out.pcapng");
    let (ok, err) = decap(&["-r", input.to_str().unwrap(), "-w", out.to_str().unwrap(), "-C", "1", "-q"]);
    assert!(ok, "{err}");
    let mut files = outputs(&dir.0);
    // out.pcapng, out.1.pcapng, out.2.pcapng in the order written.
    files.sort_by_key(|(n, _)| n.split('.').nth(1).and_then(|x| x.parse::<u32>().ok()).unwrap_or(0));
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["out.pcapng", "out.1.pcapng", "out.2.pcapng"]);
    for n in &names {
        let size = std::fs::metadata(dir.join(n)).unwrap().len();
        assert!(size <= 1_000_000 + 4_200, "{n}: {size}");
    }
    assert_eq!(timestamps(&files), frames.iter().map(|(ts, _)| *ts).collect::<Vec<_>>());
    // -G with the time in the name: 10 s files by the frames' timestamps.
    let dir = TempDir::new("decap-rotate-time");
    let pattern = dir.join("out-%H%M%S.pcap");
    let (ok, err) =
        decap(&["-r", input.to_str().unwrap(), "-w", pattern.to_str().unwrap(), "-G", "10", "-q"]);
    assert!(ok, "{err}");
    let files = outputs(&dir.0);
    // T0 is 2023-11-14 22:13:20 UTC.
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "out-221320.pcap",
            "out-221330.pcap",
            "out-221340.pcap",
            "out-221350.pcap",
            "out-221400.pcap",
            "out-221410.pcap"
        ]
    );
    assert!(files.iter().all(|(_, f)| f.len() == 100));
    assert_eq!(timestamps(&files), frames.iter().map(|(ts, _)| *ts).collect::<Vec<_>>());
    let (ok, err) = decap(&["-r", input.to_str().unwrap(), "-w", "-", "-C", "1"]);
    assert!(!ok && err.contains("standard output"), "{err}");
}

#[test]
fn sighup_reopens_the_output_for_logrotate_and_signals_are_not_read_errors() {
    let tmp = TempDir::new("decap-hup");
    let port = common::serve::free_port(true);
    let out = tmp.join("live.pcap");
    let child = Command::new(detunnel())
        .args(["decap", "--listen", &format!("vxlan://127.0.0.1:{port}"), "-q", "-w", out.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let send = |n: u8| {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..n {
            let mut payload = build(&[Header::Vxlan { vni: 9 }]);
            payload.extend(build(&inner(i)));
            s.send_to(&payload, ("127.0.0.1", port)).unwrap();
        }
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    send(5);
    std::thread::sleep(std::time::Duration::from_millis(500));
    // logrotate: move the file away, then SIGHUP.
    let old = tmp.join("live.pcap.1");
    std::fs::rename(&out, &old).unwrap();
    let kill = |signal: &str| {
        assert!(Command::new("/bin/kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap()
            .success());
    };
    kill("-HUP");
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Stopped and continued (Ctrl-Z, fg) too: a read the signals cut short is read again.
    kill("-STOP");
    std::thread::sleep(std::time::Duration::from_millis(100));
    kill("-CONT");
    send(3);
    std::thread::sleep(std::time::Duration::from_millis(500));
    kill("-TERM");
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{err}");
    assert!(err.is_empty(), "the signals are not errors: {err}");
    assert_eq!(read(&old).len(), 5, "frames before SIGHUP stay in the moved file");
    assert_eq!(read(&out).len(), 3, "frames after SIGHUP go to a new file of the same name");
}

#[test]
fn a_remote_tool_that_restarts_loses_only_what_came_while_it_was_gone() {
    let (port, tool_port) = (common::serve::free_port(true), common::serve::free_port(true));
    let mut child = Running(
        Some(
            Command::new(detunnel())
                .args(["decap", "--listen", &format!("vxlan://127.0.0.1:{port}"), "--stats", "json"])
                .args(["--to", &format!("vxlan://127.0.0.1:{tool_port}?vni=5")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ),
        "-TERM",
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let send = |first: u8| {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in first..first + 5 {
            let mut payload = build(&[Header::Vxlan { vni: 9 }]);
            payload.extend(build(&inner(i)));
            s.send_to(&payload, ("127.0.0.1", port)).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let receive = |tool: &std::net::UdpSocket| -> Vec<u8> {
        tool.set_read_timeout(Some(std::time::Duration::from_millis(500))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while tool.recv(&mut buf).is_ok() {
            // VXLAN (8) + inner Ethernet (14) + IPv4 (20): the source's last octet is `n`.
            assert_eq!(&buf[..8], &[0x08, 0, 0, 0, 0, 0, 5, 0]);
            got.push(buf[8 + 14 + 15]);
        }
        got
    };
    let tool = std::net::UdpSocket::bind(("127.0.0.1", tool_port)).unwrap();
    send(0);
    assert_eq!(receive(&tool), [0, 1, 2, 3, 4]);
    // The tool goes away: what is sent meanwhile is refused and counted.
    drop(tool);
    send(5);
    std::thread::sleep(std::time::Duration::from_millis(200));
    // It comes back on the same port: frames reach it again, with no restart of detunnel.
    let tool = std::net::UdpSocket::bind(("127.0.0.1", tool_port)).unwrap();
    send(10);
    assert_eq!(receive(&tool), [10, 11, 12, 13, 14]);
    let out = child.stop();
    let summary = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{summary}");
    let line = summary.lines().find(|l| l.starts_with('{')).unwrap();
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    let sink = &json["sinks"][0];
    assert_eq!(sink["frames"].as_u64().unwrap() + sink["errors"].as_u64().unwrap(), 15, "{summary}");
    assert!(sink["frames"].as_u64().unwrap() >= 10, "{summary}");
}

#[test]
fn a_udp_endpoint_gets_a_socket_per_worker_and_loses_nothing() {
    let tmp = TempDir::new("decap-workers");
    let port = common::serve::free_port(true);
    let out = tmp.join("workers.pcap");
    let mut child = Running(
        Some(
            Command::new(detunnel())
                .args(["decap", "--listen", &format!("vxlan://127.0.0.1:{port}"), "--workers", "3"])
                .args(["--stats", "json", "-w", out.to_str().unwrap()])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ),
        "-TERM",
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    // Three sockets share the port, each in the kernel's table with its own row.
    let table = std::fs::read_to_string("/proc/net/udp").unwrap();
    let hex = format!(":{port:04X} ");
    assert_eq!(table.lines().filter(|l| l.contains(&hex)).count(), 3, "{table}");
    // Twenty senders (the kernel spreads them over the sockets by address), three frames each.
    let senders: Vec<std::net::UdpSocket> =
        (0..20).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    for round in 0..3u8 {
        for (i, s) in senders.iter().enumerate() {
            let mut payload = build(&[Header::Vxlan { vni: 9 }]);
            payload.extend(build(&inner(round * 20 + i as u8)));
            s.send_to(&payload, ("127.0.0.1", port)).unwrap();
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let done = child.stop();
    let summary = String::from_utf8_lossy(&done.stderr).to_string();
    assert!(done.status.success(), "{summary}");
    let mut got: Vec<u8> = read(&out).iter().map(|(_, f)| f[14 + 15]).collect();
    got.sort();
    assert_eq!(got, (0..60).collect::<Vec<u8>>(), "every frame once, whichever socket took it");
    let line = summary.lines().find(|l| l.starts_with('{')).unwrap();
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    let sources = json["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "the workers count into the endpoint's one entry: {summary}");
    assert_eq!(sources[0]["frames"], 60, "{summary}");
    assert_eq!(json["socket_drops"], 0, "{summary}");
}

//! The one-shot commands against hostile input and signals: a signal ends `decap`, `inspect`
//! and `flows` promptly even while they wait on a quiet pipe or FIFO, with whole outputs and
//! their summaries; hostile filters, folders and crafted captures get clear errors; no frame
//! panics decap; datagrams that are not the tunnel an endpoint terminates are dropped and
//! counted.
mod common;

use common::{detunnel, have_tool, TempDir};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A pcap file of `n` generated tunnelled frames.
fn frames(n: u32) -> Vec<u8> {
    let mut g = craft::mix::Generator::new(craft::mix::Mix::default());
    let frames: Vec<Vec<u8>> = (0..n).map(|_| g.frame()).collect();
    craft::pcap_file(1, &frames)
}

/// Sends `signal` to `child` and waits for it to end, at most `within`; returns its exit
/// code, standard output and standard error.
fn signal_and_wait(mut child: Child, signal: &str, within: Duration) -> (Option<i32>, String, String) {
    assert!(Command::new("/bin/kill").args([signal, &child.id().to_string()]).status().unwrap().success());
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t.elapsed() > within {
            let _ = child.kill();
            panic!("the command took longer than {within:?} to end after {signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Starts `detunnel ARGS` reading standard input from a pipe the test keeps open after
/// writing `data` into it.
fn on_quiet_pipe(args: &[&str], data: &[u8]) -> Child {
    let mut child = Command::new(detunnel())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(data).unwrap();
    child.stdin.as_mut().unwrap().flush().unwrap();
    // Give it time to read what there is and block on the quiet pipe.
    std::thread::sleep(Duration::from_millis(500));
    child
}

#[test]
fn signals_end_every_command_blocked_on_a_quiet_pipe() {
    if !have_tool("kill") {
        return;
    }
    let tmp = TempDir::new("cli-signals");
    let data = frames(5);
    for signal in ["-INT", "-TERM"] {
        let out = tmp.join("out.pcap");
        let child = on_quiet_pipe(&["decap", "-r", "-", "-w", out.to_str().unwrap()], &data);
        let (code, _, err) = signal_and_wait(child, signal, Duration::from_secs(1));
        assert_eq!(code, Some(130), "{signal}: {err}");
        assert!(err.contains("detunnel decap: 5 frames in"), "{signal}: {err}");
        // The output is whole and holds the five frames.
        assert_eq!(common::frames_in(&out).len(), 5, "{signal}");
    }
    let child = on_quiet_pipe(&["inspect", "-r", "-"], &data);
    let (code, out, err) = signal_and_wait(child, "-INT", Duration::from_secs(1));
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(err.contains("5 frames"), "{err}");
    let child = on_quiet_pipe(&["flows", "-r", "-", "--keys", "stack"], &data);
    let (code, out, err) = signal_and_wait(child, "-INT", Duration::from_secs(1));
    assert_eq!(code, Some(130), "{err}");
    assert!(out.starts_with("value  stack"), "{out}");
    assert!(err.contains("5 frames: 5 counted") && err.contains("interrupted"), "{err}");
    // A signal before the input said anything: exit 130, nothing else.
    let child = on_quiet_pipe(&["inspect", "-r", "-"], &[]);
    let (code, _, err) = signal_and_wait(child, "-TERM", Duration::from_secs(1));
    assert_eq!(code, Some(130), "{err}");
}

#[test]
fn signals_end_decap_reading_a_quiet_fifo() {
    if !have_tool("mkfifo") {
        return;
    }
    let tmp = TempDir::new("cli-fifo");
    let fifo = tmp.join("in.pcap");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let out = tmp.join("out.pcapng");
    let child = Command::new(detunnel())
        .args(["decap", "-r", fifo.to_str().unwrap(), "-w", out.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer.write_all(&frames(3)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (code, _, err) = signal_and_wait(child, "-INT", Duration::from_secs(1));
    drop(writer);
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("3 frames in"), "{err}");
    assert!(std::fs::metadata(&out).unwrap().len() > 100);
}

#[test]
fn hostile_expressions_folders_and_frames_get_clear_errors() {
    let tmp = TempDir::new("cli-hostile");
    let input = tmp.join("in.pcap");
    std::fs::write(&input, frames(20)).unwrap();
    let run = |args: &[&str]| Command::new(detunnel()).args(args).output().unwrap();
    let deep = format!("{}ipsource=10.0.0.1{}", "(".repeat(10_000), ")".repeat(10_000));
    for cmd in ["flows", "inspect", "decap"] {
        let mut args = vec![cmd, "-r", input.to_str().unwrap(), "--filter", &deep];
        if cmd == "decap" {
            args.extend(["-w", "/dev/null"]);
        }
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {err}");
        assert!(err.contains("deeper than 32 levels (the limit)"), "{cmd}: {err}");
    }
    // A folder is not a capture.
    let o = run(&["inspect", "-r", tmp.0.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("it is a folder"), "{err}");
    // A crafted pcapng (a block of garbage after the section header) gets a short message.
    let mut ng = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
    ng.extend_from_slice(&[0xff; 8]);
    ng.extend_from_slice(&28u32.to_le_bytes());
    ng.extend_from_slice(&[1, 0, 0, 0, 0x40, 0, 0, 0]);
    ng.extend(std::iter::repeat_n(0xab, 1000));
    let bad = tmp.join("bad.pcapng");
    std::fs::write(&bad, &ng).unwrap();
    let o = run(&["inspect", "-r", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.len() < 300 && err.contains("record 1"), "{err}");
}

#[test]
fn strip_tags_on_every_real_capture_never_panics() {
    let Some(dir) = common::captures() else { return };
    let tmp = TempDir::new("cli-strip-tags");
    for p in common::capture_files(&dir) {
        let o = Command::new(detunnel())
            .args(["decap", "--strip-tags", "vlan,vntag,etag,mpls", "--dedup", "5", "--snaplen", "30", "-r"])
            .arg(&p)
            .arg("-w")
            .arg(tmp.join("out.pcapng"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{}: {err}", p.display());
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}: {err}", p.display());
    }
    // The capture that stopped at frame 6 of 20 goes through whole.
    let o = Command::new(detunnel())
        .args(["decap", "--strip-tags", "vlan", "--stats", "json", "-r"])
        .arg(dir.join("l2tp-avp-overflow.pcap"))
        .arg("-w")
        .arg(tmp.join("l2tp.pcap"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("\"frames_in\": 20"), "{err}");
}

#[test]
fn an_endpoint_drops_what_is_not_its_tunnel() {
    let tmp = TempDir::new("cli-endpoint");
    let port = common::serve::free_port(true);
    let out = tmp.join("out.pcap");
    let child = Command::new(detunnel())
        .args(["decap", "--listen", &format!("vxlan://127.0.0.1:{port}"), "--stats", "json", "-w"])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let inner = [[2u8, 0, 0, 0, 0, 2].as_slice(), &[2, 0, 0, 0, 0, 1], &[0x08, 0x06], &[0u8; 28]].concat();
    for flags in [0x08u8, 0x00, 0x08] {
        s.send_to(&[&[flags, 0, 0, 0, 0, 0, 7, 0][..], &inner].concat(), ("127.0.0.1", port)).unwrap();
    }
    s.send_to(b"\x13\x37 random bytes, not VXLAN at all .....", ("127.0.0.1", port)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (code, _, err) = signal_and_wait(child, "-TERM", Duration::from_secs(2));
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value =
        serde_json::from_str(err.lines().find(|l| l.starts_with('{')).unwrap()).unwrap();
    assert_eq!((json["frames_in"].as_u64(), json["frames_out"].as_u64()), (Some(4), Some(2)), "{err}");
    assert_eq!(json["dropped"]["not_endpoint_tunnel"], 2, "{err}");
}

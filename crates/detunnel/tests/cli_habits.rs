//! Habits from tcpdump, Wireshark and C: each spelling a newcomer reaches for gets an error
//! (exit status 2) that names detunnel's own spelling, never a silent empty result.
mod common;

use common::terminal::on_terminal;
use common::{detunnel, Running, TempDir};
use std::process::Command;

fn capture(tmp: &TempDir) -> std::path::PathBuf {
    let path = tmp.join("in.pcap");
    let mut g = craft::mix::Generator::new(craft::mix::Mix::default());
    let frames: Vec<Vec<u8>> = (0..10).map(|_| g.frame()).collect();
    std::fs::write(&path, craft::pcap_file(1, &frames)).unwrap();
    path
}

#[test]
fn other_tools_spellings_get_a_hint_and_exit_2() {
    let tmp = TempDir::new("cli-habits");
    let input = capture(&tmp);
    let cases: &[(&str, &str)] = &[
        ("ipsource.1==10.0.0.1", "write `ipsource.1=10.0.0.1`"),
        ("ipsource.1!==10.0.0.1", "write `ipsource.1!=10.0.0.1`"),
        ("ipsource=10.0.0.1 && ipprotocol=6", "`&&`: the flow language writes and as one `&`"),
        ("ipsource=10.0.0.1 || ipprotocol=6", "`||`: the flow language writes or as one `|`"),
        ("udp port 53", "try `(udpsourceport=53|udpdestinationport=53)`"),
        ("host 10.0.0.1 and tcp", "try `(ipsource=10.0.0.1|ipdestination=10.0.0.1)&ipprotocol=6`"),
        ("ip.src == 1.2.3.4", "`ip.src` is Wireshark's name; detunnel says `ipsource`"),
        ("tcp.port=443", "`tcpsourceport` or `tcpdestinationport`"),
    ];
    for cmd in ["inspect", "flows", "decap"] {
        for (filter, hint) in cases {
            let mut c = Command::new(detunnel());
            c.args([cmd, "-r"]).arg(&input).args(["--filter", filter]);
            if cmd == "decap" {
                c.args(["-w", "/dev/null"]);
            }
            let out = c.output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd} --filter '{filter}': {err}");
            assert!(err.contains(hint), "{cmd} --filter '{filter}' does not say `{hint}`: {err}");
        }
    }
    // Wireshark's names as keys, too.
    let out = Command::new(detunnel())
        .args(["flows", "-r"])
        .arg(&input)
        .args(["--keys", "ip.src,ip.dst"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("detunnel says `ipsource`"), "{err}");
    // A value that really starts with `=` is quoted.
    let out = Command::new(detunnel())
        .args(["inspect", "-q", "-r"])
        .arg(&input)
        .args(["--filter", "stack='=x'"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn words_after_the_flags_say_where_they_go_and_exit_2_having_written_nothing() {
    let tmp = TempDir::new("cli-habits-words");
    let input = capture(&tmp);
    let out = tmp.join("out.pcap");
    let run = |cmd: &str, words: &[&str]| {
        let mut c = Command::new(detunnel());
        c.args([cmd, "-r"]).arg(&input);
        if cmd == "decap" {
            c.arg("-w").arg(&out);
        }
        let o = c.args(words).output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    for cmd in ["inspect", "flows", "decap"] {
        // tcpdump's capture filter after the flags: its flow-language form.
        let (code, err) = run(cmd, &["udp port 4789"]);
        assert_eq!(code, Some(2), "{cmd}: {err}");
        assert!(err.contains("takes its filter as --filter EXPR"), "{cmd}: {err}");
        assert!(err.contains("try `(udpsourceport=4789|udpdestinationport=4789)`"), "{cmd}: {err}");
        // Words that are no tcpdump filter either.
        let (code, err) = run(cmd, &["vni", "42"]);
        assert_eq!(code, Some(2), "{cmd}: {err}");
        assert!(err.contains("`vni 42` after the flags") && err.contains("vxlanvni=42"), "{cmd}: {err}");
        // A second capture without its own -r.
        let (code, err) = run(cmd, &[input.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{cmd}: {err}");
        let hint =
            if cmd == "decap" { "give each capture its own -r" } else { "reads one capture (-r FILE)" };
        assert!(err.contains(hint), "{cmd}: {err}");
    }
    assert!(!out.exists(), "decap wrote a file before refusing its words");
    // tcpdump's -n changes nothing, and is taken.
    for cmd in ["inspect", "flows", "decap"] {
        let (code, err) = run(cmd, &["-n"]);
        assert_eq!(code, Some(0), "{cmd} -n: {err}");
    }
}

/// Runs `detunnel serve ARGS` and returns it (stopped by SIGINT, or killed if the test fails
/// first) with a reader of its standard error lines.
fn serve(args: &[&str]) -> (Running, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = Command::new(detunnel())
        .arg("serve")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Running(Some(child), "-INT"), rx)
}

/// Waits for a line containing `what`; returns every line read so far.
fn wait_for(lines: &std::sync::mpsc::Receiver<String>, what: &str, seen: &mut Vec<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen.iter().any(|l| l.contains(what)) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => panic!("no `{what}` in: {seen:?}"),
        }
    }
}

#[test]
fn serve_checks_every_listener_before_announcing_any() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http = taken.local_addr().unwrap().to_string();
    let sflow = format!("127.0.0.1:{}", common::serve::free_port(true));
    let out = Command::new(detunnel()).args(["serve", "--http", &http, "--sflow", &sflow]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("cannot serve the REST API on {http}")), "{err}");
    assert!(!err.contains("sFlow on udp"), "announced sFlow before failing: {err}");
}

#[test]
fn serve_takes_host_names_indexes_its_api_and_stops_at_once_with_files_written() {
    use std::io::{Read, Write};
    let tmp = TempDir::new("cli-habits-serve");
    let (http_port, sflow_port, vxlan_port) =
        (common::serve::free_port(false), common::serve::free_port(true), common::serve::free_port(true));
    let out = tmp.join("mirror.pcap");
    let config = tmp.join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[pipelines.mirror]\nsources = [\"vxlan://localhost:{vxlan_port}\"]\nsinks = [\"file:{}\"]\n",
            out.display()
        ),
    )
    .unwrap();
    let (http, sflow) = (format!("localhost:{http_port}"), format!("localhost:{sflow_port}"));
    let (mut running, lines) =
        serve(&["-c", config.to_str().unwrap(), "--http", &http, "--sflow", &sflow, "--workers", "1"]);
    let mut seen = Vec::new();
    // The names are resolved once and the addresses shown.
    wait_for(&lines, &format!("REST API on http://127.0.0.1:{http_port}/"), &mut seen);
    // With its worker counted in the singular.
    let announced = format!("sFlow on udp 127.0.0.1:{sflow_port} (1 worker)");
    assert!(seen.iter().any(|l| l.ends_with(&announced)), "{seen:?}");
    // `GET /` is an index of the API.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", http_port)).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = vec![0; 65536];
    let n = c.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for (path, _) in server::index::ENDPOINTS {
        assert!(answer.contains(path), "{path} missing from {answer}");
    }
    // Frames sent to the pipeline reach its file.
    let frames = 50;
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let inner = craft::build(&[
        craft::Header::eth(),
        craft::Header::ipv4([10, 0, 0, 1], [10, 0, 0, 2]),
        craft::Header::Udp { src: 1, dst: 2 },
        craft::Header::Payload(vec![7; 100]),
    ]);
    let mut datagram = craft::build(&[craft::Header::Vxlan { vni: 5 }]);
    datagram.extend_from_slice(&inner);
    for _ in 0..frames {
        s.send_to(&datagram, ("127.0.0.1", vxlan_port)).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Stopped while a client holds a kept-alive connection, it exits within half a second.
    let asked = std::time::Instant::now();
    let status = running.stop().status;
    let took = asked.elapsed();
    drop(c);
    assert!(status.success(), "{status}");
    assert!(took < std::time::Duration::from_millis(500), "took {took:?} to stop");
    assert_eq!(common::frames_in(&out), vec![inner; frames]);
}

/// Skips when `DETUNNEL_SKIP_PROBE` is set: the subject of the test below.
#[test]
fn skip_probe() {
    if std::env::var_os("DETUNNEL_SKIP_PROBE").is_some() {
        common::skip("probing");
    }
}

#[test]
fn a_skipped_test_says_so_where_cargo_test_shows_it() {
    // This test binary, run as `cargo test` runs it (output captured), skipping one test.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "skip_probe"])
        .env("DETUNNEL_SKIP_PROBE", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SKIP skip_probe: probing"), "stderr: {err}");
}

/// A capture of `n` generated frames (the default mix) written by `detunnel generate`, with
/// what generate said.
fn generated(tmp: &TempDir, n: u64) -> (std::path::PathBuf, String) {
    let path = tmp.join(&format!("gen{n}.pcap"));
    let out =
        Command::new(detunnel()).args(["generate", "-c", &n.to_string(), "-w"]).arg(&path).output().unwrap();
    assert!(out.status.success());
    (path, String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn dash_c_stops_after_n_frames_out_as_tcpdump_does() {
    let tmp = TempDir::new("cli-habits-count");
    let (input, said) = generated(&tmp, 2000);
    // generate is not silent: one line of summary (no progress line off a terminal).
    assert!(said.starts_with("detunnel generate: 2000 frames (") && said.lines().count() == 1, "{said}");
    // inspect: five frames printed, all matching, and reading stops there.
    let out = Command::new(detunnel())
        .args(["inspect", "-c", "5", "--filter", "vxlanvni=5002", "-r"])
        .arg(&input)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.lines().count(), 5, "{printed}");
    assert!(printed.lines().all(|l| l.contains("vxlanvni=5002")), "{printed}");
    let err = String::from_utf8_lossy(&out.stderr);
    let read: u64 = err.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap();
    assert!(read < 200, "read {read} frames for 5 matches: {err}");
    // decap: ten frames written, and the summary says why it stopped.
    let written = tmp.join("ten.pcap");
    let out = Command::new(detunnel())
        .args(["decap", "-c", "10", "--filter", "vxlanvni=5002", "-r"])
        .arg(&input)
        .arg("-w")
        .arg(&written)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("10 out") && err.contains("stopped after 10 frames out (-c)"), "{err}");
    assert_eq!(common::frames_in(&written).len(), 10);
    // flows: ten frames counted.
    let out = Command::new(detunnel())
        .args(["flows", "-c", "10", "--keys", "ipsource.1", "-r"])
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("10 frames: 10 counted"), "{err}");
}

#[test]
fn a_reader_that_stops_early_is_a_normal_end_of_a_pipe() {
    use std::io::Read;
    let tmp = TempDir::new("cli-habits-pipe");
    let (input, _) = generated(&tmp, 5000);
    for quiet in [false, true] {
        let mut decap = Command::new(detunnel());
        decap.args(["decap", "-w", "-", "-r"]).arg(&input);
        if quiet {
            decap.arg("-q");
        }
        let mut child =
            decap.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        // The reader takes the file header and one record, then goes away.
        let mut head = [0u8; 100];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "quiet {quiet}: {err}");
        assert!(!err.contains("Broken pipe"), "{err}");
        if quiet {
            assert!(err.is_empty(), "{err}");
        } else {
            assert!(err.contains("its reader stopped reading"), "{err}");
        }
    }
    // The same with tcpdump reading two frames.
    if !common::have_tool("tcpdump") {
        return;
    }
    let script =
        format!("set -o pipefail; {} decap -r {} -w - | tcpdump -r - -c 2 -n", detunnel(), input.display());
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    assert!(err.contains("detunnel decap:") && err.contains("its reader stopped reading"), "{err}");
}

#[test]
fn long_work_on_a_terminal_shows_progress_and_reading_a_terminal_is_said() {
    let tmp = TempDir::new("cli-habits-progress");
    // Small frames: long enough to run a while, small enough for any temporary folder.
    let input = tmp.join("small.pcap");
    let made = Command::new(detunnel())
        .args(["generate", "-q", "-c", "400000", "--size", "64", "-w"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(made.success());
    let ended = |_: &str| false;
    let seen = on_terminal(&["decap", "-r", input.to_str().unwrap(), "-w", "/dev/null"], false, ended);
    let progress: Vec<&str> = seen.split('\r').filter(|l| l.contains("decap: ")).collect();
    assert!(progress.iter().any(|l| l.contains("% (") && l.contains(" left)")), "{seen}");
    let seen = on_terminal(&["generate", "-c", "2000000", "-w", "/dev/null"], false, ended);
    assert!(seen.contains("generate: ") && seen.contains(" of 2000000 frames ("), "{seen}");
    assert!(seen.contains("detunnel generate: 2000000 frames"), "{seen}");
    // inspect with no -r and a terminal for standard input says what it waits for.
    let said = |seen: &str| seen.contains("reading a capture from standard input");
    assert!(said(&on_terminal(&["inspect"], true, said)));
}

#[test]
fn a_tunnel_has_one_name_in_summaries_and_in_strip() {
    let tmp = TempDir::new("cli-habits-names");
    let (input, _) = generated(&tmp, 500);
    let out = Command::new(detunnel()).args(["decap", "-w", "/dev/null", "-r"]).arg(&input).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let names = |prefix: &str| -> Vec<String> {
        let line = err.lines().find_map(|l| l.trim().strip_prefix(prefix)).unwrap_or_else(|| panic!("{err}"));
        let mut v: Vec<String> =
            line.split(", ").filter_map(|e| e.split_whitespace().next()).map(String::from).collect();
        v.sort();
        v
    };
    let (input_kinds, output_kinds) = (names("in by encapsulation:"), names("out by tunnel kind:"));
    assert_eq!(input_kinds, ["erspan2", "erspan3", "geneve", "gre", "vxlan"], "{err}");
    assert_eq!(input_kinds, output_kinds, "{err}");
    // Each name a summary uses is one --strip takes; --help lists every kind.
    for kind in &input_kinds {
        let out = Command::new(detunnel())
            .args(["decap", "-q", "--strip", kind, "-w", "/dev/null", "-r"])
            .arg(&input)
            .output()
            .unwrap();
        assert!(out.status.success(), "--strip {kind}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let help = Command::new(detunnel()).args(["decap", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).replace(char::is_whitespace, "");
    for t in dissect::Tunnel::ALL {
        assert!(help.contains(&format!("{},", t.name())), "--help does not list {}", t.name());
    }
}

#[test]
fn demo_runs_the_daemon_with_mirrored_tenants_and_its_ui_until_ctrl_c() {
    use std::io::{BufRead, BufReader, Read, Write};
    let port = common::serve::free_port(false);
    let mut child = Command::new(detunnel())
        .args(["demo", "--http", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // Killed if the test fails before Ctrl-C.
    let mut running = Running(Some(child), "-INT");
    let mut said = String::new();
    while !said.contains("REST API on") {
        said.push_str(&lines.next().expect("demo ended early").unwrap());
        said.push('\n');
    }
    assert!(said.contains(&format!("http://127.0.0.1:{port}/ui/")), "{said}");
    let get = |path: &str| {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(c, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).unwrap();
        answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
    };
    // Within a few seconds: the pipeline's streams of every kind, the tenants' flows, the agent.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let kinds = ["vxlan", "geneve", "gre", "erspan2"];
    loop {
        let pipelines = get("/pipelines/json");
        let v: serde_json::Value = serde_json::from_str(&pipelines).unwrap_or_default();
        let streams: Vec<String> = v["mirror"]["streams"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["kind"].as_str().map(String::from))
            .collect();
        let tenants = get("/activeflows/ALL/tenants/json");
        if kinds.iter().all(|k| streams.iter().any(|s| s == k)) && tenants.contains("10.1.0.11,10.1.0.20,443")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{streams:?} {tenants}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(get("/agents/json").contains("192.0.2.10"));
    assert!(get("/ui/").contains("<title>detunnel</title>"));
    // Ctrl-C ends it, as it said.
    let status = running.stop().status;
    assert!(status.success(), "{status:?}");
}

//! The web UI in a real browser: `detunnel serve` fed with sFlow and a broker pipeline, and
//! Debian's headless Chromium driven by playwright-core (`tests/ui/drive.mjs`, which checks
//! what a user sees against the REST API and takes a screenshot of each view). Needs node,
//! chromium and `npm install` in `tests/ui` (`.ci/run` does all three); elsewhere it skips.
mod common;

use common::serve::{free_port, Serve};
use common::*;
use craft::sflow::{datagram, Agent, Sample};
use std::net::{IpAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The folder of the driver script and its node modules.
fn driver_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui"))
}

/// True when the browser, node and the driver's modules are here (in CI, a failure if not).
fn browser_ready() -> bool {
    if !have_tool("node") {
        return false;
    }
    let ok =
        Path::new("/usr/bin/chromium").exists() && driver_dir().join("node_modules/playwright-core").is_dir();
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "CI needs chromium and `npm install` in tests/ui");
        skip("chromium or playwright-core is not installed (apt install chromium; npm install in tests/ui)");
    }
    ok
}

/// Mirrored tenant traffic into the pipeline's VXLAN endpoint, and sFlow from one agent,
/// until `stop` is set.
fn feed(vxlan_port: u16, sflow: std::net::SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tenant = |src: [u8; 4], dst: [u8; 4]| {
            craft::build(&[
                craft::Header::eth(),
                craft::Header::ipv4(src, dst),
                craft::Header::Tcp { src: 40000, dst: 443, flags: 0x18 },
                craft::Header::Payload(vec![0; 300]),
            ])
        };
        let tenants =
            [(100, tenant([10, 1, 0, 1], [10, 1, 0, 2])), (200, tenant([10, 2, 0, 1], [10, 2, 0, 2]))];
        let agent = Agent { address: IpAddr::from([198, 51, 100, 1]), sub_agent: 0 };
        let mut seq = 0;
        while !stop.load(Ordering::Relaxed) {
            for (i, (vni, inner)) in tenants.iter().enumerate() {
                for _ in 0..(3 - i) {
                    let mut d = craft::build(&[craft::Header::Vxlan { vni: *vni }]);
                    d.extend_from_slice(inner);
                    let _ = s.send_to(&d, ("127.0.0.1", vxlan_port));
                }
            }
            seq += 1;
            let sample = Sample::Flow {
                source: 3,
                sampling_rate: 100,
                sample_pool: 100 * seq,
                input: 3,
                output: 9,
                frame_length: 400,
                header: tenant([10, 9, 0, 1], [10, 9, 0, 2]),
            };
            let _ = s.send_to(&datagram(agent, seq, 1000 * seq, &[sample]), sflow);
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

fn drive(server: &Serve, shots: &Path, mode: &str) {
    let url = format!("http://{}/", server.http_addr());
    let out = Command::new("node")
        .current_dir(driver_dir())
        .arg("drive.mjs")
        .arg(&url)
        .arg(shots)
        .arg(mode)
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{said}");
    assert!(out.status.success(), "the UI checks failed:\n{said}\n{}", server.log());
}

/// A server whose broker pipeline strips the mirrored tenants into a file and counts them in
/// the flow engine.
fn start(tag: &str, readonly: bool, out: &Path) -> (Serve, u16) {
    let vxlan_port = free_port(true);
    let config = format!(
        r#"
[http]
readonly = {readonly}

[flows.tenants]
keys = "ipsource.1,ipdestination.1,vxlanvni"
value = "frames"
t = 2

[pipelines.mirror]
sources = ["vxlan://127.0.0.1:{vxlan_port}"]
sinks = ["flows", "file:{}"]
workers = 2
"#,
        out.display()
    );
    (Serve::start(tag, &config, &["--workers", "1"], None), vxlan_port)
}

#[test]
fn the_web_ui_shows_flows_the_broker_and_the_collector_in_a_real_browser() {
    if !browser_ready() {
        return;
    }
    // Screenshots are kept for a person to look at (target/ui-screenshots).
    let shots = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/ui-screenshots"));
    std::fs::create_dir_all(shots).unwrap();
    for (tag, readonly) in [("ui", false), ("ui-readonly", true)] {
        let tmp = TempDir::new(tag);
        let (server, vxlan_port) = start(tag, readonly, &tmp.join("mirror.pcapng"));
        let stop = Arc::new(AtomicBool::new(false));
        let feeder = feed(vxlan_port, server.sflow, stop.clone());
        std::thread::sleep(Duration::from_secs(2));
        drive(&server, shots, if readonly { "readonly" } else { "full" });
        // The flows the page defined go 10 s after no page asks for them.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let defined = server.json("/flow/json");
            let left: Vec<&String> =
                defined.as_object().unwrap().keys().filter(|n| n.starts_with("ui_")).collect();
            if left.is_empty() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the page's flows stayed: {left:?}");
            std::thread::sleep(Duration::from_millis(500));
        }
        stop.store(true, Ordering::Relaxed);
        feeder.join().unwrap();
        server.stop();
    }
}

//! `detunnel demo`: the whole product on loopback, with nothing to set up. The daemon runs with
//! a broker pipeline that terminates VXLAN, GENEVE and GRE-in-UDP (carrying GRE-TEB and ERSPAN
//! II) and counts what it strips in the flow engine; a feeder thread sends it the mirrored
//! traffic of a few tenants and, as sFlow, samples of the same tunnelled traffic; a few flows
//! are defined; the web UI's address is printed with what to try; Ctrl-C ends it.
use crate::cli::{DemoArgs, ServeArgs};
use crate::serve_config::Config;
use anyhow::{Context as _, Result};
use craft::sflow::{datagram, Agent, Sample};
use craft::{build, Header};
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The tenants: (inner source, inner destination, TCP destination port, payload bytes).
const TENANTS: [([u8; 4], [u8; 4], u16, usize); 6] = [
    ([10, 1, 0, 11], [10, 1, 0, 20], 443, 1200),
    ([10, 1, 0, 12], [10, 1, 0, 20], 443, 600),
    ([10, 2, 0, 11], [10, 2, 0, 30], 5432, 900),
    ([10, 2, 0, 12], [10, 2, 0, 30], 22, 200),
    ([10, 3, 0, 11], [10, 3, 0, 40], 8080, 1400),
    ([10, 4, 0, 11], [10, 4, 0, 50], 53, 120),
];

/// A free UDP port on loopback.
fn free_udp_port() -> Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `wanted` when it can be bound, else another free port on loopback.
fn http_address(wanted: SocketAddr) -> Result<SocketAddr> {
    match std::net::TcpListener::bind(wanted) {
        Ok(_) => Ok(wanted),
        Err(_) => {
            let other = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
            eprintln!("detunnel demo: {wanted} is taken; serving on {other} instead");
            Ok(other)
        }
    }
}

/// The demo's configuration: its pipeline's endpoints on `ports` and the flows a newcomer
/// looks at first.
fn config(ports: [u16; 3]) -> Result<Config> {
    let [vxlan, geneve, udpgre] = ports;
    let text = format!(
        r#"
[flows.tenants]
keys = "ipsource.1,ipdestination.1,tcpdestinationport"
value = "bytes"
t = 5

[flows.stacks]
keys = "stack"
value = "frames"
t = 5

[flows.vni]
keys = "vxlanvni,ipsource.1,ipdestination.1"
value = "bytes"
filter = "vxlanvni!=null"
t = 5

[pipelines.mirror]
sources = ["vxlan://127.0.0.1:{vxlan}", "geneve://127.0.0.1:{geneve}", "udpgre://127.0.0.1:{udpgre}"]
sinks = ["flows", "file:/dev/null"]
"#
    );
    toml::from_str(&text).context("the demo's configuration")
}

/// One tenant frame, Ethernet to TCP.
fn tenant_frame(i: usize) -> Vec<Header> {
    let (src, dst, port, payload) = TENANTS[i % TENANTS.len()];
    vec![
        Header::Eth { src: [0x02, 0, 0, 0, 1, i as u8], dst: [0x02, 0, 0, 0, 2, i as u8] },
        Header::ipv4(src, dst),
        Header::Tcp { src: 40000 + i as u16, dst: port, flags: 0x18 },
        Header::Payload(vec![0; payload]),
    ]
}

/// The tunnel header (as its endpoint receives it, after UDP) that carries tenant `i`, and
/// which endpoint of `ports` takes it: VXLAN by tenant network, GENEVE, GRE-TEB with a key,
/// ERSPAN II.
fn tunnelled(i: usize, ports: [u16; 3]) -> (Vec<u8>, u16) {
    let inner = tenant_frame(i);
    let (outer, port) = match i % TENANTS.len() {
        0 | 1 => (Header::Vxlan { vni: 100 }, ports[0]),
        2 => (Header::Vxlan { vni: 200 }, ports[0]),
        3 => (Header::Erspan2 { session: 12, index: 3 }, ports[2]),
        4 => (Header::Geneve { vni: 5000, options: vec![], critical: false }, ports[1]),
        _ => (Header::Gre { key: Some(7), seq: None }, ports[2]),
    };
    (build(&[vec![outer], inner].concat()), port)
}

/// A switch's view of tenant `i`'s tunnelled frame, cut to 128 bytes as an sFlow agent
/// samples it: VXLAN, GRE with ERSPAN II, GENEVE.
fn sampled(i: usize) -> Vec<u8> {
    let underlay = |a: u8, b: u8| vec![Header::eth(), Header::ipv4([192, 0, 2, a], [192, 0, 2, b])];
    let tunnel = match i % 3 {
        0 => vec![
            Header::Udp { src: 49152 + i as u16, dst: 4789 },
            Header::Vxlan { vni: 100 + 100 * (i as u32 % 2) },
        ],
        1 => vec![Header::Erspan2 { session: 7, index: 3 }],
        _ => vec![
            Header::Udp { src: 49152, dst: 6081 },
            Header::Geneve { vni: 5000, options: vec![], critical: false },
        ],
    };
    let mut f = build(&[underlay(1, 2 + (i % 3) as u8), tunnel, tenant_frame(i)].concat());
    f.truncate(128);
    f
}

/// Sends mirrored frames at `rate` a second to the pipeline's endpoints and, every 100 ms, an
/// sFlow datagram sampling 1 in 10 of them, until `stop`.
fn feed(ports: [u16; 3], sflow: SocketAddr, rate: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else { return };
        let agent = Agent { address: std::net::IpAddr::from([192, 0, 2, 10]), sub_agent: 0 };
        let started = Instant::now();
        let (mut sent, mut sequence) = (0u64, 0u32);
        // The tenants' shares: the first ones talk most.
        let weights = [8, 5, 4, 2, 3, 1];
        let pick = |n: u64| {
            let mut k = n % weights.iter().sum::<u64>();
            weights
                .iter()
                .position(|w| {
                    if k < *w {
                        true
                    } else {
                        k -= w;
                        false
                    }
                })
                .unwrap_or(0)
        };
        while !stop.load(Ordering::Relaxed) {
            let due = (started.elapsed().as_secs_f64() * f64::from(rate)) as u64;
            let mut samples = Vec::new();
            while sent < due {
                let tenant = pick(sent.wrapping_mul(2_654_435_761) >> 7);
                let (payload, port) = tunnelled(tenant, ports);
                let _ = socket.send_to(&payload, ("127.0.0.1", port));
                if sent % 10 == 0 && samples.len() < 50 {
                    let header = sampled(tenant);
                    samples.push(Sample::Flow {
                        source: 1 + tenant as u32 % 3,
                        sampling_rate: 10,
                        sample_pool: sent as u32,
                        input: 1 + tenant as u32 % 3,
                        output: 10,
                        frame_length: header.len() as u32 + TENANTS[tenant].3 as u32,
                        header,
                    });
                }
                sent += 1;
            }
            if !samples.is_empty() {
                sequence += 1;
                let uptime = started.elapsed().as_millis() as u32;
                let _ = socket.send_to(&datagram(agent, sequence, uptime, &samples), sflow);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

/// Runs the demo until Ctrl-C.
pub fn run(args: &DemoArgs) -> Result<ExitCode> {
    let http = http_address(args.http)?;
    let sflow = SocketAddr::from(([127, 0, 0, 1], free_udp_port()?));
    let ports = [free_udp_port()?, free_udp_port()?, free_udp_port()?];
    let config = config(ports)?;
    eprintln!(
        "detunnel demo: synthetic mirrored traffic of {} tenants ({} frames a second) in VXLAN, GENEVE, GRE-TEB\n\
         and ERSPAN II, stripped by a broker pipeline into the flow engine, and sampled as sFlow.\n\
         \n  Open http://{http}/ui/ and try:\n\
         \x20   - Flows: the Tenants preset (who talks to whom inside the tunnels), VXLAN VNI, Stack;\n\
         \x20     click a value in the table to narrow the filter, \"where seen\" for the switch port;\n\
         \x20   - Broker: the pipeline's tunnel streams; a stream's name opens its flows;\n\
         \x20   - Collector: the sFlow agent 192.0.2.10.\n\
         \x20 Or the REST API: curl http://{http}/activeflows/ALL/tenants/json\n\
         \x20 Ctrl-C stops the demo.\n",
        TENANTS.len(),
        args.rate
    );
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(ports, sflow, args.rate, stop.clone());
    let serve = ServeArgs {
        config: None,
        sflow: vec![sflow],
        http: Some(http),
        workers: Some(1),
        read: None,
        realtime: false,
    };
    let result = crate::serve::run_with(config, &serve);
    stop.store(true, Ordering::Relaxed);
    let _ = feeder.join();
    result
}

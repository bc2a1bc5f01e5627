//! Writes the seed corpus of every fuzz target under `corpus/TARGET/`: frames and sFlow
//! datagrams of the real captures named by DETUNNEL_CAPTURES (their files too, cut to 64 KiB,
//! for the readers, and compressed), frames of every generated encapsulation, flow expressions and API
//! requests. Usage: `cargo run --example seed [CORPUS_DIR]` (in `fuzz/`).
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

fn write(dir: &Path, target: &str, n: &mut usize, data: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(format!("seed-{n:05}")), data).unwrap();
    *n += 1;
}

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let mut n = 0;
    let mut d = dissect::Dissector::default();
    let mut stack = dissect::Stack::new();
    match std::env::var_os("DETUNNEL_CAPTURES") {
        Some(dir) => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
                .collect();
            files.sort();
            for p in files {
                let bytes = std::fs::read(&p).unwrap();
                let head = &bytes[..bytes.len().min(65_536)];
                write(&out, "capture", &mut n, head);
                // Compressed as each format writes it, for the decompressing reader.
                for kind in
                    [capture::Compression::Gzip, capture::Compression::Zstd, capture::Compression::Lz4]
                {
                    let mut packed = Vec::new();
                    if kind.pack(&head[..head.len().min(8_192)], &mut packed).is_ok() {
                        write(&out, "capture", &mut n, &packed);
                    }
                }
                let Ok(mut r) = capture::FileReader::open(p.to_str().unwrap()) else { continue };
                let mut taken = 0;
                let _ = r.for_each(|f| {
                    let link = detunnel_fuzz::LINKS.iter().position(|l| *l == f.link).unwrap_or(0) as u8;
                    write(&out, "decap", &mut n, &[&[link, (taken * 37) as u8][..], f.data].concat());
                    d.dissect(f.data, f.link, &mut stack);
                    if let Some(l) = stack.layers().iter().find(|l| l.proto == dissect::Proto::Sflow) {
                        write(&out, "sflow", &mut n, &f.data[l.offset as usize..]);
                    }
                    taken += 1;
                    if taken < 20 {
                        ControlFlow::Continue(())
                    } else {
                        ControlFlow::Break(())
                    }
                });
            }
        }
        None => eprintln!("seed: DETUNNEL_CAPTURES is not set; seeding from built frames only"),
    }
    let frames = detunnel_fuzz::frames();
    for (i, f) in frames.iter().enumerate() {
        write(&out, "decap", &mut n, &[&[0, (i * 53) as u8][..], f].concat());
    }
    let agent = craft::sflow::Agent { address: std::net::IpAddr::from([192, 0, 2, 1]), sub_agent: 1 };
    let mut g = craft::mix::Generator::new(craft::mix::Mix::default());
    for dg in craft::sflow::stream(&mut g, agent, 20, 3, 100) {
        write(&out, "sflow", &mut n, &dg);
    }
    for (keys, filter, value) in [
        ("ipsource.1,ipdestination.1,stack", "ipsource.1!=null", "bytes"),
        ("vxlanvni", "vxlanvni!=null&(tcpdestinationport.1=80,443|udpdestinationport.1=53)", "frames"),
        ("[prefix:stack:.:5],or:tcpsourceport:udpsourceport", "stack~'eth\\.ip\\..*'", "count:ipsource"),
        (
            "concat:-:ipsource:ipdestination,mask:ipsource.1:24",
            "!(ipprotocol=6)&'ipsource'='10.0.0.1'",
            "avg:bytes",
        ),
        (
            "if:[first:stack:.:ip:ip6]:ip:ipsource:ip6source,null:vlan:none",
            "range:bytes:64:128=true",
            "rate:bytes",
        ),
        ("bits:ip6flowlabel:0xff,eq:ipsource:ipdestination", "(((true)))|false", "frames"),
    ] {
        write(&out, "query", &mut n, format!("{keys}\0{filter}\0{value}").as_bytes());
    }
    // Expressions at and past the limits: deep nesting, long chains, costly patterns.
    let deep = |n: usize| format!("{}ipsource=10.0.0.1{}", "(".repeat(n), ")".repeat(n));
    let deep_key = |n: usize| format!("{}ipsource{}", "null:[".repeat(n), "]:x".repeat(n));
    for (keys, filter) in [
        (deep_key(31), deep(31)),
        (deep_key(40), deep(2_000)),
        ("stack".into(), vec!["false"; 1_100].join("|")),
        ("stack".into(), format!("{}true", "!".repeat(40))),
        ("stack".into(), vec![r"stack~'\w{200}'"; 3].join("|")),
    ] {
        write(&out, "query", &mut n, format!("{keys}\0{filter}\0frames").as_bytes());
    }
    for (method, path, header, body) in [
        (0u8, "/flow/json", "", ""),
        (
            1,
            "/flow/tenants/json",
            "content-type: application/json",
            r#"{"keys":"ipsource.1,stack","value":"bytes","filter":"ipsource.1!=null","log":true}"#,
        ),
        (0, "/activeflows/ALL/tenants/json?maxFlows=5&minValue=1&aggMode=sum", "", ""),
        (0, "/events/json?eventID=-1&timeout=1&maxEvents=3", "", ""),
        (0, "/flows/json?flowID=0&timeout=NaN", "", ""),
        (1, "/threshold/t/json", "", r#"{"metric":"tenants","value":100,"byFlow":true}"#),
        (1, "/group/g/json", "", r#"{"inside":["10.0.0.0/8","fc00::/7"]}"#),
        (0, "/metric/ALL/max:tenants,ifinoctets/json", "", ""),
        (0, "/dump/ALL/tenants/json", "", ""),
        (0, "/prometheus/metrics/ALL/ALL/txt", "", ""),
        (2, "/flow/tenants/json", "authorization: Bearer x", ""),
        (4, "/flow/json", "origin: http://evil.example", ""),
    ] {
        write(&out, "http", &mut n, format!("{}\0{path}\0{header}\0{body}", char::from(method)).as_bytes());
    }
    println!("seed: {n} inputs under {}", out.display());
}

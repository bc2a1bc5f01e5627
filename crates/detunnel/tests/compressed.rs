//! Compressed captures: gzip, zstd and lz4 read wherever a capture is read (recognised by
//! their magic bytes, from files and standard input, as the real tools write them) and
//! written by extension or `--compress`, judged by tshark (which reads gzip itself; zstd and
//! lz4 are decompressed by their own command-line tools first). A stream that is cut or
//! corrupt is an error naming the file and how far it got, and what was written before it
//! stays readable.
mod common;

use common::{detunnel, frames_in, have_tool, TempDir};
use std::path::Path;
use std::process::{Command, Stdio};

/// `detunnel ARGS`, which must succeed; returns its standard error.
fn run(args: &[&str]) -> String {
    let out = Command::new(detunnel()).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "detunnel {}: {err}", args.join(" "));
    err
}

/// `tool ARGS < input > output`.
fn pipe(tool: &str, args: &[&str], input: &Path, output: &Path) {
    let status = Command::new(tool)
        .args(args)
        .stdin(std::fs::File::open(input).unwrap())
        .stdout(std::fs::File::create(output).unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "{tool} {}", args.join(" "));
}

/// What tshark reads of `path`: one line a frame, source and destination of the innermost
/// IPv4 header and the frame's protocols.
fn tshark(path: &Path) -> Vec<String> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args(["-T", "fields", "-e", "ip.src", "-e", "ip.dst", "-e", "frame.protocols"])
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark -r {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
}

/// The same file decompressed by its own tool, for tshark 4.0 (which reads only gzip).
fn plain_for_tshark(path: &Path, tmp: &TempDir) -> std::path::PathBuf {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let tool = match name.rsplit('.').next() {
        Some("zst") => "zstd",
        Some("lz4") => "lz4",
        _ => return path.to_path_buf(),
    };
    let plain = tmp.join(&format!("{name}.plain"));
    pipe(tool, &["-dc"], path, &plain);
    plain
}

#[test]
fn compressed_output_is_read_by_the_real_tools_and_by_detunnel() {
    if !have_tool("tshark") || !have_tool("zstd") || !have_tool("lz4") || !have_tool("gzip") {
        return;
    }
    let tmp = TempDir::new("compressed-out");
    let plain = tmp.join("mix.pcapng");
    run(&["generate", "-q", "-c", "3000", "-w", plain.to_str().unwrap()]);
    let want = tshark(&plain);
    assert_eq!(want.len(), 3000);
    let stripped = tmp.join("stripped.pcap");
    run(&["decap", "-q", "-r", plain.to_str().unwrap(), "-w", stripped.to_str().unwrap()]);
    let stripped_frames = frames_in(&stripped);
    for ext in ["gz", "zst", "lz4"] {
        // generate, by the name.
        let packed = tmp.join(&format!("mix.pcapng.{ext}"));
        run(&["generate", "-q", "-c", "3000", "-w", packed.to_str().unwrap()]);
        assert!(std::fs::metadata(&packed).unwrap().len() < std::fs::metadata(&plain).unwrap().len() / 2);
        assert_eq!(tshark(&plain_for_tshark(&packed, &tmp)), want, "{ext}");
        // decap reads it and writes the same frames, compressed again by the name.
        let out = tmp.join(&format!("stripped.pcap.{ext}"));
        run(&["decap", "-q", "-r", packed.to_str().unwrap(), "-w", out.to_str().unwrap()]);
        assert_eq!(frames_in(&out), stripped_frames, "{ext}");
        let judged = tshark(&plain_for_tshark(&out, &tmp));
        assert_eq!(judged.len(), 3000);
        // No tunnel left: every frame is Ethernet with one IP header.
        let untunnelled = |l: &String| {
            let protocols = l.rsplit('\t').next().unwrap_or("");
            protocols.starts_with("eth:ethertype:ip:")
                && protocols.matches(":ip:").count() == 1
                && !["gre", "erspan", "vxlan", "geneve"].iter().any(|t| protocols.contains(t))
        };
        assert!(judged.iter().all(untunnelled), "{ext}: {:?}", &judged[..3]);
    }
    // --compress names the kind for standard output.
    let piped = tmp.join("piped.zst");
    let status = Command::new(detunnel())
        .args(["decap", "-q", "--compress", "zstd", "-w", "-", "-r"])
        .arg(&plain)
        .stdout(std::fs::File::create(&piped).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(frames_in(&piped), stripped_frames);
    // A pcapng split into one file per stream, compressed the same way.
    let dir = tmp.join("streams");
    run(&[
        "decap",
        "-q",
        "-r",
        plain.to_str().unwrap(),
        "--split-streams",
        dir.to_str().unwrap(),
        "--compress",
        "gzip",
    ]);
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 20, "{files:?}");
    assert!(files.iter().all(|f| f.to_string_lossy().ends_with(".pcap.gz")), "{files:?}");
    assert_eq!(files.iter().map(|f| tshark(f).len()).sum::<usize>(), 3000);
}

#[test]
fn captures_compressed_by_the_real_tools_are_read_from_files_and_pipes() {
    if !have_tool("zstd") || !have_tool("lz4") || !have_tool("gzip") {
        return;
    }
    let tmp = TempDir::new("compressed-in");
    let plain = tmp.join("mix.pcap");
    run(&["generate", "-q", "-c", "2000", "-w", plain.to_str().unwrap()]);
    let want = frames_in(&plain);
    // Two gzip members one after the other read as one file, as zcat reads them.
    let (first, second) = (tmp.join("a.gz"), tmp.join("b.gz"));
    let bytes = std::fs::read(&plain).unwrap();
    let half = tmp.join("half");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    pipe("gzip", &["-9c"], &half, &first);
    std::fs::write(&half, &bytes[bytes.len() / 2..]).unwrap();
    pipe("gzip", &["-1c"], &half, &second);
    let both = tmp.join("both.pcap.gz");
    std::fs::write(&both, [std::fs::read(&first).unwrap(), std::fs::read(&second).unwrap()].concat())
        .unwrap();
    let mut inputs = vec![both];
    for (tool, args, name) in
        [("zstd", &["-19", "-c"][..], "mix.pcap.zst"), ("lz4", &["-c"][..], "mix.pcap.lz4")]
    {
        let path = tmp.join(name);
        pipe(tool, args, &plain, &path);
        inputs.push(path);
    }
    // Named for what they are not: the magic bytes decide.
    let misnamed = tmp.join("really-zstd.pcap");
    std::fs::copy(&inputs[1], &misnamed).unwrap();
    inputs.push(misnamed);
    for input in &inputs {
        assert_eq!(frames_in(input), want, "{}", input.display());
        let out = tmp.join("out.pcap");
        run(&["decap", "-q", "-r", input.to_str().unwrap(), "-w", out.to_str().unwrap()]);
        // From standard input too.
        let piped = Command::new(detunnel())
            .args(["inspect", "-r", "-"])
            .stdin(std::fs::File::open(input).unwrap())
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&piped.stderr);
        assert!(piped.status.success() && err.starts_with("2000 frames"), "{}: {err}", input.display());
    }
}

#[test]
fn a_cut_or_corrupt_stream_is_an_error_naming_the_file_and_what_came_before_stays() {
    let tmp = TempDir::new("compressed-bad");
    let packed = tmp.join("mix.pcap.gz");
    run(&["generate", "-q", "-c", "4000", "-w", packed.to_str().unwrap()]);
    let bytes = std::fs::read(&packed).unwrap();
    let cut = tmp.join("cut.pcap.gz");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = tmp.join("out.pcap");
    let result = Command::new(detunnel())
        .args(["decap", "-r", cut.to_str().unwrap(), "-w", out.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{err}");
    assert!(err.contains("cut.pcap.gz: record ") && err.contains("the gzip stream ends early"), "{err}");
    assert!(err.contains("compressed bytes"), "{err}");
    // Every frame before the cut was written, whole.
    let written = frames_in(&out).len();
    assert!(written > 1000 && written < 4000, "{written} frames");
    // Bytes changed in the middle of the stream.
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid..mid + 16].copy_from_slice(&[0x55; 16]);
    let corrupt = tmp.join("corrupt.pcap.gz");
    std::fs::write(&corrupt, &bad).unwrap();
    let result = Command::new(detunnel())
        .args(["inspect", "-q", "-r", corrupt.to_str().unwrap()])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{err}");
    // Found by gzip (a bad code or checksum) or, first, by the capture's own framing.
    assert!(err.contains("corrupt.pcap.gz: record "), "{err}");
}

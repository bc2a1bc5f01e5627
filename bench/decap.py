#!/usr/bin/env python3
"""Whole-process benchmark of `detunnel decap` against tcpdump, cp and tshark.

Generates a mixed capture with `detunnel generate` (ERSPAN II and III, GRE-TEB, VXLAN,
GENEVE; inner frames 64-1500 bytes) in a memory-backed folder, then runs, interleaved and
several times each, on the same file:

  cp IN OUT                        the floor for reading and writing these bytes
  copy_records IN OUT              capture's reader and writer copying every record, decoding
                                   nothing: the floor for a tool that reads frames (built here
                                   from crates/capture/examples)
  tcpdump -r IN -w OUT             copies the file, decapsulating nothing
  detunnel decap -r IN -w OUT      strips every tunnel (single-threaded)
  tshark -r IN -T fields -e ip.src extracts one field (on a slice of the file, scaled)

and prints median wall times, peak memory (RSS) of each process, and the ratios of decap to
the others, all measured in this run: the machines are shared, so only ratios mean much.

Usage: bench/decap.py [--frames N] [--runs N] [--dir DIR] [--detunnel PATH] [--tshark-frames N]
                      [--copy-records PATH]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def run(cmd):
    """Runs cmd under GNU time; returns (wall seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}: {p.stderr.strip()[-300:]}")
    return wall, int(p.stderr.strip().splitlines()[-1]) / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default="/dev/shm/detunnel-bench")
    ap.add_argument("--detunnel", default="target/release/detunnel")
    ap.add_argument("--tshark-frames", type=int, default=200_000,
                    help="tshark runs on this many frames and its time is scaled to the whole file")
    ap.add_argument("--copy-records", default="target/release/examples/copy_records")
    a = ap.parse_args()
    if a.copy_records == ap.get_default("copy_records"):
        subprocess.run(["cargo", "build", "-q", "--release", "-p", "capture", "--example", "copy_records"],
                       check=True)
    for tool in ("tcpdump", "tshark", "editcap", "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (apt-get install tcpdump tshark time)")
    os.makedirs(a.dir, exist_ok=True)
    src = os.path.join(a.dir, "in.pcap")
    out = os.path.join(a.dir, "out.pcap")
    part = os.path.join(a.dir, "part.pcap")
    print(f"generating {a.frames} frames ...", flush=True)
    subprocess.run([a.detunnel, "generate", "-c", str(a.frames), "--encap", "erspan2,erspan3,gre,vxlan,geneve",
                    "--size", "64-1500", "--streams", "16", "--flows", "1000", "-w", src], check=True)
    subprocess.run(["editcap", "-r", src, part, f"1-{a.tshark_frames}"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    size = os.path.getsize(src)
    scale = a.frames / min(a.tshark_frames, a.frames)
    cmds = {
        "cp": ["cp", src, out],
        "copy_records": [a.copy_records, src, out],
        "tcpdump": ["tcpdump", "-r", src, "-w", out],
        "decap": [a.detunnel, "decap", "-q", "-r", src, "-w", out],
    }
    times = {k: [] for k in cmds}
    peaks = {k: 0.0 for k in cmds}
    tshark_times = []
    for i in range(a.runs):
        for name, cmd in cmds.items():
            wall, rss = run(cmd)
            times[name].append(wall)
            peaks[name] = max(peaks[name], rss)
            os.remove(out)
        if i < 2:
            wall, _ = run(["tshark", "-n", "-r", part, "-T", "fields", "-e", "ip.src"])
            tshark_times.append(wall * scale)
    med = {k: statistics.median(v) for k, v in times.items()}
    med["tshark (scaled)"] = statistics.median(tshark_times)
    print(f"\n{a.frames} frames, {size / 1e6:.0f} MB, in {a.dir}; median of {a.runs} runs\n")
    print(f"{'command':<18} {'seconds':>8} {'MB/s':>8} {'peak MiB':>9}")
    for k, v in med.items():
        peak = f"{peaks[k]:9.1f}" if k in peaks else f"{'':>9}"
        print(f"{k:<18} {v:8.3f} {size / 1e6 / v:8.0f} {peak}")
    d = med["decap"]
    print(f"\ndecap / tcpdump  = {d / med['tcpdump']:.2f}   (target <= 1.00)")
    print(f"decap / cp       = {d / med['cp']:.2f}   (target <= 1.00)")
    print(f"decap / tshark   = {d / med['tshark (scaled)']:.3f}")
    print(f"copy_records / cp = {med['copy_records'] / med['cp']:.2f}   (reading and writing records, no decoding)")
    print(f"decap - copy_records = {(d - med['copy_records']) / a.frames * 1e9:.0f} ns per frame"
          " (decoding, decapsulating, stream bookkeeping)")
    print(f"decap peak memory = {peaks['decap']:.1f} MiB   (target < 64)")
    shutil.rmtree(a.dir)


if __name__ == "__main__":
    main()

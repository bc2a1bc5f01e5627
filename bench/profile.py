#!/usr/bin/env python3
"""Where a live receiver's CPU goes a frame: `tcpdump -i -w` against `detunnel decap -i -w` (one
worker), each under `perf record`, at one stepped rate.

On bench/live.py's veth pair (its namespaces, generator, traffic mix and ballast), each receiver
takes `--frames` at `--rate` frames a second, `--repeat` times, taking turns. For each run it
prints the CPU per frame of the receiver's process (from /proc) and how perf's samples of it
divide: the kernel; decap's decoding (the decoder, the filter, the decapsulation's decision, the
stream's key and the outer headers' declared lengths: symbols of the dissect, decap and wire
crates and of the pipeline's lanes); and everything else in user space (reading the ring, the
copy into the file's buffer, the counts; for tcpdump, all its user time). Then the medians, and
what decap's frame would cost without its decoding, as a share of tcpdump's.

`perf record -e cpu-clock` (sampling by the clock: no hardware counters are needed) makes every
frame dearer, both receivers' alike, so compare shares and ratios, not nanoseconds with
bench/live.py's. Needs root, perf and tcpdump.

Usage: sudo bench/profile.py [--frames N] [--rate PPS] [--repeat N] [--detunnel PATH]
"""
import argparse
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live  # noqa: E402

# Symbols of decap's decoding, as whole-program LTO leaves them (much is inlined into these).
DECODING = re.compile(r"^(dissect|decap|wire)::|^pipeline::lane::")
SAMPLE = re.compile(r"\s*([\d.]+)%\s+\[(.)\]\s+(.*)")


def shares(data):
    """Percentages of the samples in `data`: the kernel, decoding, the rest of user space."""
    report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "sym", "-g", "none"],
                            check=True, capture_output=True, text=True).stdout
    kernel = decoding = other = 0.0
    for line in report.splitlines():
        m = SAMPLE.match(line)
        if not m:
            continue
        share, space, symbol = float(m.group(1)), m.group(2), m.group(3).strip()
        if space == "k":
            kernel += share
        elif DECODING.search(symbol):
            decoding += share
        else:
            other += share
    total = kernel + decoding + other or 1.0
    return {"kernel": kernel / total, "decoding": decoding / total, "other": other / total}


def profiled_run(name, cmd, args, data):
    """One run of receiver `cmd` under perf; (CPU ns a frame, shares)."""
    p = live.receiver(cmd)
    time.sleep(1.0)
    room = live.Ballast(args.frames)
    perf = None
    try:
        room.release(args.rate)
        perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "10000", "-p", str(p.pid),
                                 "-o", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        user0, sys0 = live.cpu_seconds(p.pid)
        live.send(args.detunnel, args.frames, args.rate)
        time.sleep(1.5)
        user1, sys1 = live.cpu_seconds(p.pid)
    finally:
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        room.close()
    received, drops = live.finish(p, name, args.dir)
    if not received:
        sys.exit(f"{name} received nothing")
    return 1e9 * (user1 + sys1 - user0 - sys0) / received, shares(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--rate", type=int, default=300_000, help="frames a second offered (0: top speed)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--detunnel", default="target/release/detunnel")
    ap.add_argument("--dir", default="/dev/shm/detunnel-profile")
    args = ap.parse_args()
    args.detunnel = live.prepare(args, "perf", "tcpdump", "ip")
    out = os.path.join(args.dir, "out.pcap")
    receivers = {
        "tcpdump": ["tcpdump", "-i", "r0", "-n", "-w", out],
        "decap": [args.detunnel, "decap", "-i", "r0", "--stats", "json", "-w", out],
    }
    runs = {name: [] for name in receivers}
    live.setup()
    try:
        for _ in range(args.repeat):
            for name, cmd in receivers.items():
                data = os.path.join(args.dir, f"{name}.perf.data")
                ns, s = profiled_run(name, cmd, args, data)
                os.remove(data)
                runs[name].append((ns, s))
                print(f"{name:8} {ns:5.0f} ns a frame: kernel {s['kernel']:.0%} ({ns * s['kernel']:.0f} ns), "
                      f"decoding {s['decoding']:.0%} ({ns * s['decoding']:.0f} ns), "
                      f"other user {s['other']:.0%} ({ns * s['other']:.0f} ns)", flush=True)
    finally:
        live.remove_ballast()
        live.teardown()
        with contextlib.suppress(OSError):
            os.rmdir(args.dir)
    tcpdump = statistics.median(ns for ns, _ in runs["tcpdump"])
    decap = statistics.median(ns for ns, _ in runs["decap"])
    decoding = statistics.median(ns * s["decoding"] for ns, s in runs["decap"])
    print(f"\nmedians under perf, {args.rate or 'top speed'} frames a second: tcpdump {tcpdump:.0f} ns a frame, "
          f"decap {decap:.0f} ({live.ratio(decap, tcpdump):.2f} of tcpdump's), of which decoding {decoding:.0f}")
    print(f"decap without its decoding: {live.ratio(decap - decoding, tcpdump):.2f} of tcpdump's frame; "
          f"its decoding: {live.ratio(decoding, tcpdump):.2f}")


if __name__ == "__main__":
    main()

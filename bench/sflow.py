#!/usr/bin/env python3
"""Whole-process benchmark of the sFlow collector: `detunnel serve` against pmacct's `sfacctd`.

`detunnel generate --sflow` sends sFlow v5 datagrams over loopback, 8 flow samples each with
128-byte tunnelled headers (ERSPAN II and III, GRE-TEB, VXLAN, GENEVE), at a fixed rate for a
few seconds per step, stepping the rate up. Each collector runs fresh for each step with the
same three flow definitions:

  detunnel serve (1 worker)  outer: ipsource,ipdestination (bytes); tenants: ipsource.1,
                             ipdestination.1,ipprotocol.1 (frames); stacks: stack (frames)
  sfacctd                    three memory plugins: src_host,dst_host; tunnel_src_host,
                             tunnel_dst_host,tunnel_proto (pmacct decodes inner headers of
                             VXLAN only); etype (it has no protocol stack key)

For each step it reads the kernel's UDP drop counter of the collector's port
(/proc/net/udp) and the CPU time of the collector's processes (all of its process group),
and prints samples received per second, drops, and samples per CPU-second (per core). The
summary gives, for each collector, the highest rate with no socket drops and the samples
per CPU-second at the highest rate offered, and their ratios, all measured in this run (the machines are shared,
so only ratios mean much).

Run as root to raise net.core.rmem_max for the run (it is restored afterwards).

Usage: bench/sflow.py [--rates R,R,...] [--seconds S] [--detunnel PATH] [--no-sfacctd]
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import free_port, send_sflow, start_serve, stop

SAMPLES = 8
TICK = os.sysconf("SC_CLK_TCK")

DETUNNEL_CONFIG = """
[sflow]
workers = 1
receive_buffer = 33554432
[flows.outer]
keys = "ipsource,ipdestination"
value = "bytes"
[flows.tenants]
keys = "ipsource.1,ipdestination.1,ipprotocol.1"
value = "frames"
[flows.stacks]
keys = "stack"
value = "frames"
"""

SFACCTD_CONFIG = """
daemonize: false
sfacctd_ip: 127.0.0.1
sfacctd_port: {port}
sfacctd_pipe_size: 33554432
plugins: memory[outer], memory[tenants], memory[stacks]
aggregate[outer]: src_host, dst_host
aggregate[tenants]: tunnel_src_host, tunnel_dst_host, tunnel_proto
aggregate[stacks]: etype
imt_path[outer]: {dir}/outer.pipe
imt_path[tenants]: {dir}/tenants.pipe
imt_path[stacks]: {dir}/stacks.pipe
"""


def udp_drops(port):
    """The kernel's drop counter summed over the UDP sockets bound to port."""
    total = 0
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        with open(path) as f:
            next(f)
            for line in f:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port:
                    total += int(cols[-1])
    return total


def group_cpu(pgid):
    """CPU seconds (user + system) of every process in process group pgid."""
    ticks = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / TICK


def start_detunnel(args, tmp):
    p, port, http = start_serve(args.detunnel, DETUNNEL_CONFIG, tmp)

    def received():
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/analyzer/json") as r:
            return json.load(r)["sFlowFlowSamples"]
    return p, port, received


def start_sfacctd(args, tmp):
    port = free_port(socket.SOCK_DGRAM)
    cfg = os.path.join(tmp, "sfacctd.conf")
    with open(cfg, "w") as f:
        f.write(SFACCTD_CONFIG.format(port=port, dir=tmp))
    p = subprocess.Popen(["sfacctd", "-f", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    time.sleep(1.5)
    if p.poll() is not None:
        sys.exit("sfacctd did not start")
    return p, port, None


def step(args, start, rate, tmp):
    """One collector, one rate: (samples received per second, drops, samples per CPU-second)."""
    p, port, received = start(args, tmp)
    try:
        cpu0, drops0 = group_cpu(p.pid), udp_drops(port)
        count = int(rate * args.seconds)
        t0 = time.perf_counter()
        send_sflow(args.detunnel, port, count, rate, SAMPLES)
        time.sleep(1.0)
        wall = time.perf_counter() - t0 - 1.0
        cpu, drops = group_cpu(p.pid) - cpu0, udp_drops(port) - drops0
        got = received() if received else (count - drops) * SAMPLES
        return got / wall, drops, got / cpu if cpu > 0 else float("nan")
    finally:
        stop(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="25000,50000,75000,100000,125000,150000",
                    help="datagrams per second to step through (8 samples each)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--detunnel", default="target/release/detunnel")
    ap.add_argument("--no-sfacctd", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(args.detunnel):
        subprocess.run(["cargo", "build", "--release", "-q"], check=True)
    collectors = [("detunnel", start_detunnel)]
    if not args.no_sfacctd:
        if not shutil.which("sfacctd"):
            sys.exit("sfacctd is not installed (apt-get install pmacct), or pass --no-sfacctd")
        collectors.append(("sfacctd", start_sfacctd))
    rmem = "/proc/sys/net/core/rmem_max"
    old = open(rmem).read().strip()
    try:
        with open(rmem, "w") as f:
            f.write("33554432")
    except OSError:
        print(f"(not root: net.core.rmem_max stays {old})")
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{'collector':10} {'offered/s':>12} {'received/s':>12} {'drops':>8} {'samples/CPU-s':>14}")
            for rate in [int(r) for r in args.rates.split(",")]:
                for name, start in collectors:
                    got, drops, per_cpu = step(args, start, rate, tmp)
                    results.setdefault(name, []).append((rate * SAMPLES, got, drops, per_cpu))
                    print(f"{name:10} {rate * SAMPLES:12,} {got:12,.0f} {drops:8,} {per_cpu:14,.0f}", flush=True)
    finally:
        try:
            with open(rmem, "w") as f:
                f.write(old)
        except OSError:
            pass
    print()
    summary = {}
    for name, rows in results.items():
        clean = [r for r in rows if r[2] == 0]
        best = max((r[1] for r in clean), default=0.0)
        # Per core: samples per CPU-second at the highest rate offered (the collector busiest,
        # its idle overheads least in the figure).
        per_core = rows[-1][3]
        summary[name] = (best, per_core)
        print(f"{name:10} highest rate with no socket drops: {best:12,.0f} samples/s; "
              f"{per_core:,.0f} samples per CPU-second (per core) at the highest rate")
    if "sfacctd" in summary and summary["sfacctd"][1] > 0:
        d, s = summary["detunnel"], summary["sfacctd"]
        print(f"detunnel/sfacctd: samples per CPU-second {d[1] / s[1]:.1f}x; "
              f"no-drop rate {d[0] / s[0] if s[0] else float('inf'):.1f}x")


if __name__ == "__main__":
    main()

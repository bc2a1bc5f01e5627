#!/usr/bin/env python3
"""What an open web UI costs the daemon: `detunnel serve` receiving sFlow at a steady rate
(`detunnel generate --sflow`, 8 flow samples per datagram; 100,000 samples a second by default),
its CPU measured over the same span of time without a page and then with one page of the UI
open on the flows view in headless Chromium (polling once a second), and how long the page took
to load (`loadMs`; the target is under 300 ms from loopback). Prints both, as a share of
one core, and the difference: the page's cost. Only the daemon's own process is counted, not
the browser's.

Usage: bench/ui.py [--samples-per-second N] [--seconds S] [--detunnel PATH]
Needs chromium and `npm install` in crates/detunnel/tests/ui.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from common import start_serve, stop  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
SAMPLES = 8
UI = os.path.join(os.path.dirname(__file__), "..", "crates", "detunnel", "tests", "ui")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def samples(http):
    with urllib.request.urlopen(f"http://127.0.0.1:{http}/analyzer/json") as r:
        return json.load(r)["sFlowFlowSamples"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples-per-second", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--detunnel", default="target/release/detunnel")
    args = ap.parse_args()
    serve, port, http = start_serve(args.detunnel)
    try:
        rate = args.samples_per_second // SAMPLES
        total = 2 * args.seconds + 10
        gen = subprocess.Popen([args.detunnel, "generate", "--sflow", f"127.0.0.1:{port}", "-c", str(int(rate * total)),
                                "--rate", str(rate), "--samples", str(SAMPLES)], stderr=subprocess.DEVNULL)
        time.sleep(3)
        results = []
        for page in (False, True):
            browser = None
            if page:
                url = f"http://127.0.0.1:{http}/ui/?keys=ipsource.1,ipdestination.1,stack"
                browser = subprocess.Popen(["node", "open.mjs", url, str(args.seconds + 4)], cwd=UI,
                                           stdout=subprocess.PIPE, text=True)
                time.sleep(3)  # the page loads and defines its flow
            c0, s0, t0 = cpu_seconds(serve.pid), samples(http), time.perf_counter()
            time.sleep(args.seconds)
            c1, s1, t1 = cpu_seconds(serve.pid), samples(http), time.perf_counter()
            wall = t1 - t0
            results.append(((c1 - c0) / wall, (s1 - s0) / wall))
            if browser:
                out, _ = browser.communicate()
                print(f"page: {out.strip()}")
        gen.terminate()
        gen.wait()
    finally:
        stop(serve)
    (idle, rate_a), (shown, rate_b) = results
    print(f"{'':24}{'daemon CPU':>12}{'samples/s':>12}")
    print(f"{'no page':24}{100 * idle:>11.1f}%{rate_a:>12.0f}")
    print(f"{'one page (flows view)':24}{100 * shown:>11.1f}%{rate_b:>12.0f}")
    print(f"the page costs {100 * (shown - idle):.1f}% of a core")


if __name__ == "__main__":
    main()

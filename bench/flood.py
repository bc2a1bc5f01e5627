#!/usr/bin/env python3
"""`detunnel serve` under attack: a loopback flood of mutated sFlow datagrams and 20,000 idle
TCP connections to the REST API at once.

It starts `detunnel serve` (two workers, a tenants flow and one with a flow log), sends
it a flood of sFlow datagrams (valid ones from `detunnel generate --sflow`, each mutated: bits
flipped, cut short, words overwritten with extreme values, now and then pure noise) from a
second process for the whole run, opens IDLE connections to the API that send nothing (and
200 that send half a request), and meanwhile asks GET /analyzer/json and
GET /activeflows/ALL/tenants/json once a second. It prints, per second: the slowest answer,
the daemon's resident memory, datagrams received and the API's connection counters; and at
the end the worst answer time and the peak memory, against the bounds the README documents
(an answer within 1 s; memory under 256 MiB).

The idle connections are held by child processes of at most 5,000 each, so no process needs
more open files than the usual limit allows.

Usage: bench/flood.py [--seconds S] [--idle N] [--detunnel PATH]
"""
import argparse
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import free_port

CONFIG = """
[sflow]
workers = 2
[flows.tenants]
keys = "ipsource,ipdestination,ipsource.1,ipdestination.1"
value = "bytes"
[flows.ports]
keys = "agent,inputifindex,ipsource.1,ipdestination.1"
value = "frames"
log = true
"""


def seeds(detunnel):
    """Valid datagrams of generated tunnelled traffic, caught on a local socket."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2)
    port = rx.getsockname()[1]
    subprocess.run([detunnel, "generate", "--sflow", f"127.0.0.1:{port}", "-c", "300", "--agents", "20"],
                   check=True, stderr=subprocess.DEVNULL)
    out = []
    try:
        while len(out) < 300:
            out.append(rx.recv(65536))
    except socket.timeout:
        pass
    return out


def flood(port, datagrams, seconds):
    """Runs in a child process: sends mutated datagrams as fast as it can."""
    rng = random.Random(7)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    extremes = [0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000]
    end = time.time() + seconds
    sent = 0
    while time.time() < end:
        for _ in range(256):
            d = bytearray(rng.choice(datagrams))
            r = rng.random()
            if r < 0.5:
                for _ in range(rng.randint(1, 6)):
                    i = rng.randrange(len(d))
                    d[i] ^= 1 << rng.randrange(8)
            elif r < 0.75:
                d = d[: rng.randrange(len(d))]
            elif r < 0.98:
                i = rng.randrange(len(d) // 4) * 4
                d[i:i + 4] = struct.pack("!I", rng.choice(extremes))
            else:
                d = bytearray(rng.randbytes(rng.randrange(300)))
            try:
                s.sendto(bytes(d), ("127.0.0.1", port))
                sent += 1
            except OSError:
                pass
    os._exit(0)


PER_HOLDER = 5000


def hold(port, n, half, ready, seconds):
    """Runs in a child process: opens `n` connections that send nothing (200 of them half a
    request when `half`), says so on `ready`, and holds them."""
    conns = []
    for i in range(n):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        if half and i < 200:
            try:
                c.send(b"GET /analyzer/json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            except OSError:
                pass
        conns.append(c)
    os.write(ready, b"x")
    time.sleep(seconds)
    os._exit(0)


def rss(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def get(url):
    t = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as r:
        body = r.read()
    return time.monotonic() - t, body


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--idle", type=int, default=20000)
    ap.add_argument("--detunnel", default=os.path.join(os.path.dirname(__file__), "../target/release/detunnel"))
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < PER_HOLDER + 100:
        sys.exit(f"need {PER_HOLDER + 100} open files per process (the hard limit is {hard})")
    sflow, http = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as cfg:
        cfg.write(CONFIG)
    daemon = subprocess.Popen([a.detunnel, "serve", "-c", cfg.name, "--sflow", f"127.0.0.1:{sflow}",
                               "--http", f"127.0.0.1:{http}"], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{http}"
    for _ in range(100):
        try:
            get(base + "/healthz")
            break
        except OSError:
            time.sleep(0.05)
    idle_rss = rss(daemon.pid)
    datagrams = seeds(a.detunnel)
    pid = os.fork()
    if pid == 0:
        flood(sflow, datagrams, a.seconds + 5)
    holders = []
    for first in range(0, a.idle, PER_HOLDER):
        ready = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(ready[0])
            hold(http, min(PER_HOLDER, a.idle - first), half=first == 0, ready=ready[1], seconds=a.seconds + 10)
        os.close(ready[1])
        os.read(ready[0], 1)
        os.close(ready[0])
        holders.append(child)
    print(f"{a.idle} idle connections opened; flooding with mutated sFlow for {a.seconds} s")
    print(f"{'s':>3} {'slowest answer':>15} {'resident':>10} {'datagrams':>10} {'malformed':>10} "
          f"{'open':>6} {'evicted':>8} {'hdr timeout':>11}")
    worst, peak, accepted = 0.0, 0, 0
    try:
        for s in range(a.seconds):
            t1, _ = get(base + "/analyzer/json")
            t2, _ = get(base + "/activeflows/ALL/tenants/json?maxFlows=20")
            t3, m = get(base + "/metrics")
            m = m.decode()
            slowest = max(t1, t2, t3)
            worst = max(worst, slowest)
            mem = rss(daemon.pid)
            evicted = metric(m, 'detunnel_http_connections_closed_total{reason="evicted"}')
            accepted = metric(m, "detunnel_http_connections_total")
            slow = metric(m, 'detunnel_http_connections_closed_total{reason="header_timeout"}')
            peak = max(peak, mem)
            print(f"{s:>3} {slowest * 1000:>12.1f} ms {mem / 2**20:>6.1f} MiB "
                  f"{metric(m, 'detunnel_sflow_datagrams_total'):>10.0f} "
                  f"{metric(m, 'detunnel_sflow_datagrams_malformed_total') + metric(m, 'detunnel_sflow_datagrams_unreadable_total'):>10.0f} "
                  f"{metric(m, 'detunnel_http_connections'):>6.0f} "
                  f"{evicted:>8.0f} {slow:>11.0f}")
            time.sleep(max(0.0, 1.0 - slowest))
    finally:
        for child in [pid] + holders:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)
        os.unlink(cfg.name)
    print(f"worst answer {worst * 1000:.1f} ms (bound 1000 ms); resident memory {idle_rss / 2**20:.1f} MiB "
          f"idle, peak {peak / 2**20:.1f} MiB (bound 256 MiB); {accepted:.0f} connections accepted "
          f"(the rest of the {a.idle} were still in the kernel's backlog)")
    if worst >= 1.0 or peak >= 256 << 20:
        sys.exit("a bound was exceeded")


if __name__ == "__main__":
    main()

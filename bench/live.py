#!/usr/bin/env python3
"""Whole-process benchmark of the live broker: `detunnel decap -i` against `tcpdump -i`.

Two network namespaces joined by a veth pair; `detunnel generate --iface` sends tunnelled
traffic (ERSPAN II and III, GRE-TEB, VXLAN, GENEVE; 16 tunnel streams of each kind carrying
1,000 conversations, as bench/decap.py's; inner frames 64-512 bytes) onto one end
through a transmit ring at stepped rates (about 850,000-930,000 frames a second onto a veth at
top speed, where tcpreplay ran out first), and on the other end, one at a time and each started
fresh per step:

  tcpdump -i r0 -w FILE                      copies every frame, decapsulating nothing
  detunnel decap -i r0 -w FILE               strips every tunnel, 1 worker
  detunnel decap -i r0 -w FILE --workers 2   2 fanout workers
  detunnel decap -i r0 --tap mon0            strips into a TAP (1 and 2 workers)
  detunnel decap -i r0 --out t0              strips onto a tool port (a veth whose peer is
                                             the tool; 1 and 2 workers)
  detunnel decap -i r0 --to vxlan://10.254.0.2 re-encapsulates to a remote tool (through
                                             t0; 1 and 2 workers)
  detunnel decap --listen vxlan://10.255.0.1 a VXLAN tunnel endpoint (UDP sockets), 1 and 2
                                             workers; for these r0 takes the generator's outer
                                             destination address and MAC, and the generator
                                             sends VXLAN only

For each it prints the frames it received (its own count), the loss (frames replayed minus
received) and the CPU time per frame of its process (user + system, from /proc). Each rate is
run `--repeat` times (3 by default), the receivers taking turns, so that a noisy neighbour
weighs on all of them alike; the summary gives, per receiver, the highest rate that every
repetition took with no loss (every slower rate too), the median CPU per frame at each rate and
its ratio to tcpdump's median at the same rate, all measured in this run (the machines are
shared, so only ratios mean much). `--tools` picks receivers by the names printed. Needs root
and tcpdump; output files go to /dev/shm (`--dir`), each onto memory a ballast left just before
(see `Ballast`).

On a machine with few cores the sender shares them with the receiver and runs out first.
`--drain` measures what a receiver takes when it has the machine to itself: it is started with
a 2 GiB ring per worker and stopped (SIGSTOP), `--frames` are sent into its ring, then it is
let go (SIGCONT) and timed until it stops being busy (see `settled`); frames taken / that time
is its capacity, and a ring that overflowed (kernel drops) voids the run. Tunnel endpoints get
500,000 frames at most (their socket buffers, forced past net.core.rmem_max, hold about 1 GiB).
Drains also print user and system CPU a frame apart (user time is mostly decoding; system time
receiving and writing): the kernel splits them by sampling at each clock tick, which a busy
drain of half a second meets about fifty times, so they are indicative; a stepped run's
receiver wakes in step with the tick (a ring block retires every 10 ms) and its split would be
noise, so it prints the sum only. Two workers' capacity is given over one's twice: the ratio of
the medians, and the median of each round's ratio (its two runs back to back).

Usage: sudo bench/live.py [--frames N] [--rates PPS,PPS,...] [--repeat N] [--tools NAME,...]
                          [--drain] [--detunnel PATH]
"""
import argparse
import contextlib
import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")
SRC, DST = "dtbench-s", "dtbench-r"


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def netns(ns, *cmd):
    return ["ip", "netns", "exec", ns, *cmd]


# Receive queues of the veth pair now set up.
_queues = 0


def setup(queues=1):
    """The namespaces and links, with `queues` queues each way on s0 and r0."""
    global _queues
    teardown()
    _queues = queues
    for ns in (SRC, DST):
        sh("ip", "netns", "add", ns)
        sh(*netns(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"))
    queues = ("numtxqueues", str(queues), "numrxqueues", str(queues))
    sh("ip", "link", "add", "s0", "netns", SRC, "mtu", "9000", *queues, "type", "veth", "peer", "name", "r0",
       "netns", DST, "mtu", "9000", *queues)
    # The tool port: t0 in the receiver's namespace, its peer t1 where a tool would listen.
    sh("ip", "link", "add", "t0", "netns", DST, "mtu", "9000", "type", "veth", "peer", "name", "t1", "netns", SRC,
       "mtu", "9000")
    for ns, dev in ((SRC, "s0"), (DST, "r0"), (DST, "t0"), (SRC, "t1")):
        sh("ip", "-n", ns, "link", "set", dev, "up")
    # The remote tool of `--to`: reached through t0, a fixed neighbour (t1 drops what it gets).
    sh("ip", "-n", DST, "addr", "add", "10.254.0.1/24", "dev", "t0")
    sh("ip", "-n", DST, "neigh", "add", TOOL, "lladdr", "02:cc:00:00:00:02", "dev", "t0")


# The address `--to` sends to.
TOOL = "10.254.0.2"

# The generator's outer destination (craft's mix) and its MAC.
ENDPOINT, ENDPOINT_MAC = "10.255.0.1", "02:bb:00:00:00:01"


def endpoint(on):
    """Makes r0 the tunnel endpoint the generator sends to (its address and MAC), or not: the
    other receivers take the frames as a tap sees them, not addressed to r0."""
    if on:
        sh("ip", "-n", DST, "link", "set", "r0", "address", ENDPOINT_MAC)
        sh("ip", "-n", DST, "addr", "add", f"{ENDPOINT}/8", "dev", "r0")
    else:
        sh("ip", "-n", DST, "addr", "flush", "dev", "r0")
        sh("ip", "-n", DST, "link", "set", "r0", "address", "02:00:00:00:00:99")


def links_for(name):
    """Sets the links up again when receiver `name` needs other queues: AF_XDP takes a worker
    per receive queue, so two AF_XDP workers get two (and `send` a sender on each core: a
    transmit ring's frame takes the queue of the core that sends it), every other receiver one."""
    queues = 2 if "xdp" in name and "x2" in name else 1
    if queues != _queues:
        setup(queues)


def teardown():
    for ns in (SRC, DST):
        sh("ip", "netns", "del", ns, check=False)


def cpu_seconds(pid):
    """User and system CPU seconds process `pid` has used (clock ticks)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / TICK, int(fields[12]) / TICK
    except OSError:
        return 0.0, 0.0


# What the generator sends: frame sizes, tunnel streams and conversations (until stop 28, 16
# conversations in 4 streams of each kind: too few for the fanout of two workers to share out
# evenly by conversation, as no broker sees).
MIX = ["--size", "64-512", "--streams", "16", "--flows", "1000"]


def send(detunnel, frames, rate=0, encap=None):
    """Sends `frames` onto s0 at `rate` pps (0: as fast as the sender goes), of `encap` only
    when given."""
    if _queues == 1:
        cmd = [detunnel, "generate", "-q", "--iface", "s0", "-c", str(frames), *MIX, "--rate", str(rate)]
        sh(*netns(SRC, *cmd, *(["--encap", encap] if encap else [])))
        return
    # Several queues: a sender on each core, as a NIC's receive-side scaling would spread the
    # frames (a transmit ring's frames take the queue of the core that sends them).
    senders = []
    for q in range(_queues):
        share = frames // _queues + (1 if q < frames % _queues else 0)
        cmd = [detunnel, "generate", "-q", "--iface", "s0", "-c", str(share), *MIX,
               "--rate", str(rate // _queues)]
        senders.append(subprocess.Popen(netns(SRC, *cmd, *(["--encap", encap] if encap else [])),
                                        preexec_fn=lambda q=q: os.sched_setaffinity(0, {q % os.cpu_count()})))
    for s in senders:
        if s.wait() != 0:
            sys.exit("a sender failed")


def finish(p, tool, work):
    """Stops receiver `p` and removes its output; returns (frames it received, frames the
    kernel dropped on its ring or sockets)."""
    p.send_signal(signal.SIGINT if tool == "tcpdump" else signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    if tool == "tcpdump":
        received = next(int(l.split()[0]) for l in err.splitlines() if "packets captured" in l)
        drops = next(int(l.split()[0]) for l in err.splitlines() if "dropped by kernel" in l)
    else:
        summary = json.loads(next(l for l in err.splitlines() if l.startswith("{")))
        received = summary["frames_in"]
        drops = (summary.get("kernel") or {}).get("drops", 0) + (summary.get("socket_drops") or 0)
    for name in os.listdir(work):
        if name.startswith("out"):
            os.remove(os.path.join(work, name))
    return received, drops


def receiver(cmd):
    """Starts a receiver in the receiving namespace (`ip netns exec` execs it: the pid is its
    own)."""
    return subprocess.Popen(netns(DST, *cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def as_endpoint(encap):
    """While in it, r0 is the tunnel endpoint when the step sends `encap` (see `endpoint`)."""
    if encap:
        endpoint(True)
    try:
        yield
    finally:
        if encap:
            endpoint(False)


# Bytes a frame's record takes in an output file at most: an inner frame of up to 512 bytes,
# the tunnel headers a receiver that does not strip them keeps, the record's own header.
RECORD_MAX = 640
# Bytes a record takes on average at most (inner frames 64-512 bytes): paces a ballast.
RECORD_AVERAGE = 400
# Bytes in each piece of a ballast.
PIECE = 64 << 20
# A sender at top speed, frames a second (to pace a ballast's release).
TOP_RATE = 1_000_000
# Where a ballast's pieces are written (memory), each with its number after the name.
BALLAST = "/dev/shm/detunnel-live-ballast-"


class Ballast:
    """Files in /dev/shm as large as the output of `frames` frames can be, deleted as a
    receiver is about to need their memory. This machine's kernel hands freed memory back to
    its host at once (free page reporting, a virtual machine's), so a file written onto such
    pages has each fault in on the host: tcpdump -w took 0.76-2.21 s of system CPU for
    2,000,000 frames so, 0.27-0.41 s just after a ballast was deleted (alternating, same
    session). Pages freed and left unused for about two seconds are handed back too, so a
    ballast is let go a piece at a time, a little ahead of the output that lands on it, as a
    machine that keeps its memory gives its writers pages that are there."""

    def __init__(self, frames):
        self.paths = []
        chunk = b"\1" * (1 << 20)
        try:
            for n in range(-(-frames * RECORD_MAX // PIECE)):
                path = f"{BALLAST}{n}"
                self.paths.append(path)
                with open(path, "wb") as f:
                    for _ in range(PIECE // len(chunk)):
                        f.write(chunk)
        except OSError as e:
            print(f"(ballast cut short: {e})", flush=True)
        self.stop = threading.Event()
        self.thread = None

    def release(self, rate=None):
        """Lets the ballast go: all of it now, or (`rate` frames a second, 0 for top speed)
        a piece now and then one each time the output may have grown by a piece."""
        if rate is None:
            self.close()
            return
        pause = PIECE / (RECORD_AVERAGE * (rate or TOP_RATE))

        def run():
            while self.paths and not self.stop.is_set():
                os.remove(self.paths.pop(0))
                self.stop.wait(pause)
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def close(self):
        """Deletes what is left of it."""
        self.stop.set()
        if self.thread:
            self.thread.join()
        for path in self.paths:
            with contextlib.suppress(OSError):
                os.remove(path)
        self.paths = []


def remove_ballast():
    """Deletes any ballast left (a run stopped while one was being written)."""
    for path in glob.glob(BALLAST + "*"):
        with contextlib.suppress(OSError):
            os.remove(path)


def run_step(tool, cmd, detunnel, rate, frames, work, encap=None):
    """Starts the tool, sends `frames` at `rate` pps (of `encap` only, when given), stops it;
    returns (received, seconds of CPU)."""
    p = receiver(cmd)
    time.sleep(1.0)
    room = Ballast(frames)
    try:
        room.release(rate)
        user0, sys0 = cpu_seconds(p.pid)
        send(detunnel, frames, rate, encap)
        time.sleep(1.5)
        user1, sys1 = cpu_seconds(p.pid)
    finally:
        room.close()
    received, _ = finish(p, tool, work)
    return received, user1 + sys1 - user0 - sys0


def drain_step(tool, cmd, detunnel, frames, work, encap=None):
    """Starts the tool, stops it, fills its ring (or socket buffer) with `frames` (of `encap`
    only, when given), lets it go and times it until it stops being busy; returns
    (received, kernel drops, seconds to drain, seconds of user and of system CPU)."""
    p = receiver(cmd)
    # Ready once the kernel has built its rings (seconds for a few GiB): its CPU time rests.
    time.sleep(0.5)
    settled(p.pid, 0.5)
    os.kill(p.pid, signal.SIGSTOP)
    send(detunnel, frames, 0, encap)
    Ballast(frames).release()
    time.sleep(0.1)
    user0, sys0 = cpu_seconds(p.pid)
    start = time.monotonic()
    os.kill(p.pid, signal.SIGCONT)
    seconds = settled(p.pid, 0.3) - start
    user1, sys1 = cpu_seconds(p.pid)
    received, drops = finish(p, tool, work)
    return received, drops, seconds, user1 - user0, sys1 - sys0


def run_seconds(pid):
    """CPU seconds the threads of `pid` alive now have run, to the nanosecond (schedstat)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e9


def settled(pid, quiet):
    """Waits until process `pid` has not been busy for `quiet` seconds; when it last was.
    Busy is running at least 40% of a poll's 5 ms: a receiver's work once idle (detunnel's
    tick, every 200 ms, writes out the last frames of its buffers: a millisecond at most) must
    not stretch the time it took to drain; counting any 0.5 ms as busy once added 200 ms to
    half-second drains at random. Polling every 5 ms cost the script about 3% of a core in
    drains of about a second (every 1 ms: about 8%, taken from the receiver, which only a
    receiver wanting both cores felt)."""
    poll = 0.005
    last_cpu, last_move = run_seconds(pid), time.monotonic()
    while time.monotonic() - last_move < quiet:
        time.sleep(poll)
        cpu = run_seconds(pid)
        if cpu - last_cpu >= 0.4 * poll:
            last_move = time.monotonic()
        last_cpu = cpu
    return last_move


# Frames a tunnel endpoint's or an AF_XDP receiver's drain sends: what its socket buffer holds
# (about 1 GiB), or its shared memory (2 GiB of 4 KiB buffers: 524,288 frames a worker; two
# AF_XDP workers get as many each, their queues an equal share from a sender each).
ENDPOINT_FRAMES = 500_000


def drain(steps, detunnel, frames, repeat, work):
    """The --drain mode: each receiver's capacity with the machine to itself."""
    print(f"{'tool':14} {'received':>9} {'kernel drops':>12} {'seconds':>8} {'frames/s':>11} {'user ns/frame':>13} "
          f"{'system':>6}")
    rates, split, by_round = {}, {}, {}
    for round_ in range(repeat):
        for name, cmd, encap in steps:
            # A socket's buffer (at most 1 GiB) holds fewer datagrams than a 2 GiB ring.
            links_for(name)
            n = frames
            if "xdp" in name:
                n = min(frames, ENDPOINT_FRAMES * _queues)
            elif encap:
                n = min(frames, ENDPOINT_FRAMES)
            with as_endpoint(encap):
                got, drops, seconds, user, system = drain_step(name.split()[0], cmd, detunnel, n, work, encap)
            rate = float("nan")
            if drops == 0 and seconds > 0:
                rate = got / seconds
                rates.setdefault(name, []).append(rate)
                by_round[(name, round_)] = rate
                split.setdefault(name, []).append((user / max(got, 1) * 1e9, system / max(got, 1) * 1e9))
            print(f"{name:14} {got:9,} {drops:12,} {seconds:8.3f} {rate:11,.0f} {user / max(got, 1) * 1e9:13.0f} "
                  f"{system / max(got, 1) * 1e9:6.0f}", flush=True)
    print(f"\nmedian capacity of {repeat} runs, frames a second (and / tcpdump's, / the same with 1 worker)")
    median = {n: statistics.median(r) for n, r in rates.items()}
    for name, _, _ in steps:
        if name not in median:
            print(f"{name:14} every run overflowed its ring or socket buffer")
            continue
        m = median[name]
        vs = f"{m / median['tcpdump']:5.2f}" if median.get("tcpdump") else "  n/a"
        single = name.replace(" x2", "") if " x2" in name else None
        one = median.get(single)
        scale = f"; x2 / 1 worker {m / one:.2f}" if one else ""
        # Each round's two workers against the same round's one, run one after the other: a
        # neighbour's load that comes and goes weighs on both sides of each ratio.
        paired = [by_round[(name, r)] / by_round[(single, r)] for r in range(repeat)
                  if single and (name, r) in by_round and (single, r) in by_round]
        if paired:
            scale += f" (round by round: median {statistics.median(paired):.2f}, {min(paired):.2f}-{max(paired):.2f})"
        user = statistics.median(u for u, _ in split[name])
        system = statistics.median(s for _, s in split[name])
        print(f"{name:14} {m:11,.0f}  / tcpdump {vs}{scale}; CPU ns a frame: user {user:.0f}, system {system:.0f}")


def ratio(a, b):
    """a / b; not a number when b is 0 (a CPU time under one clock tick)."""
    return a / b if b else float("nan")


def prepare(args, *tools):
    """Checks that the run is root's with `tools` installed, builds detunnel when
    `args.detunnel` is missing and makes `args.dir`; detunnel's absolute path."""
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    for t in tools:
        if not shutil.which(t):
            sys.exit(f"{t} is not installed")
    if not os.path.exists(args.detunnel):
        subprocess.run(["cargo", "build", "--release", "-q"], check=True)
    os.makedirs(args.dir, exist_ok=True)
    return os.path.abspath(args.detunnel)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--rates", default="100000,200000,300000,400000,0",
                    help="frames per second; 0 is as fast as the sender goes")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each receiver at each rate")
    ap.add_argument("--tools", help="receivers to run, by name (tcpdump always runs: the baseline)")
    ap.add_argument("--drain", action="store_true", help="measure capacity from a filled ring instead")
    ap.add_argument("--detunnel", default="target/release/detunnel")
    ap.add_argument("--dir", default="/dev/shm/detunnel-live")
    args = ap.parse_args()
    detunnel = prepare(args, "tcpdump", "ip")
    out = os.path.join(args.dir, "out")
    tools = [
        ("tcpdump", ["tcpdump", "-i", "r0", "-n", "-w", out + ".pcap"]),
        ("decap", [detunnel, "decap", "-i", "r0", "--stats", "json", "-w", out + ".pcap"]),
        ("decap x2", [detunnel, "decap", "-i", "r0", "--workers", "2", "--stats", "json", "-w", out + ".pcap"]),
        ("decap tap", [detunnel, "decap", "-i", "r0", "--stats", "json", "--tap", "mon0"]),
        ("decap tap x2", [detunnel, "decap", "-i", "r0", "--workers", "2", "--stats", "json", "--tap", "mon0"]),
        ("decap out", [detunnel, "decap", "-i", "r0", "--stats", "json", "--out", "t0"]),
        ("decap out x2", [detunnel, "decap", "-i", "r0", "--workers", "2", "--stats", "json", "--out", "t0"]),
        ("decap to", [detunnel, "decap", "-i", "r0", "--stats", "json", "--to", f"vxlan://{TOOL}?vni=1"]),
        ("decap to x2", [detunnel, "decap", "-i", "r0", "--workers", "2", "--stats", "json", "--to",
                         f"vxlan://{TOOL}?vni=1"]),
        ("decap xdp", [detunnel, "decap", "-i", "r0", "--xdp", "--stats", "json", "-w", out + ".pcap"]),
        ("decap xdp x2", [detunnel, "decap", "-i", "r0", "--xdp", "--workers", "2", "--stats", "json", "-w",
                          out + ".pcap"]),
    ]
    listen = [detunnel, "decap", "--listen", f"vxlan://{ENDPOINT}:4789", "--stats", "json", "-w", out + ".pcap"]
    endpoints = [("listen", listen), ("listen x2", listen + ["--workers", "2"]),
                 ("listen xdp", listen + ["--xdp"]), ("listen xdp x2", listen + ["--xdp", "--workers", "2"])]
    steps = [(n, c, None) for n, c in tools] + [(n, c, "vxlan") for n, c in endpoints]
    if args.tools:
        wanted = args.tools.split(",")
        unknown = set(wanted) - {n for n, _, _ in steps}
        if unknown:
            sys.exit(f"unknown --tools {', '.join(sorted(unknown))}; known: {', '.join(n for n, _, _ in steps)}")
        steps = [s for s in steps if s[0] in wanted or s[0] == "tcpdump"]
    if args.drain:
        ring = {"tcpdump": ["-B", "2000000"]}  # KiB: its most (a C int of bytes)
        steps = [(n, c + ring.get(n, ["--buffer", "2048"]), e) for n, c, e in steps]
        setup()
        try:
            drain(steps, detunnel, args.frames, args.repeat, args.dir)
        finally:
            teardown()
            shutil.rmtree(args.dir, ignore_errors=True)
            remove_ballast()
        return
    rates = [int(r) for r in args.rates.split(",")]
    runs = {}  # (tool, rate) -> [(lost, CPU µs per frame)]
    setup()
    try:
        print(f"{'tool':14} {'rate pps':>9} {'received':>9} {'lost':>8} {'CPU µs/frame':>13}")
        for rate in rates:
            for _ in range(args.repeat):
                for name, cmd, encap in steps:
                    links_for(name)
                    with as_endpoint(encap):
                        got, cpu = run_step(name.split()[0], cmd, detunnel, rate, args.frames, args.dir, encap)
                    lost = args.frames - got
                    per = cpu / got * 1e6 if got else float("nan")
                    runs.setdefault((name, rate), []).append((lost, per))
                    label = "top" if rate == 0 else f"{rate:,}"
                    print(f"{name:14} {label:>9} {got:9,} {lost:8,} {per:13.2f}", flush=True)
    finally:
        teardown()
        shutil.rmtree(args.dir, ignore_errors=True)
        remove_ballast()
    print(f"\nmedian CPU µs per frame of {args.repeat} runs (and / tcpdump's median at that rate)")
    print(f"{'tool':14} " + " ".join(f"{'top' if r == 0 else f'{r:,}':>15}" for r in rates) + "  no loss up to")
    median = {k: statistics.median(per for _, per in v) for k, v in runs.items()}
    for name, _, _ in steps:
        cells = []
        for r in rates:
            m = median[(name, r)]
            cells.append(f"{m:6.2f} ({ratio(m, median[('tcpdump', r)]):4.2f})")
        # The highest rate with no loss in any run at it or at a slower rate (0, top speed, is
        # the fastest): a loss at 400,000 is not made good by none at top speed.
        best = "none"
        for r in sorted(rates, key=lambda r: r or float("inf")):
            if any(lost > 0 for lost, _ in runs[(name, r)]):
                break
            best = "top speed" if r == 0 else f"{r:,} pps"
        ratios = [q for q in (ratio(median[(name, r)], median[("tcpdump", r)]) for r in rates) if q == q]
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else "unmeasured (too few frames for the clock's ticks)"
        print(f"{name:14} " + " ".join(f"{c:>15}" for c in cells) + f"  {best}; / tcpdump {spread}")


if __name__ == "__main__":
    main()

"""Helpers the benchmark scripts share."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port(kind):
    """A local port the kernel hands out for sockets of kind (SOCK_STREAM or SOCK_DGRAM)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for_serve(http):
    """Waits (up to 10 s) until `detunnel serve`'s REST API on port http answers; exits if not."""
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("detunnel serve did not start")


def start_serve(detunnel, config=None, tmp=None):
    """Starts `detunnel serve` on free loopback ports (with `config`, TOML, written into folder
    tmp, when given) in a session of its own; waits until its API answers. Returns the process,
    its sFlow port and its API port."""
    port, http = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    cmd = [detunnel, "serve", "--sflow", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{http}"]
    if config is not None:
        cfg = os.path.join(tmp, "detunnel.toml")
        with open(cfg, "w") as f:
            f.write(config)
        cmd += ["-c", cfg]
    p = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_serve(http)
    return p, port, http


def stop(p):
    """Stops a process started in a session of its own, and everything it started."""
    os.killpg(p.pid, signal.SIGTERM)
    p.wait()


def send_sflow(detunnel, port, count, rate, samples):
    """Sends `count` sFlow datagrams of `samples` flow samples at `rate` a second to port."""
    subprocess.run([detunnel, "generate", "--sflow", f"127.0.0.1:{port}", "-c", str(count),
                    "--rate", str(rate), "--samples", str(samples)], check=True, stderr=subprocess.DEVNULL)

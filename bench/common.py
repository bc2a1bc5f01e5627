"""Helpers the benchmark scripts share."""
import socket
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

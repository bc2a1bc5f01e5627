"""Helpers the benchmark scripts share."""
import socket


def free_port(kind):
    """A local port the kernel hands out for sockets of kind (SOCK_STREAM or SOCK_DGRAM)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

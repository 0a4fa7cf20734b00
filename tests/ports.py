"""Ports for the servers the tests start.

A port found free with ``bind(0)`` is free only until someone else takes it, and the kernel
hands the same range to every ``bind(0)`` and every outgoing connection: between the check
and a server's own bind (seconds later for ``mlflow server``, minutes for a tutorial page's
servers), another test's socket could get it. So the ports come from below the kernel's
ephemeral range, which it never hands out on its own, from a block of their own for each
pytest-xdist worker, and each port once per session.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

BLOCK = 1000  # ports per xdist worker
LOWEST = 10000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    start = LOWEST + BLOCK * index
    if start + BLOCK > _ephemeral_low():  # a machine with a wide ephemeral range
        start = max(1024, _ephemeral_low() - BLOCK * (index + 1))
    return range(start, start + BLOCK)


_ports = iter(_block())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, not handed out before."""
    for port in _ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port left in {_block()}")

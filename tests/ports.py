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
import random
import socket
from pathlib import Path

BLOCK = 1000  # ports per xdist worker


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _block() -> range:
    """This worker's block: the workers' blocks side by side, just below the ephemeral range
    (inside it on a machine whose range leaves no room), never overlapping."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), index + 1)
    start = max(1024, _ephemeral_low() - BLOCK * count) + BLOCK * index
    return range(start, start + BLOCK)


def _order() -> list[int]:
    """The block from a random point, so two sessions on one machine seldom meet."""
    ports = list(_block())
    turn = random.randrange(len(ports))
    return ports[turn:] + ports[:turn]


_ports = iter(_order())


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

"""Load generators for the serving scenario: ``wrk`` (parsing its report) and a bounded
Python client used when ``wrk`` is not installed.

Both return :class:`Load`: requests completed, errors, duration, requests/s and latency
percentiles in seconds.
"""

from __future__ import annotations

import http.client
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .proc import BenchError, post
from .stats import NAN, percentile

WRK_THREADS = 2
LOAD_DEADLINE_S = 60.0  # Python client: per round, whatever the number of requests

_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


@dataclass
class Load:
    """One load round against one server."""

    requests: int
    errors: int
    duration: float
    rps: float
    latency: dict[str, float] = field(default_factory=dict)  # "50" -> seconds, "99" -> ...

    @property
    def p50(self) -> float:
        return self.latency.get("50", NAN)

    @property
    def p99(self) -> float:
        return self.latency.get("99", NAN)


def parse_time(text: str) -> float:
    """A wrk duration (``812.00us``, ``1.23ms``, ``5.01s``, ``1.00m``) in seconds."""
    match = re.fullmatch(_TIME, text.strip())
    if not match:
        raise ValueError(f"not a wrk time: {text!r}")
    return float(match.group(1)) * _TIME_UNITS[match.group(2)]


def parse_wrk(output: str) -> Load:
    """Parse the report of ``wrk --latency``.

    Reads ``N requests in T``, ``Requests/sec:``, the ``Latency Distribution`` lines
    (``50%  1.23ms``), ``Non-2xx or 3xx responses:`` and ``Socket errors:`` (connect, read,
    write, timeout: all count as errors). Raises ValueError when the report has no request
    count or rate (wrk failed).
    """
    done = re.search(rf"^\s*(\d+) requests in {_TIME}", output, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if not done or not rate:
        raise ValueError("no 'requests in' or 'Requests/sec:' line in wrk's output")
    latency = {
        match.group(1): parse_time(match.group(2) + match.group(3))
        for match in re.finditer(rf"^\s*(\d+(?:\.\d+)?)%\s+{_TIME}\s*$", output, re.M)
    }
    latency = {(k[:-2] if k.endswith(".0") else k): v for k, v in latency.items()}
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sockets:
        errors += sum(int(x) for x in sockets.groups())
    return Load(
        requests=int(done.group(1)),
        errors=errors,
        duration=parse_time(done.group(2) + done.group(3)),
        rps=float(rate.group(1)),
        latency=latency,
    )


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_command(port: int, script: Path, connections: int, seconds: int) -> list[str]:
    return [
        "wrk", f"-t{min(WRK_THREADS, connections)}", f"-c{connections}", f"-d{seconds}s",
        "--latency", "-s", str(script), f"http://127.0.0.1:{port}/invocations",
    ]  # fmt: skip


def wrk_script(body_path: Path) -> str:
    """A wrk Lua script that POSTs the JSON body stored in ``body_path``."""
    return (
        f'local f = assert(io.open("{body_path}", "rb"))\n'
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.body = f:read("*a")\n'
        "f:close()\n"
    )


def run_wrk(port: int, script: Path, connections: int, seconds: int) -> Load:
    """One fixed-duration wrk round."""
    args = wrk_command(port, script, connections, seconds)
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"wrk failed: {exc}") from exc
    try:
        return parse_wrk(done.stdout)
    except ValueError as exc:
        raise BenchError(f"wrk: {exc}\n{done.stdout[-1000:]}\n{done.stderr[-1000:]}") from exc


def run_client(port: int, body: bytes, total: int, threads: int) -> Load:
    """``total`` POSTs split over ``threads`` keep-alive connections, bounded in time too.

    The client runs in this interpreter and shares the CPUs with the server: its
    requests/s is a floor, useful as a ratio between servers.
    """
    per_thread = [total // threads + (1 if i < total % threads else 0) for i in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    barrier = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()
        barrier.wait()
        for _ in range(per_thread[index]):
            if time.perf_counter() > deadline[0]:
                break
            start = time.perf_counter()
            try:
                status, _ = post(conn, body)
                ok = status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - start
            if ok:
                latencies[index].append(elapsed)
            else:
                errors[index] += 1
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    deadline[0] = time.perf_counter() + LOAD_DEADLINE_S
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join(LOAD_DEADLINE_S + 35)
    wall = time.perf_counter() - start
    flat = sorted(x for chunk in latencies for x in chunk)
    return Load(
        requests=len(flat),
        errors=sum(errors),
        duration=wall,
        rps=len(flat) / wall if wall else NAN,
        latency={q: percentile(flat, float(q)) for q in ("50", "99")},
    )

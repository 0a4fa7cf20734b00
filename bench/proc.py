"""Running and measuring processes: wall time, CPU time and peak memory of a process tree.

Every measured process starts in a new session (its own process group), so its whole tree can
be observed through ``/proc`` and stopped at once. ``wait4`` gives the CPU time of the process
and the descendants it waited for, and the largest single peak RSS among them; when asked,
a sampler thread also sums the RSS of the whole group every 50 ms, which catches trees whose
processes are alive at the same time (a server and its workers).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PROCESS_TIMEOUT_S = 600.0
READY_TIMEOUT_S = 120.0
SAMPLE_EVERY_S = 0.05


class BenchError(RuntimeError):
    """A measured command failed or a tool is missing: the run cannot go on."""


def find_bin(root: Path) -> Path:
    """The virtualenv whose mlt and mlflow are measured: this interpreter's, else ./.venv."""
    for candidate in (Path(sys.executable).parent, root / ".venv" / "bin"):
        if (candidate / "mlt").exists() and (candidate / "mlflow").exists():
            return candidate
    found = shutil.which("mlt")
    if found and shutil.which("mlflow"):
        return Path(found).parent
    raise BenchError("cannot find `mlt` and `mlflow`; run with the project's virtualenv python")


def base_env(bin_dir: Path, tracking_uri: str | None = None) -> dict[str, str]:
    """The caller's environment without MLflow/mlt settings, the venv's bin first on PATH
    (``mlflow models serve --env-manager local`` runs the ``uvicorn`` it finds there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLT_"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env


def sqlite_uri(directory: Path) -> str:
    return f"sqlite:///{directory / 'mlflow.db'}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- process groups


def group_members(pgid: int) -> Iterator[tuple[Path, list[str]]]:
    """The /proc entry of each live process of a process group, with its stat fields after
    the command name (state, ppid, pgrp, ..., utime is the 12th, stime the 13th)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid:
                yield entry, fields
        except (OSError, ValueError, IndexError):
            continue


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user+sys) used so far by the live processes of a process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    return sum((int(f[11]) + int(f[12])) / ticks for _, f in group_members(pgid))


def group_rss_kb(pgid: int) -> tuple[float, int]:
    """Sum of VmRSS over the processes of a process group, and how many there are."""
    total, count = 0.0, 0
    for entry, _ in group_members(pgid):
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        if match:
            total += float(match.group(1))
            count += 1
    return total, count


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def stop_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM to the whole group, then SIGKILL after ``timeout``; nothing is left behind."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.wait()
    if group_rss_kb(proc.pid)[1]:  # children that outlived the leader
        kill_group(proc.pid)


class PeakSampler:
    """Samples the summed RSS of a process group in a thread until stopped; keeps the peak."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.peak_kb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, group_rss_kb(self.pgid)[0])
            self._stop.wait(SAMPLE_EVERY_S)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------- measured runs


@dataclass
class Measured:
    """One finished process: wall time, CPU time (user+sys) and peak memory of its tree."""

    wall: float
    cpu: float
    maxrss_kb: float  # largest single process (wait4)
    tree_peak_kb: float  # largest summed RSS of the group seen by the sampler (0: not sampled)
    returncode: int
    stdout: str
    stderr_path: Path

    @property
    def peak_kb(self) -> float:
        """Peak memory of the tree: the sampled sum, or the largest process if larger (a
        peak shorter than the sampling interval)."""
        return max(self.maxrss_kb, self.tree_peak_kb)


def run_measured(
    args: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    log_dir: Path,
    label: str,
    timeout: float = PROCESS_TIMEOUT_S,
    check: bool = True,
    sample_tree: bool = False,
) -> Measured:
    """Run a process to completion and collect its resource usage with ``wait4``.

    ``wait4``'s rusage covers the process and the descendants it waited for (MLflow's
    requirement inference runs a subprocess): CPU is their sum, max RSS the largest of them.
    Its stdout and stderr go to ``log_dir/label.out`` and ``.err``.
    """
    out_path = log_dir / f"{label}.out"
    err_path = log_dir / f"{label}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        timer = threading.Timer(timeout, kill_group, (proc.pid,))
        timer.start()
        sampler = PeakSampler(proc.pid) if sample_tree else contextlib.nullcontext()
        try:
            with sampler:
                _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss_kb=float(usage.ru_maxrss),
        tree_peak_kb=sampler.peak_kb if isinstance(sampler, PeakSampler) else 0.0,
        returncode=proc.returncode,
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr_path=err_path,
    )
    if check and result.returncode != 0:
        tail = err_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise BenchError(f"{label}: {shlex.join(args)} exited {result.returncode}\n{tail}")
    return result


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    """A server process started in its own group, ready to answer on 127.0.0.1:port."""

    proc: subprocess.Popen
    port: int
    ready: float  # process start to the first HTTP 200 on GET /ping

    def cpu_s(self) -> float:
        return group_cpu_s(self.proc.pid)

    def rss_kb(self) -> tuple[float, int]:
        return group_rss_kb(self.proc.pid)


def wait_ready(proc: subprocess.Popen, port: int, started: float, err_path: Path) -> float:
    """Poll ``GET /ping`` every 50 ms until it answers 200; seconds since ``started``."""
    deadline = started + READY_TIMEOUT_S
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            tail = err_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise BenchError(f"server exited early with {proc.returncode}:\n{tail}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return time.perf_counter() - started
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.05)
    raise BenchError(f"server on port {port} not ready after {READY_TIMEOUT_S:.0f} s")


@contextlib.contextmanager
def running_server(
    args: Sequence[str], port: int, env: dict[str, str], cwd: Path, err_path: Path
) -> Iterator[Server]:
    """Start a server, wait for its first 200 on /ping, and stop its whole group after."""
    with open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    try:
        yield Server(proc, port, wait_ready(proc, port, started, err_path))
    finally:
        stop_group(proc)


def post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    """One ``POST /invocations`` with a JSON body on a keep-alive connection."""
    conn.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.read()

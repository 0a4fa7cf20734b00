"""MLflow's web UI on the tracking store mlt uses.

``mlflow ui`` is started as a child process in a session of its own: it runs uvicorn and a job
runner with several huey worker processes in one process group, so stopping means signalling
that whole group (SIGTERM, then SIGKILL for anything still there after a grace period). An
``http(s)://`` tracking URI already has a UI, served by the tracking server itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from ..config import REGISTRY_URI_ENV, Tracking
from ..errors import TrackingError
from ..net import DEFAULT_HOST, UI_PORT, check_port, http_url, is_http, listens_everywhere
from ..signals import interrupt, stop_signals

START_TIMEOUT = 180.0
STOP_GRACE = 10.0


@dataclass(frozen=True)
class UiInfo:
    """Where the UI is: ``started`` is False for a tracking server's own UI."""

    url: str
    tracking_uri: str
    started: bool
    pid: int | None = None


def ui_url(host: str, port: int) -> str:
    """The URL to open: a wildcard host is reached locally through 127.0.0.1."""
    host = host.strip("[]")
    return http_url(DEFAULT_HOST if listens_everywhere(host) else host, port)


def ui_command(tracking_uri: str, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The ``mlflow ui`` command line for a local store, and its environment: the store URIs
    go in MLflow's own variables, not on the command line, where ``ps`` would show any
    password in them to every user of the machine."""
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": tracking_uri}
    env.pop("MLFLOW_REGISTRY_STORE_URI", None)
    registry = os.environ.get(REGISTRY_URI_ENV)
    if registry:
        env["MLFLOW_REGISTRY_STORE_URI"] = registry
    command = [sys.executable, "-m", "mlflow", "ui", "--host", host.strip("[]")]
    return [*command, "--port", str(port), "--workers", "1"], env


def run_ui(
    tracking: Tracking | None = None,
    host: str = DEFAULT_HOST,
    port: int = UI_PORT,
    on_ready: Callable[[UiInfo], None] | None = None,
) -> UiInfo:
    """Run MLflow's UI on ``tracking``'s store until Ctrl-C or SIGTERM, then stop every process
    it started. For an ``http(s)://`` tracking URI nothing is started: the server's own UI
    address is passed to ``on_ready`` and returned at once."""
    tracking = tracking or Tracking.resolve()
    if is_http(tracking.uri):
        remote = UiInfo(url=tracking.uri.rstrip("/"), tracking_uri=tracking.uri, started=False)
        if on_ready:
            on_ready(remote)
        return remote
    check_port(host.strip("[]"), port)
    url = ui_url(host, port)
    with tempfile.TemporaryFile(mode="w+", prefix="mlt-ui-") as log:
        command, env = ui_command(tracking.uri, host, port)
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, signalled as a whole
        )
        info = UiInfo(url=url, tracking_uri=tracking.uri, started=True, pid=process.pid)
        try:
            with stop_signals(interrupt):
                try:
                    _wait_until_up(process, url, log)
                    if on_ready:
                        on_ready(info)
                    process.wait()
                except KeyboardInterrupt:
                    pass
        finally:
            with stop_signals(signal.SIG_IGN):  # a second Ctrl-C must not cut the clean-up short
                stop_group(process)
        if process.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL, None):
            raise TrackingError(f"mlflow ui stopped: {_last_line(log)}")
    return info


def _wait_until_up(process: subprocess.Popen, url: str, log: IO[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TrackingError(f"mlflow ui did not start: {_last_line(log)}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):  # noqa: S310
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    raise TrackingError(f"mlflow ui did not answer at {url} within {START_TIMEOUT:.0f} s")


def _last_line(log: IO[str]) -> str:
    log.flush()
    log.seek(0)
    lines = [line.strip() for line in log.read().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def stop_group(process: subprocess.Popen, grace: float = STOP_GRACE) -> None:
    """SIGTERM the process group ``process`` leads; SIGKILL whatever is left after ``grace``
    seconds. Returns once the leader is reaped and the group is gone (or killed)."""
    if not hasattr(os, "killpg"):  # not POSIX: the child alone
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
        process.kill()
        process.wait()
        return
    group = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        process.poll()
        if not group_alive(group):
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    process.wait()


def group_alive(pgid: int) -> bool:
    """True while a running (not zombie) process is in process group ``pgid``."""
    proc = "/proc"
    if not os.path.isdir(proc):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/stat", encoding="utf-8") as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False

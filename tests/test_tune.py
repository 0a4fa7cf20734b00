"""mlt tune: a seeded Optuna study over real SQLite (and PostgreSQL) stores, real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from mlflow_tutorial.cli import app
from mlflow_tutorial.config import Tracking
from mlflow_tutorial.names import TAG_STUDY, TAG_TRIAL
from mlflow_tutorial.tracking.training import TrainOptions
from mlflow_tutorial.tracking.tuning import WORKER_ATTR, TuneOptions, study_storage, tune

runner = CliRunner()
FAST = ["--no-plots", "--folds", "3"]


def study_runs(uri: str, study: str, experiment: str = "mlt") -> tuple[object, list]:
    """(the parent run, the trial runs) of a study."""
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], f"tags.`{TAG_STUDY}` = '{study}'")
    parents = [r for r in runs if TAG_TRIAL not in r.data.tags]
    assert len(parents) == 1, [r.data.tags for r in runs]
    return parents[0], [r for r in runs if TAG_TRIAL in r.data.tags]


def optuna_trials(storage: str, study: str) -> list:
    import optuna

    return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_command_left() -> Iterator[None]:
    """A command a failed test left running is killed, not left to load the machine."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def mlt(cwd: Path, *args: str, **popen: object) -> subprocess.Popen:
    env = dict(os.environ, MLT_STUDY_STORAGE=os.environ.get("MLT_STUDY_STORAGE", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow_tutorial", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={k: v for k, v in env.items() if v},
        **popen,  # type: ignore[call-overload]
    )
    STARTED.append(proc)
    return proc


def test_a_seeded_study_is_reproducible(isolated_store: str, write_csv) -> None:
    data = str(write_csv(rows=60))
    store = Tracking(isolated_store, "mlt")
    train = TrainOptions(data=data, plots=False, random_state=7)
    results = [
        tune(TuneOptions(trials=5, study=name, folds=3), train, store) for name in ("a", "b")
    ]
    storage = study_storage(None, isolated_store)
    a, b = (optuna_trials(storage, name) for name in ("a", "b"))
    assert [t.params for t in a] == [t.params for t in b]
    assert [t.value for t in a] == [t.value for t in b]
    assert len({(t.params["alpha"], t.params["l1_ratio"]) for t in a}) == 5
    assert results[0].best_params == results[1].best_params
    assert results[0].best_cv_rmse == min(t.value for t in a)
    # A different seed searches elsewhere.
    tune(TuneOptions(trials=5, study="c", folds=3), TrainOptions(data=data, plots=False), store)
    assert [t.params for t in optuna_trials(storage, "c")] != [t.params for t in a]

    parent, trials = study_runs(isolated_store, "a")
    assert len(trials) == 5
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {parent.info.run_id}
    assert {r.info.status for r in [parent, *trials]} == {"FINISHED"}
    best = results[0]
    assert parent.data.tags["mlt.best.run_id"] == best.best_run_id
    assert parent.data.metrics["best_cv_rmse"] == best.best_cv_rmse
    # Every trial has test metrics; models only for trials that were the best so far.
    assert all({"cv_rmse", "rmse", "mae", "r2"} <= set(r.data.metrics) for r in trials)
    with_model = [r for r in trials if "mlt.model_uri" in r.data.tags]
    assert best.best_run_id in {r.info.run_id for r in with_model}
    assert 1 <= len(with_model) < 5
    artifacts = MlflowClient(tracking_uri=isolated_store).list_artifacts(
        parent.info.run_id, "plots"
    )
    assert [a.path for a in artifacts] == ["plots/optimization_history.png"]


@pytest.mark.slow
def test_an_interrupted_study_resumes(tmp_path: Path, isolated_store: str, write_csv) -> None:
    data = str(write_csv(rows=60))
    args = ["tune", "--trials", "6", "--data", data, "--study", "s", *FAST, "-f", "json"]
    first = mlt(tmp_path, *args)
    assert first.stderr is not None
    seen = 0
    for line in first.stderr:  # one line per finished trial
        seen += line.startswith("trial ")
        if seen == 2:
            first.send_signal(signal.SIGTERM)
            break
    out, err = first.communicate(timeout=300)
    assert first.returncode == 130, err
    assert err.endswith("Error: interrupted\n"), err
    client = MlflowClient(tracking_uri=isolated_store)
    parent, trials = study_runs(isolated_store, "s")
    assert parent.info.status == "KILLED"
    assert "RUNNING" not in {r.info.status for r in trials}
    done_before = sum(r.info.status == "FINISHED" for r in trials)
    assert 2 <= done_before < 6
    # Nor in Optuna: a trial stopped while Optuna started it would hold the study open.
    study = optuna_trials(study_storage(None, isolated_store), "s")
    assert "RUNNING" not in {t.state.name for t in study}

    second = mlt(tmp_path, *args)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    result = json.loads(out)
    assert result["trials"] == 6
    assert result["ran"] == 6 - done_before
    parent, trials = study_runs(isolated_store, "s")
    assert parent.info.status == "FINISHED"
    assert "RUNNING" not in {r.info.status for r in trials}
    finished = [r for r in trials if r.info.status == "FINISHED"]
    assert len(finished) == 6
    assert len({r.data.tags[TAG_TRIAL] for r in finished}) == 6
    complete = [t for t in optuna_trials(study_storage(None, isolated_store), "s") if t.value]
    assert len(complete) == 6
    assert client.get_run(result["best_run_id"]).data.tags["mlt.model_uri"]


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_commands_share_a_study(
    database: str, tmp_path: Path, isolated_store: str, write_csv, request
) -> None:
    """Three processes (a command with --jobs 2, another with one) on one study: the trials
    are counted once, none runs twice."""
    storage = study_storage(None, isolated_store)
    if database == "postgresql":
        storage = request.getfixturevalue("postgres_db")
    data = str(write_csv(rows=60))
    study = f"shared-{uuid.uuid4().hex[:8]}"  # the PostgreSQL database is the module's
    args = ["tune", "--trials", "8", "--data", data, "--study", study, *FAST, "-f", "json"]
    args += ["--storage", storage]
    procs = [mlt(tmp_path, *args, "--jobs", "2"), mlt(tmp_path, *args)]
    outcomes = [p.communicate(timeout=600) for p in procs]
    for proc, (_out, err) in zip(procs, outcomes, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    results = [json.loads(out) for out, _err in outcomes]
    assert [r["trials"] for r in results] == [8, 8]
    assert sum(r["ran"] for r in results) == 8
    assert results[0]["best_run_id"] == results[1]["best_run_id"]

    parent, trials = study_runs(isolated_store, study)
    assert parent.info.status == "FINISHED"
    assert len(trials) == 8
    assert {r.info.status for r in trials} == {"FINISHED"}
    assert sorted(int(r.data.tags[TAG_TRIAL]) for r in trials) == sorted(
        t.number for t in optuna_trials(storage, study) if t.state.name == "COMPLETE"
    )
    points = {(r.data.params["alpha"], r.data.params["l1_ratio"]) for r in trials}
    assert len(points) == 8


def test_a_command_waits_for_the_trials_running_elsewhere(
    isolated_store: str, tmp_path: Path, write_csv
) -> None:
    """The study's last trial runs in another worker: a command with nothing left to start
    says so, waits for it, and reports the finished study, not one trial short."""
    import optuna

    data = str(write_csv(rows=60))
    storage = study_storage(None, isolated_store)
    args = ["tune", "--data", data, "--study", "w", *FAST, "-f", "json", "--storage", storage]
    assert runner.invoke(app, [*args, "--trials", "2"]).exit_code == 0
    study = optuna.load_study(study_name="w", storage=storage)
    elsewhere = study.ask()  # RUNNING, and begun, as in another worker
    elsewhere.set_user_attr(WORKER_ATTR, {"worker": "elsewhere:1", "trial": elsewhere.number})

    proc = mlt(tmp_path, *args, "--trials", "3")
    assert proc.stderr is not None
    lines = []
    watchdog = threading.Timer(120, proc.kill)  # a command that never says it waits
    watchdog.start()
    try:
        while "waiting" not in (line := proc.stderr.readline()):
            assert line, f"the command ended without waiting: {''.join(lines)}"
            lines.append(line)
    finally:
        watchdog.cancel()
    assert line.strip() == "2 of 3 trials complete; waiting for the trial running in another worker"
    assert proc.poll() is None
    study.tell(elsewhere, 1e9)  # worse than both: the best trial stays one with a run
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert (result["trials"], result["ran"]) == (3, 0)
    assert result["best_trial"] in (0, 1)


def test_a_trial_whose_worker_died_starting_it_is_run_again(
    isolated_store: str, write_csv, monkeypatch
) -> None:
    """A worker killed while Optuna started a trial leaves it RUNNING with no heartbeat,
    which would hold the study open for good: it is failed, and a trial run in its place."""
    import optuna

    from mlflow_tutorial.tracking import tuning

    storage = study_storage(None, isolated_store)
    store = Tracking(isolated_store, "mlt")
    train = TrainOptions(data=str(write_csv(rows=60)), plots=False)
    tune(TuneOptions(trials=2, study="o", folds=3), train, store)
    orphan = optuna.load_study(study_name="o", storage=storage).ask()
    monkeypatch.setattr(tuning, "ORPHAN_SECONDS", 0)  # instead of waiting two minutes
    # A deadline, so that a study held open fails the test rather than hangs it.
    result = tune(TuneOptions(trials=3, study="o", folds=3, timeout=120), train, store)
    assert (result.trials, result.ran) == (3, 1)
    states = {t.number: t.state.name for t in optuna_trials(storage, "o")}
    assert states == {0: "COMPLETE", 1: "COMPLETE", orphan.number: "FAIL", 3: "COMPLETE"}


def test_register_best_on_a_study(isolated_store: str, write_csv) -> None:
    data = str(write_csv(rows=60))
    store = Tracking(isolated_store, "mlt")
    result = tune(TuneOptions(trials=4, study="r", folds=3), TrainOptions(data=data), store)
    out = runner.invoke(app, ["register", "--best", "--study", "r", "-f", "json"])
    assert out.exit_code == 0, out.stderr
    version = json.loads(out.stdout)
    assert version["run_id"] == result.best_run_id
    assert version["source"] == result.best_model_uri
    # Without --study, --best ranks the runs that have a model (by test rmse).
    out = runner.invoke(app, ["register", "--best", "-f", "json"])
    assert out.exit_code == 0, out.stderr
    client = MlflowClient(tracking_uri=isolated_store)
    assert client.get_run(json.loads(out.stdout)["run_id"]).data.tags["mlt.model_uri"]


def test_a_study_refuses_other_data(isolated_store: str, write_csv, one_line_error) -> None:
    data = str(write_csv(rows=60))
    args = ["tune", "--trials", "1", "--data", data, "--study", "x", *FAST, "-f", "json"]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, [*args, "--test-size", "0.3"])
    one_line_error(
        result,
        "study 'x' was started with test_size 0.25, not 0.3: give the same options or "
        "another --study",
    )
    parent, _trials = study_runs(isolated_store, "x")
    assert parent.info.status != "RUNNING"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--trials", "0"], "--trials must be at least 1, got 0", id="trials"),
        pytest.param(
            ["--alpha", "0,1"],
            "--alpha must be LOW,HIGH with 0 < LOW <= HIGH (a log scale), got 0,1",
            id="alpha-zero",
        ),
        pytest.param(
            ["--l1-ratio", "0.5,2"],
            "--l1-ratio must be LOW,HIGH with 0 <= LOW <= HIGH <= 1, got 0.5,2",
            id="l1-ratio",
        ),
        pytest.param(["--folds", "1"], "--folds must be at least 2, got 1", id="folds"),
        pytest.param(
            ["-t", "http://127.0.0.1:9"],
            "a study with the tracking store http://127.0.0.1:9 needs a database every worker "
            "reaches: give --storage URL, e.g. postgresql://HOST/DB (or set MLT_STUDY_STORAGE)",
            id="no-storage",
        ),
    ],
)
def test_bad_options(args: list[str], message: str, one_line_error, all_runs) -> None:
    one_line_error(runner.invoke(app, ["tune", *args]), message)
    assert all_runs() == []

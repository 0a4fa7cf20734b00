"""Model Registry: `mlt register` and `mlt models` against a real SQLite store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from mlflow_tutorial.cli import app
from mlflow_tutorial.config import Tracking
from mlflow_tutorial.errors import ModelNotFoundError, RunNotFoundError
from mlflow_tutorial.registry.versions import list_versions, register_model, resolve_version
from mlflow_tutorial.tracking.training import TrainOptions, TrainResult, train, train_grid

runner = CliRunner()


@pytest.fixture(scope="session")
def houses(make_store, small_csv) -> tuple[Path, list[TrainResult]]:
    """A store with three finished runs on houses.csv, trained once; (its file, the runs best
    first by rmse). Tests get a copy of the file; the artifacts stay where they are, read-only
    (a test that trains writes new runs' folders beside them)."""
    with make_store("houses") as store:
        options = TrainOptions(data=str(small_csv(store.root / "houses.csv", rows=60)), target="y")
        results = train_grid([0.01, 0.5, 2.0], [0.5], options)
    return Path(store.uri.removeprefix("sqlite:///")), sorted(
        results, key=lambda r: r.metrics["rmse"]
    )


@pytest.fixture
def runs(isolated_store: str, houses) -> list[TrainResult]:
    """This test's store holds the three houses runs (best first by rmse)."""
    template, results = houses
    shutil.copy(template, isolated_store.removeprefix("sqlite:///"))
    return results


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def test_register_best_creates_version_alias_and_tags(runs):
    result = invoke("register", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    best = runs[0]
    assert out["name"] == "houses-elasticnet"
    assert out["version"] == 1
    assert out["aliases"] == ["champion"]
    assert out["run_id"] == best.run_id
    assert out["source"] == best.model_uri
    assert out["model_uri"] == "models:/houses-elasticnet@champion"
    assert out["created"] is True

    client = MlflowClient()
    version = client.get_model_version_by_alias("houses-elasticnet", "champion")
    assert int(version.version) == 1
    assert version.run_id == best.run_id
    assert version.tags["mlt.source_run"] == best.run_id
    assert float(version.tags["mlt.metric.rmse"]) == pytest.approx(best.metrics["rmse"])


def test_register_is_idempotent_and_moves_aliases(runs):
    tracking = Tracking.resolve()
    first = register_model(tracking)
    again = register_model(tracking)
    assert (again.version, again.created) == (first.version, False)

    other = register_model(tracking, run_id=runs[2].run_id)
    assert other.version == 2 and other.created
    client = MlflowClient()
    assert int(client.get_model_version_by_alias("houses-elasticnet", "champion").version) == 2

    back = register_model(tracking)  # the best run is already version 1: only the alias moves
    assert (back.version, back.created) == (1, False)
    assert int(client.get_model_version_by_alias("houses-elasticnet", "champion").version) == 1
    assert len(client.search_model_versions("name = 'houses-elasticnet'")) == 2


def test_register_run_from_stdin_with_name_and_aliases(runs):
    result = invoke(
        "register",
        "--run",
        "-",
        "--name",
        "demo",
        "--alias",
        "staging",
        "--alias",
        "blue",
        "--format",
        "json",
        input=f"{runs[1].run_id}\n",
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["name"], out["run_id"], out["aliases"]) == (
        "demo",
        runs[1].run_id,
        ["blue", "staging"],
    )
    client = MlflowClient()
    assert client.get_model_version_by_alias("demo", "staging").run_id == runs[1].run_id


def test_register_best_ranks_within_the_newest_runs_data_set(runs):
    diabetes = train(0.5, 0.5)  # the newest run, on another data set, with a far worse rmse
    assert runs[0].metrics["rmse"] < diabetes.metrics["rmse"]

    newest = invoke("register", "--format", "json")
    assert newest.exit_code == 0, newest.stderr
    out = json.loads(newest.stdout)
    assert (out["run_id"], out["dataset"], out["name"]) == (
        diabetes.run_id,
        "diabetes",
        "diabetes-elasticnet",
    )

    chosen = invoke("register", "--dataset", "houses", "--format", "table")
    assert chosen.exit_code == 0, chosen.stderr
    assert "best by rmse among runs on houses" in chosen.stderr
    assert register_model(Tracking.resolve(), dataset="houses").run_id == runs[0].run_id

    assert invoke("register", "--run", runs[0].run_id, "--dataset", "houses").exit_code == 2
    none = invoke("register", "--dataset", "nosuch")
    assert none.stderr == (
        "Error: no finished run with metric 'rmse' on data set 'nosuch' in experiment 'mlt'; "
        "train one with `mlt train`\n"
    )


def test_register_best_by_mae(isolated_store):
    # On the built-in data's default split, alpha 1 / l1_ratio 0.8 has the lowest rmse and
    # alpha 0.1 / l1_ratio 0.8 the lowest mae: only a ranking by mae picks the second.
    results = train_grid([0.1, 1.0], [0.8])
    by_rmse = min(results, key=lambda r: r.metrics["rmse"])
    by_mae = min(results, key=lambda r: r.metrics["mae"])
    assert by_mae.run_id != by_rmse.run_id

    out = json.loads(invoke("register", "--metric", "mae", "-f", "json").stdout)
    assert out["run_id"] == by_mae.run_id
    assert out["metrics"]["mae"] == pytest.approx(by_mae.metrics["mae"])


def test_models_lists_versions_with_aliases_and_metrics(runs, one_line_error):
    tracking = Tracking.resolve()
    register_model(tracking, run_id=runs[1].run_id)
    register_model(tracking)
    result = invoke("models", "houses-elasticnet", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["version"] for r in rows] == [2, 1]
    assert rows[0]["aliases"] == ["champion"] and rows[1]["aliases"] == []
    assert rows[0]["metrics"]["rmse"] == pytest.approx(runs[0].metrics["rmse"])
    assert [v.version for v in list_versions(tracking)] == [2, 1]

    one_line_error(invoke("models", "nope"), "registered model 'nope' not found")


def test_resolve_version_forms(runs):
    tracking = Tracking.resolve()
    register_model(tracking)
    assert resolve_version(tracking, "models:/houses-elasticnet@champion").version == 1
    assert resolve_version(tracking, "models:/houses-elasticnet/1").run_id == runs[0].run_id
    assert resolve_version(tracking, "models:/houses-elasticnet/latest").version == 1
    assert resolve_version(tracking, runs[0].model_uri) is None
    with pytest.raises(ModelNotFoundError, match="alias 'gold'"):
        resolve_version(tracking, "models:/houses-elasticnet@gold")
    with pytest.raises(ModelNotFoundError, match="version 7"):
        resolve_version(tracking, "models:/houses-elasticnet/7")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--run", "0123456789abcdef0123456789abcdef"],
            "run 0123456789abcdef0123456789abcdef not found",
            id="unknown-run",
        ),
        pytest.param(["--run", "not-a-run"], "not a run id: 'not-a-run'", id="not-a-run-id"),
    ],
)
def test_register_unknown_run(runs, one_line_error, args, message):
    one_line_error(invoke("register", *args), message)
    assert MlflowClient().search_registered_models() == []


def test_register_run_without_model(one_line_error):
    mlflow.set_experiment("mlt")
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 1)
    with pytest.raises(RunNotFoundError, match="has no logged model"):
        register_model(Tracking.resolve(), run_id=run.info.run_id)
    result = invoke("register", "--run", run.info.run_id)
    one_line_error(result, f"run {run.info.run_id} has no logged model to register")
    assert MlflowClient().search_registered_models() == []


def test_register_best_on_empty_or_unknown_experiment(isolated_store, one_line_error):
    MlflowClient().create_experiment("empty")
    one_line_error(
        invoke("register", "--best", "-e", "empty"),
        "no finished run with metric 'rmse' in experiment 'empty'; train one with `mlt train`",
    )
    one_line_error(
        invoke("register", "-e", "missing"),
        f"experiment 'missing' not found in {isolated_store}",
    )


def test_register_run_and_best_together_is_usage_error(runs):
    result = invoke("register", "--run", runs[0].run_id, "--best")
    assert result.exit_code == 2


def test_pipeline_train_json_to_register(write_csv):
    trained = invoke("train", "--data", str(write_csv(rows=30)), "--target", "y", "-f", "json")
    run_id = json.loads(trained.stdout)["run_id"]
    registered = invoke("register", "--run", "-", "-f", "json", input=run_id + "\n")
    assert registered.exit_code == 0, registered.stderr
    assert json.loads(registered.stdout)["run_id"] == run_id


def test_diabetes_default_name():
    result = train(0.5, 0.5)
    info = register_model(Tracking.resolve(), run_id=result.run_id)
    assert info.name == "diabetes-elasticnet"


@pytest.mark.parametrize("rounds", [40], ids=lambda n: f"{n}-rounds")
def test_concurrent_alias_moves_all_succeed(isolated_store, race_alias_moves, rounds):
    """Movers racing to create the same alias: MLflow's store refuses all but one, mlt moves
    again. The refusals counted prove the race was run, not dodged."""
    race = race_alias_moves(isolated_store, rounds)
    print(race)
    assert race.rounds >= rounds
    assert race.retried > 0, f"{race}: no mover ever collided, so nothing was tested"


def test_runs_versions_and_models_have_descriptions(runs):
    """What MLflow's UI shows under "Description": the run says what it was, the version
    where it came from, the registered model what it holds."""
    client = MlflowClient()
    best = runs[0]
    run = client.get_run(best.run_id)
    note = run.data.tags["mlflow.note.content"]
    params, metrics = best.params, best.metrics
    assert note == (
        f"ElasticNet alpha={params['alpha']:g} l1_ratio=0.5 on houses (60 rows): "
        f"rmse {metrics['rmse']:.4g}, r2 {metrics['r2']:.4g}"
    )
    assert invoke("register", "--run", best.run_id).exit_code == 0
    version = client.get_model_version("houses-elasticnet", "1")
    assert version.description == f"From run {best.run_id} ({run.info.run_name}): {note}"
    model = client.get_registered_model("houses-elasticnet")
    assert model.description == "ElasticNet regressors trained by mlt on houses"

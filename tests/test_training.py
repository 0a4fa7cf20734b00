"""Library tests of training into an SQLite tracking store, checked through MlflowClient."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from numpy.testing import assert_allclose

from mlflow_tutorial import __version__, data
from mlflow_tutorial.config import Tracking
from mlflow_tutorial.errors import DataError, InvalidParameterError
from mlflow_tutorial.tracking import training
from mlflow_tutorial.tracking.training import TrainOptions, TrainResult

GRID_ALPHAS = (0.1, 1.0)
GRID_L1_RATIOS = (0.2, 0.8)
RUN_PARAMS = ("alpha", "l1_ratio", "test_size", "random_state", "dataset", "n_rows", "n_features")


@dataclass(frozen=True)
class Trained:
    uri: str
    csv: Path
    grid: list[TrainResult]
    diabetes: TrainResult


@pytest.fixture(scope="module")
def trained(make_store, small_csv) -> Trained:
    """A 2x2 grid on a small CSV (experiment 'grid') and one default run on the built-in
    diabetes data (experiment 'diabetes'), in a store shared by this module's tests."""
    with make_store("trained") as store:
        csv = small_csv(store.root / "small.csv")
        grid = training.train_grid(
            GRID_ALPHAS,
            GRID_L1_RATIOS,
            TrainOptions(data=str(csv), run_name="grid"),
            Tracking(uri=store.uri, experiment="grid"),
        )
        diabetes = training.train(tracking=Tracking(uri=store.uri, experiment="diabetes"))
    return Trained(uri=store.uri, csv=csv, grid=grid, diabetes=diabetes)


# --- what a run records --------------------------------------------------------------------


def test_grid_trains_every_point(trained: Trained) -> None:
    points = [(r.params["alpha"], r.params["l1_ratio"]) for r in trained.grid]
    assert points == [(a, b) for a in GRID_ALPHAS for b in GRID_L1_RATIOS]
    assert len({r.run_id for r in trained.grid}) == 4
    assert [r.run_name for r in trained.grid] == ["grid-1", "grid-2", "grid-3", "grid-4"]
    assert {r.experiment_name for r in trained.grid} == {"grid"}


def test_every_run_is_finished_with_params_and_metrics(trained: Trained, all_runs) -> None:
    client = MlflowClient(tracking_uri=trained.uri)
    runs = all_runs(trained.uri)
    assert len(runs) == 5
    for result in [*trained.grid, trained.diabetes]:
        run = client.get_run(result.run_id)
        assert run.info.status == "FINISHED"
        assert run.info.experiment_id == result.experiment_id
        assert set(RUN_PARAMS) <= set(run.data.params)
        assert float(run.data.params["alpha"]) == result.params["alpha"]
        assert float(run.data.params["l1_ratio"]) == result.params["l1_ratio"]
        assert run.data.params["test_size"] == "0.25"
        assert run.data.params["random_state"] == "42"
        assert set(run.data.metrics) >= {"rmse", "mae", "r2"}
        for name in ("rmse", "mae", "r2"):
            assert run.data.metrics[name] == pytest.approx(result.metrics[name])
        assert run.data.metrics["rmse"] >= run.data.metrics["mae"] > 0


def test_params_describe_the_data(trained: Trained) -> None:
    client = MlflowClient(tracking_uri=trained.uri)
    grid_params = client.get_run(trained.grid[0].run_id).data.params
    assert grid_params["dataset"] == "small"
    assert grid_params["n_rows"] == "40"
    assert grid_params["n_features"] == "2"
    assert grid_params["target"] == "y"

    diabetes_params = client.get_run(trained.diabetes.run_id).data.params
    assert diabetes_params["dataset"] == "diabetes"
    assert diabetes_params["n_rows"] == "442"
    assert diabetes_params["n_features"] == "10"
    assert diabetes_params["alpha"] == "0.5" and diabetes_params["l1_ratio"] == "0.5"


def test_dataset_input_is_logged(trained: Trained) -> None:
    client = MlflowClient(tracking_uri=trained.uri)
    for result, name, n_rows in [
        (trained.grid[1], "small", 40),
        (trained.diabetes, "diabetes", 442),
    ]:
        inputs = client.get_run(result.run_id).inputs.dataset_inputs
        assert len(inputs) == 1
        dataset_input = inputs[0]
        assert dataset_input.dataset.name == name
        assert f'"num_rows": {n_rows}' in dataset_input.dataset.profile
        tags = {t.key: t.value for t in dataset_input.tags}
        assert tags["mlflow.data.context"] == "training"
    grid_source = client.get_run(trained.grid[0].run_id).inputs.dataset_inputs[0].dataset.source
    assert str(trained.csv) in grid_source


def test_tags_version_and_shared_sweep_id(trained: Trained) -> None:
    client = MlflowClient(tracking_uri=trained.uri)
    grid_tags = [client.get_run(r.run_id).data.tags for r in trained.grid]
    assert all(t["mlt.version"] == __version__ for t in grid_tags)
    sweep_ids = {t.get("mlt.sweep_id") for t in grid_tags}
    assert len(sweep_ids) == 1
    (sweep_id,) = sweep_ids
    assert sweep_id and sweep_id == trained.grid[0].sweep_id
    assert all(
        t["mlt.model_uri"] == r.model_uri for t, r in zip(grid_tags, trained.grid, strict=True)
    )

    single = client.get_run(trained.diabetes.run_id).data.tags
    assert single["mlt.version"] == __version__
    assert "mlt.sweep_id" not in single  # one run is no sweep
    assert trained.diabetes.sweep_id is None


def test_result_to_dict_is_plain_data(trained: Trained) -> None:
    record = trained.diabetes.to_dict()
    assert record["run_id"] == trained.diabetes.run_id
    assert record["model_uri"].startswith("models:/m-")
    assert record["model_uri"] == f"models:/{record['model_id']}"
    assert record["experiment_name"] == "diabetes"
    assert record["parent_run_id"] is None


def test_default_diabetes_run_scores_as_expected(trained: Trained) -> None:
    r2 = trained.diabetes.metrics["r2"]
    assert 0.4 < r2 < 0.6
    assert trained.diabetes.dataset == "diabetes"


@pytest.mark.parametrize("index", [0, 3])
def test_logged_model_predicts_like_a_fresh_pipeline(trained: Trained, index: int) -> None:
    result = trained.grid[index]
    mlflow.set_tracking_uri(trained.uri)  # conftest resets it afterwards
    ds = data.load_dataset(path=str(trained.csv))
    parts = data.split(ds, 0.25, 42)

    model = mlflow.pyfunc.load_model(result.model_uri)
    fresh = training.build_pipeline(result.params["alpha"], result.params["l1_ratio"], True, 42)
    fresh.fit(parts.X_train, parts.y_train)

    assert_allclose(np.asarray(model.predict(parts.X_test)), fresh.predict(parts.X_test))
    expected = training.evaluate(fresh, parts.X_test, parts.y_test)
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value)


def test_diabetes_model_predicts_like_a_fresh_pipeline(trained: Trained) -> None:
    mlflow.set_tracking_uri(trained.uri)
    parts = data.split(data.load_dataset(), 0.25, 42)
    model = mlflow.pyfunc.load_model(trained.diabetes.model_uri)
    fresh = training.build_pipeline(0.5, 0.5, True, 42).fit(parts.X_train, parts.y_train)
    assert_allclose(np.asarray(model.predict(parts.X_test)), fresh.predict(parts.X_test))


def test_grid_points_differ(trained: Trained) -> None:
    # different hyperparameters on the same split give different models
    rmses = {round(r.metrics["rmse"], 10) for r in trained.grid}
    assert len(rmses) == 4


# --- single runs into the per-test store -----------------------------------------------------


def test_train_uses_environment_tracking_and_default_experiment(
    isolated_store: str, write_csv
) -> None:
    result = training.train(0.2, 0.3, TrainOptions(data=str(write_csv()), run_name="solo"))
    client = MlflowClient(tracking_uri=isolated_store)
    experiment = client.get_experiment_by_name("mlt")
    assert experiment is not None
    assert result.experiment_id == experiment.experiment_id
    run = client.get_run(result.run_id)
    assert run.info.run_name == "solo"
    assert run.info.status == "FINISHED"
    assert run.data.params["alpha"] == "0.2"
    assert mlflow.active_run() is None


def test_no_standardize_fits_elasticnet_alone(write_csv) -> None:
    result = training.train(0.1, 0.5, TrainOptions(data=str(write_csv()), standardize=False))
    assert result.params["standardize"] is False
    model = mlflow.sklearn.load_model(result.model_uri)
    assert [name for name, _ in model.steps] == ["elasticnet"]


# --- validation happens before any run -------------------------------------------------------


def _assert_store_untouched(uri: str, all_runs) -> None:
    assert MlflowClient(tracking_uri=uri).get_experiment_by_name("mlt") is None
    assert all_runs(uri) == []


TOO_FEW_ROWS = (
    "too few rows to split: 4 rows with test size 0.25 leaves 3 for training and 1 for "
    "testing (need at least 2 on each side)"
)


@pytest.mark.parametrize(
    ("alphas", "l1_ratios", "options", "error", "message"),
    [
        pytest.param(
            [-1.0], [0.5], {}, InvalidParameterError, "alpha must be >= 0, got -1.0", id="alpha-neg"
        ),
        pytest.param(
            [math.nan], [0.5], {}, InvalidParameterError, "alpha must be >= 0, got nan", id="nan"
        ),
        pytest.param(
            [math.inf], [0.5], {}, InvalidParameterError, "alpha must be finite", id="inf"
        ),
        pytest.param(
            [0.5],
            [2.0],
            {},
            InvalidParameterError,
            "l1_ratio must be between 0 and 1, got 2.0",
            id="l1-ratio-2",
        ),
        pytest.param(
            [0.5],
            [-0.1],
            {},
            InvalidParameterError,
            "l1_ratio must be between 0 and 1, got -0.1",
            id="l1-ratio-neg",
        ),
        pytest.param(
            [0.5],
            [0.5],
            {"test_size": 0.0},
            InvalidParameterError,
            "test size must be between 0 and 1 (exclusive), got 0.0",
            id="test-size-0",
        ),
        pytest.param(
            [0.5],
            [0.5],
            {"test_size": 1.0},
            InvalidParameterError,
            "test size must be between 0 and 1 (exclusive), got 1.0",
            id="test-size-1",
        ),
        pytest.param(
            [0.5],
            [0.5],
            {"data": "nowhere.csv"},
            DataError,
            "data file not found: nowhere.csv",
            id="missing-file",
        ),
        pytest.param(
            [0.5],
            [0.5],
            {"target": "price"},
            DataError,
            "target column 'price' not found in small; columns: x1, x2, y",
            id="missing-target",
        ),
        pytest.param(
            [0.5],
            [0.5],
            {"data": "text.csv", "target": "y"},
            DataError,
            "column 'city' of text looks like an id or a name (40 different values in 40 rows); "
            "leave it out with --drop city",
            id="id-column",
        ),
        pytest.param(
            [0.5], [0.5], {"data": "tiny.csv"}, DataError, TOO_FEW_ROWS, id="too-few-rows"
        ),
        pytest.param(
            [0.5],
            [0.5],
            {"data": None, "dataset": "iris"},
            DataError,
            "unknown built-in data set 'iris' (available: diabetes); "
            "use --data for a CSV file or URL",
            id="unknown-builtin",
        ),
        pytest.param(  # the first points are fine; none may be trained
            [0.1, 1.0, -1.0],
            [0.5],
            {},
            InvalidParameterError,
            "alpha must be >= 0, got -1.0",
            id="one-bad-grid-point",
        ),
        pytest.param(
            [],
            [0.5],
            {},
            InvalidParameterError,
            "give at least one alpha and one l1_ratio",
            id="empty-grid",
        ),
    ],
)
def test_invalid_input_raises_and_creates_no_run(
    isolated_store: str,
    write_csv,
    all_runs,
    alphas: list[float],
    l1_ratios: list[float],
    options: dict,
    error: type,
    message: str | re.Pattern[str],
) -> None:
    write_csv("small.csv")  # in the working directory, where the options name them
    write_csv("text.csv", city=[f"c{i}" for i in range(40)])
    write_csv("tiny.csv", rows=4)

    with pytest.raises(error) as info:
        training.train_grid(alphas, l1_ratios, TrainOptions(**{"data": "small.csv", **options}))
    if isinstance(message, re.Pattern):  # pandas names the dtype of text as it likes
        assert message.fullmatch(info.value.message), info.value.message
    else:
        assert info.value.message == message
    _assert_store_untouched(isolated_store, all_runs)


def test_train_validates_like_train_grid(isolated_store: str, all_runs) -> None:
    with pytest.raises(InvalidParameterError, match="l1_ratio"):
        training.train(0.5, 2)
    _assert_store_untouched(isolated_store, all_runs)


# --- failures after a run started ------------------------------------------------------------


def test_failure_after_the_run_started_marks_it_failed(
    isolated_store: str, write_csv, monkeypatch: pytest.MonkeyPatch, all_runs
) -> None:
    import mlflow.sklearn

    def broken_log_model(*args, **kwargs):
        raise RuntimeError("artifact store is full")

    monkeypatch.setattr(mlflow.sklearn, "log_model", broken_log_model)
    with pytest.raises(RuntimeError, match="artifact store is full"):
        training.train(0.1, 0.5, TrainOptions(data=str(write_csv())))

    runs = all_runs(isolated_store)
    assert len(runs) == 1
    assert runs[0].info.status == "FAILED"
    assert mlflow.active_run() is None


def test_failure_in_a_grid_keeps_finished_runs_and_stops(
    isolated_store: str, write_csv, monkeypatch: pytest.MonkeyPatch, all_runs
) -> None:
    import mlflow.sklearn

    original = mlflow.sklearn.log_model
    calls = []

    def fails_second_time(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return original(*args, **kwargs)

    monkeypatch.setattr(mlflow.sklearn, "log_model", fails_second_time)
    with pytest.raises(RuntimeError, match="boom"):
        training.train_grid([0.1, 1.0], [0.5, 0.9], TrainOptions(data=str(write_csv())))

    runs = sorted(all_runs(isolated_store), key=lambda r: r.info.start_time)
    assert [r.info.status for r in runs] == ["FINISHED", "FAILED"]
    assert "RUNNING" not in {r.info.status for r in runs}
    assert mlflow.active_run() is None


# --- inside a run started by `mlflow run` ----------------------------------------------------


@pytest.fixture
def project_run(isolated_store: str, monkeypatch: pytest.MonkeyPatch):
    """The run `mlflow run` would have created, announced in MLFLOW_RUN_ID."""
    client = MlflowClient(tracking_uri=isolated_store)
    outer = client.create_run(client.create_experiment("project"))
    monkeypatch.setenv("MLFLOW_RUN_ID", outer.info.run_id)
    return client, outer


def test_grid_inside_a_project_run_logs_child_runs(
    isolated_store: str, write_csv, project_run
) -> None:
    client, outer = project_run

    results = training.train_grid([0.1, 1.0], [0.5], TrainOptions(data=str(write_csv())))

    assert os.environ["MLFLOW_RUN_ID"] == outer.info.run_id  # restored
    assert {r.parent_run_id for r in results} == {outer.info.run_id}
    assert {r.experiment_name for r in results} == {"project"}
    for result in results:
        run = client.get_run(result.run_id)
        assert run.data.tags["mlflow.parentRunId"] == outer.info.run_id
        assert run.info.status == "FINISHED"
    assert client.get_experiment_by_name("mlt") is None
    assert client.get_run(outer.info.run_id).data.tags["mlt.sweep_id"] == results[0].sweep_id


def test_single_point_inside_a_project_run_logs_into_it(
    isolated_store: str, write_csv, project_run, all_runs
) -> None:
    client, outer = project_run

    result = training.train(0.3, 0.5, TrainOptions(data=str(write_csv())))

    assert result.run_id == outer.info.run_id
    run = client.get_run(outer.info.run_id)
    assert run.data.params["alpha"] == "0.3"
    assert "rmse" in run.data.metrics
    assert len(all_runs(isolated_store)) == 1


def test_params_already_logged_by_mlflow_run_are_kept(
    isolated_store: str, write_csv, project_run
) -> None:
    """`mlflow run` logs the entry point's params first (alpha=1 as "1"); MLflow refuses to
    change a logged param, so mlt must not log those keys again."""
    client, outer = project_run
    client.log_param(outer.info.run_id, "alpha", "1")
    client.log_param(outer.info.run_id, "data_file", "''")

    result = training.train(1.0, 0.5, TrainOptions(data=str(write_csv())))

    run = client.get_run(outer.info.run_id)
    assert result.run_id == outer.info.run_id
    assert run.info.status == "FINISHED"
    assert run.data.params["alpha"] == "1"
    assert run.data.params["n_rows"] == "40" and run.data.params["target"] == "y"


def test_interrupt_after_the_run_started_marks_it_killed(
    isolated_store: str, write_csv, monkeypatch: pytest.MonkeyPatch, all_runs
) -> None:
    import mlflow.sklearn

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mlflow.sklearn, "log_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        training.train(0.1, 0.5, TrainOptions(data=str(write_csv())))

    runs = all_runs(isolated_store)
    assert [r.info.status for r in runs] == ["KILLED"]
    assert mlflow.active_run() is None

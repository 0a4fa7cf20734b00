"""``compare_runs`` sorts the whole listing itself, from cheap unordered pages of MLflow's
``search_runs``: its order must be MLflow's own ordered search, on every kind of store,
with ties (same metric value, same start time), NaN and missing metrics, and over pages."""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator

import pytest

from mlflow_tutorial.config import Tracking
from mlflow_tutorial.tracking import comparison
from mlflow_tutorial.tracking.comparison import compare_runs, sort_direction

EXPERIMENT = "ordering"
N_RUNS = 40


def fill(uri: str) -> None:
    """Runs with ties and gaps: rmse from a few values (ties), start times from a few
    instants (ties of ties), some runs with NaN, some without rmse, one without any metric."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(tracking_uri=uri)
    if client.get_experiment_by_name(EXPERIMENT):  # the server on the database filled before
        return
    experiment_id = client.create_experiment(EXPERIMENT)
    rng = random.Random(7)
    base = 1_700_000_000_000
    for i in range(N_RUNS):
        start = base + rng.choice([0, 1000, 2000, 3000])
        run_id = client.create_run(experiment_id, start_time=start).info.run_id
        rmse = rng.choice([50.0, 51.5, 51.5, 53.0, math.nan])
        metrics = {"rmse": rmse, "r2": rng.choice([0.4, 0.5, 0.5, math.nan]), "mae": 40.0}
        if i % 7 == 3:
            del metrics["rmse"]
        if i % 11 == 5:
            metrics = {}
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, start, 0) for k, v in metrics.items()],
            params=[Param("alpha", str(i % 3))],
        )
        client.set_terminated(run_id, end_time=start + 10)


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.slow),
        pytest.param("http", marks=pytest.mark.slow),
    ],
)
def store(request, make_store) -> Iterator[str]:
    """The runs on an SQLite file, on PostgreSQL directly, and behind ``mlflow server`` on
    PostgreSQL (MLflow's REST store; the same database, so the same runs)."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            uri = stack.enter_context(make_store("ordering")).uri
        else:
            uri = request.getfixturevalue("postgres_db")
            if request.param == "http":
                from team_support import mlflow_server

                home = request.getfixturevalue("tmp_path_factory").mktemp("ordering-server")
                uri = stack.enter_context(mlflow_server(uri, home)).url
        fill(uri)
        yield uri


def mlflow_ordered(uri: str, metric: str) -> list[str]:
    """Run ids in the order of MLflow's own ordered search (pages of 1,000)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    order_by = [f"metrics.`{metric}` {sort_direction(metric)}", "attributes.start_time DESC"]
    ids, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], order_by=order_by, max_results=1000, page_token=token
        )
        ids += [run.info.run_id for run in page]
        token = page.token
        if not token:
            return ids


@pytest.mark.parametrize("metric", ["rmse", "r2"])
@pytest.mark.parametrize("page", [7, 10_000], ids=["pages-of-7", "one-page"])
def test_listing_is_in_mlflows_own_order(store, metric, page, monkeypatch) -> None:
    monkeypatch.setattr(comparison, "_PAGE", page)
    tracking = Tracking(store, EXPERIMENT)
    expected = mlflow_ordered(store, metric)
    listed = [run.run_id for run in compare_runs(tracking, metric)]
    assert len(expected) == N_RUNS
    assert listed == expected
    # --top N: the store's ordered search when N fits a page, the sorted listing when not.
    for top in (1, 5, 12, 39):
        assert [run.run_id for run in compare_runs(tracking, metric, top)] == expected[:top]


def test_the_store_really_has_ties_and_gaps(store) -> None:
    """What the ordering test relies on is present (else it proves little)."""
    runs = compare_runs(Tracking(store, EXPERIMENT), "rmse")
    values = [run.metrics.get("rmse") for run in runs]
    present = [v for v in values if v is not None and not math.isnan(v)]
    starts = [run.start_time for run in runs]
    assert len(set(present)) < len(present)  # ties on the metric
    assert any(v is not None and math.isnan(v) for v in values)
    assert None in values
    assert len(set(starts)) < len(starts)  # ties on the start time

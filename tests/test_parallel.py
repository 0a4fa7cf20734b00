"""Parallel trainers on a fresh store: MLflow alone crashes creating the SQLite schema when
several processes start at once; mlt serializes the store's set-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient


@pytest.mark.slow
def test_parallel_trainers_on_a_fresh_sqlite_store(tmp_path: Path) -> None:
    store = tmp_path / "fresh" / "mlflow.db"  # neither the file nor its folder exists yet
    uri = f"sqlite:///{store}"
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlflow_tutorial", "train", "--alpha", str(alpha), "-f", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        for alpha in (0.1, 0.2, 0.3, 0.4)
    ]
    outcomes = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outcomes, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("mlt").experiment_id])
    assert sorted(r.data.params["alpha"] for r in runs) == ["0.1", "0.2", "0.3", "0.4"]
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert len(client.search_experiments()) == 2  # Default and mlt

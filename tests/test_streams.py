"""stdout and stderr in real shell pipelines: a reader that goes away mid-output ends a command
quietly with status 0, and stderr holds only mlt's own words, with tqdm installed (MLflow then
draws "Downloading artifacts" bars unless told not to; the test extra installs tqdm so that the
whole suite runs with it).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BIN = str(Path(sys.executable).parent)
# Predictions of this many rows are far more than a pipe holds (64 KiB), so mlt is still
# writing when the reader goes.
BIG = 20_000


def shell(script: str, uri: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    """``bash -c script`` with ``mlt`` on PATH and the store at ``uri``."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLT_DEBUG", "MLFLOW_LOGGING_LEVEL")}
    env.update(MLFLOW_TRACKING_URI=uri, PATH=BIN + os.pathsep + env.get("PATH", ""), **extra)
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def first_exit(pipeline: str) -> str:
    """A pipeline whose exit status is that of its first command (mlt's), not head's."""
    return f"{pipeline}; exit ${{PIPESTATUS[0]}}"


@pytest.fixture(scope="module")
def big_csv(model_uri, tmp_path_factory, small_csv) -> Path:
    """:data:`BIG` rows with the columns of the ``model_uri`` fixture's model (x1, x2)."""
    return small_csv(tmp_path_factory.mktemp("big") / "big.csv", rows=BIG)


def test_tqdm_is_installed():
    """The rest of this file, and every one-line-error check of the suite, run with tqdm
    present: the test extra installs it."""
    import tqdm

    assert tqdm.__version__


def test_predict_into_head_stops_quietly(model_uri, big_csv, tmp_path):
    uri, model = model_uri
    command = f"mlt predict -m {model} --input {shlex.quote(str(big_csv))} --format csv"
    done = shell(first_exit(f"{command} | head -2"), uri, tmp_path)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0] == "prediction", lines
    float(lines[1])


def test_compare_into_head_stops_quietly(tmp_path, small_csv):
    """A store with enough runs that compare's JSON fills the pipe before head is done."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    uri = f"sqlite:///{tmp_path / 'many.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("mlt")
    for i in range(300):
        run = client.create_run(experiment, run_name=f"run-{i}")
        params = {"alpha": str(i / 100), "l1_ratio": "0.5", "dataset": "diabetes"}
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(m, 50 + i / 7, 0, 0) for m in ("rmse", "mae", "r2")],
            params=[Param(k, v) for k, v in params.items()],
        )
        client.set_terminated(run.info.run_id)
    full = shell("mlt compare --format json", uri, tmp_path)
    assert full.returncode == 0 and len(full.stdout) > 2 * 65536, full.stderr

    done = shell(first_exit("mlt compare --format json | head -1"), uri, tmp_path)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "[\n")


def test_predict_stderr_has_no_progress_bars(model_uri, tmp_path, write_csv):
    """A successful predict says nothing on stderr. With MLT_DEBUG=1 (MLflow's own output
    shown) the same command does draw MLflow's bars: the check can fail."""
    uri, model = model_uri
    rows = write_csv("rows.csv", rows=5)
    command = f"mlt predict -m {model} --input {shlex.quote(str(rows))} --format csv"
    done = shell(command, uri, tmp_path)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert len(done.stdout.splitlines()) == 6

    debug = shell(command, uri, tmp_path, MLT_DEBUG="1")
    assert debug.returncode == 0, debug.stderr
    assert "Downloading artifacts" in debug.stderr, debug.stderr

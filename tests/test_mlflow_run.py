"""End to end: ``mlflow run`` on a copy of this repository's MLflow Project.

Each test copies the project files into ``tmp_path/project`` and runs the real ``mlflow run``
command line against the SQLite store that conftest.py points ``MLFLOW_TRACKING_URI`` at.
The venv's bin directory goes first on PATH: ``--env-manager local`` runs the entry point's
``python`` from PATH, and ``--env-manager uv`` calls the ``uv`` binary from PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PROJECT_FILES = ("MLproject", "python_env.yaml", "conda.yaml", "pyproject.toml")
EXPERIMENT = "X"

pytestmark = pytest.mark.slow


def copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return project


def run_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)  # carries conftest's MLFLOW_TRACKING_URI
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env.update(extra)
    return env


def mlflow_run(
    project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    env = env or run_env()
    mlflow = shutil.which("mlflow", path=env["PATH"])
    assert mlflow, "no mlflow command on PATH"
    command = [mlflow, "run", str(project), *args, "--experiment-name", EXPERIMENT]
    # MLflow makes a temporary directory per run (for `path` parameters): keep it in tmp_path.
    command += ["--storage-dir", str(project.parent / "storage")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(command)} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-6000:]}"
    )
    return result


def experiment_runs(name: str = EXPERIMENT) -> list:
    from mlflow import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None, f"no experiment {name!r}"
    return client.search_runs([experiment.experiment_id], max_results=100)


def diabetes_rows(n: int = 2):
    from mlflow_tutorial.data import load_dataset

    return load_dataset("diabetes").X.head(n)


def check_single_run(run) -> None:
    import mlflow.pyfunc

    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.source.type"] == "PROJECT"
    assert run.data.tags["mlflow.project.entryPoint"] == "main"
    assert run.data.params["alpha"] == "0.3"
    assert run.data.params["l1_ratio"] == "0.7"
    assert run.data.params["n_rows"] == "442"  # logged by mlt itself, into the same run
    assert {"rmse", "mae", "r2"} <= set(run.data.metrics)
    model = mlflow.pyfunc.load_model(run.data.tags["mlt.model_uri"])
    predictions = [float(p) for p in model.predict(diabetes_rows(2))]
    assert len(predictions) == 2
    assert all(0 < p < 400 for p in predictions)  # the target lies between 25 and 346


def test_main_entry_point_local(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    mlflow_run(project, "-P", "alpha=0.3", "-P", "l1_ratio=0.7", "--env-manager", "local")
    runs = experiment_runs()
    assert len(runs) == 1
    check_single_run(runs[0])


def test_main_entry_point_with_a_csv(tmp_path: Path, write_csv) -> None:
    """A --data CSV and --target, and an alpha spelled differently from how mlt logs it."""
    project = copy_project(tmp_path)
    csv = write_csv("small.csv", rows=40)
    mlflow_run(
        project,
        *(
            "-P",
            "alpha=1",
            "-P",
            f"data_file={csv}",
            "-P",
            "target_column=y",
            "--env-manager",
            "local",
        ),
    )
    (run,) = experiment_runs()
    assert run.info.status == "FINISHED"
    assert run.data.params["alpha"] == "1"  # as given to mlflow run (mlt alone would log 1.0)
    assert run.data.params["target"] == "y"
    assert run.data.params["dataset"] == "small"
    assert run.data.params["n_rows"] == "40"
    assert run.data.tags["mlt.dataset"] == "small"


def test_sweep_entry_point_makes_child_runs(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    mlflow_run(
        project,
        *("-e", "sweep", "-P", "alphas=0.1,1.0", "-P", "l1_ratios=0.2,0.8"),
        *("--env-manager", "local"),
    )
    runs = experiment_runs()
    assert len(runs) == 5
    assert all(r.info.status == "FINISHED" for r in runs)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.data.tags["mlflow.project.entryPoint"] == "sweep"
    assert parent.data.params["alphas"] == "0.1,1.0"
    children = [r for r in runs if r is not parent]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert {(r.data.params["alpha"], r.data.params["l1_ratio"]) for r in children} == {
        ("0.1", "0.2"),
        ("0.1", "0.8"),
        ("1.0", "0.2"),
        ("1.0", "0.8"),
    }
    assert {r.data.tags["mlt.sweep_id"] for r in runs} == {parent.data.tags["mlt.sweep_id"]}
    for child in children:
        assert {"rmse", "mae", "r2"} <= set(child.data.metrics)


def find_uv() -> str | None:
    return shutil.which("uv", path=os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]))


@pytest.mark.skipif(find_uv() is None, reason="uv is not installed")
def test_main_entry_point_in_a_uv_environment(tmp_path: Path) -> None:
    """``--env-manager uv`` builds a fresh environment from python_env.yaml (from the package
    index; uv's download cache makes repeats faster) and runs the entry point in it."""
    project = copy_project(tmp_path)
    env_root = tmp_path / "envs"  # MLflow reuses an env by hash: a fresh root forces a build
    env = run_env(MLFLOW_ENV_ROOT=str(env_root))
    start = time.monotonic()
    try:
        result = mlflow_run(
            project,
            *("-P", "alpha=0.3", "-P", "l1_ratio=0.7", "--env-manager", "uv"),
            env=env,
            timeout=900,
        )
        print(f"mlflow run --env-manager uv took {time.monotonic() - start:.1f}s")
        (env_dir,) = env_root.iterdir()
        assert (env_dir / "bin" / "python").exists()
        assert f"source {env_dir}/bin/activate && " in result.stderr  # ran inside the new env
    finally:
        shutil.rmtree(env_root, ignore_errors=True)  # ~600 MB; pytest keeps old tmp dirs
    (run,) = experiment_runs()
    assert run.data.tags["mlflow.project.env"] == "uv"
    check_single_run(run)

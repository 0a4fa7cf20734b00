"""Tests of the ``mlt`` command line (``train`` and ``compare``) through Typer's CliRunner.

Click 8.2+ keeps stderr apart from stdout in ``CliRunner`` results (``result.stdout`` and
``result.stderr``; ``mix_stderr`` is gone), so stdout is parsed as data and stderr checked
on its own.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from mlflow import MlflowClient
from typer.testing import CliRunner

from mlflow_tutorial import __version__
from mlflow_tutorial.cli import app

runner = CliRunner()

GRID_ARGS = ["--alpha", "0.1", "--alpha", "1", "--l1-ratio", "0.2", "--l1-ratio", "0.8"]
GRID_POINTS = {(0.1, 0.2), (0.1, 0.8), (1.0, 0.2), (1.0, 0.8)}


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


@dataclass(frozen=True)
class Grid:
    uri: str
    result: Result
    records: list[dict]


@pytest.fixture(scope="module")
def grid(make_store) -> Grid:
    """``mlt train`` of a 2x2 grid on the built-in data, in a store shared by this module."""
    with make_store("cli-grid") as store:
        result = invoke("train", *GRID_ARGS, "--format", "json")
    assert result.exit_code == 0, (result.stderr, result.exception)
    return Grid(uri=store.uri, result=result, records=json.loads(result.stdout))


@pytest.fixture
def in_grid_store(grid: Grid, monkeypatch: pytest.MonkeyPatch) -> Grid:
    """Point MLFLOW_TRACKING_URI at the shared grid store (compare only reads it)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", grid.uri)
    return grid


def runs_sorted_in_python(runs: list, metric: str, descending: bool) -> list[str]:
    runs = sorted(runs, key=lambda r: r.data.metrics[metric], reverse=descending)
    return [r.info.run_id for r in runs]


# --- mlt train ---------------------------------------------------------------------------------


def test_train_json_is_one_object(isolated_store: str) -> None:
    result = invoke("train", "--format", "json")

    assert result.exit_code == 0, (result.stderr, result.exception)
    assert result.stderr.strip() == ""
    record = json.loads(result.stdout)
    assert isinstance(record, dict)
    assert {"run_id", "experiment_id", "model_uri", "params", "metrics"} <= set(record)
    assert record["model_uri"].startswith("models:/m-")
    assert record["params"]["alpha"] == 0.5
    assert record["params"]["l1_ratio"] == 0.5
    assert record["params"]["dataset"] == "diabetes"
    assert set(record["metrics"]) == {"rmse", "mae", "r2"}
    assert 0.4 < record["metrics"]["r2"] < 0.6

    run = MlflowClient(tracking_uri=isolated_store).get_run(record["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.experiment_id == record["experiment_id"]
    assert run.data.metrics["rmse"] == pytest.approx(record["metrics"]["rmse"])


def test_train_grid_json_is_an_array_of_four(grid: Grid, all_runs) -> None:
    records = grid.records
    assert isinstance(records, list) and len(records) == 4
    assert {(r["params"]["alpha"], r["params"]["l1_ratio"]) for r in records} == GRID_POINTS
    assert len({r["run_id"] for r in records}) == 4
    sweep_ids = {r["sweep_id"] for r in records}
    assert len(sweep_ids) == 1 and None not in sweep_ids
    assert all(r["model_uri"].startswith("models:/m-") for r in records)
    # progress goes to stderr, one line per run; stdout is only the JSON document
    for record in records:
        assert record["run_id"][:8] in grid.result.stderr
    assert {r.info.run_id for r in all_runs(grid.uri)} == {r["run_id"] for r in records}
    assert {r.info.status for r in all_runs(grid.uri)} == {"FINISHED"}


def test_train_grid_jsonl_with_comma_lists(isolated_store: str, all_runs) -> None:
    result = invoke(
        "train", "--alpha", "0.1,1", "--l1-ratio", "0.2", "--l1-ratio", "0.8", "--format", "jsonl"
    )

    assert result.exit_code == 0, (result.stderr, result.exception)
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    records = [json.loads(line) for line in lines]
    assert {(r["params"]["alpha"], r["params"]["l1_ratio"]) for r in records} == GRID_POINTS
    assert len(all_runs(isolated_store)) == 4


def test_train_repeated_values_train_once(isolated_store: str, all_runs) -> None:
    result = invoke("train", "--alpha", "0.1,0.1", "--alpha", "0.1", "--format", "json")

    assert result.exit_code == 0, (result.stderr, result.exception)
    record = json.loads(result.stdout)
    assert isinstance(record, dict)
    assert record["params"]["alpha"] == 0.1
    assert len(all_runs(isolated_store)) == 1


def test_train_csv_has_flattened_header(isolated_store: str, write_csv, all_runs) -> None:
    path = write_csv()
    result = invoke("train", "--data", str(path), "--alpha", "0.2", "--format", "csv")

    assert result.exit_code == 0, (result.stderr, result.exception)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1
    assert {"run_id", "model_uri", "params.alpha", "metrics.rmse", "metrics.r2"} <= set(rows[0])
    assert rows[0]["params.alpha"] == "0.2"
    assert rows[0]["params.dataset"] == "small"
    assert float(rows[0]["metrics.rmse"]) > 0
    assert [r.info.run_id for r in all_runs(isolated_store)] == [rows[0]["run_id"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--alpha", "-1"], "alpha must be >= 0, got -1.0", id="negative-alpha"),
        pytest.param(["--alpha", "0.1,-1"], "alpha must be >= 0, got -1.0", id="one-bad-alpha"),
        pytest.param(
            ["--l1-ratio", "2"], "l1_ratio must be between 0 and 1, got 2.0", id="l1-ratio-2"
        ),
        pytest.param(
            ["--test-size", "0"],
            "test size must be between 0 and 1 (exclusive), got 0.0",
            id="test-size-0",
        ),
        pytest.param(
            ["--data", "missing.csv"], "data file not found: missing.csv", id="missing-file"
        ),
        pytest.param(
            ["--data", "{csv}", "--target", "price"],
            "target column 'price' not found in small; columns: x1, x2, y",
            id="missing-target",
        ),
        pytest.param(
            ["--data", "{text_csv}", "--target", "y"],
            "column 'city' of text looks like an id or a name (40 different values in 40 rows); "
            "leave it out with --drop city",
            id="id-column",
        ),
        pytest.param(
            ["--dataset", "iris"],
            "unknown built-in data set 'iris' (available: diabetes); "
            "use --data for a CSV file or URL",
            id="unknown-builtin",
        ),
    ],
)
def test_train_errors_are_one_line_and_create_no_run(
    isolated_store: str, write_csv, one_line_error, all_runs, args: list[str], message
) -> None:
    paths = {
        "{csv}": str(write_csv()),
        "{text_csv}": str(write_csv("text.csv", city=[f"c{i}" for i in range(40)])),
    }
    result = invoke("train", *[paths.get(a, a) for a in args], "--format", "json")

    one_line_error(result, message)
    assert MlflowClient(tracking_uri=isolated_store).get_experiment_by_name("mlt") is None
    assert all_runs(isolated_store) == []


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--alpha", "abc"], "abc"),
        (["--l1-ratio", "0.5,x"], "'x'"),
        (["--alpha", ","], "at least one number"),
        (["--test-size", "half"], "--test-size"),
        (["--format", "xml"], "xml"),
        (["--no-such-option"], "--no-such-option"),
    ],
)
def test_train_usage_errors_exit_2(
    isolated_store: str, all_runs, args: list[str], word: str
) -> None:
    result = invoke("train", *args)

    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert word in result.stderr
    assert "Traceback" not in result.stderr
    assert all_runs(isolated_store) == []


def test_tracking_uri_option_overrides_the_environment(
    isolated_store: str, empty_store: Path, tmp_path: Path, all_runs
) -> None:
    other_db = tmp_path / "other.db"
    shutil.copy(empty_store, other_db)
    other = f"sqlite:///{other_db}"

    result = invoke("train", "--tracking-uri", other, "--format", "json")

    assert result.exit_code == 0, (result.stderr, result.exception)
    run_id = json.loads(result.stdout)["run_id"]
    assert [r.info.run_id for r in all_runs(other)] == [run_id]
    assert all_runs(isolated_store) == []  # the MLFLOW_TRACKING_URI store is untouched


def test_experiment_from_env_and_option(isolated_store: str) -> None:
    client = MlflowClient(tracking_uri=isolated_store)

    from_env = invoke("train", "--format", "json", env={"MLT_EXPERIMENT": "from-env"})
    assert from_env.exit_code == 0, (from_env.stderr, from_env.exception)
    record = json.loads(from_env.stdout)
    assert record["experiment_name"] == "from-env"
    assert client.get_experiment_by_name("from-env").experiment_id == record["experiment_id"]

    from_option = invoke(
        "train", "-e", "from-option", "--format", "json", env={"MLT_EXPERIMENT": "from-env"}
    )
    assert from_option.exit_code == 0, (from_option.stderr, from_option.exception)
    record = json.loads(from_option.stdout)
    assert record["experiment_name"] == "from-option"
    experiment = client.get_experiment_by_name("from-option")
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.run_id for r in runs] == [record["run_id"]]
    assert client.get_experiment_by_name("mlt") is None


# --- mlt compare -------------------------------------------------------------------------------


def test_compare_top_two_by_rmse(in_grid_store: Grid, all_runs) -> None:
    result = invoke("compare", "--top", "2", "--format", "json")

    assert result.exit_code == 0, (result.stderr, result.exception)
    runs = json.loads(result.stdout)
    assert len(runs) == 2
    rmses = [r["metrics"]["rmse"] for r in runs]
    assert rmses == sorted(rmses)
    best_two = runs_sorted_in_python(all_runs(in_grid_store.uri), "rmse", descending=False)[:2]
    assert [r["run_id"] for r in runs] == best_two


def test_compare_all_runs_agree_with_python_sort(in_grid_store: Grid, all_runs) -> None:
    result = invoke("compare")  # no --format and no terminal: JSON

    assert result.exit_code == 0, (result.stderr, result.exception)
    runs = json.loads(result.stdout)
    assert [r["run_id"] for r in runs] == runs_sorted_in_python(
        all_runs(in_grid_store.uri), "rmse", descending=False
    )
    assert {r["run_id"] for r in runs} == {r["run_id"] for r in in_grid_store.records}
    assert all(r["status"] == "FINISHED" for r in runs)
    assert all(r["model_uri"].startswith("models:/m-") for r in runs)


def test_compare_by_mae_ranks_by_mae(in_grid_store: Grid, all_runs) -> None:
    by_rmse = runs_sorted_in_python(all_runs(in_grid_store.uri), "rmse", descending=False)
    by_mae = runs_sorted_in_python(all_runs(in_grid_store.uri), "mae", descending=False)
    assert by_mae != by_rmse  # else this test could not tell --metric was used

    result = invoke("compare", "--metric", "mae", "--format", "json")

    assert result.exit_code == 0, (result.stderr, result.exception)
    assert [r["run_id"] for r in json.loads(result.stdout)] == by_mae


def test_compare_r2_is_descending(in_grid_store: Grid, all_runs) -> None:
    result = invoke("compare", "--metric", "r2", "--format", "json")

    assert result.exit_code == 0, (result.stderr, result.exception)
    runs = json.loads(result.stdout)
    r2 = [r["metrics"]["r2"] for r in runs]
    assert len(r2) == 4
    assert r2 == sorted(r2, reverse=True)
    assert [r["run_id"] for r in runs] == runs_sorted_in_python(
        all_runs(in_grid_store.uri), "r2", descending=True
    )


def test_compare_filter(in_grid_store: Grid) -> None:
    result = invoke("compare", "--filter", "params.alpha = '0.1'", "--format", "json")

    assert result.exit_code == 0, (result.stderr, result.exception)
    runs = json.loads(result.stdout)
    expected = {r["run_id"] for r in in_grid_store.records if r["params"]["alpha"] == 0.1}
    assert len(runs) == 2
    assert {r["run_id"] for r in runs} == expected
    assert {r["params"]["alpha"] for r in runs} == {0.1}  # typed, as train reports it


def test_compare_bad_filter_is_one_error_line(in_grid_store: Grid, one_line_error) -> None:
    result = invoke("compare", "--filter", "params.alpha = ", "--format", "json")
    one_line_error(result, re.compile(r"Invalid clause\(s\) in filter string: .*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--top", "0"], "--top must be at least 1, got 0", id="top-0"),
        pytest.param(
            ["--metric", "r2; drop"],
            "no run has metric 'r2; drop'; metrics found: mae, r2, rmse",
            id="unknown-metric",
        ),
    ],
)
def test_compare_bad_options(
    in_grid_store: Grid, one_line_error, args: list[str], message: str
) -> None:
    one_line_error(invoke("compare", *args, "--format", "json"), message)


def test_compare_empty_experiment_prints_empty_list(isolated_store: str) -> None:
    MlflowClient(tracking_uri=isolated_store).create_experiment("empty")
    result = invoke("compare", "-e", "empty", "--format", "json")

    assert result.exit_code == 0, (result.stderr, result.exception)
    assert json.loads(result.stdout) == []
    assert result.stdout.strip() == "[]"


def test_compare_unknown_experiment_is_named(isolated_store: str, one_line_error) -> None:
    result = invoke("compare", "-e", "nope", "--format", "json")
    one_line_error(result, f"experiment 'nope' not found in {isolated_store}")


def test_compare_experiment_from_env(in_grid_store: Grid, one_line_error) -> None:
    result = invoke("compare", "--format", "json", env={"MLT_EXPERIMENT": "nope"})
    one_line_error(result, f"experiment 'nope' not found in {in_grid_store.uri}")
    result = invoke("compare", "--format", "json", env={"MLT_EXPERIMENT": "mlt"})
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 4


def test_compare_table_shows_the_best_run(in_grid_store: Grid, all_runs) -> None:
    best = runs_sorted_in_python(all_runs(in_grid_store.uri), "rmse", descending=False)[0]
    result = invoke("compare", "--format", "table")

    assert result.exit_code == 0, (result.stderr, result.exception)
    first_row = next(line for line in result.stdout.splitlines() if line.startswith("│"))
    assert best[:8] in first_row and best not in result.stdout  # short ids in tables
    assert "run_id" in result.stdout and "rmse" in result.stdout
    assert "{" not in result.stdout  # a table, not JSON


def test_compare_csv_and_jsonl(in_grid_store: Grid) -> None:
    as_csv = invoke("compare", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == 4
    assert {"run_id", "params.alpha", "metrics.rmse"} <= set(rows[0])

    as_jsonl = invoke("compare", "--format", "jsonl")
    ids = [json.loads(line)["run_id"] for line in as_jsonl.stdout.splitlines()]
    assert ids == [row["run_id"] for row in rows]


def test_compare_tracking_uri_option(in_grid_store: Grid, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    result = invoke("compare", "-t", in_grid_store.uri, "-n", "1", "--format", "json")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert len(json.loads(result.stdout)) == 1


# --- the app itself ----------------------------------------------------------------------------


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"mlt {__version__}\n"


def test_help_lists_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "train" in result.stdout and "compare" in result.stdout
    assert result.stderr == ""


def _command_names() -> list[str]:
    import typer.main

    return sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", [[], *([name] for name in _command_names())], ids=str)
def test_help_names_values_not_python_types(command: list[str]) -> None:
    """Help in a CLI's words: metavars (FLOAT, PATH|URL, NAME), nothing after a flag; never
    Typer's Python annotations."""
    result = invoke(*command, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    for python_type in ("<bool>", "<str>", "<list", "<float>", "<int>", "<path>", "<text>"):
        assert python_type not in result.stdout.lower(), (python_type, result.stdout)


def test_train_help_mentions_grid_options() -> None:
    result = invoke("train", "-h")
    assert result.exit_code == 0
    for option in ("--alpha", "--l1-ratio", "--data", "--tracking-uri", "--experiment"):
        assert option in result.stdout


@pytest.mark.slow
def test_python_dash_m_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlflow_tutorial", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "train" in done.stdout and "compare" in done.stdout


@pytest.mark.slow
def test_importing_the_cli_is_cheap() -> None:
    code = (
        "import json, sys\n"
        "import mlflow_tutorial.cli\n"
        "heavy = ('mlflow', 'sklearn', 'pandas')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_train_failure_after_start_leaves_no_running_run(
    isolated_store: str, monkeypatch: pytest.MonkeyPatch, one_line_error, all_runs
) -> None:
    import mlflow.sklearn

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mlflow.sklearn, "log_model", interrupted)
    result = invoke("train", "--format", "json")

    one_line_error(result, "interrupted", code=130)
    assert [r.info.status for r in all_runs(isolated_store)] == ["KILLED"]


@pytest.mark.slow
def test_sigterm_mid_grid_leaves_no_running_run(isolated_store: str, all_runs) -> None:
    """A real SIGTERM to a real ``mlt train`` once its grid is under way: exit 130, the runs
    done stay FINISHED, the one being trained ends KILLED, and stderr holds the progress lines
    and one ``Error: interrupted``."""
    import os
    import signal

    alphas = ",".join(f"{a / 10:g}" for a in range(1, 21))  # 20 runs: far from done at once
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow_tutorial", "train", "--alpha", alphas, "--no-plots"]
        + ["--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": isolated_store},
    )
    try:
        first = proc.stderr.readline()  # the first run is done: the grid is under way
        proc.send_signal(signal.SIGTERM)
        stdout, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = (first + rest).splitlines()
    assert proc.returncode == 130, lines
    assert (stdout, lines[-1]) == ("", "Error: interrupted"), lines
    progress = re.compile(r"run [0-9a-f]{8} alpha=[0-9.]+ l1_ratio=0.5 rmse=\S+ r2=\S+")
    assert all(progress.fullmatch(line) for line in lines[:-1]), lines
    statuses = sorted(r.info.status for r in all_runs(isolated_store))
    assert "RUNNING" not in statuses and set(statuses) <= {"FINISHED", "KILLED"}, statuses
    assert statuses.count("FINISHED") == len(lines) - 1 >= 1, (statuses, lines)
    assert statuses.count("KILLED") <= 1 and len(statuses) < 20, statuses


@pytest.mark.parametrize("command", [["train"], ["compare"], ["register"], ["models"]])
def test_unreachable_tracking_server_is_one_line_error(
    command: list[str], free_port, one_line_error
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = runner.invoke(app, [*command, "--tracking-uri", uri])
    one_line_error(
        result, re.compile(re.escape(f"cannot reach the tracking server at {uri}: ") + ".*refused")
    )


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["compare"], id="compare"),
        pytest.param(["models"], id="models"),
        pytest.param(["models", "diabetes-elasticnet"], id="models-name"),
        pytest.param(["register"], id="register-best"),
        pytest.param(["register", "--run", "0" * 32], id="register-run"),
    ],
)
def test_read_only_commands_create_no_store(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_line_error
) -> None:
    """In an empty directory, with MLflow's default store (sqlite:///mlflow.db here), a
    command that reads says there is nothing yet, and leaves the directory empty."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    result = invoke(*command)
    one_line_error(result, "no runs yet in sqlite:///mlflow.db; train one first: mlt train")
    assert sorted(p.name for p in empty.iterdir()) == []


def test_params_are_typed_alike_in_train_compare_and_register(isolated_store: str) -> None:
    """One JSON shape: the params MLflow keeps as strings come back with the types train
    reports; times are ISO 8601."""
    from datetime import datetime

    trained = json.loads(invoke("train", "--no-plots", "--format", "json").stdout)
    compared = json.loads(invoke("compare", "--format", "json").stdout)
    result = invoke("register", "--run", trained["run_id"], "--format", "json")
    assert result.exit_code == 0, result.stderr
    registered = json.loads(result.stdout)

    types = {name: type(value) for name, value in trained["params"].items()}
    assert {types[n] for n in ("alpha", "l1_ratio", "test_size")} == {float}
    assert (types["standardize"], types["n_rows"], types["random_state"]) == (bool, int, int)
    for params in (compared[0]["params"], registered["params"]):
        assert {name: type(value) for name, value in params.items()} == types
        assert params == trained["params"]
    assert trained["params"]["alpha"] == 0.5 and trained["params"]["standardize"] is True
    for stamp in (compared[0]["start_time"], registered["created_at"]):
        assert datetime.fromisoformat(stamp).utcoffset() is not None, stamp

"""Own tables through the whole lifecycle: made-up CSVs with text columns, gaps, booleans, ids,
dates, decimal commas, missing targets and text, boolean or 0/1 targets go through
``mlt train``, ``mlt register``, ``mlt serve`` (answers compared byte for byte with
``mlflow models serve`` on the same raw rows) and ``mlt predict``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from mlflow_tutorial.cli import app
from tables import mixed_csv
from test_serving import BIN, start, stop, wait_ready

runner = CliRunner()
COLUMNS = ["size", "weight", "city", "colour", "indoor"]


@dataclass(frozen=True)
class Case:
    id: str
    csv: dict  # keywords of mixed_csv
    train: list[str]  # extra mlt train arguments
    name: str  # registered model
    task: str
    labels: set | None = None  # the class labels a classifier answers with


CASES = [
    Case(
        "binary-text-gaps-booleans-id-date",
        {"target": "binary", "extra": {"id": "id", "day": "date"}},
        ["--drop", "id", "--drop", "day"],
        "pets-logistic",
        "classification",
        {"yes", "no"},
    ),
    Case(
        "multiclass",
        {"target": "multiclass"},
        [],
        "pets-logistic",
        "classification",
        {"Adelie", "Gentoo", "Chinstrap"},
    ),
    Case(
        "boolean-target",
        {"target": "boolean"},
        [],
        "pets-logistic",
        "classification",
        {"True", "False"},
    ),
    Case(
        "integer-target-as-classes",
        {"target": "integer", "gaps": False, "booleans": False},
        ["--task", "classification"],
        "pets-logistic",
        "classification",
        {0, 1},
    ),
    Case(
        "semicolon-decimal-comma-regression",
        {"target": "regression", "delimiter": ";", "decimal_comma": True},
        [],
        "pets-elasticnet",
        "regression",
    ),
]

# Raw rows as a client sends them: text values, a gap (null), an unknown category, an unseen
# boolean spelling, numbers as strings.
ROWS = [
    [7.2, 55.0, "Lisbon", "red", "True"],
    [2.1, None, "Porto", None, "False"],
    [5.0, 48.5, "Atlantis", "purple", None],
    [None, None, None, None, None],
    ["6.5", 51, "Faro", "green", "False"],
]


def _bodies(columns: list[str], rows: list[list]) -> dict[str, tuple[bytes, str]]:
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    csv_text = ",".join(columns) + "\n"
    csv_text += "".join(",".join("" if v is None else str(v) for v in row) + "\n" for row in rows)
    return {
        "split": (
            json.dumps({"dataframe_split": {"columns": columns, "data": rows}}).encode(),
            "application/json",
        ),
        "records": (json.dumps({"dataframe_records": records}).encode(), "application/json"),
        "one-gap-row": (
            json.dumps({"dataframe_split": {"columns": columns, "data": [rows[3]]}}).encode(),
            "application/json",
        ),
        "csv": (csv_text.encode(), "text/csv"),
    }


def _post(url: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _mlt(*args: str):
    return runner.invoke(app, list(args))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_own_table_through_the_lifecycle(case: Case, isolated_store, tmp_path, free_port):
    csv = mixed_csv(tmp_path / "pets.csv", rows=120, **case.csv)

    # Train: what was done to the columns is said once, on stderr.
    trained = _mlt("train", "--data", str(csv), "--target", "y", "-f", "json", *case.train)
    assert trained.exit_code == 0, trained.stderr
    result = json.loads(trained.stdout)
    assert result["params"]["task"] == case.task and result["tags"]["mlt.task"] == case.task
    if case.csv.get("gaps", True):
        assert result["params"]["rows_without_target"] == 2
        assert trained.stderr.count("left out 2 rows whose target 'y' is missing") == 1
        assert "gaps imputed: size (" in trained.stderr
    if case.csv.get("decimal_comma"):
        assert "decimal comma read as a decimal point in: size, weight, y" in trained.stderr
    expected_metrics = (
        {"accuracy", "f1_macro", "log_loss", "roc_auc"}
        if case.task == "classification"
        else {"rmse", "mae", "r2"}
    )
    assert set(result["metrics"]) == expected_metrics

    # Register: the default name says the kind of model.
    registered = _mlt("register", "-f", "json")
    assert registered.exit_code == 0, registered.stderr
    version = json.loads(registered.stdout)
    assert version["name"] == case.name and version["run_id"] == result["run_id"]
    model = f"models:/{case.name}@champion"

    # mlt predict on raw rows with gaps, read as a CSV file.
    columns = [c for c in COLUMNS if case.csv.get("booleans", True) or c != "indoor"]
    keep = [i for i, c in enumerate(COLUMNS) if c in columns]
    rows = [[row[i] for i in keep] for row in ROWS]
    rows_csv = tmp_path / "rows.csv"
    rows_csv.write_text(
        ",".join(columns)
        + "\n"
        + "".join(",".join("" if v is None else str(v) for v in row) + "\n" for row in rows)
    )
    predicted = _mlt("predict", "--model", model, "--input", str(rows_csv), "-f", "json")
    assert predicted.exit_code == 0, predicted.stderr
    batch = [r["prediction"] for r in json.loads(predicted.stdout)]
    assert len(batch) == len(ROWS)
    if case.labels is not None:
        assert set(batch) <= case.labels
    else:
        assert all(isinstance(v, float) for v in batch)

    # mlt serve and mlflow models serve, side by side, on the same raw rows.
    store = os.environ["MLFLOW_TRACKING_URI"]
    ours_port, theirs_port = free_port(), free_port()
    ours = start(
        [sys.executable, "-m", "mlflow_tutorial", "serve", "-m", model, "--port", str(ours_port)],
        store,
        tmp_path / "ours.log",
    )
    theirs = start(
        [
            os.path.join(BIN, "mlflow"),
            "models",
            "serve",
            "-m",
            model,
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(theirs_port),
        ],
        store,
        tmp_path / "theirs.log",
    )
    ours_url, theirs_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{theirs_port}"
    try:
        wait_ready(ours, ours_url, timeout=120)
        wait_ready(theirs, theirs_url, timeout=180)
        for kind, (body, content_type) in _bodies(columns, rows).items():
            status, answer = _post(ours_url, body, content_type)
            assert (status, answer) == _post(theirs_url, body, content_type), kind
            assert status == 200, (kind, answer)
            predictions = json.loads(answer)["predictions"]
            if kind in ("split", "records", "csv"):
                if case.labels is not None:
                    assert predictions == batch, kind  # class labels, as mlt predict gives
                else:
                    assert predictions == pytest.approx(batch, rel=1e-12), kind
        # The start-up hint's curl sends raw rows and gets an answer.
        hint = (tmp_path / "ours.log").read_text()
        curl = next(line for line in hint.splitlines() if line.startswith("curl "))
        body = curl.split(" -d '", 1)[1].rstrip("'")
        sent = [v for row in json.loads(body)["dataframe_split"]["data"] for v in row]
        assert (None in sent) == case.csv.get("gaps", True)  # a gap where the data has gaps
        status, answer = _post(ours_url, body.encode(), "application/json")
        assert status == 200, answer
    finally:
        stop(ours)
        stop(theirs)


def test_cases_cover_what_the_tables_need() -> None:
    covered = {c.csv.get("target") for c in CASES}
    assert covered == {"binary", "multiclass", "boolean", "integer", "regression"}
    assert any(c.csv.get("decimal_comma") for c in CASES)
    assert any("id" in c.csv.get("extra", {}) for c in CASES)


def test_classifier_runs_rank_by_their_own_metrics(tmp_path, isolated_store):
    """Default metric per task (rmse; log_loss for a classifier), directions (accuracy
    descending), and runs of different tasks never compete."""
    csv = mixed_csv(tmp_path / "pets.csv", rows=120, target="binary")
    grid = _mlt(
        "train", "--data", str(csv), "--target", "y", "--alpha", "0.001,0.1,1", "--no-plots"
    )
    assert grid.exit_code == 0, grid.stderr
    regression = mixed_csv(tmp_path / "sizes.csv", rows=120, target="regression")
    assert _mlt("train", "--data", str(regression), "--target", "y", "--no-plots").exit_code == 0

    # The newest run is a regressor: rmse, and the classifiers have no say.
    compared = json.loads(_mlt("compare", "-f", "json").stdout)
    assert compared[0]["params"]["task"] == "regression"
    assert all("rmse" not in r["metrics"] for r in compared[1:])

    by_loss = json.loads(_mlt("compare", "--metric", "log_loss", "-f", "json").stdout)
    losses = [r["metrics"]["log_loss"] for r in by_loss if "log_loss" in r["metrics"]]
    assert len(losses) == 3 and losses == sorted(losses)
    by_accuracy = json.loads(_mlt("compare", "--metric", "accuracy", "-f", "json").stdout)
    accuracies = [r["metrics"]["accuracy"] for r in by_accuracy if "accuracy" in r["metrics"]]
    assert accuracies == sorted(accuracies, reverse=True)

    best = _mlt("register", "--dataset", "pets", "-f", "json")
    assert best.exit_code == 0, best.stderr
    version = json.loads(best.stdout)
    assert version["name"] == "pets-logistic"
    assert version["metrics"]["log_loss"] == losses[0]
    again = _mlt("register", "--dataset", "pets", "-f", "table")
    assert "Already registered; pets-logistic version 1 (best by log_loss among runs on pets)" in (
        again.stderr
    )

    plot = _mlt(
        "compare",
        "--metric",
        "roc_auc",
        "--filter",
        "tags.`mlt.task` = 'classification'",
        "--plot",
        str(tmp_path / "sweep.png"),
    )
    assert plot.exit_code == 0, plot.stderr
    assert "Wrote a line of roc_auc over alpha (3 runs)" in plot.stderr

"""Columns as they come (mlflow_tutorial.columns): what each kind of column becomes, the
one-line errors for columns that cannot be features, and what a run records about them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mlflow_tutorial import data
from mlflow_tutorial.cli import app
from mlflow_tutorial.columns import parse_drop
from mlflow_tutorial.config import Tracking
from mlflow_tutorial.errors import DataError
from mlflow_tutorial.tracking.training import (
    TrainOptions,
    build_pipeline,
    logistic_c,
    train,
)
from tables import mixed_csv, mixed_rows

runner = CliRunner()


def _write(path: Path, header: list[str], rows: list[list[object]], sep: str = ",") -> Path:
    lines = [sep.join(header)] + [sep.join("" if v is None else str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _numbers(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"{v:.3f}" for v in rng.normal(size=n)]


def _table(tmp_path: Path, **columns: list[object]) -> Path:
    n = len(next(iter(columns.values())))
    header = ["x", *columns]
    rows = [[x, *(columns[c][i] for c in columns)] for i, x in enumerate(_numbers(n))]
    return _write(tmp_path / "t.csv", header, rows)


# ---------------------------------------------------------------- bad input: one line, no run


def _case(name: str, tmp_path: Path) -> tuple[Path, list[str]]:
    """The table (written now) and the extra arguments of one bad case."""
    n = 40
    yes_no = ["yes", "no"] * (n // 2)
    cases = {
        "one-class": lambda: (_table(tmp_path, y=["yes"] * n), []),
        "class-with-one-row": lambda: (_table(tmp_path, y=[*yes_no[:-1], "rare"]), []),
        "empty-column": lambda: (_table(tmp_path, blank=[None] * n, y=yes_no), []),
        "drop-unknown": lambda: (_table(tmp_path, y=yes_no), ["--drop", "nope"]),
        "drop-target": lambda: (_table(tmp_path, y=yes_no), ["--drop", "x,y"]),
        "text-target-regression": lambda: (_table(tmp_path, y=yes_no), ["--task", "regression"]),
        "hundreds-of-classes": lambda: (
            _write(
                tmp_path / "t.csv",
                ["x", "y"],
                [[v, f"class-{i // 2}"] for i, v in enumerate(_numbers(400))],
            ),
            [],
        ),
        "id-column": lambda: (_table(tmp_path, name=[f"n{i}" for i in range(n)], y=yes_no), []),
        "date-column": lambda: (
            _table(tmp_path, day=[f"2024-03-{1 + i % 28:02d}" for i in range(n)], y=yes_no),
            [],
        ),
        "numbers-with-a-word": lambda: (
            _table(tmp_path, z=[*(str(i) for i in range(n - 1)), "?"], y=yes_no),
            [],
        ),
        "too-few-rows-for-the-classes": lambda: (
            _write(
                tmp_path / "t.csv",
                ["x", "y"],
                [[v, f"c{i % 10}"] for i, v in enumerate(_numbers(20))],
            ),
            [],
        ),
        "fractional-classes": lambda: (
            _table(tmp_path, y=[i / 2 for i in range(n)]),
            ["--task", "classification"],
        ),
    }
    return cases[name]()


BAD = {
    "one-class": "target column 'y' has one class ('yes') in t: nothing to learn",
    "class-with-one-row": "class 'rare' of target 'y' has 1 row; each class needs at least 2 "
    "rows for a stratified split",
    "empty-column": "column 'blank' is empty in every row of t; leave it out with --drop blank",
    "drop-unknown": "--drop nope: no column 'nope' in t; columns: x, y",
    "drop-target": "--drop y: 'y' is the target column",
    "text-target-regression": "target column 'y' is text: regression needs a numeric target "
    "(leave out --task regression to classify)",
    "hundreds-of-classes": "target column 'y' has 200 classes (at most 100); is it an id, or a "
    "number to predict with --task regression?",
    "id-column": "column 'name' of t looks like an id or a name (40 different values in 40 "
    "rows); leave it out with --drop name",
    "date-column": "column 'day' of t holds dates (e.g. '2024-03-01'), which mlt does not turn "
    "into features; leave it out with --drop day",
    "numbers-with-a-word": "column 'z' of t is numbers written as text, but 1 value is not a "
    "number (e.g. '?'); write gaps as empty cells or NA, or leave it out with --drop z",
    "too-few-rows-for-the-classes": "too few rows for a stratified split of 10 classes: test "
    "size 0.25 leaves 15 rows for training and 5 for testing (each side needs a row of every "
    "class)",
    "fractional-classes": "target column 'y' has numbers that are not whole: a classification "
    "target must be text, boolean or whole numbers",
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_table_is_one_line_and_leaves_no_run(
    case, tmp_path, one_line_error, all_runs, isolated_store
):
    path, extra = _case(case, tmp_path)
    result = runner.invoke(app, ["train", "--data", str(path), "--target", "y", *extra])
    one_line_error(result, BAD[case])
    assert all_runs() == []


@pytest.mark.parametrize(
    "args, param",
    [
        (["--task", "guess"], "--task"),
        (["--decimal", ";"], "--decimal"),
    ],
)
def test_bad_options_are_usage_errors(args, param, tmp_path):
    path = _table(tmp_path, y=["a", "b"] * 20)
    result = runner.invoke(app, ["train", "--data", str(path), *args])
    assert result.exit_code == 2 and param in result.stderr


def test_drop_task_decimal_need_data():
    result = runner.invoke(app, ["train", "--drop", "age"])
    assert result.exit_code == 2 and "only with --data" in result.stderr


def test_decimal_comma_in_a_comma_separated_file_is_refused(tmp_path, one_line_error):
    path = _table(tmp_path, y=["a", "b"] * 20)
    result = runner.invoke(app, ["train", "--data", str(path), "--decimal", ","])
    one_line_error(
        result,
        f"--decimal , is also the delimiter of {path}; "
        "a decimal comma needs ; or tab between fields",
    )


# ---------------------------------------------------------------- what columns become


def test_parse_drop_repeats_and_commas():
    assert parse_drop(["a,b", " c ", "a", ""]) == ["a", "b", "c"]


def test_columns_as_they_come(tmp_path):
    path = mixed_csv(tmp_path / "pets.csv", target="multiclass", extra={"id": "id"})
    ds = data.load_dataset(path=str(path), target="y", drop=["id"])
    report = ds.report
    assert report.numeric == ["size", "weight"]
    assert report.categorical == ["city", "colour", "indoor"] and report.boolean == ["indoor"]
    assert report.rows_without_target == 2 and ds.n_rows == 118
    assert report.dropped == ["id"] and "id" not in ds.frame.columns
    assert report.classes == ["Adelie", "Chinstrap", "Gentoo"]
    # What the model is fed: floats with NaN; object columns of str with NaN.
    assert (
        ds.frame["size"].dtype == "float64" and ds.frame["size"].isna().sum() == report.gaps["size"]
    )
    for column in report.categorical:
        values = ds.frame[column]
        assert values.dtype == object
        assert {type(v) for v in values.dropna()} == {str}
    assert set(ds.frame["indoor"].dropna()) == {"True", "False"}


def test_decimal_comma_detected_and_forced(tmp_path):
    path = mixed_csv(tmp_path / "eu.csv", target="regression", delimiter=";", decimal_comma=True)
    detected = data.load_dataset(path=str(path), target="y")
    assert detected.report.decimal_comma == ["size", "weight", "y"]
    assert detected.frame["size"].dtype == "float64"
    forced = data.load_dataset(path=str(path), target="y", decimal=",")
    assert forced.report.decimal_comma == []  # read as numbers by the parser itself
    np.testing.assert_array_equal(detected.frame["size"], forced.frame["size"])
    header, rows = mixed_rows(target="regression")
    assert detected.frame["size"].iloc[0] == float(rows[0][0])


def test_comma_thousands_in_a_comma_file_stay_ambiguous(tmp_path):
    """1,234 in a comma-separated file (quoted) could be 1234: never read as 1.234."""
    rows = [[f'"{i},{100 + i:03d}"', v, "a" if i % 2 else "b"] for i, v in enumerate(_numbers(40))]
    path = _write(tmp_path / "t.csv", ["z", "x", "y"], rows)
    with pytest.raises(DataError, match="'z' of t holds numbers with a comma"):
        data.load_dataset(path=str(path), target="y")


def test_grouped_categories_are_the_rare_ones_gaps_included():
    import pandas as pd

    from mlflow_tutorial.columns import grouped_categories

    X = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 4 + [np.nan] * 2, "d": ["x"] * 11})
    assert grouped_categories(X, ["c", "d"]) == {"c": ["b", "missing"]}


def test_integer_target_is_regression_unless_told(tmp_path):
    path = mixed_csv(tmp_path / "t.csv", target="integer", gaps=False)
    assert data.load_dataset(path=str(path), target="y").task == "regression"
    ds = data.load_dataset(path=str(path), target="y", task="classification")
    assert ds.task == "classification" and ds.report.classes == [0, 1]
    assert ds.y.dtype == "int64"


def test_split_is_stratified(tmp_path):
    path = mixed_csv(tmp_path / "t.csv", target="multiclass", rows=200)
    ds = data.load_dataset(path=str(path), target="y")
    parts = data.split(ds, 0.25, 42)
    whole = ds.y.value_counts(normalize=True)
    test = parts.y_test.value_counts(normalize=True)
    assert set(test.index) == set(whole.index)
    assert (abs(test - whole) < 0.03).all()


# ---------------------------------------------------------------- the pipeline and the run


def test_logistic_c_makes_alpha_mean_the_same():
    assert logistic_c(0.5, 200) == pytest.approx(0.01)
    assert logistic_c(0.0, 200) == float("inf")


def test_pipeline_shapes(tmp_path):
    """The Pipeline contract the serving fast path reads (see README, "Columns")."""
    path = mixed_csv(tmp_path / "pets.csv", target="binary")
    ds = data.load_dataset(path=str(path), target="y")
    pipe = build_pipeline(0.1, 0.5, True, 42, ds.report, 100)
    assert [name for name, _ in pipe.steps] == ["columns", "model"]
    columns = pipe.named_steps["columns"]
    assert [(n, c) for n, _, c in columns.transformers] == [
        ("numeric", ["size", "weight"]),
        ("categorical", ["city", "colour", "indoor"]),
    ]
    numeric = columns.transformers[0][1]
    assert [n for n, _ in numeric.steps] == ["impute", "scale"]
    categorical = columns.transformers[1][1]
    assert [n for n, _ in categorical.steps] == ["impute", "impute_none", "onehot"]
    model = pipe.named_steps["model"]
    assert type(model).__name__ == "LogisticRegression"
    assert (model.C, model.l1_ratio, model.solver) == (pytest.approx(0.1), 0.5, "saga")
    raw = build_pipeline(0.1, 0.5, False, 42, ds.report, 100)
    assert [n for n, _ in raw.named_steps["columns"].transformers[0][1].steps] == ["impute"]
    # The tutorial's numbers: the pipeline it always had.
    plain = build_pipeline(0.1, 0.5, True, 42, data.load_dataset().report)
    assert [n for n, _ in plain.steps] == ["scaler", "elasticnet"]


def test_gap_sent_as_none_or_nan_is_the_same_gap(tmp_path):
    """MLflow's server hands a string column of nulls to the model as None, one with some
    text as NaN: both are the "missing" category."""
    import pandas as pd

    path = mixed_csv(tmp_path / "pets.csv", target="binary")
    ds = data.load_dataset(path=str(path), target="y")
    pipe = build_pipeline(0.01, 0.5, True, 42, ds.report, len(ds.frame)).fit(ds.X, ds.y)
    with_nan = pd.DataFrame([[5.0, 50.0, np.nan, "red", np.nan]], columns=ds.features, dtype=object)
    with_none = pd.DataFrame([[5.0, 50.0, None, "red", None]], columns=ds.features, dtype=object)
    np.testing.assert_array_equal(pipe.predict_proba(with_nan), pipe.predict_proba(with_none))


def test_run_records_columns_signature_and_example(tmp_path, isolated_store):
    import mlflow

    path = mixed_csv(tmp_path / "pets.csv", target="binary", extra={"id": "id"})
    result = train(
        0.1,
        0.5,
        TrainOptions(data=str(path), target="y", drop=("id",), plots=False),
        Tracking.resolve(),
    )
    assert result.params["task"] == "classification" and result.params["dropped"] == "id"
    client = mlflow.MlflowClient()
    local = client.download_artifacts(result.run_id, "columns.json", str(tmp_path))
    recorded = json.loads(Path(local).read_text())
    assert recorded["categorical"] == ["city", "colour", "indoor"]
    assert recorded["rows_without_target"] == 2 and recorded["dropped"] == ["id"]
    # Rare cities are grouped (those in the training rows), nothing else is.
    assert set(recorded["grouped"]) == {"city"}
    assert set(recorded["grouped"]["city"]) <= {"Braga", "Coimbra"}
    info = mlflow.models.get_model_info(result.model_uri)
    inputs = {c.name: (str(c.type), c.required) for c in info.signature.inputs.inputs}
    assert inputs == {
        "size": ("DataType.double", False),
        "weight": ("DataType.double", False),
        "city": ("DataType.string", False),
        "colour": ("DataType.string", False),
        "indoor": ("DataType.string", False),
    }
    model = mlflow.pyfunc.load_model(result.model_uri)
    example = model.input_example
    assert list(example.columns) == list(inputs) and example.isna().to_numpy().any()
    assert set(model.predict(example)) <= {"yes", "no"}


def test_the_tutorial_run_records_what_it_always_did(tmp_path, isolated_store):
    """Numbers without gaps: the same Pipeline, params, tags and artifacts as before tables."""
    import mlflow

    result = train(0.5, 0.5, TrainOptions(plots=False), Tracking.resolve())
    assert list(result.params) == [
        "alpha",
        "l1_ratio",
        "test_size",
        "random_state",
        "standardize",
        "dataset",
        "target",
        "n_rows",
        "n_features",
    ]
    assert set(result.tags) == {
        "mlt.version",
        "mlt.dataset",
        "mlt.model_uri",
        "mlflow.note.content",
    }
    assert "task" not in result.to_dict()
    artifacts = [a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id)]
    assert "columns.json" not in artifacts
    model = mlflow.sklearn.load_model(result.model_uri)
    assert [name for name, _ in model.steps] == ["scaler", "elasticnet"]

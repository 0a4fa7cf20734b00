"""mlt predict --spark on a real local[2] Spark session: the same predictions as mlt predict.

Spark needs Java 17+. The machines this project is tested on have it; without it these tests
fail (not skip) with the one-line message that says what to install. One session serves the
whole module (starting one costs seconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlflow_tutorial.cli import app
from mlflow_tutorial.cli.models import spark_master_default
from mlflow_tutorial.errors import MissingDependencyError

runner = CliRunner()
# slow; and one worker runs the whole module, so its server (and database) is set up once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_spark")]


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from mlflow_tutorial.models.spark import spark_session

    try:
        with spark_session("local[2]") as session:
            yield session
    except MissingDependencyError as exc:
        pytest.fail(f"the Spark tests need Spark and Java: {exc.message}")


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 2_003  # not a multiple of a batch or a partition
    return pd.DataFrame(
        {"x1": rng.normal(size=n).round(6), "x2": rng.uniform(0, 10, size=n).round(4)}
    )


def expected(model: str, uri: str, source: Path) -> np.ndarray:
    out = runner.invoke(app, ["predict", "-m", model, "-t", uri, "-i", str(source), "-f", "csv"])
    assert out.exit_code == 0, out.stderr
    from io import StringIO

    return pd.read_csv(StringIO(out.stdout), float_precision="round_trip")["prediction"].to_numpy()


def read_parts(folder: Path, kind: str) -> pd.DataFrame:
    parts = sorted(folder.glob("part-*"))
    assert parts, list(folder.iterdir())
    if kind == "parquet":
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    if kind == "jsonl":
        return pd.concat(
            [pd.read_json(p, lines=True, precise_float=True) for p in parts], ignore_index=True
        )
    return pd.concat(
        [pd.read_csv(p, float_precision="round_trip") for p in parts], ignore_index=True
    )


@pytest.mark.parametrize(
    ("source_kind", "output_kind"),
    [("csv", "csv"), ("parquet", "parquet"), ("csv-folder", "jsonl")],
)
def test_spark_predictions_equal_mlt_predict(
    spark, model_uri, rows: pd.DataFrame, tmp_path: Path, source_kind: str, output_kind: str
) -> None:
    uri, model = model_uri
    csv = tmp_path / "rows.csv"
    rows.to_csv(csv, index=False)
    if source_kind == "parquet":
        source = tmp_path / "rows.parquet"
        rows.to_parquet(source)
    elif source_kind == "csv-folder":
        source = tmp_path / "in"
        source.mkdir()
        rows.iloc[:1000].to_csv(source / "a.csv", index=False)
        rows.iloc[1000:].to_csv(source / "b.csv", index=False)
    else:
        source = csv
    out = tmp_path / "scored"
    args = ["predict", "--spark", "local[2]", "-m", model, "-t", uri, "-i", str(source)]
    result = runner.invoke(app, [*args, "-o", str(out), "-f", output_kind, "--with-inputs"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("Wrote ")
    scored = read_parts(out, output_kind)
    assert list(scored.columns) == ["x1", "x2", "prediction"]
    assert scored["prediction"].dtype == np.float64
    want = rows.assign(prediction=expected(model, uri, csv))
    if source_kind == "csv-folder":
        # Spark packs a folder's files largest first: rows keep their order within a file.
        scored = scored.sort_values(["x1", "x2"], ignore_index=True)
        want = want.sort_values(["x1", "x2"], ignore_index=True)
    np.testing.assert_array_equal(scored[["x1", "x2"]].to_numpy(), want[["x1", "x2"]].to_numpy())
    np.testing.assert_array_equal(scored["prediction"].to_numpy(), want["prediction"].to_numpy())


def test_spark_bad_input(spark, model_uri, tmp_path: Path, one_line_error) -> None:
    uri, model = model_uri
    source = tmp_path / "rows.csv"
    pd.DataFrame({"x1": [1.0], "other": [2.0]}).to_csv(source, index=False)
    args = ["predict", "--spark", "local[2]", "-m", model, "-t", uri, "-i", str(source)]
    out = tmp_path / "scored"
    one_line_error(
        runner.invoke(app, [*args, "-o", str(out)]),
        "input is missing columns the model needs: x2",
    )
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db", "rows.csv"]  # nothing more
    out.mkdir()
    one_line_error(
        runner.invoke(app, [*args, "-o", str(out)]),
        f"{out} exists already: --spark writes a new directory",
    )


def test_spark_without_pyspark(model_uri, tmp_path: Path, monkeypatch, one_line_error) -> None:
    import sys

    uri, model = model_uri
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark fails
    source = tmp_path / "rows.csv"
    source.write_text("x1,x2\n1,2\n")
    result = runner.invoke(
        app,
        ["predict", "--spark", "local[2]", "-m", model, "-t", uri, "-i", str(source), "-o", "o"],
    )
    one_line_error(result, "--spark needs PySpark: pip install 'mlflow-tutorial[spark]'")


def test_spark_without_java(tmp_path: Path, monkeypatch) -> None:
    from mlflow_tutorial.models.spark import java_command

    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojava"))
    with pytest.raises(MissingDependencyError) as caught:
        java_command()
    assert caught.value.message == (
        f"Spark needs Java (JAVA_HOME={tmp_path / 'nojava'} has no bin/java): install Java 17 "
        "or newer (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    )
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError, match=r"^Spark needs Java \(no java on PATH\)"):
        java_command()


@pytest.mark.parametrize(
    ("args", "expected_args"),
    [
        (["predict", "--spark"], ["predict", "--spark", "local[*]"]),
        (["predict", "--spark", "-i", "x"], ["predict", "--spark", "local[*]", "-i", "x"]),
        (["predict", "--spark", "local[2]"], ["predict", "--spark", "local[2]"]),
        (["train", "--run-name", "x"], ["train", "--run-name", "x"]),
    ],
)
def test_spark_master_defaults_to_local(args: list[str], expected_args: list[str]) -> None:
    assert spark_master_default(args) == expected_args


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-i", "x.csv", "-o", "o", "-f", "json"], "--spark writes csv, jsonl or parquet"),
        (["-i", "-", "-o", "o"], "--spark reads files or directories, not stdin"),
        (["-i", "x.csv"], "--spark writes a directory of part files"),
    ],
)
def test_spark_usage_errors(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["predict", "--spark", "local[2]", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_parquet_needs_spark() -> None:
    result = runner.invoke(app, ["predict", "-i", "x.csv", "-f", "parquet"])
    assert result.exit_code == 2
    assert "parquet is written by --spark only" in " ".join(result.stderr.split())

"""A catalogue of bad input: each case is one line `Error: ...` on stderr, exit 1 (2 for
usage errors), nothing on stdout, and nothing half-written in the store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from mlflow_tutorial.cli import app

runner = CliRunner()


def no_runs(uri: str) -> bool:
    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    return not ids or not client.search_runs(ids)


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        pytest.param(
            b"a, a,b,y\n1,2,3,4\n5,6,7,8\n",
            [],
            "duplicate column names in {path}: a",
            id="duplicate-after-strip",
        ),
        pytest.param(
            b"a,a,b,y\n1,2,3,4\n5,6,7,8\n", [], "duplicate column names in {path}: a", id="dup"
        ),
        pytest.param(
            b"\x7fELF\x02\x01\x00\x00binary", [], "{path} is not a text CSV file", id="binary"
        ),
        pytest.param(
            b"x,c\n" + b"".join(b"%d,5\n" % i for i in range(10)),
            ["--target", "c"],
            "target column 'c' is constant in bad: nothing to learn",
            id="constant-target",
        ),
    ],
)
def test_train_rejects_bad_csv(
    isolated_store, tmp_path: Path, one_line_error, content, args, message
):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = runner.invoke(app, ["train", "--data", str(path), *args])
    one_line_error(result, message.format(path=path))
    assert no_runs(isolated_store)


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_out_of_range_seed_is_a_usage_error(isolated_store, seed):
    result = runner.invoke(app, ["train", "--random-state", seed])
    assert result.exit_code == 2 and result.stdout == ""
    assert no_runs(isolated_store)


def test_bad_store_uris(tmp_path: Path, one_line_error):
    (tmp_path / "adir").mkdir()
    (tmp_path / "notdb.db").write_text("hello\n")
    cases = {
        f"sqlite:///{tmp_path / 'adir'}": "Is a directory",
        f"sqlite:///{tmp_path / 'notdb.db'}": "file is not a database",
    }
    for uri, reason in cases.items():
        result = runner.invoke(app, ["models", "-t", uri])
        one_line_error(result, f"cannot open the tracking store {uri}: {reason}")
    one_line_error(  # MLflow's own words after mlt's
        runner.invoke(app, ["models", "-t", "bogus://x"]),
        re.compile("cannot open the tracking store bogus://x: .*unsupported URI.*"),
    )


@pytest.mark.parametrize(
    ("alias", "fragment"),
    [
        pytest.param("v1", "reserved", id="version-like"),
        pytest.param("latest", "reserved", id="latest"),
        pytest.param("", "empty", id="empty"),
    ],
)
def test_bad_alias_registers_nothing(write_csv, one_line_error, alias, fragment):
    trained = runner.invoke(app, ["train", "--data", str(write_csv()), "-f", "json"])
    assert trained.exit_code == 0, trained.stderr
    result = runner.invoke(app, ["register", "--name", "demo", "--alias", alias])
    one_line_error(result, re.compile(f".*{fragment}.*"))  # MLflow's own rules and words
    assert MlflowClient().search_registered_models() == []


def test_unknown_metric(write_csv, one_line_error):
    runner.invoke(app, ["train", "--data", str(write_csv()), "-f", "json"])
    one_line_error(
        runner.invoke(app, ["compare", "--metric", "nosuch"]),
        "no run has metric 'nosuch'; metrics found: mae, r2, rmse",
    )


def test_names_with_brackets_print_as_they_are(write_csv):
    result = runner.invoke(
        app, ["train", "--data", str(write_csv()), "-e", "demo[/]", "-f", "table"]
    )
    assert result.exit_code == 0, result.stderr
    assert "demo[/]" in result.stdout + result.stderr


@pytest.mark.parametrize("port", ["0", "70000"])
def test_serve_bad_port(port, one_line_error):
    one_line_error(
        runner.invoke(app, ["serve", "--port", port]),
        f"port must be between 1 and 65535, got {port}",
    )


NO_IMPUTING = "; fill or drop them first (mlt does not impute)"


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        pytest.param(
            "x1,x2\n1,\n2,3\n", "missing values in input: x2 (1)" + NO_IMPUTING, id="csv-gap"
        ),
        pytest.param(
            '{"x1": null, "x2": 1}\n{"x1": 2, "x2": 3}\n',
            "missing values in input: x1 (1)" + NO_IMPUTING,
            id="jsonl-null",
        ),
        pytest.param(
            '{"x1": "abc", "x2": 1}\n',
            "input columns must be numeric; not numeric: x1",
            id="text-value",
        ),
        pytest.param("", "no rows in standard input", id="empty"),
    ],
)
def test_predict_bad_rows(model_uri, one_line_error, stdin, message):
    tracking, uri = model_uri
    result = runner.invoke(app, ["predict", "-m", uri, "-t", tracking], input=stdin)
    one_line_error(result, message)


def test_predict_non_utf8_file_and_unwritable_output(model_uri, one_line_error, tmp_path: Path):
    tracking, uri = model_uri
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"x1,x2\n1,2\n" + b"\xff\xfe\n")
    one_line_error(
        runner.invoke(app, ["predict", "-m", uri, "-t", tracking, "-i", str(latin)]),
        f"cannot read {latin}: not UTF-8 text",
    )
    nowhere = tmp_path / "no" / "such" / "x.csv"
    result = runner.invoke(
        app, ["predict", "-m", uri, "-t", tracking, "-o", str(nowhere)], input="x1,x2\n1,2\n"
    )
    one_line_error(result, f"cannot write {nowhere}: No such file or directory")


def test_predict_with_inputs_refuses_to_overwrite_a_prediction_column(model_uri, one_line_error):
    tracking, uri = model_uri
    result = runner.invoke(
        app,
        ["predict", "-m", uri, "-t", tracking, "--with-inputs"],
        input="x1,x2,prediction\n1,2,9\n",
    )
    one_line_error(result, "the input already has a column named 'prediction'")
    plain = runner.invoke(
        app, ["predict", "-m", uri, "-t", tracking, "-f", "json"], input="x1,x2,prediction\n1,2,9\n"
    )
    assert plain.exit_code == 0 and len(json.loads(plain.stdout)) == 1

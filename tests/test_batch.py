"""`mlt predict` streams: chunk by chunk it writes exactly what whole-frame prediction writes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlflow_tutorial.cli import app
from mlflow_tutorial.models import batch
from mlflow_tutorial.output import Format, emit

runner = CliRunner()


def _rows(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "id": range(n),
            "x1": rng.normal(size=n) * 1e3,
            "x2": rng.normal(size=n) / 7,
            "note": [f'say "{i}", then stop' for i in range(n)],
        }
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("rows")
    rows = _rows()
    paths = {"csv": folder / "rows.csv", "jsonl": folder / "rows.jsonl"}
    rows.to_csv(paths["csv"], index=False)
    rows.to_json(paths["jsonl"], orient="records", lines=True)
    return paths


def _whole_frame_output(model_uri, path: Path, fmt: Format, with_inputs: bool) -> str:
    """What predicting the whole file at once and writing all records gives."""
    tracking, uri = model_uri
    from mlflow_tutorial.config import Tracking

    frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_json(path, lines=True)
    result = batch.predict(uri, frame, Tracking(tracking, "p"), with_inputs)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        emit(result.to_dict(orient="records"), fmt, [])
    return buffer.getvalue()


def _predict(model_uri, *args: str, **kwargs):
    tracking, uri = model_uri
    return runner.invoke(app, ["predict", "-m", uri, "-t", tracking, *args], **kwargs)


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize("fmt", list(Format)[1:])  # csv, json, jsonl
@pytest.mark.parametrize("with_inputs", [False, True])
def test_chunks_write_what_the_whole_frame_writes(model_uri, inputs, kind, fmt, with_inputs):
    expected = _whole_frame_output(model_uri, inputs[kind], fmt, with_inputs)
    extra = ["--with-inputs"] if with_inputs else []
    # Chunks of a multiple of 8 rows: BLAS kernels (here) sum rows in blocks of 4, and a row's
    # last digit can depend on where its block starts.
    for chunk_rows in ("8", "16", "24", "30", str(batch.DEFAULT_CHUNK_ROWS)):
        args = ["-i", str(inputs[kind]), "-f", fmt.value, "--chunk-rows", chunk_rows, *extra]
        result = _predict(model_uri, *args)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == expected, (chunk_rows, result.stdout[:300])


def test_odd_chunk_sizes_differ_at_most_in_the_last_digits(model_uri, inputs):
    expected = _whole_frame_output(model_uri, inputs["csv"], Format.csv, True)
    result = _predict(model_uri, "-i", str(inputs["csv"]), "--with-inputs", "--chunk-rows", "7")
    assert result.exit_code == 0, result.stderr
    got = pd.read_csv(io.StringIO(result.stdout))
    want = pd.read_csv(io.StringIO(expected))
    pd.testing.assert_frame_equal(got, want, rtol=1e-12)


def test_output_file_holds_what_stdout_gets(model_uri, inputs, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "predictions.csv"
    args = ["-i", str(inputs["csv"]), "--chunk-rows", "4", "--with-inputs"]
    to_stdout = _predict(model_uri, *args)
    to_file = _predict(model_uri, *args, "-o", str(out))
    assert to_file.exit_code == 0 and to_file.stdout == ""
    assert out.read_text() == to_stdout.stdout
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in folder.iterdir()] == ["predictions.csv"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _with_text_in_row(row: int) -> str:
    frame = _rows()
    frame["x1"] = frame["x1"].astype(object)
    frame.loc[row - 1, "x1"] = "abc"
    return frame.to_csv(index=False)


def test_bad_row_in_a_later_chunk_is_one_error_after_the_chunks_before(model_uri):
    result = _predict(model_uri, "--chunk-rows", "7", input=_with_text_in_row(25))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: input columns must be numeric; not numeric: x1 (in rows 22 to 28)"
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "prediction" and len(lines) == 1 + 21  # three chunks of 7 went out


def test_bad_row_leaves_no_output_file(model_uri, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "out.csv"
    out.write_text("earlier predictions\n")
    for fmt in ("csv", "json"):
        result = _predict(
            model_uri, "--chunk-rows", "7", "-f", fmt, "-o", str(out), input=_with_text_in_row(25)
        )
        assert result.exit_code == 1 and "not numeric: x1" in result.stderr
        assert out.read_text() == "earlier predictions\n"
        assert [p.name for p in folder.iterdir()] == ["out.csv"]
        new = folder / "new.csv"
        result = _predict(model_uri, "-o", str(new), input=_with_text_in_row(25))
        assert result.exit_code == 1 and not new.exists()


def test_header_only_input_has_no_rows(model_uri):
    result = _predict(model_uri, input="x1,x2\n")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no rows in standard input"


def test_read_chunks_spans_the_checked_head(tmp_path):
    path = tmp_path / "long.csv"
    rows = pd.DataFrame({"a": np.arange(20_000), "b": np.arange(20_000) / 3})
    rows.to_csv(path, index=False, sep=";")
    assert path.stat().st_size > 3 * batch.HEAD_CHARS
    chunks = list(batch.read_chunks(str(path), chunk_rows=3_000))
    assert [len(c) for c in chunks] == [3_000] * 6 + [2_000]
    pd.testing.assert_frame_equal(pd.concat(chunks), pd.read_csv(path, sep=";"))


def test_json_lines_keys_first_seen_late_are_refused_with_inputs(model_uri):
    lines = [json.dumps({"x1": i, "x2": 1.5}) for i in range(5)]
    lines.append(json.dumps({"x1": 1, "x2": 2, "extra": "late"}))
    result = _predict(model_uri, "--chunk-rows", "2", "--with-inputs", input="\n".join(lines))
    assert result.exit_code == 1
    assert "keys extra first appear after row 4" in result.stderr
    plain = _predict(model_uri, "--chunk-rows", "2", input="\n".join(lines))
    assert plain.exit_code == 0 and len(plain.stdout.splitlines()) == 7


@pytest.mark.slow
def test_first_predictions_come_out_before_the_input_ends(model_uri):
    """A pipe: the first chunk's predictions are read while the input is still open."""
    tracking, uri = model_uri
    command = [sys.executable, "-m", "mlflow_tutorial", "predict", "-m", uri, "-t", tracking]
    process = subprocess.Popen(
        [*command, "--chunk-rows", "1000"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin and process.stdout
    stdin, finish = process.stdin, threading.Event()

    def feed() -> None:
        rows = "".join(f"{i},{i / 10}\n" for i in range(30_000))  # more than pandas reads at once
        stdin.write(("x1,x2\n" + rows).encode())
        stdin.flush()
        finish.wait(timeout=300)
        stdin.write(b"1,2\n")
        stdin.close()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        ready = select.select([process.stdout], [], [], 180)[0]
        assert ready, "no output within 3 minutes"
        assert process.stdout.readline() == b"prediction\n"
        assert not finish.is_set() and process.poll() is None  # its input is still open
        finish.set()
        rest = process.stdout.read().decode().splitlines()
        assert process.wait(timeout=60) == 0
        assert len(rest) == 30_001
    finally:
        finish.set()
        if process.poll() is None:
            process.kill()
            process.wait()
        feeder.join(timeout=10)

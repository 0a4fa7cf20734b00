"""End to end: train, register, then serve with `mlt serve` as a real process on 127.0.0.1 and
send real requests; `mlt predict` on files and pipes; MLflow's own server gives the same answers.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlflow_tutorial.cli import app
from mlflow_tutorial.config import Tracking
from mlflow_tutorial.data import load_dataset
from mlflow_tutorial.registry.versions import register_model
from mlflow_tutorial.tracking.training import train_grid

MODEL = "models:/diabetes-elasticnet@champion"
BIN = str(Path(sys.executable).parent)
runner = CliRunner()


@pytest.fixture(scope="module")
def store(make_store) -> str:
    """A store with three diabetes runs and the best registered as diabetes-elasticnet@champion."""
    with make_store("served") as served:
        tracking = Tracking(uri=served.uri, experiment="serving")
        train_grid([0.05, 0.5, 1.0], [0.5], tracking=tracking)
        version = register_model(tracking)
        assert version.version == 1 and version.aliases == ["champion"]
    return served.uri


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return load_dataset().X.sample(7, random_state=3)


@pytest.fixture(scope="module")
def expected(store, rows) -> list[float]:
    mlflow.set_tracking_uri(store)
    try:
        return list(mlflow.pyfunc.load_model(MODEL).predict(rows))
    finally:
        mlflow.set_tracking_uri(None)


def server_env(store: str) -> dict[str, str]:
    env = dict(os.environ, MLFLOW_TRACKING_URI=store)
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    return env


def wait_ready(proc: subprocess.Popen, url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise AssertionError(f"server at {url} not ready after {timeout} s")


def stop(proc: subprocess.Popen, timeout: float = 30) -> int:
    """SIGTERM the server's process group and wait for it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError("server did not stop on SIGTERM") from None


def post(url: str, body: bytes | str, content_type: str = "application/json") -> tuple[int, dict]:
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(
        f"{url}/invocations", data=data, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def start(args: list[str], store: str, log: Path, tmpdir: Path | None = None) -> subprocess.Popen:
    env = server_env(store)
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    with open(log, "wb") as handle, open(log.with_suffix(".stdout"), "wb") as out:
        return subprocess.Popen(
            args,
            stdout=out,
            stderr=handle,
            env=env,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def server(store, tmp_path_factory, free_port):
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "stderr.log"
    proc = start(
        [sys.executable, "-m", "mlflow_tutorial", "serve", "--model", MODEL, "--port", str(port)],
        store,
        log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url)
        yield url, log
    finally:
        stop(proc)


def payloads(rows: pd.DataFrame) -> dict[str, tuple[str, str]]:
    split = rows.to_dict(orient="split")
    records = rows.to_dict(orient="records")
    return {
        "dataframe_split": (
            json.dumps({"dataframe_split": {"columns": split["columns"], "data": split["data"]}}),
            "application/json",
        ),
        "dataframe_records": (json.dumps({"dataframe_records": records}), "application/json"),
        "instances": (json.dumps({"instances": records}), "application/json"),
        "inputs": (json.dumps({"inputs": records}), "application/json"),
        "csv": (rows.to_csv(index=False), "text/csv"),
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind", ["dataframe_split", "dataframe_records", "instances", "inputs", "csv"]
)
def test_served_predictions_equal_pyfunc(server, rows, expected, kind):
    url, _ = server
    body, content_type = payloads(rows)[kind]
    status, reply = post(url, body, content_type)
    assert status == 200, reply
    np.testing.assert_allclose(reply["predictions"], expected, rtol=1e-9)


@pytest.mark.slow
def test_health_endpoints(server):
    url, _ = server
    for path in ("/ping", "/health"):
        with urllib.request.urlopen(url + path) as response:
            assert response.status == 200
    with urllib.request.urlopen(url + "/version") as response:
        assert response.read().decode() == mlflow.__version__


@pytest.mark.slow
def test_bad_requests_get_4xx_and_server_keeps_answering(server, rows, expected):
    url, _ = server
    status, reply = post(url, '{"dataframe_split": ')
    assert status == 400 and reply["error_code"] == "BAD_REQUEST"
    status, reply = post(url, json.dumps({"dataframe_records": [{"age": 50.0}]}))
    assert 400 <= status < 500
    status, reply = post(url, json.dumps({"no_such_key": []}))
    assert 400 <= status < 500
    status, reply = post(url, *payloads(rows)["dataframe_split"])
    assert status == 200
    np.testing.assert_allclose(reply["predictions"], expected, rtol=1e-9)


@pytest.mark.slow
def test_banner_curl_command_answers(server, store):
    url, log = server
    text = log.read_text()
    assert f"at {url}" in text
    assert "diabetes-elasticnet version 1" in text
    curl = next(line for line in text.splitlines() if line.startswith("curl "))
    body = json.loads(shlex.split(curl)[shlex.split(curl).index("-d") + 1])
    mlflow.set_tracking_uri(store)
    try:
        frame = pd.DataFrame(
            body["dataframe_split"]["data"], columns=body["dataframe_split"]["columns"]
        )
        local = list(mlflow.pyfunc.load_model(MODEL).predict(frame))
    finally:
        mlflow.set_tracking_uri(None)
    assert shutil.which("curl"), "curl is needed to run the printed command"
    answer = subprocess.run(
        ["bash", "-c", curl], capture_output=True, text=True, timeout=30, check=True
    )
    np.testing.assert_allclose(json.loads(answer.stdout)["predictions"], local, rtol=1e-9)
    assert len(local) == 2


def test_banner_is_all_that_start_up_says(server):
    """With tqdm installed (the test extra installs it), MLflow draws "Downloading artifacts"
    bars on stderr while the model is fetched, unless told not to: the banner comes first and
    alone, in the words mlt means."""
    url, log = server
    lines = log.read_text().splitlines()
    banner = lines[: next(i for i, line in enumerate(lines) if line.startswith("curl ")) + 1]
    assert banner[0] == f"Serving {MODEL} = diabetes-elasticnet version 1 at {url}", banner
    assert re.fullmatch(r"  source: models:/m-[0-9a-f]{32} \(run [0-9a-f]{32}\)", banner[1])
    assert banner[2:4] == ["  workers: 1; stop with Ctrl-C", "  try it:"], banner
    assert len(banner) == 5, banner
    assert not any("Downloading" in line or "%|" in line for line in lines), lines


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_stops_cleanly(store, rows, expected, tmp_path, workers, free_port):
    """SIGTERM: exit 0, no process of the group left, the downloaded model removed."""
    port = free_port()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = start(
        [
            sys.executable,
            "-m",
            "mlflow_tutorial",
            "serve",
            "--port",
            str(port),
            "-w",
            str(workers),
            "--access-log",
        ],
        store,
        tmp_path / "stderr.log",
        tmpdir=scratch,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url)
        status, reply = post(url, *payloads(rows)["dataframe_records"])
        assert status == 200
        np.testing.assert_allclose(reply["predictions"], expected, rtol=1e-9)
    finally:
        code = stop(proc)
    assert code == 0, (tmp_path / "stderr.log").read_text()[-2000:]
    assert group_gone(proc.pid), subprocess.run(
        ["ps", "-o", "pid,args", "-g", str(proc.pid)], capture_output=True, text=True
    ).stdout
    assert [p.name for p in scratch.iterdir() if p.name.startswith("mlt-")] == []
    # stdout is for data: the banner and uvicorn's logs, access log included, go to stderr
    assert (tmp_path / "stderr.stdout").read_bytes() == b""
    assert '"POST /invocations HTTP/1.1" 200' in (tmp_path / "stderr.log").read_text()


def group_gone(pgid: int, timeout: float = 15) -> bool:
    """True once no process of the group is left (workers included)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_mlflow_models_serve_gives_the_same_answers(store, rows, expected, tmp_path, free_port):
    port = free_port()
    proc = start(
        [
            os.path.join(BIN, "mlflow"),
            "models",
            "serve",
            "-m",
            MODEL,
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        store,
        tmp_path / "stderr.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, timeout=120)
        for kind, (body, content_type) in payloads(rows).items():
            status, reply = post(url, body, content_type)
            assert status == 200, (kind, reply)
            np.testing.assert_allclose(reply["predictions"], expected, rtol=1e-9)
    finally:
        stop(proc)


def test_serve_unknown_model_is_one_line_error(store, free_port):
    port = str(free_port())
    for model, message in [
        ("models:/nope@champion", "registered model 'nope' not found"),
        (
            "models:/diabetes-elasticnet@gold",
            "alias 'gold' of model 'diabetes-elasticnet' not found",
        ),
        ("models:/m-0123456789abcdef0123456789abcdef", "cannot load model"),
    ]:
        result = runner.invoke(app, ["serve", "-m", model, "-p", port, "-t", store])
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], lines


def test_serve_port_in_use(store):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["serve", "-p", str(port), "-t", store])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_predict_csv_file_and_formats(store, rows, expected, tmp_path):
    path = tmp_path / "rows.csv"
    rows.to_csv(path, index=False)
    result = runner.invoke(app, ["predict", "-m", MODEL, "-i", str(path), "-t", store])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "prediction" and len(lines) == len(rows) + 1
    np.testing.assert_allclose([float(v) for v in lines[1:]], expected, rtol=1e-9)

    result = runner.invoke(
        app, ["predict", "-m", MODEL, "-i", str(path), "-t", store, "-f", "jsonl", "--with-inputs"]
    )
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["age"] for r in records] == list(rows["age"])
    np.testing.assert_allclose([r["prediction"] for r in records], expected, rtol=1e-9)

    out = tmp_path / "out.json"
    result = runner.invoke(
        app, ["predict", "-m", MODEL, "-i", str(path), "-t", store, "-f", "json", "-o", str(out)]
    )
    assert result.exit_code == 0 and result.stdout == ""
    np.testing.assert_allclose([r["prediction"] for r in json.loads(out.read_text())], expected)


def test_predict_integer_csv_and_json_lines_from_stdin(store, rows, expected):
    jsonl = "\n".join(json.dumps(r) for r in rows.to_dict(orient="records"))
    result = runner.invoke(app, ["predict", "-m", MODEL, "-t", store, "-f", "json"], input=jsonl)
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose([r["prediction"] for r in json.loads(result.stdout)], expected)

    whole = rows.round(0).astype(int)  # whole numbers read back as int64 columns
    mlflow.set_tracking_uri(store)
    try:
        want = mlflow.pyfunc.load_model(MODEL).predict(whole.astype(float))
    finally:
        mlflow.set_tracking_uri(None)
    result = runner.invoke(
        app, ["predict", "-m", MODEL, "-t", store], input=whole.to_csv(index=False)
    )
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose([float(v) for v in result.stdout.split()[1:]], want)


def test_predict_missing_columns(store, rows):
    csv = rows.drop(columns=["bmi", "s5"]).to_csv(index=False)
    result = runner.invoke(app, ["predict", "-m", MODEL, "-t", store], input=csv)
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: input is missing columns the model needs: bmi, s5"
    assert result.stdout == ""


@pytest.mark.slow
def test_predict_in_a_shell_pipeline(store, rows, expected, tmp_path):
    path = tmp_path / "rows.csv"
    rows.to_csv(path, index=False)
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"cat {shlex.quote(str(path))} | mlt predict --model {MODEL} --input - --format csv",
        ],
        capture_output=True,
        text=True,
        env=server_env(store),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "prediction"
    np.testing.assert_allclose([float(v) for v in lines[1:]], expected, rtol=1e-9)


def test_predict_accepts_every_model_uri_form(store, rows, expected):
    client = mlflow.MlflowClient(tracking_uri=store)
    version = client.get_model_version_by_alias("diabetes-elasticnet", "champion")
    for uri in (
        "models:/diabetes-elasticnet/1",
        "models:/diabetes-elasticnet/latest",
        version.source,  # models:/m-...
        f"runs:/{version.run_id}/model",
    ):
        result = runner.invoke(
            app, ["predict", "-m", uri, "-t", store, "-f", "json"], input=rows.to_csv(index=False)
        )
        assert result.exit_code == 0, (uri, result.stderr)
        predictions = [r["prediction"] for r in json.loads(result.stdout)]
        np.testing.assert_allclose(predictions, expected, rtol=1e-9, err_msg=uri)

"""The fast scoring path against MLflow's own scoring app.

A differential corpus of requests goes in-process to plain MLflow (``scoring_server.init``) and
to mlt's app: every 2xx must be byte for byte the same (status, content type, body), every error
the same status and error code, except the documented, deliberate differences. Then a catalogue
of bad requests goes to a real ``mlt serve`` process, which must keep answering.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from mlflow_tutorial.config import Tracking
from mlflow_tutorial.data import load_dataset
from mlflow_tutorial.models.scoring import ScoringApp, check_model, short_message
from mlflow_tutorial.tracking.training import train_grid
from ports import free_port

JSON = "application/json"
CSV = "text/csv"


# ---------------------------------------------------------------- models


def _logged(home: Path, log) -> str:
    """Log a model with ``log(tracking)`` into a fresh store under ``home``; its local folder."""
    uri = f"sqlite:///{home / 'mlflow.db'}"
    cwd = Path.cwd()
    os.chdir(home)
    try:
        model_uri = log(Tracking(uri=uri, experiment="scoring"))
        mlflow.set_tracking_uri(uri)
        return mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri, dst_path=str(home / "model")
        )
    finally:
        os.chdir(cwd)
        mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def diabetes_model(tmp_path_factory) -> str:
    """The folder of mlt's own diabetes model (StandardScaler + ElasticNet)."""

    def log(tracking: Tracking) -> str:
        return train_grid([0.5], [0.5], tracking=tracking)[0].model_uri

    return _logged(tmp_path_factory.mktemp("diabetes"), log)


def _sklearn_model(
    home: Path, estimator, frame: pd.DataFrame, target, serialization: str = "skops"
) -> str:
    """Fit ``estimator`` and log it as a user would (signature and input example from the
    frame, explicit requirements)."""

    def log(tracking: Tracking) -> str:
        from mlflow.models import infer_signature

        mlflow.set_tracking_uri(tracking.uri)
        experiment = mlflow.set_experiment(tracking.experiment)
        estimator.fit(frame, target)
        with mlflow.start_run(experiment_id=experiment.experiment_id):
            info = mlflow.sklearn.log_model(
                estimator,
                name="model",
                signature=infer_signature(frame, estimator.predict(frame)),
                input_example=frame.head(5),
                serialization_format=serialization,
                # OneHotEncoder keeps its dtype (numpy.dtype), which skops asks to trust
                skops_trusted_types=["numpy.dtype"] if serialization == "skops" else None,
                pip_requirements=["scikit-learn", "pandas", "skops"],
            )
        return info.model_uri

    return _logged(home, log)


@pytest.fixture(scope="module")
def whole_number_model(tmp_path_factory) -> str:
    """A Ridge pipeline on integer columns: a signature of long columns."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.integers(0, 100, 60), "b": rng.integers(-5, 5, 60)})
    target = 2.0 * frame["a"] - 3.0 * frame["b"] + rng.normal(size=60)
    home = tmp_path_factory.mktemp("whole")
    return _sklearn_model(home, make_pipeline(StandardScaler(), Ridge()), frame, target)


@pytest.fixture(scope="module")
def minmax_model(tmp_path_factory) -> str:
    """A MinMaxScaler step: arithmetic the fast path does not repeat, so MLflow answers all."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    data = load_dataset()
    home = tmp_path_factory.mktemp("minmax")
    return _sklearn_model(home, make_pipeline(MinMaxScaler(), LinearRegression()), data.X, data.y)


def mixed_frame(n: int = 240, seed: int = 3) -> pd.DataFrame:
    """A made-up raw table: numbers with gaps, whole numbers, text with gaps and a rare
    category, non-ASCII text and booleans."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.normal(10, 3, n),
            "count": rng.integers(0, 50, n),
            "colour": rng.choice(
                ["red", "green", "blue", "grey", "mauve", "teal"],
                n,
                p=[0.4, 0.3, 0.2, 0.07, 0.02, 0.01],
            ),
            "place": rng.choice(["north", "south", "Zürich"], n),
            "flag": rng.choice([True, False], n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "size"] = np.nan
    frame.loc[rng.random(n) < 0.1, "colour"] = None
    return frame


def mixed_target(frame: pd.DataFrame, seed: int = 4) -> pd.Series:
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=len(frame))
    return (
        2 * frame["size"].fillna(10)
        + 0.3 * frame["count"]
        + 5 * (frame["colour"] == "red")
        - 3 * (frame["place"] == "Zürich")
        + 2 * frame["flag"]
        + noise
    )


def mixed_pipeline(estimator, numeric: list[str], categorical: list[str]):
    """The pipeline mlt logs for raw tables (text gaps as NaN, then as None, become
    "missing"; categories seen fewer than 5 times are grouped)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    text = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            (
                "impute_none",
                SimpleImputer(missing_values=None, strategy="constant", fill_value="missing"),
            ),
            (
                "onehot",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False
                ),
            ),
        ]
    )
    columns = ColumnTransformer(
        [("numeric", numbers, numeric), ("categorical", text, categorical)],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return Pipeline([("columns", columns), ("model", estimator)])


@pytest.fixture(scope="module")
def mixed_regressor(tmp_path_factory) -> str:
    """ElasticNet behind imputed, scaled numbers and one-hot text (skops)."""
    from sklearn.linear_model import ElasticNet

    frame = mixed_frame()
    model = mixed_pipeline(
        ElasticNet(alpha=0.05, l1_ratio=0.5), ["size", "count", "flag"], ["colour", "place"]
    )
    home = tmp_path_factory.mktemp("mixed-regressor")
    return _sklearn_model(home, model, frame, mixed_target(frame), "skops")


@pytest.fixture(scope="module")
def mixed_classifier(tmp_path_factory) -> str:
    """Elastic-net logistic regression, three text classes (one not ASCII), the boolean
    column one-hot encoded (cloudpickle)."""
    from sklearn.linear_model import LogisticRegression

    frame = mixed_frame()
    labels = pd.cut(mixed_target(frame), 3, labels=["bajo", "medio", "año"]).astype(str)
    model = mixed_pipeline(
        LogisticRegression(l1_ratio=0.5, C=1.0, solver="saga", max_iter=5000),
        ["size", "count"],
        ["colour", "place", "flag"],
    )
    home = tmp_path_factory.mktemp("mixed-classifier")
    return _sklearn_model(home, model, frame, labels, "cloudpickle")


@pytest.fixture(scope="module")
def binary_classifier(tmp_path_factory) -> str:
    from sklearn.linear_model import LogisticRegression

    frame = mixed_frame(seed=5)
    labels = np.where(mixed_target(frame, seed=6) > 26, "yes", "no")
    frame["flag"] = frame["flag"].map({True: "True", False: "False"})  # as mlt trains booleans
    model = mixed_pipeline(
        LogisticRegression(l1_ratio=0.5, C=0.5, solver="saga", max_iter=5000),
        ["size", "count"],
        ["colour", "place", "flag"],
    )
    home = tmp_path_factory.mktemp("binary-classifier")
    return _sklearn_model(home, model, frame, labels, "skops")


# ---------------------------------------------------------------- an in-process ASGI client


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    @property
    def error_code(self) -> str | None:
        try:
            doc = json.loads(self.body)
        except ValueError:
            return None
        return doc.get("error_code") if isinstance(doc, dict) else None


def call(app, method: str, path: str, body: bytes = b"", headers=()) -> Reply:
    """One request through ``app`` the way uvicorn makes it (the body, then waiting for the
    response before reporting a disconnect)."""

    async def run() -> Reply:
        done = asyncio.Event()
        sent = False
        start: dict = {}
        chunks: list[bytes] = []

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 5001),
        }
        try:
            await app(scope, receive, send)
        except Exception:  # Starlette answers 500, then raises the error again
            if not start:
                raise
        found = dict(start.get("headers", []))
        return Reply(start["status"], found.get(b"content-type", b"").decode(), b"".join(chunks))

    return asyncio.run(run())


def mlflow_app(path: str):
    from mlflow.pyfunc import load_model, scoring_server

    return scoring_server.init(load_model(path))


def ready(app: ScoringApp) -> ScoringApp:
    app.fallback.start().result(timeout=300)
    return app


# ---------------------------------------------------------------- the differential corpus


@dataclass
class Case:
    id: str
    body: bytes
    content_type: str | None = JSON
    method: str = "POST"
    path: str = "/invocations"
    fast: bool = False  # the fast path must answer it
    differs: int | None = None  # the deliberate status (MLflow answers otherwise)

    @property
    def headers(self):
        return [("Content-Type", self.content_type)] if self.content_type is not None else []


def dumps(doc) -> bytes:
    return json.dumps(doc).encode()


def frame_cases(tag: str, frame: pd.DataFrame, fast: bool = True) -> list[Case]:
    """The frame in each request format the fast path takes."""
    split = frame.to_dict(orient="split")
    records = [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict(orient="records")]
    data = [[_plain(v) for v in row] for row in split["data"]]
    return [
        Case(
            f"{tag}-split",
            dumps({"dataframe_split": {"columns": split["columns"], "data": data}}),
            fast=fast,
        ),
        Case(f"{tag}-records", dumps({"dataframe_records": records}), fast=fast),
        Case(f"{tag}-instances", dumps({"instances": records}), fast=fast),
        Case(f"{tag}-inputs", dumps({"inputs": records}), fast=fast),
        Case(f"{tag}-csv", frame.to_csv(index=False).encode(), CSV, fast=fast),
    ]


def _plain(value):
    """numpy scalars as the Python numbers a JSON client sends."""
    return value.item() if hasattr(value, "item") else value


def diabetes_corpus(X: pd.DataFrame) -> list[Case]:
    rng = np.random.default_rng(7)
    cases: list[Case] = []
    for n in (1, 2, 7, 100, 1000):
        rows = X.sample(n, replace=n > len(X), random_state=n).reset_index(drop=True)
        cases += frame_cases(f"rows{n}", rows)
        cases += frame_cases(f"rows{n}-reversed", rows[list(reversed(rows.columns))])
    shuffled = list(X.columns)
    rng.shuffle(shuffled)
    cases += frame_cases("shuffled", X.head(5)[shuffled])
    cases += frame_cases("ints", X.head(7).round(0).astype(np.int64))
    mixed = X.head(3).astype(object)
    mixed.iloc[:, ::2] = mixed.iloc[:, ::2].round(0).astype(np.int64)
    cases += frame_cases("mixed-ints", mixed)[:4]
    edge = X.head(6).copy()
    edge.iloc[0] = -0.0
    edge.iloc[1] = 5e-324
    edge.iloc[2] = 1e-300
    edge.iloc[3] = 1e300  # predictions written in json's exponent notation
    edge.iloc[4] = -1e300
    edge.iloc[5] = rng.normal(size=10) * 1e-5
    cases += frame_cases("edge-values", edge)
    precise = X.head(20) + rng.normal(size=(20, 10)) / 3  # 17 significant digits
    cases += frame_cases("17-digits", precise)
    columns = list(X.columns)
    row = [_plain(v) for v in X.iloc[0]]
    split = {"columns": columns, "data": [row]}

    def with_value(value) -> bytes:
        return dumps({"dataframe_split": {"columns": columns, "data": [[value, *row[1:]]]}})

    cases += [
        Case(
            "extra-column",
            dumps({"dataframe_split": {"columns": [*columns, "zz"], "data": [[*row, 1.5]]}}),
            fast=True,
        ),
        Case(
            "extra-string-column",
            dumps({"dataframe_records": [{**dict(zip(columns, row, strict=True)), "note": "x"}]}),
            fast=True,
        ),
        Case("number-as-string", with_value("1")),
        Case("null", with_value(None)),
        Case("text", with_value("abc")),
        Case("bool", with_value(True)),
        Case("nested-list", with_value([1.0, 2.0])),
        Case("big-int", with_value(12345678901234567)),
        Case("huge-int", with_value(2**70)),
        Case(
            "overflow-in-scaling",
            dumps(
                {"dataframe_split": {"columns": columns, "data": [[1.7976931348623157e308] * 10]}}
            ),
        ),
        Case(
            "missing-column",
            dumps({"dataframe_split": {"columns": columns[1:], "data": [row[1:]]}}),
        ),
        Case(
            "missing-record-key",
            dumps({"dataframe_records": [dict(zip(columns[1:], row[1:], strict=True))]}),
        ),
        Case("extra-top-level-key", dumps({"dataframe_split": split, "extra": 1})),
        Case(
            "two-formats",
            dumps({"dataframe_split": split, "inputs": [dict(zip(columns, row, strict=True))]}),
        ),
        Case("params", dumps({"dataframe_split": split, "params": {"a": 1}})),
        Case("split-with-index", dumps({"dataframe_split": {**split, "index": [5]}})),
        Case("empty-data", dumps({"dataframe_split": {"columns": columns, "data": []}})),
        Case("empty-records", dumps({"dataframe_records": []})),
        Case("empty-object", b"{}"),
        Case("empty-body", b""),
        Case("list-body", b"[1, 2, 3]"),
        Case("no-format-key", dumps({"rows": [row]})),
        Case("records-not-a-list", dumps({"dataframe_records": {"a": 1}})),
        Case(
            "ragged-rows", dumps({"dataframe_split": {"columns": columns, "data": [row, row[:3]]}})
        ),
        Case("bom", b"\xef\xbb\xbf" + dumps({"dataframe_split": split})),
        Case("nan-literal", with_value(float("nan"))),
        Case("infinity-literal", with_value(float("inf"))),
        Case("invalid-utf8", b'{"dataframe_split": "\xff\xfe"}'),
        Case("not-json", b"this is not json" * 100),
        Case("truncated-json", dumps({"dataframe_split": split})[:-5]),
        Case("deep-nesting", b"[" * 100_000, differs=400),
        Case("deep-nesting-python-limit", b"[" * 995 + b"]" * 995, differs=400),
        Case("csv-bad", b"a,b\n1,2\n", CSV),
        Case("csv-text-value", b"age,sex\nabc,1\n", CSV),
        Case("csv-semicolons", X.head(2).to_csv(index=False, sep=";").encode(), CSV),
        Case("csv-invalid-utf8", b"age\n\xff\n", CSV),
        Case(
            "charset-utf8",
            dumps({"dataframe_split": split}),
            "application/json; charset=utf-8",
            fast=True,
        ),
        Case(
            "charset-latin1", dumps({"dataframe_split": split}), "application/json; charset=latin-1"
        ),
        Case(
            "content-type-parameter",
            dumps({"dataframe_split": split}),
            "application/json; version=2",
        ),
        Case("text-plain", dumps({"dataframe_split": split}), "text/plain"),
        Case("form", dumps({"dataframe_split": split}), "application/x-www-form-urlencoded"),
        Case("uppercase-type", dumps({"dataframe_split": split}), "Application/JSON"),
        Case("no-content-type", dumps({"dataframe_split": split}), None, differs=415),
        Case("get-invocations", b"", None, method="GET"),
        Case("unknown-path", b"", None, method="GET", path="/nope"),
        Case("post-unknown-path", dumps({"dataframe_split": split}), path="/predict"),
    ]
    return cases


def _json_value(value):
    """A DataFrame cell as a JSON client sends it: gaps as null."""
    value = _plain(value)
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value


def mixed_cases(tag: str, frame: pd.DataFrame, fast: bool = True, csv: bool = True) -> list[Case]:
    """The frame in each request format, gaps sent as null (JSON) or empty cells (CSV)."""
    columns = list(frame.columns)
    data = [[_json_value(v) for v in row] for row in frame.itertuples(index=False)]
    records = [dict(zip(columns, row, strict=True)) for row in data]
    cases = [
        Case(
            f"{tag}-split",
            dumps({"dataframe_split": {"columns": columns, "data": data}}),
            fast=fast,
        ),
        Case(f"{tag}-records", dumps({"dataframe_records": records}), fast=fast),
        Case(f"{tag}-instances", dumps({"instances": records}), fast=fast),
        Case(f"{tag}-inputs", dumps({"inputs": records}), fast=fast),
    ]
    if csv:
        cases.append(Case(f"{tag}-csv", frame.to_csv(index=False).encode(), CSV, fast=fast))
    return cases


def mixed_corpus(frame: pd.DataFrame, text_flag: bool = False) -> list[Case]:
    """Raw rows: text values, gaps, unknown and rare categories, booleans, numbers as text.
    ``text_flag``: the boolean column is a text column ("True"/"False"), as mlt trains it."""
    cases: list[Case] = []
    for n in (1, 2, 7, 100, 1000):
        rows = frame.sample(n, replace=n > len(frame), random_state=n).reset_index(drop=True)
        cases += mixed_cases(f"rows{n}", rows)
        cases += mixed_cases(f"rows{n}-reversed", rows[list(reversed(rows.columns))])
    columns = list(frame.columns)
    flag = "True" if text_flag else True
    row = {"size": 9.5, "count": 12, "colour": "red", "place": "north", "flag": flag}

    def one(fast: bool, **changes) -> bytes:
        values = [{**row, **changes}[c] for c in columns]
        return dumps({"dataframe_split": {"columns": columns, "data": [values]}})

    def records(*changes: dict) -> bytes:
        return dumps({"dataframe_records": [{**row, **c} for c in changes]})

    cases += [
        Case("plain-row", one(True), fast=True),
        Case("unknown-category", one(True, colour="purple"), fast=True),
        Case("unknown-required-text", one(True, place="east"), fast=True),
        Case("rare-category", one(True, colour="mauve"), fast=True),
        Case("empty-text", one(True, colour=""), fast=True),
        Case("fill-value-as-text", one(True, colour="missing"), fast=True),
        Case("case-differs", one(True, colour="Red"), fast=True),
        Case("non-ascii-text", one(True, place="Zürich"), fast=True),
        Case("non-ascii-unknown", one(True, colour="ñandú"), fast=True),
        Case("null-optional-text", one(True, colour=None), fast=True),
        Case("null-required-text", one(True, place=None), fast=True),
        Case("null-optional-number", one(True, size=None), fast=True),
        Case("all-nulls", one(True, size=None, colour=None, place=None), fast=True),
        Case("whole-number-in-double", one(True, size=9), fast=True),
        Case(
            "nulls-across-rows",
            records({}, {"size": None}, {"colour": None}, {"size": None, "place": None}),
            fast=True,
        ),
        Case("null-whole-number", one(False, count=None)),
        Case("null-boolean", one(text_flag, flag=None), fast=text_flag),
        Case("boolean-as-number", one(False, flag=1)),
        Case("boolean-as-text", one(text_flag, flag="true"), fast=text_flag),
        Case("boolean-as-json", one(not text_flag, flag=False), fast=not text_flag),
        Case("number-as-text", one(False, size="9.5")),
        Case("whole-number-as-text", one(False, count="12")),
        Case("fraction-in-whole-number", one(False, count=12.5)),
        Case("float-in-whole-number", one(False, count=12.0)),
        Case("boolean-as-double", one(False, size=True)),
        Case("text-in-number", one(False, size="abc")),
        Case("number-in-text", one(False, colour=5)),
        Case("boolean-in-text", one(False, colour=True)),
        Case("list-in-text", one(False, colour=["red"])),
        Case("object-in-text", one(False, colour={"a": 1})),
        Case("big-int", one(False, count=12345678901234567)),
        Case("huge-double", one(True, size=1.7976931348623157e308), fast=True),
        Case("nan-literal", one(False, size=float("nan"))),
        Case(
            "missing-optional-column",
            dumps(
                {
                    "dataframe_split": {
                        "columns": [c for c in columns if c != "colour"],
                        "data": [[v for c, v in row.items() if c != "colour"]],
                    }
                }
            ),
        ),
        Case(
            "missing-optional-key",
            dumps({"dataframe_records": [{k: v for k, v in row.items() if k != "colour"}]}),
        ),
        Case(
            "extra-column",
            dumps(
                {
                    "dataframe_split": {
                        "columns": [*columns, "zz"],
                        "data": [[*[row[c] for c in columns], "x"]],
                    }
                }
            ),
            fast=True,
        ),
        Case("extra-key", records({"note": "x", "n": None}), fast=True),
        Case(
            "params",
            dumps(
                {
                    "dataframe_split": {"columns": columns, "data": [[row[c] for c in columns]]},
                    "params": {"a": 1},
                }
            ),
        ),
        Case("empty-records", dumps({"dataframe_records": []})),
        Case("csv-gaps", b"size,count,colour,place,flag\n,3,,north,True\n", CSV, fast=True),
        Case("csv-na", b"size,count,colour,place,flag\nNA,3,NA,north,False\n", CSV, fast=True),
        Case(
            "csv-unknown", b"size,count,colour,place,flag\n1.5,3,purple,east,True\n", CSV, fast=True
        ),
        Case(
            "csv-lowercase-boolean",
            b"size,count,colour,place,flag\n1.5,3,red,north,true\n",
            CSV,
            fast=True,
        ),
        Case(
            "csv-number-as-text",
            b"size,count,colour,place,flag\n1.5,3,7,north,True\n",
            CSV,
            fast=True,
        ),
        Case(
            "csv-gap-in-whole-number", b"size,count,colour,place,flag\n1.5,,red,north,True\n", CSV
        ),
        Case("csv-text-in-number", b"size,count,colour,place,flag\nabc,3,red,north,True\n", CSV),
        Case(
            "csv-gap-in-boolean",
            b"size,count,colour,place,flag\n1.5,3,red,north,\n",
            CSV,
            fast=text_flag,
        ),
    ]
    return cases


def compare(ours: Reply, theirs: Reply, case: Case) -> None:
    if case.differs is not None:
        assert ours.status == case.differs, (case.id, ours, theirs.status)
        assert theirs.status != case.differs, (case.id, "no longer a difference", theirs.status)
    elif 200 <= theirs.status < 300:
        assert (ours.status, ours.content_type, ours.body) == (
            theirs.status,
            theirs.content_type,
            theirs.body,
        ), case.id
    else:
        assert ours.status == theirs.status, (case.id, ours, theirs.status, theirs.body[:300])
        assert ours.error_code == theirs.error_code, (case.id, ours.body, theirs.body[:300])
    if ours.status >= 400:
        assert_short_error(ours, case.body)


def assert_short_error(reply: Reply, payload: bytes) -> None:
    """Short, names the problem, no stack trace, no echo of the payload."""
    assert 0 < len(reply.body) < 10_000, reply
    text = reply.body.decode("utf-8", "replace")
    assert "Traceback" not in text and "stack_trace" not in text and 'File "' not in text, text
    if len(payload) >= 64:
        assert payload[:64] not in reply.body and payload[-64:] not in reply.body, text


def run_corpus(path: str, cases: list[Case]) -> tuple[ScoringApp, list[str]]:
    ours = ready(ScoringApp(path))
    theirs = mlflow_app(path)
    served_fast = []
    for case in cases:
        before = ours.counts.fast
        mine = call(ours, case.method, case.path, case.body, case.headers)
        compare(mine, call(theirs, case.method, case.path, case.body, case.headers), case)
        if ours.counts.fast > before:
            served_fast.append(case.id)
        assert (ours.counts.fast > before) == case.fast, (case.id, ours.counts.by_reason)
    return ours, served_fast


@pytest.mark.slow
def test_differential_corpus_diabetes(diabetes_model):
    cases = diabetes_corpus(load_dataset().X)
    assert len(cases) >= 60
    app, served_fast = run_corpus(diabetes_model, cases)
    assert app.check.model is not None, app.check.reason
    share = len(served_fast) / len(cases)
    print(
        f"\nfast path served {len(served_fast)} of {len(cases)} corpus requests ({share:.0%}); "
        f"MLflow's handler {app.counts.mlflow}, refused before parsing {app.counts.rejected}"
    )
    assert share > 0.5


@pytest.mark.slow
def test_differential_corpus_whole_number_columns(whole_number_model):
    frame = pd.DataFrame({"a": [3, 50, 99, 0, -7], "b": [1, -5, 4, 0, 2]})
    cases = frame_cases("longs", frame)
    cases += frame_cases("longs-reversed", frame[["b", "a"]])
    fractions = frame.astype(float) + 0.5  # fractions sent to long columns: MLflow decides
    cases += [
        Case(c.id.replace("longs", "fractions"), c.body, c.content_type)
        for c in frame_cases("longs", fractions)
    ]
    cases.append(
        Case(
            "whole-floats",
            dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}}),
        )
    )
    app, _ = run_corpus(whole_number_model, cases)
    assert app.fast is not None and app.fast.longs == {"a", "b"}


@pytest.mark.slow
def test_unsupported_model_is_all_mlflow(minmax_model):
    X = load_dataset().X
    cases = frame_cases("minmax", X.head(4), fast=False)
    cases.append(Case("minmax-no-content-type", dumps({"inputs": []}), None, differs=415))
    app, served = run_corpus(minmax_model, cases)
    assert app.fast is None and "MinMaxScaler" in app.check.reason
    assert served == [] and app.counts.mlflow == 5


def run_mixed_corpus(path: str, text_flag: bool = False) -> ScoringApp:
    frame = mixed_frame(seed=11)
    if text_flag:
        frame["flag"] = frame["flag"].map({True: "True", False: "False"})
    cases = mixed_corpus(frame, text_flag)
    app, served_fast = run_corpus(path, cases)
    assert app.fast is not None, app.check.reason
    print(
        f"\nfast path: {app.check.reason}; served {len(served_fast)} of {len(cases)} corpus "
        f"requests; MLflow's handler {app.counts.mlflow}: {app.counts.by_reason}"
    )
    return app


@pytest.mark.slow
def test_differential_corpus_mixed_regressor(mixed_regressor):
    app = run_mixed_corpus(mixed_regressor)
    assert "one-hot text + ElasticNet" in app.check.reason


@pytest.mark.slow
def test_differential_corpus_mixed_classifier(mixed_classifier):
    app = run_mixed_corpus(mixed_classifier)
    assert "LogisticRegression (class labels)" in app.check.reason
    frame = mixed_frame(seed=11).head(50)
    reply = call(
        app, "POST", "/invocations", mixed_cases("x", frame)[0].body, [("Content-Type", JSON)]
    )
    labels = json.loads(reply.body)["predictions"]
    assert set(labels) <= {"bajo", "medio", "año"} and len(set(labels)) > 1, labels
    assert b"a\\u00f1o" in reply.body or "año" not in labels  # written as MLflow writes it


@pytest.mark.slow
def test_differential_corpus_binary_classifier(binary_classifier):
    app = run_mixed_corpus(binary_classifier, text_flag=True)
    frame = mixed_frame(seed=11)
    reply = call(
        app, "POST", "/invocations", mixed_cases("x", frame)[0].body, [("Content-Type", JSON)]
    )
    assert set(json.loads(reply.body)["predictions"]) == {"yes", "no"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param("minmax", "a MinMaxScaler step", id="other-scaler"),
        pytest.param("sparse", "sparse output", id="sparse-one-hot"),
        pytest.param("drop-first", "with drop", id="one-hot-drop"),
        pytest.param("passthrough", "passthrough columns", id="passthrough"),
    ],
)
def test_table_pipelines_the_fast_path_does_not_repeat(change, reason):
    """Pipelines outside what the fast path repeats are refused with the reason, before any
    request: MLflow's handler answers them all."""
    from sklearn.linear_model import ElasticNet
    from sklearn.preprocessing import MinMaxScaler

    from mlflow_tutorial.models.fastpath import Unsupported
    from mlflow_tutorial.models.fastpath_tables import table_arithmetic, table_columns

    frame = mixed_frame(n=80)
    model = mixed_pipeline(ElasticNet(), ["size", "count"], ["colour", "place"])
    columns = model.steps[0][1]
    encoder = columns.transformers[1][1].steps[-1][1]
    if change == "minmax":
        columns.transformers[0][1].steps[1] = ("scale", MinMaxScaler())
    elif change == "sparse":
        encoder.set_params(sparse_output=True)
        columns.set_params(sparse_threshold=1.0)
    elif change == "drop-first":
        encoder.set_params(drop="first", handle_unknown="ignore", min_frequency=None)
    else:
        columns.set_params(remainder="passthrough")
    model.fit(frame, mixed_target(frame))
    specs = [
        {"name": "size", "type": "double", "required": False},
        {"name": "count", "type": "long"},
        {"name": "colour", "type": "string", "required": False},
        {"name": "place", "type": "string"},
        {"name": "flag", "type": "boolean"},
    ]
    with pytest.raises(Unsupported, match=reason):
        table_arithmetic(model, table_columns(specs))


def test_check_model_refuses_what_it_cannot_repeat(tmp_path):
    (tmp_path / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: x\n")
    check = check_model(str(tmp_path))
    assert check.model is None and check.reason == "not a scikit-learn model"
    assert check_model(str(tmp_path / "missing")).model is None


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(
            "Failed to predict data '   age\n0  1.0'. \nError: Failed to enforce schema of data"
            " '   age\n0 1.0' with schema '['age': double]'. Error: Model is missing inputs"
            " ['sex'].",
            "Failed to predict. Model is missing inputs ['sex'].",
            id="schema",
        ),
        pytest.param(
            "Invalid input. Ensure that input is a valid JSON formatted string. Error: "
            "'JSONDecodeError()'\nInput: \n" + "x" * 5000,
            "Invalid input. Ensure that input is a valid JSON formatted string. "
            "'JSONDecodeError()'",
            id="echo",
        ),
        pytest.param("y" * 1000, "y" * 297 + "...", id="long"),
    ],
)
def test_short_message(message, expected):
    assert short_message(message) == expected


# ---------------------------------------------------------------- a real server, bad requests


def raw_request(port: int, head: bytes, body_parts=(), read: bool = True) -> tuple[int, bytes]:
    """Send a raw HTTP request; (status, body) of the reply, (0, b"") if the connection died."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        try:
            sock.sendall(head)
            for part in body_parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not read:
            return 0, b""
        data = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data:
                    head_part, _, rest = data.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in head_part.split(b"\r\n")
                            if line.lower().startswith(b"content-length:")
                        ),
                        None,
                    )
                    if length is not None and len(rest) >= length:
                        return int(data.split(b" ")[1]), rest[:length]
        except ConnectionResetError:
            pass
        if not data:
            return 0, b""
        return int(data.split(b" ")[1]), data.partition(b"\r\n\r\n")[2]


def post_head(
    path: str = "/invocations", content_type: str | None = JSON, length=None, chunked: bool = False
) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post(port: int, body: bytes, content_type: str | None = JSON) -> tuple[int, bytes]:
    return raw_request(port, post_head(content_type=content_type, length=len(body)), [body])


def chunked(total: int, size: int = 1 << 20):
    junk = os.urandom(size)
    sent = 0
    while sent < total:
        yield b"%x\r\n" % size + junk + b"\r\n"
        sent += size
    yield b"0\r\n\r\n"


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def wait_ready(proc: subprocess.Popen, port: int, log: Path) -> None:
    """Until the server answers /ping (its log tail if it dies first)."""
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
            return
        except OSError:
            assert time.monotonic() < deadline, "server not ready"
            time.sleep(0.3)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`mlt serve` on a store holding the diabetes champion, as a real process."""
    from mlflow_tutorial.registry.versions import register_model

    home = tmp_path_factory.mktemp("catalog")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    cwd = Path.cwd()
    os.chdir(home)
    try:
        tracking = Tracking(uri=uri, experiment="serving")
        train_grid([0.5], [0.5], tracking=tracking)
        register_model(tracking)
    finally:
        os.chdir(cwd)
        mlflow.set_tracking_uri(None)
    port = free_port()
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri)
    log = home / "stderr.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow_tutorial", "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            start_new_session=True,
        )
    try:
        wait_ready(proc, port, log)
        yield port, proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_bad_request_catalog_leaves_the_server_answering(served):
    port, proc, log = served
    X = load_dataset().X
    valid = dumps({"dataframe_split": json.loads(X.head(3).to_json(orient="split", index=False))})
    status, first = post(port, valid)
    assert status == 200, first
    # Wait for MLflow's app (built in the background) so its import is not counted as growth.
    status, _ = post(port, dumps({"dataframe_records": [{"age": "x"}]}))
    assert status == 400
    before = rss_kb(proc.pid)
    columns = list(X.columns)
    row = [float(v) for v in X.iloc[0]]

    def split(data) -> bytes:
        return dumps({"dataframe_split": {"columns": columns, "data": data}})

    catalog = [
        ("junk 200 MB chunked", post_head(chunked=True), chunked(200 << 20), 413),
        ("Content-Length 200 MB", post_head(length=200 << 20), [b"x" * 1024], 413),
        ("junk 10 MB", post_head(length=10 << 20), [os.urandom(10 << 20)], 400),
        ("no content type", post_head(content_type=None, length=len(valid)), [valid], 415),
        ("text/plain", post_head(content_type="text/plain", length=len(valid)), [valid], 415),
        ("100,000 [", post_head(length=100_000), [b"[" * 100_000], 400),
        ("null", None, [split([[None, *row[1:]]])], 400),
        ("string", None, [split([["abc", *row[1:]]])], 400),
        ("nested list", None, [split([[[1.0], *row[1:]]])], 400),
        (
            "missing column",
            None,
            [dumps({"dataframe_split": {"columns": columns[1:], "data": [row[1:]]}})],
            400,
        ),
        ("list body", None, [b"[1, 2]"], 400),
        ("empty body", None, [b""], 400),
        ("invalid UTF-8", None, [b'{"inputs": "\xff"}'], 400),
        ("bad CSV", post_head(content_type=CSV, length=9), [b"a,b\n1,2\n\n"], 400),
        ("unknown path", post_head(path="/nope", length=len(valid)), [valid], 404),
        (
            "GET invocations",
            b"GET /invocations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            [],
            405,
        ),
    ]
    for name, head, parts, expected in catalog:
        if head is None:
            body = parts[0]
            head = post_head(length=len(body))
        status, reply = raw_request(port, head, parts)
        assert status == expected, (name, status, reply[:300])
        assert_short_error(Reply(status, "", reply), b"".join(p for p in parts if len(p) < 1e6))
    # Clients that go away: mid-body, and before sending any body.
    for _ in range(3):
        raw_request(port, post_head(length=1000), [b'{"dataframe_split": '], read=False)
        raw_request(port, post_head(length=50), [], read=False)
    time.sleep(1)
    status, again = post(port, valid)
    assert status == 200 and again == first
    growth = (rss_kb(proc.pid) - before) / 1024
    assert growth < 200, f"RSS grew by {growth:.0f} MB"
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert "POST /invocations" not in text  # no access log unless --access-log


@pytest.mark.slow
def test_real_server_answers_raw_rows_like_mlflow(mixed_classifier, tmp_path):
    """`mlt serve` as a real process on the mixed-type classifier: raw rows with text, nulls
    and unknown categories get MLflow's own answer, from the fast path."""
    port = free_port()
    log = tmp_path / "stderr.log"
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow_tutorial", "serve", "--model", mixed_classifier,
             "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=tmp_path,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_ready(proc, port, log)
        theirs = mlflow_app(mixed_classifier)
        frame = mixed_frame(seed=21).head(30)
        frame.loc[frame.index[::7], "place"] = "Atlantis"
        for case in mixed_cases("real", frame):
            status, body = post(port, case.body, case.content_type)
            expected = call(theirs, "POST", "/invocations", case.body, case.headers)
            assert (status, body) == (expected.status, expected.body), case.id
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "fast path on: imputed and scaled numbers + one-hot text + LogisticRegression" in text
    assert "Traceback" not in text

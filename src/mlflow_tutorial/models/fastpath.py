"""The fast path's arithmetic: which scikit-learn models ``mlt serve`` answers in numpy, and
the check that makes sure it answers exactly as the model does.

A model qualifies when its arithmetic can be repeated in numpy with the same operations, order
and memory layout as scikit-learn (``StandardScaler`` steps then a linear regressor), behind a
signature of required numeric columns without params. At start-up (:mod:`.qualify` picks the
model), :func:`verify` compares the numpy arithmetic with the model's own ``predict`` bit for
bit on probe rows (the input example among them); any difference and the fast path stays off.
Pipelines of raw tables (text, gaps, classes) are :mod:`.fastpath_tables`'s. Parsing requests
and the protocol are :mod:`mlflow_tutorial.models.scoring`'s.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
NUMBERS = frozenset((int, float))
EXACT_INTS = 2**53  # beyond this, whole numbers are left to MLflow (and pandas' int handling)
BIG_WHOLE_NUMBER = re.compile(rb"[-\[,:\s]\d{16,}(?![\d.eE])")  # a JSON integer of 16+ digits


class Unsupported(Exception):
    """The fast path does not take this request; MLflow's handler answers it."""


# ---------------------------------------------------------------- the model's arithmetic


@dataclass(frozen=True)
class LinearArithmetic:
    """``StandardScaler`` steps then a linear regressor, in the same numpy operations, order and
    memory layout as scikit-learn (a DataFrame reaches the model as a Fortran-ordered array)."""

    steps: tuple[tuple[str, np.ndarray], ...]  # ("sub", mean_) / ("div", scale_), in order
    coef: np.ndarray
    intercept: Any
    description: str

    def predict(self, X: np.ndarray) -> np.ndarray:
        import numpy as np

        with np.errstate(all="ignore"):
            for op, value in self.steps:
                X = X - value if op == "sub" else X / value
            if not np.isfinite(X).all():  # scikit-learn refuses it at the next step
                raise Unsupported("values that overflow")
            return np.asfortranarray(X) @ self.coef + self.intercept


def linear_arithmetic(model: Any, n_features: int) -> LinearArithmetic:
    """The arithmetic of ``model`` if it is one the fast path repeats exactly, else Unsupported."""
    import numpy as np
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
    from sklearn.pipeline import Pipeline

    if type(model) is Pipeline:
        if model.memory is not None or getattr(model, "transform_input", None):
            raise Unsupported("a pipeline with memory or transformed inputs")
        *transforms, last = [step for _, step in model.steps]
    else:
        transforms, last = [], model
    steps: list[tuple[str, np.ndarray]] = []
    names = []
    for step in transforms:
        steps += scaler_steps(step, n_features)
        names.append("StandardScaler")
    if type(last) not in (ElasticNet, Lasso, LinearRegression, Ridge):
        raise Unsupported(f"a {type(last).__name__} estimator")
    coef = getattr(last, "coef_", None)
    if not isinstance(coef, np.ndarray) or coef.shape != (n_features,) or coef.dtype != np.float64:
        raise Unsupported("coefficients of an unexpected shape")
    if np.ndim(last.intercept_) != 0:
        raise Unsupported("an intercept of an unexpected shape")
    names.append(type(last).__name__)
    return LinearArithmetic(tuple(steps), coef, last.intercept_, " + ".join(names))


def scaler_steps(step: Any, n_features: int) -> list[tuple[str, np.ndarray]]:
    """A ``StandardScaler``'s arithmetic as ("sub", mean_) / ("div", scale_) steps, or
    Unsupported for any other step."""
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    if type(step) is not StandardScaler or getattr(step, "_sklearn_output_config", None):
        raise Unsupported(f"a {type(step).__name__} step")
    steps = []
    for op, flag, attribute in (("sub", "with_mean", "mean_"), ("div", "with_std", "scale_")):
        value = getattr(step, attribute, None)
        if getattr(step, flag):
            if not isinstance(value, np.ndarray) or value.shape != (n_features,):
                raise Unsupported(f"StandardScaler.{attribute} of an unexpected shape")
            steps.append((op, value.astype(np.float64, copy=False)))
    return steps


# ---------------------------------------------------------------- the model the fast path serves


@dataclass(frozen=True)
class FastModel:
    """What the fast path knows of a model: its input columns and its arithmetic."""

    names: tuple[str, ...]
    longs: frozenset[str]  # columns of type long/integer (whole numbers only); others double
    arithmetic: LinearArithmetic
    probes: int  # rows compared bit for bit with the model's own predict at start-up

    def matrix(
        self, rows: Any, columns: Any, plain: bool = False, body: bytes | None = None
    ) -> np.ndarray:
        """An (n, k) float64 matrix of the signature's columns from rows of numbers.

        ``plain``: the body holds no ``true``/``false``, so numpy's own type discovery tells
        numbers from anything else."""
        import numpy as np

        if type(rows) is not list or not rows or type(columns) is not list:
            raise Unsupported("rows")
        width = len(columns)
        if set(map(type, columns)) != {str} or len(set(columns)) != width:
            raise Unsupported("column names")
        try:
            positions = [columns.index(name) for name in self.names]
        except ValueError:
            raise Unsupported("a missing column") from None
        if not plain or self.longs:
            self._check_numbers(rows, width, [columns.index(n) for n in self.longs])
        try:
            values = np.array(rows)
        except ValueError:
            raise Unsupported("rows of different lengths") from None
        if values.dtype not in (np.float64, np.int64) or values.shape != (len(rows), width):
            raise Unsupported("values other than numbers")
        # Whole numbers past 2**53 are MLflow's to convert (orjson reads those past 64 bits as
        # floats): a value that large sends the body to a search for such numbers.
        if np.abs(values).max() >= EXACT_INTS and (
            values.dtype == np.int64 or body is None or BIG_WHOLE_NUMBER.search(body)
        ):
            raise Unsupported("whole numbers beyond 2**53")
        if values.dtype == np.int64:
            values = values.astype(np.float64)
        if positions != list(range(width)):
            values = values[:, positions]
        return values

    @staticmethod
    def _check_numbers(rows: list[Any], width: int, longs: list[int]) -> None:
        """Every row a list of ``width`` ints and floats (bools are not numbers here), whole
        numbers within 2**53, and only whole numbers in long columns."""
        if set(map(type, rows)) - {list, tuple} or set(map(len, rows)) != {width}:
            raise Unsupported("rows of different lengths")
        values = list(chain.from_iterable(rows))
        types = set(map(type, values))
        if not types <= NUMBERS:
            raise Unsupported("values other than numbers")
        if int in types and any(type(v) is int and abs(v) >= EXACT_INTS for v in values):
            raise Unsupported("whole numbers beyond 2**53")
        for position in longs:
            if any(type(row[position]) is not int for row in rows):
                raise Unsupported("a fraction in a whole-number column")

    def records(self, records: Any, plain: bool = False, body: bytes | None = None) -> np.ndarray:
        if type(records) is not list or not records or set(map(type, records)) != {dict}:
            raise Unsupported("records")
        get = itemgetter(*self.names)
        try:
            rows = list(map(get, records))
        except KeyError:
            raise Unsupported("a missing column") from None
        if len(self.names) == 1:
            rows = [(value,) for value in rows]
        if set(map(len, records)) != {len(self.names)}:
            # Extra keys are accepted and ignored, as MLflow does; only plain values there.
            extra = chain.from_iterable(r.values() for r in records)
            if not set(map(type, extra)) <= {int, float, str, bool, type(None)}:
                raise Unsupported("extra keys with nested values")
        return self.matrix(rows, list(self.names), plain, body)

    def predict(self, X: np.ndarray) -> np.ndarray:
        import numpy as np

        if not np.isfinite(X).all():
            raise Unsupported("values that are not finite")
        return self.arithmetic.predict(X)

    def answer(self, X: np.ndarray) -> bytes:
        """The reply body MLflow's handler writes for this input."""
        return predictions_body(self.predict(X))

    def from_json(self, doc: Any, body: bytes) -> np.ndarray:
        """The input matrix of a parsed JSON request, or Unsupported."""
        if type(doc) is not dict or len(doc) != 1:
            raise Unsupported("top-level keys")
        ((key, value),) = doc.items()
        # Booleans are the only values numpy takes for numbers: a body without one (a quick
        # search) needs no check of every value's type.
        plain = b"true" not in body and b"false" not in body
        if key == "dataframe_split":
            if type(value) is not dict or set(value) != {"columns", "data"}:
                raise Unsupported("dataframe_split keys")
            return self.matrix(value["data"], value["columns"], plain, body)
        if key in FORMATS:  # dataframe_records, and instances / inputs given as records
            return self.records(value, plain, body)
        raise Unsupported("an unknown format")

    def from_csv(self, body: bytes) -> np.ndarray:
        """The input matrix of a CSV body, parsed by the same pandas call as MLflow's."""
        import numpy as np
        import pandas as pd

        try:
            text = body.decode("utf-8")
            dtypes = {n: np.int64 if n in self.longs else np.float64 for n in self.names}
            frame = pd.read_csv(io.StringIO(text), dtype=dtypes)  # type: ignore[arg-type]
        except Exception as exc:
            raise Unsupported("CSV") from exc
        columns = list(frame.columns)
        if len(frame) == 0 or len(set(columns)) != len(columns):
            raise Unsupported("CSV shape")
        if any(n not in frame.columns or frame[n].dtype != dtypes[n] for n in self.names):
            raise Unsupported("CSV columns")
        return np.asarray(frame[list(self.names)], dtype=np.float64)


def verify(fast: FastModel, model: Any, example: list[list[float]]) -> int:
    """Compare the fast path with the model's own ``predict`` on a DataFrame (what MLflow hands
    it) bit for bit on probe rows; Unsupported at the first difference. Returns the rows."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(20240917)
    k = len(fast.names)
    center = np.mean(example, axis=0) if example else np.zeros(k)
    spread = np.std(example, axis=0) + 1.0 if len(example) > 1 else np.ones(k)
    probes: list[np.ndarray] = []
    if example:
        probes.append(np.array(example, dtype=np.float64))
    for n in (1, 2, 7, 100, 1000, 5000):
        probes.append(center + spread * rng.normal(size=(n, k)))
    probes.append(np.round(center + spread * rng.normal(size=(50, k))))  # whole numbers
    probes.append(np.array([[0.0] * k, [-0.0] * k, [1e-300] * k, [1.0] * k]))
    rows = 0
    for X in probes:
        if fast.longs:
            X = X.copy()
            for name in fast.longs:
                X[:, fast.names.index(name)] = np.round(X[:, fast.names.index(name)])
        frame = pd.DataFrame(X, columns=list(fast.names))
        for name in fast.longs:
            frame[name] = frame[name].astype(np.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = model.predict(frame)
        got = fast.predict(np.array(X, dtype=np.float64))
        if not same_bits(want, got):
            raise Unsupported(f"numpy arithmetic differs from the model on {len(X)} rows")
        if predictions_body(got) != mlflow_body(want):
            raise Unsupported("fast JSON writing differs from json.dumps")
        rows += len(X)
    return rows


def same_bits(want: Any, got: np.ndarray) -> bool:
    """The model's output and the fast path's are the same array, bit for bit."""
    import numpy as np

    return (
        isinstance(want, np.ndarray)
        and want.dtype == got.dtype
        and want.shape == got.shape
        and np.array_equal(want, got)
    )


def mlflow_body(predictions: np.ndarray) -> bytes:
    """What MLflow's handler writes for ``predictions``, the slow way."""
    return b'{"predictions": ' + json.dumps(predictions.tolist()).encode() + b"}"


def predictions_body(predictions: np.ndarray) -> bytes:
    """The reply MLflow's handler writes: ``json.dump({"predictions": ndarray.tolist()})``.

    Python writes a float as its shortest repr; so does orjson, much faster, and in the same
    positional notation between 1e-4 and 1e15. Outside that range (or for inf and nan) json
    writes it."""
    import numpy as np
    import orjson

    if predictions.ndim == 1 and predictions.dtype == np.float64 and np.isfinite(predictions).all():
        magnitude = np.abs(predictions)
        nonzero = magnitude[magnitude > 0]
        if not nonzero.size or (nonzero.min() >= 1e-4 and nonzero.max() < 1e15):
            text = orjson.dumps(predictions, option=orjson.OPT_SERIALIZE_NUMPY)
            return b'{"predictions": ' + text.replace(b",", b", ") + b"}"
    return b'{"predictions": ' + json.dumps(predictions.tolist()).encode() + b"}"

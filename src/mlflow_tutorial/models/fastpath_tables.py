"""The fast path for raw-table pipelines: a ``ColumnTransformer`` (numeric columns imputed and
scaled, text columns imputed and one-hot encoded, unknown and rare categories grouped) then
``ElasticNet`` (or another linear regressor) or ``LogisticRegression`` (answering class labels).

Requests come as raw rows: numbers, text, booleans and nulls, typed by the model's signature
(``double``, ``long``, ``boolean``, ``string`` columns, optional where training had gaps). The
one-hot tables are not re-derived from scikit-learn's rules: each column's table is read off
the model's own encoder, by transforming every known category, a null, a gap and an unknown
value. :func:`verify_table` then compares the whole arithmetic with the model's own ``predict``
(and ``decision_function`` for a classifier) bit for bit on probe rows with text values, gaps,
unknown categories and the input example; any difference and the fast path stays off.

What the fast path takes, per signature type (anything else goes to MLflow's handler):
``double``: JSON ints and floats, and nulls if the column is optional; ``long``: JSON ints;
``boolean``: ``true``/``false``; ``string``: JSON strings, and nulls.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from .fastpath import (
    EXACT_INTS,
    FORMATS,
    Unsupported,
    mlflow_body,
    predictions_body,
    same_bits,
    scaler_steps,
)

if TYPE_CHECKING:
    import numpy as np

KINDS = ("double", "long", "boolean", "string")
NUMBER_TYPES = {"double": frozenset((int, float)), "long": frozenset((int,))}
UNKNOWN = "\x00an unknown category\x00"  # a value no encoder was fitted on
FRAME, COLUMNS, CSV = "frame", "columns", "csv"  # how MLflow builds the DataFrame of a request


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # one of KINDS
    required: bool


# ---------------------------------------------------------------- the arithmetic


@dataclass(frozen=True)
class NumericBlock:
    """Columns imputed (``SimpleImputer``) then scaled (``StandardScaler``), in this order."""

    columns: tuple[int, ...]  # positions in the signature
    start: int  # first output column
    fill: np.ndarray | None  # the imputer's statistics_
    steps: tuple[tuple[str, np.ndarray], ...]  # ("sub", mean_) / ("div", scale_)

    def transform(self, values: list[Any], n: int) -> np.ndarray:
        import numpy as np

        block = np.array([values[c] for c in self.columns], dtype=np.float64).T
        missing = np.isnan(block)
        if missing.any():
            if self.fill is None:
                raise Unsupported("a gap in a column without an imputer")
            block[missing] = np.broadcast_to(self.fill, block.shape)[missing]
        with np.errstate(all="ignore"):
            for op, value in self.steps:
                block = block - value if op == "sub" else block / value
        if not np.isfinite(block).all():  # scikit-learn refuses it at the next step
            raise Unsupported("values that overflow")
        return block


@dataclass(frozen=True)
class OneHot:
    """One text (or boolean) column's one-hot block, read off the model's own encoder: the
    position of the 1 for each known value (-1: all zeros)."""

    column: int
    start: int
    width: int
    table: dict[Any, int]
    null: int  # None as the model sees it
    gap: int  # NaN as the model sees it
    unknown: int
    null_is_gap: bool  # pandas reads a null among text as NaN (a column of only nulls stays None)

    def positions(self, values: Any, source: str) -> list[int]:
        """Where MLflow builds a DataFrame from rows (``dataframe_split``, ``_records``), a null
        among text is a gap (NaN) and a column of only nulls holds None; ``instances`` and
        ``inputs`` go value by value, and a null in a text column becomes the text ``"None"``."""
        get, unknown, null = self.table.get, self.unknown, self.null
        if None in values:
            if source == COLUMNS:
                null = get("None", unknown)
            elif self.null_is_gap and any(type(v) is str for v in values):
                null = self.gap
        return [null if v is None else get(v, unknown) for v in values]

    def positions_csv(self, values: Any) -> list[int]:
        get, unknown, gap = self.table.get, self.unknown, self.gap
        return [gap if type(v) is float and v != v else get(v, unknown) for v in values]


@dataclass(frozen=True)
class TableArithmetic:
    width: int
    numeric: tuple[NumericBlock, ...]
    onehots: tuple[OneHot, ...]
    coef: np.ndarray
    intercept: Any
    classes: np.ndarray | None  # a classifier's classes_, None for a regressor
    labels: tuple[bytes, ...]  # each class as JSON
    order: Literal["C", "F"]  # the memory layout of the matrix the estimator gets ("C" or "F")
    description: str

    def matrix(self, values: list[Any], n: int, source: str) -> np.ndarray:
        import numpy as np

        X = np.zeros((n, self.width), order=self.order)
        for block in self.numeric:
            X[:, block.start : block.start + len(block.columns)] = block.transform(values, n)
        if self.onehots:  # every 1 of every one-hot block in one assignment
            if source == CSV:
                found = [o.positions_csv(values[o.column]) for o in self.onehots]
            else:
                found = [o.positions(values[o.column], source) for o in self.onehots]
            positions = np.array(found, dtype=np.intp)  # (blocks, rows)
            columns = positions + self.starts
            rows = np.arange(n)
            flat = rows * self.width + columns if self.order == "C" else columns * n + rows
            hit = positions >= 0
            X.reshape(-1, order=self.order)[flat if hit.all() else flat[hit]] = 1.0
        return X

    @cached_property
    def starts(self) -> np.ndarray:
        import numpy as np

        return np.array([[o.start] for o in self.onehots], dtype=np.intp)

    def scores(self, X: np.ndarray) -> np.ndarray:
        """What the estimator computes: ``predict`` of a regressor, ``decision_function`` of a
        classifier, in scikit-learn's own expressions."""
        if self.classes is None:
            return X @ self.coef + self.intercept
        scores = X @ self.coef.T + self.intercept
        return scores.reshape(-1) if scores.shape[1] == 1 else scores

    def indices(self, scores: np.ndarray) -> np.ndarray:
        import numpy as np

        if scores.ndim == 1:
            return (scores > 0).astype(np.intp)
        return scores.argmax(axis=1)

    def answer(self, scores: np.ndarray) -> bytes:
        if self.classes is None:
            return predictions_body(scores)
        labels = self.labels
        found = [labels[i] for i in self.indices(scores).tolist()]
        return b'{"predictions": [' + b", ".join(found) + b"]}"


def table_arithmetic(model: Any, columns: list[Column]) -> TableArithmetic:
    """The arithmetic of a ``ColumnTransformer`` pipeline the fast path repeats, else
    Unsupported (the layout is settled by the check against the model)."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline

    if type(model) is not Pipeline or len(model.steps) != 2:
        raise Unsupported("not a two-step pipeline")
    if model.memory is not None or getattr(model, "transform_input", None):
        raise Unsupported("a pipeline with memory or transformed inputs")
    (_, transformer), (_, last) = model.steps
    if type(transformer) is not ColumnTransformer:
        raise Unsupported(f"a {type(transformer).__name__} step")
    _plain_output(transformer)
    if getattr(transformer, "sparse_output_", True):
        raise Unsupported("sparse output")
    names = [c.name for c in columns]
    numeric: list[NumericBlock] = []
    onehots: list[OneHot] = []
    width = 0
    for name, step, selected in transformer.transformers_:
        block = transformer.output_indices_.get(name)
        if name == "remainder" and (step != "drop" or (block and block.stop != block.start)):
            raise Unsupported("passthrough columns")
        if isinstance(step, str):
            if step != "drop":
                raise Unsupported(f"a {step!r} transformer")
            if block is not None and block.stop != block.start:
                raise Unsupported("passthrough columns")
            continue
        if not isinstance(selected, list) or not all(isinstance(s, str) for s in selected):
            raise Unsupported("columns selected other than by name")
        if not selected:
            continue
        if any(s not in names for s in selected):
            raise Unsupported("a transformer on a column outside the signature")
        if block is None or block.start != width:
            raise Unsupported("output blocks out of order")
        positions = tuple(names.index(s) for s in selected)
        steps = list(step.steps) if type(step) is Pipeline else [(name, step)]
        if type(step) is Pipeline and (
            step.memory is not None or getattr(step, "transform_input", None)
        ):
            raise Unsupported("a pipeline with memory or transformed inputs")
        if _is_onehot(steps[-1][1]):
            found = _onehots(step, steps, positions, columns, width)
            onehots += found
            end = found[-1].start + found[-1].width
        else:
            numeric.append(_numeric(steps, positions, columns, width))
            end = width + len(positions)
        if end != block.stop:
            raise Unsupported("an output block of an unexpected width")
        width = block.stop
    if not numeric and not onehots:
        raise Unsupported("no columns transformed")
    if type(last) in (ElasticNet, Lasso, LinearRegression, Ridge):
        coef, classes = last.coef_, None
        if not isinstance(coef, np.ndarray) or coef.shape != (width,):
            raise Unsupported("coefficients of an unexpected shape")
        if np.ndim(last.intercept_) != 0:
            raise Unsupported("an intercept of an unexpected shape")
    elif type(last) is LogisticRegression:
        coef, classes = last.coef_, last.classes_
        if not isinstance(classes, np.ndarray) or classes.ndim != 1 or len(classes) < 2:
            raise Unsupported("classes of an unexpected shape")
        rows = 1 if len(classes) == 2 else len(classes)
        if not isinstance(coef, np.ndarray) or coef.shape != (rows, width):
            raise Unsupported("coefficients of an unexpected shape")
        if np.shape(last.intercept_) != (rows,):
            raise Unsupported("an intercept of an unexpected shape")
    else:
        raise Unsupported(f"a {type(last).__name__} estimator")
    if coef.dtype != np.float64:
        raise Unsupported("coefficients other than float64")
    labels = () if classes is None else tuple(json.dumps(c).encode() for c in classes.tolist())
    parts = []
    if numeric:
        scaled = any(block.steps for block in numeric)
        parts.append("imputed and scaled numbers" if scaled else "imputed numbers")
    if onehots:
        parts.append("one-hot text")
    parts.append(type(last).__name__ + (" (class labels)" if classes is not None else ""))
    return TableArithmetic(
        width,
        tuple(numeric),
        tuple(onehots),
        coef,
        last.intercept_,
        classes,
        labels,
        "C",
        " + ".join(parts),
    )


def _plain_output(step: Any) -> None:
    if getattr(step, "_sklearn_output_config", None):
        raise Unsupported("a transformer with set_output")


def _is_onehot(step: Any) -> bool:
    from sklearn.preprocessing import OneHotEncoder

    return type(step) is OneHotEncoder


def _imputer(step: Any, text: bool) -> Any:
    """``step`` if it is a SimpleImputer the fast path repeats, else Unsupported."""
    import numpy as np
    from sklearn.impute import SimpleImputer

    _plain_output(step)
    if type(step) is not SimpleImputer:
        raise Unsupported(f"a {type(step).__name__} step")
    missing = step.missing_values
    nan = isinstance(missing, float) and math.isnan(missing)
    if not (nan or (text and missing is None)) or step.add_indicator:
        raise Unsupported("an imputer of values other than NaN (or None), or with indicators")
    if text and step.strategy != "constant":
        raise Unsupported("a text imputer other than a constant")
    if not text:
        fill = np.asarray(step.statistics_)
        if fill.dtype != np.float64 or not np.isfinite(fill).all():
            raise Unsupported("imputer statistics other than finite numbers")
    return step


def _numeric(
    steps: list[tuple[str, Any]], positions: tuple[int, ...], columns: list[Column], start: int
) -> NumericBlock:
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    if any(columns[p].kind == "string" for p in positions):
        raise Unsupported("text columns in a numeric transformer")
    fill = None
    ops: list[tuple[str, np.ndarray]] = []
    k = len(positions)
    for i, (_, step) in enumerate(steps):
        if i == 0 and type(step) is not StandardScaler:
            fill = np.asarray(_imputer(step, text=False).statistics_)
            if fill.shape != (k,):
                raise Unsupported("imputer statistics of an unexpected shape")
            continue
        ops += scaler_steps(step, k)
    return NumericBlock(positions, start, fill, tuple(ops))


def _onehots(
    step: Any,
    steps: list[tuple[str, Any]],
    positions: tuple[int, ...],
    columns: list[Column],
    start: int,
) -> list[OneHot]:
    """Each column's one-hot table, read off the transformer itself."""
    import numpy as np
    import pandas as pd

    *before, (_, encoder) = steps
    for _, imputer in before:  # e.g. NaN then None filled with "missing"
        _imputer(imputer, text=True)
    _plain_output(encoder)
    if encoder.drop is not None or encoder.sparse_output or encoder.dtype is not np.float64:
        raise Unsupported("a one-hot encoder with drop, sparse or non-float64 output")
    if encoder.handle_unknown not in ("ignore", "infrequent_if_exist"):
        raise Unsupported("a one-hot encoder that refuses unknown categories")
    widths = list(getattr(encoder, "_n_features_outs", ()))
    if len(widths) != len(positions) or len(encoder.categories_) != len(positions):
        raise Unsupported("one-hot blocks of an unexpected shape")
    kinds = {columns[p].kind for p in positions}
    if not kinds <= {"string", "boolean"}:
        raise Unsupported("numbers in a one-hot encoder")
    names = [columns[p].name for p in positions]
    null_is_gap = pd.DataFrame({"c": ["a", None]})["c"].iloc[1] is not None
    found = []
    offset = start
    for j, p in enumerate(positions):
        known = list(encoder.categories_[j])
        wanted = bool if columns[p].kind == "boolean" else str
        if not all(type(v) is wanted for v in known):
            raise Unsupported("categories of an unexpected type")
        probes = [*known, None, np.nan, UNKNOWN]
        frame = pd.DataFrame(
            {name: probes if k == j else [None] * len(probes) for k, name in enumerate(names)},
            dtype=object,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(step.transform(frame))
        block = out[:, offset - start : offset - start + widths[j]]
        ones = block == 1.0
        if not ((block == 0.0) | ones).all() or (ones.sum(axis=1) > 1).any():
            raise Unsupported("a one-hot block that is not one-hot")
        spots = [int(row.argmax()) if row.any() else -1 for row in ones]
        *table, null, gap, unknown = spots
        found.append(
            OneHot(
                p,
                offset,
                widths[j],
                dict(zip(known, table, strict=True)),
                null,
                gap,
                unknown,
                null_is_gap,
            )
        )
        offset += widths[j]
    return found


# ---------------------------------------------------------------- the model the fast path serves


@dataclass(frozen=True)
class TableModel:
    """What the fast path knows of a raw-table model: its typed columns and its arithmetic."""

    columns: tuple[Column, ...]
    arithmetic: TableArithmetic
    probes: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def longs(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns if c.kind == "long")

    # -- requests

    def from_json(self, doc: Any, body: bytes) -> tuple[list[Any], int, str]:
        if type(doc) is not dict or len(doc) != 1:
            raise Unsupported("top-level keys")
        ((key, value),) = doc.items()
        if key == "dataframe_split":
            if type(value) is not dict or set(value) != {"columns", "data"}:
                raise Unsupported("dataframe_split keys")
            return self.rows(value["data"], value["columns"], body)
        if key in FORMATS:  # dataframe_records, and instances / inputs given as records
            return self.records(value, body, FRAME if key == "dataframe_records" else COLUMNS)
        raise Unsupported("an unknown format")

    def rows(
        self, rows: Any, columns: Any, body: bytes, source: str = FRAME
    ) -> tuple[list[Any], int, str]:
        if type(rows) is not list or not rows or type(columns) is not list:
            raise Unsupported("rows")
        width = len(columns)
        if set(map(type, columns)) != {str} or len(set(columns)) != width:
            raise Unsupported("column names")
        if set(map(type, rows)) != {list} or set(map(len, rows)) != {width}:
            raise Unsupported("rows of different lengths")
        try:
            positions = [columns.index(name) for name in self.names]
        except ValueError:
            raise Unsupported("a missing column") from None
        if width > len(positions):  # extra columns are ignored, as MLflow does: plain values
            extra = set(range(width)) - set(positions)
            types = {type(row[i]) for row in rows for i in extra}
            if not types <= {int, float, str, bool, type(None)}:
                raise Unsupported("extra columns with nested values")
        by_column = list(zip(*rows, strict=True))
        return self.values([by_column[p] for p in positions], len(rows), source)

    def records(self, records: Any, body: bytes, source: str) -> tuple[list[Any], int, str]:
        if type(records) is not list or not records or set(map(type, records)) != {dict}:
            raise Unsupported("records")
        names = self.names
        get = itemgetter(*names)
        try:
            rows = list(map(get, records))
        except KeyError:
            raise Unsupported("a missing column") from None
        if len(names) == 1:
            rows = [(value,) for value in rows]
        if set(map(len, records)) != {len(names)}:
            extra = chain.from_iterable(r.values() for r in records)
            if not set(map(type, extra)) <= {int, float, str, bool, type(None)}:
                raise Unsupported("extra keys with nested values")
        return self.values(list(zip(*rows, strict=True)), len(records), source)

    def values(self, by_column: list[Any], n: int, source: str) -> tuple[list[Any], int, str]:
        """Each column's values as the arithmetic takes them; Unsupported for any value whose
        conversion is MLflow's to decide."""
        import numpy as np

        out: list[Any] = []
        for column, values in zip(self.columns, by_column, strict=True):
            types = set(map(type, values))
            kind = column.kind
            if kind == "string":
                if not types <= {str, type(None)}:
                    raise Unsupported("a value other than text in a text column")
                out.append(values)
            elif kind == "boolean":
                if types != {bool}:
                    raise Unsupported("a value other than true/false in a boolean column")
                out.append(values)
            else:
                allowed = NUMBER_TYPES[kind]
                if type(None) in types and kind == "double" and not column.required:
                    types.discard(type(None))
                    values = [math.nan if v is None else v for v in values]
                if not types <= allowed:
                    raise Unsupported(f"a value other than a number in a {kind} column")
                if int in types and any(type(v) is int and abs(v) >= EXACT_INTS for v in values):
                    raise Unsupported("whole numbers beyond 2**53")
                out.append(np.array(values, dtype=np.float64))
        return out, n, source

    def from_csv(self, body: bytes) -> tuple[list[Any], int, str]:
        """The columns of a CSV body, parsed by the same pandas call as MLflow's."""
        import numpy as np
        import pandas as pd

        pandas_types = {"double": np.float64, "long": np.int64, "boolean": bool, "string": object}
        dtypes = {c.name: pandas_types[c.kind] for c in self.columns}
        try:
            frame = pd.read_csv(io.StringIO(body.decode("utf-8")), dtype=dtypes)  # type: ignore[arg-type]
        except Exception as exc:
            raise Unsupported("CSV") from exc
        names = list(frame.columns)
        if len(frame) == 0 or len(set(names)) != len(names):
            raise Unsupported("CSV shape")
        out: list[Any] = []
        for column in self.columns:
            if column.name not in frame.columns:
                raise Unsupported("CSV columns")
            series = frame[column.name]
            if series.dtype != np.dtype(dtypes[column.name]):
                raise Unsupported("CSV columns")
            if column.kind == "string":
                values = series.tolist()
                if not set(map(type, values)) <= {str, float}:
                    raise Unsupported("CSV text values")
                out.append(values)
            elif column.kind == "boolean":
                out.append(series.tolist())
            else:
                numbers = series.to_numpy(dtype=np.float64)
                if column.required and np.isnan(numbers).any():
                    raise Unsupported("a gap in a required column")
                out.append(numbers)
        return out, len(frame), CSV

    # -- answers

    def predict(self, parsed: tuple[list[Any], int, str]) -> np.ndarray:
        """A regressor's predictions or a classifier's decision function."""
        values, n, source = parsed
        arithmetic = self.arithmetic
        return arithmetic.scores(arithmetic.matrix(values, n, source))

    def answer(self, parsed: tuple[list[Any], int, str]) -> bytes:
        return self.arithmetic.answer(self.predict(parsed))


def table_columns(specs: list[dict[str, Any]]) -> list[Column]:
    """The signature's columns, if the fast path takes their types; else Unsupported."""
    columns = []
    for spec in specs:
        name, kind = spec.get("name"), spec.get("type")
        if (
            not isinstance(name, str)
            or kind not in KINDS
            or set(spec) - {"type", "name", "required"}
        ):
            raise Unsupported("a signature other than double, long, boolean and string columns")
        columns.append(Column(name, kind, bool(spec.get("required", True))))
    if len({c.name for c in columns}) != len(columns):
        raise Unsupported("duplicate column names")
    return columns


def load_table_model(
    model: Any, specs: list[dict[str, Any]], example: Any
) -> tuple[TableModel, str]:
    """The fast model of a raw-table pipeline, checked against the model; else Unsupported."""
    from dataclasses import replace

    columns = table_columns(specs)
    arithmetic = table_arithmetic(model, columns)
    fast = TableModel(tuple(columns), arithmetic, 0)
    rows = probe_rows(fast, example)
    try:
        probes = verify_table(fast, model, rows)
    except Unsupported as first:  # the other memory layout, before giving up
        fast = TableModel(fast.columns, replace(arithmetic, order="F"), 0)
        try:
            probes = verify_table(fast, model, rows)
        except Unsupported:
            raise first from None
    fast = TableModel(fast.columns, fast.arithmetic, probes)
    return fast, f"{arithmetic.description} in numpy, same predictions as MLflow on {probes} rows"


# ---------------------------------------------------------------- the check at start-up


def probe_rows(fast: TableModel, example: Any) -> list[list[list[Any]]]:
    """Batches of raw rows as a JSON client sends them: the input example, then random rows
    with every known category, unknown text, empty text, nulls and gaps."""
    import numpy as np

    rng = np.random.default_rng(20240917)
    columns = fast.columns
    batches: list[list[list[Any]]] = []
    if example:
        batches.append(example)
    numbers: dict[int, tuple[float, float]] = {}
    for i in range(len(columns)):
        seen = [r[i] for r in example or [] if type(r[i]) in (int, float) and r[i] == r[i]]
        center = float(np.mean(seen)) if seen else 0.0
        spread = float(np.std(seen)) + 1.0 if len(seen) > 1 else 1.0
        numbers[i] = (center, spread)
    categories: dict[int, list[Any]] = {o.column: list(o.table) for o in fast.arithmetic.onehots}
    text = ["", "missing", "Missing", "None", UNKNOWN, "ñandú", "0", "nan"]

    def value(i: int, column: Column) -> Any:
        if column.kind == "string":
            known = categories.get(i, [])
            pick = rng.random()
            if pick < 0.1:
                return None
            if pick < 0.25 or not known:
                return text[int(rng.integers(len(text)))]
            return known[int(rng.integers(len(known)))]
        if column.kind == "boolean":
            return bool(rng.random() < 0.5)
        if column.kind == "double" and not column.required and rng.random() < 0.1:
            return None
        center, spread = numbers[i]
        x = center + spread * float(rng.normal())
        if column.kind == "long":
            return int(round(x))
        return float(round(x)) if rng.random() < 0.1 else x

    for n in (1, 2, 3, 7, 100, 1000, 3000):
        batches.append([[value(i, c) for i, c in enumerate(columns)] for _ in range(n)])
    nulls = [
        None if c.kind == "string" or (c.kind == "double" and not c.required) else value(i, c)
        for i, c in enumerate(columns)
    ]
    batches.append([nulls])
    batches.append([nulls, nulls])
    return batches


def model_frame(columns: tuple[Column, ...], rows: list[list[Any]], source: str) -> Any:
    """The DataFrame MLflow hands the model for these rows: pandas reads the rows (FRAME), or
    (COLUMNS: ``instances`` and ``inputs``) each value is converted to its column's type, a
    null in a text column becoming ``"None"``; then the signature's types are enforced."""
    import numpy as np
    import pandas as pd

    names = [c.name for c in columns]
    if source == COLUMNS:
        rows = [
            [
                "None" if v is None and c.kind == "string" else v
                for c, v in zip(columns, row, strict=True)
            ]
            for row in rows
        ]
    frame = pd.DataFrame(data=rows, columns=names)
    types = {"double": np.float64, "long": np.int64, "boolean": bool}
    for column in columns:
        if column.kind in types:
            frame[column.name] = frame[column.name].astype(types[column.kind])
    return frame


def verify_table(fast: TableModel, model: Any, batches: list[list[list[Any]]]) -> int:
    """The fast path against the model's own ``predict`` (and ``decision_function``) bit for
    bit on every batch of probe rows, through the fast path's own request handling;
    Unsupported at the first difference. Returns the rows compared."""
    import numpy as np

    arithmetic = fast.arithmetic
    names = list(fast.names)
    total = 0
    for rows, source in chain(((b, FRAME) for b in batches), ((b, COLUMNS) for b in batches)):
        frame = model_frame(fast.columns, rows, source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = model.predict(frame)
            scores = model.decision_function(frame) if arithmetic.classes is not None else want
        parsed = fast.rows([list(r) for r in rows], names, b"", source)
        got = fast.predict(parsed)
        if not same_bits(scores, got):
            raise Unsupported(f"numpy arithmetic differs from the model on {len(rows)} rows")
        body = arithmetic.answer(got)
        if not isinstance(want, np.ndarray) or body != mlflow_body(want):
            raise Unsupported(f"answers differ from the model's on {len(rows)} rows")
        total += len(rows)
    return total

"""Batch prediction: rows from a CSV or JSON-lines file (or a pipe) through a model, streamed.

Rows are read, checked, predicted and handed on ``chunk_rows`` at a time, so memory does not
depend on the length of the input and the first predictions are out before the last rows are
read. A JSON array (``[{...}, ...]``) has to be parsed whole; it is then predicted in chunks.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from ..config import Tracking
from ..data import check_no_missing, sniff_delimiter
from ..errors import DataError, first_line
from ..mlflow_errors import mlflow_errors

if TYPE_CHECKING:
    import pandas as pd

PREDICTION = "prediction"
DEFAULT_CHUNK_ROWS = 65_536  # a power of two: see predict_chunks
HEAD_CHARS = 64 * 1024  # read before parsing, to tell CSV from JSON and find the delimiter


class _Rejoined:
    """A text stream whose first part has already been read: ``head`` (ending at a line
    boundary), then the rest of ``stream``. Readable by pandas in chunks and by lines."""

    def __init__(self, head: str, stream: IO[str]) -> None:
        self._head = io.StringIO(head)
        self._stream = stream

    def read(self, size: int | None = -1) -> str:
        data = self._head.read(size)
        if size is None or size < 0:
            return data + self._stream.read()
        if len(data) < size:
            data += self._stream.read(size - len(data))
        return data

    def readline(self) -> str:
        return self._head.readline() or self._stream.readline()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def read_chunks(
    source: str | IO[str], chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """Rows from a CSV or JSON-lines file path, or an open text stream, ``chunk_rows`` at a
    time. The input is opened and its first bytes checked at the first ``next()``."""
    import pandas as pd

    if chunk_rows < 1:
        raise DataError(f"chunk size must be at least 1, got {chunk_rows}")
    label = source if isinstance(source, str) else "standard input"
    with _opened(source) as stream:
        head = _read_head(stream, label)
        if not head.strip():
            raise DataError(f"no rows in {label}")
        rest = _Rejoined(head, stream)
        start = head.lstrip()
        n_rows = 0
        try:
            chunks: Iterator[pd.DataFrame]
            if start.startswith("["):
                whole = pd.DataFrame(json.loads(rest.read()))
                chunks = (whole.iloc[i : i + chunk_rows] for i in range(0, len(whole), chunk_rows))
            elif start.startswith("{"):
                chunks = pd.read_json(rest, lines=True, chunksize=chunk_rows)
            else:
                chunks = pd.read_csv(rest, sep=sniff_delimiter(head), chunksize=chunk_rows)
            for chunk in chunks:
                if len(chunk):
                    n_rows += len(chunk)
                    yield chunk
        except UnicodeDecodeError as exc:
            raise DataError(f"cannot read {label}: not UTF-8 text") from exc
        except (ValueError, pd.errors.ParserError) as exc:
            raise DataError(
                f"cannot parse {label} as CSV or JSON lines: {first_line(exc)}"
            ) from exc
        if not n_rows:
            raise DataError(f"no rows in {label}")


class _opened:  # noqa: N801 (used as a context manager, like open)
    """A path opened as UTF-8 text (closed on exit), or a stream passed through (left open)."""

    def __init__(self, source: str | IO[str]) -> None:
        self._source = source
        self._handle: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        if not isinstance(self._source, str):
            return self._source
        try:
            self._handle = open(self._source, encoding="utf-8-sig")  # noqa: SIM115
        except OSError as exc:
            raise DataError(f"cannot read {self._source}: {exc.strerror or exc}") from exc
        return self._handle

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()


def _read_head(stream: IO[str], label: str) -> str:
    """The first ``HEAD_CHARS`` characters of ``stream``, completed to the end of a line."""
    try:
        head = stream.read(HEAD_CHARS)
        if len(head) == HEAD_CHARS and not head.endswith("\n"):
            head += stream.readline()
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot read {label}: not UTF-8 text") from exc
    except OSError as exc:
        raise DataError(f"cannot read {label}: {exc.strerror or exc}") from exc
    return head


def predict_chunks(
    model_uri: str,
    chunks: Iterator[pd.DataFrame],
    tracking: Tracking | None = None,
    with_inputs: bool = False,
) -> Iterator[pd.DataFrame]:
    """Predictions for each chunk of rows, as a frame with a ``prediction`` column (after the
    input columns when ``with_inputs``). Columns are checked against the model's signature.

    The first chunk is taken before the model is loaded, so bad input is reported first.
    Predictions are those of the whole input at once when chunks are a multiple of 8 rows:
    BLAS kernels sum rows in small blocks, and the last digit of a row's prediction can depend
    on where its block starts.
    """
    from .loading import download_model, load_model

    first = next(chunks, None)
    if first is None:
        return
    # The model is downloaded into a folder of our own and removed afterwards (loading a
    # remote URI directly leaves a copy in the temporary directory on every call).
    with tempfile.TemporaryDirectory(prefix="mlt-predict-") as folder:
        path, _ = download_model(model_uri, folder, tracking)
        model = load_model(path)
    columns = list(first.columns)
    if with_inputs and PREDICTION in columns:
        raise DataError(f"the input already has a column named {PREDICTION!r}")
    start = 0
    for chunk in _chain(first, chunks):
        if with_inputs and list(chunk.columns) != columns:
            chunk = _same_columns(chunk, columns, start)
        yield _predict_chunk(model, chunk, with_inputs, start)
        start += len(chunk)


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def _same_columns(chunk: pd.DataFrame, columns: list[str], start: int) -> pd.DataFrame:
    """A later chunk of JSON lines with the first chunk's columns (missing keys are empty);
    keys first seen there cannot be added to output already written."""
    new = [c for c in chunk.columns if c not in columns]
    if new:
        raise DataError(
            f"keys {', '.join(map(str, new))} first appear after row {start:,}; with "
            "--with-inputs every key must appear in the first rows"
        )
    return chunk.reindex(columns=columns)


def _predict_chunk(model: Any, rows: pd.DataFrame, with_inputs: bool, start: int) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    try:
        features = model_inputs(model, rows)
    except DataError as exc:
        if not start:
            raise
        where = f"rows {start + 1:,} to {start + len(rows):,}"
        raise DataError(f"{exc.message} (in {where})") from exc
    with mlflow_errors(prefix="the model rejected the input", error=DataError):
        predicted = model.predict(features)
    values = (
        predicted.iloc[:, 0] if hasattr(predicted, "iloc") and predicted.ndim == 2 else predicted
    )
    result = pd.DataFrame({PREDICTION: np.asarray(values)}, index=rows.index)
    return pd.concat([rows, result], axis=1) if with_inputs else result


def predict(
    model_uri: str,
    rows: pd.DataFrame,
    tracking: Tracking | None = None,
    with_inputs: bool = False,
) -> pd.DataFrame:
    """Predictions for ``rows`` as a DataFrame with a ``prediction`` column (after the input
    columns when ``with_inputs``). Columns are checked against the model's signature."""
    return next(predict_chunks(model_uri, iter([rows]), tracking, with_inputs))


def model_inputs(model: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """The signature's columns of ``rows``, read as the model was trained: whole numbers
    become floats where the model expects floats (MLflow's schema check refuses int64 for
    double), decimal-comma numbers (``3,5``) become floats, and string columns hold text
    (``True``/``False`` for booleans, ``7`` for a code read as a number), gaps as NaN. Gaps
    are refused in the columns the signature requires, unless the model imputes them."""
    import pandas as pd

    schema = model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        return rows
    names = schema.input_names()
    missing = [n for n in names if n not in rows.columns]
    if missing:
        raise DataError(f"input is missing columns the model needs: {', '.join(missing)}")
    features = rows[names].copy()
    not_numeric = []
    for spec in schema.inputs:
        kind = str(getattr(spec, "type", "")).lower()
        column = features[spec.name]
        if "string" in kind:
            features[spec.name] = _as_text(column)
            continue
        if not any(t in kind for t in ("double", "float", "long", "integer")):
            continue
        if column.isna().all():
            features[spec.name] = column.astype("float64")
            continue
        if ("double" in kind or "float" in kind) and not pd.api.types.is_numeric_dtype(column):
            column = _comma_numbers(column)
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            not_numeric.append(spec.name)
        elif ("double" in kind or "float" in kind) and not pd.api.types.is_float_dtype(column):
            features[spec.name] = column.astype("float64")
        else:
            features[spec.name] = column
    if not_numeric:
        raise DataError(f"input columns must be numeric; not numeric: {', '.join(not_numeric)}")
    if not _imputes(model):
        required = [s.name for s in schema.inputs if getattr(s, "required", True)]
        check_no_missing(features[required], "input")
    return features


def _imputes(model: Any) -> bool:
    """Whether the model fills gaps itself: a Pipeline that starts with a ColumnTransformer
    (as ``mlt train`` logs for tables with text, booleans or gaps)."""
    try:
        raw = model.get_raw_model()
    except Exception:  # not every flavor has a raw model: then gaps are the model's business
        return False
    steps: list[Any] = getattr(raw, "steps", None) or []
    return bool(steps) and type(steps[0][1]).__name__ == "ColumnTransformer"


def _as_text(column: pd.Series) -> pd.Series:
    """A string column as the model was trained on it: ``object`` holding ``str``, NaN gaps;
    booleans as ``True``/``False``, whole numbers without a ``.0``."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_float_dtype(column):
        whole = column.dropna()
        if len(whole) and (whole == whole.round()).all():
            column = column.astype("Int64")
    text = column.astype(object).map(str, na_action="ignore").astype(object)
    text[column.isna().to_numpy()] = np.nan
    return text


def _comma_numbers(column: pd.Series) -> pd.Series:
    """Text numbers with a decimal comma (``3,5``) as floats; other text unchanged."""
    import pandas as pd

    text = column.astype(object).map(
        lambda v: v.strip().replace(",", ".") if isinstance(v, str) else v
    )
    numbers = pd.to_numeric(text, errors="coerce")
    return numbers if (numbers.notna() | column.isna()).all() else column

"""Loading, validating and splitting the data a model is trained on.

The built-in data set is scikit-learn's bundled diabetes regression data, in its original
units, so ``mlt train`` works offline. Any CSV file or URL with a numeric target column can be
used instead; its delimiter (``,``, ``;``, tab or ``|``) is detected. What a CSV's columns
become (numeric or categorical features, refused columns, the task) is :mod:`.columns`.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .columns import ColumnReport, check_classes_split, parse_drop, prepare
from .errors import DataError, InvalidParameterError, first_line
from .names import DEFAULT_DATASET

if TYPE_CHECKING:
    import pandas as pd

BUILTIN_DATASETS = ("diabetes",)
_DELIMITERS = (",", ";", "\t", "|")
_URL_SCHEMES = ("http://", "https://", "file://")
MIN_ROWS_PER_SIDE = 2
HEAD_BYTES = 64 * 1024  # what is read as text to check a CSV and find its delimiter


@dataclass(frozen=True)
class Dataset:
    """A validated table: feature columns (numeric float64, categorical ``object`` str) plus
    one target column, and what was done to its columns."""

    name: str
    source: str
    frame: pd.DataFrame
    target: str
    report: ColumnReport | None = None

    @property
    def task(self) -> str:
        return self.report.task if self.report else "regression"

    @property
    def features(self) -> list[str]:
        return [c for c in self.frame.columns if c != self.target]

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 (scikit-learn's naming)
        return self.frame[self.features]

    @property
    def y(self) -> pd.Series:
        return self.frame[self.target]


@dataclass(frozen=True)
class Split:
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def load_dataset(
    dataset: str | None = DEFAULT_DATASET,
    path: str | None = None,
    target: str | None = None,
    drop: list[str] | None = None,
    task: str | None = None,
    decimal: str = ".",
) -> Dataset:
    """Load and validate a data set.

    ``path`` (a CSV file or URL) takes precedence over ``dataset`` (a built-in name). For a CSV
    the target defaults to a column named ``target``, else the last column. ``drop`` names
    columns to leave out; ``task`` (regression or classification) overrides what the target
    implies; ``decimal=","`` reads decimal commas (they are detected when unambiguous).
    """
    drop = parse_drop(drop)
    if decimal not in (".", ","):
        raise InvalidParameterError(f"decimal must be . or , (got {decimal!r})")
    if path:
        return _validate(*_read_csv(path, decimal), target=target, drop=drop, task=task)
    name = dataset or DEFAULT_DATASET
    if name not in BUILTIN_DATASETS:
        raise DataError(
            f"unknown built-in data set {name!r} (available: {', '.join(BUILTIN_DATASETS)}); "
            "use --data for a CSV file or URL"
        )
    return _validate(
        name,
        "sklearn.datasets.load_diabetes(scaled=False)",
        _load_diabetes(),
        target,
        drop=drop,
        task=task,
    )


def check_test_size(test_size: float) -> None:
    if not 0.0 < test_size < 1.0:
        raise InvalidParameterError(
            f"test size must be between 0 and 1 (exclusive), got {test_size}"
        )


def check_split(n_rows: int, test_size: float) -> tuple[int, int]:
    """Rows on each side of a train/test split, or an error if either side is too small."""
    check_test_size(test_size)
    n_test = math.ceil(test_size * n_rows)
    n_train = n_rows - n_test
    if n_train < MIN_ROWS_PER_SIDE or n_test < MIN_ROWS_PER_SIDE:
        raise DataError(
            f"too few rows to split: {n_rows} rows with test size {test_size} leaves "
            f"{n_train} for training and {n_test} for testing (need at least "
            f"{MIN_ROWS_PER_SIDE} on each side)"
        )
    return n_train, n_test


def split(data: Dataset, test_size: float, random_state: int | None) -> Split:
    """A reproducible train/test split, stratified by class for classification."""
    from sklearn.model_selection import train_test_split

    check_split(data.n_rows, test_size)
    stratify = None
    if data.task == "classification":
        check_classes_split(data.y, data.target, test_size)
        stratify = data.y
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=test_size, random_state=random_state, stratify=stratify
    )
    return Split(X_train, X_test, y_train, y_test)


def _load_diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
    return bunch.frame.astype("float64")


def _is_url(path: str) -> bool:
    return path.lower().startswith(_URL_SCHEMES)


def dataset_name_from(path: str) -> str:
    """A short, registry-friendly name for a file or URL: its stem in lower case."""
    stem = Path(path.split("?", 1)[0].rstrip("/")).stem or "data"
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "data"


def _read_csv(path: str, decimal: str = ".") -> tuple[str, str, pd.DataFrame]:
    """Parse a CSV file or URL. Only its first bytes are looked at as text (binary check,
    delimiter, header); pandas parses the rest straight from the file."""
    import pandas as pd

    body: str | io.BytesIO
    if _is_url(path):
        raw = _download(path)
        head, body, source = raw[:HEAD_BYTES], io.BytesIO(raw), path
    else:
        file = Path(path).expanduser()
        if not file.exists():
            raise DataError(f"data file not found: {path}")
        if not file.is_file():
            raise DataError(f"not a file: {path}")
        try:
            with file.open("rb") as handle:
                head = handle.read(HEAD_BYTES)
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
        body, source = str(file), str(file.resolve())
    if b"\x00" in head:
        raise DataError(f"{path} is not a text CSV file")
    text, encoding = _decode_head(head, whole=len(head) < HEAD_BYTES)
    if not text.strip():
        raise DataError(f"data file is empty: {path}")
    delimiter = sniff_delimiter(text)
    if decimal == delimiter:
        raise InvalidParameterError(
            f"--decimal {decimal} is also the delimiter of {path}; a decimal comma needs ; "
            "or tab between fields"
        )
    header = next(csv.reader(io.StringIO(text.lstrip("\r\n")), delimiter=delimiter), [])
    names = [name.strip() for name in header]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"duplicate column names in {path}: {', '.join(duplicates)}")
    try:
        try:
            frame = pd.read_csv(body, sep=delimiter, encoding=encoding, decimal=decimal)
        except UnicodeDecodeError:  # not UTF-8 after the first bytes
            if isinstance(body, io.BytesIO):
                body.seek(0)
            frame = pd.read_csv(body, sep=delimiter, encoding="latin-1", decimal=decimal)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DataError(f"cannot parse {path} as CSV: {first_line(exc)}") from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.attrs["delimiter"] = delimiter  # a ; file writes 1,234 for 1.234: see columns.py
    return dataset_name_from(path), source, frame


def _download(url: str) -> bytes:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (user's URL)
            return response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"cannot download {url}: {reason}") from exc


def _decode_head(head: bytes, whole: bool) -> tuple[str, str]:
    """The first bytes of a file as text, cut at the last complete line unless they are the
    whole file, and the encoding to parse it with (UTF-8, else Latin-1)."""
    if not whole and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    try:
        return head.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        return head.decode("latin-1"), "latin-1"


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text: the candidate that splits the header into the most
    fields, as long as the next lines agree (``,`` when nothing splits it)."""
    lines = [line for line in text[:HEAD_BYTES].splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    header, body = lines[0], lines[1:]
    best, best_fields = ",", 1
    for delimiter in _DELIMITERS:
        fields = header.count(delimiter) + 1
        consistent = all(line.count(delimiter) + 1 == fields for line in body[:5])
        if fields > best_fields and (consistent or not body):
            best, best_fields = delimiter, fields
    return best


def check_no_missing(frame: pd.DataFrame, name: str) -> None:
    """Missing values are an error naming each column with its count (nothing is imputed)."""
    missing = frame.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        counts = ", ".join(f"{col} ({int(n)})" for col, n in missing.items())
        raise DataError(
            f"missing values in {name}: {counts}; fill or drop them first (mlt does not impute)"
        )


def _validate(
    name: str,
    source: str,
    frame: pd.DataFrame,
    target: str | None,
    drop: list[str] | None = None,
    task: str | None = None,
) -> Dataset:
    import numpy as np
    import pandas as pd

    if frame.empty or len(frame.columns) == 0:
        raise DataError(f"{name} has no rows")
    if target is None:
        target = "target" if "target" in frame.columns else str(frame.columns[-1])
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise DataError(f"target column {target!r} not found in {name}; columns: {columns}")
    types = pd.api.types
    features = [c for c in frame.columns if c != target and c not in (drop or ())]
    plain = (
        not drop
        and task in (None, "regression")
        and bool(features)
        and all(
            types.is_numeric_dtype(frame[c]) and not types.is_bool_dtype(frame[c])
            for c in frame.columns
        )
        and not frame.isna().to_numpy().any()
    )
    if not plain:
        prepared, report = prepare(frame, name, str(target), drop, task)
        return Dataset(name, source, prepared, str(target), report)
    # The tutorial's case, all numbers without gaps: target last, everything float64, without
    # copying a frame that already is so.
    low, high = frame[target].min(), frame[target].max()
    if not low < high:  # one distinct value, or none
        raise DataError(f"target column {target!r} is constant in {name}: nothing to learn")
    ordered = [*features, target]
    numeric = frame if list(frame.columns) == ordered else frame[ordered]
    not_float = {c: "float64" for c in ordered if numeric[c].dtype != "float64"}
    if not_float:
        numeric = numeric.astype(not_float)
    infinite = [c for c in ordered if np.isinf(numeric[c].to_numpy()).any()]
    if infinite:
        raise DataError(f"infinite values in {name}: {', '.join(infinite)}")
    report = ColumnReport(
        task="regression", target=str(target), numeric=list(features), categorical=[]
    )
    return Dataset(name=name, source=source, frame=numeric, target=str(target), report=report)

"""Columns as they come: which feature columns are numbers and which are categories, which
ones cannot be features as they are, and what the target says about the task.

The rules (the README's "Columns" section says the same):

- a numeric column is a numeric feature: its gaps are imputed with the training median;
- a text or boolean column is a categorical feature (booleans as the strings ``"True"`` and
  ``"False"``): its gaps become the category ``"missing"``, categories seen in fewer than
  :data:`MIN_FREQUENCY` training rows are grouped, unknown ones are accepted when predicting;
- a text column of decimal-comma numbers (``3,5``) is numeric when that reading is
  unambiguous (or with ``decimal=","``), and is reported;
- refused with one line naming the column and ``--drop``: numbers written as text with stray
  words in them, dates, id-like text (a different value in most rows), a column empty in every
  row;
- rows whose target is missing are left out and counted;
- a text or boolean target means classification, a numeric one regression.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import DataError

if TYPE_CHECKING:
    import pandas as pd

TASKS = ("regression", "classification")
MIN_FREQUENCY = 5  # OneHotEncoder(min_frequency=): rarer categories are grouped
MISSING_CATEGORY = "missing"  # what a gap in a categorical column becomes
ID_MIN_DISTINCT = 20  # a text column with more distinct values than this and ...
ID_DISTINCT_SHARE = 0.5  # ... than this share of its rows is id-like
NUMBER_SHARE = 0.8  # a text column whose values are this share numbers is numbers-as-text
DATE_SHARE = 0.9
MAX_CLASSES = 100
SAMPLE = 1000  # values looked at to tell dates and numbers from text
BOOL_STRINGS = {True: "True", False: "False"}

_COMMA_NUMBER = re.compile(r"^\s*[+-]?(\d+(,\d*)?|,\d+)\s*$")
_DATE = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T]\d{1,2}:\d{2}.*)?\s*$"
)


@dataclass(frozen=True)
class ColumnReport:
    """What was done to the columns of a table before training (printed once, recorded in
    the run as ``columns.json``)."""

    task: str
    target: str
    numeric: list[str]
    categorical: list[str]
    boolean: list[str] = field(default_factory=list)
    decimal_comma: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    rows_without_target: int = 0
    gaps: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    grouped: dict[str, list[str]] = field(default_factory=dict)
    classes: list[Any] | None = None

    @property
    def plain(self) -> bool:
        """Numeric features only and no gaps: the tutorial's case."""
        return not self.categorical and not self.gaps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The report for people, a few lines (long lists cut)."""
        out = []
        if self.dropped:
            out.append(f"dropped (--drop): {_names(self.dropped)}")
        if self.rows_without_target:
            out.append(
                f"left out {self.rows_without_target:,} rows whose target "
                f"{self.target!r} is missing"
            )
        if self.decimal_comma:
            out.append(f"decimal comma read as a decimal point in: {_names(self.decimal_comma)}")
        if not self.plain:
            out.append(f"numeric (median-imputed, scaled): {_names(self.numeric) or 'none'}")
            described = [
                f"{c} ({self.categories.get(c, 0)} values"
                + (", boolean" if c in self.boolean else "")
                + (f", {len(self.grouped[c])} rare grouped" if self.grouped.get(c) else "")
                + ")"
                for c in self.categorical
            ]
            out.append(f"categorical (one-hot): {_names(described) or 'none'}")
        if self.gaps:
            out.append(
                "gaps imputed: "
                + _names([f"{c} ({n:,})" for c, n in self.gaps.items()])
                + f" (numeric: median; categorical: {MISSING_CATEGORY!r})"
            )
        if self.classes is not None:
            out.append(f"classification: {len(self.classes)} classes: {_names(self.classes)}")
        return out


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _names(values: list[Any], limit: int = 12) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def parse_drop(values: list[str] | tuple[str, ...] | None) -> list[str]:
    """``--drop`` values: repeated and/or comma-separated, blanks ignored, order kept."""
    names: list[str] = []
    for value in values or ():
        for name in value.split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return names


def prepare(
    frame: pd.DataFrame,
    name: str,
    target: str,
    drop: list[str] | None = None,
    task: str | None = None,
) -> tuple[pd.DataFrame, ColumnReport]:
    """The table as the model is fed it (features, then the target; numeric columns float64,
    categorical ones ``object`` holding ``str`` with NaN gaps) and what was done to it."""
    import pandas as pd

    drop = list(drop or [])
    if task is not None and task not in TASKS:
        raise DataError(f"unknown task {task!r} (use regression or classification)")
    for column in drop:
        if column == target:
            raise DataError(f"--drop {column}: {column!r} is the target column")
        if column not in frame.columns:
            raise DataError(
                f"--drop {column}: no column {column!r} in {name}; "
                f"columns: {', '.join(map(str, frame.columns))}"
            )
    features = [c for c in frame.columns if c != target and c not in drop]
    if not features:
        raise DataError(f"{name} has no feature columns besides the target {target!r}")

    y = frame[target]
    missing_target = y.isna().to_numpy()
    n_missing_target = int(missing_target.sum())
    if n_missing_target == len(frame):
        raise DataError(f"target column {target!r} is empty in every row of {name}")
    if n_missing_target:
        frame = frame.loc[~missing_target]
        y = frame[target]

    commas: list[str] = []  # columns read with a decimal comma
    comma_delimited = frame.attrs.get("delimiter", ",") == ","
    columns: dict[str, pd.Series] = {}
    numeric, categorical, boolean = [], [], []
    for column in features:
        series = frame[column]
        kind, converted = _feature(series, column, name, commas, comma_delimited)
        columns[column] = converted
        if kind == "numeric":
            numeric.append(column)
        else:
            categorical.append(column)
            if kind == "boolean":
                boolean.append(column)

    labels, task, classes = _target(y, target, name, task, commas, comma_delimited)
    prepared = pd.DataFrame(columns, index=frame.index)
    prepared[target] = labels
    gaps = {c: int(n) for c, n in prepared[features].isna().sum().items() if n}
    report = ColumnReport(
        task=task,
        target=target,
        numeric=numeric,
        categorical=categorical,
        boolean=boolean,
        decimal_comma=[c for c in commas if c in features or c == target],
        dropped=drop,
        rows_without_target=n_missing_target,
        gaps=gaps,
        categories={c: int(prepared[c].nunique()) for c in categorical},
        classes=classes,
    )
    return prepared.reset_index(drop=True), report


def _is_text(series: pd.Series) -> bool:
    import pandas as pd

    types = pd.api.types
    return types.is_object_dtype(series) or types.is_string_dtype(series)


def _feature(
    series: pd.Series, column: str, name: str, commas: list[str], comma_delimited: bool
) -> tuple[str, pd.Series]:
    """(kind, column as the model is fed it): kind is numeric, boolean or categorical."""
    import numpy as np
    import pandas as pd

    types = pd.api.types
    values = series.dropna()
    if values.empty:
        raise DataError(
            f"column {column!r} is empty in every row of {name}; leave it out with --drop {column}"
        )
    if types.is_bool_dtype(series) or (
        types.is_object_dtype(series) and values.map(type).isin([bool, np.bool_]).all()
    ):
        return "boolean", _strings(series.map(BOOL_STRINGS.get, na_action="ignore"))
    if types.is_numeric_dtype(series):
        converted = series.astype("float64")
        if np.isinf(converted.to_numpy()).any():
            raise DataError(f"infinite values in {name}: {column}")
        return "numeric", converted
    if not _is_text(series):
        raise DataError(
            f"column {column!r} of {name} has type {series.dtype}; leave it out with "
            f"--drop {column}"
        )
    text = values.astype(str)
    if _comma_numbers(text, comma_delimited):
        commas.append(column)
        return "numeric", _comma_to_float(series)
    sample = text.head(SAMPLE).str.strip()
    as_numbers = pd.to_numeric(sample, errors="coerce")
    with_commas = pd.to_numeric(sample.str.replace(",", ".", regex=False), errors="coerce")
    if max(as_numbers.notna().mean(), with_commas.notna().mean()) >= NUMBER_SHARE:
        if with_commas.notna().mean() > as_numbers.notna().mean():
            text = text.str.replace(",", ".", regex=False)
        bad = pd.to_numeric(text.str.strip(), errors="coerce").isna()
        if not bad.any():  # 1,234 between commas: a decimal comma or a thousands separator?
            raise DataError(
                f"column {column!r} of {name} holds numbers with a comma (e.g. "
                f"{values.iloc[0]!r}) in a comma-separated file: write them without thousands "
                f"separators, use ; between fields for a decimal comma, or leave it out with "
                f"--drop {column}"
            )
        raise DataError(
            f"column {column!r} of {name} is numbers written as text, but "
            f"{_count(int(bad.sum()), 'value is', 'values are')} not a number "
            f"(e.g. {text[bad].iloc[0]!r}); write gaps as empty cells "
            f"or NA, or leave it out with --drop {column}"
        )
    if sample.str.match(_DATE).mean() >= DATE_SHARE:
        raise DataError(
            f"column {column!r} of {name} holds dates (e.g. {sample.iloc[0]!r}), which mlt "
            f"does not turn into features; leave it out with --drop {column}"
        )
    distinct = text.nunique()
    if distinct > max(ID_MIN_DISTINCT, ID_DISTINCT_SHARE * len(text)):
        raise DataError(
            f"column {column!r} of {name} looks like an id or a name ({distinct:,} different "
            f"values in {len(text):,} rows); leave it out with --drop {column}"
        )
    return "categorical", _strings(series)


def _strings(series: pd.Series) -> pd.Series:
    """``object`` dtype holding ``str``, NaN for gaps (what the encoder is fed); values as
    written in the file (a client sends them the same way)."""
    import numpy as np
    import pandas as pd

    values = series.to_numpy(dtype=object, na_value=np.nan)
    if pd.api.types.infer_dtype(values, skipna=True) != "string":  # numbers among the text
        values = series.map(str, na_action="ignore").to_numpy(dtype=object, na_value=np.nan)
    return pd.Series(values, index=series.index, dtype=object, name=series.name)


def _comma_numbers(text: pd.Series, comma_delimited: bool) -> bool:
    """Whether every value is a number with a decimal comma (``3,5``), unambiguously: in a
    file with ``;`` or tab between fields (the convention where the comma is the decimal
    mark), or where some value has other than three digits after the comma (``1,234`` could
    be a thousands separator)."""
    sample = text.head(SAMPLE * 10)
    if not sample.str.match(_COMMA_NUMBER).all():
        return False
    with_comma = sample[sample.str.contains(",", regex=False)]
    if with_comma.empty:
        return False
    decimals = with_comma.str.strip().str.split(",").str[-1].str.len()
    if comma_delimited and (decimals == 3).all():
        return False
    return bool(text.str.match(_COMMA_NUMBER).all())


def _comma_to_float(series: pd.Series) -> pd.Series:
    import pandas as pd

    text = series.astype(object).where(series.notna(), None)
    return pd.to_numeric(
        text.map(lambda v: v.strip().replace(",", ".") if isinstance(v, str) else v),
        errors="raise",
    ).astype("float64")


def _target(
    y: pd.Series, target: str, name: str, task: str | None, commas: list[str], comma_delimited: bool
) -> tuple[pd.Series, str, list[Any] | None]:
    """(labels, task, classes): a text or boolean target is classification, a numeric one
    regression unless ``task`` says otherwise."""
    import numpy as np
    import pandas as pd

    types = pd.api.types
    is_bool = types.is_bool_dtype(y) or (
        types.is_object_dtype(y) and y.map(type).isin([bool, np.bool_]).all()
    )
    numeric = not is_bool and types.is_numeric_dtype(y)
    if (
        not numeric
        and not is_bool
        and _is_text(y)
        and _comma_numbers(y.astype(str), comma_delimited)
    ):
        commas.append(target)
        y, numeric = _comma_to_float(y), True
    if task is None:
        task = "regression" if numeric else "classification"
    if task == "regression":
        if not numeric:
            raise DataError(
                f"target column {target!r} is {'boolean' if is_bool else 'text'}: regression "
                "needs a numeric target (leave out --task regression to classify)"
            )
        y = y.astype("float64")
        if np.isinf(y.to_numpy()).any():
            raise DataError(f"infinite values in {name}: {target}")
        if not y.min() < y.max():
            raise DataError(f"target column {target!r} is constant in {name}: nothing to learn")
        return y, task, None
    if is_bool:
        labels = _strings(y.map(BOOL_STRINGS.get))
    elif numeric:
        values = y.to_numpy(dtype="float64")
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise DataError(
                f"target column {target!r} has numbers that are not whole: a classification "
                "target must be text, boolean or whole numbers"
            )
        labels = y.astype("int64")
    else:
        labels = _strings(y)
    counts = labels.value_counts()
    if len(counts) < 2:
        raise DataError(
            f"target column {target!r} has one class ({counts.index[0]!r}) in {name}: "
            "nothing to learn"
        )
    if len(counts) > MAX_CLASSES:
        raise DataError(
            f"target column {target!r} has {len(counts):,} classes (at most {MAX_CLASSES}); "
            "is it an id, or a number to predict with --task regression?"
        )
    classes = sorted(counts.index.tolist())
    return labels, task, [c.item() if hasattr(c, "item") else c for c in classes]


def grouped_categories(X: pd.DataFrame, categorical: list[str]) -> dict[str, list[str]]:  # noqa: N803
    """The categories of each column that the encoder groups as rare (fewer than
    :data:`MIN_FREQUENCY` rows of ``X``, gaps counted as ``"missing"``)."""
    grouped = {}
    for column in categorical:
        counts = X[column].fillna(MISSING_CATEGORY).value_counts()
        rare = sorted(str(v) for v in counts[counts < MIN_FREQUENCY].index)
        if rare:
            grouped[column] = rare
    return grouped


def check_classes_split(y: pd.Series, target: str, test_size: float) -> None:
    """Every class needs rows on both sides of a stratified split."""
    import math

    counts = y.value_counts()
    rare = counts[counts < 2]
    if len(rare):
        label = rare.index[0]
        raise DataError(
            f"class {label!r} of target {target!r} has 1 row; each class "
            "needs at least 2 rows for a stratified split"
            + (f" ({len(rare)} classes have fewer)" if len(rare) > 1 else "")
        )
    n_test = math.ceil(test_size * len(y))
    n_train = len(y) - n_test
    if n_test < len(counts) or n_train < len(counts):
        raise DataError(
            f"too few rows for a stratified split of {len(counts)} classes: test size "
            f"{test_size} leaves {n_train} rows for training and {n_test} for testing "
            "(each side needs a row of every class)"
        )

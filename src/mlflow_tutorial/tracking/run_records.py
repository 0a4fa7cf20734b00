"""What a run records about its data and its model, at a cost that does not grow with the data.

MLflow computes these records with Python-level loops over every value of a frame: the dataset
digest checks the type of every cell (to find string columns) and the dataset schema and the
model signature check every value for a missing one (to mark a column required). On a million
rows that is most of the cost of a training run. Here the same records come from what they
depend on:

- the digest hashes the first ``MAX_ROWS`` rows, the row count and the column names (MLflow's
  own definition); only the string-column check looked further, and pandas tells which
  columns hold only strings without a Python loop;
- the schema and the signature depend on the columns, their types and whether a column has
  missing values: a sample of rows with, for each column that has a gap, a row with one gives
  the same schema as the whole frame (loaded data has one type per column).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ..data import Dataset

SAMPLE_ROWS = 100  # rows a schema or signature is inferred from


def pandas_digest(frame: pd.DataFrame) -> str:
    """``mlflow.data.from_pandas(frame).digest``, without a Python pass over every cell.

    MLflow keeps the number columns and the columns whose every cell is a ``str`` (it checks
    ``type(cell) == str`` cell by cell); here pandas' C-level ``infer_dtype`` tells the same
    for each text column without gaps (``"string"``: every value a str).
    """
    import numpy as np
    import pandas as pd
    from mlflow.data.digest_utils import MAX_ROWS, get_normalized_md5_digest

    types = pd.api.types
    trimmed = frame.head(MAX_ROWS)
    strings = [
        c
        for c in frame.columns
        if (types.is_object_dtype(frame[c]) or types.is_string_dtype(frame[c]))
        and not frame[c].isna().to_numpy().any()  # a gap is a float: not a string column
        and types.infer_dtype(frame[c], skipna=False) == "string"
    ]
    numeric = trimmed.select_dtypes(include=[np.number]).columns
    kept = trimmed.columns[[False] * len(trimmed.columns)].union(pd.Index(strings)).union(numeric)
    return get_normalized_md5_digest(
        [pd.util.hash_pandas_object(trimmed[kept]).values, np.int64(len(frame))]
        + [str(x).encode() for x in frame.columns]
    )


def dataset_input(data: Dataset) -> Any:
    """The MLflow dataset of ``data`` (a ``PandasDataset``: name, source, targets, digest,
    schema, profile), with its digest and schema computed as above."""
    import warnings

    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.types.utils import _infer_schema

    with warnings.catch_warnings():
        # "source can be interpreted in multiple ways": both readings are the same class.
        warnings.simplefilter("ignore", UserWarning)
        dataset = from_pandas(
            data.frame,
            source=data.source,
            targets=data.target,
            name=data.name,
            digest=pandas_digest(data.frame),
        )
    # PandasDataset.schema is a cached property: setting it is what computing it stores.
    dataset.schema = _infer_schema(sample_rows(data.frame))
    return dataset


def sample_signature(model: Any, X: pd.DataFrame) -> Any:  # noqa: N803 (scikit-learn's naming)
    """The model signature MLflow infers from ``X`` and ``model.predict(X)``, from
    :func:`sample_rows` of ``X``."""
    from mlflow.models import infer_signature

    sample = sample_rows(X)
    return infer_signature(sample, model.predict(sample))


def sample_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The first ``SAMPLE_ROWS`` rows, plus the first row with a gap in each column that has
    one: the schema inferred from it (types, and which columns are optional) is the whole
    frame's, as long as each column holds one type (as loaded data does)."""
    sample = frame.head(SAMPLE_ROWS)
    gaps = frame.isna()
    columns = [c for c in frame.columns if gaps[c].any() and not sample[c].isna().any()]
    if not columns:
        return sample
    extra = sorted({int(gaps[c].to_numpy().argmax()) for c in columns})
    return frame.iloc[[*range(len(sample)), *extra]]

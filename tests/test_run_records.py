"""The dataset and model records of a run are what MLflow computes on the whole frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.data.digest_utils import MAX_ROWS
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature

from mlflow_tutorial.data import load_dataset, split
from mlflow_tutorial.tracking.run_records import dataset_input, pandas_digest, sample_signature
from mlflow_tutorial.tracking.training import build_pipeline


def _frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(rows)
    frame = pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b b", "c", "target"])
    frame["n"] = rng.integers(0, 100, size=rows)
    return frame


@pytest.mark.parametrize("rows", [3, 442, MAX_ROWS, MAX_ROWS + 2_500])
def test_digest_is_mlflows(rows: int) -> None:
    frame = _frame(rows)
    assert pandas_digest(frame) == from_pandas(frame).digest


def test_digest_tells_frames_apart_beyond_the_hashed_rows() -> None:
    frame = _frame(MAX_ROWS + 10)
    assert pandas_digest(frame) != pandas_digest(frame.head(MAX_ROWS + 9))
    assert pandas_digest(frame) != pandas_digest(frame.rename(columns={"a": "A"}))


def test_digest_of_a_frame_with_text_is_mlflows() -> None:
    frame = _frame(50)
    mixed: list[object] = [f"row {i}" for i in range(50)]
    mixed[7] = 3  # a column that is not all strings
    frame["name"] = pd.Series(mixed, dtype=object)
    frame["label"] = "x"
    assert pandas_digest(frame) == from_pandas(frame).digest


def _big_csv(tmp_path: Path, rows: int) -> Path:
    frame = _frame(rows).drop(columns="n")
    path = tmp_path / "big data.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("rows", [40, MAX_ROWS + 2_500])
def test_dataset_input_records_what_mlflow_records(tmp_path: Path, rows: int) -> None:
    data = load_dataset(path=str(_big_csv(tmp_path, rows)))
    ours = dataset_input(data)
    theirs = from_pandas(data.frame, source=data.source, targets=data.target, name=data.name)
    assert ours.to_dict() == theirs.to_dict()  # name, digest, source, schema, profile
    assert ours.to_dict()["digest"] == from_pandas(data.frame).digest
    assert ours.targets == "target"


def test_dataset_input_of_the_builtin_data() -> None:
    data = load_dataset()
    theirs = from_pandas(data.frame, source=data.source, targets=data.target, name=data.name)
    assert dataset_input(data).to_dict() == theirs.to_dict()


def test_signature_from_a_sample_is_the_whole_frames(tmp_path: Path) -> None:
    data = load_dataset(path=str(_big_csv(tmp_path, 600)))
    parts = split(data, 0.25, 1)
    model = build_pipeline(0.1, 0.5, True, 1).fit(parts.X_train, parts.y_train)
    whole = infer_signature(parts.X_train, model.predict(parts.X_train))
    assert sample_signature(model, parts.X_train).to_dict() == whole.to_dict()


class RowMean:
    """A model that takes missing values (ElasticNet refuses them)."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return X.mean(axis=1).to_numpy()


def test_signature_with_missing_values_marks_columns_optional() -> None:
    X = _frame(300)
    X.loc[250, "b b"] = np.nan  # past the sample: the whole frame has to be looked at
    signature = sample_signature(RowMean(), X)
    assert signature.to_dict() == infer_signature(X, RowMean().predict(X)).to_dict()
    assert not signature.inputs.to_dict()[1]["required"]


def test_a_training_run_records_what_mlflow_computes_on_the_whole_frame(tmp_path: Path) -> None:
    """Dataset digest, schema and profile, model signature and input example of a real run."""
    import json

    import mlflow
    from mlflow.models import Model

    from mlflow_tutorial.tracking.training import TrainOptions, train

    path = _big_csv(tmp_path, MAX_ROWS + 500)
    result = train(0.1, 0.5, TrainOptions(data=str(path), plots=False))
    data = load_dataset(path=str(path))
    parts = split(data, 0.25, 42)

    logged = mlflow.MlflowClient().get_run(result.run_id).inputs.dataset_inputs[0].dataset
    theirs = from_pandas(data.frame, source=data.source, targets=data.target, name=data.name)
    assert (logged.name, logged.digest) == (data.name, theirs.digest)
    assert json.loads(logged.schema) == json.loads(theirs.to_dict()["schema"])
    assert json.loads(logged.profile) == theirs.profile

    model = mlflow.sklearn.load_model(result.model_uri)
    whole = infer_signature(parts.X_train, model.predict(parts.X_train))
    info = Model.load(result.model_uri)
    assert info.signature.to_dict() == whole.to_dict()
    example = info.load_input_example(mlflow.artifacts.download_artifacts(result.model_uri))
    pd.testing.assert_frame_equal(
        example.reset_index(drop=True), parts.X_train.head(5).reset_index(drop=True)
    )

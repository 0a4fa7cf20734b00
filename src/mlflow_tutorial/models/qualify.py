"""Which model the fast path takes: :func:`check_model` reads a model directory the way
``mlflow.sklearn`` does and hands it to :mod:`.fastpath` (a linear regressor behind scalers, on
numeric columns) or :mod:`.fastpath_tables` (a raw-table pipeline), each of which checks its
numpy arithmetic against the model's own ``predict``. Anything else, or any doubt, and the fast
path stays off.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from .fastpath import FastModel, Unsupported, linear_arithmetic, verify
from .fastpath_tables import load_table_model


@dataclass(frozen=True)
class ModelCheck:
    """The outcome of the start-up check: a fast model, or why there is none."""

    model: Any  # a FastModel, a TableModel, or None
    reason: str

    def describe(self) -> str:
        if self.model is None:
            return f"fast path off ({self.reason}): every request goes to MLflow's handler"
        return f"fast path on: {self.reason}"


def check_model(path: str) -> ModelCheck:
    """Load the model at ``path`` for the fast path if it qualifies; never raises."""
    try:
        return ModelCheck(*_load_fast_model(path))
    except Unsupported as exc:
        return ModelCheck(None, str(exc))
    except Exception as exc:  # any doubt: MLflow's handler serves everything
        return ModelCheck(None, f"{type(exc).__name__}: {str(exc)[:200]}")


def _load_fast_model(path: str) -> tuple[Any, str]:
    import yaml

    with open(os.path.join(path, "MLmodel"), encoding="utf-8") as handle:
        meta = yaml.safe_load(handle)
    flavors = meta.get("flavors") or {}
    pyfunc, sklearn = flavors.get("python_function") or {}, flavors.get("sklearn") or {}
    if pyfunc.get("loader_module") != "mlflow.sklearn" or not sklearn:
        raise Unsupported("not a scikit-learn model")
    if pyfunc.get("predict_fn", "predict") != "predict" or sklearn.get("code"):
        raise Unsupported("a custom predict function or code")
    if sklearn.get("serialization_format") not in ("skops", "cloudpickle", "pickle"):
        raise Unsupported(f"{sklearn.get('serialization_format')} serialization")
    if meta.get("is_signature_from_type_hint") or meta.get("metadata"):
        raise Unsupported("a type-hint signature or model metadata")
    if os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true").lower() not in ("true", "1"):
        raise Unsupported("model deserialization is disallowed")
    signature = meta.get("signature") or {}
    if not signature.get("inputs") or signature.get("params"):
        raise Unsupported("no column signature, or params")
    specs = json.loads(signature["inputs"])
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise Unsupported("a signature other than columns")
    names = [spec.get("name") for spec in specs]
    model = _load_sklearn(path, sklearn)
    if _is_table_pipeline(model):
        return load_table_model(model, specs, _input_example(path, meta, names, raw=True))
    kinds = {spec.get("type") for spec in specs}
    if (
        not kinds <= {"double", "long", "integer"}
        or not all(isinstance(n, str) for n in names)
        or len(set(names)) != len(names)
        or not all(spec.get("required", True) for spec in specs)
        or any(set(spec) - {"type", "name", "required"} for spec in specs)
    ):
        raise Unsupported("a signature other than required numeric columns")
    arithmetic = linear_arithmetic(model, len(names))
    longs = frozenset(s["name"] for s in specs if s["type"] != "double")
    example = _input_example(path, meta, names)
    fast = FastModel(tuple(names), longs, arithmetic, 0)
    probes = verify(fast, model, example)
    fast = FastModel(fast.names, longs, arithmetic, probes)
    return fast, f"{arithmetic.description} in numpy, same predictions as MLflow on {probes} rows"


def _load_sklearn(path: str, sklearn: dict[str, Any]) -> Any:
    """The model object, loaded the way ``mlflow.sklearn`` loads it."""
    file = os.path.join(path, sklearn["pickled_model"])
    if sklearn["serialization_format"] == "skops":
        import skops.io

        return skops.io.load(file, trusted=sklearn.get("skops_trusted_types"))
    import pickle

    with open(file, "rb") as handle:
        return pickle.load(handle)  # noqa: S301 - what mlflow.sklearn itself does


def _is_table_pipeline(model: Any) -> bool:
    """A pipeline that starts with a ``ColumnTransformer`` (raw columns of any type)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    return type(model) is Pipeline and type(model.steps[0][1]) is ColumnTransformer


def _input_example(
    path: str, meta: dict[str, Any], names: list[Any], raw: bool = False
) -> list[list[Any]]:
    """The rows of the model's input example (pandas split format), if there is one, in the
    signature's column order: as floats, or ``raw`` as the JSON holds them."""
    info = meta.get("saved_input_example_info") or {}
    if info.get("type") != "dataframe" or info.get("pandas_orient") != "split":
        return []
    try:
        with open(os.path.join(path, info["artifact_path"]), encoding="utf-8") as handle:
            example = json.load(handle)
        columns = example["columns"]
        rows = [[row[columns.index(name)] for name in names] for row in example["data"]]
        if raw:  # gaps as a JSON client sends them
            return [[None if v != v else v for v in row] for row in rows]
        return [[float(v) for v in row] for row in rows]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return []

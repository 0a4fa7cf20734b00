"""Two runs side by side (``mlt diff``): params, metrics, data set, signature columns, tags.

MLflow's CLI has no such command (Guild has ``guild diff``, DVC ``dvc exp diff``); its UI
compares runs, but not their data sets' digests or their models' columns.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import Tracking
from ..errors import RunNotFoundError
from ..mlflow_errors import mlflow_errors
from ..names import TAG_MODEL_URI
from .runs import resolve_run_id, signature_columns, training_dataset

# MLflow's bookkeeping tags that say nothing about how two runs differ (the run name is shown
# as run.name; the logged-model history is a JSON blob of the model tag).
HIDDEN_TAGS = frozenset({"mlflow.runName", "mlflow.log-model.history"})


@dataclass(frozen=True)
class DiffRow:
    """One field of the two runs: ``params.alpha``, ``metrics.rmse``, ``dataset.digest``..."""

    field: str
    a: Any
    b: Any
    differs: bool


@dataclass(frozen=True)
class RunDiff:
    run_a: str
    run_b: str
    rows: list[DiffRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def diff_runs(tracking: Tracking, run_a: str, run_b: str, show_all: bool = False) -> RunDiff:
    """The fields of two runs (full or short ids) that differ, or all of them."""
    id_a, id_b = resolve_run_id(tracking, run_a), resolve_run_id(tracking, run_b)
    client = tracking.client(create=False)
    fields_a, fields_b = _fields(client, id_a), _fields(client, id_b)
    names = list(dict.fromkeys([*fields_a, *fields_b]))
    names.sort(key=_order)
    rows = []
    for name in names:
        a, b = fields_a.get(name), fields_b.get(name)
        differs = a != b
        if differs or show_all:
            rows.append(DiffRow(name, a, b, differs))
    return RunDiff(id_a, id_b, rows)


SECTIONS = ("run", "params", "metrics", "dataset", "signature", "tags")


def _order(name: str) -> tuple[int, str]:
    section = name.split(".", 1)[0]
    return (SECTIONS.index(section) if section in SECTIONS else len(SECTIONS), name)


def _fields(client: Any, run_id: str) -> dict[str, Any]:
    with mlflow_errors(f"run {run_id}", not_found=RunNotFoundError):
        run = client.get_run(run_id)
    out: dict[str, Any] = {
        "run.name": run.info.run_name,
        "run.status": run.info.status,
        "run.experiment_id": run.info.experiment_id,
    }
    out.update({f"params.{k}": v for k, v in run.data.params.items()})
    out.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
    dataset = training_dataset(run)
    if dataset is not None:
        out.update(
            {
                "dataset.name": dataset.name,
                "dataset.digest": dataset.digest,
                "dataset.rows": dataset.rows,
                "dataset.source": dataset.source,
            }
        )
    model_uri = run.data.tags.get(TAG_MODEL_URI)
    if model_uri:
        columns = signature_columns(model_uri)
        out["signature.columns"] = ", ".join(columns) if columns is not None else None
    out.update({f"tags.{k}": v for k, v in run.data.tags.items() if k not in HIDDEN_TAGS})
    return out

"""Run ids as people type them: the 8-character short ids that mlt's tables show.

A full id (32 hex characters) is taken as it is. A shorter hex prefix (at least
:data:`MIN_PREFIX` characters) names the one run of the experiment whose id starts with it;
the store finds it (``attributes.run_id LIKE 'prefix%'``), so the cost does not grow with the
experiment.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..config import Tracking
from ..errors import ExperimentNotFoundError, InvalidParameterError, RunNotFoundError
from ..mlflow_errors import Access, mlflow_errors
from ..names import DEFAULT_TASK, TAG_TASK

CONTEXT_TAG = "mlflow.data.context"  # MLflow's tag on a dataset input: training, eval...

FULL_ID = re.compile(r"^[0-9a-f]{32}$")
PREFIX = re.compile(r"^[0-9a-f]+$")
MIN_PREFIX = 4
SHOWN_CANDIDATES = 5


def get_experiment_id(tracking: Tracking) -> str:
    """The id of the tracking configuration's experiment, or an error naming it (or saying
    that the store does not exist yet: reading creates nothing)."""
    client = tracking.client(create=False)
    read = Access("read", f"experiment {tracking.experiment!r}", "READ")
    with mlflow_errors(access=read):
        experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is None:
        raise ExperimentNotFoundError(
            f"experiment {tracking.experiment!r} not found in {tracking.uri}"
        )
    return experiment.experiment_id


def resolve_run_id(tracking: Tracking, run_id: str) -> str:
    """The full id of the run ``run_id`` names: itself when full, else the one run of the
    experiment whose id starts with it. Unknown and ambiguous prefixes are one-line errors."""
    value = (run_id or "").strip().lower()
    if FULL_ID.match(value):
        return value
    if not PREFIX.match(value) or len(value) > 32:
        raise RunNotFoundError(f"not a run id: {run_id!r}")
    if len(value) < MIN_PREFIX:
        raise InvalidParameterError(
            f"run id prefix {run_id!r} is too short: give at least {MIN_PREFIX} characters"
        )
    experiment_id = get_experiment_id(tracking)
    with mlflow_errors():
        runs = tracking.client(create=False).search_runs(
            [experiment_id],
            filter_string=f"attributes.run_id LIKE '{value}%'",
            max_results=SHOWN_CANDIDATES + 1,
            order_by=["attributes.start_time DESC"],
        )
    ids = [run.info.run_id for run in runs]
    if not ids:
        raise RunNotFoundError(
            f"no run id starts with {value!r} in experiment {tracking.experiment!r}"
        )
    if len(ids) > 1:
        shown = ", ".join(ids[:SHOWN_CANDIDATES]) + (", ..." if len(ids) > SHOWN_CANDIDATES else "")
        raise InvalidParameterError(
            f"run id {value!r} is ambiguous in experiment {tracking.experiment!r}: {shown}"
        )
    return ids[0]


def expand_run_uri(tracking: Tracking, model_uri: str) -> str:
    """``runs:/<short id>/path`` with the run's full id (other URIs as they are)."""
    match = re.match(r"^runs:/([^/]+)(/.*)?$", model_uri)
    if not match or FULL_ID.match(match.group(1)):
        return model_uri
    return f"runs:/{resolve_run_id(tracking, match.group(1))}{match.group(2) or ''}"


@dataclass(frozen=True)
class RunDataset:
    """The data set a run was trained on, as its MLflow dataset input records it."""

    name: str
    digest: str
    source: str | None
    rows: int | None


def training_dataset(run: Any) -> RunDataset | None:
    """The run's dataset input of context ``training`` (its only one, else the first)."""
    inputs = list(getattr(run.inputs, "dataset_inputs", None) or [])
    if not inputs:
        return None
    chosen = next(
        (
            i
            for i in inputs
            if any(t.key == CONTEXT_TAG and t.value == "training" for t in i.tags or [])
        ),
        inputs[0],
    )
    dataset = chosen.dataset
    return RunDataset(
        name=dataset.name,
        digest=dataset.digest,
        source=_json_field(dataset.source, "uri"),
        rows=_json_field(dataset.profile, "num_rows"),
    )


def run_task(run: Any) -> str:
    """What the run's model does: its ``task`` param (or ``mlt.task`` tag), else regression
    (every run mlt trained before tasks were recorded)."""
    return run.data.params.get("task") or run.data.tags.get(TAG_TASK) or DEFAULT_TASK


def signature_columns(model_uri: str) -> list[str] | None:
    """The input columns of a logged model's signature (None without a signature). Reads the
    MLmodel file only; the model itself is not downloaded."""
    from mlflow.models import get_model_info

    with mlflow_errors(prefix=f"cannot read the model {model_uri}", also=(OSError,)):
        signature = get_model_info(model_uri).signature
    if signature is None or signature.inputs is None:
        return None
    return list(signature.inputs.input_names())


def _json_field(text: str | None, key: str) -> Any:
    try:
        return json.loads(text or "{}").get(key)
    except (ValueError, AttributeError):
        return None

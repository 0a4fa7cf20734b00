"""Comparing the runs of an experiment and picking the best one.

Sorting and limiting are pushed down to MLflow's ``search_runs`` (``order_by`` and
``max_results``), so ``--top 5`` on a store with thousands of runs fetches five.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..config import Tracking
from ..errors import ExperimentNotFoundError, InvalidParameterError, RunNotFoundError
from ..mlflow_errors import mlflow_errors
from ..names import TAG_DATASET, TAG_MODEL_URI, TAG_SWEEP
from .params import iso_time, typed_params

METRICS = ("rmse", "mae", "r2")
HIGHER_IS_BETTER = frozenset({"r2"})
_PAGE = 1000


@dataclass(frozen=True)
class RunSummary:
    """A run as ``mlt compare`` shows it."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: str | None  # ISO 8601
    params: dict[str, Any]  # typed as mlt logged them (see params.py)
    metrics: dict[str, float]
    dataset: str | None = None
    sweep_id: str | None = None
    model_uri: str | None = None

    def __post_init__(self) -> None:
        # MLflow's strings back to the types train reports, however the summary was made.
        object.__setattr__(self, "params", typed_params(self.params))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sort_direction(metric: str) -> str:
    """``DESC`` for metrics where higher is better (r2), ``ASC`` for errors."""
    return "DESC" if metric in HIGHER_IS_BETTER else "ASC"


def get_experiment_id(tracking: Tracking) -> str:
    """The id of the tracking configuration's experiment, or an error naming it (or saying
    that the store does not exist yet: reading creates nothing)."""
    client = tracking.client(create=False)
    with mlflow_errors():
        experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is None:
        raise ExperimentNotFoundError(
            f"experiment {tracking.experiment!r} not found in {tracking.uri}"
        )
    return experiment.experiment_id


def compare_runs(
    tracking: Tracking | None = None,
    metric: str = "rmse",
    top: int | None = None,
    filter_string: str | None = None,
) -> list[RunSummary]:
    """The experiment's runs, best first by ``metric``; runs without it come last."""
    tracking = tracking or Tracking.resolve()
    _check_metric(metric)
    if top is not None and top < 1:
        raise InvalidParameterError(f"--top must be at least 1, got {top}")
    experiment_id = get_experiment_id(tracking)
    runs = [
        summarize(run) for run in _search(tracking, experiment_id, metric, top, filter_string or "")
    ]
    if runs and not any(metric in run.metrics for run in runs):
        seen = sorted({name for run in runs for name in run.metrics})
        raise InvalidParameterError(
            f"no run has metric {metric!r}; metrics found: {', '.join(seen) or 'none'}"
        )
    return runs


def best_run(
    tracking: Tracking | None = None,
    metric: str = "rmse",
    filter_string: str | None = None,
    dataset: str | None = None,
) -> RunSummary:
    """The finished run with the best ``metric`` among the experiment's runs on ``dataset``.

    Runs on different data sets do not compete: by default the data set is the newest
    finished run's (its ``mlt.dataset`` tag; runs without one compete with every run).
    """
    tracking = tracking or Tracking.resolve()
    _check_metric(metric)
    experiment_id = get_experiment_id(tracking)
    conditions = [c for c in (filter_string, "attributes.status = 'FINISHED'") if c]
    if dataset is None:
        dataset = newest_dataset(tracking, experiment_id, " and ".join(conditions))
    if dataset:
        conditions.append(dataset_filter(dataset))
    runs = _search(tracking, experiment_id, metric, 1, " and ".join(conditions))
    if not runs or metric not in runs[0].data.metrics:
        on = f" on data set {dataset!r}" if dataset else ""
        raise RunNotFoundError(
            f"no finished run with metric {metric!r}{on} in experiment {tracking.experiment!r}; "
            "train one with `mlt train`"
        )
    return summarize(runs[0])


def newest_dataset(tracking: Tracking, experiment_id: str, filter_string: str = "") -> str | None:
    """The data set of the newest run matching ``filter_string`` (None if it has none)."""
    with mlflow_errors():
        newest = tracking.client().search_runs(
            [experiment_id],
            filter_string=filter_string,
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
    return newest[0].data.tags.get(TAG_DATASET) if newest else None


def dataset_filter(dataset: str) -> str:
    """An MLflow search filter for the runs mlt trained on ``dataset``."""
    if "'" in dataset:
        raise InvalidParameterError(f"data set names cannot contain quotes: {dataset!r}")
    return f"tags.`{TAG_DATASET}` = '{dataset}'"


def differing_params(runs: Sequence[RunSummary]) -> list[str]:
    """Param names whose values are not the same in every run (all of them for one run)."""
    names = sorted({name for run in runs for name in run.params})
    if len(runs) < 2:
        return names
    return [n for n in names if len({run.params.get(n) for run in runs}) > 1]


def summarize(run: Any) -> RunSummary:
    tags = run.data.tags
    return RunSummary(
        run_id=run.info.run_id,
        run_name=run.info.run_name,
        experiment_id=run.info.experiment_id,
        status=run.info.status,
        start_time=iso_time(run.info.start_time),
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        dataset=tags.get(TAG_DATASET),
        sweep_id=tags.get(TAG_SWEEP),
        model_uri=tags.get(TAG_MODEL_URI),
    )


def _check_metric(metric: str) -> None:
    if not metric or "`" in metric or not metric.isprintable():
        raise InvalidParameterError(f"invalid metric name {metric!r}")


def _search(
    tracking: Tracking, experiment_id: str, metric: str, limit: int | None, filter_string: str
) -> list[Any]:
    client = tracking.client()
    order_by = [f"metrics.`{metric}` {sort_direction(metric)}", "attributes.start_time DESC"]
    runs: list[Any] = []
    token = None
    while True:
        page_size = min(limit - len(runs), _PAGE) if limit else _PAGE
        with mlflow_errors():
            page = client.search_runs(
                [experiment_id],
                filter_string=filter_string,
                order_by=order_by,
                max_results=page_size,
                page_token=token,
            )
        runs.extend(page)
        token = page.token
        if not token or (limit and len(runs) >= limit):
            return runs

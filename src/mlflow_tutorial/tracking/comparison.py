"""Comparing the runs of an experiment and picking the best one.

The best few (``--top N``, the best run) come from MLflow's ordered ``search_runs`` with
``max_results=N``: one query, N runs fetched. The whole listing is searched without
``order_by`` and sorted here, in MLflow's own order (:func:`mlflow_order`). On SQL stores an
ordered search re-runs the sorted join for every page it returns (about 3 s a page of 1,000 at
10,000 runs on SQLite), while unordered pages are cheap.

Each task has its metrics and a default one to rank by: ``rmse`` for regression, ``log_loss``
for classification (a proper score that uses the predicted probabilities, so it separates runs
that accuracy on a small test set would tie). A metric belongs to one task, so runs of another
task never compete; without ``--metric``, the newest run's task decides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..config import Tracking
from ..errors import InvalidParameterError, RunNotFoundError
from ..mlflow_errors import mlflow_errors
from ..names import TAG_DATASET, TAG_MODEL_URI, TAG_SWEEP, TAG_TASK
from .params import iso_time, typed_params
from .runs import get_experiment_id, resolve_run_id

METRICS_BY_TASK = {
    "regression": ("rmse", "mae", "r2"),
    "classification": ("accuracy", "f1_macro", "log_loss", "roc_auc"),
}
DEFAULT_METRICS = {"regression": "rmse", "classification": "log_loss"}
METRICS = tuple(m for metrics in METRICS_BY_TASK.values() for m in metrics)
HIGHER_IS_BETTER = frozenset({"r2", "accuracy", "f1_macro", "roc_auc"})
# Runs per search_runs call: what mlflow.search_runs asks for on every store (the server
# accepts up to 50,000); on a store that allows fewer, pages still follow their tokens.
_PAGE = 10_000


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
    """``DESC`` for metrics where higher is better (r2, accuracy, f1_macro, roc_auc), ``ASC``
    for errors and losses."""
    return "DESC" if metric in HIGHER_IS_BETTER else "ASC"


def run_default_metric(tracking: Tracking, run_id: str) -> str:
    """The default metric of the task of run ``run_id`` (a short id too), in any experiment
    when the id is whole."""
    full = resolve_run_id(tracking, run_id)
    with mlflow_errors(f"run {run_id}", not_found=RunNotFoundError):
        run = tracking.client(create=False).get_run(full)
    return DEFAULT_METRICS[run.data.tags.get(TAG_TASK, "regression")]


def default_metric(tracking: Tracking | None = None, filter_string: str = "") -> str:
    """The metric to rank by when none is given: the default of the newest run's task
    (``mlt.task`` tag; runs without one are regression)."""
    tracking = tracking or Tracking.resolve()
    with mlflow_errors():
        newest = tracking.client(create=False).search_runs(
            [get_experiment_id(tracking)],
            filter_string=filter_string,
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
    task = newest[0].data.tags.get(TAG_TASK, "regression") if newest else "regression"
    return DEFAULT_METRICS.get(task, DEFAULT_METRICS["regression"])


def compare_runs(
    tracking: Tracking | None = None,
    metric: str | None = None,
    top: int | None = None,
    filter_string: str | None = None,
) -> list[RunSummary]:
    """The experiment's runs, best first by ``metric`` (default: :func:`default_metric`);
    runs without it come last."""
    tracking = tracking or Tracking.resolve()
    metric = metric or default_metric(tracking, filter_string or "")
    _check_metric(metric)
    if top is not None and top < 1:
        raise InvalidParameterError(f"--top must be at least 1, got {top}")
    experiment_id = get_experiment_id(tracking)
    if top is not None and top <= _PAGE:
        found = _search(tracking, experiment_id, metric, top, filter_string or "")
    else:  # the whole listing (or most of it): cheap unordered pages, sorted here
        found = sorted(
            _search(tracking, experiment_id, None, None, filter_string or ""),
            key=mlflow_order(metric),
        )[:top]
    runs = [summarize(run) for run in found]
    if runs and not any(metric in run.metrics for run in runs):
        seen = sorted({name for run in runs for name in run.metrics})
        raise InvalidParameterError(
            f"no run has metric {metric!r}; metrics found: {', '.join(seen) or 'none'}"
        )
    return runs


def best_run(
    tracking: Tracking | None = None,
    metric: str | None = None,
    filter_string: str | None = None,
    dataset: str | None = None,
) -> RunSummary:
    """The finished run with a model and the best ``metric`` among the experiment's runs on
    ``dataset``.

    Runs on different data sets do not compete: by default the data set is the newest
    finished run's (its ``mlt.dataset`` tag; runs without one compete with every run). Nor do
    runs of different tasks: a metric is one task's (default: :func:`default_metric`).
    """
    return summarize(best_run_record(tracking, metric, filter_string, dataset))


def best_run_record(
    tracking: Tracking | None = None,
    metric: str | None = None,
    filter_string: str | None = None,
    dataset: str | None = None,
) -> Any:
    """:func:`best_run`, as MLflow's ``Run`` (params, metrics and tags in full)."""
    tracking = tracking or Tracking.resolve()
    metric = metric or default_metric(
        tracking, " and ".join(c for c in (filter_string, "attributes.status = 'FINISHED'") if c)
    )
    _check_metric(metric)
    experiment_id = get_experiment_id(tracking)
    # Only runs with a model compete (a study logs models of its best trials only).
    has_model = f"tags.`{TAG_MODEL_URI}` LIKE 'models:/%'"
    conditions = [c for c in (filter_string, "attributes.status = 'FINISHED'", has_model) if c]
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
    return runs[0]


def newest_dataset(tracking: Tracking, experiment_id: str, filter_string: str = "") -> str | None:
    """The data set of the newest run matching ``filter_string`` (None if it has none)."""
    with mlflow_errors():
        newest = tracking.client(create=False).search_runs(
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


def mlflow_order(metric: str) -> Callable[[Any], tuple]:
    """A sort key for MLflow ``Run`` objects giving the order of MLflow's own
    ``search_runs(order_by=["metrics.`METRIC` ASC|DESC", "attributes.start_time DESC"])``
    on SQL stores (and so behind a tracking server): runs with a value first, sorted by it,
    then runs whose value is NaN, then runs without the metric; ties by newest start, then
    run id."""
    sign = -1.0 if sort_direction(metric) == "DESC" else 1.0

    def key(run: Any) -> tuple:
        value = run.data.metrics.get(metric)
        if value is None:
            group, value = 2, 0.0
        elif math.isnan(value):
            group, value = 1, 0.0  # stored as 0 with is_nan set
        else:
            group = 0
        return (group, sign * value, -(run.info.start_time or 0), run.info.run_id)

    return key


def _search(
    tracking: Tracking,
    experiment_id: str,
    metric: str | None,
    limit: int | None,
    filter_string: str,
) -> list[Any]:
    """Every matching run (or the first ``limit``), ordered by ``metric`` in the store, or
    in the store's default order (newest first) without one."""
    client = tracking.client(create=False)
    order_by = (
        [f"metrics.`{metric}` {sort_direction(metric)}", "attributes.start_time DESC"]
        if metric
        else []
    )
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

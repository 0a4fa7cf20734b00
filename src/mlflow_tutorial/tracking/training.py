"""Training an ElasticNet regressor and recording it with MLflow Tracking.

One call to :func:`train` is one MLflow run with its params, test-set metrics, the data set as
a dataset input, and the fitted model as a logged MLflow model. :func:`train_grid` trains the
cartesian product of several ``alpha`` and ``l1_ratio`` values in one process, sharing the data
loading, the split and MLflow's start-up cost.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..config import Tracking, store_lock
from ..data import DEFAULT_DATASET, Dataset, Split, check_test_size, load_dataset, split
from ..errors import InvalidParameterError, TrackingError
from ..mlflow_errors import is_mlflow_error, mlflow_errors
from ..names import MODEL_NAME, TAG_DATASET, TAG_MODEL_URI, TAG_PARENT_RUN, TAG_SWEEP, TAG_VERSION
from .run_records import dataset_input, sample_signature

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

RUN_ID_ENV = "MLFLOW_RUN_ID"
DEFAULT_ALPHA = 0.5
DEFAULT_L1_RATIO = 0.5
DEFAULT_TEST_SIZE = 0.25
DEFAULT_RANDOM_STATE = 42


@dataclass(frozen=True)
class TrainOptions:
    """What to train on and how; shared by every point of a grid."""

    dataset: str | None = DEFAULT_DATASET
    data: str | None = None
    target: str | None = None
    test_size: float = DEFAULT_TEST_SIZE
    random_state: int | None = DEFAULT_RANDOM_STATE
    standardize: bool = True
    run_name: str | None = None
    plots: bool = True


@dataclass(frozen=True)
class TrainResult:
    """One training run as recorded in MLflow."""

    run_id: str
    run_name: str
    experiment_id: str
    experiment_name: str
    model_uri: str
    model_id: str
    params: dict[str, Any]
    metrics: dict[str, float]
    dataset: str
    sweep_id: str | None = None
    parent_run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[int, int, TrainResult], None]


@dataclass(frozen=True)
class RunContext:
    """What every run of one :func:`train_grid` call shares."""

    experiment_id: str
    experiment_name: str
    data: Dataset
    parts: Split
    options: TrainOptions
    sweep_id: str | None
    dataset: Any  # the data as an MLflow dataset, logged as every run's input


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def validate_hyperparameters(alpha: float, l1_ratio: float) -> None:
    """Raise :class:`InvalidParameterError` unless alpha >= 0 and 0 <= l1_ratio <= 1."""
    if not _is_real(alpha) or math.isnan(alpha) or not alpha >= 0:
        raise InvalidParameterError(f"alpha must be >= 0, got {alpha}")
    if math.isinf(alpha):
        raise InvalidParameterError("alpha must be finite")
    if not _is_real(l1_ratio) or not 0 <= l1_ratio <= 1:
        raise InvalidParameterError(f"l1_ratio must be between 0 and 1, got {l1_ratio}")


def train(
    alpha: float = DEFAULT_ALPHA,
    l1_ratio: float = DEFAULT_L1_RATIO,
    options: TrainOptions | None = None,
    tracking: Tracking | None = None,
) -> TrainResult:
    """Train one ElasticNet and record it as one MLflow run."""
    return train_grid([alpha], [l1_ratio], options, tracking)[0]


def train_grid(
    alphas: Sequence[float],
    l1_ratios: Sequence[float],
    options: TrainOptions | None = None,
    tracking: Tracking | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[TrainResult]:
    """Train every (alpha, l1_ratio) pair, one MLflow run each, in this process.

    Everything is validated before the first run is created. Runs of a grid share a
    ``mlt.sweep_id`` tag. When started by ``mlflow run`` (``MLFLOW_RUN_ID`` set), a single
    point logs into that run and a grid logs child runs under it.
    """
    options = options or TrainOptions()
    tracking = tracking or Tracking.resolve()
    if not alphas or not l1_ratios:
        raise InvalidParameterError("give at least one alpha and one l1_ratio")
    for alpha, l1_ratio in itertools.product(alphas, l1_ratios):
        validate_hyperparameters(alpha, l1_ratio)
    alphas = [float(a) for a in alphas]
    l1_ratios = [float(r) for r in l1_ratios]
    check_test_size(options.test_size)
    data = load_dataset(options.dataset, options.data, options.target)
    parts = split(data, options.test_size, options.random_state)
    points = list(itertools.product(alphas, l1_ratios))
    sweep_id = uuid.uuid4().hex[:12] if len(points) > 1 else None

    tracking.activate()
    outer_run_id = os.environ.pop(RUN_ID_ENV, None)
    results: list[TrainResult] = []
    try:
        with _outer_run(outer_run_id) as outer:
            context = _context(tracking, outer, data, parts, options, sweep_id)
            for i, (alpha, l1_ratio) in enumerate(points):
                with _point_run(context, outer, i, len(points)) as (run, logged_params):
                    result = _fit_and_log(context, run, alpha, l1_ratio, logged_params)
                results.append(result)
                if on_progress:
                    on_progress(i + 1, len(points), result)
    finally:
        if outer_run_id:
            os.environ[RUN_ID_ENV] = outer_run_id
    return results


@contextlib.contextmanager
def _outer_run(run_id: str | None) -> Iterator[Any]:
    """The run ``mlflow run`` created (resumed), or None outside a project run."""
    if run_id is None:
        yield None
        return
    with _tracked_run(run_id=run_id) as run:
        yield run


def _context(
    tracking: Tracking,
    outer: Any,
    data: Dataset,
    parts: Split,
    options: TrainOptions,
    sweep_id: str | None,
) -> RunContext:
    """The experiment runs go to: the tracking configuration's, or the project run's. A
    project run holding a grid is tagged as its parent."""
    import mlflow

    if outer is None:
        experiment = _set_experiment(tracking)
    else:
        experiment = mlflow.get_experiment(outer.info.experiment_id)
        if sweep_id:
            mlflow.set_tags({TAG_SWEEP: sweep_id, TAG_VERSION: __version__, TAG_DATASET: data.name})
    return RunContext(
        experiment.experiment_id,
        experiment.name,
        data,
        parts,
        options,
        sweep_id,
        dataset_input(data),
    )


@contextlib.contextmanager
def _point_run(
    context: RunContext, outer: Any, index: int, total: int
) -> Iterator[tuple[Any, Mapping[str, str]]]:
    """The run one grid point logs into, with the params it already has: a new run in the
    experiment; under ``mlflow run``, the project run itself for a single point, else a child.
    """
    if outer is not None and total == 1:
        # `mlflow run` has already logged the entry point's parameters, typed and
        # shell-quoted (alpha=1 reads "1"); MLflow never changes a logged param.
        yield outer, outer.data.params
        return
    where = {"nested": True} if outer is not None else {"experiment_id": context.experiment_id}
    with _tracked_run(run_name=_run_name(context.options.run_name, index, total), **where) as run:
        yield run, {}


@contextlib.contextmanager
def _tracked_run(**kwargs: Any) -> Iterator[Any]:
    """``mlflow.start_run``, but an interrupted run ends KILLED (failures end FAILED)."""
    import mlflow

    with mlflow.start_run(**kwargs) as run:
        try:
            yield run
        except KeyboardInterrupt:
            mlflow.end_run("KILLED")
            raise


# The tag MLflow 3's UI reads to pick its view (model training, not GenAI).
EXPERIMENT_KIND = "mlflow.experimentKind"


def _set_experiment(tracking: Tracking):
    import mlflow

    prefix = f"cannot use experiment {tracking.experiment!r}"
    # store_lock: parallel trainers would race to create the experiment.
    with mlflow_errors(prefix=prefix, error=TrackingError), store_lock(tracking.uri):
        experiment = mlflow.set_experiment(tracking.experiment)
        if EXPERIMENT_KIND not in experiment.tags:  # MLflow's UI then opens its training view
            mlflow.set_experiment_tag(EXPERIMENT_KIND, "custom_model_development")
        return experiment


def _log_dataset(dataset: Any) -> None:
    """``mlflow.log_input`` with context ``training``, safe for parallel trainers.

    The store records a data set once per experiment (get, else insert): two processes logging
    the same data at once can both miss it and the second insert fails a UNIQUE constraint.
    An SQLite store is serialized by :func:`store_lock`; any store gets one retry, which then
    finds the row the other process wrote.
    """
    import mlflow

    uri = mlflow.get_tracking_uri()
    for attempt in (1, 2):
        try:
            with store_lock(uri):
                mlflow.log_input(dataset, context="training")
            return
        except Exception as exc:
            if attempt == 2 or not is_mlflow_error(exc):
                raise


def _run_name(base: str | None, index: int, total: int) -> str | None:
    if base is None or total == 1:
        return base
    return f"{base}-{index + 1}"


def build_pipeline(
    alpha: float, l1_ratio: float, standardize: bool, random_state: int | None
) -> Pipeline:
    """StandardScaler + ElasticNet (or ElasticNet alone, as the classic tutorial had it)."""
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps: list[tuple[str, Any]] = [("scaler", StandardScaler())] if standardize else []
    steps.append(
        ("elasticnet", ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=random_state))
    )
    return Pipeline(steps)


def evaluate(model: Any, X, y) -> dict[str, float]:  # noqa: N803
    """Test-set metrics: rmse, mae, r2 (scikit-learn's metric functions)."""
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    predicted = model.predict(X)
    return {
        "rmse": float(root_mean_squared_error(y, predicted)),
        "mae": float(mean_absolute_error(y, predicted)),
        "r2": float(r2_score(y, predicted)),
    }


def model_requirements() -> list[str]:
    """Explicit pip requirements for a logged model (MLflow adds its own pin).

    Passing them skips MLflow's requirement inference, which costs seconds per model and
    picks up unrelated packages of the environment.
    """
    from importlib.metadata import version

    packages = ("scikit-learn", "numpy", "scipy", "pandas", "skops")
    return [f"{name}=={version(name)}" for name in packages]


def _fit_and_log(
    context: RunContext,
    run: Any,
    alpha: float,
    l1_ratio: float,
    logged_params: Mapping[str, str],
) -> TrainResult:
    """Fit, evaluate and log one point into ``run``. Keys of ``logged_params`` (params the
    run already has) are not logged again."""
    import mlflow
    import mlflow.sklearn

    data, parts, options = context.data, context.parts, context.options
    model = build_pipeline(alpha, l1_ratio, options.standardize, options.random_state)
    model.fit(parts.X_train, parts.y_train)
    metrics = evaluate(model, parts.X_test, parts.y_test)
    params: dict[str, Any] = {
        "alpha": alpha,
        "l1_ratio": l1_ratio,
        "test_size": options.test_size,
        "random_state": options.random_state,
        "standardize": options.standardize,
        "dataset": data.name,
        "target": data.target,
        "n_rows": data.n_rows,
        "n_features": len(data.features),
    }
    tags = {TAG_VERSION: __version__, TAG_DATASET: data.name}
    if context.sweep_id:
        tags[TAG_SWEEP] = context.sweep_id

    mlflow.log_params({k: v for k, v in params.items() if k not in logged_params})
    mlflow.set_tags(tags)
    _log_dataset(context.dataset)
    signature = sample_signature(model, parts.X_train)
    info = mlflow.sklearn.log_model(
        model,
        name=MODEL_NAME,
        signature=signature,
        input_example=parts.X_train.head(5),
        pip_requirements=model_requirements(),
    )
    mlflow.log_metrics(metrics, model_id=info.model_id)
    if options.plots:
        from .plots import log_model_plots

        log_model_plots(model, parts.X_test, parts.y_test, metrics)
    mlflow.set_tag(TAG_MODEL_URI, info.model_uri)
    tags[TAG_MODEL_URI] = info.model_uri
    return TrainResult(
        run_id=run.info.run_id,
        run_name=run.info.run_name,
        experiment_id=context.experiment_id,
        experiment_name=context.experiment_name,
        model_uri=info.model_uri,
        model_id=info.model_id,
        params=params,
        metrics=metrics,
        dataset=data.name,
        sweep_id=context.sweep_id,
        parent_run_id=_parent_of(run),
        tags=tags,
    )


def _parent_of(run: Any) -> str | None:
    return run.data.tags.get(TAG_PARENT_RUN)

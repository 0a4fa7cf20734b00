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
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import Tracking, store_lock
from .data import DEFAULT_DATASET, Dataset, Split, check_test_size, load_dataset, split
from .errors import InvalidParameterError, TrackingError, first_line

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

MODEL_NAME = "model"
TAG_VERSION = "mlt.version"
TAG_DATASET = "mlt.dataset"
TAG_SWEEP = "mlt.sweep_id"
TAG_MODEL_URI = "mlt.model_uri"
RUN_ID_ENV = "MLFLOW_RUN_ID"


@dataclass(frozen=True)
class TrainOptions:
    """What to train on and how; shared by every point of a grid."""

    dataset: str | None = DEFAULT_DATASET
    data: str | None = None
    target: str | None = None
    test_size: float = 0.25
    random_state: int | None = 42
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
    alpha: float = 0.5,
    l1_ratio: float = 0.5,
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
        if outer_run_id:
            results = _train_in_project_run(
                outer_run_id, points, data, parts, options, sweep_id, on_progress
            )
        else:
            experiment = _set_experiment(tracking)
            where = (experiment.experiment_id, experiment.name)
            for i, (alpha, l1_ratio) in enumerate(points):
                with _tracked_run(
                    experiment_id=experiment.experiment_id,
                    run_name=_run_name(options.run_name, i, len(points)),
                ) as run:
                    result = _fit_and_log(
                        run, where, alpha, l1_ratio, data, parts, options, sweep_id
                    )
                results.append(result)
                if on_progress:
                    on_progress(i + 1, len(points), result)
    finally:
        if outer_run_id:
            os.environ[RUN_ID_ENV] = outer_run_id
    return results


def _train_in_project_run(
    outer_run_id: str,
    points: list[tuple[float, float]],
    data: Dataset,
    parts: Split,
    options: TrainOptions,
    sweep_id: str | None,
    on_progress: ProgressCallback | None,
) -> list[TrainResult]:
    """Log into the run ``mlflow run`` created: itself for one point, children for a grid."""
    import mlflow

    results = []
    with _tracked_run(run_id=outer_run_id) as outer:
        experiment_id = outer.info.experiment_id
        where = (experiment_id, mlflow.get_experiment(experiment_id).name)
        if len(points) == 1:
            alpha, l1_ratio = points[0]
            # `mlflow run` has already logged the entry point's parameters, typed and
            # shell-quoted (alpha=1 reads "1"); MLflow never changes a logged param.
            result = _fit_and_log(
                outer,
                where,
                alpha,
                l1_ratio,
                data,
                parts,
                options,
                None,
                logged_params=outer.data.params,
            )
            results.append(result)
            if on_progress:
                on_progress(1, 1, results[0])
            return results
        mlflow.set_tags({TAG_SWEEP: sweep_id, TAG_VERSION: __version__, TAG_DATASET: data.name})
        for i, (alpha, l1_ratio) in enumerate(points):
            with _tracked_run(
                nested=True, run_name=_run_name(options.run_name, i, len(points))
            ) as child:
                result = _fit_and_log(child, where, alpha, l1_ratio, data, parts, options, sweep_id)
            results.append(result)
            if on_progress:
                on_progress(i + 1, len(points), result)
    return results


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


def _set_experiment(tracking: Tracking):
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        with store_lock(tracking.uri):  # parallel trainers would race to create it
            return mlflow.set_experiment(tracking.experiment)
    except MlflowException as exc:
        name = tracking.experiment
        raise TrackingError(f"cannot use experiment {name!r}: {first_line(exc)}") from exc


def _log_dataset(dataset: Any) -> None:
    """``mlflow.log_input`` with context ``training``, safe for parallel trainers.

    The store records a data set once per experiment (get, else insert): two processes logging
    the same data at once can both miss it and the second insert fails a UNIQUE constraint.
    An SQLite store is serialized by :func:`store_lock`; any store gets one retry, which then
    finds the row the other process wrote.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = mlflow.get_tracking_uri()
    for attempt in (1, 2):
        try:
            with store_lock(uri):
                mlflow.log_input(dataset, context="training")
            return
        except MlflowException:
            if attempt == 2:
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
    run: Any,
    where: tuple[str, str],
    alpha: float,
    l1_ratio: float,
    data: Dataset,
    parts: Split,
    options: TrainOptions,
    sweep_id: str | None,
    logged_params: Mapping[str, str] | None = None,
) -> TrainResult:
    """Fit, evaluate and log one point into ``run``. Keys of ``logged_params`` (params the
    run already has) are not logged again."""
    import mlflow
    import mlflow.sklearn
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.models import infer_signature

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
    if sweep_id:
        tags[TAG_SWEEP] = sweep_id

    mlflow.log_params({k: v for k, v in params.items() if k not in (logged_params or {})})
    mlflow.set_tags(tags)
    with warnings.catch_warnings():
        # "source can be interpreted in multiple ways": both readings are the same class.
        warnings.simplefilter("ignore", UserWarning)
        dataset_input = from_pandas(
            data.frame, source=data.source, targets=data.target, name=data.name
        )
    _log_dataset(dataset_input)
    signature = infer_signature(parts.X_train, model.predict(parts.X_train))
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
        experiment_id=where[0],
        experiment_name=where[1],
        model_uri=info.model_uri,
        model_id=info.model_id,
        params=params,
        metrics=metrics,
        dataset=data.name,
        sweep_id=sweep_id,
        parent_run_id=_parent_of(run),
        tags=tags,
    )


def _parent_of(run: Any) -> str | None:
    return run.data.tags.get("mlflow.parentRunId")

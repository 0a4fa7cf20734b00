"""Training an elastic-net model and recording it with MLflow Tracking.

A numeric target gets scikit-learn's ``ElasticNet`` (regression); a text or boolean target
(or ``task="classification"``) gets ``LogisticRegression`` with the same elastic-net penalty,
``C = 1 / (alpha * n_train)`` (see :func:`logistic_c`), so ``alpha`` and ``l1_ratio`` mean the
same thing for both. Text, boolean and gappy columns are handled inside the saved Pipeline (a
``ColumnTransformer``), so the model serves raw rows.

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

from .. import __version__
from ..config import Tracking, store_lock
from ..data import DEFAULT_DATASET, Dataset, Split, check_test_size, load_dataset, split
from ..errors import InvalidParameterError, TrackingError
from ..mlflow_errors import Access, is_mlflow_error, mlflow_errors, until_permitted
from ..names import (
    MODEL_NAME,
    TAG_DATASET,
    TAG_MODEL_URI,
    TAG_PARENT_RUN,
    TAG_RUN_NOTE,
    TAG_SWEEP,
    TAG_TASK,
    TAG_VERSION,
)
from ..signals import DeferredSignals
from .run_records import dataset_input, sample_signature

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from ..columns import ColumnReport

RUN_ID_ENV = "MLFLOW_RUN_ID"
# The way out of a 403 on someone else's experiment.
OWN_EXPERIMENT_HINT = "or use -e for an experiment of your own"
DEFAULT_ALPHA = 0.5
DEFAULT_L1_RATIO = 0.5
DEFAULT_TEST_SIZE = 0.25
DEFAULT_RANDOM_STATE = 42
MAX_ITER = 1000  # LogisticRegression's saga solver
COLUMNS_ARTIFACT = "columns.json"  # what was done to the columns, in every run's artifacts
# The OneHotEncoder's dtype param is a numpy dtype, which skops only loads when trusted; the
# list is stored in the MLmodel file, so every loader (mlflow models serve too) picks it up.
SKOPS_TRUSTED = ["numpy.dtype"]


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
    drop: tuple[str, ...] = ()
    task: str | None = None  # regression or classification; None: what the target implies
    decimal: str = "."


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
DataCallback = Callable[[Dataset], None]


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
    on_data: DataCallback | None = None,
) -> list[TrainResult]:
    """Train every (alpha, l1_ratio) pair, one MLflow run each, in this process.

    Everything is validated before the first run is created. Runs of a grid share a
    ``mlt.sweep_id`` tag. When started by ``mlflow run`` (``MLFLOW_RUN_ID`` set), a single
    point logs into that run and a grid logs child runs under it. ``on_data`` is called once
    with the loaded data (its ``report`` says what was done to the columns) before training.
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
    data = load_dataset(
        options.dataset,
        options.data,
        options.target,
        drop=list(options.drop),
        task=options.task,
        decimal=options.decimal,
    )
    parts = split(data, options.test_size, options.random_state)
    if data.report is not None and data.report.categorical:
        from dataclasses import replace

        from ..columns import grouped_categories

        grouped = grouped_categories(parts.X_train, data.report.categorical)
        data = replace(data, report=replace(data.report, grouped=grouped))
    if on_data:
        on_data(data)
    points = list(itertools.product(alphas, l1_ratios))
    sweep_id = uuid.uuid4().hex[:12] if len(points) > 1 else None

    tracking.activate()
    outer_run_id = os.environ.pop(RUN_ID_ENV, None)
    results: list[TrainResult] = []
    try:
        with _outer_run(outer_run_id) as outer:
            context = _context(tracking, outer, data, parts, options, sweep_id)
            write = Access(
                "write to", f"experiment {context.experiment_name!r}", "EDIT", OWN_EXPERIMENT_HINT
            )
            with mlflow_errors(access=write):
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
        import mlflow

        mlflow.set_tags(_run_tags(context))
        yield outer, outer.data.params
        return
    where = {"nested": True} if outer is not None else {"experiment_id": context.experiment_id}
    # The tags go with the run's creation: one request fewer per run.
    name = _run_name(context.options.run_name, index, total)
    with _tracked_run(run_name=name, tags=_run_tags(context), **where) as run:
        yield run, {}


def _run_tags(context: RunContext) -> dict[str, str]:
    tags = {TAG_VERSION: __version__, TAG_DATASET: context.data.name}
    report = context.data.report
    if report is not None and not (report.plain and report.task == "regression"):
        tags[TAG_TASK] = context.data.task  # the tutorial's runs have none: regression
    if context.sweep_id:
        tags[TAG_SWEEP] = context.sweep_id
    return tags


@contextlib.contextmanager
def _tracked_run(**kwargs: Any) -> Iterator[Any]:
    """``mlflow.start_run``, but an interrupted run ends KILLED (failures end FAILED). Ctrl-C
    or SIGTERM while MLflow creates or ends the run acts once that is done: a run stopped
    in between would stay RUNNING."""
    import mlflow

    held = DeferredSignals()
    try:
        run = mlflow.start_run(**kwargs)
    except BaseException:
        held.release()  # interrupted meanwhile: that, not the store's error, is the news
        raise
    status = "FINISHED"
    try:
        held.release()  # a signal that came meanwhile interrupts the run here
        yield run
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except BaseException:
        status = "FAILED"
        raise
    finally:
        held = DeferredSignals()
        try:
            active = mlflow.active_run()
            if active is not None and active.info.run_id == run.info.run_id:
                mlflow.end_run(status)
        finally:
            held.release(raise_now=status == "FINISHED")


# The tag MLflow 3's UI reads to pick its view (model training, not GenAI).
EXPERIMENT_KIND = "mlflow.experimentKind"


def _set_experiment(tracking: Tracking):
    return until_permitted(lambda: _use_experiment(tracking))


def _use_experiment(tracking: Tracking):
    """``mlflow.set_experiment`` (creating it if needed), tagged for the UI's training view."""
    import mlflow

    prefix = f"cannot use experiment {tracking.experiment!r}"
    use = Access("use", f"experiment {tracking.experiment!r}", "READ", OWN_EXPERIMENT_HINT)
    # store_lock: parallel trainers would race to create the experiment.
    with (
        mlflow_errors(prefix=prefix, error=TrackingError, access=use),
        store_lock(tracking.uri),
    ):
        experiment = mlflow.set_experiment(tracking.experiment)
        if EXPERIMENT_KIND not in experiment.tags:  # the UI opens its training view
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
    alpha: float,
    l1_ratio: float,
    standardize: bool,
    random_state: int | None,
    report: ColumnReport | None = None,
    n_train: int | None = None,
) -> Pipeline:
    """The model's Pipeline.

    Regression on numbers without gaps (``report`` None or plain): StandardScaler + ElasticNet
    (or ElasticNet alone, as the classic tutorial had it). Anything else: a ColumnTransformer
    (numeric columns median-imputed and scaled, categorical ones imputed and one-hot encoded
    with rare categories grouped and unknown ones accepted), then ElasticNet or
    LogisticRegression (``n_train`` rows give its ``C``).
    """
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if report is None or (report.plain and report.task == "regression"):
        steps: list[tuple[str, Any]] = [("scaler", StandardScaler())] if standardize else []
        steps.append(
            ("elasticnet", ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=random_state))
        )
        return Pipeline(steps)
    model: Any
    if report.task == "classification":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(
            C=logistic_c(alpha, n_train or 1),
            l1_ratio=l1_ratio,
            solver="saga",
            max_iter=MAX_ITER,
            random_state=random_state,
        )
    else:
        model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=random_state)
    return Pipeline([("columns", column_transformer(report, standardize)), ("model", model)])


def logistic_c(alpha: float, n_train: int) -> float:
    """LogisticRegression's ``C`` for ElasticNet's ``alpha``: ``1 / (alpha * n_train)``.

    ElasticNet minimizes ``1/(2n) ||y - Xw||^2 + alpha * P(w)`` and LogisticRegression
    ``C * sum(log loss) + P(w)``, with the same elastic-net penalty
    ``P(w) = l1_ratio ||w||_1 + (1 - l1_ratio)/2 ||w||^2``. Divided by ``C n``, the second is
    ``mean(log loss) + 1/(C n) * P(w)``: with ``C = 1/(alpha n)`` both are "mean loss plus
    alpha times the penalty", and alpha does not depend on the number of rows. ``alpha = 0``
    is ``C = inf``, no penalty.
    """
    return math.inf if alpha == 0 else 1.0 / (alpha * n_train)


def column_transformer(report: ColumnReport, standardize: bool = True) -> Any:
    """Numeric columns: median imputer (+ StandardScaler); categorical columns: gaps become
    ``"missing"`` (NaN, then None: MLflow's server hands a string column of nulls over as
    None), then OneHotEncoder with rare categories grouped and unknown ones accepted."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from ..columns import MIN_FREQUENCY, MISSING_CATEGORY

    transformers: list[tuple[str, Any, list[str]]] = []
    if report.numeric:
        numeric: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
        if standardize:
            numeric.append(("scale", StandardScaler()))
        transformers.append(("numeric", Pipeline(numeric), list(report.numeric)))
    if report.categorical:
        categorical = Pipeline(
            [
                ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
                (
                    "impute_none",
                    SimpleImputer(
                        missing_values=None, strategy="constant", fill_value=MISSING_CATEGORY
                    ),
                ),
                (
                    "onehot",
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        min_frequency=MIN_FREQUENCY,
                        sparse_output=False,
                    ),
                ),
            ]
        )
        transformers.append(("categorical", categorical, list(report.categorical)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def evaluate(model: Any, X, y, task: str = "regression") -> dict[str, float]:  # noqa: N803
    """Test-set metrics (scikit-learn's metric functions): rmse, mae, r2 for regression;
    accuracy, f1_macro, log_loss and roc_auc (binary, or one-vs-rest macro) for
    classification."""
    if task == "classification":
        return _classification_metrics(model, X, y)
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    predicted = model.predict(X)
    return {
        "rmse": float(root_mean_squared_error(y, predicted)),
        "mae": float(mean_absolute_error(y, predicted)),
        "r2": float(r2_score(y, predicted)),
    }


def _classification_metrics(model: Any, X, y) -> dict[str, float]:  # noqa: N803
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    classes = list(model.classes_)
    predicted = model.predict(X)
    proba = model.predict_proba(X)
    metrics = {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(f1_score(y, predicted, average="macro", labels=classes)),
        "log_loss": float(log_loss(y, proba, labels=classes)),
    }
    try:
        if len(classes) == 2:
            auc = roc_auc_score(y, proba[:, 1], labels=classes)
        else:
            auc = roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
    except ValueError:  # a class absent from the test rows: no curve for it
        return metrics
    metrics["roc_auc"] = float(auc)
    return metrics


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
    log_model: bool = True,
) -> TrainResult:
    """Fit, evaluate and log one point into ``run``. Keys of ``logged_params`` (params the
    run already has) are not logged again. Without ``log_model`` the run gets params, tags and
    metrics but no model and no plots (``model_uri`` is then empty)."""
    import mlflow
    import mlflow.sklearn

    data, parts, options = context.data, context.parts, context.options
    model = build_pipeline(
        alpha, l1_ratio, options.standardize, options.random_state, data.report, len(parts.X_train)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", _convergence_warning())
        model.fit(parts.X_train, parts.y_train)
    converged = not any(issubclass(w.category, _convergence_warning()) for w in caught)
    metrics = evaluate(model, parts.X_test, parts.y_test, data.task)
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
    report = data.report
    if report is not None and not (report.plain and report.task == "regression"):
        params.update(
            {
                "task": report.task,
                "numeric": len(report.numeric),
                "categorical": len(report.categorical),
                "encoded_features": len(model[:-1].get_feature_names_out()),
            }
        )
        if report.task == "classification":
            params["n_classes"] = len(report.classes or ())
            params["C"] = float(f"{model[-1].C:.6g}")  # 1 / (alpha * n_train), rounded
        if report.dropped:
            params["dropped"] = _cut(",".join(report.dropped))
    if report is not None and report.rows_without_target:
        params["rows_without_target"] = report.rows_without_target
    tags = _run_tags(context)  # set when the run was created
    tags[TAG_RUN_NOTE] = describe_run(params, metrics, data.task)  # set with the metrics

    with contextlib.ExitStack() as stack:
        plots = None
        if options.plots and log_model:  # drawn in a thread while the model is written
            from .plots import ModelPlots

            plots = stack.enter_context(
                ModelPlots(model, parts.X_test, parts.y_test, metrics, data.task)
            )
        mlflow.log_params({k: v for k, v in params.items() if k not in logged_params})
        if not converged:
            tags["mlt.converged"] = "false"
            mlflow.set_tag("mlt.converged", "false")
        if report is not None and (report.dropped or not report.plain or report.decimal_comma):
            mlflow.log_dict(report.to_dict(), COLUMNS_ARTIFACT)
        _log_dataset(context.dataset)
        if not log_model:
            mlflow.log_metrics(metrics)
            mlflow.set_tag(TAG_RUN_NOTE, tags[TAG_RUN_NOTE])
            return _result(context, run, params, metrics, tags, "", "")
        signature = sample_signature(model, parts.X_train)
        legacy = model.steps[0][0] != "columns"  # the tutorial's pipeline, saved as always
        info = mlflow.sklearn.log_model(
            model,
            name=MODEL_NAME,
            signature=signature,
            input_example=input_example(parts.X_train),
            pip_requirements=model_requirements(),
            **({} if legacy else {"skops_trusted_types": SKOPS_TRUSTED}),
        )
        if plots is not None:
            plots.log()
    _log_metrics_and_tags(
        run.info.run_id,
        metrics,
        info.model_id,
        {TAG_MODEL_URI: info.model_uri, TAG_RUN_NOTE: tags[TAG_RUN_NOTE]},
    )
    tags[TAG_MODEL_URI] = info.model_uri
    return _result(context, run, params, metrics, tags, info.model_uri, info.model_id)


def _result(
    context: RunContext,
    run: Any,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    model_uri: str,
    model_id: str,
) -> TrainResult:
    return TrainResult(
        run_id=run.info.run_id,
        run_name=run.info.run_name,
        experiment_id=context.experiment_id,
        experiment_name=context.experiment_name,
        model_uri=model_uri,
        model_id=model_id,
        params=params,
        metrics=metrics,
        dataset=context.data.name,
        sweep_id=context.sweep_id,
        parent_run_id=_parent_of(run),
        tags=tags,
    )


def input_example(X: Any, rows: int = 5) -> Any:  # noqa: N803
    """The first ``rows`` raw rows, the last swapped for a row with a gap when the data has
    gaps (so the example shows that a gap is sent as null)."""
    example = X.head(rows)
    if not X.isna().to_numpy().any() or example.isna().to_numpy().any():
        return example
    gap = X.index[X.isna().any(axis=1).to_numpy()][0]
    return X.loc[[*example.index[:-1], gap]]


def _cut(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _convergence_warning() -> type[Warning]:
    from sklearn.exceptions import ConvergenceWarning

    return ConvergenceWarning


def _log_metrics_and_tags(
    run_id: str, metrics: Mapping[str, float], model_id: str, tags: Mapping[str, str]
) -> None:
    """The test-set metrics, linked to the logged model (as ``mlflow.log_metrics(...,
    model_id=)`` links them), and the tags known once they are (the model's URI, the run's
    description), in one request."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, RunTag
    from mlflow.utils.time import get_current_time_millis

    now = get_current_time_millis()
    MlflowClient().log_batch(
        run_id,
        metrics=[
            Metric(key, value, now, 0, model_id=model_id, run_id=run_id)
            for key, value in metrics.items()
        ],
        tags=[RunTag(key, value) for key, value in tags.items()],
    )


def describe_run(
    params: Mapping[str, Any], metrics: Mapping[str, float], task: str = "regression"
) -> str:
    """The run's description in MLflow (its UI shows it): what was trained, on what, how well.

    ``ElasticNet alpha=0.5 l1_ratio=0.5 on diabetes (442 rows): rmse 52.98, r2 0.4924``
    """
    raw = "" if params["standardize"] else ", raw features,"
    model, shown = (
        ("LogisticRegression", ("accuracy", "log_loss"))
        if task == "classification"
        else ("ElasticNet", ("rmse", "r2"))
    )
    scores = ", ".join(f"{m} {metrics[m]:.4g}" for m in shown if m in metrics)
    return (
        f"{model} alpha={params['alpha']:g} l1_ratio={params['l1_ratio']:g}{raw} "
        f"on {params['dataset']} ({params['n_rows']} rows): {scores}"
    )


def _parent_of(run: Any) -> str | None:
    return run.data.tags.get(TAG_PARENT_RUN)

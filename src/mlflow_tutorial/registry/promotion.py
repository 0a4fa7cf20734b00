"""Gated promotion: a challenger takes an alias only if it beats the model holding it.

``mlt register --if-better`` judges the challenger (a run's model) and the champion (the
version the alias points at) on the same held-out rows: the challenger's test split, rebuilt
from its recorded data set, test size and seed. Both models are loaded and scored there. The
metrics the runs recorded are not compared, since each comes from its own run's split.

MLflow's evaluation API, where it fits and where it does not:

- The decision is MLflow's: the two scores go into ``EvaluationResult`` objects and
  ``mlflow.models.evaluation.validation.validate_evaluation_results`` checks them against a
  ``MetricThreshold`` (``min_absolute_change`` or ``min_relative_change``, with the metric's
  direction as ``greater_is_better``).
- The scores are not computed by ``mlflow.models.evaluate``. It always logs: it starts a run
  when none is active, logs the metrics to it and to the evaluated LoggedModels, and logs the
  data set as an input. A check that should change nothing unless it passes would then leave
  two runs per promotion in the experiment (``mlt compare`` would list them, and ``--best``
  would rank on their data set), write metrics onto the champion's model, and need write
  permission on the experiment where reading should do. The scores come from the function
  training uses for its test-set metrics (``tracking.training.evaluate``), so a score here and
  a metric a run recorded mean the same thing for every task it knows.
- ``MetricThreshold`` wants a positive ``min_absolute_change``, and its checks are inclusive
  (``>= baseline + change``). With no ``--min-delta`` the challenger must simply be better: a
  ``threshold`` at the champion's score does the comparison, and mlt itself refuses an exact
  tie (a tie is not a win, and moving the alias for it would be churn).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..config import Tracking
from ..data import BUILTIN_DATASETS, Dataset, Split, load_dataset, split
from ..errors import (
    IncomparableError,
    InvalidParameterError,
    ModelNotFoundError,
    ModelValidationError,
    NotFoundError,
    RunNotFoundError,
)
from ..mlflow_errors import mlflow_errors
from ..names import DEFAULT_ALIAS, default_model_name
from ..tracking.comparison import HIGHER_IS_BETTER
from ..tracking.run_records import pandas_digest
from ..tracking.runs import (
    RunDataset,
    run_task,
    signature_columns,
    training_dataset,
)
from .history import WHY_IF_BETTER, WHY_MANUAL
from .versions import (
    ModelVersionInfo,
    _check_names,
    _get_registered_model,
    _get_run,
    _info,
    alias_version,
    choose_run,
    register_model,
    set_alias,
)

PROMOTED = "promoted"  # the alias now points at the challenger
KEPT = "kept"  # the champion was not beaten: nothing changed
CURRENT = "current"  # the challenger already holds the alias: nothing changed

_DELTA = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*$")


@dataclass(frozen=True)
class MinDelta:
    """How much better is better: an absolute amount in the metric's units, or a share of
    the champion's score (``1%`` = 0.01 of it)."""

    value: float = 0.0
    relative: bool = False

    @classmethod
    def parse(cls, text: str | None) -> MinDelta:
        """``"0.5"`` (absolute) or ``"2%"`` (relative); None or empty: zero."""
        if text is None or not text.strip():
            return cls()
        match = _DELTA.match(text)
        if not match:
            raise InvalidParameterError(
                f"--min-delta must be a number >= 0 or a percentage such as 2%, got {text!r}"
            )
        value, percent = float(match.group(1)), bool(match.group(2))
        if percent:
            if not 0 < value <= 100:
                raise InvalidParameterError(
                    f"a relative --min-delta must be above 0% and at most 100%, got {text!r}"
                )
            return cls(value / 100, relative=True)
        if not math.isfinite(value):
            raise InvalidParameterError(f"--min-delta must be finite, got {text!r}")
        return cls(value)

    def __str__(self) -> str:
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"


@dataclass(frozen=True)
class Contender:
    """One side of the comparison."""

    version: int | None  # registered version (the challenger may not be registered yet)
    run_id: str | None
    source: str  # models:/m-...
    score: float | None  # on the shared rows
    recorded: float | None  # what the run recorded, on its own split


@dataclass(frozen=True)
class PromotionResult:
    """The outcome of ``mlt register --if-better``."""

    outcome: str  # promoted, kept or current
    name: str
    alias: str
    metric: str
    higher_is_better: bool
    min_delta: str
    challenger: Contender
    champion: Contender | None
    version: int | None  # where the alias points afterwards
    dataset: str | None
    digest: str | None
    rows: int  # the held-out rows both models were scored on
    reason: str

    @property
    def promoted(self) -> bool:
        return self.outcome == PROMOTED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def higher_is_better(metric: str) -> bool:
    """The metric's direction, from the table training and comparison share."""
    return metric in HIGHER_IS_BETTER


def promote_if_better(
    tracking: Tracking | None = None,
    run_id: str | None = None,
    name: str | None = None,
    alias: str = DEFAULT_ALIAS,
    metric: str = "rmse",
    min_delta: MinDelta | str | None = None,
    dataset: str | None = None,
) -> PromotionResult:
    """Register the challenger (``run_id``, else the best run by ``metric``) and point
    ``alias`` at it, only if it beats the alias's holder on the challenger's test split by
    ``min_delta``. With no holder the challenger is promoted; when it loses, nothing is
    written (no version, no alias move)."""
    tracking = tracking or Tracking.resolve()
    delta = min_delta if isinstance(min_delta, MinDelta) else MinDelta.parse(min_delta)
    _check_names(name, [alias])
    chosen = choose_run(tracking, run_id, metric, dataset)
    run, run_id, source, run_dataset = chosen.run, chosen.run_id, chosen.model_uri, chosen.dataset
    client = tracking.client(create=False)
    name = name or default_model_name(run_dataset)
    holder = _holder(client, name, alias)

    holder_run = None
    if holder is not None:
        if holder.source == source:
            return _unchanged(run, source, holder, name, alias, metric, delta, run_dataset)
        holder_run = _source_run(client, name, holder)
        _check_comparable(run, source, holder_run, holder)
    data, parts = rebuild_test_split(run)
    challenger_score = score(source, parts, metric)
    challenger = Contender(None, run_id, source, challenger_score, run.data.metrics.get(metric))
    champion = None
    if holder is not None:
        champion_score = score(holder.source, parts, metric)
        recorded = holder_run.data.metrics.get(metric) if holder_run else None
        champion = Contender(holder.version, holder.run_id, holder.source, champion_score, recorded)
        beaten, reason = judge(challenger_score, champion_score, metric, delta)
    else:
        beaten, reason = True, f"no version held {alias!r}"
    rows = len(parts.y_test)

    def result(outcome: str, challenger: Contender, version: int | None) -> PromotionResult:
        return PromotionResult(
            outcome,
            name=name,  # type: ignore[arg-type]
            alias=alias,
            metric=metric,
            higher_is_better=higher_is_better(metric),
            min_delta=str(delta),
            challenger=challenger,
            champion=champion,
            version=version,
            dataset=data.name,
            digest=pandas_digest(data.frame),
            rows=rows,
            reason=reason,
        )

    if not beaten:
        return result(KEPT, challenger, holder.version if holder else None)

    # The comparison takes seconds: another move may have come first. Nothing is written then.
    now = _holder(client, name, alias)
    if (now and now.version) != (holder and holder.version):
        raise InvalidParameterError(
            f"alias {alias!r} of {name!r} moved to version {now and now.version} while the "
            "models were being compared; run the command again to compare against it"
        )
    registered = register_model(tracking, run_id=run_id, name=name, aliases=())
    details: dict[str, Any] = {
        "metric": metric,
        "challenger": challenger_score,
        "rows": rows,
    }
    if champion is not None:
        details["champion"] = champion.score
    if delta.value:
        details["min_delta"] = str(delta)
    set_alias(client, name, alias, registered.version, why=WHY_IF_BETTER, details=details)
    challenger = Contender(
        registered.version, run_id, source, challenger_score, challenger.recorded
    )
    return result(PROMOTED, challenger, registered.version)


def point_alias(
    tracking: Tracking | None = None,
    name: str | None = None,
    version: int = 0,
    aliases: Sequence[str] = (DEFAULT_ALIAS,),
) -> ModelVersionInfo:
    """Point ``aliases`` at an existing ``version`` of ``name`` by hand (a rollback, say),
    recorded in the alias history as ``manual``. ``name`` defaults to the model of the
    newest run's data set, as ``mlt register`` names it."""
    tracking = tracking or Tracking.resolve()
    _check_names(name, aliases)
    if version < 1:
        raise InvalidParameterError(f"a version is a number from 1, got {version}")
    client = tracking.client(create=False)
    if name is None:
        from ..tracking.comparison import newest_dataset
        from ..tracking.runs import get_experiment_id

        name = default_model_name(newest_dataset(tracking, get_experiment_id(tracking)))
    _get_registered_model(client, name)
    with mlflow_errors(f"version {version} of model {name!r}", not_found=ModelNotFoundError):
        client.get_model_version(name, str(version))
    for alias in aliases:
        set_alias(client, name, alias, version, why=WHY_MANUAL)
    with mlflow_errors():
        mv = client.get_model_version(name, str(version))
    return _info(mv)


def judge(challenger: float, champion: float, metric: str, delta: MinDelta) -> tuple[bool, str]:
    """Whether ``challenger`` beats ``champion`` on ``metric`` by ``delta``, and why, decided
    by MLflow's ``validate_evaluation_results``."""
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation import EvaluationResult
    from mlflow.models.evaluation.validation import validate_evaluation_results

    higher = higher_is_better(metric)
    if delta.value == 0:
        threshold = MetricThreshold(threshold=champion, greater_is_better=higher)
    elif delta.relative:
        threshold = MetricThreshold(min_relative_change=delta.value, greater_is_better=higher)
    else:
        threshold = MetricThreshold(min_absolute_change=delta.value, greater_is_better=higher)
    better = "higher" if higher else "lower"
    by = f" by at least {delta}" if delta.value else ""
    try:
        with mlflow_errors():
            validate_evaluation_results(
                {metric: threshold},
                EvaluationResult(metrics={metric: challenger}, artifacts={}),
                EvaluationResult(metrics={metric: champion}, artifacts={}),
            )
    except ModelValidationError:
        return False, f"{metric} {challenger:.6g} is not {better} than {champion:.6g}{by}"
    if delta.value == 0 and challenger == champion:
        return False, f"{metric} {challenger:.6g} ties with the champion's"
    return True, f"{metric} {challenger:.6g} is {better} than {champion:.6g}{by}"


def rebuild_test_split(run: Any) -> tuple[Dataset, Split]:
    """The run's data and train/test split, rebuilt from its recorded data set, target,
    test size and seed; the data must still have the digest the run recorded."""
    params = run.data.params
    run_id = run.info.run_id
    recorded = training_dataset(run)
    if recorded is None or "test_size" not in params:
        raise IncomparableError(
            f"run {run_id} records no data set and split to rebuild its test rows from"
        )
    target = params.get("target")
    if recorded.name in BUILTIN_DATASETS and not _is_file_or_url(recorded.source):
        data = load_dataset(recorded.name, target=target)
    elif recorded.source:
        data = load_dataset(path=recorded.source, target=target)
    else:
        raise IncomparableError(f"run {run_id} does not record where its data came from")
    digest = pandas_digest(data.frame)
    if digest != recorded.digest:
        raise IncomparableError(
            f"the data of run {run_id} changed since it was trained ({recorded.source}: digest "
            f"{digest}, recorded {recorded.digest}); its test rows cannot be rebuilt"
        )
    seed = params.get("random_state")
    parts = split(data, float(params["test_size"]), None if seed in (None, "None") else int(seed))
    return data, parts


def score(model_uri: str, parts: Split, metric: str) -> float:
    """``metric`` of the model at ``model_uri`` on the test rows of ``parts``, computed as
    training computes its test-set metrics."""
    import mlflow.pyfunc

    from ..tracking.training import evaluate

    with mlflow_errors(prefix=f"cannot load model {model_uri}", error=ModelNotFoundError):
        model = mlflow.pyfunc.load_model(model_uri)
    # The flavor's own model (a scikit-learn Pipeline) has everything training's metrics use
    # (predict_proba for the classification ones); the pyfunc wrapper only predict.
    try:
        native = model.get_raw_model()
    except (AttributeError, NotImplementedError, TypeError):
        native = model
    scores = evaluate(native, parts.X_test, parts.y_test)
    if metric not in scores:
        raise InvalidParameterError(
            f"metric {metric!r} cannot be scored; scored: {', '.join(sorted(scores))}"
        )
    return float(scores[metric])


def _holder(client: Any, name: str, alias: str) -> ModelVersionInfo | None:
    try:
        version = alias_version(client, name, alias)
    except NotFoundError:  # no registered model of that name yet
        return None
    if version is None:
        return None
    with mlflow_errors():
        return _info(client.get_model_version(name, str(version)))


def _source_run(client: Any, name: str, holder: ModelVersionInfo) -> Any:
    if not holder.run_id:
        raise IncomparableError(
            f"version {holder.version} of {name!r} has no source run: its data set cannot be "
            "checked"
        )
    try:
        return _get_run(client, holder.run_id)
    except RunNotFoundError:
        raise IncomparableError(
            f"the source run {holder.run_id} of version {holder.version} of {name!r} is gone: "
            "its data set cannot be checked"
        ) from None


def _check_comparable(run: Any, source: str, holder_run: Any, holder: ModelVersionInfo) -> None:
    """Same task, same data set (digest), same columns: else one line saying which."""
    versus = (
        f"run {run.info.run_id[:8]} and version {holder.version} (run {holder_run.info.run_id[:8]})"
    )
    task, holder_task = run_task(run), run_task(holder_run)
    if task != holder_task:
        raise IncomparableError(f"cannot compare {versus}: tasks differ ({task} vs {holder_task})")
    mine, theirs = training_dataset(run), training_dataset(holder_run)
    if mine is None or theirs is None:
        raise IncomparableError(f"cannot compare {versus}: a data set is not recorded")
    if mine.digest != theirs.digest:
        raise IncomparableError(
            f"cannot compare {versus}: data sets differ ({_label(mine)} vs {_label(theirs)})"
        )
    target, holder_target = run.data.params.get("target"), holder_run.data.params.get("target")
    columns, holder_columns = signature_columns(source), signature_columns(holder.source)
    if target != holder_target or sorted(columns or []) != sorted(holder_columns or []):
        raise IncomparableError(
            f"cannot compare {versus}: columns differ "
            f"({_columns(columns, target)} vs {_columns(holder_columns, holder_target)})"
        )


def _label(dataset: RunDataset) -> str:
    return f"{dataset.name} {dataset.digest}"


def _columns(columns: list[str] | None, target: str | None) -> str:
    return f"{', '.join(columns or ['?'])} -> {target}"


def _is_file_or_url(source: str | None) -> bool:
    if not source:
        return False
    return "://" in source or source.startswith("/") or source.endswith((".csv", ".txt"))


def _unchanged(
    run: Any,
    source: str,
    holder: ModelVersionInfo,
    name: str,
    alias: str,
    metric: str,
    delta: MinDelta,
    dataset: str | None,
) -> PromotionResult:
    recorded = run.data.metrics.get(metric)
    me = Contender(holder.version, run.info.run_id, source, None, recorded)
    return PromotionResult(
        CURRENT,
        name=name,
        alias=alias,
        metric=metric,
        higher_is_better=higher_is_better(metric),
        min_delta=str(delta),
        challenger=me,
        champion=me,
        version=holder.version,
        dataset=dataset,
        digest=None,
        rows=0,
        reason=f"version {holder.version} (this run's model) already holds {alias!r}",
    )

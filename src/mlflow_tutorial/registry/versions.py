"""The Model Registry: register a run's model under a name, move aliases, list versions.

Only MLflow 3 concepts are used: the run's LoggedModel (``models:/m-...``) is what gets
registered, and aliases (``champion``) replace the deprecated stages.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..config import Tracking
from ..errors import (
    AlreadyExistsError,
    ConcurrentChangeError,
    InvalidParameterError,
    ModelNotFoundError,
    RunNotFoundError,
)
from ..mlflow_errors import Access, mlflow_errors, until_permitted
from ..names import (
    DEFAULT_ALIAS,
    MODEL_NAME,
    TAG_DATASET,
    TAG_METRIC_PREFIX,
    TAG_MODEL_URI,
    TAG_RUN_NOTE,
    TAG_SOURCE_RUN,
    TAG_TASK,
    default_model_name,
)
from ..tracking.comparison import METRICS, best_run_record
from ..tracking.params import iso_time, typed_params
from ..tracking.runs import resolve_run_id
from .history import WHY_BEST, WHY_MANUAL, WHY_RUN, AliasMove, record_move

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
# The way out of a 403 on someone else's registered model.
OWN_MODEL_HINT = "or use --name for a model of your own"
# How many times one alias move is tried when other processes move the same alias at the
# same moment (each retry finds the alias the others created, and updates it).
ALIAS_ATTEMPTS = 5

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelVersionInfo:
    """A registered model version as mlt reports it."""

    name: str
    version: int
    aliases: list[str]
    run_id: str | None
    source: str
    model_uri: str
    metrics: dict[str, float] = field(default_factory=dict)
    created: bool = False
    created_at: str | None = None  # ISO 8601
    dataset: str | None = None
    # The source run's params, typed (register only: listing versions does not read runs).
    params: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        if record["params"] is None:
            del record["params"]
        return record


def register_model(
    tracking: Tracking | None = None,
    run_id: str | None = None,
    name: str | None = None,
    aliases: Sequence[str] = (DEFAULT_ALIAS,),
    metric: str | None = None,
    dataset: str | None = None,
    why: str | None = None,
) -> ModelVersionInfo:
    """Register the model of ``run_id`` (or of the best run by ``metric`` among the runs on
    ``dataset``, by default the newest run's data set) and point the aliases at it.

    Idempotent: if the run's model is already a version of ``name``, that version is
    returned (``created`` is False) and only the aliases move. Each move is recorded in the
    alias history with ``why`` (by default ``best`` or ``run``, as the run was chosen).
    """
    tracking = tracking or Tracking.resolve()
    _check_names(name, aliases)  # before anything is written: no version without its alias
    why = why or (WHY_RUN if run_id else WHY_BEST)
    client = tracking.client(create=False)
    chosen = choose_run(tracking, run_id, metric, dataset)
    run, run_id, model_uri = chosen.run, chosen.run_id, chosen.model_uri
    run_dataset = chosen.dataset
    name = name or default_model_name(run_dataset, run.data.tags.get(TAG_TASK))
    with mlflow_errors():
        same_run = client.search_model_versions(f"name = '{_quote(name)}' and run_id = '{run_id}'")
    existing = [mv for mv in same_run if mv.source == model_uri]
    created = not existing
    if existing:
        version = min(existing, key=lambda mv: int(mv.version))
    else:
        tags = {TAG_SOURCE_RUN: run_id}
        if run_dataset:
            tags[TAG_DATASET] = run_dataset
        tags.update(
            {
                f"{TAG_METRIC_PREFIX}{m}": str(run.data.metrics[m])
                for m in METRICS
                if m in run.data.metrics
            }
        )
        # MlflowClient's calls, not mlflow.register_model, which prints "Registered model ...
        # already exists" on stderr: a second line before any error. A model that exists
        # already (made by another process a moment ago, too) is the one to add a version to.
        add = Access("add versions to", f"registered model {name!r}", "EDIT", OWN_MODEL_HINT)
        made = False
        with contextlib.suppress(AlreadyExistsError), mlflow_errors(access=add):
            on = f" on {run_dataset}" if run_dataset else ""
            kind = (
                "Logistic-regression classifiers"
                if run.data.tags.get(TAG_TASK) == "classification"
                else "ElasticNet regressors"
            )
            client.create_registered_model(name, description=f"{kind} trained by mlt{on}")
            made = True

        def add_version() -> Any:
            with mlflow_errors(access=add):
                return client.create_model_version(
                    name,
                    model_uri,
                    run_id=run_id,
                    tags=tags,
                    model_id=model_uri.removeprefix("models:/"),
                    description=describe_version(run),
                )

        # A model made by another process a moment ago may still refuse its versions.
        version = add_version() if made else until_permitted(add_version)
    for alias in aliases:
        set_alias(client, name, alias, int(version.version), why=why)
    with mlflow_errors():
        mv = client.get_model_version(name, str(version.version))
    return replace(_info(mv, created, dataset=run_dataset), params=typed_params(run.data.params))


def describe_version(run: Any) -> str:
    """A version's description in MLflow: its source run, and what the run was (the run's
    own description, else its metrics).

    ``From run 3f2a... (gentle-fox-12): ElasticNet alpha=0.5 ... rmse 52.98, r2 0.4924``
    """
    note = run.data.tags.get(TAG_RUN_NOTE) or ", ".join(
        f"{m} {run.data.metrics[m]:.4g}" for m in METRICS if m in run.data.metrics
    )
    source = f"From run {run.info.run_id} ({run.info.run_name})"
    return f"{source}: {note}" if note else source


def set_alias(
    client: Any,
    name: str,
    alias: str,
    version: int,
    why: str = WHY_MANUAL,
    details: Mapping[str, Any] | None = None,
) -> AliasMove | None:
    """Point ``alias`` of ``name`` at ``version`` and record the move in the alias history.

    The one place mlt moves an alias. An alias already on ``version`` is left alone and
    nothing is recorded (None).

    Whoever else moves it at once: MLflow's SQL store moves an alias by reading it and then
    inserting it if it was not there (SQLAlchemy's ``session.merge``), in one transaction that
    does not lock the row it did not find. Two processes creating the same alias at the same
    moment both read nothing, both insert, and the database refuses the second insert
    (PostgreSQL: ``registered_model_alias_pk``; SQLite: ``UNIQUE constraint failed``). That
    refusal comes back as a :class:`ConcurrentChangeError`, and the move is simply made again:
    by then the alias exists, so the store updates it.
    """
    previous = alias_version(client, name, alias)
    if previous == version:
        return None
    move = Access("move aliases of", f"registered model {name!r}", "EDIT", OWN_MODEL_HINT)
    for attempt in range(1, ALIAS_ATTEMPTS + 1):
        try:
            with mlflow_errors(access=move):
                client.set_registered_model_alias(name, alias, str(version))
            break
        except ConcurrentChangeError as exc:
            if attempt == ALIAS_ATTEMPTS:
                raise ConcurrentChangeError(
                    f"alias {alias!r} of model {name!r} kept changing under other "
                    f"processes ({ALIAS_ATTEMPTS} attempts); try again"
                ) from exc
            log.debug("alias %r of %r moved by another process; moving it again", alias, name)
    return record_move(
        client,
        name,
        alias,
        previous,
        version,
        why,
        details,
        current=lambda: alias_version(client, name, alias),
    )


def alias_version(client: Any, name: str, alias: str) -> int | None:
    """The version ``alias`` of ``name`` points at, None when it points nowhere."""
    model = _get_registered_model(client, name)
    version = (model.aliases or {}).get(alias)
    return None if version is None else int(version)


@dataclass(frozen=True)
class ChosenRun:
    """The run whose model is to be registered, with what registering it needs."""

    run: Any
    run_id: str
    model_uri: str  # its logged model, models:/m-...
    dataset: str | None


def choose_run(
    tracking: Tracking, run_id: str | None, metric: str | None = None, dataset: str | None = None
) -> ChosenRun:
    """The run ``run_id`` names (a short id too), else the best by ``metric`` on ``dataset``."""
    client = tracking.client(create=False)
    if run_id is None:
        run = best_run_record(tracking, metric, dataset=dataset)  # the whole run: no get_run
        run_id = run.info.run_id
    else:
        run_id = resolve_run_id(tracking, run_id)
        run = _get_run(client, run_id)
    run_dataset = run.data.tags.get(TAG_DATASET) or run.data.params.get("dataset")
    return ChosenRun(run, run_id, _logged_model_uri(client, run), run_dataset)


def list_versions(
    tracking: Tracking | None = None, name: str | None = None
) -> list[ModelVersionInfo]:
    """Versions of one registered model (newest first), or of every registered model."""
    tracking = tracking or Tracking.resolve()
    client = tracking.client(create=False)
    models = {name: _get_registered_model(client, name)} if name else {}
    versions = _search_versions(client, f"name = '{_quote(name)}'" if name else None)
    versions.sort(key=lambda mv: (mv.name, -int(mv.version)))
    # search_model_versions leaves aliases out; the registered models carry them.
    aliases: dict[tuple[str, str], list[str]] = {}
    for model_name in dict.fromkeys(mv.name for mv in versions):
        model = models.get(model_name) or _get_registered_model(client, model_name)
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault((model_name, str(version)), []).append(alias)
    return [_info(mv, aliases=aliases.get((mv.name, str(mv.version)), [])) for mv in versions]


def resolve_version(tracking: Tracking, model_uri: str) -> ModelVersionInfo | None:
    """The registered version behind ``models:/name@alias`` or ``models:/name/N``
    (``latest`` too); None for other URIs. Unknown names, aliases and versions are errors."""
    match = re.match(r"^models:/([^/@]+)(?:@([^/]+)|/([^/]+))$", model_uri)
    if not match or match.group(1).startswith("m-"):
        return None
    name, alias, version = match.groups()
    client = tracking.client(create=False)
    _get_registered_model(client, name)
    if alias:
        with mlflow_errors(f"alias {alias!r} of model {name!r}", not_found=ModelNotFoundError):
            mv = client.get_model_version_by_alias(name, alias)
    elif version == "latest":
        versions = _search_versions(client, f"name = '{_quote(name)}'")
        if not versions:
            raise ModelNotFoundError(f"registered model {name!r} has no versions")
        mv = max(versions, key=lambda v: int(v.version))
    else:
        with mlflow_errors(f"version {version} of model {name!r}", not_found=ModelNotFoundError):
            mv = client.get_model_version(name, version)
    return _info(mv)


def _info(
    mv: Any, created: bool = False, aliases: list[str] | None = None, dataset: str | None = None
) -> ModelVersionInfo:
    aliases = sorted(aliases if aliases is not None else mv.aliases or [])
    suffix = f"@{aliases[0]}" if aliases else f"/{mv.version}"
    metrics = {
        key.removeprefix(TAG_METRIC_PREFIX): float(value)
        for key, value in (mv.tags or {}).items()
        if key.startswith(TAG_METRIC_PREFIX)
    }
    return ModelVersionInfo(
        name=mv.name,
        version=int(mv.version),
        aliases=aliases,
        run_id=mv.run_id,
        source=mv.source,
        model_uri=f"models:/{mv.name}{suffix}",
        metrics=metrics,
        created=created,
        created_at=iso_time(mv.creation_timestamp),
        dataset=dataset or (mv.tags or {}).get(TAG_DATASET),
    )


def _check_names(name: str | None, aliases: Sequence[str]) -> None:
    """MLflow's own rules for model and alias names, applied up front."""
    from mlflow.utils.validation import (
        _validate_model_alias_name,
        _validate_model_alias_name_reserved,
        _validate_model_name,
    )

    with mlflow_errors(error=InvalidParameterError):
        if name is not None:
            _validate_model_name(name)
        for alias in aliases:
            _validate_model_alias_name(alias)
            _validate_model_alias_name_reserved(alias)


def _get_run(client: Any, run_id: str) -> Any:
    if not _RUN_ID.match(run_id or ""):
        raise RunNotFoundError(f"not a run id: {run_id!r}")
    read = Access("read", f"run {run_id}", "READ")
    with mlflow_errors(f"run {run_id}", not_found=RunNotFoundError, access=read):
        return client.get_run(run_id)


def _logged_model_uri(client: Any, run: Any) -> str:
    """``models:/m-...`` of the run's logged model named ``model`` (the newest if several):
    the URI mlt recorded as the run's tag, else a search of the run's logged models."""
    tagged = run.data.tags.get(TAG_MODEL_URI, "")
    if tagged.startswith("models:/m-"):
        return tagged
    run_id = run.info.run_id
    with mlflow_errors():
        models = client.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run_id}'",
            order_by=[{"field_name": "creation_timestamp", "ascending": False}],
        )
    named = [m for m in models if m.name == MODEL_NAME] or list(models)
    if not named:
        raise RunNotFoundError(f"run {run_id} has no logged model to register")
    return f"models:/{named[0].model_id}"


def _get_registered_model(client: Any, name: str) -> Any:
    read = Access("read", f"registered model {name!r}", "READ")
    with mlflow_errors(f"registered model {name!r}", not_found=ModelNotFoundError, access=read):
        return client.get_registered_model(name)


def _search_versions(client: Any, filter_string: str | None) -> list[Any]:
    versions: list[Any] = []
    token = None
    while True:
        with mlflow_errors():
            page = client.search_model_versions(filter_string, max_results=1000, page_token=token)
        versions.extend(page)
        token = page.token
        if not token:
            return versions


def _quote(value: str) -> str:
    if "'" in value:
        raise InvalidParameterError(f"model names cannot contain quotes: {value!r}")
    return value

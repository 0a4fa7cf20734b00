"""Model Registry: ``mlt register`` and ``mlt models``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from ..errors import MltError
from ..names import DEFAULT_ALIAS
from ..output import Column, Format, choose_format, emit, info, short_id
from .app import app
from .common import (
    Experiment,
    Metric,
    OutputFormat,
    TrackingUri,
    Wide,
    command,
    id_column,
    metric_columns,
    read_stdin_value,
    tracking,
)


def version_columns(wide: bool, records: list[dict] | None = None) -> list[Column]:
    """Registered versions: name, version and aliases never wrap; the model URI (name@alias
    or name/version) only with ``--wide``."""
    columns = [
        Column("name", lambda r: r["name"], no_wrap=True),
        Column("version", lambda r: r["version"], "right", no_wrap=True),
        Column("aliases", lambda r: r["aliases"], no_wrap=True),
        id_column("run_id", wide),
        *metric_columns(records or []),
    ]
    if wide:
        columns.append(Column("model_uri", lambda r: r["model_uri"], no_wrap=True))
    return columns


def one_version_columns(records: list[dict] | None = None) -> list[Column]:
    """One version: a list of fields, room enough for everything."""
    columns = version_columns(wide=True, records=records)
    columns.insert(4, Column("dataset", lambda r: r["dataset"]))
    return columns


@app.command()
@command
def register(
    run: Annotated[
        str | None,
        typer.Option(
            "--run", "-r", metavar="RUN_ID", help="Run id to register, or - to read it from stdin"
        ),
    ] = None,
    best: Annotated[
        bool,
        typer.Option(
            "--best",
            help="Register the best run by --metric, among runs on one data set (the default)",
        ),
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="NAME",
            help="Registered model name \\[default: <dataset>-elasticnet, or <dataset>-logistic "
            "for a classifier]",
            show_default=False,
        ),
    ] = None,
    alias: Annotated[
        list[str],
        typer.Option(
            "--alias", "-a", metavar="NAME", help="Alias to point at the version (repeatable)"
        ),
    ] = [DEFAULT_ALIAS],  # noqa: B006 (Typer copies it)
    metric: Metric = None,
    study: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="With --best, the best trial of this mlt tune study (by cross-validated rmse)",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="With --best, rank the runs on this data set \\[default: the newest run's]",
            show_default=False,
        ),
    ] = None,
    if_better: Annotated[
        bool,
        typer.Option(
            "--if-better",
            help="Move the alias only if the run's model beats the version holding it, both "
            "scored by --metric on the run's test split (exit 3 when it does not)",
        ),
    ] = False,
    min_delta: Annotated[
        str | None,
        typer.Option(
            "--min-delta",
            metavar="FLOAT[%]",
            help="With --if-better, how much better is better: in the metric's units (0.5) or "
            "relative to the holder's score (2%) \\[default: 0, any improvement]",
            show_default=False,
        ),
    ] = None,
    to_version: Annotated[
        int | None,
        typer.Option(
            "--version",
            metavar="INT",
            help="Point the alias at this existing version instead (a rollback); "
            "recorded in the history as manual",
        ),
    ] = None,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
    fmt: OutputFormat = None,
) -> None:
    """Register a run's model in the Model Registry and point an alias at it.

    Every alias move is recorded in the model's history (mlt models NAME --history).

    Examples: mlt register     (the best run by rmse becomes <dataset>-elasticnet@champion)

    mlt train --format json | jq -r .run_id | mlt register --run -

    mlt register --if-better --min-delta 1%     (exit 0 promoted, 3 kept)

    mlt register --version 1     (roll champion back to version 1)
    """
    from ..registry.versions import register_model

    if run and best:
        raise typer.BadParameter("give --run or --best, not both", param_hint="--run")
    if run and dataset:
        raise typer.BadParameter("--dataset chooses among runs for --best", param_hint="--run")
    if to_version is not None and (run or best or dataset or if_better):
        raise typer.BadParameter(
            "--version moves the alias to a registered version: no run to choose",
            param_hint="--version",
        )
    if min_delta is not None and not if_better:
        raise typer.BadParameter("--min-delta applies to --if-better", param_hint="--min-delta")
    if if_better and len(alias) > 1:
        raise typer.BadParameter("--if-better judges one --alias at a time", param_hint="--alias")
    fmt = choose_format(fmt)
    if run and study:
        raise typer.BadParameter("--study chooses among runs for --best", param_hint="--run")
    store = tracking(tracking_uri, experiment)
    if to_version is not None:
        _point(store, name, to_version, alias, fmt)
        return
    run_id = read_stdin_value(run, "run id", "--run") if run else None
    if study:
        from ..tracking.tuning import best_trial_run

        run_id = best_trial_run(store, study).run_id
    if metric is None:
        metric = _default_metric(store, run_id, dataset)
    if if_better:
        _if_better(
            store,
            run_id,
            name,
            alias[0] if alias else DEFAULT_ALIAS,
            metric,
            min_delta,
            dataset,
            fmt,
        )
        return
    version = register_model(
        store,
        run_id=run_id,
        name=name,
        aliases=alias or [DEFAULT_ALIAS],
        metric=metric,
        dataset=dataset,
    )
    emit(version.to_dict(), fmt, one_version_columns([version.to_dict()]))
    if fmt is Format.table:
        state = "Registered" if version.created else "Already registered;"
        among = f" among runs on {version.dataset}" if version.dataset else ""
        chosen = "" if run_id else f" (best by {metric}{among})"
        chosen = f" (best trial of study {study} by cv_rmse)" if study else chosen
        info(
            f"{state} {version.name} version {version.version}{chosen}. "
            f"Next: mlt serve --model {version.model_uri}",
            style="dim",
        )


EXIT_KEPT = 3  # mlt register --if-better: the holder was not beaten, nothing moved


def _point(store: Any, name: str | None, version: int, aliases: list[str], fmt: Format) -> None:
    from ..registry.promotion import point_alias

    info_ = point_alias(store, name, version, aliases or [DEFAULT_ALIAS])
    emit(info_.to_dict(), fmt, one_version_columns([info_.to_dict()]))
    if fmt is Format.table:
        info(
            f"{', '.join(aliases)} of {info_.name} now at version {info_.version}; "
            f"history: mlt models {info_.name} --history",
            style="dim",
        )


def contender_columns(metric: str) -> list[Column]:
    return [
        Column("", lambda r: r["role"], no_wrap=True),
        Column("version", lambda r: r["version"], "right", no_wrap=True),
        Column("run_id", lambda r: short_id(r["run_id"]), no_wrap=True),
        Column(f"{metric} here", lambda r: r["score"], "right", no_wrap=True),
        Column(f"{metric} recorded", lambda r: r["recorded"], "right", no_wrap=True),
    ]


def _if_better(
    store: Any,
    run_id: str | None,
    name: str | None,
    alias: str,
    metric: str,
    min_delta: str | None,
    dataset: str | None,
    fmt: Format,
) -> None:
    from ..registry.promotion import KEPT, MinDelta, promote_if_better

    try:
        delta = MinDelta.parse(min_delta)  # a usage error, before anything is read
    except MltError as exc:
        raise typer.BadParameter(exc.message, param_hint="--min-delta") from None
    result = promote_if_better(store, run_id, name, alias, metric, delta, dataset)
    if fmt is Format.table:
        rows = [{"role": "challenger", **asdict(result.challenger)}]
        if result.champion is not None and result.outcome != "current":
            rows.append({"role": "champion", **asdict(result.champion)})
        title = (
            f"{metric} ({'higher' if result.higher_is_better else 'lower'} is better) on "
            f"{result.rows} test rows of {result.dataset} ({result.digest})"
            if result.rows
            else None
        )
        emit(rows, fmt, contender_columns(metric), title=title)
        holder = f"version {result.version}" if result.version else "no version"
        if result.outcome == KEPT:
            info(f"Kept: {holder} stays {result.name}@{alias}: {result.reason}.", style="dim")
        elif result.promoted:
            info(
                f"Promoted: {result.name}@{alias} -> version {result.version}: {result.reason}.",
                style="dim",
            )
        else:
            info(f"Unchanged: {result.reason}.", style="dim")
    else:
        emit(result.to_dict(), fmt, [])
    if result.outcome == KEPT:
        raise typer.Exit(EXIT_KEPT)


@app.command()
@command
def models(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="NAME",
            help="Registered model name \\[default: every model]",
            show_default=False,
        ),
    ] = None,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="List the alias moves instead (when, from, to, who, why), newest first",
        ),
    ] = False,
    tracking_uri: TrackingUri = None,
    fmt: OutputFormat = None,
    wide: Wide = False,
) -> None:
    """List registered model versions with their aliases and source metrics.

    Examples: mlt models

    mlt models diabetes-elasticnet --format json

    mlt models diabetes-elasticnet --history
    """
    from ..registry.versions import list_versions

    fmt = choose_format(fmt)
    if history:
        from ..registry.history import list_history

        moves = list_history(tracking(tracking_uri, None), name)
        emit([m.to_dict() for m in moves], fmt, history_columns(name is None), wide=wide)
        return
    versions = list_versions(tracking(tracking_uri, None), name)
    records = [v.to_dict() for v in versions]
    emit(records, fmt, version_columns(wide, records), wide=wide)


def history_columns(with_name: bool) -> list[Column]:
    """Alias moves: when, alias, from, to, who, why and the scores of a gated promotion."""
    columns = [
        Column("when", lambda r: r["when"].replace("T", " ")[:19], no_wrap=True),
        Column("alias", lambda r: r["alias"], no_wrap=True),
        Column("from", lambda r: r["from_version"], "right", no_wrap=True),
        Column("to", lambda r: r["to_version"], "right", no_wrap=True),
        Column("who", lambda r: r["who"], no_wrap=True, max_width=16),
        Column("why", lambda r: r["why"], no_wrap=True),
        Column("scores", _scores),
    ]
    if with_name:
        columns.insert(1, Column("name", lambda r: r["name"], no_wrap=True))
    return columns


def _scores(record: dict[str, Any]) -> str:
    details = record.get("details") or {}
    metric = details.get("metric")
    if not metric or "challenger" not in details:
        return ""
    text = f"{metric} {details['challenger']:.4g}"
    if details.get("champion") is not None:
        text += f" vs {details['champion']:.4g}"
    if details.get("min_delta"):
        text += f" (min-delta {details['min_delta']})"
    return text


def _default_metric(store: Any, run_id: str | None, dataset: str | None) -> str:
    """rmse, or log_loss when the run (or the newest run that competes) is a classifier."""
    from ..tracking.comparison import dataset_filter, default_metric, run_default_metric

    if run_id is not None:
        return run_default_metric(store, run_id)
    finished = "attributes.status = 'FINISHED'"
    on = f" and {dataset_filter(dataset)}" if dataset else ""
    return default_metric(store, finished + on)

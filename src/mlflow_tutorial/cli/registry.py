"""Model Registry: ``mlt register`` and ``mlt models``."""

from __future__ import annotations

from typing import Annotated

import typer

from ..names import DEFAULT_ALIAS
from ..output import Column, Format, choose_format, emit, info
from .app import app
from .common import (
    METRIC_COLUMNS,
    Experiment,
    Metric,
    OutputFormat,
    TrackingUri,
    Wide,
    command,
    id_column,
    read_stdin_value,
    tracking,
)


def version_columns(wide: bool) -> list[Column]:
    """Registered versions: name, version and aliases never wrap; the model URI (name@alias
    or name/version) only with ``--wide``."""
    columns = [
        Column("name", lambda r: r["name"], no_wrap=True),
        Column("version", lambda r: r["version"], "right", no_wrap=True),
        Column("aliases", lambda r: r["aliases"], no_wrap=True),
        id_column("run_id", wide),
        *METRIC_COLUMNS,
    ]
    if wide:
        columns.append(Column("model_uri", lambda r: r["model_uri"], no_wrap=True))
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
            help="Registered model name \\[default: <dataset>-elasticnet]",
            show_default=False,
        ),
    ] = None,
    alias: Annotated[
        list[str],
        typer.Option(
            "--alias", "-a", metavar="NAME", help="Alias to point at the version (repeatable)"
        ),
    ] = [DEFAULT_ALIAS],  # noqa: B006 (Typer copies it)
    metric: Metric = "rmse",
    dataset: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="With --best, rank the runs on this data set \\[default: the newest run's]",
            show_default=False,
        ),
    ] = None,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
    fmt: OutputFormat = None,
) -> None:
    """Register a run's model in the Model Registry and point an alias at it.

    Examples: mlt register     (the best run by rmse becomes <dataset>-elasticnet@champion)

    mlt train --format json | jq -r .run_id | mlt register --run -
    """
    from ..registry.versions import register_model

    if run and best:
        raise typer.BadParameter("give --run or --best, not both", param_hint="--run")
    if run and dataset:
        raise typer.BadParameter("--dataset chooses among runs for --best", param_hint="--run")
    fmt = choose_format(fmt)
    run_id = read_stdin_value(run, "run id", "--run") if run else None
    version = register_model(
        tracking(tracking_uri, experiment),
        run_id=run_id,
        name=name,
        aliases=alias or [DEFAULT_ALIAS],
        metric=metric,
        dataset=dataset,
    )
    columns = version_columns(wide=True)  # one version: a list of fields, room enough
    columns.insert(4, Column("dataset", lambda r: r["dataset"]))
    emit(version.to_dict(), fmt, columns)
    if fmt is Format.table:
        state = "Registered" if version.created else "Already registered;"
        among = f" among runs on {version.dataset}" if version.dataset else ""
        chosen = "" if run_id else f" (best by {metric}{among})"
        info(
            f"{state} {version.name} version {version.version}{chosen}. "
            f"Next: mlt serve --model {version.model_uri}",
            style="dim",
        )


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
    tracking_uri: TrackingUri = None,
    fmt: OutputFormat = None,
    wide: Wide = False,
) -> None:
    """List registered model versions with their aliases and source metrics.

    Examples: mlt models

    mlt models diabetes-elasticnet --format json
    """
    from ..registry.versions import list_versions

    fmt = choose_format(fmt)
    versions = list_versions(tracking(tracking_uri, None), name)
    emit([v.to_dict() for v in versions], fmt, version_columns(wide), wide=wide)

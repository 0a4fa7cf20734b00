"""Tracking: ``mlt train`` and ``mlt compare``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from typing import Annotated, Any

import typer

from ..names import DEFAULT_DATASET
from ..output import Column, Format, choose_format, emit, info
from ..tracking.training import (
    DEFAULT_ALPHA,
    DEFAULT_L1_RATIO,
    DEFAULT_RANDOM_STATE,
    DEFAULT_TEST_SIZE,
)
from .app import app
from .common import (
    DataOpt,
    DatasetOpt,
    DecimalOpt,
    DropOpt,
    Experiment,
    Metric,
    OutputFormat,
    StandardizeOpt,
    TargetOpt,
    TaskOpt,
    TestSizeOpt,
    TrackingUri,
    Wide,
    command,
    data_options,
    floats,
    id_column,
    metric_columns,
    param,
    tracking,
)


@app.command()
@command
def train(
    alpha: Annotated[
        list[str],
        typer.Option(
            metavar="FLOAT",
            help="Regularization strength alpha (>= 0). Repeat or comma-separate for a grid.",
        ),
    ] = [str(DEFAULT_ALPHA)],  # noqa: B006 (Typer copies it)
    l1_ratio: Annotated[
        list[str],
        typer.Option(
            metavar="FLOAT",
            help="Elastic-net l1_ratio (0..1). Repeat or comma-separate for a grid.",
        ),
    ] = [str(DEFAULT_L1_RATIO)],  # noqa: B006
    dataset: DatasetOpt = DEFAULT_DATASET,
    data: DataOpt = None,
    target: TargetOpt = None,
    drop: DropOpt = None,
    task: TaskOpt = None,
    decimal: DecimalOpt = ".",
    test_size: TestSizeOpt = DEFAULT_TEST_SIZE,
    random_state: Annotated[
        int,
        typer.Option(min=0, max=2**32 - 1, metavar="INT", help="Seed for the split and the model"),
    ] = DEFAULT_RANDOM_STATE,
    standardize: StandardizeOpt = True,
    run_name: Annotated[str | None, typer.Option(metavar="NAME", help="MLflow run name")] = None,
    plots: Annotated[
        bool,
        typer.Option(
            help="Log plots of the model under plots/ in the run, the default (--no-plots: skip)",
            show_default=False,
        ),
    ] = True,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
    fmt: OutputFormat = None,
    wide: Wide = False,
) -> None:
    """Train an elastic-net model and record it as an MLflow run.

    A numeric target is regression (ElasticNet); a text or boolean target is classification
    (LogisticRegression with the same penalty). Text, boolean and gappy columns of --data are
    handled inside the saved model; ids and dates are refused (--drop them).

    Examples: mlt train --alpha 0.5 --l1-ratio 0.2 --format json | jq -r .run_id

    mlt train --alpha 0.1,1 --l1-ratio 0.2,0.8     (a grid of 4 runs)

    mlt train --data penguins.csv --target species --drop id
    """
    from ..tracking.training import TrainOptions, train_grid

    dropped = data_options(data, drop, task, decimal)
    alphas = floats(alpha, "--alpha", DEFAULT_ALPHA)
    l1_ratios = floats(l1_ratio, "--l1-ratio", DEFAULT_L1_RATIO)
    options = TrainOptions(
        dataset=dataset,
        data=data or None,
        target=target or None,
        test_size=test_size,
        random_state=random_state,
        standardize=standardize,
        run_name=run_name,
        plots=plots,
        drop=dropped,
        task=task,
        decimal=decimal,
    )
    fmt = choose_format(fmt)
    store = tracking(tracking_uri, experiment)
    total = len(alphas) * len(l1_ratios)
    with _progress(total) as on_progress:
        results = train_grid(alphas, l1_ratios, options, store, on_progress, _report_columns)
    records = [r.to_dict() for r in results]
    columns = [
        id_column("run_id", wide or total == 1),  # one run is a list of fields: room enough
        Column("alpha", param("alpha"), "right", no_wrap=True),
        Column("l1_ratio", param("l1_ratio"), "right", no_wrap=True),
        *metric_columns(records),
    ]
    if total == 1:
        columns[1:1] = [
            Column("run_name", lambda r: r["run_name"]),
            Column("experiment", lambda r: f"{r['experiment_name']} ({r['experiment_id']})"),
        ]
        columns.append(Column("model_uri", lambda r: r["model_uri"]))
    emit(
        records[0] if total == 1 else records,
        fmt,
        columns,
        title=f"Trained on {results[0].dataset}",
        wide=wide,
    )
    if fmt is Format.table:
        info(
            f"Runs are in {store.uri} (experiment {results[0].experiment_name!r}). "
            "Next: mlt compare, mlt register; "
            "browse: mlt ui",
            style="dim",
        )


def _report_columns(data: Any) -> None:
    """What was done to the columns, once on stderr (nothing for the tutorial's data)."""
    for line in data.report.lines() if data.report is not None else ():
        info(line, style="dim")


@app.command()
@command
def compare(
    metric: Metric = None,
    top: Annotated[
        int | None, typer.Option("--top", "-n", metavar="INT", help="Show the N best runs")
    ] = None,
    filter_string: Annotated[
        str | None,
        typer.Option(
            "--filter",
            metavar="FILTER",
            help="MLflow search filter, e.g. \"params.alpha = '0.5'\"",
        ),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Show every param, not only those that differ")
    ] = False,
    plot: Annotated[
        str | None,
        typer.Option(
            "--plot",
            metavar="PATH",
            help="Also draw the metric across the swept params (.png or .svg): "
            "a heatmap for alpha x l1_ratio, a line for one param",
        ),
    ] = None,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
    fmt: OutputFormat = None,
    wide: Wide = False,
) -> None:
    """List the experiment's runs, best first.

    Examples: mlt compare --top 5 --metric r2 --plot sweep.png

    mlt compare --filter "params.l1_ratio = '0.8'" --format csv
    """
    from ..tracking.comparison import compare_runs, default_metric, differing_params

    fmt = choose_format(fmt)
    if plot:
        from ..tracking.plots import check_plot_path

        check_plot_path(plot)
    store = tracking(tracking_uri, experiment)
    metric = metric or default_metric(store, filter_string or "")
    runs = compare_runs(store, metric, top, filter_string)
    if plot:
        from ..tracking.plots import sweep_plot

        drawn = sweep_plot(runs, metric, plot)
        info(
            f"Wrote a {drawn.kind} of {metric} over {' x '.join(drawn.params)} "
            f"({drawn.runs} runs) to {drawn.path}",
            style="dim",
        )
    names = sorted({p for r in runs for p in r.params}) if show_all else differing_params(runs)
    columns = [
        id_column("run_id", wide),
        *(Column(p, param(p), "right", no_wrap=True) for p in names),
        *metric_columns([r.to_dict() for r in runs]),
    ]
    if any(r.status != "FINISHED" for r in runs):
        columns.append(Column("status", lambda r: r["status"], no_wrap=True))
    columns.append(Column("name", lambda r: r["run_name"], no_wrap=True, max_width=24))
    emit([r.to_dict() for r in runs], fmt, columns, highlight_first=bool(runs), wide=wide)


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Any]:
    """For grids, a line on stderr per finished run, under a Rich progress bar on a terminal;
    nothing for a single run."""
    if total == 1:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..output import err_console

    console = err_console()

    def report(result: Any) -> None:
        p, m = result.params, result.metrics
        shown = " ".join(
            f"{k}={m[k]:.4g}" for k in ("rmse", "r2", "accuracy", "log_loss") if k in m
        )
        console.print(
            f"run {result.run_id[:8]} alpha={p['alpha']} l1_ratio={p['l1_ratio']} {shown}",
            highlight=False,
        )

    if not console.is_terminal:  # a bar in a log is noise (and leaves a blank line behind)
        yield lambda done, _total, result: report(result)
        return
    with Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=total)

        def on_progress(done: int, _total: int, result: Any) -> None:
            report(result)
            progress.update(task, completed=done)

        yield on_progress


@app.command()
@command
def diff(
    run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="A run id (or its short form)")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="Another run id")],
    show_all: Annotated[
        bool, typer.Option("--all", help="Show every field, not only those that differ")
    ] = False,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
    fmt: OutputFormat = None,
) -> None:
    """Show two runs side by side: params, metrics, data set, signature columns and tags.

    Only what differs, unless --all. Run ids may be the 8-character short ids of the tables.

    Examples: mlt diff 4ddd5f94 adf4f645

    mlt diff 4ddd5f94 adf4f645 --all --format csv
    """
    from ..output import short_id
    from ..tracking.diff import diff_runs

    fmt = choose_format(fmt)
    result = diff_runs(tracking(tracking_uri, experiment), run_a, run_b, show_all)
    rows = [asdict(row) for row in result.rows]
    if fmt is Format.json:
        emit(result.to_dict(), fmt, [])
        return
    columns = [
        Column("field", lambda r: r["field"], no_wrap=True),
        Column(short_id(result.run_a), lambda r: r["a"]),
        Column(short_id(result.run_b), lambda r: r["b"]),
    ]
    if fmt is Format.table and not rows:
        info("The two runs do not differ (--all shows every field).", style="dim")
        return
    emit(rows, fmt, columns)

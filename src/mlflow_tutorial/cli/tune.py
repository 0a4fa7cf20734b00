"""Tracking: ``mlt tune``, a hyperparameter search with Optuna."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from ..names import DEFAULT_DATASET
from ..output import Column, Format, choose_format, emit, info
from ..tracking.training import DEFAULT_RANDOM_STATE, DEFAULT_TEST_SIZE
from ..tracking.tuning import (
    DEFAULT_ALPHA_RANGE,
    DEFAULT_FOLDS,
    DEFAULT_L1_RATIO_RANGE,
    DEFAULT_TRIALS,
    STORAGE_ENV,
)
from .app import app
from .common import (
    DataOpt,
    DatasetOpt,
    DecimalOpt,
    DropOpt,
    Experiment,
    OutputFormat,
    StandardizeOpt,
    TargetOpt,
    TestSizeOpt,
    TrackingUri,
    command,
    data_options,
    floats,
    tracking,
)


def _range(value: str, name: str) -> tuple[float, float]:
    values = floats([value], name, 0.0)
    if len(values) == 1:
        return values[0], values[0]
    if len(values) != 2:
        raise typer.BadParameter("give LOW,HIGH", param_hint=name)
    return values[0], values[1]


@app.command()
@command
def tune(
    trials: Annotated[
        int, typer.Option(metavar="INT", help="Complete trials the study should have")
    ] = DEFAULT_TRIALS,
    timeout: Annotated[
        float | None,
        typer.Option(metavar="FLOAT", help="Stop starting trials after this many seconds"),
    ] = None,
    study: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Study to run, join or resume \\[default: <experiment>-<dataset>]",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", metavar="INT", help="Worker processes on this machine")
    ] = 1,
    alpha: Annotated[
        str, typer.Option(metavar="FLOAT,FLOAT", help="Range of alpha, searched on a log scale")
    ] = ",".join(f"{x:g}" for x in DEFAULT_ALPHA_RANGE),
    l1_ratio: Annotated[
        str, typer.Option(metavar="FLOAT,FLOAT", help="Range of l1_ratio (0..1)")
    ] = ",".join(f"{x:g}" for x in DEFAULT_L1_RATIO_RANGE),
    folds: Annotated[
        int,
        typer.Option(metavar="INT", help="Cross-validation folds of the training split"),
    ] = DEFAULT_FOLDS,
    storage: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            envvar=STORAGE_ENV,
            show_envvar=True,
            help="Study database (SQLAlchemy URL) \\[default: beside an SQLite tracking store]",
            show_default=False,
        ),
    ] = None,
    dataset: DatasetOpt = DEFAULT_DATASET,
    data: DataOpt = None,
    target: TargetOpt = None,
    drop: DropOpt = None,
    decimal: DecimalOpt = ".",
    test_size: TestSizeOpt = DEFAULT_TEST_SIZE,
    random_state: Annotated[
        int,
        typer.Option(
            min=0, max=2**32 - 1, metavar="INT", help="Seed for the split, the folds and the search"
        ),
    ] = DEFAULT_RANDOM_STATE,
    standardize: StandardizeOpt = True,
    plots: Annotated[
        bool,
        typer.Option(
            help="Log plots with each logged model, the default (--no-plots: skip)",
            show_default=False,
        ),
    ] = True,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
    fmt: OutputFormat = None,
) -> None:
    """Search alpha and l1_ratio with Optuna, choosing by cross-validated RMSE.

    Each trial is an MLflow run under one parent run per study; the best trials so far log
    their model. Interrupted, the same command resumes the study; started elsewhere with the
    same --study and --storage, it joins it, and waits for the last trials to end.

    Examples: mlt tune --trials 20

    mlt tune --trials 40 --jobs 2 --alpha 0.001,1 --study big-search
    """
    from ..tracking.training import TrainOptions
    from ..tracking.tuning import TuneOptions
    from ..tracking.tuning import tune as run_study

    options = TuneOptions(
        trials=trials,
        timeout=timeout,
        study=study,
        jobs=jobs,
        alpha_range=_range(alpha, "--alpha"),
        l1_ratio_range=_range(l1_ratio, "--l1-ratio"),
        folds=folds,
        storage=storage,
    )
    dropped = data_options(data, drop, None, decimal)
    train_options = TrainOptions(
        dataset=dataset,
        data=data or None,
        target=target or None,
        test_size=test_size,
        random_state=random_state,
        standardize=standardize,
        plots=plots,
        drop=dropped,
        task="regression",  # the search minimizes a cross-validated rmse
        decimal=decimal,
    )
    fmt = choose_format(fmt)
    store = tracking(tracking_uri, experiment)
    with _progress(trials, bar=jobs == 1) as (on_trial, on_wait):
        result = run_study(options, train_options, store, on_trial, on_wait)
    record = result.to_dict()
    columns = [
        Column("study", lambda r: r["study"]),
        Column("trials", lambda r: f"{r['trials']} complete ({r['ran']} run now)"),
        Column("best_trial", lambda r: r["best_trial"], "right"),
        Column("alpha", lambda r: r["best_params"].get("alpha"), "right"),
        Column("l1_ratio", lambda r: r["best_params"].get("l1_ratio"), "right"),
        Column("cv_rmse", lambda r: r["best_cv_rmse"], "right"),
        *(Column(m, _test_metric(m), "right") for m in ("rmse", "mae", "r2")),
        Column("best_run_id", lambda r: r["best_run_id"]),
        Column("model_uri", lambda r: r["best_model_uri"]),
        Column("parent_run_id", lambda r: r["parent_run_id"]),
        Column("storage", lambda r: r["storage"]),
    ]
    emit(record, fmt, columns, title=f"Study {result.study}")
    if fmt is Format.table:
        info(
            "Chosen by cv_rmse (cross-validation on the training split); rmse, mae and r2 are "
            f"on the test split. Next: mlt register --best --study {result.study}",
            style="dim",
        )


def _running(n: int) -> str:
    if n == 1:
        return "the trial running in another worker"
    return f"the {n} trials running in other workers"


def _test_metric(name: str) -> Any:
    return lambda r: r["metrics"].get(name)


@contextlib.contextmanager
def _progress(total: int, bar: bool) -> Iterator[Any]:
    """A line on stderr per finished trial, under a Rich progress bar on a terminal (one
    worker only: forked workers write their own lines)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..output import err_console

    console = err_console()

    def report(trial: Any) -> None:
        p = trial.params
        mark = " (best: model logged)" if trial.model_logged else ""
        console.print(
            f"trial {trial.number} alpha={p['alpha']:.4g} l1_ratio={p['l1_ratio']:.3f} "
            f"cv_rmse={trial.cv_rmse:.4g} best={trial.best_cv_rmse:.4g}{mark}",
            highlight=False,
        )

    def waiting(running: int, complete: int) -> None:
        console.print(
            f"{complete} of {total} trials complete; waiting for {_running(running)}",
            highlight=False,
        )

    if not (bar and console.is_terminal):
        yield report, waiting
        return
    with Progress(
        TextColumn("[bold]tuning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=total)

        def on_trial(trial: Any) -> None:
            report(trial)
            progress.update(
                task,
                completed=min(trial.complete, total),
                description=f"best {trial.best_cv_rmse:.4g}",
            )

        yield on_trial, waiting

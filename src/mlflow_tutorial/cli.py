"""The ``mlt`` command line: parse options, make one library call, render the result.

Heavy libraries (MLflow, scikit-learn, pandas) are imported by the library on first use, so
``mlt --help`` and usage errors answer at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from . import __version__
from .batch import DEFAULT_CHUNK_ROWS
from .config import (
    DEBUG_ENV,
    DEFAULT_EXPERIMENT,
    DEFAULT_TRACKING_URI,
    EXPERIMENT_ENV,
    TRACKING_URI_ENV,
)
from .data import DEFAULT_DATASET
from .errors import MltError
from .mlflow_errors import as_mlt_error
from .output import (
    Column,
    DataFormat,
    Format,
    choose_format,
    emit,
    emit_frames,
    error,
    info,
    replaced_file,
    short_id,
    warn_if_exposed,
)
from .serving import DEFAULT_HOST, DEFAULT_MODEL_URI, DEFAULT_PORT
from .training import (
    DEFAULT_ALPHA,
    DEFAULT_L1_RATIO,
    DEFAULT_RANDOM_STATE,
    DEFAULT_TEST_SIZE,
)

app = typer.Typer(
    name="mlt",
    help="The MLflow tutorial, made real: train, compare, register and serve models.\n\n"
    "Example: mlt train --alpha 0.5 && mlt register && mlt serve",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Options shared by every command.
TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        "-t",
        envvar=TRACKING_URI_ENV,
        show_envvar=True,
        help="MLflow tracking URI",
        show_default=DEFAULT_TRACKING_URI,
    ),
]
Experiment = Annotated[
    str | None,
    typer.Option(
        "--experiment",
        "-e",
        envvar=EXPERIMENT_ENV,
        show_envvar=True,
        help="Experiment name",
        show_default=DEFAULT_EXPERIMENT,
    ),
]
OutputFormat = Annotated[
    Format | None,
    typer.Option(
        "--format",
        "-f",
        case_sensitive=False,
        help="Output format",
        show_default="table on a terminal, json otherwise",
    ),
]
Metric = Annotated[
    str, typer.Option("--metric", help="Metric to rank by (r2 descending, errors ascending)")
]
Wide = Annotated[
    bool,
    typer.Option(
        "--wide", help="Full ids and every column in tables (json, jsonl and csv always have them)"
    ),
]


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's errors into one line on stderr and exit 1 (``MLT_DEBUG=1`` re-raises)."""
    debug = bool(os.environ.get(DEBUG_ENV))
    try:
        yield
    except MltError as exc:
        if debug:
            raise
        error(exc.message)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        if debug:
            raise
        error("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:  # an MLflow error the library did not expect
        translated = as_mlt_error(exc)
        if debug or translated is None:
            raise
        error(translated.message)
        raise typer.Exit(1) from None


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so a run being written is closed (KILLED), not left RUNNING."""
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _tracking(tracking_uri: str | None, experiment: str | None):
    from .config import Tracking

    return Tracking.resolve(tracking_uri, experiment)


def _floats(values: list[str] | None, name: str, default: float) -> list[float]:
    """Repeated options and comma lists: ``--alpha 0.1 --alpha 1`` or ``--alpha 0.1,1``."""
    if not values:
        return [default]
    out = []
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            try:
                out.append(float(item))
            except ValueError:
                raise typer.BadParameter(f"{item!r} is not a number", param_hint=name) from None
    if not out:
        raise typer.BadParameter("give at least one number", param_hint=name)
    return list(dict.fromkeys(out))


def _param(name: str):
    return lambda r: r.get("params", {}).get(name)


def _metric(name: str):
    return lambda r: r.get("metrics", {}).get(name)


METRIC_COLUMNS = [Column(m, _metric(m), "right", no_wrap=True) for m in ("rmse", "mae", "r2")]


def _id_column(key: str, wide: bool) -> Column:
    """An id column: short in tables (as git shows hashes), in full with ``--wide``."""
    return Column(key, lambda r: r[key] if wide else short_id(r[key]), no_wrap=True)


@app.callback(invoke_without_command=True)
def root(
    version: Annotated[
        bool, typer.Option("--version", "-V", help="Show the version and exit.", is_eager=True)
    ] = False,
) -> None:
    """The MLflow tutorial, made real: train, compare, register and serve models."""
    if version:
        typer.echo(f"mlt {__version__}")
        raise typer.Exit()


@app.command()
def train(
    alpha: Annotated[
        list[str] | None,
        typer.Option(
            help="ElasticNet alpha (>= 0). Repeat or comma-separate for a grid.",
            show_default=str(DEFAULT_ALPHA),
        ),
    ] = None,
    l1_ratio: Annotated[
        list[str] | None,
        typer.Option(
            help="ElasticNet l1_ratio (0..1). Repeat or comma-separate for a grid.",
            show_default=str(DEFAULT_L1_RATIO),
        ),
    ] = None,
    dataset: Annotated[
        str, typer.Option(help="Built-in data set (scikit-learn's bundled data)")
    ] = DEFAULT_DATASET,
    data: Annotated[
        str | None, typer.Option(help="CSV file or URL to train on instead (, ; tab or |)")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="Target column of --data",
            show_default="'target', else the last column",
        ),
    ] = None,
    test_size: Annotated[
        float, typer.Option(help="Share of rows held out for testing")
    ] = DEFAULT_TEST_SIZE,
    random_state: Annotated[
        int, typer.Option(min=0, max=2**32 - 1, help="Seed for the split and the model")
    ] = DEFAULT_RANDOM_STATE,
    standardize: Annotated[
        bool, typer.Option(help="Scale features before ElasticNet (--no-standardize: raw)")
    ] = True,
    run_name: Annotated[str | None, typer.Option(help="MLflow run name")] = None,
    plots: Annotated[
        bool,
        typer.Option(help="Log plots of the model under plots/ in the run (--no-plots: skip)"),
    ] = True,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
    fmt: OutputFormat = None,
    wide: Wide = False,
) -> None:
    """Train an ElasticNet regressor and record it as an MLflow run.

    Example: mlt train --alpha 0.5 --l1-ratio 0.2 --format json | jq -r .run_id
    """
    from .training import TrainOptions, train_grid

    alphas = _floats(alpha, "--alpha", DEFAULT_ALPHA)
    l1_ratios = _floats(l1_ratio, "--l1-ratio", DEFAULT_L1_RATIO)
    options = TrainOptions(
        dataset=dataset,
        data=data or None,
        target=target or None,
        test_size=test_size,
        random_state=random_state,
        standardize=standardize,
        run_name=run_name,
        plots=plots,
    )
    fmt = choose_format(fmt)
    tracking = _tracking(tracking_uri, experiment)
    total = len(alphas) * len(l1_ratios)
    with user_errors(), sigterm_interrupts(), _quiet_mlflow(), _progress(total) as on_progress:
        results = train_grid(alphas, l1_ratios, options, tracking, on_progress)
    records = [r.to_dict() for r in results]
    columns = [
        _id_column("run_id", wide or total == 1),  # one run is a list of fields: room enough
        Column("alpha", _param("alpha"), "right", no_wrap=True),
        Column("l1_ratio", _param("l1_ratio"), "right", no_wrap=True),
        *METRIC_COLUMNS,
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
            f"Runs are in {tracking.uri} (experiment {results[0].experiment_name!r}). "
            "Next: mlt compare, mlt register; "
            "browse: mlt ui",
            style="dim",
        )


@app.command()
def compare(
    metric: Metric = "rmse",
    top: Annotated[int | None, typer.Option("--top", "-n", help="Show the N best runs")] = None,
    filter_string: Annotated[
        str | None,
        typer.Option("--filter", help="MLflow search filter, e.g. \"params.alpha = '0.5'\""),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Show every param, not only those that differ")
    ] = False,
    plot: Annotated[
        str | None,
        typer.Option(
            "--plot",
            metavar="FILE",
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

    Example: mlt compare --top 5 --metric r2 --plot sweep.png
    """
    from .comparison import compare_runs, differing_params

    fmt = choose_format(fmt)
    with user_errors(), _quiet_mlflow():
        if plot:
            from .plots import check_plot_path

            check_plot_path(plot)
        runs = compare_runs(_tracking(tracking_uri, experiment), metric, top, filter_string)
        if plot:
            from .plots import sweep_plot

            drawn = sweep_plot(runs, metric, plot)
            info(
                f"Wrote a {drawn.kind} of {metric} over {' x '.join(drawn.params)} "
                f"({drawn.runs} runs) to {drawn.path}",
                style="dim",
            )
    names = sorted({p for r in runs for p in r.params}) if show_all else differing_params(runs)
    columns = [
        _id_column("run_id", wide),
        *(Column(p, _param(p), "right", no_wrap=True) for p in names),
        *METRIC_COLUMNS,
    ]
    if any(r.status != "FINISHED" for r in runs):
        columns.append(Column("status", lambda r: r["status"], no_wrap=True))
    columns.append(Column("name", lambda r: r["run_name"], no_wrap=True, max_width=24))
    emit([r.to_dict() for r in runs], fmt, columns, highlight_first=bool(runs), wide=wide)


def _version_columns(wide: bool) -> list[Column]:
    """Registered versions: name, version and aliases never wrap; the model URI (name@alias
    or name/version) only with ``--wide``."""
    columns = [
        Column("name", lambda r: r["name"], no_wrap=True),
        Column("version", lambda r: r["version"], "right", no_wrap=True),
        Column("aliases", lambda r: r["aliases"], no_wrap=True),
        _id_column("run_id", wide),
        *METRIC_COLUMNS,
    ]
    if wide:
        columns.append(Column("model_uri", lambda r: r["model_uri"], no_wrap=True))
    return columns


def _read_run_id(value: str) -> str:
    """``-`` reads the run id from stdin (the first non-empty line)."""
    if value != "-":
        return value.strip()
    for line in sys.stdin:
        if line.strip():
            return line.strip()
    raise typer.BadParameter("no run id on standard input", param_hint="--run")


@app.command()
def register(
    run: Annotated[
        str | None,
        typer.Option("--run", "-r", help="Run id to register, or - to read it from stdin"),
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
        typer.Option("--name", help="Registered model name", show_default="<dataset>-elasticnet"),
    ] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option("--alias", "-a", help="Alias to point at the version (repeatable)"),
    ] = None,
    metric: Metric = "rmse",
    dataset: Annotated[
        str | None,
        typer.Option(
            help="With --best, rank the runs on this data set",
            show_default="the newest run's",
        ),
    ] = None,
    tracking_uri: TrackingUri = None,
    experiment: Experiment = None,
    fmt: OutputFormat = None,
) -> None:
    """Register a run's model in the Model Registry and point an alias at it.

    Example: mlt train --format json | jq -r .run_id | mlt register --run -
    """
    from .registry import DEFAULT_ALIAS, register_model

    if run and best:
        raise typer.BadParameter("give --run or --best, not both", param_hint="--run")
    if run and dataset:
        raise typer.BadParameter("--dataset chooses among runs for --best", param_hint="--run")
    fmt = choose_format(fmt)
    run_id = _read_run_id(run) if run else None
    with user_errors(), _quiet_mlflow():
        version = register_model(
            _tracking(tracking_uri, experiment),
            run_id=run_id,
            name=name,
            aliases=alias or [DEFAULT_ALIAS],
            metric=metric,
            dataset=dataset,
        )
    columns = _version_columns(wide=True)  # one version: a list of fields, room enough
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
def models(
    name: Annotated[
        str | None,
        typer.Argument(help="Registered model name", show_default="every model"),
    ] = None,
    tracking_uri: TrackingUri = None,
    fmt: OutputFormat = None,
    wide: Wide = False,
) -> None:
    """List registered model versions with their aliases and source metrics.

    Example: mlt models diabetes-elasticnet
    """
    from .registry import list_versions

    fmt = choose_format(fmt)
    with user_errors(), _quiet_mlflow():
        versions = list_versions(_tracking(tracking_uri, None), name)
    emit([v.to_dict() for v in versions], fmt, _version_columns(wide), wide=wide)


@app.command()
def serve(
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model URI: models:/name@alias, models:/name/3, models:/m-..., runs:/ID/model",
            show_default=DEFAULT_MODEL_URI,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on")] = DEFAULT_PORT,
    workers: Annotated[int, typer.Option("--workers", "-w", help="Worker processes")] = 1,
    max_body_mb: Annotated[
        int, typer.Option(help="Largest request body in MB; larger ones get 413")
    ] = 16,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request on stderr")
    ] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Serve a model over HTTP with MLflow's scoring protocol (POST /invocations).

    Example: mlt serve --model models:/diabetes-elasticnet@champion --port 5001
    """
    from .serving import serve as run_server

    def ready(server: Any) -> None:
        version = server.version
        resolved = f" = {version.name} version {version.version}" if version else ""
        info(f"Serving {server.model_uri}{resolved} at {server.url}", style="bold")
        if version:
            info(f"  source: {version.source} (run {version.run_id})")
        info(f"  workers: {server.workers}; stop with Ctrl-C")
        info("  try it:")
        err = sys.stderr
        err.write(f"{server.curl}\n")
        err.flush()

    warn_if_exposed(host, "the model server", "send it prediction requests")
    with user_errors(), _quiet_mlflow():
        run_server(
            model or DEFAULT_MODEL_URI,
            host=host,
            port=port,
            workers=workers,
            tracking=_tracking(tracking_uri, None),
            on_ready=ready,
            max_body_mb=max_body_mb,
            access_log=access_log,
        )


@app.command()
def predict(
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model URI", show_default=DEFAULT_MODEL_URI),
    ] = None,
    input_: Annotated[
        str, typer.Option("--input", "-i", help="CSV or JSON-lines file, or - for stdin")
    ] = "-",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write here instead of stdout")
    ] = None,
    with_inputs: Annotated[
        bool, typer.Option("--with-inputs", help="Include the input columns in the output")
    ] = False,
    tracking_uri: TrackingUri = None,
    data_format: Annotated[
        DataFormat, typer.Option("--format", "-f", case_sensitive=False, help="Output format")
    ] = DataFormat.csv,
    chunk_rows: Annotated[
        int,
        typer.Option(
            "--chunk-rows",
            min=1,
            help="Rows read, predicted and written at a time (memory does not grow with the input)",
        ),
    ] = DEFAULT_CHUNK_ROWS,
) -> None:
    """Predict a batch of rows with a model, for shell pipelines.

    Example: cat rows.csv | mlt predict --model models:/diabetes-elasticnet@champion --input -
    """
    from .batch import predict_chunks, read_chunks

    fmt = Format(data_format.value)
    with user_errors(), _quiet_mlflow():
        rows = read_chunks(sys.stdin if input_ == "-" else input_, chunk_rows)
        predictions = predict_chunks(
            model or DEFAULT_MODEL_URI, rows, _tracking(tracking_uri, None), with_inputs
        )
        if not output:
            _stream_to_stdout(predictions, fmt)
            return
        try:
            with replaced_file(output) as handle:
                emit_frames(predictions, fmt, handle)
        except OSError as exc:
            error(f"cannot write {output}: {exc.strerror or exc}")
            raise typer.Exit(1) from None


def _stream_to_stdout(frames: Iterator[Any], fmt: Format) -> None:
    """Frames to stdout as they come; a reader that stops early (``| head``) ends the command
    quietly (exit 1, like Python's own recipe for a closed pipe)."""
    try:
        emit_frames(frames, fmt, sys.stdout)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush goes nowhere
        raise typer.Exit(1) from None


@app.command()
def ui(
    host: Annotated[
        str, typer.Option(help="Interface to listen on (0.0.0.0 exposes the UI: no login)")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on")] = 5000,
    tracking_uri: TrackingUri = None,
) -> None:
    """Open MLflow's web UI on the runs and models mlt records (Ctrl-C stops it).

    Example: mlt ui --port 5000, then open http://127.0.0.1:5000
    """
    from .ui import run_ui

    tracking = _tracking(tracking_uri, None)

    def ready(server: Any) -> None:
        if not server.started:
            info(f"The tracking server serves MLflow's UI: {server.url}", style="bold")
            return
        info(f"MLflow UI at {server.url} (store {server.tracking_uri})", style="bold")
        info("  stop with Ctrl-C")

    warn_if_exposed(host, "the UI", "read and change runs and models")
    with user_errors():
        run_ui(tracking, host=host, port=port, on_ready=ready)


# With an http:// tracking URI MLflow writes "View run ... at: URL" to stdout when a run
# ends, which would break `mlt train --format json | jq`; stdout is for results only.
NO_RUN_LINKS_ENV = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Keep MLflow's INFO chatter and library warnings out of the way (MLT_DEBUG shows them),
    and MLflow's run links off stdout (always)."""
    links = os.environ.get(NO_RUN_LINKS_ENV)
    os.environ[NO_RUN_LINKS_ENV] = "true"
    try:
        with _quiet_mlflow_logs():
            yield
    finally:
        if links is None:
            os.environ.pop(NO_RUN_LINKS_ENV, None)
        else:
            os.environ[NO_RUN_LINKS_ENV] = links


@contextlib.contextmanager
def _quiet_mlflow_logs() -> Iterator[None]:
    if os.environ.get(DEBUG_ENV):
        yield
        return
    # MLflow sets its loggers' level from MLFLOW_LOGGING_LEVEL when first imported.
    preset = os.environ.get("MLFLOW_LOGGING_LEVEL")
    os.environ["MLFLOW_LOGGING_LEVEL"] = preset or "WARNING"
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(os.environ["MLFLOW_LOGGING_LEVEL"].upper())
    with warnings.catch_warnings():
        for category in (UserWarning, FutureWarning, DeprecationWarning):
            warnings.filterwarnings("ignore", category=category, module=r"(mlflow|pydantic|skops)")
        try:
            yield
        finally:
            logger.setLevel(level)
            if preset is None:
                os.environ.pop("MLFLOW_LOGGING_LEVEL", None)


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Any]:
    """For grids, a line on stderr per finished run, under a Rich progress bar on a terminal;
    nothing for a single run."""
    if total == 1:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .output import err_console

    console = err_console()

    def report(result: Any) -> None:
        p, m = result.params, result.metrics
        console.print(
            f"run {result.run_id[:8]} alpha={p['alpha']} l1_ratio={p['l1_ratio']} "
            f"rmse={m['rmse']:.4g} r2={m['r2']:.4g}",
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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    finally:
        # Once a command is done, tearing down the objects of MLflow, scikit-learn and pandas
        # costs the interpreter a second or more. Their work is flushed by now (runs are
        # committed, output written), so exclude them from the final garbage collection.
        with contextlib.suppress(OSError):  # a closed pipe (`mlt ... | head`)
            sys.stdout.flush()
        import gc

        gc.freeze()


if __name__ == "__main__":
    main()

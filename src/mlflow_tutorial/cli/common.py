"""What every command shares: the common options, the end-of-command policy, small parsers.

Heavy libraries (MLflow, scikit-learn, pandas) are imported by the library on first use, so
``mlt --help`` and usage errors answer at once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import click
import typer
from typer.core import TyperArgument, TyperOption

from ..config import (
    DEBUG_ENV,
    DEFAULT_EXPERIMENT,
    DEFAULT_TRACKING_URI,
    EXPERIMENT_ENV,
    TRACKING_URI_ENV,
)
from ..credentials import PASSWORD_ENV, USERNAME_ENV, password_in_argument
from ..errors import MltError
from ..mlflow_errors import as_mlt_error
from ..output import Column, Format, error, reader_gone, short_id, warning
from ..signals import interrupt, stop_signals

# A flag takes no value, so its help shows none (Typer would print "<bool>").
_display_type = TyperOption.display_type_rich
TyperOption.display_type_rich = lambda self, ctx: (  # type: ignore[method-assign]
    None if self.is_flag else _display_type(self, ctx)
)
# An argument's name is its metavar (NAME), which says what it takes: no "<str>" beside it.
TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]

# Options shared by every command.
TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        "-t",
        metavar="URI",
        envvar=TRACKING_URI_ENV,
        show_envvar=True,
        help=f"MLflow tracking URI \\[default: {DEFAULT_TRACKING_URI}]",
        show_default=False,
    ),
]
Experiment = Annotated[
    str | None,
    typer.Option(
        "--experiment",
        "-e",
        metavar="NAME",
        envvar=EXPERIMENT_ENV,
        show_envvar=True,
        help=f"Experiment name \\[default: {DEFAULT_EXPERIMENT}]",
        show_default=False,
    ),
]
OutputFormat = Annotated[
    Format | None,
    typer.Option(
        "--format",
        "-f",
        case_sensitive=False,
        metavar="FORMAT",
        help="table, json, jsonl or csv \\[default: table on a terminal, json otherwise]",
        show_default=False,
    ),
]
Metric = Annotated[
    str | None,
    typer.Option(
        "--metric",
        metavar="NAME",
        help="Metric to rank by: rmse, mae, r2 (regression); accuracy, f1_macro, log_loss, "
        "roc_auc (classification). Higher first for r2, accuracy, f1_macro and roc_auc "
        "\\[default: rmse, or log_loss when the newest run is a classifier]",
        show_default=False,
    ),
]
Wide = Annotated[
    bool,
    typer.Option(
        "--wide", help="Full ids and every column in tables (json, jsonl and csv always have them)"
    ),
]

# With an http:// tracking URI MLflow writes "View run ... at: URL" to stdout when a run
# ends, which would break `mlt train --format json | jq`; stdout is for results only.
NO_RUN_LINKS_ENV = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"
# With tqdm installed, MLflow draws "Downloading artifacts" bars on stderr; mlt's stderr says
# what mlt means to say, whatever else is installed.
PROGRESS_BARS_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
LOGGING_LEVEL_ENV = "MLFLOW_LOGGING_LEVEL"

F = TypeVar("F", bound=Callable[..., Any])


def command(func: F) -> F:
    """The end-of-command policy, once for every command.

    - the library's errors (``MltError``) and MLflow's, translated: one ``Error:`` line, exit 1;
    - an ``OSError`` (a file that cannot be written, a disk full): one line, exit 1;
    - a reader gone (``mlt ... | head``): silent, exit 0;
    - Ctrl-C or SIGTERM: ``Error: interrupted``, exit 130 (a run being written ends KILLED);
    - ``MLT_DEBUG=1`` re-raises everything, with MLflow's logs and warnings shown.
    Usage errors and exits that Typer raises pass through untouched.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(os.environ.get(DEBUG_ENV))
        try:
            # SIGTERM like Ctrl-C, so a run being written is closed (KILLED), not left
            # RUNNING. Long-lived commands (serve, ui) install their own handlers inside.
            with stop_signals(interrupt), quiet_mlflow():
                return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            reader_gone()
        except MltError as exc:
            if debug:
                raise
            error(exc.message)
        except KeyboardInterrupt:
            _kill_open_runs()
            if debug:
                raise
            error("interrupted")
            raise typer.Exit(130) from None
        except OSError as exc:
            translated = as_mlt_error(exc)
            if debug:
                raise
            error(translated.message if translated else _os_message(exc))
        except Exception as exc:  # an MLflow error the library did not expect
            translated = as_mlt_error(exc)
            if debug or translated is None:
                raise
            error(translated.message)
        raise typer.Exit(1)

    return wrapper  # type: ignore[return-value]


def _kill_open_runs() -> None:
    """An interrupted command leaves no MLflow run of its own RUNNING (a safety net: the
    library ends its runs KILLED itself)."""
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return
    with contextlib.suppress(Exception):
        while mlflow.active_run() is not None:
            mlflow.end_run("KILLED")


def _os_message(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


@contextlib.contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Keep MLflow's INFO chatter, progress bars and library warnings out of the way
    (``MLT_DEBUG`` shows them), and MLflow's run links off stdout (always)."""
    debug = bool(os.environ.get(DEBUG_ENV))
    settings = {NO_RUN_LINKS_ENV: "true"}
    if not debug:
        settings[PROGRESS_BARS_ENV] = "false"
        # MLflow sets its loggers' level from MLFLOW_LOGGING_LEVEL when first imported.
        settings[LOGGING_LEVEL_ENV] = os.environ.get(LOGGING_LEVEL_ENV) or "WARNING"
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    logger = logging.getLogger("mlflow")
    level = logger.level
    try:
        with warnings.catch_warnings():
            if not debug:
                logger.setLevel(settings[LOGGING_LEVEL_ENV].upper())
                for category in (UserWarning, FutureWarning, DeprecationWarning):
                    warnings.filterwarnings(
                        "ignore", category=category, module=r"(mlflow|pydantic|skops)"
                    )
            yield
    finally:
        logger.setLevel(level)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def tracking(tracking_uri: str | None, experiment: str | None):
    from ..config import Tracking

    return Tracking.resolve(tracking_uri, experiment)


def warn_if_password_in_argument(tracking_uri: str | None, command: str) -> None:
    """For the long-lived commands (serve, ui): a password inside ``--tracking-uri`` on the
    command line is in the process list for as long as they run; say so once. (The same URI
    from ``MLFLOW_TRACKING_URI`` is not: a process's environment is its owner's to read.)"""
    given = tracking_uri != os.environ.get(TRACKING_URI_ENV)
    if given and password_in_argument(tracking_uri):
        warning(
            f"the password in --tracking-uri shows in the process list (ps) for as long as "
            f"{command} runs: leave it out of the URI and set {USERNAME_ENV} and {PASSWORD_ENV}"
        )


def floats(values: list[str] | None, name: str, default: float) -> list[float]:
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


def read_stdin_value(value: str, what: str, option: str) -> str:
    """``-`` reads the value from stdin (the first non-empty line)."""
    if value != "-":
        return value.strip()
    for line in sys.stdin:
        if line.strip():
            return line.strip()
    raise typer.BadParameter(f"no {what} on standard input", param_hint=option)


def param(name: str):
    return lambda r: r.get("params", {}).get(name)


def metric(name: str):
    return lambda r: r.get("metrics", {}).get(name)


METRIC_COLUMNS = [Column(m, metric(m), "right", no_wrap=True) for m in ("rmse", "mae", "r2")]


def metric_columns(records: list[dict[str, Any]]) -> list[Column]:
    """Columns for the metrics the records have, regression's then classification's (the
    regression ones when there are none: an empty table keeps its header)."""
    from ..tracking.comparison import METRICS

    found = {name for r in records for name in r.get("metrics", {})}
    names = [m for m in METRICS if m in found] or ["rmse", "mae", "r2"]
    return [Column(m, metric(m), "right", no_wrap=True) for m in names]


def id_column(key: str, wide: bool) -> Column:
    """An id column: short in tables (as git shows hashes), in full with ``--wide``."""
    return Column(key, lambda r: r[key] if wide else short_id(r[key]), no_wrap=True)


# The data options of mlt train, shared with mlt tune.
DatasetOpt = Annotated[
    str, typer.Option(metavar="NAME", help="Built-in data set (scikit-learn's bundled data)")
]
DataOpt = Annotated[
    str | None,
    typer.Option(metavar="PATH|URL", help="CSV file or URL to train on instead (, ; tab or |)"),
]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        metavar="COLUMN",
        help="Target column of --data \\[default: 'target', else the last column]",
        show_default=False,
    ),
]
DropOpt = Annotated[
    list[str] | None,
    typer.Option(
        metavar="COLUMN",
        help="Leave a column of --data out of the features. Repeat or comma-separate.",
        show_default=False,
    ),
]
TaskOpt = Annotated[
    str | None,
    typer.Option(
        metavar="TASK",
        help="regression or classification \\[default: classification for a text or "
        "boolean target, else regression]",
        show_default=False,
    ),
]
DecimalOpt = Annotated[
    str,
    typer.Option(
        metavar="CHAR",
        help="Decimal mark of --data: . or , (a decimal comma is detected when unambiguous)",
    ),
]
TestSizeOpt = Annotated[
    float, typer.Option(metavar="FLOAT", help="Share of rows held out for testing")
]
StandardizeOpt = Annotated[
    bool,
    typer.Option(
        help="Scale numeric features before the model, the default (--no-standardize: raw)",
        show_default=False,
    ),
]


def data_options(data: str | None, drop: list[str] | None, task: str | None, decimal: str):
    """Check the options that only make sense with --data; returns the columns to drop."""
    from ..columns import TASKS, parse_drop

    if task is not None and task not in TASKS:
        raise typer.BadParameter("must be regression or classification", param_hint="--task")
    if decimal not in (".", ","):
        raise typer.BadParameter("must be . or ,", param_hint="--decimal")
    if (drop or task or decimal != ".") and not data:
        given = "--drop" if drop else "--task" if task else "--decimal"
        raise typer.BadParameter("only with --data", param_hint=given)
    return tuple(parse_drop(drop))

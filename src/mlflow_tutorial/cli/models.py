"""Models: ``mlt serve`` and ``mlt predict``."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from ..models.batch import DEFAULT_CHUNK_ROWS
from ..models.scoring import DEFAULT_MAX_BODY_MB
from ..names import DEFAULT_MODEL_URI
from ..net import DEFAULT_HOST, SERVE_PORT
from ..output import DataFormat, Format, emit_frames, info, replaced_file, warn_if_exposed
from .app import app
from .common import TrackingUri, command, tracking, warn_if_password_in_argument

ModelUri = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        metavar="URI",
        help="Model URI: models:/name@alias, models:/name/3, models:/m-..., runs:/ID/model",
    ),
]


@app.command()
@command
def serve(
    model: ModelUri = DEFAULT_MODEL_URI,
    host: Annotated[
        str, typer.Option(metavar="HOST", help="Interface to listen on")
    ] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option("--port", "-p", metavar="INT", help="Port to listen on")
    ] = SERVE_PORT,
    workers: Annotated[
        int, typer.Option("--workers", "-w", metavar="INT", help="Worker processes")
    ] = 1,
    max_body_mb: Annotated[
        int, typer.Option(metavar="INT", help="Largest request body in MB; larger ones get 413")
    ] = DEFAULT_MAX_BODY_MB,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request on stderr")
    ] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Serve a model over HTTP with MLflow's scoring protocol (POST /invocations).

    Examples: mlt serve     (models:/diabetes-elasticnet@champion on http://127.0.0.1:5001)

    mlt serve --model models:/diabetes-elasticnet/1 --port 5002 --workers 2
    """
    from ..models.serving import serve as run_server

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
    warn_if_password_in_argument(tracking_uri, "mlt serve")
    run_server(
        model,
        host=host,
        port=port,
        workers=workers,
        tracking=tracking(tracking_uri, None),
        on_ready=ready,
        max_body_mb=max_body_mb,
        access_log=access_log,
    )


@app.command()
@command
def predict(
    model: ModelUri = DEFAULT_MODEL_URI,
    input_: Annotated[
        str,
        typer.Option(
            "--input", "-i", metavar="PATH|-", help="CSV or JSON-lines file, or - for stdin"
        ),
    ] = "-",
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="PATH", help="Write here instead of stdout"),
    ] = None,
    with_inputs: Annotated[
        bool, typer.Option("--with-inputs", help="Include the input columns in the output")
    ] = False,
    tracking_uri: TrackingUri = None,
    data_format: Annotated[
        DataFormat,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            metavar="FORMAT",
            help="csv, jsonl or json; parquet with --spark",
        ),
    ] = DataFormat.csv,
    chunk_rows: Annotated[
        int,
        typer.Option(
            "--chunk-rows",
            min=1,
            metavar="INT",
            help="Rows read, predicted and written at a time (memory does not grow with the input)",
        ),
    ] = DEFAULT_CHUNK_ROWS,
    spark: Annotated[
        str | None,
        typer.Option(
            metavar="[MASTER]",
            help="Score on Spark (local[*] alone, or spark://HOST:PORT...): CSV or Parquet "
            "files or directories in, a directory of part files out",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Predict a batch of rows with a model, for shell pipelines.

    Examples: cat rows.csv | mlt predict --model models:/diabetes-elasticnet@champion --input -

    mlt predict --input rows.csv --with-inputs --format jsonl --output scored.jsonl

    mlt predict --spark --input rows.parquet --format parquet --output scored/
    """
    from ..models.batch import predict_chunks, read_chunks

    if spark is not None:
        _predict_spark(model, input_, output, with_inputs, tracking_uri, data_format, spark)
        return
    if data_format is DataFormat.parquet:
        raise typer.BadParameter("parquet is written by --spark only", param_hint="--format")
    fmt = Format(data_format.value)
    rows = read_chunks(sys.stdin if input_ == "-" else input_, chunk_rows)
    predictions = predict_chunks(model, rows, tracking(tracking_uri, None), with_inputs)
    if not output:
        emit_frames(predictions, fmt, sys.stdout)
        return
    with replaced_file(output) as handle:
        emit_frames(predictions, fmt, handle)


def _predict_spark(
    model: str,
    input_: str,
    output: str | None,
    with_inputs: bool,
    tracking_uri: str | None,
    data_format: DataFormat,
    master: str,
) -> None:
    from ..models.spark import predict_spark

    if input_ == "-":
        raise typer.BadParameter(
            "--spark reads files or directories, not stdin", param_hint="--input"
        )
    if not output:
        raise typer.BadParameter("--spark writes a directory of part files", param_hint="--output")
    if data_format is DataFormat.json:
        raise typer.BadParameter("--spark writes csv, jsonl or parquet", param_hint="--format")
    written = predict_spark(
        model, input_, output, master, tracking(tracking_uri, None), with_inputs, data_format.value
    )
    info(f"Wrote {written.files} {written.output_format} part files to {written.output}")


def spark_master_default(args: list[str]) -> list[str]:
    """``mlt predict --spark`` without a master: ``--spark local[*]`` (Typer options cannot
    have an optional value)."""
    if not args or args[0] != "predict" or "--spark" not in args:
        return args
    from ..models.spark import DEFAULT_MASTER

    at = args.index("--spark")
    following = args[at + 1] if at + 1 < len(args) else None
    if following is None or following.startswith("-"):
        return [*args[: at + 1], DEFAULT_MASTER, *args[at + 1 :]]
    return args

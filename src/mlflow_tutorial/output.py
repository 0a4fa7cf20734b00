"""Rendering results: table, json, jsonl or csv on stdout; messages for people on stderr.

Nothing here knows about MLflow. Results arrive as plain dicts (``to_dict()`` of the library's
dataclasses); a table is described by a list of :class:`Column`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import IO, Any, Literal, NoReturn

from .credentials import scrub
from .errors import OutputError
from .net import listens_everywhere

SHORT_ID = 8  # characters of an id in a table, as git shortens hashes
NATURAL_WIDTH = 1000  # wide enough for any table's natural width


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class DataFormat(str, Enum):
    """The formats of a data file (``mlt predict``): no table."""

    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"  # mlt predict --spark


def choose_format(requested: Format | None) -> Format:
    """The requested format, else a table on a terminal and JSON in a pipe."""
    if requested is not None:
        return requested
    return Format.table if sys.stdout.isatty() else Format.json


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict[str, Any]], Any]
    justify: Literal["left", "center", "right"] = "left"
    no_wrap: bool = False
    max_width: int | None = None


def err_console():
    """The console for people: stderr, never stdout."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def out_console(wide: bool = False):
    """The console for results: stdout. Tables fit the terminal; ``wide`` ones, and any off a
    terminal (unless COLUMNS gives a width), are laid out at their natural width."""
    from rich.console import Console

    natural = wide or (not sys.stdout.isatty() and not os.environ.get("COLUMNS"))
    return Console(file=sys.stdout, soft_wrap=False, width=NATURAL_WIDTH if natural else None)


def short_id(value: Any) -> Any:
    """An id cut to :data:`SHORT_ID` characters for a table (other values as they are)."""
    return value[:SHORT_ID] if isinstance(value, str) else value


def info(message: str, style: str | None = None) -> None:
    """A message for people on stderr: plain text (names may hold brackets), one style."""
    err_console().print(scrub(message), style=style, markup=False, highlight=False)


def error(message: str) -> None:
    """One line on stderr: ``Error: ...`` (secrets masked)."""
    print(f"Error: {scrub(message)}", file=sys.stderr)


def warning(message: str) -> None:
    """One line on stderr: ``Warning: ...`` (secrets masked)."""
    print(f"Warning: {scrub(message)}", file=sys.stderr)


def exposure_warning(host: str, what: str, allows: str) -> str | None:
    """The warning for an endpoint without authentication bound to every interface (``what``
    it is and what anyone reaching it ``allows``); None for a host of one interface."""
    if not listens_everywhere(host):
        return None
    return (
        f"--host {host} makes {what} reachable from other machines, and it has no "
        f"authentication: anyone who reaches it can {allows}"
    )


def warn_if_exposed(host: str, what: str, allows: str) -> None:
    """Print :func:`exposure_warning` on stderr when there is one (``mlt serve``, ``mlt ui``)."""
    message = exposure_warning(host, what, allows)
    if message:
        warning(message)


def emit(
    data: dict[str, Any] | Sequence[dict[str, Any]],
    fmt: Format,
    columns: Sequence[Column],
    title: str | None = None,
    highlight_first: bool = False,
    wide: bool = False,
) -> None:
    """Write one result (a dict) or many (a list) to stdout in ``fmt`` (a ``wide`` table
    keeps its natural width on a narrower terminal)."""
    records = [data] if isinstance(data, dict) else list(data)
    try:
        if fmt is Format.json:
            sys.stdout.write(json.dumps(_jsonable(data), indent=2) + "\n")
        elif fmt is Format.jsonl:
            for record in records:
                sys.stdout.write(json.dumps(_jsonable(record)) + "\n")
        elif fmt is Format.csv:
            sys.stdout.write(to_csv(records))
        elif isinstance(data, dict):
            out_console(wide).print(fields(data, columns, title))
        else:
            out_console(wide).print(table(records, columns, title, highlight_first))
        sys.stdout.flush()
    except BrokenPipeError:
        reader_gone()


def reader_gone() -> NoReturn:
    """The reader of stdout went away (``mlt ... | head``): stop quietly with status 0.

    Later writes, and the flush at exit, go to /dev/null instead of failing again (the recipe
    of Python's documentation on SIGPIPE).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (a test runner's buffer)
        pass
    finally:
        os.close(devnull)
    raise SystemExit(0)


def emit_frames(frames: Iterable[Any], fmt: Format, out: IO[str]) -> None:
    """Write the rows of a stream of DataFrames to ``out`` as they come, exactly as
    :func:`emit` writes the list of all their records (``to_dict(orient="records")``): a
    CSV header once, one JSON array around all rows."""
    first = True
    for frame in frames:
        if fmt is Format.csv:
            out.write(_csv_rows(frame, header=first))
        elif fmt is Format.jsonl:
            out.writelines(json.dumps(_jsonable(r)) + "\n" for r in frame.to_dict("records"))
        elif fmt is Format.json:
            for record in frame.to_dict(orient="records"):
                item = json.dumps(_jsonable(record), indent=2).replace("\n", "\n  ")
                out.write(("[\n  " if first else ",\n  ") + item)
                first = False
        else:
            raise ValueError(f"cannot stream {fmt.value}")
        first = False
        out.flush()
    if fmt is Format.json:
        out.write("[]\n" if first else "\n]\n")
    out.flush()


def _csv_rows(frame: Any, header: bool) -> str:
    """The rows of ``frame`` as :func:`to_csv` writes its records (the header if asked)."""
    if not all(dtype.kind in "iufb" for dtype in frame.dtypes):
        if frame.isna().to_numpy().any():  # a gap is an empty cell, as read
            frame = frame.astype(object).where(frame.notna(), None)
        return to_csv(frame.to_dict(orient="records"), header=header)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(frame.columns)
    # Numbers as Python numbers, as to_dict gives them to to_csv: the same text.
    columns = [frame.iloc[:, i].tolist() for i in range(frame.shape[1])]
    writer.writerows(zip(*columns, strict=True))
    return buffer.getvalue()


@contextlib.contextmanager
def replaced_file(path: str) -> Iterator[IO[str]]:
    """A UTF-8 text file written beside ``path`` and renamed to it once complete: after an
    error, ``path`` is as it was (never half-written). Not a regular file (a FIFO,
    /dev/stdout): written directly."""
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "w", encoding="utf-8") as handle:
            yield handle
        return
    folder, name = os.path.split(os.path.abspath(path))
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
        os.chmod(temp, _new_file_mode(path))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _new_file_mode(path: str) -> int:
    """The permissions ``open(path, "w")`` would have left: the file's own, else the umask's."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def to_csv(records: Iterable[dict[str, Any]], header: bool = True) -> str:
    """Flat CSV: nested dicts become ``parent.child`` columns, in first-seen order."""
    flat = [flatten(r) for r in records]
    names: dict[str, None] = {}
    for row in flat:
        names.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(names), lineterminator="\n")
    if names and header:
        writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            out[name] = ";".join(map(str, value))
        else:
            out[name] = value
    return out


def table(
    records: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    title: str | None = None,
    highlight_first: bool = False,
):
    from rich.table import Table
    from rich.text import Text

    grid = Table(title=title and Text(title), header_style="bold", title_justify="left")
    cells = [[fmt_value(c.value(record)) for c in columns] for record in records]
    for i, column in enumerate(columns):
        widest = max((len(row[i]) for row in cells), default=0)
        # Short no-wrap columns (ids, numbers) keep their width; the others give way.
        keep = column.no_wrap and column.max_width is None
        grid.add_column(
            column.header,
            justify=column.justify,
            overflow="ellipsis" if column.no_wrap else "fold",
            no_wrap=column.no_wrap,
            max_width=column.max_width,
            min_width=max(len(column.header), widest if keep else 0),
        )
    for i, row in enumerate(cells):
        style = "bold green" if highlight_first and i == 0 else None
        grid.add_row(*(Text(cell) for cell in row), style=style)
    return grid


def fields(record: dict[str, Any], columns: Sequence[Column], title: str | None = None):
    """One result as a two-column table: a field a row."""
    from rich.table import Table
    from rich.text import Text

    grid = Table(title=title and Text(title), show_header=False, title_justify="left")
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for column in columns:
        grid.add_row(Text(column.header), Text(fmt_value(column.value(record))))
    return grid


def fmt_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def _jsonable(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value

"""``python -m bench``: options, then one run, then the page."""

from __future__ import annotations

import argparse
import pickle
import shlex
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .context import Options
from .orchestrate import run
from .proc import BenchError
from .record import RunRecord
from .report import render
from .scenarios import SCENARIOS

MIN_REQUESTS = 8
COUNTS = [
    ("--repeat", "repetitions of each measurement [default: 3, --quick: 1]"),
    ("--sweep-repeat", "repetitions of the training sweeps [default: repeat-1, at least 1]"),
    ("--serve-repeat", "server starts per kind and worker count [default: repeat-1, at least 1]"),
    ("--serve-seconds", "duration of each wrk round [default: 5, --quick: 2]"),
    ("--requests", "requests per Python-client round (no wrk) [default: 400, --quick: 200]"),
    ("--large-rows", "rows of the large-data CSV [default: 1000000, --quick: 100000]"),
]


@dataclass(frozen=True)
class Files:
    output: str | None = None
    save: str | None = None
    render: str | None = None


def parse_args(argv: Sequence[str] | None = None) -> tuple[Options, Files]:
    names = ", ".join(SCENARIOS)
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark mlt against the plain-MLflow way (see bench/README.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(
            f"""\
            scenarios (in run order): {names}

            examples:
              python -m bench --quick
              python -m bench --output docs/performance.md
              python -m bench --only serving,large --quick
              python -m bench --data wine-quality.csv --target quality
            """
        ),
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: small data, 1 repetition")
    parser.add_argument("--only", help=f"comma-separated scenarios to run [default: all: {names}]")
    parser.add_argument("--output", "-o", help="write the Markdown page here [default: stdout]")
    parser.add_argument("--data", help="CSV file to train on [default: built-in diabetes data]")
    parser.add_argument("--target", help="target column of --data [default: target, else last]")
    for flag, text in COUNTS:
        parser.add_argument(flag, type=int, metavar="N", help=text)
    parser.add_argument("--no-wrk", action="store_true", help="use the Python client, not wrk")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--save", metavar="FILE", help="also save the run's results (a pickle) to re-render later"
    )
    parser.add_argument(
        "--render", metavar="FILE", help="render the page from results saved by --save; run nothing"
    )
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    only = tuple(n.strip() for n in (args.only or "").split(",") if n.strip())
    unknown = [n for n in only if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {names}")
    options = Options(
        quick=args.quick,
        repeat=repeat,
        sweep_repeat=args.sweep_repeat or max(1, repeat - 1),
        serve_repeat=args.serve_repeat or max(1, repeat - 1),
        requests=args.requests or (200 if args.quick else 400),
        serve_seconds=args.serve_seconds or (2 if args.quick else 5),
        large_rows=args.large_rows or (100_000 if args.quick else 1_000_000),
        use_wrk=not args.no_wrk,
        keep=args.keep,
        data=args.data,
        target=args.target,
        only=only,
    )
    if min(options.repeat, options.sweep_repeat, options.serve_repeat, options.serve_seconds) < 1:
        parser.error("repetitions and --serve-seconds must be >= 1")
    if options.requests < MIN_REQUESTS or options.large_rows < 1000:
        parser.error(f"--requests must be >= {MIN_REQUESTS} and --large-rows >= 1000")
    if args.target and not args.data:
        parser.error("--target needs --data")
    return options, Files(args.output, args.save, args.render)


def main(argv: Sequence[str] | None = None) -> int:
    options, files = parse_args(argv)
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    command = command.replace(str(Path(sys.executable)), "python", 1)
    try:
        record = load(files.render) if files.render else run(options, command)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    if files.save:
        Path(files.save).write_bytes(pickle.dumps(record))
    page = render(record)
    if files.output:
        target = Path(files.output)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
        print(f"bench: wrote {target} in {record.duration / 60:.1f} min", file=sys.stderr)
    else:
        sys.stdout.write(page)
        print(f"bench: done in {record.duration / 60:.1f} min", file=sys.stderr)
    return 0


def load(path: str) -> RunRecord:
    """A run saved with ``--save`` (only ever load files this benchmark wrote)."""
    try:
        record = pickle.loads(Path(path).read_bytes())
    except (OSError, pickle.UnpicklingError, AttributeError, ImportError) as exc:
        raise BenchError(f"cannot read saved results {path}: {exc}") from exc
    if not isinstance(record, RunRecord):
        raise BenchError(f"{path} does not hold saved benchmark results")
    return record

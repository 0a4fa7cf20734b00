"""What every scenario gets: the options, the tools to measure, a scratch directory, the data,
and a progress log. Results never go through here: each scenario returns its own data."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .proc import BenchError, Measured, base_env, run_measured, sqlite_uri

SCRIPTS = Path(__file__).resolve().parent / "scripts"
EXPERIMENT = "bench"
MODEL_PACKAGES = ("scikit-learn", "numpy", "scipy", "pandas", "skops")  # what mlt pins


@dataclass(frozen=True)
class Options:
    """The command-line options, resolved (defaults filled in)."""

    quick: bool = False
    repeat: int = 3
    sweep_repeat: int = 2
    serve_repeat: int = 2
    requests: int = 400
    serve_seconds: int = 6
    large_rows: int = 1_000_000
    use_wrk: bool = True
    keep: bool = False
    data: str | None = None
    target: str | None = None
    only: tuple[str, ...] = ()


@dataclass
class Progress:
    """Progress lines on stderr, and the 1-minute load average sampled at each of them (the
    page reports how busy the machine was)."""

    load_samples: list[float] = field(default_factory=list)

    def __call__(self, message: str) -> None:
        self.load_samples.append(os.getloadavg()[0])
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class DataInfo:
    """The data both sides train on: the built-in diabetes data or a CSV file, as mlt reads
    it (target, delimiter, row count) and its first rows of features (serving payloads)."""

    path: str | None
    target: str
    sep: str
    n_rows: int
    name: str
    columns: list[str]
    rows: list[list[float]]

    def mlt_args(self) -> list[str]:
        return ["--data", self.path, "--target", self.target] if self.path else []

    def plain_args(self) -> list[str]:
        if not self.path:
            return ["--data", "diabetes", "--target", self.target]
        return ["--data", self.path, "--sep", self.sep, "--target", self.target]

    def describe(self) -> str:
        if not self.path:
            return "built-in diabetes data (scikit-learn's `load_diabetes(scaled=False)`)"
        return f"`{self.path}` (target `{self.target}`)"


def script(name: str) -> Path:
    """A script of bench/scripts/, run as its own program in the measured virtualenv."""
    return SCRIPTS / name


def run_json(
    bin_dir: Path,
    args: Sequence[str],
    timeout: float = 300,
    tracking_uri: str | None = None,
    cwd: Path | None = None,
) -> dict:
    """Run ``python ARGS`` in the measured virtualenv (not timed) and parse its JSON stdout."""
    done = subprocess.run(
        [str(bin_dir / "python"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=base_env(bin_dir, tracking_uri),
        cwd=cwd,
    )
    if done.returncode != 0:
        tail = done.stderr.strip()[-2000:]
        raise BenchError(f"{shlex.join(['python', *args])} exited {done.returncode}\n{tail}")
    return json.loads(done.stdout)


def load_data_info(bin_dir: Path, path: str | None, target: str | None, rows: int) -> DataInfo:
    if path and not Path(path).expanduser().is_file():
        raise BenchError(f"data file not found: {path}")
    resolved = str(Path(path).expanduser().resolve()) if path else ""
    found = run_json(bin_dir, [str(script("data_info.py")), resolved, target or "", str(rows)])
    return DataInfo(
        path=resolved or None,
        target=found["target"],
        sep=found["sep"],
        n_rows=found["n_rows"],
        name=found["name"],
        columns=found["columns"],
        rows=found["data"],
    )


@dataclass
class Context:
    """Shared by the scenarios of one run."""

    bin_dir: Path
    work: Path
    options: Options
    data: DataInfo
    versions: dict[str, str | None]
    log: Progress

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    def env(self, tracking_uri: str | None = None) -> dict[str, str]:
        return base_env(self.bin_dir, tracking_uri)

    def home(self, name: str) -> tuple[Path, str]:
        """A fresh directory under the scratch directory, and the URI of an SQLite store
        in it (not created yet)."""
        directory = self.work / name
        directory.mkdir(parents=True)
        return directory, sqlite_uri(directory)

    def run(
        self,
        args: Sequence[str],
        label: str,
        cwd: Path | None = None,
        tracking_uri: str | None = None,
        sample_tree: bool = False,
    ) -> Measured:
        """Run and measure one process (see :func:`bench.proc.run_measured`)."""
        return run_measured(
            args,
            self.env(tracking_uri),
            cwd or self.work,
            self.logs,
            label,
            sample_tree=sample_tree,
        )

    def requirements(self) -> list[str]:
        """The pins mlt gives ``log_model`` (``pip_requirements``), for the baselines."""
        return [f"{name}=={self.versions[name]}" for name in MODEL_PACKAGES]

    def has_option(self, command: str, option: str) -> bool:
        """Whether the installed ``mlt COMMAND --help`` lists ``option``."""
        done = subprocess.run(
            [self.tool("mlt"), command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**self.env(), "COLUMNS": "200"},
        )
        return option in done.stdout

#!/usr/bin/env python3
"""Benchmark mlt against the plain-MLflow way of doing the same work, side by side, in one run.

    python bench/bench.py [--quick] [--repeat N] [--output docs/performance.md]
                          [--data CSV --target COLUMN] [--requests N] [--no-wrk] [--keep]

What is measured (every figure is a median of several repetitions, shown with the baseline
measured in the same run and the ratio between them):

1. CLI start-up: ``mlt --help`` vs ``mlflow --help``.
2. A training sweep of 6 points (3 alphas x 2 l1_ratios): ``mlt train`` with a grid, in one
   process, vs the classic tutorial way, a plain script run once per point as its own process
   (``mlflow.sklearn.log_model`` without ``pip_requirements``, so MLflow infers them), and the
   same plain script given ``pip_requirements``, to separate the two effects.
3. Serving one registered model with ``mlt serve`` and with ``mlflow models serve
   --env-manager local``: time from process start to the first successful ``/ping``, then a
   bounded load (keep-alive HTTP/1.1 connections, 4 client threads, a fixed number of
   requests) with 1-row and 100-row ``dataframe_split`` payloads; both servers must return the
   same predictions.
4. Peak memory (max RSS, from ``wait4``) of ``mlt train`` vs the plain script.

Every store is a fresh SQLite file in a temporary directory; every server listens on an
ephemeral port of 127.0.0.1; nothing else is contacted. The script only needs the standard
library: the tools it measures come from the virtualenv it runs in (or ``./.venv``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = "bench"
CLIENT_THREADS = 4
LOAD_DEADLINE_S = 60.0  # per load round, whatever the number of requests
READY_TIMEOUT_S = 120.0
PROCESS_TIMEOUT_S = 300.0
MODEL_PACKAGES = ("scikit-learn", "numpy", "scipy", "pandas", "skops")  # what mlt pins

# The classic tutorial's training script (MLflow's sklearn_elasticnet_wine example), written
# for MLflow 3: one process per (alpha, l1_ratio). It fits the same model as
# `mlt train --no-standardize` (same split, same seed), so the metrics must be identical.
PLAIN_SCRIPT = """\
import argparse
import json
import sys
import warnings

import numpy as np
import pandas as pd
import mlflow
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from sklearn.model_selection import train_test_split

warnings.filterwarnings("ignore")
parser = argparse.ArgumentParser()
parser.add_argument("alpha", type=float)
parser.add_argument("l1_ratio", type=float)
parser.add_argument("--data", default="diabetes")
parser.add_argument("--sep", default=",")
parser.add_argument("--target", default="target")
parser.add_argument("--experiment", default="bench")
parser.add_argument("--pip-requirements", default="")
args = parser.parse_args()

if args.data == "diabetes":
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False).frame.astype("float64")
else:
    data = pd.read_csv(args.data, sep=args.sep)
    data.columns = [str(c).strip() for c in data.columns]
X = data.drop(columns=[args.target])
y = data[args.target]
train_x, test_x, train_y, test_y = train_test_split(X, y, test_size=0.25, random_state=42)

mlflow.set_experiment(args.experiment)  # the store comes from MLFLOW_TRACKING_URI
with mlflow.start_run():
    lr = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=42)
    lr.fit(train_x, train_y)
    predicted = lr.predict(test_x)
    metrics = {
        "rmse": float(root_mean_squared_error(test_y, predicted)),
        "mae": float(mean_absolute_error(test_y, predicted)),
        "r2": float(r2_score(test_y, predicted)),
    }
    mlflow.log_param("alpha", args.alpha)
    mlflow.log_param("l1_ratio", args.l1_ratio)
    mlflow.log_metrics(metrics)
    signature = infer_signature(train_x, lr.predict(train_x))
    extra = {}
    if args.pip_requirements:
        extra["pip_requirements"] = args.pip_requirements.split(",")
    info = mlflow.sklearn.log_model(
        lr, name="model", signature=signature, input_example=train_x.head(5), **extra
    )
json.dump({"alpha": args.alpha, "l1_ratio": args.l1_ratio, "metrics": metrics,
           "model_uri": info.model_uri}, sys.stdout)
"""

# Rows for the serving payloads, loaded the way mlt loads them (run once, not measured).
PAYLOAD_SCRIPT = """\
import json, sys
from mlflow_tutorial.data import load_dataset
data = load_dataset(sys.argv[1] or None, sys.argv[2] or None, sys.argv[3] or None)
split = data.X.head(100).to_dict(orient="split")
json.dump({"columns": split["columns"], "data": split["data"], "n_rows": data.n_rows,
           "name": data.name}, sys.stdout)
"""

VERSIONS_SCRIPT = """\
import json, sys
from importlib.metadata import version
names = sys.argv[1:]
json.dump({n: version(n) for n in names}, sys.stdout)
"""


# --------------------------------------------------------------------------- utilities


LOAD_SAMPLES: list[float] = []  # 1-minute load average, sampled at every progress line


def log(message: str) -> None:
    LOAD_SAMPLES.append(os.getloadavg()[0])
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def fmt_s(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "n/a"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_ms(seconds: float) -> str:
    if seconds != seconds:
        return "n/a"
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def fmt_mb(kb: float) -> str:
    return "n/a" if kb != kb else f"{kb / 1024:.0f} MB"


def spread(values: Sequence[float], formatter: Callable[[float], str]) -> str:
    """``median (min–max, n=N)``."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{formatter(values[0])} (n=1)"
    return (
        f"{formatter(median(values))} "
        f"({formatter(min(values))}–{formatter(max(values))}, n={len(values)})"
    )


def separated(ours: Sequence[float], theirs: Sequence[float]) -> str:
    """Whether two sets of repetitions do not overlap (min–max), i.e. differ beyond noise."""
    if len(ours) < 2 or len(theirs) < 2:
        return "n/a (1 run)"
    if max(ours) < min(theirs) or max(theirs) < min(ours):
        return "yes"
    return "no: ranges overlap"


def ratio(numerator: float, denominator: float) -> str:
    if not denominator or denominator != denominator or numerator != numerator:
        return "n/a"
    return f"{numerator / denominator:.2f}×"


def find_bin() -> Path:
    """The virtualenv whose mlt and mlflow are measured: this interpreter's, else ./.venv."""
    for candidate in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
        if (candidate / "mlt").exists() and (candidate / "mlflow").exists():
            return candidate
    found = shutil.which("mlt")
    if found and shutil.which("mlflow"):
        return Path(found).parent
    sys.exit("bench: cannot find `mlt` and `mlflow`; run with the project's virtualenv python")


def base_env(bin_dir: Path, tracking_uri: str | None = None) -> dict[str, str]:
    """The caller's environment without MLflow/mlt settings, the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLT_"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env


@dataclass
class Measured:
    """One finished process: wall time, CPU time (user+sys) and peak RSS of its tree."""

    wall: float
    cpu: float
    maxrss_kb: float
    returncode: int
    stdout: str
    stderr_path: Path


def run_measured(
    args: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    log_dir: Path,
    label: str,
    timeout: float = PROCESS_TIMEOUT_S,
    check: bool = True,
) -> Measured:
    """Run a process to completion and collect its resource usage with ``wait4``.

    ``wait4``'s rusage covers the process and the descendants it waited for (MLflow's
    requirement inference runs a subprocess): CPU is their sum, max RSS the largest of them.
    """
    out_path = log_dir / f"{label}.out"
    err_path = log_dir / f"{label}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        timer = threading.Timer(timeout, _kill_group, (proc.pid,))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss_kb=float(usage.ru_maxrss),
        returncode=proc.returncode,
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr_path=err_path,
    )
    if check and result.returncode != 0:
        tail = err_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"{label}: {shlex.join(args)} exited {result.returncode}\n{tail}")
    return result


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sqlite_uri(directory: Path) -> str:
    return f"sqlite:///{directory / 'mlflow.db'}"


def sniff_delimiter(header: str, body: Sequence[str]) -> str:
    best, best_fields = ",", 1
    for delimiter in (",", ";", "\t", "|"):
        fields = header.count(delimiter) + 1
        if fields > best_fields and all(line.count(delimiter) + 1 == fields for line in body):
            best, best_fields = delimiter, fields
    return best


@dataclass
class DataChoice:
    """The data both sides train on: the built-in diabetes data or a CSV file."""

    path: str | None
    target: str | None
    sep: str = ","

    @classmethod
    def resolve(cls, path: str | None, target: str | None) -> DataChoice:
        if not path:
            return cls(None, target or "target")
        file = Path(path).expanduser().resolve()
        if not file.is_file():
            sys.exit(f"bench: data file not found: {path}")
        with open(file, encoding="utf-8-sig", errors="replace") as handle:
            lines = [
                line.rstrip("\n") for _, line in zip(range(6), handle, strict=False) if line.strip()
            ]
        if not lines:
            sys.exit(f"bench: data file is empty: {path}")
        sep = sniff_delimiter(lines[0], lines[1:])
        columns = [c.strip().strip('"').strip() for c in lines[0].split(sep)]
        if target is None:
            target = "target" if "target" in columns else columns[-1]
        if target not in columns:
            sys.exit(f"bench: target column {target!r} not in {file.name}: {', '.join(columns)}")
        return cls(str(file), target, sep)

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


# --------------------------------------------------------------------------- 1. start-up


@dataclass
class StartupResult:
    commands: dict[str, list[str]]
    walls: dict[str, list[float]]
    rss: dict[str, list[float]]


def bench_startup(bin_dir: Path, work: Path, runs: int) -> StartupResult:
    commands = {
        "python -c pass": [str(bin_dir / "python"), "-c", "pass"],
        "mlt --help": [str(bin_dir / "mlt"), "--help"],
        "mlflow --help": [str(bin_dir / "mlflow"), "--help"],
    }
    env = base_env(bin_dir)
    logs = work / "logs"
    walls: dict[str, list[float]] = {k: [] for k in commands}
    rss: dict[str, list[float]] = {k: [] for k in commands}
    for label, args in commands.items():  # warm the page cache; not counted
        run_measured(args, env, work, logs, f"startup-warmup-{label.split()[0]}")
    for i in range(runs):
        order = list(commands.items())
        if i % 2:
            order.reverse()
        for label, args in order:
            result = run_measured(args, env, work, logs, f"startup-{label.split()[0]}-{i}")
            walls[label].append(result.wall)
            rss[label].append(result.maxrss_kb)
    return StartupResult(commands, walls, rss)


# --------------------------------------------------------------------------- fixed costs

IMPORTS = "import mlflow, mlflow.sklearn, pandas, sklearn.linear_model"
PROBE_IMPORTS = "imports only"
PROBE_NEW_STORE = "imports + set_experiment, new SQLite store"
PROBE_OLD_STORE = "imports + set_experiment, existing store"
PROBE_MLT_ONE = "mlt train, 1 point, new store"
PROBES = [PROBE_IMPORTS, PROBE_NEW_STORE, PROBE_OLD_STORE, PROBE_MLT_ONE]


@dataclass
class FloorResult:
    walls: dict[str, list[float]]
    cpus: dict[str, list[float]]


def bench_floor(bin_dir: Path, work: Path, data: DataChoice, runs: int) -> FloorResult:
    """What every process pays before any training: imports, the store, one whole mlt run."""
    logs = work / "logs"
    python = str(bin_dir / "python")
    store_code = f"{IMPORTS}; mlflow.set_experiment({EXPERIMENT!r})"
    existing = work / "floor-existing"
    existing.mkdir()
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}

    def probe(label: str, i: int) -> None:
        if label == PROBE_OLD_STORE:
            home = existing
        else:
            home = work / f"floor-{i}-{PROBES.index(label)}"
            home.mkdir()
        uri = sqlite_uri(home)
        if label == PROBE_IMPORTS:
            args = [python, "-c", IMPORTS]
        elif label == PROBE_MLT_ONE:
            args = [str(bin_dir / "mlt"), "train", "--alpha", "0.5", "--l1-ratio", "0.5",
                    "--no-standardize", "--format", "json", "-t", uri, "-e", EXPERIMENT,
                    *data.mlt_args()]  # fmt: skip
        else:
            args = [python, "-c", store_code]
        m = run_measured(args, base_env(bin_dir, uri), home, logs, f"floor-{i}-{label[:12]}")
        if i >= 0:
            walls.setdefault(label, []).append(m.wall)
            cpus.setdefault(label, []).append(m.cpu)

    probe(PROBE_OLD_STORE, -1)  # warm-up, not counted; creates the "existing" store
    for i in range(runs):
        for label in PROBES if i % 2 == 0 else PROBES[::-1]:
            probe(label, i)
    return FloorResult(walls, cpus)


# --------------------------------------------------------------------------- 2. sweep


@dataclass
class SweepSample:
    wall: float
    cpu: float
    maxrss_kb: float
    process_walls: list[float]
    process_cpus: list[float]
    metrics: dict[tuple[float, float], dict[str, float]]


@dataclass
class SweepResult:
    alphas: list[float]
    l1_ratios: list[float]
    samples: dict[str, list[SweepSample]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    requirements: dict[str, str] = field(default_factory=dict)
    metrics_match: bool = True
    max_metric_diff: float = 0.0
    last_mlt_store: Path | None = None


MLT = "mlt train (grid, 1 process)"
PLAIN = "plain script, inferred requirements"
PLAIN_REQS = "plain script, explicit pip_requirements"


def bench_sweep(
    bin_dir: Path,
    work: Path,
    data: DataChoice,
    alphas: list[float],
    l1_ratios: list[float],
    repeat: int,
    requirements: list[str],
) -> SweepResult:
    script = work / "plain_train.py"
    script.write_text(PLAIN_SCRIPT, encoding="utf-8")
    result = SweepResult(alphas, l1_ratios, {MLT: [], PLAIN: [], PLAIN_REQS: []})
    logs = work / "logs"
    points = [(a, r) for a in alphas for r in l1_ratios]
    joined = lambda xs: ",".join(f"{x:g}" for x in xs)  # noqa: E731

    def mlt_sweep(i: int) -> SweepSample:
        home = work / f"sweep-{i}-mlt"
        home.mkdir()
        uri = sqlite_uri(home)
        args = [
            str(bin_dir / "mlt"), "train",
            "--alpha", joined(alphas), "--l1-ratio", joined(l1_ratios),
            "--no-standardize", "--format", "json", "-t", uri, "-e", EXPERIMENT,
            *data.mlt_args(),
        ]  # fmt: skip
        result.commands[MLT] = shlex.join(["mlt", *args[1:]]).replace(
            uri, "sqlite:///$TMP/mlflow.db"
        )
        m = run_measured(args, base_env(bin_dir, uri), home, logs, f"sweep-{i}-mlt")
        records = json.loads(m.stdout)
        records = records if isinstance(records, list) else [records]
        metrics = {
            (float(r["params"]["alpha"]), float(r["params"]["l1_ratio"])): r["metrics"]
            for r in records
        }
        result.last_mlt_store = home
        return SweepSample(m.wall, m.cpu, m.maxrss_kb, [m.wall], [m.cpu], metrics)

    def plain_sweep(i: int, explicit: bool) -> SweepSample:
        tag = "plainreq" if explicit else "plain"
        home = work / f"sweep-{i}-{tag}"
        home.mkdir()
        uri = sqlite_uri(home)
        env = base_env(bin_dir, uri)
        walls, cpus, peak, metrics = [], [], 0.0, {}
        for j, (alpha, l1_ratio) in enumerate(points):
            args = [
                str(bin_dir / "python"), str(script), f"{alpha:g}", f"{l1_ratio:g}",
                "--experiment", EXPERIMENT, *data.plain_args(),
            ]  # fmt: skip
            if explicit:
                args += ["--pip-requirements", ",".join(requirements)]
            label = PLAIN_REQS if explicit else PLAIN
            result.commands[label] = (
                "MLFLOW_TRACKING_URI=sqlite:///$TMP/mlflow.db "
                "python plain_train.py ALPHA L1_RATIO " + shlex.join(args[4:])
            )
            m = run_measured(args, env, home, logs, f"sweep-{i}-{tag}-{j}")
            out = json.loads(m.stdout)
            metrics[(float(out["alpha"]), float(out["l1_ratio"]))] = out["metrics"]
            walls.append(m.wall)
            cpus.append(m.cpu)
            peak = max(peak, m.maxrss_kb)
        return SweepSample(sum(walls), sum(cpus), peak, walls, cpus, metrics)

    runners: list[tuple[str, Callable[[int], SweepSample]]] = [
        (MLT, mlt_sweep),
        (PLAIN, lambda i: plain_sweep(i, False)),
        (PLAIN_REQS, lambda i: plain_sweep(i, True)),
    ]
    for i in range(repeat):
        order = runners[i % 3 :] + runners[: i % 3]  # rotate, so drift hits every side
        for label, runner in order:
            log(f"sweep {i + 1}/{repeat}: {label} ({len(points)} points)")
            sample = runner(i)
            result.samples[label].append(sample)
            log(
                f"  {fmt_s(sample.wall)}, cpu {fmt_s(sample.cpu)}, "
                f"max RSS {fmt_mb(sample.maxrss_kb)}"
            )

    # The same model on the same split: every approach must report the same metrics.
    reference = result.samples[MLT][0].metrics
    for samples in result.samples.values():
        for sample in samples:
            for point, values in sample.metrics.items():
                for name, value in values.items():
                    other = reference.get(point, {}).get(name)
                    if other is None:
                        result.metrics_match = False
                        continue
                    diff = abs(value - other) / max(1e-12, abs(other))
                    result.max_metric_diff = max(result.max_metric_diff, diff)
                    if diff > 1e-9:
                        result.metrics_match = False
            if set(sample.metrics) != set(points):
                result.metrics_match = False
    for label, tag in ((MLT, "mlt"), (PLAIN, "plain"), (PLAIN_REQS, "plainreq")):
        found = sorted((work / f"sweep-0-{tag}").glob("mlruns/**/requirements.txt"))
        if found:
            lines = found[0].read_text(encoding="utf-8").split()
            result.requirements[label] = ", ".join(lines)
    return result


# --------------------------------------------------------------------------- 3. serving


@dataclass
class LoadRound:
    requests: int
    errors: int
    wall: float
    latencies: list[float]
    server_cpu: float = float("nan")  # CPU seconds the server's processes used in the round

    @property
    def cpu_per_request(self) -> float:
        return self.server_cpu / self.requests if self.requests else float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.wall if self.wall else float("nan")

    def p(self, q: float) -> float:
        return percentile(sorted(self.latencies), q)


@dataclass
class ServerSample:
    ready: float  # process start to first 200 on /ping
    rounds: dict[str, LoadRound]
    rss_kb: float  # sum of VmRSS over the process group after the load
    processes: int
    predictions: dict[str, list[float]]
    wrk: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class ServeResult:
    model_uri: str
    commands: dict[str, str]
    samples: dict[str, list[ServerSample]]
    requests: int
    identical: bool | None = None
    max_prediction_diff: float = float("nan")
    wrk_used: bool = False


MLT_SERVE = "mlt serve"
MLFLOW_SERVE = "mlflow models serve"


def _post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.read()


def wait_ready(proc: subprocess.Popen, port: int, started: float, err_path: Path) -> float:
    deadline = started + READY_TIMEOUT_S
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            tail = err_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"server exited early with {proc.returncode}:\n{tail}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return time.perf_counter() - started
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} not ready after {READY_TIMEOUT_S:.0f} s")


def run_load(port: int, body: bytes, total: int, threads: int = CLIENT_THREADS) -> LoadRound:
    """``total`` POSTs split over ``threads`` keep-alive connections, bounded in time too."""
    per_thread = [total // threads + (1 if i < total % threads else 0) for i in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    barrier = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()
        barrier.wait()
        for _ in range(per_thread[index]):
            if time.perf_counter() > deadline[0]:
                break
            start = time.perf_counter()
            try:
                status, _ = _post(conn, body)
                ok = status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - start
            if ok:
                latencies[index].append(elapsed)
            else:
                errors[index] += 1
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    deadline[0] = time.perf_counter() + LOAD_DEADLINE_S
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join(LOAD_DEADLINE_S + 35)
    wall = time.perf_counter() - start
    flat = [x for chunk in latencies for x in chunk]
    return LoadRound(len(flat), sum(errors), wall, flat)


def group_members(pgid: int) -> Iterator[tuple[Path, list[str]]]:
    """The /proc entry of each live process of a process group, with its stat fields after
    the command name (state, ppid, pgrp, ..., utime is the 12th, stime the 13th)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid:
                yield entry, fields
        except (OSError, ValueError, IndexError):
            continue


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user+sys) used so far by the live processes of a process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    return sum((int(f[11]) + int(f[12])) / ticks for _, f in group_members(pgid))


def group_rss_kb(pgid: int) -> tuple[float, int]:
    """Sum of VmRSS over the processes of a process group, and how many there are."""
    total, count = 0.0, 0
    for entry, _ in group_members(pgid):
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        if match:
            total += float(match.group(1))
            count += 1
    return total, count


def stop_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.wait()
    # Children that outlived the leader (none expected): make sure the group is gone.
    with_group = group_rss_kb(proc.pid)[1]
    if with_group:
        _kill_group(proc.pid)


def run_wrk(port: int, body: bytes, work: Path, label: str, seconds: int) -> dict[str, float]:
    """Optional cross-check with wrk (2 threads, 4 connections, fixed duration)."""
    script = work / f"wrk-{label}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body.decode())}\n",
        encoding="utf-8",
    )
    try:
        done = subprocess.run(
            ["wrk", "-t2", "-c4", f"-d{seconds}s", "--latency", "-s", str(script),
             f"http://127.0.0.1:{port}/invocations"],
            capture_output=True, text=True, timeout=seconds + 30,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out = done.stdout
    found: dict[str, float] = {}
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match:
        found["rps"] = float(match.group(1))
    for q in ("50", "99"):
        match = re.search(rf"^\s*{q}(?:\.0+)?%\s+([\d.]+)(us|ms|s)\b", out, re.M)
        if match:
            scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[match.group(2)]
            found[f"p{q}"] = float(match.group(1)) * scale
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    found["errors"] = float(match.group(1)) if match else 0.0
    return found


def bench_serve(
    bin_dir: Path,
    work: Path,
    store: Path,
    payload_rows: dict,
    repeat: int,
    requests: int,
    use_wrk: bool,
    wrk_seconds: int,
) -> ServeResult:
    uri = sqlite_uri(store)
    env = base_env(bin_dir, uri)
    logs = work / "logs"
    registered = run_measured(
        [str(bin_dir / "mlt"), "register", "-t", uri, "-e", EXPERIMENT, "--format", "json"],
        env, store, logs, "register",
    )  # fmt: skip
    version = json.loads(registered.stdout)
    model_uri = f"models:/{version['name']}@{(version.get('aliases') or ['champion'])[0]}"
    columns, rows = payload_rows["columns"], payload_rows["data"]
    bodies = {
        "1 row": json.dumps({"dataframe_split": {"columns": columns, "data": rows[:1]}}).encode(),
        f"{len(rows)} rows": json.dumps(
            {"dataframe_split": {"columns": columns, "data": rows}}
        ).encode(),
    }

    def command(kind: str, port: int) -> list[str]:
        if kind == MLT_SERVE:
            return [str(bin_dir / "mlt"), "serve", "--model", model_uri, "--port", str(port),
                    "-t", uri]  # fmt: skip
        return [str(bin_dir / "mlflow"), "models", "serve", "-m", model_uri,
                "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip

    result = ServeResult(
        model_uri,
        {
            MLT_SERVE: shlex.join(["mlt", *command(MLT_SERVE, 0)[1:]])
            .replace("--port 0", "--port PORT")
            .replace(uri, "sqlite:///$TMP/mlflow.db"),
            MLFLOW_SERVE: "MLFLOW_TRACKING_URI=sqlite:///$TMP/mlflow.db "
            + shlex.join(["mlflow", *command(MLFLOW_SERVE, 0)[1:]]).replace(
                "--port 0", "--port PORT"
            ),
        },
        {MLT_SERVE: [], MLFLOW_SERVE: []},
        requests,
        wrk_used=use_wrk,
    )
    kinds = [MLT_SERVE, MLFLOW_SERVE]
    for i in range(repeat):
        for kind in kinds if i % 2 == 0 else kinds[::-1]:
            port = free_port()
            tag = "mlt" if kind == MLT_SERVE else "mlflow"
            err_path = logs / f"serve-{i}-{tag}.err"
            log(f"serve {i + 1}/{repeat}: {kind} on 127.0.0.1:{port}")
            with open(err_path, "wb") as err:
                started = time.perf_counter()
                proc = subprocess.Popen(
                    command(kind, port),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    env=env,
                    cwd=store,
                    start_new_session=True,
                )
            try:
                ready = wait_ready(proc, port, started, err_path)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                predictions = {}
                for name, body in bodies.items():
                    status, raw = _post(conn, body)
                    if status != 200:
                        raise RuntimeError(f"{kind}: /invocations answered {status}: {raw[:300]!r}")
                    predictions[name] = [float(x) for x in json.loads(raw)["predictions"]]
                    for _ in range(20):  # warm-up, not counted
                        _post(conn, body)
                conn.close()
                rounds = {}
                for name, body in bodies.items():
                    cpu_before = group_cpu_s(proc.pid)
                    rounds[name] = run_load(port, body, requests)
                    rounds[name].server_cpu = group_cpu_s(proc.pid) - cpu_before
                rss, count = group_rss_kb(proc.pid)
                wrk = {}
                if use_wrk:
                    wrk = {
                        name: run_wrk(port, body, work, f"{tag}-{i}-{n}", wrk_seconds)
                        for n, (name, body) in enumerate(bodies.items())
                    }
            finally:
                stop_group(proc)
            sample = ServerSample(ready, rounds, rss, count, predictions, wrk)
            result.samples[kind].append(sample)
            log(
                f"  ready in {fmt_s(ready)}; "
                + "; ".join(
                    f"{n}: {r.rps:.0f} req/s p50 {fmt_ms(r.p(50))} p99 {fmt_ms(r.p(99))}"
                    + (f" ({r.errors} errors)" if r.errors else "")
                    for n, r in rounds.items()
                )
            )

    # Same payload, same model: both servers must give the same answers.
    reference = result.samples[MLT_SERVE][0].predictions
    diffs, identical = [], True
    for samples in result.samples.values():
        for sample in samples:
            for name, values in sample.predictions.items():
                expected = reference[name]
                if len(values) != len(expected):
                    identical = False
                    continue
                diffs.extend(abs(a - b) for a, b in zip(values, expected, strict=True))
                identical = identical and values == expected
    result.identical = identical
    result.max_prediction_diff = max(diffs) if diffs else float("nan")
    return result


# --------------------------------------------------------------------------- the report


def machine_info(bin_dir: Path) -> dict[str, str]:
    versions = json.loads(
        subprocess.run(
            [str(bin_dir / "python"), "-c", VERSIONS_SCRIPT, "mlflow", "scikit-learn",
             "mlflow-tutorial", "pandas", "numpy", "uvicorn"],
            capture_output=True, text=True, check=True, env=base_env(bin_dir), timeout=60,
        ).stdout
    )  # fmt: skip
    python = subprocess.run(
        [str(bin_dir / "python"), "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": nproc or str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": memory,
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": python,
        "mlflow": versions["mlflow"],
        "scikit-learn": versions["scikit-learn"],
        "mlt (mlflow-tutorial)": versions["mlflow-tutorial"],
        "pandas / numpy / uvicorn": (
            f"{versions['pandas']} / {versions['numpy']} / {versions['uvicorn']}"
        ),
        "wrk": shutil.which("wrk") or "not installed (Python client only)",
    }


def render(
    args: argparse.Namespace,
    command: str,
    started: dt.datetime,
    duration: float,
    machine: dict[str, str],
    loads: tuple[tuple[float, ...], tuple[float, ...]],
    data: DataChoice,
    data_rows: int,
    startup: StartupResult,
    sweep: SweepResult,
    serve: ServeResult,
    floor: FloorResult | None,
) -> str:
    out: list[str] = []
    w = out.append
    n_points = len(sweep.alphas) * len(sweep.l1_ratios)
    mlt_s, plain_s, reqs_s = (sweep.samples[k] for k in (MLT, PLAIN, PLAIN_REQS))
    med = lambda samples, attr: median([getattr(s, attr) for s in samples])  # noqa: E731

    w("# Performance: mlt vs the plain-MLflow way\n")
    w(
        "Generated by `bench/bench.py`; every number on this page comes from one run of it. "
        "Each figure is the **median** of the repetitions (range and count in brackets), and each "
        "comparison is against a baseline **measured in the same run** on the same machine, so "
        "the ratios matter more than the absolute times (the machine is shared and noisy)."
        + (
            "\n\n> **Quick mode**: a smoke test (fewer points and repetitions); "
            "do not quote these figures."
            if args.quick
            else ""
        )
        + "\n"
    )
    w("| | |\n|---|---|")
    w(f"| command | `{command}` |")
    w(f"| date | {started.strftime('%Y-%m-%d %H:%M UTC')} |")
    w(f"| duration of the run | {duration / 60:.1f} min |")
    w(f"| data | {data.describe()}, {data_rows} rows |")
    w(
        f"| repetitions | {args.repeat} (start-up: {len(startup.walls['mlt --help'])} runs each; "
        f"training sweeps: {args.sweep_repeat}, i.e. {args.sweep_repeat * n_points} plain "
        "processes per variant) |"
    )
    w(
        f"| load average at start / end | {' '.join(f'{x:.2f}' for x in loads[0])} / "
        f"{' '.join(f'{x:.2f}' for x in loads[1])} |"
    )
    if LOAD_SAMPLES:
        w(
            f"| 1-min load average during the run | {min(LOAD_SAMPLES):.2f}–"
            f"{max(LOAD_SAMPLES):.2f} (sampled at each step) |"
        )
    for key, value in machine.items():
        w(f"| {key} | {value} |")
    w("")
    cpus = int(machine["nproc"]) if machine["nproc"].isdigit() else os.cpu_count() or 1
    if LOAD_SAMPLES and max(LOAD_SAMPLES) > cpus:
        w(
            f"> **The machine was busy** during this run (1-min load average up to "
            f"{max(LOAD_SAMPLES):.1f} on {cpus} CPUs): other work competed for the CPUs, so "
            "wall times are inflated and spread out. CPU times (user+sys of the measured "
            "processes) are less sensitive to that and are shown next to them.\n"
        )

    # Summary.
    su, mf = startup.walls["mlt --help"], startup.walls["mlflow --help"]
    sm, sb = serve.samples[MLT_SERVE], serve.samples[MLFLOW_SERVE]
    one, many = list(serve.samples[MLT_SERVE][0].rounds)

    def rps(samples: list[ServerSample], name: str) -> float:
        return median([s.rounds[name].rps for s in samples])

    def cpu_per_request(samples: list[ServerSample], name: str) -> float:
        return median([s.rounds[name].cpu_per_request for s in samples])

    w("## Summary\n")
    w("| measurement | mlt | baseline (plain MLflow) | baseline ÷ mlt | clear difference? |")
    w("|---|---:|---:|---:|---|")

    def row(label: str, ours: list[float], theirs: list[float], fmt, note: str = "") -> None:
        a, b = median(ours), median(theirs)
        w(f"| {label} | {fmt(a)} | {fmt(b)}{note} | {ratio(b, a)} | {separated(ours, theirs)} |")

    wall = lambda samples: [x.wall for x in samples]  # noqa: E731
    cpu = lambda samples: [x.cpu for x in samples]  # noqa: E731
    row("CLI start-up (`--help`), wall", su, mf, fmt_s, " (`mlflow --help`)")
    row(f"{n_points}-point sweep, total wall", wall(mlt_s), wall(plain_s), fmt_s,
        " (plain script per point)")  # fmt: skip
    row(f"{n_points}-point sweep, total wall, baseline given pip_requirements",
        wall(mlt_s), wall(reqs_s), fmt_s)  # fmt: skip
    row(f"{n_points}-point sweep, CPU time (user+sys)", cpu(mlt_s), cpu(plain_s), fmt_s)
    row(f"{n_points}-point sweep, CPU time, baseline given pip_requirements",
        cpu(mlt_s), cpu(reqs_s), fmt_s)  # fmt: skip
    row("training peak memory (max RSS)", [x.maxrss_kb for x in mlt_s],
        [x.maxrss_kb for x in plain_s], fmt_mb, " (one plain process)")  # fmt: skip
    row("server start to first `/ping`", [x.ready for x in sm], [x.ready for x in sb], fmt_s,
        " (`mlflow models serve`)")  # fmt: skip
    for name in (one, many):
        row(f"serving throughput, {name} (req/s; higher is better)",
            [x.rounds[name].rps for x in sm], [x.rounds[name].rps for x in sb],
            lambda v: f"{v:.0f}")  # fmt: skip
    for name in (one, many):
        row(f"server CPU per request, {name}", [x.rounds[name].cpu_per_request for x in sm],
            [x.rounds[name].cpu_per_request for x in sb], fmt_ms)  # fmt: skip
    row("server memory (RSS of the process group)", [x.rss_kb for x in sm],
        [x.rss_kb for x in sb], fmt_mb)  # fmt: skip
    w("")
    w(
        "Ratios are baseline ÷ mlt: above 1× the baseline takes longer (or uses more memory) "
        "than mlt; for throughput, above 1× the baseline serves more requests per second. "
        "*Clear difference?* says whether the ranges (min–max over the repetitions) of the two "
        "sides are apart; when they overlap, the medians differ by less than this machine's "
        "noise and the ratio should not be read as a difference."
    )
    if serve.identical is not None:
        verdict = "identical" if serve.identical else "**NOT identical**"
        w(
            f"Both servers returned {verdict} predictions for the same payloads "
            f"(largest absolute difference {serve.max_prediction_diff:g}). "
            + (
                "All three training approaches reported the same test metrics for every point "
                f"(largest relative difference {sweep.max_metric_diff:g})."
                if sweep.metrics_match
                else "**The training approaches did not report the same metrics** "
                f"(largest relative difference {sweep.max_metric_diff:g})."
            )
        )
    w("")

    # 1. Start-up.
    w("## 1. CLI start-up\n")
    w(
        "Wall time of a complete `--help` (process start to exit), after one unmeasured warm-up "
        "of each command (warm page cache); the commands alternate order between repetitions. "
        "`python -c pass` is the interpreter's own floor.\n"
    )
    w("| command | wall | max RSS | ÷ `mlt --help` |")
    w("|---|---:|---:|---:|")
    for label, walls in startup.walls.items():
        w(
            f"| `{label}` | {spread(walls, fmt_s)} | {fmt_mb(median(startup.rss[label]))} | "
            f"{ratio(median(walls), median(su))} |"
        )
    w("")

    # 2. Sweep.
    w(f"## 2. A {n_points}-point training sweep\n")
    w(
        f"alpha ∈ {{{', '.join(f'{a:g}' for a in sweep.alphas)}}} × "
        f"l1_ratio ∈ {{{', '.join(f'{r:g}' for r in sweep.l1_ratios)}}}, a fresh SQLite store "
        "per approach and repetition (so each pays MLflow's schema creation once), the three "
        "approaches in rotating order. The plain script is MLflow's classic ElasticNet "
        "tutorial written for MLflow 3 (listed below): one process per point that imports "
        "mlflow and scikit-learn, loads the data, fits, and logs params, metrics and the model "
        'with `mlflow.sklearn.log_model(name="model", signature=..., input_example=...)`. '
        "mlt runs with `--no-standardize` so that all three fit exactly the same model "
        "(its default StandardScaler step costs milliseconds).\n"
    )
    w(
        "| approach | total wall | wall per run | CPU (user+sys) | CPU per run | "
        "wall ÷ mlt | CPU ÷ mlt |"
    )
    w("|---|---:|---:|---:|---:|---:|---:|")
    mlt_wall, mlt_cpu = med(mlt_s, "wall"), med(mlt_s, "cpu")
    for label, samples in sweep.samples.items():
        walls = [s.wall for s in samples]
        cpu = med(samples, "cpu")
        w(
            f"| {label} | {spread(walls, fmt_s)} | {fmt_s(median(walls) / n_points)} | "
            f"{fmt_s(cpu)} | {fmt_s(cpu / n_points)} | "
            f"{ratio(median(walls), mlt_wall)} | {ratio(cpu, mlt_cpu)} |"
        )
    w("")
    per_process = [x for s in plain_s for x in s.process_walls]
    per_process_reqs = [x for s in reqs_s for x in s.process_walls]
    cpu_process = [x for s in plain_s for x in s.process_cpus]
    cpu_process_reqs = [x for s in reqs_s for x in s.process_cpus]
    w(
        f"One plain process (one point) takes {spread(per_process, fmt_s)} of wall and "
        f"{fmt_s(median(cpu_process))} of CPU with requirement inference, "
        f"{spread(per_process_reqs, fmt_s)} of wall and {fmt_s(median(cpu_process_reqs))} of "
        "CPU with explicit `pip_requirements`: inference costs about "
        f"{fmt_s(median(per_process) - median(per_process_reqs))} of wall and "
        f"{fmt_s(median(cpu_process) - median(cpu_process_reqs))} of CPU per logged model "
        "(MLflow loads the model in a subprocess to see what it imports, and picks up "
        "unrelated packages, see below). The rest of the gap is start-up paid once per point "
        "instead of once per sweep: the interpreter, the MLflow and scikit-learn imports, the "
        "store connection and the data loading (section 5 measures these).\n"
    )
    if sweep.requirements:
        w("Requirements recorded with the models (first repetition):\n")
        w("| approach | requirements.txt |")
        w("|---|---|")
        for label, text in sweep.requirements.items():
            w(f"| {label} | `{text}` |")
        w("")
    w("Commands (`$TMP` is a fresh temporary directory, also the working directory):\n")
    w("```bash")
    for label, text in sweep.commands.items():
        w(f"# {label}")
        w(text)
    w("```\n")

    # 3. Serving.
    w("## 3. Serving\n")
    w(
        f"Both servers serve `{serve.model_uri}` (registered with `mlt register` from the last mlt "
        "sweep) on an ephemeral port of 127.0.0.1, one at a time, in alternating order; each "
        "repetition starts a fresh server. *Ready* is the time from process start to the first "
        "HTTP 200 on `GET /ping` (polled every 50 ms). The load is a Python client in this "
        f"process: {CLIENT_THREADS} threads, each with its own keep-alive HTTP/1.1 connection, "
        f"{serve.requests} `POST /invocations` per round in total (after 20 unmeasured warm-up "
        "requests), `dataframe_split` JSON bodies of 1 and of 100 rows. The client shares the "
        f"{machine['nproc']} CPUs with the server, so absolute throughput is a floor; both servers "
        "face the same client. *Server CPU / request* is the CPU time (user+sys, from "
        "`/proc`) the server's processes used during a round divided by its requests, which "
        "depends less on the client and on other load. Memory is the summed RSS of the "
        "server's process group after the load (`mlflow models serve` runs the MLflow CLI "
        "plus a uvicorn child process).\n"
    )
    w("| server | ready | payload | req/s | p50 | p99 | server CPU / request | errors |")
    w("|---|---:|---|---:|---:|---:|---:|---:|")
    for kind, samples in serve.samples.items():
        for k, name in enumerate((one, many)):
            rounds = [s.rounds[name] for s in samples]
            w(
                f"| {kind if k == 0 else ''} | "
                f"{spread([s.ready for s in samples], fmt_s) if k == 0 else ''} | {name} | "
                f"{spread([r.rps for r in rounds], lambda x: f'{x:.0f}')} | "
                f"{fmt_ms(median([r.p(50) for r in rounds]))} | "
                f"{fmt_ms(median([r.p(99) for r in rounds]))} | "
                f"{fmt_ms(median([r.cpu_per_request for r in rounds]))} | "
                f"{sum(r.errors for r in rounds)} |"
            )
    w("")
    w("| | mlt serve | mlflow models serve | mlflow ÷ mlt |")
    w("|---|---:|---:|---:|")
    ready_m, ready_b = median([s.ready for s in sm]), median([s.ready for s in sb])
    w(
        f"| ready (start → /ping) | {fmt_s(ready_m)} | {fmt_s(ready_b)} | "
        f"{ratio(ready_b, ready_m)} |"
    )
    for name in (one, many):
        a, b = rps(sm, name), rps(sb, name)
        w(f"| req/s, {name} | {a:.0f} | {b:.0f} | {ratio(b, a)} |")
        pa = median([s.rounds[name].p(50) for s in sm])
        pb = median([s.rounds[name].p(50) for s in sb])
        w(f"| p50 latency, {name} | {fmt_ms(pa)} | {fmt_ms(pb)} | {ratio(pb, pa)} |")
        pa = median([s.rounds[name].p(99) for s in sm])
        pb = median([s.rounds[name].p(99) for s in sb])
        w(f"| p99 latency, {name} | {fmt_ms(pa)} | {fmt_ms(pb)} | {ratio(pb, pa)} |")
        pa, pb = cpu_per_request(sm, name), cpu_per_request(sb, name)
        w(f"| server CPU per request, {name} | {fmt_ms(pa)} | {fmt_ms(pb)} | {ratio(pb, pa)} |")
    ra, rb = median([s.rss_kb for s in sm]), median([s.rss_kb for s in sb])
    w(
        f"| RSS of the process group ({sm[0].processes} vs {sb[0].processes} processes) | "
        f"{fmt_mb(ra)} | {fmt_mb(rb)} | {ratio(rb, ra)} |"
    )
    w("")
    if serve.identical is not None:
        w(
            "Predictions for the same 1-row and 100-row payloads: "
            + ("**identical** on both servers" if serve.identical else "**different**")
            + f" (largest absolute difference {serve.max_prediction_diff:g}).\n"
        )
    if serve.wrk_used:
        w("Cross-check with `wrk -t2 -c4 --latency` (fixed duration):\n")
        w("| server | payload | req/s | p50 | p99 | non-2xx |")
        w("|---|---|---:|---:|---:|---:|")
        for kind, samples in serve.samples.items():
            for name in (one, many):
                found = [s.wrk.get(name, {}) for s in samples]
                w(
                    f"| {kind} | {name} | "
                    f"{median([f['rps'] for f in found if 'rps' in f]):.0f} | "
                    f"{fmt_ms(median([f['p50'] for f in found if 'p50' in f]))} | "
                    f"{fmt_ms(median([f['p99'] for f in found if 'p99' in f]))} | "
                    f"{sum(int(f.get('errors', 0)) for f in found)} |"
                )
        w("")
    w("```bash")
    for kind, text in serve.commands.items():
        w(f"# {kind}")
        w(text)
    w("```\n")

    # 4. Memory.
    w("## 4. Peak memory of training\n")
    w(
        "Max RSS from `wait4` when each process ends (the largest of the process and the "
        "children it waited for; for the plain script, the largest of its per-point processes; "
        "MLflow's requirement inference runs in a child process, which is counted).\n"
    )
    w("| approach | max RSS | ÷ mlt |")
    w("|---|---:|---:|")
    mlt_rss = med(mlt_s, "maxrss_kb")
    for label, samples in sweep.samples.items():
        rss = [s.maxrss_kb for s in samples]
        w(f"| {label} | {spread(rss, fmt_mb)} | {ratio(median(rss), mlt_rss)} |")
    w("")
    w(
        f"mlt keeps all {n_points} runs in one process, so its peak covers the whole sweep; each "
        "plain process holds one run. For reference, `mlflow --help` alone peaks at "
        f"{fmt_mb(median(startup.rss['mlflow --help']))}.\n"
    )

    # Fixed costs.
    w("## 5. Where the time goes: fixed costs per process\n")
    if floor is None:
        w("Skipped in quick mode.\n")
    else:
        w(
            "Small probes run the same way (fresh process, wall and CPU from `wait4`), to "
            "split a training process into what every process pays before it trains. The "
            f"imports are `{IMPORTS}`; *set_experiment* opens the SQLite store (on a new file "
            "MLflow also creates its schema).\n"
        )
        w("| probe | wall | CPU |")
        w("|---|---:|---:|")
        w(f"| `python -c pass` (section 1) | {fmt_s(median(startup.walls['python -c pass']))} | |")
        for label, walls in floor.walls.items():
            w(f"| {label} | {spread(walls, fmt_s)} | {fmt_s(median(floor.cpus[label]))} |")
        w("")
        imports = median(floor.walls[PROBE_IMPORTS])
        new_store = median(floor.walls[PROBE_NEW_STORE])
        old_store = median(floor.walls[PROBE_OLD_STORE])
        one = median(floor.walls[PROBE_MLT_ONE])
        one_cpu = median(floor.cpus[PROBE_MLT_ONE])
        if n_points > 1:
            marginal = (mlt_wall - one) / (n_points - 1)
            marginal_cpu = (mlt_cpu - one_cpu) / (n_points - 1)
            further = (
                f", and each further point of the {n_points}-point grid adds about "
                f"{fmt_s(marginal)} of wall and {fmt_s(marginal_cpu)} of CPU "
                f"(({fmt_s(mlt_wall)} − {fmt_s(one)}) ÷ {n_points - 1})"
            )
        else:
            further = ""
        w(
            f"Reading: the imports cost {fmt_s(imports)}; opening an existing store adds "
            f"{fmt_s(old_store - imports)} and creating a new one "
            f"{fmt_s(new_store - imports)} (of wall; creating the schema is many small "
            "SQLite transactions, so it also waits on the disk: compare its CPU). A whole "
            f"`mlt train` of one point on a new store takes {fmt_s(one)} of wall and "
            f"{fmt_s(one_cpu)} of CPU{further}; a plain process with explicit requirements pays "
            f"{fmt_s(median(per_process_reqs))} of wall and {fmt_s(median(cpu_process_reqs))} "
            "of CPU for every point.\n"
        )

    # Method.
    w("## How to reproduce\n")
    w("```bash")
    w(". .venv/bin/activate")
    w("python bench/bench.py --output docs/performance.md      # about 7 minutes")
    w("python bench/bench.py --quick                            # smoke test, under 2 minutes")
    w("python bench/bench.py --data /path/to/winequality.csv --target quality")
    w("```\n")
    w("See [bench/README.md](../bench/README.md) for what each measurement does.\n")
    w("<details><summary>The plain tutorial script used as the baseline</summary>\n")
    w("```python")
    w(PLAIN_SCRIPT.rstrip())
    w("```\n")
    w("</details>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark mlt against the plain-MLflow way (see bench/README.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(
            """\
            examples:
              python bench/bench.py --quick
              python bench/bench.py --output docs/performance.md
              python bench/bench.py --data wine-quality.csv --target quality
            """
        ),
    )
    parser.add_argument("--quick", action="store_true", help="smoke test, under ~2 minutes")
    parser.add_argument(
        "--repeat", type=int, help="repetitions of each measurement [default: 3, --quick: 1]"
    )
    parser.add_argument("--output", "-o", help="write the Markdown page here [default: stdout]")
    parser.add_argument("--data", help="CSV file to train on [default: built-in diabetes data]")
    parser.add_argument("--target", help="target column of --data [default: target, else last]")
    parser.add_argument(
        "--sweep-repeat",
        type=int,
        help="repetitions of the training sweeps, the slow part [default: repeat-1, at least 1]",
    )
    parser.add_argument(
        "--requests", type=int, help="requests per load round [default: 400, --quick: 200]"
    )
    parser.add_argument("--no-wrk", action="store_true", help="skip wrk even if installed")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.sweep_repeat = args.sweep_repeat or max(1, args.repeat - 1)
    args.requests = args.requests or (200 if args.quick else 400)
    if args.repeat < 1 or args.sweep_repeat < 1 or args.requests < CLIENT_THREADS:
        parser.error(f"--repeat must be >= 1 and --requests >= {CLIENT_THREADS}")
    if args.target and not args.data:
        parser.error("--target needs --data")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    command = command.replace(str(Path(sys.executable)), "python", 1)
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.perf_counter()
    load_start = os.getloadavg()
    bin_dir = find_bin()
    data = DataChoice.resolve(args.data, args.target)
    if args.quick:
        alphas, l1_ratios = [0.1, 1.0], [0.5]
    else:
        alphas, l1_ratios = [0.1, 0.5, 1.0], [0.2, 0.8]
    use_wrk = bool(shutil.which("wrk")) and not args.no_wrk

    work = Path(tempfile.mkdtemp(prefix="mlt-bench-"))
    (work / "logs").mkdir()
    log(f"working in {work} with {bin_dir}")
    try:
        machine = machine_info(bin_dir)
        versions = json.loads(
            subprocess.run(
                [str(bin_dir / "python"), "-c", VERSIONS_SCRIPT, *MODEL_PACKAGES],
                capture_output=True, text=True, check=True, timeout=60,
            ).stdout
        )  # fmt: skip
        requirements = [f"{name}=={versions[name]}" for name in MODEL_PACKAGES]
        payload = json.loads(
            subprocess.run(
                [str(bin_dir / "python"), "-c", PAYLOAD_SCRIPT,
                 "diabetes" if not data.path else "", data.path or "", data.target or ""],
                capture_output=True, text=True, check=True, timeout=120,
                env=base_env(bin_dir),
            ).stdout
        )  # fmt: skip

        startup_runs = max(3, 2 * args.repeat + 1)
        log(f"1. CLI start-up ({startup_runs} runs each)")
        startup = bench_startup(bin_dir, work, startup_runs)
        log("   " + ", ".join(f"{k}: {fmt_s(median(v))}" for k, v in startup.walls.items()))

        floor = None
        if not args.quick:
            log(f"   fixed costs ({args.repeat} runs each)")
            floor = bench_floor(bin_dir, work, data, args.repeat)
            log("   " + ", ".join(f"{k}: {fmt_s(median(v))}" for k, v in floor.walls.items()))

        log(f"2. sweep of {len(alphas) * len(l1_ratios)} points, {args.sweep_repeat} repetition(s)")
        sweep = bench_sweep(bin_dir, work, data, alphas, l1_ratios, args.sweep_repeat, requirements)

        log(f"3. serving, {args.repeat} start(s) per server, {args.requests} requests per round")
        assert sweep.last_mlt_store is not None
        serve = bench_serve(
            bin_dir,
            work,
            sweep.last_mlt_store,
            payload,
            args.repeat,
            args.requests,
            use_wrk,
            3 if args.quick else 5,
        )
        duration = time.perf_counter() - clock
        page = render(
            args,
            command,
            started,
            duration,
            machine,
            (load_start, os.getloadavg()),
            data,
            payload["n_rows"],
            startup,
            sweep,
            serve,
            floor,
        )
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.output:
        target = Path(args.output)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
        log(f"wrote {target} in {duration / 60:.1f} min")
    else:
        sys.stdout.write(page)
        log(f"done in {duration / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())

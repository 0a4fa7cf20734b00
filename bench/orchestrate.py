"""One benchmark run: set up, run the selected scenarios in order, return a RunRecord."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .context import MODEL_PACKAGES, Context, Options, Progress, load_data_info, run_json, script
from .proc import BenchError, find_bin
from .record import RunRecord
from .scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD_ROWS = 1000


def run(options: Options, command: str) -> RunRecord:
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.perf_counter()
    load_start = os.getloadavg()
    progress = Progress()
    bin_dir = find_bin(ROOT)
    selected = list(options.only) if options.only else list(SCENARIOS)
    selected = [name for name in SCENARIOS if name in selected]  # run order
    work = Path(tempfile.mkdtemp(prefix="mlt-bench-"))
    (work / "logs").mkdir()
    progress(f"working in {work} with {bin_dir}; scenarios: {', '.join(selected)}")
    try:
        versions = run_json(
            bin_dir,
            [str(script("versions.py")), "mlflow", "mlflow-tutorial", "uvicorn",
             *MODEL_PACKAGES],
        )  # fmt: skip
        data = load_data_info(bin_dir, options.data, options.target, PAYLOAD_ROWS)
        ctx = Context(bin_dir, work, options, data, versions, progress)
        results, failures = {}, {}
        for name in selected:
            try:
                results[name] = SCENARIOS[name].run(ctx)
            except BenchError as exc:  # the other scenarios can still be measured
                failures[name] = str(exc)
                progress(f"{name} FAILED: {exc}")
    finally:
        if options.keep:
            progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return RunRecord(
        command=command,
        started=started,
        duration=time.perf_counter() - clock,
        machine=machine_info(versions),
        load_start=load_start,
        load_end=os.getloadavg(),
        load_samples=progress.load_samples,
        options=options,
        data=data,
        selected=selected,
        results=results,
        failures=failures,
    )


def machine_info(versions: dict[str, str | None]) -> dict[str, str]:
    cpu = memory = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    wrk = shutil.which("wrk")
    if wrk:
        head = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout
        wrk = f"{head.split()[1] if head.split()[1:] else ''} ({wrk})"
    v = versions.get
    return {
        "nproc": nproc or str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": memory,
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": str(v("python")),
        "mlflow": str(v("mlflow")),
        "scikit-learn": str(v("scikit-learn")),
        "mlt (mlflow-tutorial)": str(v("mlflow-tutorial")),
        "pandas / numpy / uvicorn": f"{v('pandas')} / {v('numpy')} / {v('uvicorn')}",
        "wrk": wrk or "not installed (Python client only)",
    }

"""Make the pictures of the tutorial pages (docs/tutorial.md, docs/tutorial.es.md) again.

    python docs/make_images.py [--no-screenshot]

Runs the pages' own commands in a temporary directory and copies what they produce into
docs/images/: the sweep chart of `mlt compare --plot`, two plots of the `base` run, the
coefficients of the `lasso` run, and a screenshot of MLflow's UI showing a run's plots (taken
with headless Chromium, `apt-get install -y chromium`; skipped with a message if it is
missing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"
BIN = Path(sys.executable).parent
GRID = ["--alpha", "0.01,0.1,1", "--l1-ratio", "0.2,0.5,0.8", "--run-name", "grid"]


def mlt(workdir: Path, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "mlt"), *args], cwd=workdir, check=True, capture_output=True, text=True
    )
    return done.stdout


def run_plot(workdir: Path, run_id: str, name: str, target: str) -> None:
    (plot,) = workdir.glob(f"mlruns/*/{run_id}/artifacts/plots/{name}")
    shutil.copy(plot, IMAGES / target)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def screenshot(workdir: Path, experiment_id: str, run_id: str) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("no chromium on PATH: the UI screenshot is left as it was", file=sys.stderr)
        return
    port = free_port()
    ui = subprocess.Popen(
        [str(BIN / "mlt"), "ui", "--port", str(port)],
        cwd=workdir,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ui.stderr.readline()  # printed once the UI answers
        url = (
            f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs/{run_id}"
            "/artifacts/plots/predicted_vs_actual.png"
        )
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30).close()
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [
                    browser,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--hide-scrollbars",
                    f"--user-data-dir={profile}",
                    "--virtual-time-budget=20000",
                    "--window-size=1400,900",
                    f"--screenshot={IMAGES / 'ui-run-artifacts.png'}",
                    url,
                ],
                check=True,
                capture_output=True,
                timeout=180,
            )
    finally:
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-screenshot", action="store_true", help="keep the UI screenshot")
    options = parser.parse_args()
    IMAGES.mkdir(exist_ok=True)
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # the default store, in the temporary dir
    with tempfile.TemporaryDirectory(prefix="mlt-images-") as tmp:
        workdir = Path(tmp)
        base = json.loads(mlt(workdir, "train", "--run-name", "base", "--format", "json"))
        mlt(workdir, "train", *GRID, "--no-plots", "--format", "json")
        mlt(
            workdir,
            "compare",
            "--filter",
            "attributes.run_name LIKE 'grid-%'",
            "--plot",
            str(IMAGES / "sweep.png"),
            "--format",
            "json",
        )
        lasso = json.loads(
            mlt(workdir, "train", "--alpha", "2", "--l1-ratio", "1", "--run-name", "lasso")
        )
        run_plot(workdir, base["run_id"], "predicted_vs_actual.png", "predicted_vs_actual.png")
        run_plot(workdir, base["run_id"], "residuals.png", "residuals.png")
        run_plot(workdir, lasso["run_id"], "coefficients.png", "coefficients.png")
        if not options.no_screenshot:
            screenshot(workdir, base["experiment_id"], base["run_id"])
    for image in sorted(IMAGES.glob("*.png")):
        print(image.relative_to(IMAGES.parent.parent))


if __name__ == "__main__":
    main()

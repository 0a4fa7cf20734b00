"""Make the pictures of the tutorial pages (docs/tutorial.md, docs/tutorial.es.md) again.

    python docs/make_images.py [--no-screenshot]

Runs the pages' own commands in a temporary directory and copies what they produce into
docs/images/: the sweep chart of `mlt compare --plot`, two plots of the `base` run, the
coefficients of the `lasso` run, and three screenshots of MLflow's UI in its model-training
view: the runs of the experiment `mlt`, the artifacts of the run `base`, and the registered
model with its `champion` alias. The screenshots are taken with headless Chromium
(`apt-get install -y chromium`) driven by Playwright (`pip install playwright`); without
them the screenshots are left as they were, with a message.

`capture()` also returns the text of each screenshotted page, so a test can check that the
pictures show what the pages say (tests/test_tutorial.py).
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
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"
BIN = Path(sys.executable).parent
GRID = ["--alpha", "0.01,0.1,1", "--l1-ratio", "0.2,0.5,0.8", "--run-name", "grid"]
PLOTS = ("coefficients.png", "predicted_vs_actual.png", "residuals.png")
# The UI picks its view from the URL or the experiment's tag: the classic model-training one.
VIEW = "workflowType=machine_learning"


@dataclass(frozen=True)
class Shot:
    """One screenshot: the UI route, the file, and what the page must show."""

    image: str
    route: str
    shows: tuple[str, ...]


def shots(experiment_id: str, run_id: str) -> list[Shot]:
    runs = f"#/experiments/{experiment_id}"
    return [
        Shot("ui-runs.png", f"{runs}/runs?{VIEW}", ("Runs", "base", "grid-9", "lasso")),
        Shot(
            "ui-run-artifacts.png",
            f"{runs}/runs/{run_id}/artifacts/plots/predicted_vs_actual.png?{VIEW}",
            ("base", *PLOTS),
        ),
        Shot("ui-registry.png", f"#/models/diabetes-elasticnet?{VIEW}", ("champion", "Version 2")),
    ]


def mlt(workdir: Path, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "mlt"), *args], cwd=workdir, check=True, capture_output=True, text=True
    )
    return done.stdout


def run_plot(workdir: Path, run_id: str, name: str, target: Path) -> None:
    (plot,) = workdir.glob(f"mlruns/*/{run_id}/artifacts/plots/{name}")
    shutil.copy(plot, target)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_store(workdir: Path, images: Path) -> dict[str, str]:
    """The runs of the tutorial's steps 1-6 in ``workdir``; the plots copied to ``images``."""
    base = json.loads(mlt(workdir, "train", "--run-name", "base", "--format", "json"))
    mlt(workdir, "train", *GRID, "--no-plots", "--format", "json")
    mlt(
        workdir,
        "compare",
        "--filter",
        "attributes.run_name LIKE 'grid-%'",
        "--plot",
        str(images / "sweep.png"),
        "--format",
        "json",
    )
    mlt(workdir, "register", "--format", "json")
    lasso = json.loads(
        mlt(workdir, "train", "--alpha", "2", "--l1-ratio", "1", "--run-name", "lasso")
    )
    mlt(workdir, "register", "--format", "json")
    run_plot(workdir, base["run_id"], "predicted_vs_actual.png", images / "predicted_vs_actual.png")
    run_plot(workdir, base["run_id"], "residuals.png", images / "residuals.png")
    run_plot(workdir, lasso["run_id"], "coefficients.png", images / "coefficients.png")
    return {"experiment_id": base["experiment_id"], "run_id": base["run_id"]}


def browser() -> str | None:
    """The Chromium binary, if both it and Playwright are installed."""
    return None if missing() else shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> list[str]:
    """What the screenshots need and this machine lacks, as the commands that install it."""
    needs = []
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        needs.append("Chromium (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        needs.append("Playwright (pip install playwright)")
    return needs


def capture(workdir: Path, store: dict[str, str], images: Path) -> dict[str, str]:
    """Screenshot each of :func:`shots` from ``mlt ui`` on ``workdir``'s store; returns the
    text each page showed, by image name."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    ui = subprocess.Popen(
        [str(BIN / "mlt"), "ui", "--port", str(port)],
        cwd=workdir,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    texts: dict[str, str] = {}
    try:
        _wait_for(f"http://127.0.0.1:{port}/health")
        with sync_playwright() as driver:
            chromium = driver.chromium.launch(executable_path=browser(), args=["--no-sandbox"])
            page = chromium.new_page(viewport={"width": 1400, "height": 900})
            for shot in shots(store["experiment_id"], store["run_id"]):
                page.goto(f"http://127.0.0.1:{port}/{shot.route}")
                for text in shot.shows:
                    page.get_by_text(text).first.wait_for(timeout=60_000)
                _close_assistant(page)
                page.wait_for_timeout(1500)  # charts and images finish drawing
                page.screenshot(path=str(images / shot.image))
                texts[shot.image] = page.inner_text("body")
            chromium.close()
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=60)
    return texts


def _close_assistant(page) -> None:
    """MLflow's assistant panel opens on first load and covers a quarter of the page."""
    close = page.locator("[data-component-id='mlflow.assistant.chat_panel.close']")
    if close.count() and close.first.is_visible():
        close.first.click()


def _wait_for(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-screenshot", action="store_true", help="keep the UI screenshots")
    options = parser.parse_args()
    IMAGES.mkdir(exist_ok=True)
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # the default store, in the temporary dir
    with tempfile.TemporaryDirectory(prefix="mlt-images-") as tmp:
        workdir = Path(tmp)
        store = build_store(workdir, IMAGES)
        if options.no_screenshot:
            pass
        elif missing():
            print(f"no {' or '.join(missing())}: the UI screenshots are left as they were")
        else:
            capture(workdir, store, IMAGES)
    for image in sorted(IMAGES.glob("*.png")):
        print(image.relative_to(IMAGES.parent.parent))


if __name__ == "__main__":
    main()

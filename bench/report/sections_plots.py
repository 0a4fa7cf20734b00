"""Section 7: what plots add to training."""

from __future__ import annotations

from ..record import RunRecord
from ..scenarios import plots
from ..scenarios.plots import GRID, GRID_OFF, LABELS, ONE, ONE_OFF, TUTORIAL, PlotsResult
from ..stats import median, median_ratio
from .fmt import Page, clear, fmt_ms, fmt_s, fmt_x, spread, versus
from .sections_training import not_run


def section_plots(w: Page, record: RunRecord) -> None:
    w("## 7. Plots", "")
    result: PlotsResult | None = record.get(plots.NAME)
    if result is None:
        return not_run(w, record, plots.NAME)
    if not result.available:
        w.para(
            "Not available in this build: the installed `mlt train` has no `--no-plots` "
            "option (checked with `mlt train --help`)."
        )
        return
    n = result.n_points
    w.para(
        "`mlt train` logs plots with every run unless given `--no-plots`. Measured: one "
        f"training and a {n}-point sweep, each with and without plots, on a fresh SQLite "
        "store per run, in rotating order; and the canonical tutorial script for one point "
        "([bench/scripts/plain_train.py](../bench/scripts/plain_train.py), MLflow inferring the "
        "model's requirements), the yardstick for one whole `mlt train` with its plots."
    )
    w.table(
        ["run", "wall", "CPU (user+sys)"],
        "lrr",
        [[label, spread(result.walls[label], fmt_s), fmt_s(median(result.cpus[label]))]
         for label in LABELS if result.walls.get(label)],
    )  # fmt: skip
    if result.walls.get(TUTORIAL):
        ours, theirs = result.walls[ONE], result.walls[TUTORIAL]
        w.para(
            f"One `mlt train` with its plots takes {fmt_x(result.versus_tutorial())} the wall "
            f"time of the tutorial script for one point: mlt is {versus(ours, theirs, 'time')} "
            f"(clear difference? {clear(ours, theirs)})."
        )
    rows = []
    for title, on, off, per in (
        ("one `mlt train`", ONE, ONE_OFF, 1),
        (f"a {n}-point sweep, per point", GRID, GRID_OFF, n),
    ):
        walls_on, walls_off = result.walls[on], result.walls[off]
        added = (median(walls_on) - median(walls_off)) / per
        added_cpu = (median(result.cpus[on]) - median(result.cpus[off])) / per
        ratio = fmt_x(median_ratio(walls_on, walls_off))
        rows.append([title, fmt_ms(added), fmt_ms(added_cpu), ratio, clear(walls_on, walls_off)])
    w.table(
        ["what plots add to", "wall", "CPU", "with ÷ without (wall)", "clear difference?"],
        "lrrrl",
        rows,
    )
    if n > 1:
        w.para(
            f"The cost of one more point in a sweep ((sweep − one point) ÷ {n - 1}): "
            f"{fmt_ms(result.marginal(True))} with plots, {fmt_ms(result.marginal(False))} "
            "without (wall)."
        )
    w.code(
        "bash", [line for label, text in result.commands.items() for line in (f"# {label}", text)]
    )

"""Section 6: large data."""

from __future__ import annotations

from ..record import RunRecord
from ..scenarios import large
from ..scenarios.large import (
    MLT_PREDICT,
    MLT_PREDICT_2X,
    MLT_TRAIN,
    PLAIN_PREDICT,
    PLAIN_TRAIN,
    LargeResult,
)
from .fmt import Page, clear, fmt_mb, fmt_s, fmt_x, spread, times
from .sections_training import not_run

FIGURES = [
    ("wall", "wall", fmt_s),
    ("CPU (user+sys)", "cpu", fmt_s),
    ("peak RSS", "peak_kb", fmt_mb),
]
KINDS = {"wall": "time", "cpu": "cpu", "peak_kb": "memory"}


def section_large(w: Page, record: RunRecord) -> None:
    w("## 6. Large data", "")
    result: LargeResult | None = record.get(large.NAME)
    if result is None:
        return not_run(w, record, large.NAME)
    mb = [f"{size / 1e6:.0f} MB" for size in result.csv_bytes]
    w.para(
        f"A generated CSV of {result.rows:,} rows × 10 numeric columns + target `y` ({mb[0]}), "
        f"and one of {2 * result.rows:,} rows ({mb[1]}), in the temporary directory. "
        "`mlt train --data rows.csv --target y` (its defaults: StandardScaler + ElasticNet, "
        "alpha 0.5, l1_ratio 0.5, a 25 % test split) against "
        "[bench/scripts/plain_train_pipeline.py](../bench/scripts/plain_train_pipeline.py), "
        "which reads the CSV with pandas, splits it the same way, fits the same pipeline, "
        "computes rmse/mae/r2 and logs one run with params, metrics and the model (signature "
        "and input example from a 5-row sample, explicit `pip_requirements` like mlt's), each "
        "on a fresh SQLite store. Then `mlt predict` of the whole file to a CSV against "
        "[bench/scripts/plain_predict.py](../bench/scripts/plain_predict.py) (pyfunc, pandas, "
        "the whole frame at once), both with the model of the first `mlt train`; and `mlt "
        f"predict` of the {2 * result.rows:,}-row file, to see how its memory grows with the "
        f"input. {result.repeats} repetition(s) (asked: {result.repeat_asked}), in rotating "
        "order. *Peak RSS* is the largest summed RSS of the process tree (sampled every 50 ms, "
        "and never less than the largest single process that `wait4` reports)."
    )
    rows = []
    for title, ours, theirs in (
        ("train", MLT_TRAIN, PLAIN_TRAIN),
        ("predict", MLT_PREDICT, PLAIN_PREDICT),
    ):
        for name, what, fmt in FIGURES:
            a, b = result.values(ours, what), result.values(theirs, what)
            rows.append([f"{title}, {name}", spread(a, fmt), spread(b, fmt),
                         times(result.ratio(ours, theirs, what), KINDS[what]),
                         clear(a, b)])  # fmt: skip
    w.table(
        ["measurement", "mlt", "plain script", "mlt is", "clear difference?"],
        "lrrrl",
        rows,
    )
    rows = []
    for name, what, fmt in FIGURES:
        a, b = result.values(MLT_PREDICT, what), result.values(MLT_PREDICT_2X, what)
        rows.append([name, spread(a, fmt), spread(b, fmt),
                     fmt_x(result.ratio(MLT_PREDICT_2X, MLT_PREDICT, what))])  # fmt: skip
    w.para(f"`mlt predict` on {result.rows:,} rows and on {2 * result.rows:,} rows:")
    w.table(
        ["figure", f"{result.rows:,} rows", f"{2 * result.rows:,} rows", "2× ÷ 1×"], "lrrr", rows
    )
    w.para(checks(result))
    w.code(
        "bash", [line for label, text in result.commands.items() for line in (f"# {label}", text)]
    )


def checks(result: LargeResult) -> str:
    ours, theirs = result.metrics.get(MLT_TRAIN, {}), result.metrics.get(PLAIN_TRAIN, {})
    diffs = [abs(ours[k] - theirs[k]) / max(1e-12, abs(theirs[k])) for k in theirs if k in ours]
    same = bool(diffs) and max(diffs) < 1e-6
    text = (
        "Both trainings report "
        + ("the same" if same else "**different**")
        + " test metrics (rmse "
        + ", ".join(
            f"{ours.get(k, float('nan')):.4g} vs {theirs.get(k, float('nan')):.4g}"
            for k in ("rmse",)
        )  # fmt: skip
        + f"; largest relative difference {max(diffs, default=float('nan')):.2g})."
    )
    counts = ", ".join(f"{label}: {n:,}" for label, n in result.predictions_rows.items())
    if counts:
        text += f" Prediction rows written: {counts}."
    return text

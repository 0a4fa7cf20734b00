"""Section 6: large data, numeric and mixed tables."""

from __future__ import annotations

from ..record import RunRecord
from ..scenarios import large, large_tables
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


# What each scenario's data is and what trains on it: the start of its paragraph (the rest is
# the same for both). {rows}, {rows2}: the two files' rows; {mb}, {mb2}: their sizes.
NUMERIC_DATA = (
    "A generated CSV of {rows} rows × 10 numeric columns + target `y` ({mb}), and one of "
    "{rows2} rows ({mb2}), in the temporary directory. `mlt train --data rows.csv --target y` "
    "(its defaults: StandardScaler + ElasticNet, alpha 0.5, l1_ratio 0.5, a 25 % test split) "
    "against [bench/scripts/plain_train_pipeline.py](../bench/scripts/plain_train_pipeline.py), "
    "which reads the CSV with pandas, "
)
MIXED_DATA = (
    "The same measurement on a generated table of {rows} rows ({mb}; and {rows2} rows, {mb2}) "
    "with text and gaps: 5 numeric columns `x0..x4`, 5 text columns `c0..c4` (3 to 8 "
    "categories each, plus two rare ones that fall under `min_frequency` and are grouped), "
    "about 5 % empty cells in every feature column, and a numeric target `y` depending on "
    "both. `mlt train --data rows.csv --target y` (for such a table: numeric columns "
    "median-imputed and scaled, text columns' gaps made a category and one-hot encoded with "
    "rare categories grouped and unknown ones accepted, then ElasticNet, alpha 0.5, l1_ratio "
    "0.5, a 25 % test split) against "
    "[bench/scripts/plain_train_table.py](../bench/scripts/plain_train_table.py), which reads "
    "the CSV with pandas' defaults, "
)


def section_large(w: Page, record: RunRecord) -> None:
    w("## 6. Large data", "")
    figures_large(w, record, large.NAME, NUMERIC_DATA)


def section_large_tables(w: Page, record: RunRecord) -> None:
    w("### Mixed tables: text columns and gaps", "")
    figures_large(w, record, large_tables.NAME, MIXED_DATA)


def figures_large(w: Page, record: RunRecord, scenario: str, data: str) -> None:
    """The figures of one large-data scenario; ``data`` (a template) says what its data is
    and what trains on it."""
    result: LargeResult | None = record.get(scenario)
    if result is None:
        return not_run(w, record, scenario)
    mb = [f"{size / 1e6:.0f} MB" for size in result.csv_bytes]
    w.para(
        data.format(rows=f"{result.rows:,}", rows2=f"{2 * result.rows:,}", mb=mb[0], mb2=mb[1])
        + "splits it the same way, fits the same pipeline, "
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

"""Sections 8 and 9: tuning with ``mlt tune``, and batch scoring on Spark."""

from __future__ import annotations

from ..record import RunRecord
from ..scenarios import spark, tune
from ..scenarios.spark import MLT, SPARK, SparkBenchResult
from ..scenarios.tune import TuneBenchResult, jobs_label
from ..stats import median, median_ratio
from .fmt import Page, fmt_ms, fmt_s, fmt_x, spread
from .sections_training import not_run


def section_tune(w: Page, record: RunRecord) -> None:
    w("## 8. Tuning", "")
    result: TuneBenchResult | None = record.get(tune.NAME)
    if result is None:
        return not_run(w, record, tune.NAME)
    n = result.trials
    w.para(
        f"`mlt tune --trials {n}` (seeded TPE, 5-fold cross-validated RMSE on the training "
        f"split) against a {result.grid_points}-point grid over the same ranges, scored with the "
        "same folds by scikit-learn's GridSearchCV; then the same study with one and with two "
        "worker processes, on a fresh SQLite store each time."
    )
    rows = []
    for jobs in (1, 2):
        samples = result.samples.get(jobs_label(jobs), [])
        rows.append([
            f"`{jobs_label(jobs)}`",
            spread([s.wall for s in samples], fmt_s),
            fmt_s(median([s.cpu for s in samples])),
            f"{median([s.best_cv_rmse for s in samples]):.4g}",
        ])  # fmt: skip
    rows.append([f"{result.grid_points}-point grid (GridSearchCV)", "", "",
                 f"{result.grid_cv_rmse:.4g}"])  # fmt: skip
    w.table(["search", "wall", "CPU (user+sys)", "best cv_rmse"], "lrrr", rows)
    walls = {k: [s.wall for s in v] for k, v in result.samples.items()}
    two_over_one = median_ratio(walls.get(jobs_label(2), []), walls.get(jobs_label(1), []))
    w.para(f"Two workers ÷ one (wall): {fmt_x(two_over_one)}.")
    small, large = result.overhead_trials
    w.table(
        ["study", "one more trial, first 20", "one more trial, last 20"],
        "lrr",
        [[f"{t} trials", fmt_ms(result.per_trial(t, False)), fmt_ms(result.per_trial(t, True))]
         for t in (small, large)],
    )  # fmt: skip
    w.para(
        "One more trial: the median time between consecutive trial completions (sampler, "
        "study storage, fit, cross-validation and MLflow logging; a model only for a new best)."
    )
    w.code(
        "bash", [line for label, text in result.commands.items() for line in (f"# {label}", text)]
    )


def section_spark(w: Page, record: RunRecord) -> None:
    w("## 9. Batch scoring on Spark", "")
    result: SparkBenchResult | None = record.get(spark.NAME)
    if result is None:
        return not_run(w, record, spark.NAME)
    w.para(
        f"`mlt predict` and `mlt predict --spark local[2]` on the same generated CSV of "
        f"{result.rows:,} rows (10 features), and on its first 1,000 rows, where Spark's "
        "start-up is all there is."
    )
    rows = []
    for label in (MLT, SPARK):
        rows.append([
            f"`{label}`",
            spread(result.walls.get(label, []), fmt_s),
            f"{result.rows_per_s(label):,.0f}",
            spread(result.tiny_walls.get(label, []), fmt_s),
        ])  # fmt: skip
    w.table(["command", f"wall, {result.rows:,} rows", "rows/s", "wall, 1,000 rows"], "lrrr", rows)
    w.para(
        f"Spark's fixed cost (1,000 rows, Spark − mlt predict): {fmt_s(result.fixed_cost())}. "
        f"Spark ÷ mlt predict on {result.rows:,} rows (wall): "
        f"{fmt_x(median_ratio(result.walls.get(SPARK, []), result.walls.get(MLT, [])))}."
    )
    w.code(
        "bash", [line for label, text in result.commands.items() for line in (f"# {label}", text)]
    )

"""Tuning: ``mlt tune`` (seeded TPE, cross-validated) against a grid of as many points over the
same ranges scored with the same cross-validation (GridSearchCV, plain scikit-learn); one
worker against two (``--jobs``); and what one more trial costs in a small and a large study.

Every study runs on a fresh SQLite store with its study database beside it.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

from ..context import EXPERIMENT, Context, script
from ..stats import Target, median, median_ratio, ratio

NAME = "tune"
TITLE = "Tuning"

ALPHA_RANGE = (1e-4, 10.0)
L1_RATIO_RANGE = (0.0, 1.0)
GRID_SHAPE = (5, 4)  # alphas x l1_ratios: 20 points, as many as the trials


@dataclass
class TuneSample:
    wall: float
    cpu: float
    best_cv_rmse: float


@dataclass
class TuneBenchResult:
    trials: int
    overhead_trials: tuple[int, int]
    samples: dict[str, list[TuneSample]] = field(default_factory=dict)
    grid_cv_rmse: float = float("nan")
    grid_points: int = 0
    # Seconds between trial completions: the first and the last ``window`` of each study.
    intervals: dict[int, list[float]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)

    def per_trial(self, trials: int, last: bool) -> float:
        values = self.intervals.get(trials, [])
        window = min(20, len(values))
        return median(values[-window:] if last else values[:window]) if values else float("nan")


def jobs_label(jobs: int) -> str:
    return f"mlt tune --jobs {jobs}"


def run(ctx: Context) -> TuneBenchResult:
    quick = ctx.options.quick
    trials = 6 if quick else 20
    small, large = (10, 40) if quick else (20, 200)
    result = TuneBenchResult(trials, (small, large))
    data_args = ctx.data.mlt_args()
    ranges = ["--alpha", "{:g},{:g}".format(*ALPHA_RANGE),
              "--l1-ratio", "{:g},{:g}".format(*L1_RATIO_RANGE)]  # fmt: skip

    def study(label: str, n: int, jobs: int, i: int) -> TuneSample:
        home, uri = ctx.home(f"tune-{label}-{i}")
        args = [ctx.tool("mlt"), "tune", "--trials", str(n), "--jobs", str(jobs), *ranges,
                "--study", "bench", "--no-plots", "-f", "json", "-t", uri, "-e", EXPERIMENT,
                *data_args]  # fmt: skip
        result.commands[label] = shlex.join(["mlt", *args[1:]]).replace(
            uri, "sqlite:///$TMP/mlflow.db"
        )
        m = ctx.run(args, f"tune-{label}-{i}", cwd=home, tracking_uri=uri, sample_tree=True)
        out = json.loads(m.stdout)
        if label.startswith("overhead"):
            storage = f"sqlite:///{home / 'mlflow-optuna.db'}"
            times = ctx.run([ctx.tool("python"), str(script("study_times.py")), storage, "bench"],
                            f"tune-times-{n}-{i}")  # fmt: skip
            result.intervals[n] = json.loads(times.stdout)["intervals"]
        return TuneSample(m.wall, m.cpu, out["best_cv_rmse"])

    a, r = GRID_SHAPE
    alphas = f"{ALPHA_RANGE[0]:g},{ALPHA_RANGE[1]:g},{a}"
    l1_ratios = f"{L1_RATIO_RANGE[0]:g},{L1_RATIO_RANGE[1]:g},{r}"
    grid_script = str(script("grid_cv.py"))
    grid_args = [ctx.tool("python"), grid_script, alphas, l1_ratios, *ctx.data.plain_args()]
    grid = json.loads(ctx.run(grid_args, "tune-grid").stdout)
    result.grid_cv_rmse, result.grid_points = grid["best_cv_rmse"], grid["points"]
    result.commands["grid"] = "python bench/scripts/grid_cv.py " + shlex.join(grid_args[2:])

    labels = [(jobs_label(1), 1), (jobs_label(2), 2)]
    for label, _ in labels:
        result.samples[label] = []
    repeat = max(1, ctx.options.sweep_repeat)
    for i in range(repeat):
        for label, jobs in labels if i % 2 == 0 else labels[::-1]:
            ctx.log(f"tune {i + 1}/{repeat}: {label}, {trials} trials")
            sample = study(label, trials, jobs, i)
            result.samples[label].append(sample)
            ctx.log(
                f"  {sample.wall:.2f} s, cpu {sample.cpu:.2f} s, cv_rmse {sample.best_cv_rmse:.4g}"
            )
    for n in (small, large):
        ctx.log(f"tune: per-trial cost, a study of {n} trials")
        study(f"overhead-{n}", n, 1, 0)
    return result


def targets(result: TuneBenchResult) -> list[Target]:
    one, two = jobs_label(1), jobs_label(2)
    walls = {k: [s.wall for s in v] for k, v in result.samples.items()}
    tuned = median([s.best_cv_rmse for s in result.samples.get(one, [])])
    small, large = result.overhead_trials
    return [
        Target(NAME, f"cv_rmse of {result.trials} trials ÷ a {result.grid_points}-point grid",
               ratio(tuned, result.grid_cv_rmse), 1.0, True),
        Target(NAME, "wall, --jobs 2 ÷ --jobs 1",
               median_ratio(walls.get(two, []), walls.get(one, [])), 0.65, True),
        Target(NAME, f"per-trial cost, last 20 of {large} ÷ first 20 of {small}",
               ratio(result.per_trial(large, True), result.per_trial(small, False)), 1.5, True,
               note="mlt ÷ mlt"),
    ]  # fmt: skip

"""What plots add to training: ``mlt train`` with and without ``--no-plots``, for one point
and for a sweep (per point); and one ``mlt train`` with its plots against the canonical
tutorial script for one point (``scripts/plain_train.py``, MLflow inferring the model's
requirements as a plain script does). Skipped, and said so, when the installed mlt has no
``--no-plots``."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..context import EXPERIMENT, Context, script
from ..stats import Target, median, median_ratio
from .sweep import grid, joined

NAME = "plots"
TITLE = "Plots"

ONE, ONE_OFF = "1 point, plots", "1 point, --no-plots"
GRID, GRID_OFF = "sweep, plots", "sweep, --no-plots"
TUTORIAL = "tutorial script, 1 point"
LABELS = [ONE, ONE_OFF, GRID, GRID_OFF, TUTORIAL]


@dataclass
class PlotsResult:
    available: bool
    n_points: int = 0
    walls: dict[str, list[float]] = field(default_factory=dict)
    cpus: dict[str, list[float]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)

    def added_per_train(self, figure: str = "walls") -> float:
        """Median with plots minus median without, one-point training."""
        values = getattr(self, figure)
        return median(values.get(ONE, [])) - median(values.get(ONE_OFF, []))

    def added_per_point(self, figure: str = "walls") -> float:
        """What plots add to a sweep, divided by its points."""
        values = getattr(self, figure)
        added = median(values.get(GRID, [])) - median(values.get(GRID_OFF, []))
        return added / self.n_points if self.n_points else float("nan")

    def marginal(self, plots: bool, figure: str = "walls") -> float:
        """Cost of one more point in a sweep: (sweep − one point) ÷ (points − 1)."""
        values = getattr(self, figure)
        many, one = (GRID, ONE) if plots else (GRID_OFF, ONE_OFF)
        if self.n_points < 2:
            return float("nan")
        return (median(values.get(many, [])) - median(values.get(one, []))) / (self.n_points - 1)

    def versus_tutorial(self) -> float:
        """One ``mlt train`` with plots ÷ the tutorial script for one point (wall)."""
        return median_ratio(self.walls.get(ONE, []), self.walls.get(TUTORIAL, []))


def run(ctx: Context) -> PlotsResult:
    if not ctx.has_option("train", "--no-plots"):
        ctx.log("7. plots: this mlt has no --no-plots; skipped")
        return PlotsResult(available=False)
    alphas, l1_ratios = grid(ctx.options.quick)
    result = PlotsResult(True, len(alphas) * len(l1_ratios), {k: [] for k in LABELS},
                         {k: [] for k in LABELS})  # fmt: skip
    options = {
        ONE: [],
        ONE_OFF: ["--no-plots"],
        GRID: ["--alpha", joined(alphas), "--l1-ratio", joined(l1_ratios)],
        GRID_OFF: ["--alpha", joined(alphas), "--l1-ratio", joined(l1_ratios), "--no-plots"],
    }
    tutorial = [ctx.tool("python"), str(script("plain_train.py")), "0.5", "0.5",
                "--experiment", EXPERIMENT, *ctx.data.plain_args()]  # fmt: skip
    ctx.log(f"7. plots: {ctx.options.repeat} repetition(s) of {', '.join(LABELS)}")
    for i in range(ctx.options.repeat):
        n = len(LABELS)
        for k, label in enumerate(LABELS[i % n :] + LABELS[: i % n]):
            home, uri = ctx.home(f"plots-{i}-{LABELS.index(label)}")
            if label == TUTORIAL:
                args = tutorial
                result.commands[label] = (
                    "MLFLOW_TRACKING_URI=sqlite:///$TMP/mlflow.db python "
                    "bench/scripts/plain_train.py " + " ".join(args[2:])
                )
            else:
                args = [ctx.tool("mlt"), "train", *options[label], "--format", "json",
                        "-t", uri, "-e", EXPERIMENT, *ctx.data.mlt_args()]  # fmt: skip
                result.commands[label] = " ".join(["mlt", *args[1:]]).replace(
                    uri, "sqlite:///$TMP/mlflow.db"
                )
            m = ctx.run(args, f"plots-{i}-{k}", cwd=home, tracking_uri=uri)
            result.walls[label].append(m.wall)
            result.cpus[label].append(m.cpu)
            ctx.log(f"  {label}: {m.wall:.2f} s, cpu {m.cpu:.2f} s")
    return result


def targets(result: PlotsResult) -> list[Target]:
    if not result.available:
        return []
    return [
        Target(NAME, "what plots add to one `mlt train`", result.added_per_train(), 0.5, True,
               unit="s"),
        Target(NAME, "what plots add per sweep point", result.added_per_point(), 0.15, True,
               unit="s"),
        Target(NAME, "one `mlt train` with plots ÷ the tutorial script (1 point)",
               result.versus_tutorial(), 0.5, True),
    ]  # fmt: skip

"""Large data: ``mlt train`` and ``mlt predict`` on a generated CSV of a million rows, against
plain scripts doing the same with pandas, scikit-learn and MLflow directly.

The data is generated (10 numeric features and a target ``y``; the rows and twice as many),
never downloaded. Each repetition runs every measurement once, in rotating order; every
process is measured for wall time, CPU time and the peak summed RSS of its process tree.
:func:`measure` does it for any :class:`LargeData`; the ``large-tables`` scenario uses it for
a table with text columns and gaps.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from ..context import EXPERIMENT, Context, script
from ..stats import Target, median_ratio

NAME = "large"
TITLE = "Large data"

MLT_TRAIN = "mlt train"
PLAIN_TRAIN = "plain script (pandas + scikit-learn + MLflow)"
MLT_PREDICT = "mlt predict"
PLAIN_PREDICT = "plain script (pyfunc + pandas)"
MLT_PREDICT_2X = "mlt predict, twice the rows"
ROUND_BUDGET_S = 600.0  # after a first round slower than this, no more repetitions


@dataclass(frozen=True)
class LargeData:
    """What one large-data scenario generates and which baseline trains on it."""

    scenario: str  # its NAME, which prefixes its directories and logs
    step: str  # how the progress log names it
    make_args: tuple[str, ...]  # make_csv.py's options for this kind of data
    train_script: str  # the plain training baseline, in bench/scripts


NUMERIC = LargeData(NAME, "6. large data", (), "plain_train_pipeline.py")


@dataclass
class Sample:
    wall: float
    cpu: float
    peak_kb: float


@dataclass
class LargeResult:
    rows: int
    csv_bytes: list[int]
    repeat_asked: int
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    predictions_rows: dict[str, int] = field(default_factory=dict)
    scenario: str = NAME  # which scenario measured it (its targets are listed under it)

    def values(self, label: str, what: str) -> list[float]:
        return [getattr(s, what) for s in self.samples.get(label, [])]

    def ratio(self, label: str, baseline: str, what: str) -> float:
        return median_ratio(self.values(label, what), self.values(baseline, what))

    @property
    def repeats(self) -> int:
        return min((len(v) for v in self.samples.values()), default=0)


def run(ctx: Context) -> LargeResult:
    return measure(ctx, NUMERIC)


def measure(ctx: Context, data: LargeData) -> LargeResult:
    """Generate the data, then each repetition: both trainings, then the three predictions."""
    rows, tag = ctx.options.large_rows, data.scenario
    data_dir = ctx.work / f"{tag}-data"
    data_dir.mkdir()
    small, big = data_dir / "rows.csv", data_dir / "rows-2x.csv"
    ctx.log(f"{data.step}: generating {rows:,} and {2 * rows:,} rows")
    made = ctx.run(
        [ctx.tool("python"), str(script("make_csv.py")), str(rows), str(small), str(big),
         *data.make_args],
        f"{tag}-make-csv",
    )  # fmt: skip
    result = LargeResult(rows, json.loads(made.stdout)["bytes"], ctx.options.repeat, scenario=tag)
    requirements = ",".join(ctx.requirements())
    model_home, model_store = ctx.home(f"{tag}-model")
    model_uri = ""
    out_dir = ctx.work / f"{tag}-out"
    out_dir.mkdir()
    placeholder = "sqlite:///$TMP/mlflow.db"

    def train_mlt(i: int) -> Sample:
        nonlocal model_uri
        home, uri = (model_home, model_store) if i == 0 else ctx.home(f"{tag}-train-{i}-mlt")
        args = [ctx.tool("mlt"), "train", "--data", str(small), "--target", "y",
                "--format", "json", "-t", uri, "-e", EXPERIMENT]  # fmt: skip
        m = ctx.run(args, f"{tag}-train-{i}-mlt", cwd=home, tracking_uri=uri, sample_tree=True)
        out = json.loads(m.stdout)
        out = out[0] if isinstance(out, list) else out
        result.metrics[MLT_TRAIN] = out["metrics"]
        if i == 0:
            model_uri = out["model_uri"]
        result.commands[MLT_TRAIN] = (
            f"mlt train --data rows.csv --target y --format json -t {placeholder} -e {EXPERIMENT}"
        )
        return Sample(m.wall, m.cpu, m.peak_kb)

    def train_plain(i: int) -> Sample:
        home, uri = ctx.home(f"{tag}-train-{i}-plain")
        args = [ctx.tool("python"), str(script(data.train_script)), str(small),
                "--target", "y", "--experiment", EXPERIMENT,
                "--pip-requirements", requirements]  # fmt: skip
        m = ctx.run(args, f"{tag}-train-{i}-plain", cwd=home, tracking_uri=uri, sample_tree=True)
        result.metrics[PLAIN_TRAIN] = json.loads(m.stdout)["metrics"]
        result.commands[PLAIN_TRAIN] = (
            f"MLFLOW_TRACKING_URI={placeholder} python bench/scripts/{data.train_script} "
            f"rows.csv --target y --experiment {EXPERIMENT} --pip-requirements {requirements}"
        )
        return Sample(m.wall, m.cpu, m.peak_kb)

    def predict(label: str, i: int) -> Sample:
        source = big if label == MLT_PREDICT_2X else small
        output = out_dir / f"{label.split()[0]}-{i}-{source.stem}.csv"
        if label == PLAIN_PREDICT:
            args = [ctx.tool("python"), str(script("plain_predict.py")), model_uri, str(source),
                    str(output)]  # fmt: skip
            shown = (f"MLFLOW_TRACKING_URI={placeholder} python bench/scripts/plain_predict.py "
                     "MODEL_URI rows.csv predictions.csv")  # fmt: skip
        else:
            args = [ctx.tool("mlt"), "predict", "--model", model_uri, "--input", str(source),
                    "--output", str(output), "-t", model_store]  # fmt: skip
            shown = (f"mlt predict --model MODEL_URI --input {source.name} "
                     f"--output predictions.csv -t {placeholder}")  # fmt: skip
        side = {MLT_PREDICT: "mlt", PLAIN_PREDICT: "plain", MLT_PREDICT_2X: "mlt2x"}[label]
        m = ctx.run(args, f"{tag}-predict-{i}-{side}", cwd=model_home, tracking_uri=model_store,
                    sample_tree=True)  # fmt: skip
        result.commands[label] = shown
        with open(output, "rb") as handle:
            result.predictions_rows[label] = sum(1 for _ in handle) - 1
        output.unlink()
        return Sample(m.wall, m.cpu, m.peak_kb)

    trainers = [(MLT_TRAIN, train_mlt), (PLAIN_TRAIN, train_plain)]
    predictors = [MLT_PREDICT, PLAIN_PREDICT, MLT_PREDICT_2X]
    for label in [MLT_TRAIN, PLAIN_TRAIN, *predictors]:
        result.samples[label] = []
    for i in range(ctx.options.repeat):
        started = time.perf_counter()
        # mlt trains first in round 0: its model is the one both sides predict with.
        for label, trainer in trainers if i % 2 == 0 else trainers[::-1]:
            ctx.log(f"{tag} {i + 1}/{ctx.options.repeat}: {label}")
            result.samples[label].append(trainer(i))
            log_sample(ctx, result.samples[label][-1])
        for label in predictors[i % 3 :] + predictors[: i % 3]:
            ctx.log(f"{tag} {i + 1}/{ctx.options.repeat}: {label}")
            result.samples[label].append(predict(label, i))
            log_sample(ctx, result.samples[label][-1])
        if time.perf_counter() - started > ROUND_BUDGET_S:
            ctx.log(f"{tag}: one round took over {ROUND_BUDGET_S:.0f} s; no more repetitions")
            break
    return result


def log_sample(ctx: Context, sample: Sample) -> None:
    ctx.log(f"  {sample.wall:.2f} s, cpu {sample.cpu:.2f} s, peak {sample.peak_kb / 1024:.0f} MB")


def targets(result: LargeResult) -> list[Target]:
    """The same goals for every kind of data, listed under the scenario that measured it."""
    ratio, name = result.ratio, result.scenario
    return [
        Target(name, "train wall", ratio(MLT_TRAIN, PLAIN_TRAIN, "wall"), 1.5, True),
        Target(name, "train peak memory", ratio(MLT_TRAIN, PLAIN_TRAIN, "peak_kb"), 1.5, True),
        Target(name, "predict wall", ratio(MLT_PREDICT, PLAIN_PREDICT, "wall"), 1.3, True),
        Target(
            name,
            "predict peak memory, 2× rows ÷ 1× rows",
            ratio(MLT_PREDICT_2X, MLT_PREDICT, "peak_kb"),
            1.2,
            True,
            note="mlt ÷ mlt",
        ),
    ]

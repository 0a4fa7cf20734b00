"""A training sweep: ``mlt train`` with a grid in one process vs the classic tutorial script
run once per point, with and without explicit ``pip_requirements``. Also gives the peak
memory of training (section 4)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from ..context import EXPERIMENT, Context, script
from ..stats import NAN

NAME = "sweep"
TITLE = "A training sweep"

MLT = "mlt train (grid, 1 process)"
PLAIN = "plain script, inferred requirements"
PLAIN_REQS = "plain script, explicit pip_requirements"
TAGS = {MLT: "mlt", PLAIN: "plain", PLAIN_REQS: "plainreq"}
STORE_PLACEHOLDER = "sqlite:///$TMP/mlflow.db"

Point = tuple[float, float]


@dataclass
class SweepSample:
    wall: float
    cpu: float
    maxrss_kb: float
    process_walls: list[float]
    process_cpus: list[float]
    metrics: dict[Point, dict[str, float]]


@dataclass
class SweepResult:
    alphas: list[float]
    l1_ratios: list[float]
    samples: dict[str, list[SweepSample]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    requirements: dict[str, str] = field(default_factory=dict)
    metrics_match: bool = True
    max_metric_diff: float = 0.0

    @property
    def n_points(self) -> int:
        return len(self.alphas) * len(self.l1_ratios)


def grid(quick: bool) -> tuple[list[float], list[float]]:
    return ([0.1, 1.0], [0.5]) if quick else ([0.1, 0.5, 1.0], [0.2, 0.8])


def joined(values: list[float]) -> str:
    return ",".join(f"{x:g}" for x in values)


def run(ctx: Context) -> SweepResult:
    alphas, l1_ratios = grid(ctx.options.quick)
    result = SweepResult(alphas, l1_ratios, {MLT: [], PLAIN: [], PLAIN_REQS: []})
    points = [(a, r) for a in alphas for r in l1_ratios]
    plain_script = script("plain_train.py")

    def mlt_sweep(i: int) -> SweepSample:
        home, uri = ctx.home(f"sweep-{i}-mlt")
        args = [
            ctx.tool("mlt"), "train", "--alpha", joined(alphas), "--l1-ratio", joined(l1_ratios),
            "--no-standardize", "--format", "json", "-t", uri, "-e", EXPERIMENT,
            *ctx.data.mlt_args(),
        ]  # fmt: skip
        result.commands[MLT] = shlex.join(["mlt", *args[1:]]).replace(uri, STORE_PLACEHOLDER)
        m = ctx.run(args, f"sweep-{i}-mlt", cwd=home, tracking_uri=uri)
        records = json.loads(m.stdout)
        records = records if isinstance(records, list) else [records]
        metrics = {
            (float(r["params"]["alpha"]), float(r["params"]["l1_ratio"])): r["metrics"]
            for r in records
        }
        return SweepSample(m.wall, m.cpu, m.maxrss_kb, [m.wall], [m.cpu], metrics)

    def plain_sweep(i: int, label: str) -> SweepSample:
        home, uri = ctx.home(f"sweep-{i}-{TAGS[label]}")
        walls, cpus, peak, metrics = [], [], 0.0, {}
        for j, (alpha, l1_ratio) in enumerate(points):
            args = [
                ctx.tool("python"), str(plain_script), f"{alpha:g}", f"{l1_ratio:g}",
                "--experiment", EXPERIMENT, *ctx.data.plain_args(),
            ]  # fmt: skip
            if label == PLAIN_REQS:
                args += ["--pip-requirements", ",".join(ctx.requirements())]
            result.commands[label] = (
                f"MLFLOW_TRACKING_URI={STORE_PLACEHOLDER} "
                "python bench/scripts/plain_train.py ALPHA L1_RATIO " + shlex.join(args[4:])
            )
            m = ctx.run(args, f"sweep-{i}-{TAGS[label]}-{j}", cwd=home, tracking_uri=uri)
            out = json.loads(m.stdout)
            metrics[(float(out["alpha"]), float(out["l1_ratio"]))] = out["metrics"]
            walls.append(m.wall)
            cpus.append(m.cpu)
            peak = max(peak, m.maxrss_kb)
        return SweepSample(sum(walls), sum(cpus), peak, walls, cpus, metrics)

    runners: list[tuple[str, Callable[[int], SweepSample]]] = [
        (MLT, mlt_sweep),
        (PLAIN, lambda i: plain_sweep(i, PLAIN)),
        (PLAIN_REQS, lambda i: plain_sweep(i, PLAIN_REQS)),
    ]
    repeat = ctx.options.sweep_repeat
    ctx.log(f"2. sweep of {len(points)} points, {repeat} repetition(s)")
    for i in range(repeat):
        order = runners[i % 3 :] + runners[: i % 3]  # rotate, so drift hits every side
        for label, runner in order:
            ctx.log(f"sweep {i + 1}/{repeat}: {label} ({len(points)} points)")
            sample = runner(i)
            result.samples[label].append(sample)
            ctx.log(
                f"  {sample.wall:.2f} s, cpu {sample.cpu:.2f} s, "
                f"max RSS {sample.maxrss_kb / 1024:.0f} MB"
            )
    result.metrics_match, result.max_metric_diff = compare_metrics(result, points)
    for label, tag in TAGS.items():
        found = sorted((ctx.work / f"sweep-0-{tag}").glob("mlruns/**/requirements.txt"))
        if found:
            result.requirements[label] = ", ".join(found[0].read_text(encoding="utf-8").split())
    return result


def compare_metrics(result: SweepResult, points: list[Point]) -> tuple[bool, float]:
    """The same model on the same split: every approach must report the same metrics."""
    reference = result.samples[MLT][0].metrics
    match, worst = True, 0.0
    for samples in result.samples.values():
        for sample in samples:
            if set(sample.metrics) != set(points):
                match = False
            for point, values in sample.metrics.items():
                for name, value in values.items():
                    other = reference.get(point, {}).get(name, NAN)
                    diff = abs(value - other) / max(1e-12, abs(other))
                    if diff != diff or diff > 1e-9:
                        match = False
                    if diff == diff:
                        worst = max(worst, diff)
    return match, worst

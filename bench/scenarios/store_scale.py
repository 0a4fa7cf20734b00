"""Cost that grows with the store: ``mlt compare`` and ``mlt models`` on stores of 100, 1,000
and 10,000 runs, against the plain-MLflow way of reading the same store.

Each store is one SQLite file with one experiment of runs shaped like mlt's (its params,
metrics and tags; ties and runs without metrics included), filled by
``scripts/make_runs.py``; the 1,000-run store also holds one registered model with 1,000
versions. Per store and repetition, in rotating order: ``mlt compare --top 5``, MLflow's own
ordered search for the top 5 (``mlflow.search_runs(order_by=..., max_results=5)``), the whole
listing ``mlt compare --format csv`` and ``mlflow.search_runs`` of every run; on the
1,000-version store, ``mlt models`` and the versions read with ``MlflowClient``. Both sides
must list the same number of rows and the same best run.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

from ..context import EXPERIMENT, Context, script
from ..proc import BenchError
from ..stats import Target, median_ratio

NAME = "store-scale"
TITLE = "Store scale"

SIZES = (100, 1_000, 10_000)
VERSIONS_AT = 1_000  # the store that also holds a registered model with this many versions
MODEL = "bench-elasticnet"
TOP = 5

MLT_TOP = "mlt compare --top 5"
PLAIN_TOP = "mlflow.search_runs, top 5 ordered by rmse"
MLT_ALL = "mlt compare --format csv (all)"
PLAIN_ALL = "mlflow.search_runs (all)"
MLT_MODELS = "mlt models --format csv"
PLAIN_MODELS = "MlflowClient.search_model_versions (all) + aliases"
COMPARE_LABELS = [MLT_TOP, PLAIN_TOP, MLT_ALL, PLAIN_ALL]
MODELS_LABELS = [MLT_MODELS, PLAIN_MODELS]
PLACEHOLDER = "sqlite:///$TMP/mlflow.db"


@dataclass
class StoreScaleResult:
    sizes: list[int]
    versions: int
    walls: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    cpus: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    build_seconds: dict[int, float] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)  # where the two sides disagreed

    def values(self, label: str, size: int, figure: str = "walls") -> list[float]:
        return getattr(self, figure).get(label, {}).get(size, [])

    def ratio(self, label: str, baseline: str, size: int, figure: str = "walls") -> float:
        """median of ``label`` ÷ median of ``baseline``, same store."""
        return median_ratio(self.values(label, size, figure), self.values(baseline, size, figure))

    def growth(self, label: str, large: int, small: int) -> float:
        """median at ``large`` runs ÷ median at ``small`` runs, same command."""
        return median_ratio(self.values(label, large), self.values(label, small))


def sizes_for(quick: bool) -> list[int]:
    return list(SIZES)  # building 10,000 runs takes well under a minute, even in quick mode


def run(ctx: Context) -> StoreScaleResult:
    sizes = sizes_for(ctx.options.quick)
    result = StoreScaleResult(sizes, VERSIONS_AT)
    for label in COMPARE_LABELS + MODELS_LABELS:
        result.walls[label] = {}
        result.cpus[label] = {}
    ctx.log(f"8. store scale: stores of {', '.join(f'{n:,}' for n in sizes)} runs")
    for size in sizes:
        home, uri = ctx.home(f"store-{size}")
        extra = ["--versions", str(VERSIONS_AT), "--model", MODEL] if size == VERSIONS_AT else []
        made = ctx.run(
            [ctx.tool("python"), str(script("make_runs.py")), str(home / "mlflow.db"),
             EXPERIMENT, str(size), *extra],
            f"store-{size}-make", cwd=home,
        )  # fmt: skip
        built = json.loads(made.stdout)
        if built["runs"] != size:
            raise BenchError(f"make_runs.py made {built['runs']} runs, not {size}")
        result.build_seconds[size] = made.wall
        ctx.log(f"  store of {size:,} runs built in {made.wall:.1f} s")
        commands = command_lines(ctx, uri, size == VERSIONS_AT)
        labels = [label for label in COMPARE_LABELS + MODELS_LABELS if label in commands]
        for label, args in commands.items():
            result.commands[label] = shown(args, uri)
        for i in range(ctx.options.repeat):
            outputs: dict[str, str] = {}
            for k, label in enumerate(labels[i % len(labels) :] + labels[: i % len(labels)]):
                m = ctx.run(commands[label], f"store-{size}-{i}-{k}", cwd=home, tracking_uri=uri)
                result.walls[label].setdefault(size, []).append(m.wall)
                result.cpus[label].setdefault(size, []).append(m.cpu)
                outputs[label] = m.stdout
            result.mismatches += check(outputs, size)
            ctx.log(
                f"  {size:,} runs, repetition {i + 1}: "
                + "; ".join(f"{label}: {result.values(label, size)[-1]:.2f} s" for label in labels)
            )
    return result


def shown(args: list[str], uri: str) -> str:
    """A measured command as the page shows it: tool names, not paths; the store as $TMP."""
    text = shlex.join([args[0].rsplit("/", 1)[-1], *args[1:]]).replace(uri, PLACEHOLDER)
    text = text.replace(str(script("plain_search.py")), "bench/scripts/plain_search.py")
    if text.startswith("python "):
        text = f"MLFLOW_TRACKING_URI={PLACEHOLDER} {text}"
    return text


def command_lines(ctx: Context, uri: str, with_models: bool) -> dict[str, list[str]]:
    mlt = [ctx.tool("mlt")]
    plain = [ctx.tool("python"), str(script("plain_search.py"))]
    store = ["-t", uri, "-e", EXPERIMENT]
    commands = {
        MLT_TOP: [*mlt, "compare", "--top", str(TOP), "--format", "json", *store],
        PLAIN_TOP: [*plain, "runs", EXPERIMENT, "--order-by", "metrics.rmse ASC",
                    "--max-results", str(TOP)],
        MLT_ALL: [*mlt, "compare", "--format", "csv", *store],
        PLAIN_ALL: [*plain, "runs", EXPERIMENT],
    }  # fmt: skip
    if with_models:
        commands[MLT_MODELS] = [*mlt, "models", "--format", "csv", "-t", uri]
        commands[PLAIN_MODELS] = [*plain, "versions", MODEL]
    return commands


def check(outputs: dict[str, str], size: int) -> list[str]:
    """Both sides list every run, and the same best runs; both list every version."""
    found = []
    top = [run["run_id"] for run in json.loads(outputs[MLT_TOP])]
    plain_top = json.loads(outputs[PLAIN_TOP])["first"]
    if top != plain_top:
        found.append(f"{size:,} runs: the top {TOP} differ ({top} vs {plain_top})")
    listed = outputs[MLT_ALL].splitlines()
    if len(listed) - 1 != size or json.loads(outputs[PLAIN_ALL])["rows"] != size:
        found.append(f"{size:,} runs: mlt listed {len(listed) - 1}, MLflow read "
                     f"{json.loads(outputs[PLAIN_ALL])['rows']}")  # fmt: skip
    elif [line.split(",", 1)[0] for line in listed[1 : TOP + 1]] != plain_top:
        found.append(f"{size:,} runs: the whole listing does not start with the top {TOP}")
    if MLT_MODELS in outputs:
        versions = len(outputs[MLT_MODELS].splitlines()) - 1
        plain = json.loads(outputs[PLAIN_MODELS])["rows"]
        if versions != VERSIONS_AT or plain != VERSIONS_AT:
            found.append(f"mlt models listed {versions} versions, MLflow read {plain}")
    return found


def targets(result: StoreScaleResult) -> list[Target]:
    large, small = max(result.sizes), VERSIONS_AT
    at = f"{large:,} runs"
    return [
        Target(NAME, f"whole listing, {at} (`mlt compare` ÷ `mlflow.search_runs`)",
               result.ratio(MLT_ALL, PLAIN_ALL, large), 1.5, True),
        Target(NAME, f"top 5, {at} (`mlt compare --top 5` ÷ MLflow's ordered search)",
               result.ratio(MLT_TOP, PLAIN_TOP, large), 1.2, True),
        Target(NAME, f"whole listing, {at} ÷ {small:,} runs (mlt ÷ mlt)",
               result.growth(MLT_ALL, large, small), 12, True),
    ]  # fmt: skip


def summary_figures(result: StoreScaleResult) -> list[tuple[str, list[float], list[float]]]:
    """(label, mlt's walls, baseline's walls) for the page's summary, at the largest store."""
    large = max(result.sizes)
    return [
        (f"`mlt compare` of {large:,} runs, whole listing (`mlflow.search_runs`)",
         result.values(MLT_ALL, large), result.values(PLAIN_ALL, large)),
        (f"`mlt compare --top 5` of {large:,} runs (MLflow's ordered search)",
         result.values(MLT_TOP, large), result.values(PLAIN_TOP, large)),
        (f"`mlt models`, {result.versions:,} versions (`search_model_versions`)",
         result.values(MLT_MODELS, VERSIONS_AT), result.values(PLAIN_MODELS, VERSIONS_AT)),
    ]  # fmt: skip

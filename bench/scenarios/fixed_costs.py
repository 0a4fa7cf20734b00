"""What every training process pays before it trains: imports, opening or creating the
SQLite store, and one whole one-point ``mlt train``."""

from __future__ import annotations

from dataclasses import dataclass

from ..context import EXPERIMENT, Context

NAME = "fixed-costs"
TITLE = "Fixed costs per process"

IMPORTS = "import mlflow, mlflow.sklearn, pandas, sklearn.linear_model"
PROBE_IMPORTS = "imports only"
PROBE_NEW_STORE = "imports + set_experiment, new SQLite store"
PROBE_OLD_STORE = "imports + set_experiment, existing store"
PROBE_MLT_ONE = "mlt train, 1 point, new store"
PROBES = [PROBE_IMPORTS, PROBE_NEW_STORE, PROBE_OLD_STORE, PROBE_MLT_ONE]


@dataclass
class FixedCostsResult:
    walls: dict[str, list[float]]
    cpus: dict[str, list[float]]


def run(ctx: Context) -> FixedCostsResult | None:
    if ctx.options.quick:
        return None
    ctx.log(f"fixed costs ({ctx.options.repeat} runs each)")
    store_code = f"{IMPORTS}; mlflow.set_experiment({EXPERIMENT!r})"
    existing, existing_uri = ctx.home("floor-existing")
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}

    def probe(label: str, i: int) -> None:
        if label == PROBE_OLD_STORE:
            home, uri = existing, existing_uri
        else:
            home, uri = ctx.home(f"floor-{i}-{PROBES.index(label)}")
        if label == PROBE_IMPORTS:
            args = [ctx.tool("python"), "-c", IMPORTS]
        elif label == PROBE_MLT_ONE:
            args = [ctx.tool("mlt"), "train", "--alpha", "0.5", "--l1-ratio", "0.5",
                    "--no-standardize", "--format", "json", "-t", uri, "-e", EXPERIMENT,
                    *ctx.data.mlt_args()]  # fmt: skip
        else:
            args = [ctx.tool("python"), "-c", store_code]
        m = ctx.run(args, f"floor-{i}-{PROBES.index(label)}", cwd=home, tracking_uri=uri)
        if i >= 0:
            walls.setdefault(label, []).append(m.wall)
            cpus.setdefault(label, []).append(m.cpu)

    probe(PROBE_OLD_STORE, -1)  # warm-up, not counted; creates the "existing" store
    for i in range(ctx.options.repeat):
        for label in PROBES if i % 2 == 0 else PROBES[::-1]:
            probe(label, i)
    return FixedCostsResult(walls, cpus)

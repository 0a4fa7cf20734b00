"""Serving raw tables: ``mlt serve`` vs ``mlflow models serve`` on a mixed-type regressor and a
mixed-type classifier (numbers with gaps, text with unknown and rare categories), as the
serving scenario measures them (fresh servers, wrk rounds, same predictions), 1 worker.

The two models are fitted and logged by bench/scripts/table_models.py with the pipeline mlt
logs for such tables; payloads are ``dataframe_split`` raw rows with nulls and unknown text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..context import Context, run_json, script
from ..stats import Target
from .serving import MLFLOW, MLT, ServingResult, measure, payload_name

NAME = "serving-tables"
TITLE = "Serving raw tables"

MODELS = ("regressor", "classifier")
PAYLOAD_ROWS = (1, 100)
WORKERS = [1]


@dataclass
class TablesResult:
    results: dict[str, ServingResult] = field(default_factory=dict)  # "regressor": ...


def run(ctx: Context) -> TablesResult:
    home, uri = ctx.home("serving-tables-store")
    found = run_json(
        ctx.bin_dir,
        [str(script("table_models.py")), str(max(PAYLOAD_ROWS)),
         "--pip-requirements", ",".join(ctx.requirements())],
        tracking_uri=uri, cwd=home,
    )  # fmt: skip
    columns, rows = found["columns"], found["rows"]
    payloads = {
        payload_name(n): json.dumps(
            {"dataframe_split": {"columns": columns, "data": rows[:n]}}
        ).encode()
        for n in PAYLOAD_ROWS
    }
    result = TablesResult()
    for kind in MODELS:
        result.results[kind] = measure(
            ctx, found["models"][kind], uri, home, payloads, WORKERS, f"tables-{kind}"
        )
    return result


def targets(result: TablesResult) -> list[Target]:
    """>= 25x the requests/s of ``mlflow models serve`` at 1 row, >= 10x at 100 rows."""
    found = []
    for kind, served in result.results.items():
        if not served.of(MLT, 1) or not served.of(MLFLOW, 1):
            continue
        for name in served.payloads:
            goal = 25 if name == payload_name(1) else 10
            ratio = served.mlt_ratio(1, "rps", name)
            found.append(Target(NAME, f"req/s, {kind}, {name}, 1 worker", ratio, goal, False))
    return found

"""Section 11: cost that grows with the store."""

from __future__ import annotations

from ..record import RunRecord
from ..scenarios import store_scale
from ..scenarios.store_scale import (
    MLT_ALL,
    MLT_MODELS,
    MLT_TOP,
    PLAIN_ALL,
    PLAIN_MODELS,
    PLAIN_TOP,
    VERSIONS_AT,
    StoreScaleResult,
)
from .fmt import Page, clear, fmt_s, spread, versus
from .sections_training import not_run

PAIRS = [("top 5 by rmse", MLT_TOP, PLAIN_TOP), ("every run", MLT_ALL, PLAIN_ALL)]


def section_store_scale(w: Page, record: RunRecord) -> None:
    w("## 11. Store scale", "")
    result: StoreScaleResult | None = record.get(store_scale.NAME)
    if result is None:
        return not_run(w, record, store_scale.NAME)
    sizes = ", ".join(f"{n:,}" for n in result.sizes)
    w.para(
        f"SQLite stores of {sizes} runs in one experiment, runs shaped like mlt's (its params, "
        "metrics and tags; one in 50 without metrics, rounded rmse so that ties occur), made "
        "by [bench/scripts/make_runs.py](../bench/scripts/make_runs.py): the first 50 with "
        "MLflow's client (`create_run`, `log_batch`, `set_terminated`), the others copies of "
        "their rows in MLflow's schema. Each command is a fresh process, wall and CPU from "
        "`wait4`, in rotating order. The baseline is the plain-MLflow way, "
        "[bench/scripts/plain_search.py](../bench/scripts/plain_search.py): "
        "`mlflow.search_runs` (a DataFrame of every run), with `order_by` and `max_results=5` "
        "for the top 5; both sides pay the interpreter and the imports."
    )
    rows = []
    for size in result.sizes:
        for what, ours, theirs in PAIRS:
            a, b = result.values(ours, size), result.values(theirs, size)
            rows.append([f"{size:,}", what, spread(a, fmt_s), spread(b, fmt_s),
                         versus(a, b, "time"), clear(a, b)])  # fmt: skip
    w.table(
        ["runs", "listing", "mlt", "plain MLflow", "mlt is", "clear difference?"],
        "rlrrll",
        rows,
    )
    small, large = VERSIONS_AT, max(result.sizes)
    w.para(
        f"Growth from {small:,} to {large:,} runs (median wall, {large // small}× the runs): "
        + "; ".join(
            f"{label} {result.growth(key, large, small):.1f}×"
            for label, key in (
                ("`mlt compare` (all)", MLT_ALL),
                ("`mlflow.search_runs` (all)", PLAIN_ALL),
                ("`mlt compare --top 5`", MLT_TOP),
                ("MLflow's ordered top 5", PLAIN_TOP),
            )
        )
        + ". Building the stores took "
        + ", ".join(f"{fmt_s(s)} ({n:,} runs)" for n, s in result.build_seconds.items())
        + "."
    )
    a, b = result.values(MLT_MODELS, small), result.values(PLAIN_MODELS, small)
    w.para(
        f"`mlt models` on the {small:,}-run store, which holds one registered model with "
        f"{result.versions:,} versions: {spread(a, fmt_s)}, against {spread(b, fmt_s)} for "
        f"its versions read with `MlflowClient.search_model_versions` and the model's aliases "
        f"(mlt is {versus(a, b, 'time')})."
    )
    w.para(
        "Checks: "
        + (
            "both sides listed every run and every version, and the same best runs first."
            if not result.mismatches
            else "**the two sides disagreed**: " + "; ".join(result.mismatches[:5])
        )
    )
    w.code(
        "bash", [line for label, text in result.commands.items() for line in (f"# {label}", text)]
    )

"""Section 3: serving."""

from __future__ import annotations

from ..record import RunRecord
from ..scenarios import serving, serving_tables
from ..scenarios.serving import MLFLOW, MLT, ServingResult
from ..scenarios.serving_tables import TablesResult
from ..stats import median
from .fmt import Page, fmt_mb, fmt_ms, fmt_s, spread, times
from .sections_training import not_run


def fmt_rps(value: float) -> str:
    return "n/a" if value != value else f"{value:,.0f}"


def section_serving(w: Page, record: RunRecord) -> None:
    w("## 3. Serving", "")
    result: ServingResult | None = record.get(serving.NAME)
    if result is None:
        return not_run(w, record, serving.NAME)
    cpus = record.machine.get("nproc", "?")
    load = (
        f"`{result.client} --latency` against `POST /invocations`, {result.seconds} s per "
        "round after 20 unmeasured warm-up requests per payload"
        if result.uses_wrk
        else f"the {result.client}: **wrk was not used**, so requests/s is a floor (the client "
        "shares the CPUs and the interpreter lock) and the latency targets are only indicative"
    )
    w.para(
        f"Both servers serve `{result.model_uri}` (one `mlt train` and `mlt register` on a "
        "fresh store) on an ephemeral port of 127.0.0.1, one server at a time; each "
        "repetition starts a fresh server of each kind for 1 and for 2 worker processes "
        "(`mlt serve --workers N`, `mlflow models serve -w N`), in alternating order. "
        "*Ready* is the time from process start to the first HTTP 200 on `GET /ping` "
        f"(polled every 50 ms). Load: {load}; `dataframe_split` JSON bodies of "
        f"{', '.join(result.payloads)}. The load generator shares the {cpus} CPUs with the "
        "server. *Server CPU / request* is the CPU time (user+sys, from `/proc`) of the "
        "server's process group during a round divided by the requests it completed, which "
        "depends less on the load generator and on other load. *RSS* is the summed RSS of "
        "the server's process group after the load."
    )
    figures_of(w, result)


def figures_of(w: Page, result: ServingResult) -> None:
    """One served model's figures: the table per server, the ratios, the commands."""
    for reason in result.unavailable.items():
        w.para(f"*{reason[0]}*: not measured, {reason[1]}.")
    rows = []
    for wk in result.workers:
        for kind in (MLT, MLFLOW):
            samples = result.of(kind, wk)
            if not samples:
                continue
            for k, name in enumerate(result.payloads):
                first = k == 0
                rows.append([
                    f"{kind}, {wk}w" if first else "",
                    spread(result.values(kind, wk, "ready"), fmt_s) if first else "",
                    fmt_mb(median(result.values(kind, wk, "rss_kb"))) if first else "",
                    name,
                    spread(result.values(kind, wk, "rps", name), fmt_rps),
                    fmt_ms(median(result.values(kind, wk, "p50", name))),
                    fmt_ms(median(result.values(kind, wk, "p99", name))),
                    fmt_ms(median(result.values(kind, wk, "cpu", name))),
                    str(sum(s.loads[name].errors for s in samples)),
                ])  # fmt: skip
    w.table(
        ["server, workers", "ready", "RSS", "payload", "req/s", "p50", "p99",
         "server CPU / request", "errors"],
        "lrrlrrrrr",
        rows,
    )  # fmt: skip
    w.para(
        "How many times better or worse `mlt serve` does than `mlflow models serve` (medians, "
        "same worker count, same run):"
    )
    header = ["figure", *(f"mlt is, {wk} worker{'s' if wk > 1 else ''}" for wk in result.workers)]
    figures = [("ready (start → /ping)", "ready", "", "time"),
               ("RSS after the load", "rss_kb", "", "memory")]  # fmt: skip
    for name in result.payloads:
        figures += [
            (f"req/s, {name}", "rps", name, "rate"),
            (f"p50, {name}", "p50", name, "latency"),
            (f"p99, {name}", "p99", name, "latency"),
            (f"server CPU / request, {name}", "cpu", name, "cpu"),
        ]
    w.table(
        header,
        "l" + "r" * len(result.workers),
        [[label, *(times(result.mlt_ratio(wk, what, p), kind) for wk in result.workers)]
         for label, what, p, kind in figures],
    )  # fmt: skip
    w.para(
        "Predictions for the same payloads: "
        + ("**identical** on every server" if result.identical else "**different**")
        + f" (largest absolute difference {result.max_prediction_diff:g})."
    )
    w.code("bash", [line for kind, text in result.commands.items() for line in (f"# {kind}", text)])


def section_serving_tables(w: Page, record: RunRecord) -> None:
    w("### Raw tables: a mixed-type regressor and a classifier", "")
    found: TablesResult | None = record.get(serving_tables.NAME)
    if found is None:
        return not_run(w, record, serving_tables.NAME)
    w.para(
        "The same measurement, 1 worker, for two models that serve raw rows: a regressor "
        "(ElasticNet) and a three-class classifier (elastic-net LogisticRegression, answering "
        "labels) behind the pipeline mlt logs for tables with text and gaps (median imputer "
        "and scaler for numbers, constant imputers and one-hot with grouped rare and unknown "
        "categories for text), fitted and logged by bench/scripts/table_models.py. Payloads "
        "are `dataframe_split` raw rows with text values, nulls and unknown categories."
    )
    for kind, result in found.results.items():
        w(f"#### The {kind}", "")
        figures_of(w, result)

"""Sections 1, 2, 4 and 5: start-up, the training sweep, its peak memory, fixed costs."""

from __future__ import annotations

from ..record import RunRecord
from ..scenarios import fixed_costs, startup, sweep
from ..scenarios.sweep import MLT, PLAIN, PLAIN_REQS, SweepResult
from ..stats import median
from .fmt import Page, fmt_mb, fmt_s, spread, versus


def not_run(w: Page, record: RunRecord, name: str) -> None:
    """What a section says when its scenario has no result."""
    if name in record.failures:
        reason = record.failures[name].strip().splitlines()
        w.para(f"**Failed in this run**: {reason[0] if reason else 'no reason given'}")
        if len(reason) > 1:
            w.code("text", reason[1:])
    elif name in record.selected:
        w.para("Skipped in quick mode.")
    else:
        w.para(f"Not measured in this run (scenario `{name}` not selected).")


def section_startup(w: Page, record: RunRecord) -> None:
    w("## 1. CLI start-up", "")
    result: startup.StartupResult | None = record.get(startup.NAME)
    if result is None:
        return not_run(w, record, startup.NAME)
    w.para(
        "Wall time of a complete `--help` (process start to exit), after one unmeasured "
        "warm-up of each command (warm page cache); the commands alternate order between "
        "repetitions. `python -c pass` is the interpreter's own floor."
    )
    w.table(
        ["command", "wall", "max RSS", "`mlt --help` is"],
        "lrrr",
        [
            [
                f"`{label}`",
                spread(walls, fmt_s),
                fmt_mb(median(result.rss_kb[label])),
                "" if label == startup.MLT else versus(result.walls[startup.MLT], walls, "time"),
            ]  # fmt: skip
            for label, walls in result.walls.items()
        ],
    )


def section_sweep(w: Page, record: RunRecord) -> None:
    result: SweepResult | None = record.get(sweep.NAME)
    if result is None:
        w("## 2. A training sweep", "")
        return not_run(w, record, sweep.NAME)
    n = result.n_points
    w(f"## 2. A {n}-point training sweep", "")
    w.para(
        f"alpha ∈ {{{', '.join(f'{a:g}' for a in result.alphas)}}} × "
        f"l1_ratio ∈ {{{', '.join(f'{r:g}' for r in result.l1_ratios)}}}, a fresh SQLite store "
        "per approach and repetition (so each pays MLflow's schema creation once), the three "
        "approaches in rotating order. The plain script is MLflow's classic ElasticNet "
        "tutorial written for MLflow 3 ([bench/scripts/plain_train.py]"
        "(../bench/scripts/plain_train.py)): one process per point that imports "
        "mlflow and scikit-learn, loads the data, fits, and logs params, metrics and the model "
        'with `mlflow.sklearn.log_model(name="model", signature=..., input_example=...)`. '
        "mlt runs with `--no-standardize` so that all three fit exactly the same model "
        "(its default StandardScaler step costs milliseconds)."
    )
    mlt = result.samples[MLT]
    rows = []
    for label, samples in result.samples.items():
        walls = [s.wall for s in samples]
        cpus = [s.cpu for s in samples]
        cpu = median(cpus)
        ours = label == MLT
        rows.append([
            label, spread(walls, fmt_s), fmt_s(median(walls) / n), fmt_s(cpu), fmt_s(cpu / n),
            "" if ours else versus([s.wall for s in mlt], walls, "time"),
            "" if ours else versus([s.cpu for s in mlt], cpus, "cpu"),
        ])  # fmt: skip
    w.table(
        ["approach", "total wall", "wall per run", "CPU (user+sys)", "CPU per run",
         "mlt is (wall)", "mlt is (CPU)"],
        "lrrrrrr",
        rows,
    )  # fmt: skip
    per, per_reqs, cpu_per, cpu_per_reqs = process_figures(result)
    w.para(
        f"One plain process (one point) takes {spread(per, fmt_s)} of wall and "
        f"{fmt_s(median(cpu_per))} of CPU with requirement inference, "
        f"{spread(per_reqs, fmt_s)} of wall and {fmt_s(median(cpu_per_reqs))} of "
        "CPU with explicit `pip_requirements`: inference costs about "
        f"{fmt_s(median(per) - median(per_reqs))} of wall and "
        f"{fmt_s(median(cpu_per) - median(cpu_per_reqs))} of CPU per logged model "
        "(MLflow loads the model in a subprocess to see what it imports, and picks up "
        "unrelated packages, see below). The rest of the gap is start-up paid once per point "
        "instead of once per sweep: the interpreter, the MLflow and scikit-learn imports, the "
        "store connection and the data loading (section 5 measures these)."
    )
    if result.requirements:
        w.para("Requirements recorded with the models (first repetition):")
        w.table(
            ["approach", "requirements.txt"],
            "ll",
            [[label, f"`{text}`"] for label, text in result.requirements.items()],
        )
    w.para("Commands (`$TMP` is a fresh temporary directory, also the working directory):")
    w.code(
        "bash", [line for label, text in result.commands.items() for line in (f"# {label}", text)]
    )


def process_figures(
    result: SweepResult,
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Per-process walls and CPU times of the plain script, without and with requirements."""
    plain, reqs = result.samples[PLAIN], result.samples[PLAIN_REQS]
    return (
        [x for s in plain for x in s.process_walls],
        [x for s in reqs for x in s.process_walls],
        [x for s in plain for x in s.process_cpus],
        [x for s in reqs for x in s.process_cpus],
    )


def section_memory(w: Page, record: RunRecord) -> None:
    w("## 4. Peak memory of training", "")
    result: SweepResult | None = record.get(sweep.NAME)
    if result is None:
        return not_run(w, record, sweep.NAME)
    w.para(
        "Max RSS from `wait4` when each process ends (the largest of the process and the "
        "children it waited for; for the plain script, the largest of its per-point processes; "
        "MLflow's requirement inference runs in a child process, which is counted)."
    )
    mlt_rss = [s.maxrss_kb for s in result.samples[MLT]]
    w.table(
        ["approach", "max RSS", "mlt is"],
        "lrr",
        [
            [
                label,
                spread([s.maxrss_kb for s in samples], fmt_mb),
                "" if label == MLT else versus(mlt_rss, [s.maxrss_kb for s in samples], "memory"),
            ]  # fmt: skip
            for label, samples in result.samples.items()
        ],
    )
    text = (
        f"mlt keeps all {result.n_points} runs in one process, so its peak covers the whole "
        "sweep; each plain process holds one run."
    )
    started: startup.StartupResult | None = record.get(startup.NAME)
    if started is not None:
        text += (
            " For reference, `mlflow --help` alone peaks at "
            f"{fmt_mb(median(started.rss_kb[startup.MLFLOW]))}."
        )
    w.para(text)


def section_fixed_costs(w: Page, record: RunRecord) -> None:
    w("## 5. Where the time goes: fixed costs per process", "")
    floor: fixed_costs.FixedCostsResult | None = record.get(fixed_costs.NAME)
    if floor is None:
        return not_run(w, record, fixed_costs.NAME)
    w.para(
        "Small probes run the same way (fresh process, wall and CPU from `wait4`), to "
        "split a training process into what every process pays before it trains. The "
        f"imports are `{fixed_costs.IMPORTS}`; *set_experiment* opens the SQLite store (on a "
        "new file MLflow also creates its schema)."
    )
    rows = []
    started: startup.StartupResult | None = record.get(startup.NAME)
    if started is not None:
        rows.append(
            ["`python -c pass` (section 1)", fmt_s(median(started.walls[startup.PYTHON])), ""]
        )
    for label, walls in floor.walls.items():
        rows.append([label, spread(walls, fmt_s), fmt_s(median(floor.cpus[label]))])
    w.table(["probe", "wall", "CPU"], "lrr", rows)
    imports = median(floor.walls[fixed_costs.PROBE_IMPORTS])
    new_store = median(floor.walls[fixed_costs.PROBE_NEW_STORE])
    old_store = median(floor.walls[fixed_costs.PROBE_OLD_STORE])
    one = median(floor.walls[fixed_costs.PROBE_MLT_ONE])
    one_cpu = median(floor.cpus[fixed_costs.PROBE_MLT_ONE])
    further = plain = ""
    result: SweepResult | None = record.get(sweep.NAME)
    if result is not None and result.n_points > 1:
        n = result.n_points
        mlt_wall = median([s.wall for s in result.samples[MLT]])
        mlt_cpu = median([s.cpu for s in result.samples[MLT]])
        further = (
            f", and each further point of the {n}-point grid adds about "
            f"{fmt_s((mlt_wall - one) / (n - 1))} of wall and "
            f"{fmt_s((mlt_cpu - one_cpu) / (n - 1))} of CPU "
            f"(({fmt_s(mlt_wall)} − {fmt_s(one)}) ÷ {n - 1})"
        )
        _, per_reqs, _, cpu_per_reqs = process_figures(result)
        plain = (
            f"; a plain process with explicit requirements pays {fmt_s(median(per_reqs))} of "
            f"wall and {fmt_s(median(cpu_per_reqs))} of CPU for every point"
        )
    w.para(
        f"Reading: the imports cost {fmt_s(imports)}; opening an existing store adds "
        f"{fmt_s(old_store - imports)} and creating a new one "
        f"{fmt_s(new_store - imports)} (of wall; creating the schema is many small "
        "SQLite transactions, so it also waits on the disk: compare its CPU). A whole "
        f"`mlt train` of one point on a new store takes {fmt_s(one)} of wall and "
        f"{fmt_s(one_cpu)} of CPU{further}{plain}."
    )

"""Section 10: what logins cost, and the REST requests of each command."""

from __future__ import annotations

from collections import Counter

from ..countproxy import endpoint
from ..record import RunRecord
from ..scenarios import logins
from ..scenarios.logins import CACHED, LABELS, OPEN, LoginsResult
from ..stats import median
from .fmt import Page, clear, fmt_s, fmt_x, spread
from .sections_training import not_run


def section_logins(w: Page, record: RunRecord) -> None:
    w("## 10. Logins", "")
    result: LoginsResult | None = record.get(logins.NAME)
    if result is None:
        return not_run(w, record, logins.NAME)
    w.para(
        "The same 4-point `mlt train` grid against one `mlflow server --workers 2` on "
        "PostgreSQL (`docs/local_postgres.py --auth-ini`), started three ways on the same "
        "database: without logins, with MLflow's basic-auth app and "
        "`auth_cache_ttl_seconds = 300` (the INI of docs/team.md), and with the app and "
        "MLflow's default (no cache: every request checks the password hash). With logins the "
        "grid runs as a user with `EDIT` on the experiment (`docs/team_admin.py`). A first grid "
        "per server warms it up and is not counted. Server CPU is the CPU time its processes "
        "used during the grid."
    )
    rows = []
    for label in LABELS:
        walls = result.walls[label]
        rows.append([
            label,
            spread(walls, fmt_s),
            fmt_s(median(result.cpus[label])),
            fmt_s(median(result.server_cpus[label])),
            fmt_x(result.ratio(label)) if label != OPEN else "1.00×",
            clear(walls, result.walls[OPEN]) if label != OPEN else "",
        ])  # fmt: skip
    w.table(
        ["server", "wall", "mlt CPU", "server CPU", "÷ no logins (wall)", "clear difference?"],
        "lrrrrl",
        rows,
    )
    w.para(
        f"With the cache the grid costs {fmt_x(result.ratio(CACHED))} the open server's time. "
        "The cache's price: a password changed or a user deleted through another worker keeps "
        "working there for up to the TTL (MLflow drops the entry at once on the worker that "
        "handled the change)."
    )
    w.code("bash", [result.command])
    if result.requests:
        w("### REST requests per command", "")
        w.para(
            "Counted by a proxy in front of the server without logins (`bench/countproxy.py`). "
            "Each request costs a round trip, and a password check where the cache is off. "
            "`GET /health` needs no login."
        )
        w.para(
            "Not mlt's to cut: the artifact uploads (one per file of the model and of the "
            "plots), the `runs/get` calls (MLflow's `log_model` reads the run twice, and "
            "`log_figure` once to find its artifact store), the logged model's `GET`/`PATCH` "
            "(MLflow finalizing it), and in `mlt register` the `registered-models/get` "
            "(MlflowClient checking that the name is not a prompt). mlt sends a run's tags with "
            "its creation and its metrics with the model-URI tag, and `mlt register` reuses the "
            "run it searched and the model URI mlt tagged it with."
        )
        totals = [[label, str(sum(counts.values()))] for label, counts in result.requests.items()]
        w.table(["command", "requests"], "lr", totals)
        for label, counts in result.requests.items():
            merged: Counter[str] = Counter()
            for name, n in counts.items():
                merged[endpoint(name)] += n
            w.table([label, "n"], "lr", [[f"`{e}`", str(n)] for e, n in merged.most_common()])

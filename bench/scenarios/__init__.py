"""One module per scenario. Each has ``NAME`` (used by ``--only``), ``TITLE`` and
``run(ctx) -> result``, a dataclass of measurements that the report renders."""

from __future__ import annotations

from types import ModuleType

from . import (
    fixed_costs,
    large,
    large_tables,
    logins,
    plots,
    serving,
    serving_tables,
    spark,
    startup,
    store_scale,
    sweep,
    tune,
)

# The order they run in (and are listed in by --help).
SCENARIOS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        startup,
        fixed_costs,
        sweep,
        serving,
        serving_tables,
        large,
        large_tables,
        plots,
        tune,
        spark,
        logins,
        store_scale,
    )
}

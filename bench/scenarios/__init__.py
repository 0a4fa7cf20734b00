"""One module per scenario. Each has ``NAME`` (used by ``--only``), ``TITLE`` and
``run(ctx) -> result``, a dataclass of measurements that the report renders."""

from __future__ import annotations

from types import ModuleType

from . import fixed_costs, large, plots, serving, startup, store_scale, sweep

# The order they run in (and are listed in by --help).
SCENARIOS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (startup, fixed_costs, sweep, serving, large, plots, store_scale)
}

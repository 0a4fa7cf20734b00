"""Large mixed tables: the large-data measurement (``mlt train`` and ``mlt predict`` against
plain scripts, wall, CPU and peak RSS of the process tree, predict on twice the rows) on a
generated table with text columns and gaps: 5 numeric and 5 text features, about 5 % empty
cells in each, rare categories. The baseline fits the pipeline mlt fits for such a table
(bench/scripts/plain_train_table.py)."""

from __future__ import annotations

from ..context import Context
from .large import LargeData, LargeResult, measure
from .large import targets as targets

NAME = "large-tables"
TITLE = "Large mixed tables"

MIXED = LargeData(NAME, "6. large mixed table", ("--mixed",), "plain_train_table.py")


def run(ctx: Context) -> LargeResult:
    return measure(ctx, MIXED)

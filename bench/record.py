"""The outcome of one benchmark run, as data: what ran, where, and each scenario's result.
The report is rendered from this alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .context import DataInfo, Options


@dataclass
class RunRecord:
    command: str
    started: dt.datetime
    duration: float
    machine: dict[str, str]
    load_start: tuple[float, ...]
    load_end: tuple[float, ...]
    load_samples: list[float]
    options: Options
    data: DataInfo
    selected: list[str]  # scenario names that were asked for, in run order
    results: dict[str, Any] = field(default_factory=dict)  # name -> result (None: not in mode)
    failures: dict[str, str] = field(default_factory=dict)  # name -> why it stopped

    def get(self, name: str) -> Any:
        return self.results.get(name)

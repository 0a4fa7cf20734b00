"""The params mlt logs on every run, with their types, and times as mlt reports them.

MLflow keeps params as strings (``"0.5"``, ``"True"``, ``"None"``). Every command reports them
typed, as ``mlt train`` does: :func:`typed_params` reads MLflow's strings back with the types
mlt logged them with. A param mlt does not log (another tool's), or a value mlt would not have
written, stays the string MLflow has.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

# Each param mlt logs on a training run, and its type (see training._fit_and_log).
PARAM_TYPES: dict[str, type] = {
    "alpha": float,
    "l1_ratio": float,
    "test_size": float,
    "random_state": int,
    "standardize": bool,
    "dataset": str,
    "target": str,
    "n_rows": int,
    "n_features": int,
}
_BOOLEANS = {"true": True, "false": False}


def typed_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with mlt's own read back to their types (see :func:`typed_param`)."""
    return {name: typed_param(name, value) for name, value in params.items()}


def typed_param(name: str, value: Any) -> Any:
    """One param as mlt logged it: ``"0.5"`` -> 0.5 for alpha, ``"True"`` -> True for
    standardize, ``"None"`` -> None (random_state); unknown names and values stay as given."""
    kind = PARAM_TYPES.get(name)
    if kind is None or kind is str or not isinstance(value, str):
        return value
    if value == "None":
        return None
    try:
        if kind is bool:
            return _BOOLEANS[value.lower()]
        if kind is int:
            return int(value)
        return float(value)
    except (KeyError, ValueError):
        return value


def iso_time(epoch_ms: int | None) -> str | None:
    """MLflow's epoch milliseconds as ISO 8601 in UTC (``2026-11-30T00:05:00+00:00``)."""
    if not epoch_ms:
        return None
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).isoformat(timespec="seconds")

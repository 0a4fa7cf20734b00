"""Statistics over repetitions: medians, spreads, ratios and targets on ratios.

Everything here is pure and works on plain lists of floats; NaN stands for "not measured"
and propagates rather than raising, so a missing figure shows as n/a on the page.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

NAN = float("nan")


def is_nan(value: float) -> bool:
    return math.isnan(value)


def median(values: Sequence[float]) -> float:
    """The median, ignoring NaN; NaN for no values."""
    clean = [v for v in values if not is_nan(v)]
    return statistics.median(clean) if clean else NAN


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) with linear interpolation between order statistics
    (numpy's default, ``statistics.quantiles(method="inclusive")``); NaN for no values."""
    clean = sorted(v for v in values if not is_nan(v))
    if not clean:
        return NAN
    if not 0 <= q <= 1:
        raise ValueError(f"quantile must be within 0..1, not {q}")
    position = q * (len(clean) - 1)
    low = math.floor(position)
    high = min(low + 1, len(clean) - 1)
    return clean[low] + (clean[high] - clean[low]) * (position - low)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0..100) of an already sorted list, as latency tools report
    it: the smallest value with at least ``q`` % of the values at or below it."""
    if not sorted_values:
        return NAN
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Spread:
    """Median, range and interquartile range of a set of repetitions."""

    median: float
    low: float
    high: float
    q1: float
    q3: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        clean = [v for v in values if not is_nan(v)]
        if not clean:
            return cls(NAN, NAN, NAN, NAN, NAN, 0)
        return cls(
            median(clean), min(clean), max(clean), quantile(clean, 0.25), quantile(clean, 0.75),
            len(clean),
        )  # fmt: skip

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def separated(ours: Sequence[float], theirs: Sequence[float]) -> bool | None:
    """Whether two sets of repetitions do not overlap (min–max), i.e. differ beyond the noise
    of this run; None when either side has fewer than 2 values (nothing to tell)."""
    a = [v for v in ours if not is_nan(v)]
    b = [v for v in theirs if not is_nan(v)]
    if len(a) < 2 or len(b) < 2:
        return None
    return max(a) < min(b) or max(b) < min(a)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; NaN when either is NaN or the denominator is 0."""
    if is_nan(numerator) or is_nan(denominator) or denominator == 0:
        return NAN
    return numerator / denominator


def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Ratio of the medians of two sets of repetitions."""
    return ratio(median(numerators), median(denominators))


@dataclass(frozen=True)
class Target:
    """A goal on a figure measured in the same run: a ratio (``unit`` "×", e.g. requests/s
    mlt ÷ baseline >= 25) or a difference in seconds (``unit`` "s", e.g. what plots add).

    ``at_most`` is True for goals of the form ``value <= limit`` (time, memory) and False for
    ``value >= limit`` (throughput).
    """

    scenario: str
    label: str
    value: float
    limit: float
    at_most: bool
    note: str = ""
    unit: str = "×"

    @property
    def met(self) -> bool | None:
        if is_nan(self.value):
            return None
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    @property
    def shortfall(self) -> float:
        """How many times better the value must get to meet the target (1.0 when met,
        NaN when not measured): value ÷ limit for an upper bound, limit ÷ value for a
        lower bound."""
        if self.met is None:
            return NAN
        if self.met:
            return 1.0
        if self.at_most:
            return ratio(self.value, self.limit)
        return math.inf if self.value <= 0 else self.limit / self.value

"""Formatting figures and Markdown tables for the page."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..stats import Spread, Target, is_nan, separated

Formatter = Callable[[float], str]


def fmt_s(seconds: float) -> str:
    if is_nan(seconds):
        return "n/a"
    if abs(seconds) < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_ms(seconds: float) -> str:
    if is_nan(seconds):
        return "n/a"
    if abs(seconds) >= 1:
        return fmt_s(seconds)
    return f"{seconds * 1000:.1f} ms" if abs(seconds) < 0.1 else f"{seconds * 1000:.0f} ms"


def fmt_mb(kb: float) -> str:
    return "n/a" if is_nan(kb) else f"{kb / 1024:.0f} MB"


def fmt_int(value: float) -> str:
    return "n/a" if is_nan(value) else f"{value:,.0f}"


def fmt_x(value: float) -> str:
    """A ratio: ``1.24×``."""
    if is_nan(value):
        return "n/a"
    return f"{value:.2f}×" if value < 100 else f"{value:.0f}×"


def spread(values: Sequence[float], formatter: Formatter) -> str:
    """``median (min–max, n=N)``."""
    s = Spread.of(values)
    if s.n == 0:
        return "n/a"
    if s.n == 1:
        return f"{formatter(s.median)} (n=1)"
    return f"{formatter(s.median)} ({formatter(s.low)}–{formatter(s.high)}, n={s.n})"


def clear(ours: Sequence[float], theirs: Sequence[float]) -> str:
    """The "clear difference?" column: whether the two ranges are apart."""
    apart = separated(ours, theirs)
    if apart is None:
        return "n/a (1 run)"
    return "yes" if apart else "no: ranges overlap"


def verdict(target: Target) -> str:
    if target.met is None:
        return "not measured"
    if target.met:
        return "**met**"
    return f"**missed** by {fmt_x(target.shortfall)}"


def goal(target: Target) -> str:
    limit = fmt_s(target.limit) if target.unit == "s" else f"{target.limit:g}×"
    return f"{'≤' if target.at_most else '≥'} {limit}"


def measured(target: Target) -> str:
    return fmt_s(target.value) if target.unit == "s" else fmt_x(target.value)


class Page:
    """Lines of Markdown."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, *lines: str) -> None:
        self.lines.extend(lines)

    def para(self, text: str) -> None:
        self.lines.extend([text, ""])

    def table(self, header: Sequence[str], align: str, rows: Sequence[Sequence[str]]) -> None:
        """``align`` has one letter per column: l (left) or r (right)."""
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
        for row in rows:
            self.lines.append("| " + " | ".join(row) + " |")
        self.lines.append("")

    def code(self, language: str, lines: Sequence[str]) -> None:
        self.lines.extend([f"```{language}", *lines, "```", ""])

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"

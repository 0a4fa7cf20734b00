"""Formatting figures and Markdown tables for the page."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..stats import Spread, Target, is_nan, median, separated

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


# How mlt compares, in words that read one way: (better, worse) for each kind of figure.
WORDS = {
    "time": ("faster", "slower"),
    "cpu": ("less CPU", "more CPU"),
    "memory": ("less memory", "more memory"),
    "latency": ("lower", "higher"),
    "rate": ("more", "fewer"),  # requests per second: higher is better
}


def times(mlt_over_baseline: float, kind: str) -> str:
    """How many times better or worse mlt is, from the ratio mlt ÷ baseline of one figure:
    ``"14.44× faster"``, ``"1.15× more memory"``, ``"49.30× more"`` (requests/s)."""
    better, worse = WORDS[kind]
    value = mlt_over_baseline
    if is_nan(value) or value <= 0 or value == float("inf"):
        return "n/a"
    gain = value if kind == "rate" else 1 / value  # above 1: mlt is better
    if round(gain, 2) == 1:
        return "the same (1.00×)"
    return f"{fmt_x(gain)} {better}" if gain > 1 else f"{fmt_x(1 / gain)} {worse}"


def versus(ours: Sequence[float], theirs: Sequence[float], kind: str) -> str:
    """:func:`times` for two sets of repetitions (their medians): mlt's, the baseline's."""
    a, b = median(ours), median(theirs)
    return "n/a" if is_nan(a) or is_nan(b) or b == 0 else times(a / b, kind)


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
    if target.shortfall < 1.1:  # "by 1.00×" would hide how close it is
        return f"**missed** by {(target.shortfall - 1) * 100:.1f} %"
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

"""Pictures of how a model does, and of a sweep.

Every run of ``mlt train`` logs three figures under ``plots/`` in its artifacts (predicted vs
actual, residuals, coefficients); ``mlt compare --plot FILE`` draws the ranking metric across the
swept parameters. matplotlib's object API only (``matplotlib.figure.Figure``, drawn by Agg): no
pyplot, so no global figure state and no GUI backend. matplotlib is imported on first use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameterError
from .comparison import HIGHER_IS_BETTER

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .comparison import RunSummary

PLOTS_DIR = "plots"
PLOT_FILES = ("predicted_vs_actual.png", "residuals.png", "coefficients.png")
# Scatter plots draw at most this many test points: cheap on million-row data, and a cloud of
# a few thousand points already shows the shape.
MAX_POINTS = 2000
DPI = 100
PLOT_SUFFIXES = (".png", ".svg")


def _figure(width: float = 5.0, height: float = 4.0, left: float | None = 0.14) -> Figure:
    """A figure drawn by Agg. Fixed margins (``left`` as a share of the width) cost nothing;
    ``left=None`` asks matplotlib's constrained layout to fit them, which costs about half
    the drawing time: kept for the sweep chart, drawn once per command."""
    from matplotlib.figure import Figure

    if left is None:
        return Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    figure = Figure(figsize=(width, height), dpi=DPI)
    # Room for the tick labels and axis label below, the title above: fixed in inches.
    figure.subplots_adjust(left=left, right=0.96, bottom=0.5 / height, top=1 - 0.32 / height)
    return figure


def _sample(n: int, limit: int = MAX_POINTS) -> Any:
    """Indices of at most ``limit`` of ``n`` points (a fixed seed: the same picture each time)."""
    import numpy as np

    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))


def model_figures(
    model: Any, X_test: Any, y_test: Any, metrics: dict[str, float]
) -> dict[str, Figure]:
    """The three figures of a fitted model on its test set, by artifact file name."""
    import numpy as np

    actual = np.asarray(y_test, dtype=float)
    predicted = np.asarray(model.predict(X_test), dtype=float)
    keep = _sample(len(actual))
    actual, predicted = actual[keep], predicted[keep]
    shown = "" if len(keep) == len(y_test) else f" ({len(keep):,} of {len(y_test):,} points)"
    return {
        "predicted_vs_actual.png": _predicted_vs_actual(actual, predicted, metrics, shown),
        "residuals.png": _residuals(actual, predicted, shown),
        "coefficients.png": _coefficients(model, list(X_test.columns)),
    }


def log_model_plots(model: Any, X_test: Any, y_test: Any, metrics: dict[str, float]) -> None:
    """Log :func:`model_figures` into the active MLflow run under ``plots/``."""
    import mlflow

    for name, figure in model_figures(model, X_test, y_test, metrics).items():
        # zlib's fastest level: a few percent larger files, a third less time than the default.
        mlflow.log_figure(
            figure, f"{PLOTS_DIR}/{name}", save_kwargs={"pil_kwargs": {"compress_level": 1}}
        )


def _predicted_vs_actual(actual: Any, predicted: Any, metrics: dict[str, float], shown: str):
    fig = _figure()
    ax = fig.add_subplot()
    ax.scatter(actual, predicted, s=12, alpha=0.6, edgecolors="none")
    low = float(min(actual.min(), predicted.min()))
    high = float(max(actual.max(), predicted.max()))
    ax.plot([low, high], [low, high], color="tab:red", linewidth=1, label="y = x")
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.set_title(
        f"Test set: rmse {metrics['rmse']:.4g}, r2 {metrics['r2']:.3f}{shown}", fontsize=10
    )
    ax.legend(loc="upper left")
    ax.set_aspect("equal", adjustable="datalim")
    return fig


def _residuals(actual: Any, predicted: Any, shown: str):
    fig = _figure()
    ax = fig.add_subplot()
    ax.scatter(predicted, actual - predicted, s=12, alpha=0.6, edgecolors="none")
    ax.axhline(0, color="tab:red", linewidth=1, label="y = 0")
    ax.set_xlabel("predicted")
    ax.set_ylabel("residual (actual - predicted)")
    ax.set_title(f"Residuals vs predicted{shown}", fontsize=10)
    ax.legend(loc="upper left")
    return fig


def _coefficients(model: Any, features: list[str]):
    import numpy as np

    estimator = model[-1] if hasattr(model, "steps") else model
    coef = np.ravel(np.asarray(estimator.coef_, dtype=float))
    order = np.argsort(np.abs(coef))  # smallest at the bottom of a horizontal bar chart
    names = [features[i] if i < len(features) else f"x{i}" for i in order]
    values = coef[order]
    height = min(2.0 + 0.25 * len(values), 12.0)
    longest = max((len(name) for name in names), default=1)
    fig = _figure(5.0, height, left=min(0.5, 0.05 + 0.018 * longest))
    ax = fig.add_subplot()
    colors = ["tab:gray" if v == 0 else ("tab:blue" if v > 0 else "tab:orange") for v in values]
    ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(values)), names, fontsize=8 if len(values) > 20 else 10)
    ax.axvline(0, color="black", linewidth=0.8)
    zeros = int(np.sum(values == 0))
    scaled = len(getattr(model, "steps", ())) > 1
    ax.set_xlabel("coefficient" + (" (standardized features)" if scaled else ""))
    ax.set_title(f"Coefficients by size: {zeros} of {len(values)} are zero", fontsize=10)
    for y, v in enumerate(values):
        if v == 0:
            ax.text(0, y, " 0", va="center", fontsize=8, color="tab:gray")
    return fig


@dataclass(frozen=True)
class SweepPlot:
    """What ``mlt compare --plot`` drew."""

    path: str
    kind: str  # "heatmap" or "line"
    metric: str
    params: list[str]
    runs: int
    best_run_id: str

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def check_plot_path(path: str) -> None:
    """Raise unless ``path`` ends in .png or .svg (before any work is done)."""
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise InvalidParameterError(f"--plot must end in .png or .svg, got {path!r}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):  # standardize is a switch, not a number to sweep
        return None
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def swept_params(runs: Sequence[RunSummary]) -> list[str]:
    """The numeric params whose values differ between ``runs`` (alpha before l1_ratio)."""
    names = sorted({name for run in runs for name in run.params})
    swept = []
    for name in names:
        values = [run.params.get(name) for run in runs]
        if len(set(values)) > 1 and all(_number(v) is not None for v in values):
            swept.append(name)
    preferred = ["alpha", "l1_ratio"]
    return sorted(swept, key=lambda n: (preferred.index(n) if n in preferred else 2, n))


def sweep_plot(runs: Sequence[RunSummary], metric: str, path: str) -> SweepPlot:
    """Draw ``metric`` across the swept params of ``runs`` into ``path`` (.png or .svg).

    Two swept params give a heatmap (one cell per pair, the best value of a pair if several
    runs share it), one gives a line; none or more than two is an error.
    """
    check_plot_path(path)
    runs = [run for run in runs if metric in run.metrics]
    if len(runs) < 2:
        raise InvalidParameterError(
            f"--plot needs at least two runs with metric {metric!r}, found {len(runs)}"
        )
    params = swept_params(runs)
    if not params:
        raise InvalidParameterError(
            f"nothing varies between the {len(runs)} runs: no swept parameter to plot"
        )
    if len(params) > 2:
        raise InvalidParameterError(
            f"more than two parameters vary ({', '.join(params)}): "
            "narrow the runs with --filter to plot them"
        )
    better = max if metric in HIGHER_IS_BETTER else min
    best = better(runs, key=lambda r: r.metrics[metric])
    cells: dict[tuple[float, ...], float] = {}
    for run in runs:
        key = tuple(float(run.params[p]) for p in params)
        value = run.metrics[metric]
        cells[key] = better(cells.get(key, value), value)
    if len(params) == 2:
        fig = _heatmap(cells, params, metric, best_key=_key(best, params))
    else:
        fig = _line(cells, params[0], metric, best_key=_key(best, params))
    try:
        fig.savefig(path)
    except OSError as exc:
        raise InvalidParameterError(f"cannot write {path}: {exc.strerror or exc}") from exc
    kind = "heatmap" if len(params) == 2 else "line"
    return SweepPlot(path, kind, metric, params, len(runs), best.run_id)


def _key(run: RunSummary, params: list[str]) -> tuple[float, ...]:
    return tuple(float(run.params[p]) for p in params)


def _log_axis(name: str, values: Sequence[float]) -> bool:
    return name == "alpha" and all(v > 0 for v in values) and len(values) > 1


def _edges(values: list[float], log: bool) -> list[float]:
    """Cell edges around sorted centre values: midpoints (geometric ones on a log axis)."""
    if len(values) == 1:
        v = values[0]
        return [v / 2, v * 2] if log else [v - 0.5, v + 0.5]
    if log:
        logs = [math.log10(v) for v in values]
        mids = [(a + b) / 2 for a, b in zip(logs, logs[1:], strict=False)]
        edges = [logs[0] - (mids[0] - logs[0]), *mids, logs[-1] + (logs[-1] - mids[-1])]
        return [10**e for e in edges]
    mids = [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)]
    return [values[0] - (mids[0] - values[0]), *mids, values[-1] + (values[-1] - mids[-1])]


def _heatmap(
    cells: dict[tuple[float, ...], float],
    params: list[str],
    metric: str,
    best_key: tuple[float, ...],
):
    import numpy as np
    from matplotlib.patches import Rectangle

    xs = sorted({k[0] for k in cells})
    ys = sorted({k[1] for k in cells})
    grid = np.full((len(ys), len(xs)), np.nan)
    for (x, y), value in cells.items():
        grid[ys.index(y), xs.index(x)] = value
    xlog = _log_axis(params[0], xs)
    x_edges, y_edges = _edges(xs, xlog), _edges(ys, False)
    fig = _figure(6.0, 4.5, left=None)
    ax = fig.add_subplot()
    cmap = "viridis" if metric in HIGHER_IS_BETTER else "viridis_r"  # best is brightest
    mesh = ax.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(grid), cmap=cmap)
    if xlog:
        ax.set_xscale("log")
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.set_xticks([], minor=True)
    ax.set_yticks(ys, [f"{y:g}" for y in ys])
    colorbar = fig.colorbar(mesh, ax=ax)
    colorbar.set_label(metric)
    low, high = float(np.nanmin(grid)), float(np.nanmax(grid))
    for (x, y), value in cells.items():
        share = 0.5 if high == low else (value - low) / (high - low)
        bright = share > 0.5 if metric in HIGHER_IS_BETTER else share < 0.5
        ax.text(
            x,
            y,
            f"{value:.4g}",
            ha="center",
            va="center",
            fontsize=9,
            color="black" if bright else "white",
            fontweight="bold" if (x, y) == best_key else "normal",
        )
    i, j = xs.index(best_key[0]), ys.index(best_key[1])
    ax.add_patch(
        Rectangle(
            (x_edges[i], y_edges[j]),
            x_edges[i + 1] - x_edges[i],
            y_edges[j + 1] - y_edges[j],
            fill=False,
            edgecolor="tab:red",
            linewidth=2.5,
        )
    )
    ax.set_xlabel(params[0] + (" (log scale)" if xlog else ""))
    ax.set_ylabel(params[1])
    order = "higher" if metric in HIGHER_IS_BETTER else "lower"
    ax.set_title(
        f"{metric} ({order} is better); best (red box): {params[0]} {best_key[0]:g}, "
        f"{params[1]} {best_key[1]:g}: {cells[best_key]:.4g}",
        fontsize=10,
    )
    return fig


def _line(
    cells: dict[tuple[float, ...], float], param: str, metric: str, best_key: tuple[float, ...]
):
    xs = sorted(k[0] for k in cells)
    ys = [cells[(x,)] for x in xs]
    fig = _figure(5.5, 4.0, left=None)
    ax = fig.add_subplot()
    ax.plot(xs, ys, marker="o")
    if _log_axis(param, xs):
        ax.set_xscale("log")
        param_label = f"{param} (log scale)"
    else:
        param_label = param
    best_x = best_key[0]
    ax.plot([best_x], [cells[best_key]], marker="*", markersize=16, color="tab:red", label="best")
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.set_xticks([], minor=True)
    ax.set_xlabel(param_label)
    ax.set_ylabel(metric)
    order = "higher" if metric in HIGHER_IS_BETTER else "lower"
    ax.set_title(
        f"{metric} ({order} is better); best: {param} {best_x:g}: {cells[best_key]:.4g}",
        fontsize=10,
    )
    ax.legend()
    return fig

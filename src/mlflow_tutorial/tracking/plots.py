"""Pictures of how a model does, and of a sweep.

Every run of ``mlt train`` logs figures under ``plots/`` in its artifacts: for regression,
predicted vs actual, residuals and coefficients; for classification, the confusion matrix, the
ROC curve (one curve per class when there are more than two) and coefficients. Coefficients
show the largest ~20 by size, named by original column (and category), and say how many more
there are and how many are zero, so they stay readable with hundreds of features.
``mlt compare --plot FILE`` draws the ranking metric across the
swept parameters. matplotlib's object API only (``matplotlib.figure.Figure``, drawn by Agg): no
pyplot, so no global figure state and no GUI backend. matplotlib is imported on first use.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
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
CLASSIFICATION_PLOT_FILES = ("confusion_matrix.png", "roc.png", "coefficients.png")
TOP_COEFFICIENTS = 20  # bars drawn; the rest are counted in the title
MAX_MATRIX_CLASSES = 20  # confusion matrix: the most frequent classes, the rest as "other"
MAX_CURVES = 10  # ROC: per-class curves drawn (the most frequent classes)
MAX_LABEL = 28  # characters of a tick label
DERIVED_PARAMS = {"C"}  # follows alpha (C = 1 / (alpha * n_train)): not a swept param
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
    model: Any, X_test: Any, y_test: Any, metrics: dict[str, float], task: str = "regression"
) -> dict[str, Figure]:
    """The figures of a fitted model on its test set, by artifact file name."""
    import numpy as np

    if task == "classification":
        return {
            "confusion_matrix.png": _confusion(model, X_test, y_test, metrics),
            "roc.png": _roc(model, X_test, y_test),
            "coefficients.png": _coefficients(model, list(X_test.columns)),
        }

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


def write_model_plots(
    model: Any,
    X_test: Any,  # noqa: N803
    y_test: Any,
    metrics: dict[str, float],
    directory: Path,
    task: str = "regression",
) -> None:
    """Draw :func:`model_figures` as PNG files in ``directory``."""
    for name, figure in model_figures(model, X_test, y_test, metrics, task).items():
        # zlib's fastest level: a few percent larger files, a third less time than the default.
        figure.savefig(directory / name, pil_kwargs={"compress_level": 1})


class ModelPlots:
    """The model's figures, drawn in a thread while the caller logs the model (that work is
    I/O and MLflow, so the two overlap), then logged under ``plots/`` in one
    ``log_artifacts`` call. Use as a context manager: leaving it waits for the thread and
    removes the drawing directory, whatever happened."""

    def __init__(
        self,
        model: Any,
        X_test: Any,  # noqa: N803
        y_test: Any,
        metrics: dict[str, float],
        task: str = "regression",
    ) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix="mlt-plots-"))
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._draw,
            args=(model, X_test, y_test, metrics, task),
            name="mlt-plots",
            daemon=True,
        )
        self._thread.start()

    def _draw(self, model: Any, X_test: Any, y_test: Any, metrics: dict, task: str) -> None:  # noqa: N803
        try:
            write_model_plots(model, X_test, y_test, metrics, self._directory, task)
        except BaseException as exc:  # re-raised in the caller's thread by log()
            self._error = exc

    def log(self) -> None:
        """Wait for the figures and log them into the active MLflow run under ``plots/``."""
        import mlflow

        self._thread.join()
        if self._error is not None:
            raise self._error
        mlflow.log_artifacts(str(self._directory), PLOTS_DIR)

    def __enter__(self) -> ModelPlots:
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()
        shutil.rmtree(self._directory, ignore_errors=True)


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


def _short(label: Any) -> str:
    text = str(label)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def coefficient_names(model: Any, features: list[str]) -> list[str]:
    """A name per coefficient: the column, or ``column = category`` for a one-hot column
    (``column = (rare)`` for the grouped rare categories)."""
    if not hasattr(model, "steps") or model.steps[0][0] != "columns":
        return list(features)
    names = []
    columns = model.steps[0][1]
    for name, transformer, cols in columns.transformers_:
        if name == "numeric":
            names.extend(cols)
        elif name == "categorical":
            encoder = transformer[-1]
            infrequent = getattr(encoder, "infrequent_categories_", [None] * len(cols))
            for col, categories, rare in zip(cols, encoder.categories_, infrequent, strict=True):
                rare_set = set() if rare is None else set(rare)
                kept = [c for c in categories if c not in rare_set]
                names.extend(f"{col} = {c}" for c in kept)
                if rare_set:
                    names.append(f"{col} = (rare: {len(rare_set)})")
    return names


def _coefficients(model: Any, features: list[str]):
    """The largest coefficients by size (at most ``TOP_COEFFICIENTS`` bars; one group of bars
    per class for a multiclass model), named by column and category."""
    import numpy as np

    estimator = model[-1] if hasattr(model, "steps") else model
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=float))
    names = coefficient_names(model, features)
    names += [f"x{i}" for i in range(len(names), coef.shape[1])]
    classes = list(getattr(estimator, "classes_", []))
    size = np.abs(coef).max(axis=0)  # multiclass: a feature's largest coefficient
    total = coef.shape[1]
    zeros = int(np.sum(np.all(coef == 0, axis=0)))
    shown = np.argsort(-size, kind="stable")[:TOP_COEFFICIENTS][::-1]  # largest at the top
    labels = [_short(names[i]) for i in shown]
    n = len(shown)
    height = min(1.6 + 0.3 * n, 8.5)
    longest = max((len(label) for label in labels), default=1)
    fig = _figure(6.0, height, left=min(0.55, 0.06 + 0.016 * longest))
    ax = fig.add_subplot()
    rows = coef.shape[0]
    bar = 0.8 / rows
    for k in range(rows):
        values = coef[k, shown]
        offsets = np.arange(n) + (k - (rows - 1) / 2) * bar
        if rows == 1:
            colors = [
                "tab:gray" if v == 0 else ("tab:blue" if v > 0 else "tab:orange") for v in values
            ]
            ax.barh(offsets, values, height=bar, color=colors)
            for y, v in zip(offsets, values, strict=True):
                if v == 0:
                    ax.text(0, y, " 0", va="center", fontsize=8, color="tab:gray")
        else:
            ax.barh(offsets, values, height=bar, label=_short(classes[k]) if classes else str(k))
    if rows > 1:
        ax.legend(fontsize=8, loc="lower right", title="class", title_fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8 if n > 12 else 10)
    ax.axvline(0, color="black", linewidth=0.8)
    scaled = len(getattr(model, "steps", ())) > 1
    ax.set_xlabel("coefficient" + (" (standardized features)" if scaled else ""))
    rest = total - n
    more = f"; {rest} more not shown" if rest > 0 else ""
    ax.set_title(
        f"Largest {n} of {total} coefficients by size ({zeros} are zero{more})"
        if rest > 0
        else f"Coefficients by size: {zeros} of {total} are zero",
        fontsize=9,
    )
    return fig


def _class_order(y: Any, classes: list[Any]) -> list[Any]:
    """The classes by frequency in ``y`` (most first), ties in ``classes`` order."""
    import pandas as pd

    counts = pd.Series(y).value_counts()
    return sorted(classes, key=lambda c: (-int(counts.get(c, 0)), classes.index(c)))


def _confusion(model: Any, X_test: Any, y_test: Any, metrics: dict[str, float]):
    """Rows: actual class, columns: predicted; counts in the cells. With more than
    ``MAX_MATRIX_CLASSES`` classes, the most frequent ones and an ``(other)`` row/column."""
    import numpy as np

    classes = list(model.classes_)
    predicted = np.asarray(model.predict(X_test), dtype=object)
    actual = np.asarray(y_test, dtype=object)
    shown = _class_order(actual, classes)
    other = len(shown) > MAX_MATRIX_CLASSES
    if other:
        shown = shown[: MAX_MATRIX_CLASSES - 1]
    index = {c: i for i, c in enumerate(shown)}
    k = len(shown) + other
    matrix = np.zeros((k, k), dtype=int)
    for a, p in zip(actual, predicted, strict=True):
        matrix[index.get(a, k - 1), index.get(p, k - 1)] += 1
    labels = [_short(c) for c in shown] + (["(other)"] if other else [])
    side = min(2.5 + 0.35 * k, 9.0)
    fig = _figure(side + 1.2, side, left=min(0.45, 0.08 + 0.012 * max(len(x) for x in labels)))
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    size = 9 if k <= 10 else 7 if k <= 16 else 6
    ax.set_xticks(
        range(k),
        labels,
        rotation=45 if k > 4 else 0,
        ha="right" if k > 4 else "center",
        fontsize=size,
    )
    ax.set_yticks(range(k), labels, fontsize=size)
    high = matrix.max() or 1
    for i in range(k):
        for j in range(k):
            if matrix[i, j]:
                ax.text(
                    j,
                    i,
                    str(matrix[i, j]),
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="white" if matrix[i, j] > high / 2 else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    more = f"; {len(classes) - len(shown)} classes as (other)" if other else ""
    ax.set_title(
        f"Test set: accuracy {metrics['accuracy']:.3f}, f1_macro {metrics['f1_macro']:.3f}{more}",
        fontsize=9,
    )
    return fig


def _roc(model: Any, X_test: Any, y_test: Any):
    """The ROC curve of the positive class (binary), or one-vs-rest curves of the most
    frequent ``MAX_CURVES`` classes."""
    import numpy as np
    from sklearn.metrics import auc, roc_curve

    classes = list(model.classes_)
    proba = model.predict_proba(X_test)
    actual = np.asarray(y_test, dtype=object)
    fig = _figure(5.5, 4.5)
    ax = fig.add_subplot()
    if len(classes) == 2:
        curves = [(classes[1], proba[:, 1])]
    else:
        order = _class_order(actual, classes)[:MAX_CURVES]
        curves = [(c, proba[:, classes.index(c)]) for c in order]
    for label, score in curves:
        positive = actual == label
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, score)
        ax.plot(fpr, tpr, label=f"{_short(label)} (auc {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], color="tab:gray", linewidth=0.8, linestyle="--")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    if len(classes) == 2:
        title = f"ROC curve, positive class {_short(classes[1])!r}"
    else:
        rest = len(classes) - len(curves)
        title = "ROC curves, one class vs the rest" + (
            f" ({rest} classes not shown)" if rest > 0 else ""
        )
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
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
    names = sorted({name for run in runs for name in run.params} - DERIVED_PARAMS)
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

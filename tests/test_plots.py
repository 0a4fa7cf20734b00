"""Plots: three figures logged with every run, and `mlt compare --plot` over a sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlflow_tutorial.cli import app
from mlflow_tutorial.errors import InvalidParameterError
from mlflow_tutorial.tracking.comparison import RunSummary
from mlflow_tutorial.tracking.plots import (
    MAX_MATRIX_CLASSES,
    MAX_POINTS,
    PLOT_FILES,
    TOP_COEFFICIENTS,
    model_figures,
    sweep_plot,
)
from mlflow_tutorial.tracking.training import build_pipeline, train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _artifact_names(run_id: str, path: str) -> list[str]:
    from mlflow import MlflowClient

    return sorted(Path(a.path).name for a in MlflowClient().list_artifacts(run_id, path))


def test_train_logs_three_png_plots() -> None:
    from mlflow import MlflowClient

    result = train(alpha=0.1, l1_ratio=0.5)
    assert _artifact_names(result.run_id, "plots") == sorted(PLOT_FILES)
    for name in PLOT_FILES:
        local = MlflowClient().download_artifacts(result.run_id, f"plots/{name}")
        data = Path(local).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 5_000, name  # a drawn figure, not an empty canvas


def test_no_plots_logs_no_plots() -> None:
    result = CliRunner().invoke(app, ["train", "--no-plots", "--format", "json"])
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.stdout)["run_id"]
    assert _artifact_names(run_id, "plots") == []
    assert "plots" not in _artifact_names(run_id, "")


def _fitted(rows: int, alpha: float = 0.05):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b", "noise1", "noise2"])
    y = 3 * X["a"] - 2 * X["b"] + rng.normal(0, 0.1, rows)
    model = build_pipeline(alpha, 1.0, True, 0).fit(X, y)
    return model, X, y


def test_scatter_plots_draw_a_bounded_sample_of_large_test_sets() -> None:
    model, X, y = _fitted(MAX_POINTS * 5)
    figures = model_figures(model, X, y, {"rmse": 0.1, "r2": 0.99})
    for name in ("predicted_vs_actual.png", "residuals.png"):
        (points,) = figures[name].axes[0].collections
        assert len(points.get_offsets()) == MAX_POINTS, name
    title = figures["predicted_vs_actual.png"].axes[0].get_title()
    assert "rmse 0.1" in title and "r2 0.990" in title
    assert f"{MAX_POINTS:,} of {MAX_POINTS * 5:,} points" in title


def test_coefficients_are_sorted_by_size_and_show_l1_zeros() -> None:
    model, X, y = _fitted(200, alpha=0.2)
    ax = model_figures(model, X, y, {"rmse": 1.0, "r2": 0.5})["coefficients.png"].axes[0]
    widths = [abs(bar.get_width()) for bar in ax.patches]
    assert widths == sorted(widths)
    assert widths[0] == 0  # L1 made the noise features' coefficients exactly zero
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert set(labels[-2:]) == {"a", "b"}
    assert ax.get_title().startswith("Coefficients by size: 2 of 4 are zero")


def test_coefficients_of_a_wide_table_show_the_largest_and_count_the_rest() -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 300)), columns=[f"feature_{i}" for i in range(300)])
    y = X.iloc[:, :5].sum(axis=1) + rng.normal(size=400)
    model = build_pipeline(0.1, 0.5, True, 0).fit(X, y)
    zeros = int(np.sum(model[-1].coef_ == 0))
    assert zeros > 200  # most are zero: the chart is about the few that are not
    ax = model_figures(model, X, y, {"rmse": 1.0, "r2": 0.5})["coefficients.png"].axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == TOP_COEFFICIENTS and len(ax.patches) == TOP_COEFFICIENTS
    assert set(labels[-5:]) == {f"feature_{i}" for i in range(5)}  # the largest on top
    assert ax.get_title() == (
        f"Largest 20 of 300 coefficients by size ({zeros} are zero; 280 more not shown)"
    )


def _classifier(n_classes: int, rows: int = 400):
    import numpy as np
    import pandas as pd

    from mlflow_tutorial.columns import ColumnReport

    rng = np.random.default_rng(2)
    classes = [f"class {i:02d}" for i in range(n_classes)]
    y = pd.Series([classes[i % n_classes] for i in range(rows)])
    city = pd.Series(rng.choice(["Lisbon", "Porto", "Faro", "Braga"], rows), dtype=object)
    X = pd.DataFrame({"a": y.str[-2:].astype(float) + rng.normal(0, 0.5, rows), "city": city})
    report = ColumnReport("classification", "y", ["a"], ["city"], classes=classes)
    return build_pipeline(0.001, 0.5, True, 0, report, rows).fit(X, y), X, y


def test_classification_figures_are_a_confusion_matrix_roc_and_coefficients() -> None:
    model, X, y = _classifier(2)
    figures = model_figures(model, X, y, {"accuracy": 0.9, "f1_macro": 0.8}, "classification")
    assert list(figures) == ["confusion_matrix.png", "roc.png", "coefficients.png"]
    matrix = figures["confusion_matrix.png"].axes[0]
    assert [t.get_text() for t in matrix.get_yticklabels()] == ["class 00", "class 01"]
    assert sum(int(t.get_text()) for t in matrix.texts) == len(y)  # every row counted once
    roc = figures["roc.png"].axes[0]
    assert roc.get_title() == "ROC curve, positive class 'class 01'"
    coefficients = figures["coefficients.png"].axes[0]
    names = {t.get_text() for t in coefficients.get_yticklabels()}
    assert names == {"a", "city = Lisbon", "city = Porto", "city = Faro", "city = Braga"}


def test_many_classes_stay_legible() -> None:
    model, X, y = _classifier(60, rows=600)
    figures = model_figures(model, X, y, {"accuracy": 0.1, "f1_macro": 0.1}, "classification")
    matrix = figures["confusion_matrix.png"].axes[0]
    labels = [t.get_text() for t in matrix.get_yticklabels()]
    assert len(labels) == MAX_MATRIX_CLASSES and labels[-1] == "(other)"
    assert "41 classes as (other)" in matrix.get_title()
    assert sum(int(t.get_text()) for t in matrix.texts) == len(y)
    roc = figures["roc.png"].axes[0]
    assert len(roc.get_lines()) == 10 + 1  # ten classes and the diagonal
    assert "(50 classes not shown)" in roc.get_title()


def _run(i: int, metric: float, **params: object) -> RunSummary:
    base = {"dataset": "diabetes", "random_state": "42"}
    return RunSummary(
        run_id=f"run{i}",
        run_name=f"name{i}",
        experiment_id="1",
        status="FINISHED",
        start_time=None,
        params={**base, **{k: str(v) for k, v in params.items()}},
        metrics={"rmse": metric, "r2": 1 / metric},
    )


def _grid() -> list[RunSummary]:
    runs = []
    for i, alpha in enumerate((0.01, 0.1, 1.0)):
        for j, ratio in enumerate((0.2, 0.5, 0.8)):
            runs.append(_run(3 * i + j, 50 + 3 * i - j, alpha=alpha, l1_ratio=ratio))
    return runs


def test_grid_gives_a_heatmap_with_values_and_the_best_cell_marked(tmp_path: Path) -> None:
    from matplotlib.patches import Rectangle

    import mlflow_tutorial.tracking.plots as plots

    drawn = sweep_plot(_grid(), "rmse", str(tmp_path / "sweep.png"))
    assert (drawn.kind, drawn.params, drawn.runs, drawn.best_run_id) == (
        "heatmap",
        ["alpha", "l1_ratio"],
        9,
        "run2",
    )
    assert (tmp_path / "sweep.png").read_bytes().startswith(PNG_MAGIC)
    # The figure itself: log alpha axis, nine values written in the cells, a box on the best.
    cells = {(r.params["alpha"], r.params["l1_ratio"]): r.metrics["rmse"] for r in _grid()}
    fig = plots._heatmap(
        {(float(a), float(b)): v for (a, b), v in cells.items()},
        ["alpha", "l1_ratio"],
        "rmse",
        (0.01, 0.8),
    )
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{v:.4g}" for v in cells.values())
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(boxes) == 1
    assert boxes[0].get_x() < 0.01 < boxes[0].get_x() + boxes[0].get_width()
    assert "best (red box): alpha 0.01, l1_ratio 0.8: 48" in ax.get_title()


def test_one_swept_param_gives_a_line_as_svg(tmp_path: Path) -> None:
    runs = [_run(i, 60 - i, alpha=a, l1_ratio=0.5) for i, a in enumerate((0.1, 0.5, 1.0))]
    drawn = sweep_plot(runs, "r2", str(tmp_path / "alpha.svg"))
    assert (drawn.kind, drawn.params, drawn.best_run_id) == ("line", ["alpha"], "run2")
    assert "<svg" in (tmp_path / "alpha.svg").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("runs", "path", "message"),
    [
        pytest.param(
            [_run(i, 50, alpha=0.5) for i in range(3)],
            "x.png",
            "nothing varies between the 3 runs: no swept parameter to plot",
            id="nothing-varies",
        ),
        pytest.param(
            [_run(0, 50, alpha=0.5)],
            "x.png",
            "--plot needs at least two runs with metric 'rmse', found 1",
            id="one-run",
        ),
        pytest.param(
            [_run(i, 50, alpha=i, l1_ratio=i / 10, test_size=i / 5) for i in range(1, 4)],
            "x.png",
            "more than two parameters vary (alpha, l1_ratio, test_size): "
            "narrow the runs with --filter to plot them",
            id="three-vary",
        ),
        pytest.param(_grid(), "x.pdf", "--plot must end in .png or .svg, got 'x.pdf'", id="pdf"),
    ],
)
def test_sweep_plot_errors(runs: list[RunSummary], path: str, message: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        sweep_plot(runs, "rmse", path)
    assert caught.value.message == message
    assert not Path(path).exists()


def test_compare_plot_after_a_real_grid(tmp_path: Path) -> None:
    runner = CliRunner()
    trained = runner.invoke(
        app,
        ["train", "--alpha", "0.01,0.1,1", "--l1-ratio", "0.2,0.5,0.8", "--no-plots"],
    )
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(app, ["compare", "--plot", "sweep.png", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 9
    assert "Wrote a heatmap of rmse over alpha x l1_ratio (9 runs) to sweep.png" in result.stderr
    assert Path("sweep.png").read_bytes().startswith(PNG_MAGIC)

    line = runner.invoke(
        app,
        ["compare", "--filter", "params.l1_ratio = '0.5'", "--top", "2", "--plot", "a.svg"],
    )
    assert line.exit_code == 0, line.output
    assert "Wrote a line of rmse over alpha (2 runs) to a.svg" in line.stderr

    nothing = runner.invoke(app, ["compare", "--top", "1", "--plot", "one.png"])
    assert nothing.exit_code == 1
    assert nothing.stderr == "Error: --plot needs at least two runs with metric 'rmse', found 1\n"
    assert nothing.stdout == ""
    assert not Path("one.png").exists()

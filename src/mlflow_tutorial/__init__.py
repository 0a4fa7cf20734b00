"""mlt: the MLflow tutorial made real.

A library and a command-line tool that walk through MLflow's lifecycle: train and track an
ElasticNet regressor, compare runs, register the best model and serve it over HTTP.
Importing this package is cheap: MLflow, scikit-learn and pandas are imported on first use.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlflow-tutorial")
except PackageNotFoundError:  # running from a source tree without an install (MLproject)
    __version__ = "0.0.0+source"

__all__ = [
    "__version__",
    "Tracking",
    "TrainOptions",
    "TrainResult",
    "train",
    "train_grid",
    "load_dataset",
    "compare_runs",
    "best_run",
    "register_model",
    "list_versions",
    "promote_if_better",
    "point_alias",
    "list_history",
    "diff_runs",
    "predict",
    "MltError",
]


def __getattr__(name: str):
    # Lazy public API: `from mlflow_tutorial import train` without importing every module.
    from importlib import import_module

    homes = {
        "Tracking": "config",
        "TrainOptions": "tracking.training",
        "TrainResult": "tracking.training",
        "train": "tracking.training",
        "train_grid": "tracking.training",
        "load_dataset": "data",
        "compare_runs": "tracking.comparison",
        "best_run": "tracking.comparison",
        "register_model": "registry.versions",
        "list_versions": "registry.versions",
        "promote_if_better": "registry.promotion",
        "point_alias": "registry.promotion",
        "list_history": "registry.history",
        "diff_runs": "tracking.diff",
        "predict": "models.batch",
        "MltError": "errors",
    }
    if name in homes:
        return getattr(import_module(f".{homes[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

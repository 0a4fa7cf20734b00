"""Settings shared by every command: where the tracking store is and which experiment."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "mlt"
EXPERIMENT_ENV = "MLT_EXPERIMENT"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The tracking URI to use: the explicit value, then ``MLFLOW_TRACKING_URI``, then
    MLflow's own local default (``sqlite:///mlflow.db`` in the current directory)."""
    return uri or os.environ.get(TRACKING_URI_ENV) or DEFAULT_TRACKING_URI


def resolve_experiment(name: str | None = None) -> str:
    """The experiment name: the explicit value, then ``MLT_EXPERIMENT``, then ``mlt``."""
    return name or os.environ.get(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT


@dataclass(frozen=True)
class Tracking:
    """Where runs are read from and written to."""

    uri: str
    experiment: str

    @classmethod
    def resolve(cls, uri: str | None = None, experiment: str | None = None) -> Tracking:
        return cls(uri=resolve_tracking_uri(uri), experiment=resolve_experiment(experiment))

    def activate(self) -> None:
        """Point MLflow's fluent API and clients at this store (called when work starts)."""
        import mlflow

        mlflow.set_tracking_uri(self.uri)

    def client(self):
        """An ``MlflowClient`` for this store."""
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

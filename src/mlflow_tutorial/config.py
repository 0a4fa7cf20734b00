"""Settings shared by every command: where the tracking store is and which experiment."""

from __future__ import annotations

import functools
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

        check_reachable(self.uri)
        mlflow.set_tracking_uri(self.uri)

    def client(self):
        """An ``MlflowClient`` for this store."""
        from mlflow import MlflowClient

        check_reachable(self.uri)
        return MlflowClient(tracking_uri=self.uri)


@functools.lru_cache(maxsize=16)
def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """For an ``http(s)://`` tracking server, fail at once with a clear message when nothing
    answers, instead of waiting out MLflow's retries (minutes). Other URIs pass through."""
    if not uri.lower().startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    from .errors import TrackingError

    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):  # noqa: S310
            return
    except urllib.error.HTTPError:
        return  # something answers (a proxy or an older server without /health): let MLflow try
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise TrackingError(f"cannot reach the tracking server at {uri}: {reason}") from exc

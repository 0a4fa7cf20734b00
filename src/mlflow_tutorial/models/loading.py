"""Fetching and loading a model by URI: what serving and batch prediction share."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from ..config import Tracking
from ..errors import ModelNotFoundError
from ..mlflow_errors import mlflow_errors
from ..registry.versions import ModelVersionInfo, resolve_version


def download_model(
    model_uri: str, destination: str, tracking: Tracking | None = None
) -> tuple[str, ModelVersionInfo | None]:
    """Resolve ``model_uri`` (any MLflow model URI) and download it under ``destination``.

    Returns the local model folder and the registered version behind the URI, if any.
    """
    tracking = tracking or Tracking.resolve()
    version = resolve_version(tracking, model_uri)
    tracking.activate()
    import mlflow.artifacts

    with _loading(model_uri):
        path = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=destination)
    if not os.path.exists(os.path.join(path, "MLmodel")):
        raise ModelNotFoundError(f"no MLflow model at {model_uri} (no MLmodel file)")
    return path, version


def load_model(path_or_uri: str) -> Any:
    """A pyfunc model from a local folder or URI."""
    import mlflow.pyfunc

    with _loading(path_or_uri):
        return mlflow.pyfunc.load_model(path_or_uri)


def _loading(model_uri: str) -> contextlib.AbstractContextManager[None]:
    """Errors while fetching or loading a model: ``cannot load model URI: ...``."""
    prefix = f"cannot load model {model_uri}"
    return mlflow_errors(prefix=prefix, error=ModelNotFoundError, also=(OSError,))

"""Fetching and loading a model by URI: what serving and batch prediction share.

:class:`ModelFetch` runs :func:`download_model` in a child process (``python -m
mlflow_tutorial.models.loading``), so that a server can import scikit-learn while MLflow,
in the child, opens the store and copies the model: the two are the largest parts of a
server's start-up, and one no longer waits for the other.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import warnings
from dataclasses import asdict
from typing import Any

from .. import errors
from ..config import Tracking
from ..errors import MltError, ModelNotFoundError
from ..mlflow_errors import as_mlt_error, mlflow_errors
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


class ModelFetch:
    """:func:`download_model` in a child process; :meth:`result` waits for it. The child's
    typed errors are raised again here, with their one-line messages."""

    def __init__(self, model_uri: str, destination: str, tracking: Tracking) -> None:
        self.model_uri = model_uri
        args = [model_uri, destination, tracking.uri, tracking.experiment]
        self._proc = subprocess.Popen(
            [sys.executable, "-m", __name__, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def result(self) -> tuple[str, ModelVersionInfo | None]:
        out, err = self._proc.communicate()
        try:
            answer = json.loads(out)
        except ValueError:
            lines = err.decode(errors="replace").strip().splitlines()
            why = lines[-1] if lines else f"the fetching process exited {self._proc.returncode}"
            raise ModelNotFoundError(f"cannot load model {self.model_uri}: {why}") from None
        if "error" in answer:
            kind = getattr(errors, answer["error"], None)
            if not (isinstance(kind, type) and issubclass(kind, MltError)):
                kind = ModelNotFoundError
            raise kind(answer["message"])
        version = answer["version"]
        return answer["path"], ModelVersionInfo(**version) if version else None

    def cancel(self) -> None:
        """Stop the child if it still runs (start-up interrupted or failed)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()

    def __enter__(self) -> ModelFetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def _fetch_main(argv: list[str]) -> int:
    """The child of :class:`ModelFetch`: fetch, then one JSON object on stdout."""
    model_uri, destination, uri, experiment = argv
    warnings.simplefilter("ignore")  # the parent shows what it means to show
    try:
        path, version = download_model(model_uri, destination, Tracking(uri, experiment))
    except Exception as exc:  # what the command would have said in one line, if it knows
        translated = as_mlt_error(exc, also=(OSError,))
        if translated is None:
            raise  # a traceback on stderr: its last line becomes the parent's error
        json.dump({"error": type(translated).__name__, "message": str(translated)}, sys.stdout)
        return 1
    answer = {"path": path, "version": asdict(version) if version else None}
    json.dump(answer, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(_fetch_main(sys.argv[1:]))

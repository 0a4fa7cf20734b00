"""Serving a model over HTTP (batch prediction is in :mod:`mlflow_tutorial.batch`).

The server speaks MLflow's scoring protocol (GET /ping, /health, /version; POST /invocations):
a fast path answers the requests it can answer exactly like MLflow (``scoring.py``), MLflow's
own scoring app (the FastAPI app ``mlflow models serve`` runs) answers everything else.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..config import Tracking
from ..errors import InvalidParameterError
from ..names import DEFAULT_MODEL_URI
from ..net import DEFAULT_HOST, SERVE_PORT, check_port, http_url
from ..registry.versions import ModelVersionInfo
from ..signals import interrupt, stop_signals
from .loading import download_model
from .scoring import DEFAULT_MAX_BODY_MB


@dataclass(frozen=True)
class ServerInfo:
    """What a starting server tells its user."""

    url: str
    model_uri: str
    version: ModelVersionInfo | None
    example: dict[str, Any] | None
    workers: int

    @property
    def curl(self) -> str:
        body = json.dumps(self.example or {"dataframe_split": {"columns": [], "data": []}})
        return (
            f"curl -s -X POST {self.url}/invocations "
            f"-H 'Content-Type: application/json' -d '{body}'"
        )


def example_request(path: str, rows: int = 2) -> dict[str, Any] | None:
    """A ``dataframe_split`` request body from the model's input example (or its signature)."""
    from mlflow.models import Model

    try:
        metadata = Model.load(path)
    except Exception:  # a model without readable metadata only costs the hint
        return None
    example = None
    try:
        example = metadata.load_input_example(path)
    except Exception:  # an example that cannot be read only costs the hint
        example = None
    if example is not None and hasattr(example, "head"):
        split = example.head(rows).to_dict(orient="split")
        return {"dataframe_split": {"columns": split["columns"], "data": split["data"]}}
    schema = metadata.get_input_schema()
    if schema is not None and schema.has_input_names():
        names = schema.input_names()
        return {"dataframe_split": {"columns": names, "data": [[0.0] * len(names)]}}
    return None


def serve(
    model_uri: str = DEFAULT_MODEL_URI,
    host: str = DEFAULT_HOST,
    port: int = SERVE_PORT,
    workers: int = 1,
    tracking: Tracking | None = None,
    on_ready: Callable[[ServerInfo], None] | None = None,
    max_body_mb: int = DEFAULT_MAX_BODY_MB,
    access_log: bool = False,
) -> None:
    """Serve ``model_uri`` until interrupted (Ctrl-C or SIGTERM stop it cleanly).

    Each worker runs :class:`~mlflow_tutorial.scoring.ScoringApp`: a fast path for the requests
    it can answer exactly like MLflow, MLflow's own scoring app for everything else.
    """
    import uvicorn

    if workers < 1:
        raise InvalidParameterError(f"--workers must be at least 1, got {workers}")
    if max_body_mb < 1:
        raise InvalidParameterError(f"--max-body-mb must be at least 1, got {max_body_mb}")
    check_port(host, port)
    folder = tempfile.mkdtemp(prefix="mlt-serve-")
    try:
        path, version = download_model(model_uri, folder, tracking)
        url = http_url(host, port)
        info = ServerInfo(url, model_uri, version, example_request(path), workers)
        options: dict[str, Any] = dict(
            host=host,
            port=port,
            log_level="info",
            log_config=_stderr_logging(),
            access_log=access_log,
            lifespan="on",
        )
        from .scoring import MAX_BODY_ENV, MODEL_PATH_ENV, ScoringApp

        max_body = max_body_mb * 2**20
        app: Any = ScoringApp(path, max_body) if workers == 1 else None
        if on_ready:
            on_ready(info)
        with _stop_signals_end_serving():
            if app is not None:
                uvicorn.run(app, **options)
            else:
                # Each worker process builds the same app from the downloaded model.
                os.environ[MODEL_PATH_ENV] = path
                os.environ[MAX_BODY_ENV] = str(max_body)
                uvicorn.run(
                    "mlflow_tutorial.models.scoring:app_from_environment",
                    factory=True,
                    workers=workers,
                    **options,
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stderr_logging() -> dict[str, Any]:
    """uvicorn's logging, with the access log on stderr too: stdout is for data."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return config


@contextlib.contextmanager
def _stop_signals_end_serving() -> Iterator[None]:
    """Ctrl-C and SIGTERM end serving normally, so the caller's clean-up runs.

    uvicorn shuts down gracefully on either signal, then raises it again with the handler it
    found installed; with Python's defaults SIGTERM would kill the process before any
    ``finally`` runs. Here that second delivery (or a signal during start-up) ends up as a
    KeyboardInterrupt that is caught: serving is over and ``serve`` returns.
    """

    with stop_signals(interrupt), contextlib.suppress(KeyboardInterrupt):
        yield

"""Settings shared by every command: where the tracking store is and which experiment."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .credentials import use_uri_credentials
from .errors import StoreNotFoundError
from .net import is_http

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "mlt"
EXPERIMENT_ENV = "MLT_EXPERIMENT"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
REGISTRY_URI_ENV = "MLFLOW_REGISTRY_URI"
DEBUG_ENV = "MLT_DEBUG"
# Every environment variable that changes which store, experiment or run mlt works with, or
# how it reports errors: what a clean environment (a test, a subprocess) leaves out.
STORE_ENVIRONMENT = (
    TRACKING_URI_ENV,
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    EXPERIMENT_ENV,
    DEBUG_ENV,
)


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

    def __post_init__(self) -> None:
        # A login in an http(s) URI goes to MLflow's credential variables, not into the URI
        # that is used and printed (see credentials.py).
        registry = os.environ.get(REGISTRY_URI_ENV)
        if registry:
            use_uri_credentials(registry)
        object.__setattr__(self, "uri", use_uri_credentials(self.uri))

    @classmethod
    def resolve(cls, uri: str | None = None, experiment: str | None = None) -> Tracking:
        return cls(uri=resolve_tracking_uri(uri), experiment=resolve_experiment(experiment))

    def activate(self) -> None:
        """Point MLflow's fluent API and clients at this store (called when work starts)."""
        import mlflow

        prepare_store(self.uri)
        mlflow.set_tracking_uri(self.uri)

    def client(self, create: bool = True):
        """An ``MlflowClient`` for this store. With ``create=False`` (commands that only read,
        or write into what exists: compare, models, register) an SQLite store that does not
        exist yet is an error (:meth:`require_store`), not a new empty database."""
        from mlflow import MlflowClient

        from .mlflow_errors import mlflow_errors

        if not create:
            self.require_store()
        prepare_store(self.uri)
        with mlflow_errors(prefix=f"cannot open the tracking store {self.uri}"):
            return MlflowClient(tracking_uri=self.uri)

    def require_store(self) -> None:
        """Raise :class:`StoreNotFoundError` when this is an SQLite store whose file does not
        exist (or is empty), before MLflow opens it, since opening creates it. Other stores
        pass: whether a server or database holds runs is theirs to say."""
        path = sqlite_path(self.uri)
        if path is None:
            return
        # Something else at the path (a directory, a file that is no database): MLflow says so.
        empty = not path.exists() or (path.is_file() and path.stat().st_size == 0)
        if empty:
            raise StoreNotFoundError(f"no runs yet in {self.uri}; train one first: mlt train")


def sqlite_path(uri: str) -> Path | None:
    """The database file of an ``sqlite:///`` URI (None for other stores and in-memory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Serialize store set-up between processes sharing one SQLite file.

    Several processes creating MLflow's schema in a new SQLite file at once crash; they also
    race to create the same experiment. An advisory ``flock`` on the database file itself
    (SQLite uses other, independent POSIX locks) makes them take turns. Other stores pass.
    """
    path = sqlite_path(uri)
    try:
        import fcntl
    except ImportError:  # not on POSIX
        fcntl = None  # type: ignore[assignment]
    if path is None or fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@functools.lru_cache(maxsize=16)
def prepare_store(uri: str) -> None:
    """Once per process and store: fail fast on an unreachable server, and create an SQLite
    store's schema under :func:`store_lock`."""
    check_reachable(uri)
    if sqlite_path(uri) is None:
        return
    from mlflow import MlflowClient

    from .mlflow_errors import mlflow_errors

    prefix = f"cannot open the tracking store {uri}"
    with mlflow_errors(prefix=prefix, also=(OSError,)), store_lock(uri):
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)


@functools.lru_cache(maxsize=16)
def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """For an ``http(s)://`` tracking server, fail at once with a clear message when nothing
    answers, instead of waiting out MLflow's retries (minutes). Other URIs pass through."""
    if not is_http(uri):
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

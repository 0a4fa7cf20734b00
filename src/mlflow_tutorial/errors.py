"""Errors raised by the mlt library.

Every error carries a one-line message meant for people; the CLI prints it as
``Error: <message>`` and exits with status 1.
"""

from __future__ import annotations


class MltError(Exception):
    """Base class of every error the library raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidParameterError(MltError):
    """A hyperparameter or option is out of its valid range."""


class DataError(MltError):
    """The data set cannot be read or does not suit a regression."""


class OutputError(MltError):
    """A result that cannot be written where it was asked for."""


class NotFoundError(MltError):
    """Something named does not exist in the tracking store or registry."""


class StoreNotFoundError(NotFoundError):
    """The tracking store does not exist yet (no ``mlflow.db`` here): nothing was trained."""


class ExperimentNotFoundError(NotFoundError):
    """The named experiment does not exist in the tracking store."""


class RunNotFoundError(NotFoundError):
    """A run id does not name a run, or the run has no usable model."""


class ModelNotFoundError(NotFoundError):
    """A model URI does not resolve to a model."""


class AlreadyExistsError(MltError):
    """Something to be created exists already (and cannot simply be reused)."""


class MissingDependencyError(MltError):
    """An optional extra (``tune``, ``spark``) or a program it needs is not installed."""


class IncomparableError(MltError):
    """Two models that cannot be judged on the same rows (other data, columns or task)."""


class ModelValidationError(MltError):
    """A candidate model failed MLflow's validation against its thresholds or baseline."""


class TrackingError(MltError):
    """The tracking store or server cannot be reached or refused the request."""


class AuthenticationError(TrackingError):
    """The tracking server refused the credentials, or wants some (HTTP 401)."""


class PermissionDeniedError(TrackingError):
    """The tracking server knows the user but refuses the request (HTTP 403)."""


class ConcurrentChangeError(TrackingError):
    """Another process wrote the same record at the same moment, and the store refused this
    write (a unique constraint); the same write, tried again, sees the other one's."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (MLflow's ``message`` when it has one), for
    one-line errors; the exception's type name when the message is empty."""
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

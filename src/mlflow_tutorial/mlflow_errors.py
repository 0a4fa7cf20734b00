"""The boundary between MLflow and mlt: MLflow's exceptions become mlt's typed errors here,
and nowhere else.

MLflow raises ``MlflowException`` with an ``error_code`` (a name of its ``ErrorCode`` enum).
Against an ``http://`` tracking server the server's JSON error arrives as ``RestException``
(a subclass, same codes), and an HTTP status without a JSON body becomes the matching code
(401 -> ``UNAUTHENTICATED``, 403 -> ``PERMISSION_DENIED``). Two more kinds get through
MLflow: SQLAlchemy's errors from an SQL store, and ``requests``' connection errors (raised
as an ``MlflowException`` whose context is the original).

Wrap calls into MLflow in :func:`mlflow_errors`, a context manager (or a decorator)::

    with mlflow_errors(what=f"registered model {name!r}", not_found=ModelNotFoundError):
        client.get_registered_model(name)

MLflow's 403 says neither what was refused nor which permission was missing; the caller knows
both, and says so with an :class:`Access`::

    with mlflow_errors(access=Access("write to", f"experiment {name!r}", "EDIT")):
        ...

:func:`as_mlt_error` applies the same rules to anything that got past (the CLI's last
resort). MLflow is never imported here: a class is recognized only if its module is loaded
already (an exception of a module never imported cannot exist), so the CLI stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from .errors import (
    AlreadyExistsError,
    AuthenticationError,
    ConcurrentChangeError,
    InvalidParameterError,
    MltError,
    ModelValidationError,
    NotFoundError,
    PermissionDeniedError,
    TrackingError,
    first_line,
)

NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
INVALID_CODES = frozenset({"INVALID_PARAMETER_VALUE", "BAD_REQUEST"})
ALREADY_EXISTS_CODES = frozenset({"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"})
# HTTP 401 and 403 from a tracking server (RestException, or MlflowException for a bare status).
UNAUTHENTICATED_CODES = frozenset({"UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED"})
PERMISSION_DENIED_CODES = frozenset({"PERMISSION_DENIED"})

BY_CODE: dict[str, type[MltError]] = {
    **dict.fromkeys(NOT_FOUND_CODES, NotFoundError),
    **dict.fromkeys(INVALID_CODES, InvalidParameterError),
    **dict.fromkeys(ALREADY_EXISTS_CODES, AlreadyExistsError),
}

USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"

# A write that lost a race: two processes inserted the same row at the same moment and the
# database's unique constraint refused the second. MLflow's SQL store reports it as
# BAD_REQUEST with the driver's own words (a tracking server passes them on), so the words are
# all there is to go by: PostgreSQL's, SQLite's, MySQL's and SQL Server's.
UNIQUE_VIOLATION = re.compile(
    r"duplicate key value violates unique constraint|UNIQUE constraint failed"
    r"|Duplicate entry .* for key|Violation of (PRIMARY|UNIQUE) KEY constraint",
    re.IGNORECASE,
)
# The same race in creating a schema: two processes that find a table (or PostgreSQL's enum
# type) missing both create it, and the database refuses the second; by then it exists.
SCHEMA_RACE = re.compile(r'(type|relation|table|index) "?[\w.]+"? already exists', re.IGNORECASE)
CONCURRENT_CHANGE = (
    "another process changed the same record of the tracking store at the same moment; try again"
)


@dataclass(frozen=True)
class Access:
    """What a block of MLflow calls does, for the message of a 403: the user ``may not
    {action} {target} (needs {permission}; ask an admin to grant it{, hint})``."""

    action: str  # "write to", "read", "add versions to"
    target: str  # "experiment 'mlt'", "registered model 'diabetes-elasticnet'"
    permission: str  # MLflow's name for it: READ, EDIT, MANAGE
    hint: str = ""  # another way out: "or use -e for an experiment of your own"

    def denied(self) -> str:
        user = os.environ.get(USERNAME_ENV)
        who = f"user {user!r}" if user else "the tracking server's login"
        hint = f", {self.hint}" if self.hint else ""
        return (
            f"{who} may not {self.action} {self.target} "
            f"(needs {self.permission}; ask an admin to grant it{hint})"
        )


@contextlib.contextmanager
def mlflow_errors(
    what: str | None = None,
    *,
    not_found: type[MltError] = NotFoundError,
    prefix: str | None = None,
    error: type[MltError] | None = None,
    also: tuple[type[BaseException], ...] = (),
    access: Access | None = None,
) -> Iterator[None]:
    """Raise mlt's error for any MLflow, store or connection error in the block.

    - ``what`` makes the block a lookup of that thing: MLflow's "does not exist" (and "not a
      valid name for it") becomes ``not_found(f"{what} not found")``.
    - ``prefix`` says what was being done: ``f"{prefix}: {MLflow's first line}"``.
    - ``error`` is the class for everything else; by default it follows the error code
      (:data:`BY_CODE`, else :class:`TrackingError`).
    - ``also`` adds exception types of the block to translate the same way (``OSError``).
    - ``access`` says what the block does, for a refused permission (403): the message names
      the user, the experiment or model, and the permission needed.

    Refused credentials (401), refused permission (403) and an unreachable server keep their
    own classes whatever is asked. mlt's own errors pass through untouched.
    """
    try:
        yield
    except MltError:
        raise
    except Exception as exc:
        translated = as_mlt_error(
            exc,
            what=what,
            not_found=not_found,
            prefix=prefix,
            error=error,
            also=also,
            access=access,
        )
        if translated is None:
            raise
        raise translated from exc


def as_mlt_error(
    exc: BaseException,
    *,
    what: str | None = None,
    not_found: type[MltError] = NotFoundError,
    prefix: str | None = None,
    error: type[MltError] | None = None,
    also: tuple[type[BaseException], ...] = (),
    access: Access | None = None,
) -> MltError | None:
    """mlt's error for ``exc`` (see :func:`mlflow_errors`); None when ``exc`` is not an
    MLflow, store or connection error, nor one of ``also``."""
    if isinstance(exc, MltError):
        return exc
    connection = _connection_error(exc)
    if connection is not None:
        return TrackingError(
            _prefixed(prefix, f"cannot reach the tracking server: {first_line(connection)}")
        )
    if _loaded_instance(
        exc, "mlflow.models.evaluation.validation", "ModelValidationFailedException"
    ):
        # validate_evaluation_results: the candidate did not pass (its message says why).
        return ModelValidationError(first_line(exc))
    is_mlflow = is_mlflow_error(exc)
    if not (is_mlflow or _is_store_error(exc) or isinstance(exc, also)):
        return None
    code = str(getattr(exc, "error_code", "")) if is_mlflow else ""
    if is_unique_violation(exc, code) or (_is_store_error(exc) and SCHEMA_RACE.search(str(exc))):
        return ConcurrentChangeError(_prefixed(prefix, CONCURRENT_CHANGE))
    if code in UNAUTHENTICATED_CODES:
        return AuthenticationError(credentials_refused())
    if code in PERMISSION_DENIED_CODES:
        if access is not None:
            return PermissionDeniedError(access.denied())
        return PermissionDeniedError(_prefixed(prefix, permission_denied()))
    if what is not None and code in NOT_FOUND_CODES | INVALID_CODES:
        return not_found(f"{what} not found")
    cls = error or BY_CODE.get(code, TrackingError)
    return cls(_prefixed(prefix, reason(exc)))


def is_unique_violation(exc: BaseException, code: str = "") -> bool:
    """Whether ``exc`` is the database refusing a duplicate row (see :data:`UNIQUE_VIOLATION`):
    SQLAlchemy's ``IntegrityError`` itself, or MLflow's BAD_REQUEST (or internal error) that
    carries its text, from an SQL store or through a tracking server."""
    if _loaded_instance(exc, "sqlalchemy.exc", "IntegrityError"):
        return bool(UNIQUE_VIOLATION.search(str(exc)))
    if code not in INVALID_CODES | {"INTERNAL_ERROR", ""}:
        return False
    return bool(UNIQUE_VIOLATION.search(str(getattr(exc, "message", None) or exc)))


def credentials_refused() -> str:
    """The message for HTTP 401."""
    user = os.environ.get(USERNAME_ENV)
    if user:
        return f"the tracking server refused the credentials for user {user!r} (401)"
    return (
        "the tracking server wants credentials (401): set MLFLOW_TRACKING_USERNAME and "
        "MLFLOW_TRACKING_PASSWORD"
    )


def permission_denied() -> str:
    """The message for HTTP 403."""
    user = os.environ.get(USERNAME_ENV)
    return f"permission denied for user {user!r} (403)" if user else "permission denied (403)"


def is_mlflow_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an ``MlflowException`` (``RestException`` included)."""
    return _loaded_instance(exc, "mlflow.exceptions", "MlflowException")


def reason(exc: BaseException) -> str:
    """A one-line reason: the OS's words for an OSError, the driver's for a store error,
    else the first line of the message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return first_line(getattr(exc, "orig", None) or exc)


def _prefixed(prefix: str | None, message: str) -> str:
    return f"{prefix}: {message}" if prefix else message


def _is_store_error(exc: BaseException) -> bool:
    return _loaded_instance(exc, "sqlalchemy.exc", "SQLAlchemyError")


def _connection_error(exc: BaseException) -> BaseException | None:
    """The ``requests`` connection error or timeout behind ``exc`` (itself, or what it was
    raised from or during), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _loaded_instance(current, "requests.exceptions", "ConnectionError") or (
            _loaded_instance(current, "requests.exceptions", "Timeout")
        ):
            return current
        current = current.__cause__ or current.__context__
    return None


def _loaded_instance(exc: BaseException, module: str, name: str) -> bool:
    cls = getattr(sys.modules.get(module), name, None)
    return isinstance(cls, type) and isinstance(exc, cls)


# ---------------------------------------------------------------- the scoring protocol's errors


T = TypeVar("T")
PERMISSION_ATTEMPTS = 3


def until_permitted(call: Callable[[], T]) -> T:
    """``call()``, asked again (up to ``PERMISSION_ATTEMPTS`` times, 0.5 s then 1 s apart)
    while it raises :class:`PermissionDeniedError`. On a server with logins, an experiment or
    a registered model that another process of the same user has just created is refused
    for a moment: its creator's permission is written after the object itself."""
    for attempt in range(1, PERMISSION_ATTEMPTS):
        try:
            return call()
        except PermissionDeniedError:
            time.sleep(0.5 * attempt)
    return call()

"""The one boundary where MLflow's exceptions become mlt's typed errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy.exc
from mlflow.exceptions import MlflowException, RestException
from mlflow.protos.databricks_pb2 import (
    BAD_REQUEST,
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from typer.testing import CliRunner

from mlflow_tutorial.cli import app
from mlflow_tutorial.errors import (
    AlreadyExistsError,
    AuthenticationError,
    ConcurrentChangeError,
    InvalidParameterError,
    ModelNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    TrackingError,
)
from mlflow_tutorial.mlflow_errors import CONCURRENT_CHANGE, as_mlt_error, mlflow_errors

SRC = Path(__file__).parent.parent / "src" / "mlflow_tutorial"


@pytest.mark.parametrize(
    ("exc", "kind", "message"),
    [
        pytest.param(
            MlflowException("No run x", error_code=RESOURCE_DOES_NOT_EXIST),
            NotFoundError,
            "No run x",
            id="does-not-exist",
        ),
        pytest.param(
            MlflowException("bad filter", error_code=INVALID_PARAMETER_VALUE),
            InvalidParameterError,
            "bad filter",
            id="invalid-parameter",
        ),
        pytest.param(
            MlflowException("exists\nmore", error_code=RESOURCE_ALREADY_EXISTS),
            AlreadyExistsError,
            "exists",
            id="already-exists-first-line",
        ),
        pytest.param(MlflowException("boom"), TrackingError, "boom", id="internal-error"),
        pytest.param(
            RestException({"error_code": "PERMISSION_DENIED", "message": "no"}),
            PermissionDeniedError,
            "permission denied (403)",
            id="rest-403",
        ),
        pytest.param(
            RestException({"error_code": "UNAUTHENTICATED", "message": "who?"}),
            AuthenticationError,
            "the tracking server wants credentials (401): set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD",
            id="rest-401-no-user",
        ),
        # A write that lost a race: the database's words never reach the user.
        pytest.param(
            RestException(
                {
                    "error_code": "BAD_REQUEST",
                    "message": "(psycopg.errors.UniqueViolation) duplicate key value violates "
                    'unique constraint "registered_model_alias_pk"\nDETAIL:  Key (workspace, '
                    "name, alias)=(default, m, champion) already exists.\n[SQL: INSERT ...]",
                }
            ),
            ConcurrentChangeError,
            CONCURRENT_CHANGE,
            id="postgres-unique-violation-through-a-server",
        ),
        pytest.param(
            MlflowException(
                "(sqlite3.IntegrityError) UNIQUE constraint failed: "
                "registered_model_aliases.workspace, registered_model_aliases.name, "
                "registered_model_aliases.alias\n[SQL: INSERT ...]",
                error_code=BAD_REQUEST,
            ),
            ConcurrentChangeError,
            CONCURRENT_CHANGE,
            id="sqlite-unique-violation",
        ),
        # Two processes creating the same schema at once (Optuna's study tables).
        pytest.param(
            sqlalchemy.exc.ProgrammingError(
                "CREATE TYPE studydirection AS ENUM ('NOT_SET', 'MINIMIZE', 'MAXIMIZE')",
                None,
                Exception('type "studydirection" already exists'),
            ),
            ConcurrentChangeError,
            CONCURRENT_CHANGE,
            id="postgres-schema-race",
        ),
    ],
)
def test_codes_map_to_typed_errors(exc, kind, message):
    translated = as_mlt_error(exc)
    assert type(translated) is kind
    assert translated.message == message


def test_lookup_prefix_and_forced_class():
    missing = MlflowException("x", error_code=RESOURCE_DOES_NOT_EXIST)
    with (
        pytest.raises(ModelNotFoundError) as raised,
        mlflow_errors("alias 'a'", not_found=ModelNotFoundError),
    ):
        raise missing
    assert raised.value.message == "alias 'a' not found"
    assert raised.value.__cause__ is missing

    with (
        pytest.raises(ModelNotFoundError) as raised,
        mlflow_errors(prefix="cannot load model m", error=ModelNotFoundError, also=(OSError,)),
    ):
        raise IsADirectoryError(21, "Is a directory")
    assert raised.value.message == "cannot load model m: Is a directory"


def test_credentials_keep_their_class_whatever_is_asked(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
    refused = RestException({"error_code": "UNAUTHENTICATED", "message": "bad"})
    with (
        pytest.raises(AuthenticationError) as raised,
        mlflow_errors("run r", prefix="p", error=ModelNotFoundError),
    ):
        raise refused
    assert (
        raised.value.message == "the tracking server refused the credentials for user 'ana' (401)"
    )


def test_other_errors_pass_through():
    assert as_mlt_error(ValueError("x")) is None
    with pytest.raises(KeyError), mlflow_errors():
        raise KeyError("k")


class _Refusing(BaseHTTPRequestHandler):
    """A tracking server that answers /health and refuses everything else, as MLflow's
    basic-auth app does: a bare 401 or 403 with a text body."""

    status = 401

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path.startswith("/health"):
            self._reply(200, b"OK")
        else:
            self._reply(self.status, b"You are not authenticated.")

    do_POST = do_GET  # noqa: N815

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(params=[401, 403])
def refusing_server(request) -> Iterator[tuple[str, int]]:
    handler = type("Handler", (_Refusing,), {"status": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", request.param
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("command", [["models"], ["compare"]])
def test_refused_credentials_over_http_are_one_line(refusing_server, command, monkeypatch):
    uri, status = refusing_server
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    result = CliRunner().invoke(app, [*command, "--tracking-uri", uri])
    expected = {
        401: "the tracking server refused the credentials for user 'ana' (401)",
        # mlt compare knows what it was reading; mlt models searches the whole registry.
        403: {
            "compare": "user 'ana' may not read experiment 'mlt' (needs READ; ask an admin to "
            "grant it)",
            "models": "permission denied for user 'ana' (403)",
        }[command[0]],
    }[status]
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {expected}\n")


def test_no_other_module_translates_mlflow_errors():
    # The scoring protocol's replies have a field named error_code: that module may name it.
    allowed = {"models/scoring.py": {"error_code"}}
    checked = 0
    for path in SRC.rglob("*.py"):
        name = path.relative_to(SRC).as_posix()
        if name == "mlflow_errors.py":
            continue
        text = path.read_text()
        checked += 1
        for word in ("MlflowException", "RestException", "error_code", "SQLAlchemyError"):
            if word not in allowed.get(name, set()):
                assert word not in text, f"{name} mentions {word}"
    assert checked > 20  # every module, those in the subpackages too

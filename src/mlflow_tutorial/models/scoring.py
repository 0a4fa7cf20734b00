"""The scoring server: a fast path in front of MLflow's own scoring app.

``ScoringApp`` is a small ASGI app. It answers ``/ping``, ``/health`` and ``/version`` itself,
and ``POST /invocations`` requests of exact known shapes (``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs`` records, CSV) for a model it has checked at
start-up: a scikit-learn model whose arithmetic it repeats in numpy (``StandardScaler`` steps
and a linear regressor on numeric columns, :mod:`.fastpath`; or a raw-table pipeline with
imputers, one-hot text and ElasticNet or LogisticRegression labels, :mod:`.fastpath_tables`),
verified bit for bit against the model's own ``predict``, behind a column signature without
params. Everything else, and
anything in doubt, goes to MLflow's scoring app (``mlflow.pyfunc.scoring_server.init``), built
in the background once the server listens, so both give the same answers.

Deliberate differences from ``mlflow models serve`` (documented in the README): request bodies
are limited (413, counted while reading), error bodies are short (no stack trace, no echo of
the payload), a missing content type is a 415 and deeply nested JSON a 400 (never a 500), and a
client that goes away mid-request is not worth a traceback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .fastpath import Unsupported
from .qualify import check_model

if TYPE_CHECKING:
    pass

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_MAX_BODY_MB = 16
MODEL_PATH_ENV = "MLT_SERVE_MODEL_PATH"
MAX_BODY_ENV = "MLT_SERVE_MAX_BODY_BYTES"

JSON = "application/json"
CSV = "text/csv"

logger = logging.getLogger("uvicorn.error")


# ---------------------------------------------------------------- MLflow's app, built once


class Fallback:
    """MLflow's scoring app for the model, built in a background thread on first need."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._future: concurrent.futures.Future[Any] | None = None
        self._lock = threading.Lock()

    def start(self) -> concurrent.futures.Future[Any]:
        with self._lock:
            if self._future is None:
                future: concurrent.futures.Future[Any] = concurrent.futures.Future()
                self._future = future
                threading.Thread(
                    target=self._build, args=(future,), name="mlflow-app", daemon=True
                ).start()
            return self._future

    def _build(self, future: concurrent.futures.Future[Any]) -> None:
        try:
            from mlflow.pyfunc import load_model, scoring_server

            future.set_result(scoring_server.init(load_model(self.path)))
            gc.freeze()  # MLflow's objects: no garbage collection pass needs to walk them
        except BaseException as exc:  # reported to every request that needs the app
            logger.error("MLflow's scoring app could not be built: %s", str(exc)[:300])
            future.set_exception(exc)

    async def app(self) -> Any:
        return await asyncio.wrap_future(self.start())


# ---------------------------------------------------------------- the ASGI app


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


@dataclass
class Counts:
    """Requests to /invocations answered by the fast path and by MLflow's handler."""

    fast: int = 0
    mlflow: int = 0
    rejected: int = 0  # answered with an error before any parsing (size, content type, JSON)
    by_reason: dict[str, int] = field(default_factory=dict)


class ScoringApp:
    """The ASGI app ``mlt serve`` runs (see the module docstring)."""

    def __init__(self, path: str, max_body: int = DEFAULT_MAX_BODY_MB * 2**20) -> None:
        self.path = path
        self.max_body = max_body
        self.check = check_model(path)
        self.fast = self.check.model
        self.fallback = Fallback(path)
        self.counts = Counts()
        self.version = _mlflow_version().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await self._forward(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path == "/invocations" and method == "POST":
            with contextlib.suppress(ClientGone):  # nobody to answer; not worth a log line
                await self._invocations(scope, receive, send)
        elif method == "GET" and path in ("/ping", "/health"):
            await _respond(send, 200, b"\n", JSON)
        elif method == "GET" and path == "/version":
            await _respond(send, 200, self.version, JSON)
        else:
            await self._forward(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                logger.info("%s", self.check.describe())
                # What start-up loaded stays: garbage collection passes need not walk it (a
                # full pass over the libraries' objects would stall requests).
                gc.freeze()
                self.fallback.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _invocations(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type, length = None, None
        for key, value in scope["headers"]:
            if key == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
            elif key == b"content-length":
                length = value
        if content_type is None:
            self.counts.rejected += 1
            await _respond(
                send,
                415,
                b"Missing Content-Type header: use application/json or text/csv.",
                "text/plain",
            )
            return
        try:
            body = await _read_body(receive, self.max_body, length)
        except BodyTooLarge:
            self.counts.rejected += 1
            message = f"Request body larger than the limit of {self.max_body} bytes."
            await _error(send, 413, "REQUEST_LIMIT_EXCEEDED", message)
            return
        mime = _fast_mime(content_type)
        if mime is not None and self.fast is not None:
            try:
                doc = _parse_json(body) if mime == JSON else None
            except _BadJson as exc:
                self.counts.rejected += 1
                await _error(send, 400, "BAD_REQUEST", f"Invalid input. {exc}")
                return
            try:
                X = self.fast.from_json(doc, body) if mime == JSON else self.fast.from_csv(body)
                reply = self.fast.answer(X)
            except Exception as exc:  # Unsupported or any doubt: MLflow's handler answers
                reason = str(exc) if isinstance(exc, Unsupported) else type(exc).__name__
                self.counts.by_reason[reason] = self.counts.by_reason.get(reason, 0) + 1
            else:
                self.counts.fast += 1
                await _respond(send, 200, reply, JSON)
                return
        elif mime == JSON:
            try:
                _parse_json(body)
            except _BadJson as exc:
                self.counts.rejected += 1
                await _error(send, 400, "BAD_REQUEST", f"Invalid input. {exc}")
                return
        self.counts.mlflow += 1
        await self._forward(scope, _replay(body, receive), send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let MLflow's app answer, with its error bodies made short."""
        try:
            app = await self.fallback.app()
        except Exception:
            await _error(send, 503, "TEMPORARILY_UNAVAILABLE", "MLflow's handler is not available.")
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await app(scope, receive, capture)
        except RecursionError:
            await _error(send, 400, "BAD_REQUEST", "Invalid input. JSON nested too deeply.")
            return
        except ClientGone:
            raise
        except Exception as exc:
            logger.error("MLflow's handler failed: %s: %s", type(exc).__name__, str(exc)[:200])
            await _error(send, 500, "INTERNAL_ERROR", "The model server failed on this request.")
            return
        if not start:
            return
        status = start["status"]
        body = b"".join(chunks)
        if status < 400:
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        await _short_error(send, status, start.get("headers", []), body)


def _mlflow_version() -> str:
    from importlib.metadata import version

    return version("mlflow")


def _fast_mime(content_type: str) -> str | None:
    """``application/json`` or ``text/csv`` if the fast path takes this content type exactly as
    MLflow would (optionally ``; charset=utf-8``), else None."""
    parts = [part.strip() for part in content_type.split(";")]
    if parts[0] not in (JSON, CSV):
        return None
    for parameter in parts[1:]:
        key, _, value = parameter.partition("=")
        if key != "charset" or value.lower() != "utf-8":
            return None
    return parts[0]


class _BadJson(Exception):
    pass


def _parse_json(body: bytes) -> Any:
    """orjson's parse; where it fails, Python's json decides as MLflow's handler would (it
    accepts NaN, a BOM, UTF-16...): a body neither takes is a 400 without echoing it."""
    import orjson

    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        json.loads(body)
    except UnicodeDecodeError as exc:
        raise _BadJson(f"The body is not valid UTF-8 ({exc.reason} at byte {exc.start}).") from None
    except json.JSONDecodeError as exc:
        raise _BadJson(f"The body is not valid JSON ({exc.msg} at character {exc.pos}).") from None
    except RecursionError:
        raise _BadJson("JSON nested too deeply.") from None
    return None  # valid for Python's json only: MLflow's handler takes it


async def _read_body(receive: Receive, limit: int, length: bytes | None) -> bytes:
    """The request body, refused as soon as it passes ``limit`` bytes."""
    if length is not None:
        try:
            if int(length) > limit:
                raise BodyTooLarge
        except ValueError:
            pass
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", content_type.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, code: str, message: str) -> None:
    await _respond(send, status, scoring_error_body(code, message), JSON)


async def _short_error(send: Send, status: int, headers: list[Any], body: bytes) -> None:
    """MLflow's error reply with its message cut to the problem: no stack trace, no payload."""
    content_type = dict(headers).get(b"content-type", b"").decode("latin-1")
    if status == 415:
        message = b"Unsupported content type: use application/json or text/csv (UTF-8)."
        await _respond(send, 415, message, "text/plain")
        return
    if content_type.startswith(JSON):
        short = short_scoring_error(body)
        if short is not None:
            await _respond(send, status, short, JSON)
            return
        if len(body) <= MAX_ERROR_MESSAGE:  # FastAPI's {"detail": "Not Found"} and the like
            await _respond(send, status, body, content_type)
            return
    text = short_message(body.decode("utf-8", "replace"))
    await _respond(send, status, text.encode(), "text/plain")


# ---------------------------------------------------------------- running it


def app_from_environment() -> ScoringApp:
    """The app of a worker process (``uvicorn --workers``): model folder and limit from the
    environment the serving process set."""
    return ScoringApp(os.environ[MODEL_PATH_ENV], int(os.environ[MAX_BODY_ENV]))


# ---------------------------------------------------------------- error bodies


MAX_ERROR_MESSAGE = 300  # characters of an error message; error bodies stay far below 10 KB


def scoring_error_body(code: str, message: str) -> bytes:
    """An error reply of MLflow's scoring protocol (``{"error_code": ..., "message": ...}``),
    its message cut to ``MAX_ERROR_MESSAGE`` characters."""
    return json.dumps({"error_code": code, "message": message[:MAX_ERROR_MESSAGE]}).encode()


def short_scoring_error(body: bytes) -> bytes | None:
    """MLflow's scoring server's JSON error reply, same code, with only the message's statement
    of the problem (no stack trace, no echo of the request); None if ``body`` is not one."""
    try:
        error = json.loads(body)
    except ValueError:
        return None
    if not isinstance(error, dict) or "error_code" not in error:
        return None
    return scoring_error_body(str(error["error_code"]), short_message(error.get("message")))


def short_message(message: object) -> str:
    """The part of an MLflow error message that names the problem, one line, a few hundred
    characters at most: MLflow's messages quote the request's data and may carry a traceback."""
    text = str(message or "")
    if "Error: " in text:
        head = text.split("Error: ", 1)[0].split("\n", 1)[0]
        head = head.split(" data '", 1)[0].split(" '", 1)[0].strip().rstrip(".")
        detail = text.rsplit("Error: ", 1)[1].strip().split("\n", 1)[0]
        text = f"{head}. {detail}" if head else detail
    text = text.strip().split("\n", 1)[0]
    if len(text) > MAX_ERROR_MESSAGE:
        text = text[: MAX_ERROR_MESSAGE - 3] + "..."
    return text

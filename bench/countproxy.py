"""A tiny HTTP proxy that counts the requests passing through it.

Put between a client and a tracking server (the client's tracking URI is the proxy's URL), it
forwards every request as it is, headers and body, and records its method and path, so a
benchmark can say how many REST calls one ``mlt train`` makes. Standard library only.
"""

from __future__ import annotations

import collections
import http.client
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_MODEL_ID = re.compile(r"/m-[0-9a-f]{32}\b")
_ARTIFACT = re.compile(r"(/mlflow-artifacts/artifacts/).*")


def endpoint(request: str) -> str:
    """``"METHOD /path"`` without its query, a logged model's id as ``{model_id}`` and an
    artifact's own path as ``...``: one name per REST endpoint."""
    request = request.split("?", 1)[0]
    request = _MODEL_ID.sub("/{model_id}", request)
    return _ARTIFACT.sub(r"\1...", request)


# Hop-by-hop headers: for one connection, never forwarded.
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "trailer"})


class CountingProxy:
    """``with CountingProxy(upstream) as proxy:`` a proxy on 127.0.0.1 at ``proxy.url``."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @contextmanager
    def counting(self) -> Iterator[list[tuple[str, str]]]:
        """The requests made inside the block (filled in when the block ends)."""
        with self._lock:
            start = len(self.requests)
        found: list[tuple[str, str]] = []
        try:
            yield found
        finally:
            with self._lock:
                found.extend(self.requests[start:])

    @staticmethod
    def by_endpoint(requests: list[tuple[str, str]]) -> dict[str, int]:
        """``{"POST /api/2.0/mlflow/runs/create": 4, ...}`` (see :func:`endpoint`)."""
        counts = collections.Counter(endpoint(f"{method} {path}") for method, path in requests)
        return dict(counts.most_common())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _forward(self) -> None:
                with proxy._lock:
                    proxy.requests.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                upstream = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=600
                )
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in _HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        return Handler

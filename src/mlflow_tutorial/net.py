"""Hosts, ports and URIs: the small network facts that serving, batch prediction, the UI and
the tracking configuration share.

Only the standard library is imported here: the CLI imports this module at start-up.
"""

from __future__ import annotations

import errno
import socket

from .errors import InvalidParameterError

DEFAULT_HOST = "127.0.0.1"
SERVE_PORT = 5001  # mlt serve: clear of mlflow ui and mlflow models serve (5000)
UI_PORT = 5000  # mlt ui: MLflow's own default
ALL_INTERFACES = frozenset({"0.0.0.0", "::", "*", ""})


def is_http(uri: str) -> bool:
    """True for an ``http(s)://`` URI: a tracking server rather than a local store."""
    return uri.lower().startswith(("http://", "https://"))


def listens_everywhere(host: str) -> bool:
    """True for a host that binds every interface (0.0.0.0, ::), so other machines reach it."""
    return host.strip().strip("[]") in ALL_INTERFACES


def http_url(host: str, port: int) -> str:
    """``http://host:port``, with IPv6 hosts in brackets."""
    host = host.strip("[]")
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def check_port(host: str, port: int) -> None:
    """Fail early, with a clear message, if ``host:port`` cannot be bound."""
    if not 1 <= port <= 65535:
        raise InvalidParameterError(f"port must be between 1 and 65535, got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except socket.gaierror as exc:
            raise InvalidParameterError(f"unknown host {host!r}: {exc.strerror or exc}") from exc
        except OSError as exc:
            hint = "choose another --port" if exc.errno == errno.EADDRINUSE else "check --host"
            raise InvalidParameterError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; {hint}"
            ) from exc

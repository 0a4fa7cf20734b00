"""Ctrl-C and SIGTERM handling shared by the long-lived commands (``serve``, ``ui``)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any


def interrupt(signum: int, frame: object) -> None:
    """A signal handler that turns the signal into a KeyboardInterrupt."""
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals(handler: Any) -> Iterator[None]:
    """Handle SIGINT and SIGTERM with ``handler`` inside the block (main thread only)."""
    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals to the caller
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

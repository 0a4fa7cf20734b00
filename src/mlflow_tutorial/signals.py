"""Ctrl-C and SIGTERM handling: the long-lived commands' handlers (``serve``, ``ui``), and
holding a signal while MLflow or Optuna write a record that must not be left half-done."""

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


class DeferredSignals:
    """From now until :meth:`release`, SIGINT and SIGTERM are noted, not acted on; release
    then raises KeyboardInterrupt if one came. Main thread only (elsewhere a no-op), and a
    no-op inside another hold, which then acts for both."""

    def __init__(self) -> None:
        self.caught: list[int] = []
        self.previous: dict[int, Any] = {}
        if isinstance(getattr(signal.getsignal(signal.SIGINT), "__self__", None), DeferredSignals):
            return
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._note)
        except ValueError:  # not the main thread
            pass

    def _note(self, signum: int, _frame: object) -> None:
        self.caught.append(signum)

    def release(self, raise_now: bool = True) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}
        if self.caught and raise_now:
            raise KeyboardInterrupt

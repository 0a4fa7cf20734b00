"""Ctrl-C and SIGTERM handling: the long-lived commands' handlers (``serve``, ``ui``), and
holding a signal while MLflow or Optuna write a record that must not be left half-done."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def interrupt(signum: int, frame: object) -> None:
    """A signal handler that turns the signal into a KeyboardInterrupt."""
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals(handler: Any) -> Iterator[None]:
    """Handle SIGINT and SIGTERM with ``handler`` inside the block (main thread only)."""
    try:
        previous = _swap(dict.fromkeys(STOP_SIGNALS, handler))
    except ValueError:  # not the main thread: leave signals to the caller
        yield
        return
    try:
        yield
    finally:
        _swap(previous)


class DeferredSignals:
    """From now until :meth:`release`, SIGINT and SIGTERM are noted, not acted on; release
    then raises KeyboardInterrupt if one came. A second signal does not wait: the record
    being written may be left half-done, but a user who insists is not kept waiting (a
    store that does not answer can take minutes). Main thread only (elsewhere a no-op), and
    a no-op inside another hold, which then acts for both."""

    def __init__(self) -> None:
        self.caught: list[int] = []
        self.previous: dict[int, Any] = {}
        if isinstance(getattr(signal.getsignal(signal.SIGINT), "__self__", None), DeferredSignals):
            return
        with contextlib.suppress(ValueError):  # not the main thread
            self.previous = _swap(dict.fromkeys(STOP_SIGNALS, self._note))

    def _note(self, signum: int, _frame: object) -> None:
        self.caught.append(signum)
        if len(self.caught) > 1:
            self.release()

    def release(self, raise_now: bool = True) -> None:
        previous, self.previous = self.previous, {}
        if previous:
            _swap(previous)
        if self.caught and raise_now:
            raise KeyboardInterrupt


def _swap(handlers: dict[int, Any]) -> dict[int, Any]:
    """Install ``handlers`` with both signals blocked meanwhile (one arriving between the two
    installs would find a handler of each kind); return the handlers they replace."""
    mask = getattr(signal, "pthread_sigmask", None)  # not on Windows
    blocked = mask(signal.SIG_BLOCK, STOP_SIGNALS) if mask else None
    try:
        return {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    finally:
        if mask:
            mask(signal.SIG_SETMASK, blocked)

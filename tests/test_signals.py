"""Holding Ctrl-C and SIGTERM while a record is written (mlflow_tutorial.signals)."""

from __future__ import annotations

import os
import signal

import pytest

from mlflow_tutorial.signals import DeferredSignals, interrupt, stop_signals


def send(sig: int) -> None:
    os.kill(os.getpid(), sig)  # Python runs the handler before the next line


def test_a_held_signal_acts_on_release_and_the_handlers_come_back() -> None:
    with stop_signals(interrupt):
        held = DeferredSignals()
        send(signal.SIGTERM)
        assert held.caught == [signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt):
            held.release()
        assert signal.getsignal(signal.SIGINT) is interrupt
        assert signal.getsignal(signal.SIGTERM) is interrupt


def test_a_second_signal_does_not_wait() -> None:
    with stop_signals(interrupt):
        held = DeferredSignals()
        send(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            send(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is interrupt
        assert signal.getsignal(signal.SIGTERM) is interrupt
        held.release(raise_now=False)  # nothing left to restore
        assert signal.getsignal(signal.SIGTERM) is interrupt


def test_a_hold_inside_a_hold_leaves_it_to_the_outer_one() -> None:
    with stop_signals(interrupt):
        outer = DeferredSignals()
        inner = DeferredSignals()
        send(signal.SIGTERM)
        inner.release()  # no-op: the outer hold noted the signal
        assert outer.caught == [signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt):
            outer.release()
        assert signal.getsignal(signal.SIGTERM) is interrupt


def test_nothing_held_nothing_raised() -> None:
    with stop_signals(interrupt):
        DeferredSignals().release()
        assert signal.getsignal(signal.SIGINT) is interrupt

"""Ctrl-C during code that cannot take it: held back, then raised at a clean point."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from fluxstream.cli import _caused_by_interrupt
from fluxstream.interrupts import held


def _until(cond, timeout=10.0):
    """Wait (sleeping: the interpreter runs signal handlers between the sleeps) until
    ``cond()``; a signal is delivered asynchronously, possibly through another thread."""
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.001)
    return cond()


def test_a_ctrl_c_inside_the_block_is_raised_after_it():
    noted = False
    with pytest.raises(KeyboardInterrupt):
        with held() as h:
            os.kill(os.getpid(), signal.SIGINT)
            noted = _until(lambda: h.interrupted)  # handled in here, and not raised
        pytest.fail("the held Ctrl-C must be raised as the block ends")
    assert noted


def test_without_a_ctrl_c_nothing_happens_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGINT)
    with held() as h:
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before and not h.interrupted


def test_a_ctrl_c_taken_by_another_thread_is_still_held():
    # The kernel may hand the signal to any thread that does not block it (BLAS's
    # workers): Python still runs the handler in the main thread, which only notes it.
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    noted = False
    try:
        with pytest.raises(KeyboardInterrupt):
            with held() as h:
                signal.pthread_kill(t.ident, signal.SIGINT)
                noted = _until(lambda: h.interrupted)
    finally:
        stop.set()
        t.join()
    assert noted


def test_an_interrupt_wrapped_by_the_interpreter_is_recognised():
    # A class body's __set_name__ wraps the KeyboardInterrupt in a RuntimeError.
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as ki:
            raise RuntimeError("Error calling __set_name__") from ki
    except RuntimeError as e:
        assert _caused_by_interrupt(e)
    assert not _caused_by_interrupt(RuntimeError("a bug"))
    try:
        try:
            raise ValueError("first")
        except ValueError:
            raise ImportError("then")  # implicit context, no interrupt in it
    except ImportError as e:
        assert not _caused_by_interrupt(e)

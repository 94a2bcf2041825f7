"""Ctrl-C held back while code that cannot take it runs.

CPython raises KeyboardInterrupt at whatever bytecode runs when SIGINT arrives. During an
import that is not always a clean exit: measured on ``fluxstream listen`` start-up, the
interrupt landed in importlib's module-lock callback, where the interpreter prints and
drops it (the program then ran on, uninterrupted), in a class body's ``__set_name__``,
which re-raises it as a RuntimeError, and in numba's initialisation, which turned it into
``ImportError: initialization failed``. :func:`held` gives SIGINT a handler that only notes
it for the length of such code, and raises the KeyboardInterrupt right after it, where the
caller's ``except KeyboardInterrupt`` sees it. (Blocking the signal would not do: the kernel
hands a process-wide SIGINT to any thread that does not block it, BLAS's among them, and
Python then raises it in the main thread all the same.)
"""

from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["held"]


class _Held:
    """What :func:`held` yields: whether a Ctrl-C came meanwhile (the body may poll it to
    cut a long start-up short)."""

    interrupted = False


@contextlib.contextmanager
def held():
    """Note a Ctrl-C during the ``with`` body instead of raising it there; raise it (through
    the handler that was in place) when the body has finished. Yields an object whose
    ``interrupted`` says whether one came.

    Main thread only (Python runs signal handlers there); elsewhere it only yields.
    """
    state = _Held()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def note(signum, frame):
        state.interrupted = True

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield state
    finally:
        # (None: a handler installed outside Python; the default is the nearest.)
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if state.interrupted:
        if callable(previous):
            previous(signal.SIGINT, None)  # Python's default raises KeyboardInterrupt
        elif previous == signal.SIG_DFL:
            signal.raise_signal(signal.SIGINT)

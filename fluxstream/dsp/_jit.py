"""Optional compiled kernels, mostly for the live one-frame paths (numba, the ``jit`` extra).

A live hop is one frame, and on one frame a numpy call costs far more in dispatch than in
arithmetic: a descriptor that takes six calls over 1025 bins spends most of its time
between them. Where a stage's one-frame path is a chain of such calls, it may also carry a
compiled kernel that does the same arithmetic in one pass. The kernels are used when numba
is installed (``pip install "fluxstream[jit]"``) and the environment does not say
``FLUXSTREAM_JIT=0``; otherwise the numpy paths run, with the same results (the tests hold
each kernel to its numpy path). A few kernels also serve many frames per call (file mode)
where a row loop beats numpy's: rolloff, contrast, and the cumulative sums of the
time-domain pitch estimators.

A live engine compiles every kernel before it opens its source (:func:`warm`), never on the
audio thread; the machine code is cached on disk (numba's ``cache=True``), so only the first
run after an install compiles (some seconds; later runs load it in a fraction of a second).
"""

from __future__ import annotations

import logging
import os
import threading

from ..interrupts import held as _ctrl_c_held

__all__ = ["AVAILABLE", "ENABLED", "enabled", "kernel", "warm"]

_OFF = ("0", "false", "no", "off")

log = logging.getLogger("fluxstream")


try:
    if os.environ.get("FLUXSTREAM_JIT", "1").strip().lower() in _OFF:
        raise ImportError("disabled by FLUXSTREAM_JIT")
    with _ctrl_c_held():  # a Ctrl-C inside numba's start-up is not a clean exit
        import numba as _numba
except ImportError:  # not installed, or switched off: the numpy paths serve
    _numba = None

#: numba is importable and not switched off by ``FLUXSTREAM_JIT=0``.
AVAILABLE = _numba is not None

#: Whether the compiled kernels serve: read when a stage is built (Hps) or called (the
#: descriptors, deltas, the time-domain pitch sums). Tests switch it to run both paths;
#: it must stay False where :data:`AVAILABLE` is.
ENABLED = AVAILABLE


def enabled() -> bool:
    """Whether a stage built now should use its compiled kernel."""
    return AVAILABLE and ENABLED


_warmed = False


def warm() -> None:
    """Compile (or load from the disk cache) every kernel now, once per process.

    numba holds the GIL while it compiles or loads: on the first live hop that would
    starve a device's audio callback (PortAudio input overflows). The engine calls this
    before it opens its source. No-op without numba or when switched off."""
    global _warmed
    if _warmed or not enabled():
        return
    from . import frame_kernels, pitch

    # Loading from the disk cache takes a fraction of a second; compiling (the first run
    # after an install, or after numba's cache was cleared) some seconds: say so then.
    notice = threading.Timer(1.0, log.warning, ("compiling the live kernels (numba; once after installing, "
                                                "a few seconds)",))
    notice.daemon = True
    notice.start()
    try:
        with _ctrl_c_held():
            frame_kernels.warm()
            pitch.warm_kernels()
    finally:
        notice.cancel()
    _warmed = True


def kernel(fn):
    """``fn`` compiled by numba (no Python objects, GIL released, cached on disk), or
    ``None`` when numba is unavailable (callers check :data:`ENABLED` first). Compiled
    lazily, per argument types; :func:`warm` compiles the types the live paths pass."""
    if _numba is None:
        return None
    return _numba.njit(cache=True, nogil=True)(fn)

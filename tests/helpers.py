"""Test helpers: random block partitions and signal makers."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import strategies as st

from fluxstream.dsp import _jit

#: Both one-frame paths, for property tests (hypothesis cannot take the ``kernels``
#: fixture): parametrize over these and run the stage inside :func:`use_kernels`.
KERNELS = [pytest.param("numpy"),
           pytest.param("jit", marks=pytest.mark.skipif(not _jit.AVAILABLE, reason="numba is not installed"))]


@contextmanager
def use_kernels(mode: str):
    """Stages run (and are built) with the compiled kernels (``"jit"``) or without."""
    old = _jit.ENABLED
    _jit.ENABLED = mode == "jit"
    try:
        yield
    finally:
        _jit.ENABLED = old


def split(x: np.ndarray, sizes, max_blocks: int = 300) -> list[np.ndarray]:
    """Cut ``x`` along axis 0 into consecutive blocks of ``sizes`` (cycled), including
    empty blocks; after ``max_blocks`` blocks the rest goes in one (so tiny or empty sizes
    test the same code paths without running the graph tens of thousands of times)."""
    out, i, k = [], 0, 0
    sizes = list(sizes) or [len(x)]
    while i < len(x):
        n = sizes[k % len(sizes)] if k < max_blocks else len(x) - i
        out.append(x[i : i + n])
        i += n
        k += 1
    return out


#: Block sizes from 0 (empty blocks) and 1 sample to many thousands.
block_sizes = st.lists(
    st.one_of(st.integers(0, 3), st.integers(1, 700), st.integers(700, 9000)), min_size=1, max_size=12
)


def sine(freq_hz: float, sr: int, n: int, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq_hz * np.arange(n) / sr)).astype(np.float32)

"""Test helpers: random block partitions and signal makers."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def split(x: np.ndarray, sizes) -> list[np.ndarray]:
    """Cut ``x`` along axis 0 into consecutive blocks of ``sizes`` (cycled), including
    empty blocks, until it is used up."""
    out, i, k = [], 0, 0
    sizes = list(sizes) or [len(x)]
    while i < len(x):
        n = sizes[k % len(sizes)]
        out.append(x[i : i + n])
        i += n
        k += 1
        if k > 10 * len(x) + 10:  # all-zero sizes: finish in one block
            out.append(x[i:])
            break
    return out


#: Block sizes from 0 (empty blocks) and 1 sample to many thousands.
block_sizes = st.lists(
    st.one_of(st.integers(0, 3), st.integers(1, 700), st.integers(700, 9000)), min_size=1, max_size=12
)


def sine(freq_hz: float, sr: int, n: int, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq_hz * np.arange(n) / sr)).astype(np.float32)

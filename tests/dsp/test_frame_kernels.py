"""The compiled kernels' own contracts (the ``jit`` extra): numpy's float32 sum exactly,
and the switch that turns them off. Each kernel is also held to its numpy path by the
tests of the stage that calls it (the ``kernels`` fixture runs those both ways)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from fluxstream.dsp import _jit, frame_kernels

needs_numba = pytest.mark.skipif(not _jit.AVAILABLE, reason="numba is not installed (the jit extra)")


@needs_numba
def test_pairwise_sum_is_numpys_float32_sum(rng):
    # Same roundings as np.add.reduce: sequential under 8, eight accumulators to 128,
    # halves above (sizes around every boundary), and at an offset into the array.
    for n in [1, 2, 7, 8, 9, 15, 16, 17, 127, 128, 129, 135, 136, 255, 256, 257, 1025, 4097, 100003]:
        a = (rng.standard_normal(n + 5) * rng.uniform(0.1, 1e4)).astype(np.float32)
        assert frame_kernels.pairwise_sum32(a, 0, n) == np.add.reduce(a[:n]), n
        assert frame_kernels.pairwise_sum32(a, 5, n) == np.add.reduce(a[5:]), n


@pytest.mark.parametrize("value,expected", [("0", False), ("off", False), ("1", None)])
def test_environment_switch(value, expected):
    # FLUXSTREAM_JIT=0 (or off/false/no) keeps the numpy paths even with numba installed.
    code = "from fluxstream.dsp import _jit; print(_jit.AVAILABLE, _jit.enabled())"
    env = {**os.environ, "FLUXSTREAM_JIT": value}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    want = (importlib.util.find_spec("numba") is not None) if expected is None else expected
    assert out.stdout.split() == [str(want), str(want)]

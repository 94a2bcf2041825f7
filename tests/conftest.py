"""Shared fixtures: one seeded random generator, hypothesis profiles, real-part gating."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import KERNELS, use_kernels

# Seeded, bounded property tests: the same examples on every run and machine, fast on 2
# cores. FLUXSTREAM_HYPOTHESIS=thorough explores more (and randomly) on demand.
settings.register_profile("ci", max_examples=40, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("FLUXSTREAM_HYPOTHESIS", "ci"))

REQUIRE_REAL_PARTS = os.environ.get("FLUXSTREAM_REQUIRE_REAL_PARTS") == "1"


@pytest.fixture
def rng() -> np.random.Generator:
    """The one seeded generator tests draw signals from."""
    return np.random.default_rng(20261121)


def real_part_missing(reason: str) -> None:
    """Skip a test whose real part is missing, or fail it when CI requires real parts."""
    if REQUIRE_REAL_PARTS:
        pytest.fail(f"real part missing (FLUXSTREAM_REQUIRE_REAL_PARTS=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(params=["pyfftw", "scipy"], scope="session")
def fft_backend(request) -> str:
    """Every FFT-using test runs with both backends."""
    return request.param


@pytest.fixture(params=KERNELS)
def kernels(request) -> str:
    """Stages built and run in the test use the numpy one-frame paths, or the compiled
    kernels (the ``jit`` extra; skipped where numba is missing)."""
    with use_kernels(request.param):
        yield request.param


def pytest_sessionstart(session):
    """Compile (or load) the jit kernels once, before any test: otherwise, on a fresh
    clone, the first ``listen`` subprocess of the JACK tests compiles them (seconds of
    CPU while the dummy server's clock runs, an xrun the tests then have to retry)."""
    from fluxstream.dsp import _jit

    _jit.warm()

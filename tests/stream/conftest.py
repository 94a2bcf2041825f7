"""Fixtures of the real-device tests."""

from __future__ import annotations

import pytest

from tests import realparts
from tests.conftest import real_part_missing


@pytest.fixture(scope="module")
def jack_parts():
    """Skip (or fail, when FLUXSTREAM_REQUIRE_REAL_PARTS=1) without a usable JACK2."""
    reason = realparts.jack_available()
    if reason:
        real_part_missing(reason)

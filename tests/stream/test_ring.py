import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.stream.ring import RingBuffer


class Model:
    """The reference: an unbounded list of kept clock positions, dropping what exceeds the
    capacity at write time."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.kept = []  # clock positions stored and not yet released
        self.clock = 0
        self.overrun = 0

    def write(self, n):
        k = min(n, self.capacity - len(self.kept))
        self.kept += list(range(self.clock, self.clock + k))
        self.overrun += n - k
        self.clock += n
        return k


ops = st.lists(st.tuples(st.sampled_from(["w", "r"]), st.integers(0, 40), st.integers(0, 45)),
               max_size=60)


@given(capacity=st.integers(1, 50), channels=st.integers(1, 2), ops=ops)
def test_ring_equals_model(capacity, channels, ops):
    ring, model = RingBuffer(capacity, channels, max_gaps=8), Model(capacity)
    for op, n, m in ops:
        if op == "w":
            block = (model.clock + np.arange(n, dtype=np.float32))[:, None].repeat(channels, 1)
            assert ring.write(block) == model.write(n)
        else:
            pos, view = ring.read(max(1, m), timeout=0)
            k = view.shape[0]
            assert k <= max(1, m)
            if model.kept:
                assert k >= 1
                # Contiguous on the clock, values are their own positions (zero-copy view).
                assert pos == model.kept[0]
                np.testing.assert_array_equal(view[:, 0], model.kept[:k])
                assert model.kept[:k] == list(range(pos, pos + k))
                assert np.shares_memory(view, ring._buf)
            else:
                assert k == 0
            rel = min(k, m)
            ring.release(rel)
            del model.kept[:rel]
        assert ring.available == len(model.kept)
        assert ring.overrun_samples == model.overrun
        assert ring.written == model.clock


def test_gap_position_and_length_are_reported():
    ring = RingBuffer(8)
    ring.write(np.arange(6, dtype=np.float32)[:, None])
    ring.write(np.arange(6, 12, dtype=np.float32)[:, None])  # 2 kept (6, 7), 4 lost (8..11)
    ring.write(np.arange(12, 20, dtype=np.float32)[:, None])  # all lost: the same gap grows
    assert ring.overrun_samples == 12
    pos, v = ring.read(100, 0)
    assert pos == 0 and v[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    ring.release(8)
    ring.write(np.arange(20, 23, dtype=np.float32)[:, None])
    pos, v = ring.read(100, 0)
    assert pos == 20 and v[:, 0].tolist() == [20, 21, 22]  # 12 samples lost from 8


def test_read_blocks_until_timeout_then_returns_empty():
    ring = RingBuffer(16)
    pos, v = ring.read(4, timeout=0.01)
    assert v.shape == (0, 1) and pos == 0


def test_read_wakes_on_write_from_another_thread():
    ring = RingBuffer(16)
    got = threading.Event()

    def consumer():
        _, v = ring.read(4, timeout=5)
        if v.shape[0]:
            got.set()

    t = threading.Thread(target=consumer)
    t.start()
    ring.write(np.ones((3, 1), np.float32))
    t.join(5)
    assert got.is_set()


def test_real_producer_thread_delivers_every_sample_in_order():
    # A producer writing like an audio callback (fixed blocks, never waiting) and a consumer
    # reading views: every kept sample arrives once, in order, at its clock position, and
    # kept + overrun == written.
    ring = RingBuffer(4096, 2)
    total, block = 256 * 1600, 256
    done = threading.Event()

    def producer():
        for i in range(0, total, block):
            b = (i + np.arange(block, dtype=np.float32))[:, None].repeat(2, 1)
            ring.write(b)
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    kept, last = 0, -1
    while not (done.is_set() and ring.available == 0):
        pos, v = ring.read(1000, timeout=0.05)
        n = v.shape[0]
        if n:
            assert pos > last
            np.testing.assert_array_equal(v[:, 1], pos + np.arange(n))
            last = pos + n - 1
            kept += n
            ring.release(n)
    t.join()
    assert kept + ring.overrun_samples == total == ring.written


def test_release_more_than_held_is_an_error():
    ring = RingBuffer(4)
    ring.write(np.ones((2, 1), np.float32))
    with pytest.raises(ValueError, match="release"):
        ring.release(3)


@pytest.mark.parametrize("kw", [{"capacity": 0}, {"capacity": 4, "channels": 0}, {"capacity": 2.5}])
def test_bad_parameters(kw):
    with pytest.raises(ValueError):
        RingBuffer(**kw)

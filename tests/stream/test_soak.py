"""A bounded soak: a long run keeps memory flat (nothing grows with the stream)."""

import tracemalloc

from fluxstream.config import Config
from fluxstream.results import Frames
from fluxstream.stream.demo import DemoSource
from fluxstream.stream.engine import Engine


def test_memory_is_flat_over_a_long_run():
    eng = Engine(Config(), source=DemoSource(realtime=False), features=["rms", "centroid", "spectrum"])
    eng.open()
    count = [0]
    eng.subscribe(lambda it: count.__setitem__(0, count[0] + isinstance(it, Frames)))
    blocks = eng.source.blocks()
    sr, block = eng.source.sample_rate, eng.source.block

    def run_seconds(s):
        for _ in range(int(s * sr) // block):
            pos, b = next(blocks)
            eng.process_block(pos, b)

    run_seconds(10)  # warm: plans, caches, the stats window fills
    tracemalloc.start()
    run_seconds(10)
    first, _ = tracemalloc.get_traced_memory()
    run_seconds(120)
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count[0] > 12000
    assert second - first < 64 * 1024, f"memory grew by {second - first} bytes over 120 s of audio"
    eng.source.close()

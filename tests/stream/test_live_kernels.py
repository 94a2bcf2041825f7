"""A live engine compiles nothing once it is open (the ``jit`` extra).

numba holds the GIL while it compiles or loads a kernel; on a live hop that would starve
the device's audio callback (PortAudio input overflows, measured on the JACK test server
before the engine compiled ahead). So :meth:`Engine.open` of a live source compiles every
kernel first, for the types the live paths pass; this checks, in a fresh process, that
no kernel gains a compiled signature while live blocks run through every stage that has
one."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fluxstream.dsp import _jit

CHILD = r"""
import json
import numpy as np
from fluxstream.config import load_config
from fluxstream.dsp import _jit, frame_kernels, pitch
from fluxstream.stream.demo import DemoSource
from fluxstream.stream.engine import Engine

def dispatchers():
    for mod in (frame_kernels, pitch):
        for name, obj in vars(mod).items():
            if hasattr(obj, "signatures") and hasattr(obj, "py_func"):
                yield f"{mod.__name__}.{name}", obj

features = ["centroid", "spread", "contrast", "rolloff", "zcr", "flux", "mkl", "mfcc.delta", "mfcc.delta2",
            "pitch", "onset"]
cfg = load_config(overrides=["input.block=512", "analysis.features=[" + ",".join(f'"{f}"' for f in features) + "]",
                             'features.pitch.method="hps"', 'features.onset.method="superflux"'])
eng = Engine(cfg, source=DemoSource(48000, 512, realtime=True))
eng.open()
before = {n: len(d.signatures) for n, d in dispatchers()}
t = np.arange(48000) / 48000
x = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
x[:6000] = 0.0  # silence first: the kernels' silent branches
x[20000:21000] += np.random.default_rng(0).standard_normal(1000).astype(np.float32)
for i in range(0, 40 * 512, 512):
    eng.process_block(i, x[i : i + 512, None])
after = {n: len(d.signatures) for n, d in dispatchers()}
eng.stop()
print(json.dumps({"before": before, "after": after}))
"""


@pytest.mark.skipif(not _jit.AVAILABLE, reason="numba is not installed (the jit extra)")
def test_a_live_engine_compiles_nothing_after_open():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=600)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["after"] == r["before"], {n: (r["before"][n], r["after"][n]) for n in r["after"]
                                       if r["after"][n] != r["before"][n]}
    # open() compiled the kernels: all but the helpers that only other kernels call
    # (compiled into their callers; loaded from the disk cache they stay without a
    # signature of their own) have a signature before the first live hop.
    idle = {n.rsplit(".", 1)[1] for n, v in r["before"].items() if v == 0}
    assert idle <= {"_block_sum32", "_sum_squares_kernel"}, r["before"]

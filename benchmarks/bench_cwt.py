"""Benchmark: online CWT (fluxstream.dsp.cwt.Cwt) vs PyWavelets and ssqueezepy, same run.

Workload: ``--seconds`` (10) of a test signal (white noise at -20 dB plus a chirp 60 Hz ->
6 kHz and three tones), Morlet (omega0 = 6), 64 scales log-spaced 50 Hz - 8 kHz, at 22050
and 44100 Hz, hop 512.

- fluxstream file mode: ``frame_signal`` + ``Cwt.process`` on all frames at once
  (magnitude output), median of ``--repeat`` runs after a warm-up; the framing is included.
- fluxstream online: a ``Framer`` fed blocks of 512 samples (one frame per call) and
  ``Cwt.process`` on each frame; every hop's call pair timed individually over ``--hops``
  (2000) hops after 200 warm-up hops; BLAS limited to one thread (threadpoolctl) as the
  live path runs. Target: p99 < 1 ms at hop 512.
- PyWavelets ``pywt.cwt(x, scales, 'cmor2.0-0.954929658551372', method='fft')`` (the
  Gabor form of Morlet with omega0 = 6: B = 2, C = 6 / 2 pi; scales equal to ours),
  then ``abs``.
- ssqueezepy ``ssqueezepy.cwt(x, ('morlet', {'mu': 6}), scales=ours, padtype='zero')``
  (numba; first call compiled in the warm-up), then ``abs``.

The peers compute all ``n_samples`` columns, fluxstream one column per hop: the table also
gives the cost per output column (time / columns), which is the fair per-value comparison;
the ratio column is peer time / fluxstream time for the same signal (whole-file output).

Run: ``python benchmarks/bench_cwt.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fluxstream.dsp.cwt import Cwt  # noqa: E402
from fluxstream.dsp.framing import Framer, frame_signal  # noqa: E402
from bench_stft import median_time  # noqa: E402

HOP = 512
N_SCALES, FMIN, FMAX = 64, 50.0, 8000.0


def make_signal(sr, seconds, seed=1):
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    f0, f1 = 60.0, 6000.0
    chirp = np.sin(2 * np.pi * f0 * seconds / np.log(f1 / f0) * (np.exp(t / seconds * np.log(f1 / f0)) - 1))
    tones = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (110.0, 440.0, 3000.0))
    return (0.3 * chirp + tones + 0.1 * rng.standard_normal(n)).astype(np.float32)


def bench_rate(sr, seconds, repeat, hops):
    x = make_signal(sr, seconds)
    cwt = Cwt(sample_rate=sr, wavelet="morlet", n_scales=N_SCALES, fmin_hz=FMIN, fmax_hz=FMAX)
    rows = {}
    n_cols = 1 + len(x) // HOP

    def flux_file():
        return cwt.process(frame_signal(x, cwt.frame_length, HOP))

    flux_file()
    rows["fluxstream Cwt (file)"] = (median_time(flux_file, repeat), n_cols)

    # online: one frame per call
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        threadpool_limits = None
    framer = Framer(cwt.frame_length, HOP, channels=1, max_block=HOP)
    times = []
    ctx = threadpool_limits(1) if threadpool_limits is not None else None
    if ctx is not None:
        ctx.__enter__()
    try:
        pos = 0
        for i in range(200 + hops):
            if pos + HOP > len(x):
                pos = 0
            block = x[pos:pos + HOP, None]
            pos += HOP
            t0 = time.perf_counter()
            frames, _ = framer.process(block)
            cwt.process(frames)
            dt = time.perf_counter() - t0
            if i >= 200:
                times.append(dt)
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)
    times = np.array(times) * 1e3
    live = (float(np.median(times)), float(np.percentile(times, 99)), float(times.max()))

    scales = np.ascontiguousarray(cwt.scales[::-1])  # ascending, as the peers list them
    try:
        import pywt

        wname = f"cmor2.0-{6.0 / (2 * np.pi):.15f}"

        def pywt_run():
            c, _ = pywt.cwt(x, scales, wname, method="fft")
            return np.abs(c)

        pywt_run()
        rows["pywt.cwt cmor (fft)"] = (median_time(pywt_run, max(1, repeat // 2)), len(x))
    except ImportError:
        rows["pywt.cwt cmor (fft)"] = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ssqueezepy

        def sq_run():
            W, _ = ssqueezepy.cwt(x, ("morlet", {"mu": 6.0}), scales=scales, padtype="zero")
            return np.abs(W)

        sq_run()
        rows["ssqueezepy.cwt morlet"] = (median_time(sq_run, max(1, repeat // 2)), len(x))
    except ImportError:
        rows["ssqueezepy.cwt morlet"] = None
    return cwt, rows, live


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--hops", type=int, default=2000)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    if a.quick:
        a.seconds, a.repeat, a.hops = 2.0, 2, 300
    print(f"Morlet omega0=6, {N_SCALES} scales log 50 Hz - 8 kHz, hop {HOP}, {a.seconds:g} s signal; "
          f"median of {a.repeat} (peers {max(1, a.repeat // 2)})")
    for sr in (22050, 44100):
        cwt, rows, live = bench_rate(sr, a.seconds, a.repeat, a.hops)
        flux = rows["fluxstream Cwt (file)"][0]
        print(f"\nsample_rate {sr} Hz: frame_length {cwt.frame_length}, latency {cwt.latency_samples} samples "
              f"({1e3 * cwt.latency_samples / sr:.1f} ms), kernel taps {sum(b[2].size for b in cwt._blocks)}")
        print(f"{'method':<26}{'time [s]':>10}{'x realtime':>12}{'columns':>10}{'us/column':>11}"
              f"{'vs flux':>9}")
        for name, r in rows.items():
            if r is None:
                print(f"{name:<26}{'not installed':>10}")
                continue
            t, cols = r
            print(f"{name:<26}{t:>10.4f}{a.seconds / t:>12.0f}{cols:>10d}{1e6 * t / cols:>11.2f}"
                  f"{t / flux:>9.1f}")
        print(f"online hop {HOP} (Framer + Cwt.process, 1 frame/call, {a.hops} hops): median "
              f"{live[0]:.3f} ms, p99 {live[1]:.3f} ms, max {live[2]:.3f} ms "
              f"[target p99 < 1 ms: {'met' if live[1] < 1.0 else 'MISSED'}]")


if __name__ == "__main__":
    main()

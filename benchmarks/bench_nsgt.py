"""Benchmark: sliced NSGT (constant-Q, 24 bins/octave, 32 Hz - 16 kHz at 44.1 kHz, hop 512),
file mode and live per-hop, against Grill's ``nsgt`` package and ``librosa.cqt`` measured in
the same run.

- file mode: the whole signal through :class:`SlicedNsgt` in 512-sample blocks plus flush
  ("fluxstream slices"), and also through :class:`NsgtMagnitude` to the hop-grid
  spectrogram ("+ magnitude"); real-time factor = audio seconds / wall seconds, median of
  ``--repeat`` runs.
- nsgt: ``NSGT_sliced`` (``CQ_NSGT_sliced``, same slice and transition lengths, real,
  single channel) consuming its whole forward generator; nsgt 0.19 needs a one-line numpy 2
  shim for ``np.clip`` (applied here), and runs with its default float64.
- librosa: ``librosa.cqt`` with 24 bins/octave from 32 Hz, 215 bins, hop 512 (a
  reference point: a different, non-invertible transform).
- live: each ``SlicedNsgt.process`` call on 512-sample blocks timed individually over
  ``--hops`` hops after a warm-up of two slices (so slice completions and the spread band
  work are included); median, p99 and max.

Run: ``python benchmarks/bench_nsgt.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

import numpy as np

from fluxstream.dsp.nsgt import NsgtMagnitude, SlicedNsgt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stft import median_time  # noqa: E402

SR, FMIN, FMAX, BPO, HOP = 44100, 32.0, 16000.0, 24, 512


def signal(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (55.0, 220.0, 880.0, 3520.0))
    return (x + 0.05 * rng.standard_normal(len(t))).astype(np.float32)[:, None]


def run_slices(t: SlicedNsgt, x: np.ndarray) -> int:
    t.reset()
    n = 0
    for i in range(0, len(x), HOP):
        n += len(t.process(x[i: i + HOP]))
    return n + len(t.flush())


def run_magnitude(t: SlicedNsgt, m: NsgtMagnitude, x: np.ndarray) -> int:
    t.reset()
    m.reset()
    cols = 0
    for i in range(0, len(x), HOP):
        cols += m.process(t.process(x[i: i + HOP])).shape[1]
    cols += m.process(t.flush()).shape[1]
    return cols + m.flush(len(x)).shape[1]


def _numpy2_clip(a, lo, hi, out=None):
    # nsgt 0.19 clips an int array to +inf in place, which numpy >= 2 refuses.
    r = np.clip(a, lo, np.iinfo(np.int64).max if np.isinf(hi) else hi)
    if out is None:
        return r
    out[...] = r
    return out


def numpy2_shim() -> types.SimpleNamespace:
    """numpy as ``nsgt.nsgfwin_sl`` sees it, with the ``clip`` numpy 2 needs (nsgt 0.19
    passes ``np.inf`` as ``np.clip``'s upper bound on an int array). The tests use it too."""
    shim = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    shim.clip = _numpy2_clip
    return shim


def import_nsgt():
    """Grill's ``nsgt`` with :func:`numpy2_shim` in its window module; ImportError when
    missing."""
    import nsgt
    import nsgt.nsgfwin_sl as nsgfwin_sl

    nsgfwin_sl.np = numpy2_shim()
    return nsgt


def nsgt_peer(t: SlicedNsgt):
    try:
        nsgt = import_nsgt()
    except Exception as e:  # pragma: no cover - peer missing
        return None, f"nsgt not importable: {e}"
    ref = nsgt.CQ_NSGT_sliced(FMIN, FMAX, BPO, t.slice_length, t.transition_length, SR, real=True,
                              multichannel=True)
    return ref, ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--hops", type=int, default=2000)
    args = ap.parse_args()

    t = SlicedNsgt(sample_rate=SR, scale="octave", fmin_hz=FMIN, fmax_hz=FMAX, bins=BPO)
    m = NsgtMagnitude(HOP, t)
    x = signal(args.seconds)
    dur = len(x) / SR
    print(f"sliced NSGT: {len(t.freqs_hz) - 2} bands + 2 edge bands, slice_length={t.slice_length}, "
          f"transition_length={t.transition_length}, spread_samples={t.spread_samples}, "
          f"{int(t.coefficients_per_band.sum())} coefficients/slice")
    print(f"latency: slices {t.latency_samples} samples ({1e3 * t.latency_samples / SR:.0f} ms) after "
          f"the slice centre; magnitude columns <= {m.delay_samples} samples "
          f"({1e3 * m.delay_samples / SR:.0f} ms) after k*hop")

    rows = []
    run_slices(t, x)  # warm-up (plans)
    s = median_time(lambda: run_slices(t, x), args.repeat)
    rows.append(("fluxstream SlicedNsgt (slices)", s))
    s = median_time(lambda: run_magnitude(t, m, x), args.repeat)
    rows.append(("fluxstream + NsgtMagnitude", s))

    ref, why = nsgt_peer(t)
    if ref is not None:
        sig = x[:, 0].astype(np.float64)

        def run_nsgt():
            for _ in ref.forward((sig[None, :],)):
                pass
        run_nsgt()
        rows.append(("nsgt NSGT_sliced (float64)", median_time(run_nsgt, args.repeat)))
    try:
        import librosa

        y = x[:, 0]
        n_bins = len(t.freqs_hz) - 2  # the same centres as the scale bands

        def run_cqt():
            np.abs(librosa.cqt(y, sr=SR, hop_length=HOP, fmin=FMIN, n_bins=n_bins, bins_per_octave=BPO))
        run_cqt()
        rows.append((f"librosa.cqt ({n_bins} bins)", median_time(run_cqt, args.repeat)))
    except Exception as e:  # pragma: no cover
        why += f"; librosa.cqt failed: {e}"

    base = rows[0][1]
    print(f"\nfile mode, {dur:.0f} s of audio, median of {args.repeat}")
    print(f"{'transform':40s} {'seconds':>9s} {'x realtime':>11s} {'vs fluxstream':>14s}")
    for name, sec in rows:
        print(f"{name:40s} {sec:9.3f} {dur / sec:11.1f} {sec / base:13.2f}x")
    if why:
        print(why)

    # live: per-call cost at 512-sample blocks
    n_warm = 2 * t.slice_hop // HOP + (t.latency_samples // HOP) + 1
    need = (n_warm + args.hops) * HOP
    live = signal(need / SR + 1)
    t.reset()
    ts = []
    for k in range(n_warm + args.hops):
        blk = live[k * HOP: (k + 1) * HOP]
        t0 = time.perf_counter()
        t.process(blk)
        ts.append(time.perf_counter() - t0)
    ts = np.array(ts[n_warm:]) * 1e3
    print(f"\nlive, SlicedNsgt.process per 512-sample block, {args.hops} hops after {n_warm} warm-up hops")
    print(f"{'median ms':>10s} {'p99 ms':>8s} {'max ms':>8s} {'budget ms':>10s}")
    print(f"{np.median(ts):10.3f} {np.percentile(ts, 99):8.3f} {ts.max():8.3f} {1e3 * HOP / SR:10.2f}")


if __name__ == "__main__":
    main()

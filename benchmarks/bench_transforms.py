"""Benchmark: the multi-resolution transforms through the engine (what ``analyze`` and
``listen`` run), file mode and live per hop, against their peers in the same run.

Workload: 30 s (``--seconds``) of a music-like signal at 44.1 kHz (notes from 55 Hz to
3.5 kHz with harmonics, vibrato and noise), hop 512, mono.

- ``cqt``: 84 bins, 12 per octave, from C1 (32.7 Hz); peer ``librosa.cqt`` with the same
  parameters.
- ``nsgt``: octave scale, 24 bins per octave, 32 Hz - 16 kHz (slices of 131072 samples);
  peers Grill's ``nsgt`` (``CQ_NSGT_sliced``, same slices; when it installs: ``pip install
  wheel && pip install --no-build-isolation nsgt``; nsgt 0.19 needs a numpy 2 shim for
  ``np.clip``, applied here) and ``librosa.cqt`` at 24 bins per octave (216 bins) as a
  reference point.
- ``cwt``: Morlet (omega0 = 6), 64 scales log-spaced 50 Hz - 8 kHz; peers ``pywt.cwt``
  (``cmor2.0-0.95``, ``method="fft"``) and ``ssqueezepy.cwt`` (morlet), which compute every
  sample, not one column per hop (their cost per column is printed as well).

File mode: ``Engine.process_block`` over the whole signal in ``FILE_BLOCK``-sample blocks
and ``graph.flush()``, the engine built beforehand (kernels are built once per
configuration: their time is printed separately). Live: ``process_block`` at block = hop =
512, back to back, each call timed, after a warm-up long enough for the transform's
latency (two NSGT slices); median and p99 over ``--hops`` hops. Every file-mode time is
the median of ``--repeat`` runs.

Targets (issue 7): CQT in file mode at least 3x faster than ``librosa.cqt``; live per-hop
p99 under 1 ms for each transform at hop 512.
Run: ``python benchmarks/bench_transforms.py`` (``--quick``: 10 s, fewer hops).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from fluxstream.config import FILE_BLOCK, load_config
from fluxstream.stream.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_nsgt import import_nsgt  # noqa: E402
from bench_stft import ArraySource, median_time  # noqa: E402

SR, HOP = 44100, 512

CONFIGS = {
    "cqt": ["features.cqt.n_bins=84", "features.cqt.bins_per_octave=12"],
    "nsgt": ["features.nsgt.scale=\"octave\"", "features.nsgt.bins=24", "features.nsgt.fmin_hz=32.0",
             "features.nsgt.fmax_hz=16000.0"],
    "cwt": ["features.cwt.wavelet=\"morlet\"", "features.cwt.n_scales=64", "features.cwt.fmin_hz=50.0",
            "features.cwt.fmax_hz=8000.0"],
}


def signal(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(7)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.zeros(n)
    for k, f in enumerate((55.0, 110.0, 220.0, 440.0, 880.0, 1760.0, 3520.0)):
        gate = (np.sin(2 * np.pi * (0.3 + 0.1 * k) * t + k) > 0).astype(float)
        ph = 2 * np.pi * f * t + 0.002 * f * np.sin(2 * np.pi * 5 * t)
        x += gate * sum(0.1 / h * np.sin(h * ph) for h in (1, 2, 3))
    return (x + 0.01 * rng.standard_normal(n)).astype(np.float32)[:, None]


def open_engine(name: str, x: np.ndarray, block: int) -> Engine:
    cfg = load_config(overrides=[f"stft.hop_length={HOP}", f"input.block={block}", "analysis.threads=1",
                                 *CONFIGS[name]])
    eng = Engine(cfg, source=ArraySource(x, SR, block), features=[name])
    eng.open()
    return eng


def file_mode(name: str, x: np.ndarray, repeat: int) -> tuple[float, float]:
    """(build seconds of the first engine, median run seconds) over the whole signal; each
    run gets a freshly opened engine (built outside the timing)."""
    ts, build = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        eng = open_engine(name, x, FILE_BLOCK)
        build = time.perf_counter() - t0 if build is None else build
        t0 = time.perf_counter()
        for pos, b in eng.source.blocks():
            eng.process_block(pos, b)
        eng.graph.flush()
        ts.append(time.perf_counter() - t0)
        eng.stop()
    return build, float(np.median(ts))


def live(name: str, x: np.ndarray, hops: int) -> tuple[float, float, float]:
    """(median, p99, max) [ms] of process_block at block = hop."""
    eng = open_engine(name, x, HOP)
    eng.subscribe(lambda item: None)
    lat = eng.graph.latency_samples(name)
    warm = (2 * lat + SR) // HOP * HOP
    need = warm + hops * HOP
    xx = np.tile(x, (-(-need // len(x)), 1))[:need] if need > len(x) else x
    for i in range(0, warm, HOP):
        eng.process_block(i, xx[i : i + HOP])
    ts = []
    for i in range(warm, need - HOP + 1, HOP):
        t0 = time.perf_counter()
        eng.process_block(i, xx[i : i + HOP])
        ts.append(time.perf_counter() - t0)
    eng.stop()
    t = np.asarray(ts) * 1e3
    return float(np.median(t)), float(np.percentile(t, 99)), float(t.max())


def peers(name: str, x: np.ndarray, repeat: int) -> list[tuple[str, float | None, str]]:
    """[(peer, median seconds or None, note)] for transform ``name``."""
    y = x[:, 0]
    rows = []
    try:
        import librosa
    except ImportError:
        librosa = None
    if name == "cqt":
        if librosa is None:
            return [("librosa.cqt", None, "librosa not installed")]
        run = lambda: librosa.cqt(y, sr=SR, hop_length=HOP, n_bins=84, bins_per_octave=12)  # noqa: E731
        run()
        rows.append(("librosa.cqt (84 bins)", median_time(run, repeat), ""))
    elif name == "nsgt":
        try:
            nsgt = import_nsgt()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # its "Q-factor too high" note on the low bands
                ref = nsgt.CQ_NSGT_sliced(32.0, 16000.0, 24, 131072, 16384, SR, real=True, recwnd=True,
                                          matrixform=False, multichannel=False)

            def run():
                for _ in ref.forward((y,)):
                    pass

            run()
            rows.append(("nsgt CQ_NSGT_sliced (float64)", median_time(run, repeat), ""))
        except Exception as e:  # not installed, or fails to build/run here
            rows.append(("nsgt CQ_NSGT_sliced", None, f"n/a ({type(e).__name__})"))
        if librosa is not None:
            run = lambda: librosa.cqt(y, sr=SR, hop_length=HOP, fmin=32.0, n_bins=216,  # noqa: E731
                                      bins_per_octave=24)
            run()
            rows.append(("librosa.cqt (216 bins, reference point)", median_time(run, repeat), ""))
    elif name == "cwt":
        from fluxstream.dsp.cwt import Cwt

        # Ascending, as the peers take them.
        scales = np.ascontiguousarray(Cwt(sample_rate=SR, n_scales=64, fmin_hz=50.0, fmax_hz=8000.0).scales[::-1])
        try:
            import pywt

            run = lambda: pywt.cwt(y, scales, "cmor2.0-0.954929658551372", method="fft")  # noqa: E731
            rows.append(("pywt.cwt cmor (fft)", median_time(run, max(1, repeat // 2)), "every sample"))
        except ImportError:
            rows.append(("pywt.cwt", None, "n/a (pip install PyWavelets)"))
        try:
            import ssqueezepy

            run = lambda: ssqueezepy.cwt(y, ("morlet", {"mu": 6.0}), scales=scales, padtype="zero")  # noqa: E731
            run()
            rows.append(("ssqueezepy.cwt morlet", median_time(run, max(1, repeat // 2)), "every sample"))
        except ImportError:
            rows.append(("ssqueezepy.cwt", None, "n/a (pip install ssqueezepy)"))
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--hops", type=int, default=2000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=sorted(CONFIGS), action="append")
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.hops, args.repeat = 10.0, 500, 2
    x = signal(args.seconds)
    print(f"{args.seconds:g} s at {SR} Hz, hop {HOP}; file mode: median of {args.repeat}, block {FILE_BLOCK}; "
          f"live: block = hop, {args.hops} hops")
    print(f"{'what':44} {'seconds':>9} {'x realtime':>11} {'peer / fluxstream':>18}  note")
    verdicts = []
    for name in args.only or ("cqt", "nsgt", "cwt"):
        build, t = file_mode(name, x, args.repeat)
        print(f"{'fluxstream ' + name + ' (engine, file mode)':44} {t:9.3f} {args.seconds / t:11.1f} {'':>18}  "
              f"(+{build:.2f} s to build the kernels, once)")
        for peer, tp, note in peers(name, x, args.repeat):
            if tp is None:
                print(f"{peer:44} {'n/a':>9} {'':>11} {'':>18}  {note}")
                continue
            print(f"{peer:44} {tp:9.3f} {args.seconds / tp:11.1f} {tp / t:18.2f}  {note}")
            if name == "cqt":
                verdicts.append(("cqt file mode >= 3x faster than librosa.cqt", tp / t >= 3.0, f"{tp / t:.2f}x"))
        med, p99, mx = live(name, x, args.hops)
        print(f"{'fluxstream ' + name + ' live per hop [ms]':44} median {med:.3f}, p99 {p99:.3f}, max {mx:.3f}")
        verdicts.append((f"{name} live p99 < 1 ms", p99 < 1.0, f"{p99:.3f} ms"))
    print()
    for what, ok, fig in verdicts:
        print(f"target {what}: {'met' if ok else 'MISSED'} ({fig})")


if __name__ == "__main__":
    main()

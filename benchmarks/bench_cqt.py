"""Benchmark: online CQT (fluxstream.dsp.cqt) vs librosa's CQT/VQT, same run, same audio.

Workload: 30 s of a music-like signal (harmonic notes with 5 partials over a sustained
chord, notes changing every 0.5 s, white noise at -40 dB) at 22050 and 44100 Hz; hop 512,
84 bins, 12 bins per octave, fmin C1, librosa's defaults otherwise.

Measured (``time.perf_counter``, median of ``--repeat`` runs after a warm-up run):

- fluxstream file mode: :meth:`Cqt.transform` (one decimation cascade over the signal; the
  same numbers as framing + :meth:`Cqt.process`), and, at 22050 Hz, the frame path itself
  (``frame_signal`` + ``Cqt.process`` on all frames at once, ~95 MB of frames).
- librosa: ``cqt``, ``vqt`` (``gamma=None``), ``hybrid_cqt``, all with ``tuning=0``.
- online: one ``Framer.process`` of 512 samples + ``Cqt.process`` of the frame it
  completes, timed per hop over ``--hops`` hops after 200 warm-up hops: median and p99.
- chroma (22050 Hz): Cqt(36 bins/octave) + ChromaCqt vs ``librosa.feature.chroma_cqt``
  (tuning=0), and + ChromaCens vs ``librosa.feature.chroma_cens``.
- agreement with ``librosa.cqt``: minimum per-frame correlation of dB magnitudes over
  interior frames (all frames in brackets) and the level ratio sum(fluxstream)/sum(librosa).

Ratios are librosa's time / fluxstream's time (> 1: fluxstream faster).

Usage: ``python benchmarks/bench_cqt.py [--seconds 30] [--repeat 5] [--hops 2000]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from fluxstream.dsp.cqt import ChromaCens, ChromaCqt, Cqt
from fluxstream.dsp.framing import Framer, frame_signal

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stft import median_time  # noqa: E402


def music(sr: int, dur_s: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(dur_s * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    chord = (45, 52, 57)
    melody = rng.choice(np.arange(60, 84), size=int(dur_s * 2) + 1)
    for m in chord:
        f0 = 440.0 * 2 ** ((m - 69) / 12)
        for h in range(1, 6):
            y += 0.3 / h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
    seg = (t * 2).astype(int)
    f_mel = 440.0 * 2 ** ((melody[seg] - 69) / 12)
    phase = 2 * np.pi * np.cumsum(f_mel) / sr
    for h in range(1, 6):
        y += 0.3 / h * np.sin(h * phase)
    y += 0.01 * rng.standard_normal(n)
    return (y / 4).astype(np.float32)


def timeit(fn, repeat: int) -> float:
    """Median seconds of ``repeat`` runs after one warm-up run."""
    fn()
    return median_time(fn, repeat)


def per_hop(cq: Cqt, sr: int, hops: int, hop: int = 512) -> tuple[float, float]:
    y = music(sr, (hops + 200) * hop / sr + cq.frame_length / sr + 1, seed=1)
    framer = Framer(cq.frame_length, hop, channels=1, max_block=hop)
    ts = []
    i = 0
    while len(ts) < hops + 200:
        block = y[i:i + hop, None]
        i += hop
        t0 = time.perf_counter()
        frames, _ = framer.process(block)
        if frames.shape[1]:
            cq.process(frames)
        dt = time.perf_counter() - t0
        if frames.shape[1]:
            ts.append(dt)
    ts = np.array(ts[200:])
    return float(np.median(ts)), float(np.percentile(ts, 99))


def frame_corr_db(a, b):
    da, dbb = (20 * np.log10(np.maximum(v, 1e-6)) for v in (a, b))
    return np.array([np.corrcoef(da[k], dbb[k])[0, 1] for k in range(len(da))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--hops", type=int, default=2000)
    args = ap.parse_args()
    import librosa

    warnings.simplefilter("ignore")
    hop = 512
    rows = []
    print(f"CQT benchmark: {args.seconds:g} s music-like signal, hop {hop}, 84 bins, 12/oct, fmin C1; "
          f"median of {args.repeat} runs")
    for sr in (22050, 44100):
        y = music(sr, args.seconds)
        cq = Cqt(sr)
        t_file = timeit(lambda: cq.transform(y, hop), args.repeat)
        t_frames = None
        if sr == 22050:
            t_frames = timeit(lambda: cq.process(frame_signal(y, cq.frame_length, hop)), max(1, args.repeat // 2))
        lib = {
            "librosa.cqt": timeit(lambda: librosa.cqt(y, sr=sr, hop_length=hop, tuning=0.0), args.repeat),
            "librosa.vqt": timeit(lambda: librosa.vqt(y, sr=sr, hop_length=hop, tuning=0.0, gamma=None),
                                  args.repeat),
            "librosa.hybrid_cqt": timeit(lambda: librosa.hybrid_cqt(y, sr=sr, hop_length=hop, tuning=0.0),
                                         args.repeat),
        }
        vq = Cqt(sr, gamma=None)
        t_vqt = timeit(lambda: vq.transform(y, hop), args.repeat)
        med, p99 = per_hop(cq, sr, args.hops, hop)
        X = cq.transform(y, hop)[0]
        R = np.abs(librosa.cqt(y, sr=sr, hop_length=hop, tuning=0.0)).T
        m = -(-cq.latency_samples // hop)
        corr_all = frame_corr_db(X, R).min()
        corr_int = frame_corr_db(X[m:-m], R[m:-m]).min()
        level = X[m:-m].sum() / R[m:-m].sum()
        rows.append((sr, cq.frame_length, t_file, t_frames, t_vqt, lib, med, p99, corr_int, corr_all, level))

    print()
    print(f"{'sr':>6} {'method':<34} {'time [ms]':>10} {'ratio':>8}")
    for sr, F, t_file, t_frames, t_vqt, lib, med, p99, ci, ca, lvl in rows:
        print(f"{sr:>6} {'fluxstream Cqt.transform (file)':<34} {1e3 * t_file:>10.2f} {'':>8}")
        if t_frames is not None:
            print(f"{sr:>6} {'fluxstream frame_signal+process':<34} {1e3 * t_frames:>10.2f} "
                  f"{t_frames / t_file:>7.1f}x slower than file mode")
        print(f"{sr:>6} {'fluxstream Cqt(gamma=None).transform':<34} {1e3 * t_vqt:>10.2f}")
        for name, t in lib.items():
            ref = t_vqt if name == "librosa.vqt" else t_file
            print(f"{sr:>6} {name:<34} {1e3 * t:>10.2f} {t / ref:>7.2f}x")
        print(f"{sr:>6} {'online per hop (Framer+process)':<34} median {1e3 * med:.3f} ms, p99 {1e3 * p99:.3f} ms "
              f"(frame_length {F})")
        print(f"{sr:>6} {'agreement with librosa.cqt':<34} min frame corr (dB) interior {ci:.5f} [all {ca:.5f}], "
              f"level ratio {lvl:.5f}")

    # chroma, 22050 Hz
    sr = 22050
    y = music(sr, args.seconds)
    cq36 = Cqt(sr, n_bins=252, bins_per_octave=36)
    chroma = ChromaCqt()
    chroma_raw = ChromaCqt(norm=None)

    def ours_cens():
        cens = ChromaCens()
        c = chroma_raw.process(cq36.transform(y, hop))
        return np.concatenate([cens.process(c), cens.flush()], axis=1)

    t_chroma = timeit(lambda: chroma.process(cq36.transform(y, hop)), args.repeat)
    t_lchroma = timeit(lambda: librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=hop, tuning=0.0), args.repeat)
    t_cens = timeit(ours_cens, args.repeat)
    t_lcens = timeit(lambda: librosa.feature.chroma_cens(y=y, sr=sr, hop_length=hop, tuning=0.0), args.repeat)
    a = chroma.process(cq36.transform(y, hop))[0]
    b = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=hop).T
    ca = min(np.corrcoef(a[k], b[k])[0, 1] for k in range(len(a)))
    c = ours_cens()[0]
    d = librosa.feature.chroma_cens(y=y, sr=sr, hop_length=hop).T
    cc = min(np.corrcoef(c[k], d[k])[0, 1] for k in range(len(c)))
    print(f"{sr:>6} {'fluxstream Cqt36+ChromaCqt':<34} {1e3 * t_chroma:>10.2f}")
    print(f"{sr:>6} {'librosa chroma_cqt':<34} {1e3 * t_lchroma:>10.2f} {t_lchroma / t_chroma:>7.2f}x   "
          f"min frame corr vs librosa defaults {ca:.4f}")
    print(f"{sr:>6} {'fluxstream ... + ChromaCens':<34} {1e3 * t_cens:>10.2f}")
    print(f"{sr:>6} {'librosa chroma_cens':<34} {1e3 * t_lcens:>10.2f} {t_lcens / t_cens:>7.2f}x   "
          f"min frame corr vs librosa defaults {cc:.4f}")


if __name__ == "__main__":
    main()

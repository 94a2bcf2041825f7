"""Benchmark: the full feature set (mel, MFCC + deltas, chroma, every spectral descriptor),
file mode and live per-hop, against the STFT floor, librosa and audioFlux, all measured in
the same run.

Workload: 60 s of 48 kHz mono audio (``bench_stft.signal()``: a harmonic melody with
noise), n_fft 2048, hop 512, and these features (``FEATURES``): ``mel`` (n_mels 128),
``mfcc`` (n_mfcc 20), ``mfcc.delta``, ``mfcc.delta2``, ``chroma`` (12), and the descriptors
centroid, bandwidth, spread, skewness, kurtosis, flatness, crest, slope, decrease, rolloff,
entropy, contrast, energy, rms, hfc, flux, mkl, zcr.

- file mode: fluxstream's streaming engine over the whole signal in blocks of ``--block``
  (default ``FILE_BLOCK``, ``fluxstream analyze``'s automatic block), ``process_block`` per
  block then ``graph.flush()``; real-time factor = audio seconds / wall seconds.
- floor: ``fluxstream.dsp.stft.stft`` (the batch STFT: framing + window + rFFT of the whole
  signal at once; the ratio target is against this), and the bare batched float32 rFFT of
  the same windowed frames (framing and windowing done beforehand, untimed; the fastest of
  pyfftw and scipy.fft, ``bench_stft.floor_fft``).
- librosa, in its best case: ONE shared spectrogram, every feature from it.
  ``S = |stft(y, center=True, pad_mode="constant")|``, ``P = S**2``;
  ``melspectrogram(S=P)`` (128 mels, Slaney); ``mfcc(S=power_to_db(mel, top_db=None),
  n_mfcc=20)``; ``delta(mfcc)``, ``delta(mfcc, order=2)`` (width 9, interp edges);
  ``chroma_stft(S=P, tuning=0.0)`` (fluxstream's default tuning; librosa would otherwise
  estimate it); ``spectral_centroid``, ``spectral_bandwidth`` (p=2, which is also
  fluxstream's ``spread``), ``spectral_flatness``, ``spectral_rolloff`` (0.85),
  ``spectral_contrast`` (all ``S=S``); ``rms(y=y, frame_length=2048, center=True,
  pad_mode="constant")`` (the unwindowed frame RMS fluxstream computes);
  ``zero_crossing_rate(y, frame_length=2048, center=True)``. Timed separately: numpy
  one-liners on the same S/P for the descriptors librosa lacks (skewness, kurtosis, crest,
  slope, decrease, entropy, energy, hfc, flux, mkl; ``numpy_extras``), so the "librosa +
  numpy" row is the same full set as fluxstream's.
- audioFlux (``pip install audioflux``; "n/a" when it is missing), in its best case: every
  object (FFT plans, filterbanks) built once outside the timing; no centring (its frames
  start at sample 0: 5622 frames instead of 5626), otherwise the same n_fft (radix2_exp 11),
  hop (slide_length 512) and Hann window. Its API has no way to share one STFT between
  scales, so it runs three transforms: ``BFT`` linear (1025 bins, magnitude, is_temporal ->
  ``get_temporal_data()``: energy, rms, zero-crossing rate), ``BFT`` mel (128 bands, power,
  Slaney-style triangles, area norm), and the linear chromagram (``Spectrogram`` with the
  CHROMA filterbank, 12 bins, power: what ``af.chroma_linear`` builds per call). Then
  ``XXCC(128).xxcc_standard(mel, energy, cc_num=20, delta_window_length=9,
  energy_type=IGNORE)`` (MFCC + delta + delta2 in one call) and ``Spectral`` on the
  linear magnitude: centroid, band_width (p=2), spread, skewness, kurtosis, flatness,
  crest, slope, decrease, rolloff (0.85), entropy, energy, hfc, flux (rectified, p=1), mkl.
  (audioFlux has no spectral contrast.) ``Spectral`` transposes its input to
  (time, freq) C order on every call; the benchmark hands it a (freq, time) view of one
  (time, freq) copy, made once and timed, so those transposes cost nothing.
- live: the engine's per-block compute of the full set at block = hop = 512 (median and
  p99), measured two ways: back to back over every block of the signal (after a 5 s
  warm-up), and paced, each block processed at its real-time deadline
  (``--paced-seconds`` of audio) as a device delivers it.
- ``--nodes``: where fluxstream's file-mode time goes, per graph node (one extra run with
  each node's ``process`` timed; the rest is the engine's own work, framing included).

Targets: fluxstream <= 8x the batch STFT, librosa >= 3x and audioFlux >= 2x fluxstream's
time, live p99 < 0.3 ms. Every timing is the median of ``--repeat`` runs.
Run: ``python benchmarks/bench_features.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stft import ArraySource, floor_fft, median_time, signal  # noqa: E402
from bench_stft import live_latency as _live_latency  # noqa: E402

from fluxstream.config import FILE_BLOCK, load_config  # noqa: E402
from fluxstream.dsp.stft import stft  # noqa: E402
from fluxstream.stream.engine import Engine  # noqa: E402

SR, N_FFT, HOP, SECONDS = 48000, 2048, 512, 60
N_MELS, N_MFCC, N_CHROMA = 128, 20, 12
DESCRIPTORS = ["centroid", "bandwidth", "spread", "skewness", "kurtosis", "flatness", "crest", "slope",
               "decrease", "rolloff", "entropy", "contrast", "energy", "rms", "hfc", "flux", "mkl", "zcr"]
FEATURES = ["mel", "mfcc", "mfcc.delta", "mfcc.delta2", "chroma"] + DESCRIPTORS
TARGETS = {"fluxstream_over_stft": 8.0, "librosa_over_fluxstream": 3.0, "audioflux_over_fluxstream": 2.0,
           "live_p99_ms": 0.3}


def feature_config(block):
    return load_config(overrides=[
        f"input.block={block}",
        "analysis.features=[" + ", ".join(f'"{f}"' for f in FEATURES) + "]",
        f"features.mel.n_mels={N_MELS}",
        f"features.mfcc.n_mfcc={N_MFCC}",
        f"features.chroma.n_chroma={N_CHROMA}",
    ])


def open_engine(x, block, threads=None):
    eng = Engine(feature_config(block), source=ArraySource(x, SR, block))
    eng.open()
    if threads is not None:
        eng.graph.set_threads(threads)
    return eng


def run_engine(x, block, eng=None, threads=None):
    eng = eng if eng is not None else open_engine(x, block, threads)
    for pos, b in eng.source.blocks():
        eng.process_block(pos, b)
    eng.graph.flush()
    eng.stop()  # also gives BLAS its threads back before peers are timed
    return eng


def stft_floor(x, repeat):
    stft(x, N_FFT, HOP)  # warm-up (plans)
    return median_time(lambda: stft(x, N_FFT, HOP), repeat)


# --- librosa ----------------------------------------------------------------------------


def numpy_extras(S, P, freqs, centroid):
    """The descriptors librosa lacks, as numpy one-liners on librosa's (bins, frames) S, P."""
    K = S.shape[0]
    tiny = np.float32(np.finfo(np.float32).tiny)
    total = S.sum(axis=0)
    inv = 1 / np.maximum(total, tiny)
    d = freqs[:, None] - centroid[None, :]
    dk = d * d
    m2 = np.einsum("kn,kn->n", S, dk) * inv
    dk *= d
    m3 = np.einsum("kn,kn->n", S, dk) * inv
    dk *= d
    m4 = np.einsum("kn,kn->n", S, dk) * inv
    sd = np.sqrt(m2) + tiny
    fc = freqs - freqs.mean()
    inv_k = (1 / np.arange(1, K)).astype(np.float32)
    return {
        "skewness": m3 / sd**3,
        "kurtosis": m4 / sd**4,
        "crest": S.max(axis=0) / np.maximum(total / K, tiny),
        "slope": (fc / (fc @ fc)).astype(np.float32) @ S * inv,
        "decrease": (inv_k @ S[1:] - S[0] * inv_k.sum()) / np.maximum(total - S[0], tiny),
        "entropy": (np.log(np.maximum(total, tiny))
                    - np.einsum("kn,kn->n", S, np.log(np.maximum(S, tiny))) * inv) / math.log(K),
        "energy": P.sum(axis=0),
        "hfc": np.arange(K, dtype=np.float32) @ P,
        "flux": np.maximum(np.diff(S, axis=1, prepend=0), 0).sum(axis=0),
        "mkl": np.log1p(S[:, 1:] / (S[:, :-1] + np.float32(1e-10))).sum(axis=0),
    }


def librosa_work(x, repeat):
    """Median seconds of (librosa's functions, the numpy extras, both) over ``repeat`` runs."""
    import librosa

    y = x[:, 0]
    freqs = librosa.fft_frequencies(sr=SR, n_fft=N_FFT).astype(np.float32)
    kw = dict(sr=SR, n_fft=N_FFT, hop_length=HOP)

    def work():
        t0 = time.perf_counter()
        S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=True, pad_mode="constant"))
        P = S**2
        mel = librosa.feature.melspectrogram(S=P, sr=SR, n_mels=N_MELS)
        mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=N_MFCC)
        librosa.feature.delta(mfcc)
        librosa.feature.delta(mfcc, order=2)
        librosa.feature.chroma_stft(S=P, sr=SR, n_chroma=N_CHROMA, tuning=0.0)
        centroid = librosa.feature.spectral_centroid(S=S, **kw)
        librosa.feature.spectral_bandwidth(S=S, centroid=centroid, **kw)  # = spread (p=2)
        librosa.feature.spectral_flatness(S=S)
        librosa.feature.spectral_rolloff(S=S, **kw)
        librosa.feature.spectral_contrast(S=S, **kw)
        librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP, center=True, pad_mode="constant")
        librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP, center=True)
        t1 = time.perf_counter()
        numpy_extras(S, P, freqs, centroid[0])
        return t1 - t0, time.perf_counter() - t1

    work()  # warm-up (imports, caches)
    runs = np.array([work() for _ in range(repeat)])
    return float(np.median(runs[:, 0])), float(np.median(runs[:, 1])), float(np.median(runs.sum(axis=1)))


# --- audioFlux --------------------------------------------------------------------------


def audioflux_work(x, repeat):
    """Median seconds of audioFlux's equivalents (see the module docstring)."""
    import audioflux as af
    from audioflux.spectrogram import Spectrogram
    from audioflux.type import (CepstralEnergyType, SpectralDataType, SpectralFilterBankNormalType,
                                SpectralFilterBankScaleType, SpectralFilterBankStyleType,
                                SpectralFilterBankType, WindowType)

    y = np.ascontiguousarray(x[:, 0], dtype=np.float32)
    radix2 = int(math.log2(N_FFT))
    common = dict(radix2_exp=radix2, samplate=SR, window_type=WindowType.HANN, slide_length=HOP)
    lin = af.BFT(num=N_FFT // 2 + 1, scale_type=SpectralFilterBankScaleType.LINEAR,
                 data_type=SpectralDataType.MAG, is_temporal=True, **common)
    mel = af.BFT(num=N_MELS, low_fre=0.0, high_fre=SR / 2, scale_type=SpectralFilterBankScaleType.MEL,
                 style_type=SpectralFilterBankStyleType.SLANEY,
                 normal_type=SpectralFilterBankNormalType.AREA, data_type=SpectralDataType.POWER, **common)
    chroma = Spectrogram(num=N_CHROMA, low_fre=0.0, high_fre=SR / 2,
                         filter_bank_type=SpectralFilterBankType.CHROMA, data_type=SpectralDataType.POWER,
                         style_type=SpectralFilterBankStyleType.SLANEY,
                         normal_type=SpectralFilterBankNormalType.NONE, **common)
    n_time = lin.cal_time_length(len(y))
    xxcc = af.XXCC(mel.num)
    xxcc.set_time_length(n_time)
    spectral = af.Spectral(num=lin.num, fre_band_arr=lin.get_fre_band_arr())
    spectral.set_time_length(n_time)

    def work():
        S = lin.bft(y, result_type=1)  # (freq, time) magnitude
        energy, _rms, _zcr = lin.get_temporal_data()
        M = mel.bft(y, result_type=1)
        xxcc.xxcc_standard(M, np.ascontiguousarray(energy, dtype=np.float32), cc_num=N_MFCC,
                           delta_window_length=9, energy_type=CepstralEnergyType.IGNORE)
        chroma.spectrogram(y)
        St = np.ascontiguousarray(S.T).T  # (freq, time) view of (time, freq) memory: no per-call copy
        sp = spectral
        sp.centroid(St)
        sp.band_width(St, p=2)
        sp.spread(St)
        sp.skewness(St)
        sp.kurtosis(St)
        sp.flatness(St)
        sp.crest(St)
        sp.slope(St)
        sp.decrease(St)
        sp.rolloff(St, threshold=0.85)
        sp.entropy(St, is_norm=True)
        sp.energy(St)
        sp.hfc(St)
        sp.flux(St, p=1, is_positive=True)
        sp.mkl(St)

    work()  # warm-up
    return median_time(work, repeat)


# --- live -------------------------------------------------------------------------------


def live_latency(x, block=512, warmup_s=5.0, paced_s=None):
    """Per-block compute [ms] (median, p99) of the full set's live path (bench_stft's
    measurement with this benchmark's engine)."""
    return _live_latency(x, block, warmup_s, paced_s, open_engine=lambda x, b: open_engine(x, b, threads=1))


# --- per-node breakdown -----------------------------------------------------------------


class _Timed:
    """A graph node whose ``process`` (and ``flush``) time is added to ``acc[label]``."""

    def __init__(self, node, label, acc):
        self._node, self._label, self._acc = node, label, acc

    def _timed(self, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        self._acc[self._label] = self._acc.get(self._label, 0.0) + time.perf_counter() - t0
        return out

    def process(self, *inputs):
        return self._timed(self._node.process, *inputs)

    def reset(self, *args):
        return self._node.reset(*args)

    def __getattr__(self, name):
        attr = getattr(self._node, name)
        if name == "flush":
            return lambda *a: self._timed(attr, *a)
        return attr


def _label(key):
    name, p = key
    if name.startswith("bands"):
        return f"{name} ({p.scale} {p.n_bands}, |X|^{p.power:g})"
    return name


def node_times(x, block):
    """Seconds per graph node over one file-mode run (plus the rest: engine, framing)."""
    eng = open_engine(x, block)
    g = eng.graph
    acc: dict[str, float] = {}
    g.instrument(lambda k, n: _Timed(n, _label(k), acc))
    g.set_threads(1)  # one thread: per-node times must not overlap
    t0 = time.perf_counter()
    run_engine(x, block, eng)
    total = time.perf_counter() - t0
    acc["(engine, framing, packaging)"] = total - sum(acc.values())
    return total, dict(sorted(acc.items(), key=lambda kv: -kv[1]))


# --- main -------------------------------------------------------------------------------


def _target(value, limit, at_most):
    if value is None:
        return "n/a"
    ok = value <= limit if at_most else value >= limit
    return f"{value:.2f} ({'met' if ok else 'MISSED'}: {'<=' if at_most else '>='} {limit:g})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--block", type=int, default=FILE_BLOCK,
                    help=f"file-mode block (samples; default {FILE_BLOCK}, analyze's automatic block)")
    ap.add_argument("--paced-seconds", type=float, default=5.0,
                    help="audio seconds for the paced live measurement (takes that long)")
    ap.add_argument("--seconds", type=float, default=SECONDS)
    ap.add_argument("--nodes", action="store_true", help="also time fluxstream's graph nodes one by one")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    x = signal(args.seconds)
    audio_s = len(x) / SR

    run_engine(x[: SR * 2], args.block)  # warm-up
    ours = median_time(lambda: run_engine(x, args.block), args.repeat)
    ours1 = median_time(lambda: run_engine(x, args.block, threads=1), args.repeat)
    st = stft_floor(x, args.repeat)
    floors = floor_fft(x, args.repeat)
    try:
        lib_core, lib_extra, lib = librosa_work(x, args.repeat)
    except ImportError:
        lib_core = lib_extra = lib = None
    try:
        import audioflux  # noqa: F401
    except Exception:  # not installed, or its C library cannot be loaded
        afx = None
    else:
        afx = audioflux_work(x, args.repeat)
    med, p99 = live_latency(x)
    pmed, pp99 = live_latency(x, paced_s=args.paced_seconds)
    nodes = node_times(x, args.block) if args.nodes else None

    b = str(args.block)
    fig = {
        "workload": f"{audio_s:.0f} s, {SR} Hz mono, n_fft {N_FFT}, hop {HOP}, {len(FEATURES)} features: "
                    f"mel {N_MELS}, mfcc {N_MFCC} + delta + delta2, chroma {N_CHROMA}, "
                    f"{len(DESCRIPTORS)} descriptors",
        "features": FEATURES,
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "fluxstream_s": {b: ours},
        "fluxstream_one_thread_s": {b: ours1},
        "realtime_factor": {b: audio_s / ours},
        "stft_batch_s": st,
        "floor_fft_s": floors,
        "fluxstream_over_stft": {b: ours / st},
        "fluxstream_over_floor_fft": {b: ours / min(floors.values())},
        "librosa_s": lib,
        "librosa_functions_s": lib_core,
        "librosa_numpy_extras_s": lib_extra,
        "librosa_over_fluxstream": None if lib is None else {b: lib / ours},
        "audioflux_s": afx,
        "audioflux_over_fluxstream": None if afx is None else {b: afx / ours},
        "live_block512_ms": {"median": med, "p99": p99},
        "live_block512_paced_ms": {"median": pmed, "p99": pp99},
        "targets": TARGETS,
    }
    if nodes is not None:
        fig["nodes_s"] = {"total": nodes[0], "per_node": nodes[1]}
    if args.json:
        print(json.dumps(fig, indent=2))
        return 0
    print(f"workload: {fig['workload']}; median of {args.repeat} runs; {fig['machine']}")
    print(f"{'what':52} {'median s':>9} {'x real time':>12} {'vs STFT':>8} {'this/fluxstream':>16}")

    def row(what, t, peer=True):
        ratio = f"{t / ours:16.2f}" if peer else ""
        print(f"{what:52} {t:9.4f} {audio_s / t:12.0f} {t / st:8.2f} {ratio}")

    row(f"fluxstream file mode, full set, block {b}", ours, peer=False)
    row("  the same on one thread (analysis.threads = 1)", ours1, peer=False)
    row("floor: fluxstream.dsp.stft.stft (batch STFT)", st, peer=False)
    for name, t in floors.items():
        row(f"floor: batched rFFT of windowed frames, {name}", t, peer=False)
    if lib is not None:
        row("librosa, one shared |STFT|, its functions only", lib_core)
        row("librosa + numpy for the 10 descriptors it lacks", lib)
    else:
        print(f"{'librosa':52} {'n/a':>9}")
    if afx is not None:
        row("audioFlux (3 transforms, XXCC, Spectral)", afx)
    else:
        print(f"{'audioFlux':52} {'n/a':>9}")
    print(f"live per-hop compute at block = hop = 512, back to back: median {med:.4f} ms, p99 {p99:.4f} ms")
    print(f"live per-hop compute at block = hop = 512, paced at real time: median {pmed:.4f} ms, "
          f"p99 {pp99:.4f} ms")
    lib_r = None if lib is None else lib / ours
    afx_r = None if afx is None else afx / ours
    print(f"targets: fluxstream/STFT {_target(ours / st, TARGETS['fluxstream_over_stft'], True)}; "
          f"librosa/fluxstream {_target(lib_r, TARGETS['librosa_over_fluxstream'], False)}; "
          f"audioFlux/fluxstream {_target(afx_r, TARGETS['audioflux_over_fluxstream'], False)}; "
          f"live p99 ms {_target(p99, TARGETS['live_p99_ms'], True)}")
    if nodes is not None:
        total, per = nodes
        print(f"fluxstream file mode per node (one run, {total:.4f} s, timing overhead included):")
        for label, t in per.items():
            print(f"  {label:50} {t:9.4f} s {100 * t / total:6.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())

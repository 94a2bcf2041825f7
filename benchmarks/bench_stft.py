"""Benchmark: STFT + RMS + centroid, file mode and live per-hop, against the FFT floor and
librosa, all measured in the same run.

Workload: 60 s of 48 kHz mono audio (a harmonic melody with noise), n_fft 2048, hop 512.

- file mode: fluxstream's streaming engine over the whole signal in blocks (``--block``),
  as ``fluxstream analyze`` runs it (``analysis.threads`` automatic: 2 threads on a
  multi-core machine); real-time factor = audio seconds / wall seconds. Each engine is
  stopped before the peers run, so they get BLAS's threads back.
- floor: the bare batched float32 rFFT of the same windowed frames (frames and windowing
  done beforehand, untimed), the fastest of pyfftw and scipy.fft.
- librosa: ``stft`` + ``abs`` + ``feature.rms(y)`` + ``feature.spectral_centroid(S)``.
- live: the engine's per-block compute at block = hop = 512 (median and p99), measured two
  ways: back to back over every block of the signal (after a warm-up), and paced, each
  block processed at its real-time deadline (``--paced-seconds`` of audio) as a device
  delivers it, which includes the machine's wake-up cost after each idle wait.

Every timing is the median of ``--repeat`` runs. Run: ``python benchmarks/bench_stft.py``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np

from fluxstream.config import FILE_BLOCK, Config, load_config
from fluxstream.dsp.framing import frame_signal
from fluxstream.dsp.windows import make_window
from fluxstream.stream.engine import Engine

SR, N_FFT, HOP, SECONDS = 48000, 2048, 512, 60


class ArraySource:
    """An in-memory signal as a source (file mode without disk I/O in the timing)."""

    live = False
    description = "benchmark signal"
    channels = 1

    def __init__(self, x, sample_rate, block):
        self.x, self.sample_rate, self.block = x, sample_rate, block

    def open(self):
        pass

    def blocks(self):
        for i in range(0, len(self.x), self.block):
            yield i, self.x[i : i + self.block]

    def close(self):
        pass


def signal(seconds=SECONDS, sr=SR):
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 220 * 2 ** (np.floor(t * 2) % 12 / 12)
    x = sum(np.sin(2 * np.pi * h * np.cumsum(f0) / sr) / h for h in range(1, 6))
    return (0.2 * x + 0.01 * rng.standard_normal(t.size)).astype(np.float32)[:, None]


def median_time(fn, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def run_engine(x, block):
    cfg = load_config(overrides=[f"input.block={block}"])
    eng = Engine(cfg, source=ArraySource(x, SR, block), features=["rms", "centroid"])
    eng.open()
    for pos, b in eng.source.blocks():
        eng.process_block(pos, b)
    eng.graph.flush()
    eng.stop()  # also gives BLAS its threads back before peers are timed
    return eng


def floor_fft(x, repeat):
    frames = frame_signal(x, N_FFT, HOP, True)[0] * make_window("hann", N_FFT)
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    out = {}
    import scipy.fft

    out["scipy.fft"] = median_time(lambda: scipy.fft.rfft(frames, axis=-1), repeat)
    try:
        import pyfftw

        a = pyfftw.empty_aligned(frames.shape, dtype=np.float32)
        a[:] = frames
        plan = pyfftw.builders.rfft(a, axis=-1, threads=1, planner_effort="FFTW_ESTIMATE")
        out["pyfftw"] = median_time(plan, repeat)
    except ImportError:
        pass
    return out


def librosa_work(x, repeat):
    import librosa

    y = x[:, 0]

    def work():
        S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=True, pad_mode="constant"))
        librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP, center=True, pad_mode="constant")
        librosa.feature.spectral_centroid(S=S, sr=SR, n_fft=N_FFT, hop_length=HOP)

    work()  # warm-up (imports, caches)
    return median_time(work, repeat)


def live_latency(x, block=512, warmup_s=5.0, paced_s=None, open_engine=None):
    """Per-block compute [ms] (median, p99) of the live path at ``block``; paced: each
    block waits for its real-time deadline first (only ``paced_s`` seconds of audio).
    ``open_engine(x, block)`` builds the opened engine (default: rms + centroid)."""
    if open_engine is None:
        eng = Engine(Config(), source=ArraySource(x, SR, block), features=["rms", "centroid"])
        eng.open()
    else:
        eng = open_engine(x, block)
    eng.subscribe(lambda item: None)
    eng.graph.set_threads(1)  # the live path: one frame per block, one thread
    warm = int(warmup_s * SR) // block * block
    for i in range(0, warm, block):  # plans, caches
        eng.process_block(i, x[i : i + block])
    end = len(x) if paced_s is None else min(len(x), warm + int(paced_s * SR))
    times = []
    t_start = time.perf_counter()
    for i in range(warm, end - block + 1, block):
        if paced_s is not None:
            delay = t_start + (i + block - warm) / SR - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        t0 = time.perf_counter()
        eng.process_block(i, x[i : i + block])
        times.append(time.perf_counter() - t0)
    eng.stop()
    t = np.asarray(times) * 1e3
    return float(np.median(t)), float(np.percentile(t, 99))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--block", type=int, default=FILE_BLOCK,
                    help=f"file-mode block (samples; default {FILE_BLOCK}, analyze's automatic block)")
    ap.add_argument("--paced-seconds", type=float, default=10.0,
                    help="audio seconds for the paced live measurement (takes that long)")
    ap.add_argument("--seconds", type=float, default=SECONDS)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    x = signal(args.seconds)
    audio_s = len(x) / SR

    run_engine(x[: SR * 2], args.block)  # warm-up
    ours = {b: median_time(lambda b=b: run_engine(x, b), args.repeat) for b in sorted({512, args.block})}
    floors = floor_fft(x, args.repeat)
    floor_name = min(floors, key=floors.get)
    floor = floors[floor_name]
    try:
        lib = librosa_work(x, args.repeat)
    except ImportError:
        lib = None
    med, p99 = live_latency(x)
    pmed, pp99 = live_latency(x, paced_s=args.paced_seconds)

    fig = {
        "workload": f"{audio_s:.0f} s, {SR} Hz mono, n_fft {N_FFT}, hop {HOP}, STFT+RMS+centroid",
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "fluxstream_s": {str(b): t for b, t in ours.items()},
        "realtime_factor": {str(b): audio_s / t for b, t in ours.items()},
        "floor_fft_s": floors,
        "ratio_to_floor": {str(b): t / floor for b, t in ours.items()},
        "librosa_s": lib,
        "librosa_over_fluxstream": None if lib is None else {str(b): lib / t for b, t in ours.items()},
        "live_block512_ms": {"median": med, "p99": p99},
        "live_block512_paced_ms": {"median": pmed, "p99": pp99},
    }
    if args.json:
        print(json.dumps(fig, indent=2))
        return 0
    print(f"workload: {fig['workload']}; median of {args.repeat} runs; {fig['machine']}")
    print(f"{'what':44} {'median s':>9} {'x real time':>12} {'vs floor':>9} {'librosa/this':>12}")
    for b, t in ours.items():
        r = f"{lib / t:12.2f}" if lib else f"{'n/a':>12}"
        print(f"{'fluxstream file mode, block ' + str(b):44} {t:9.4f} {audio_s / t:12.0f} {t / floor:9.2f} {r}")
    for name, t in floors.items():
        print(f"{'floor: batched rFFT of windowed frames, ' + name:44} {t:9.4f} {audio_s / t:12.0f} {t / floor:9.2f}")
    if lib:
        print(f"{'librosa stft+rms+spectral_centroid':44} {lib:9.4f} {audio_s / lib:12.0f} {lib / floor:9.2f}")
    print(f"live per-hop compute at block = hop = 512, back to back: median {med:.4f} ms, p99 {p99:.4f} ms")
    print(f"live per-hop compute at block = hop = 512, paced at real time: median {pmed:.4f} ms, "
          f"p99 {pp99:.4f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

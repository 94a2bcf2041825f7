"""Benchmark: pitch and onset detection, accuracy (mir_eval) and speed, vs librosa and aubio.

Every method is measured in the same run on the same audio.

Workload: the evaluation set of ``benchmarks/evalset.py`` (seed ``--seed``, 48 kHz mono):
8 synthetic families (harmonic notes with vibrato and glides across 50 Hz - 2 kHz,
Karplus-Strong plucks, struck decaying stacks, drum-like noise bursts, slow attacks,
repeated notes, polyphony) and 7 rendered-MIDI clips (piano, nylon guitar, flute, violin,
bass, drums, a band; fluidsynth + TimGM6mb, skipped with a note when fluidsynth is
missing), about ``--clip-seconds`` (6) each, so about 100 s of content, under 7
conditions: clean, white and pink noise at 20/10/0 dB SNR (SNR over the clip's active
signal): about 700 s of audio. Pitch methods analyse every clip with frame (aubio:
buffer) 2048 and hop 512 samples and search 48-2100 Hz; the online onset detectors
(fluxstream's and aubio's) use an STFT of 1024 / hop 256 (``ONSET_FRAME``, ``ONSET_HOP``:
half a window plus a hop is the least latency a spectral detector can have, 16 ms here),
librosa's offline ``onset_detect`` hop 512.

Pitch (``mir_eval.melody``, 50 cents): every estimate is resampled to the truth's 10 ms
grid (``to_cent_voicing``, linear), with mir_eval's convention for unvoiced frames that
still carry a pitch guess (a negative f0: fluxstream's candidate from a second run with
the voicing threshold opened, ``GUESS_THRESHOLD``; librosa.pyin's ``fill_na=None``;
aubio's estimate below its confidence rule), frames whose truth is ambiguous
(decay tails, polyphony; ``Clip.f0_valid``) are dropped, and the frames of all clips of a
group are pooled: raw pitch accuracy (RPA) and raw chroma accuracy (RCA) over voiced-truth
frames, voicing recall (VR) and false alarm (VFA), and the octave-error rate: among frames
voiced in both truth and estimate, those whose error is within 50 cents of +-1200 cents.
Estimates are time-stamped at the centre of their analysis window (aubio's output after
hop k at ``(k+1)*hop - 1024``), so a method's real-time lag is not scored as pitch error.

Onsets (``mir_eval.onset``, +-50 ms): per clip ``mir_eval.util.match_events`` (what
``mir_eval.onset.f_measure`` computes, the per-clip F is in ``--json``), counts pooled per
group into F, precision, recall. Decision latency (online methods): over matched onsets,
the median of (time the detector decided - true onset). fluxstream: the onset event's
``time_s + latency``; aubio: the end of the hop whose call returned the onset (its reported
onset time is ``get_last_s()``, delay-compensated); librosa is offline (it sees the whole
file) and has none.

Methods:

- fluxstream pitch ``yin yinfft mpm cepstrum hps shs pyin`` and onset ``flux superflux hfc
  energy complex phase wphase mkl``, each with its ``[features.pitch]`` /
  ``[features.onset]`` defaults except the method and range (``--set`` adds overrides),
  through the engine (``Engine`` over an in-memory source, ``analysis.threads = 1``,
  blocks of 16384 samples for the accuracy runs) when those features are registered, else through the ``fluxstream.dsp`` classes
  directly (``--flux-path``; the report says which). Everything fluxstream-specific is in
  the adapter section at the top of this file.
- librosa (offline; it sees the future): ``librosa.yin`` (no voicing decision: every frame
  voiced), ``librosa.pyin`` (unvoiced frames with its best guess), ``librosa.onset.onset_detect(y, sr,
  hop_length=512, backtrack=False)`` with the default ``onset_strength``.
- aubio (when ``pip install aubio`` worked), driven hop by hop from Python (its real-time
  mode; pitch at buf 2048 / hop 512, onsets at 1024 / 256): ``pitch`` "yin" (voiced when confidence >= 0.85, i.e.
  YIN's own rule at aubio's tolerance 0.15) and "yinfft" (voiced when its output is
  non-zero: its own tolerance rule; see ``AUBIO_VOICED_CONFIDENCE``); ``onset``
  "specflux", "hfc", "complex" with aubio's default per-method thresholds.

Speed, one process, after the accuracy runs: whole-file time (median of ``--repeat``
runs, after a warm-up run) of every method on the first ``--speed-seconds`` (30) of the
clean clips concatenated; a fluxstream engine run includes building and opening the
engine, shown separately as "of which engine setup". Ratios: fluxstream YIN vs
``librosa.yin``, fluxstream pYIN vs ``librosa.pyin`` (one run, ``--repeat-slow``).
Live: fluxstream's per-hop compute of pitch + onset together at block = hop = 512
(median, p99; ``engine.process_block`` back to back over the excerpt after a warm-up, as
``bench_stft.live_latency``), for the methods the targets are judged on and for the
defaults (yin + superflux).

Targets (on the noisy conditions combined): the best fluxstream pitch method's RPA >=
the best of librosa yin/pyin and aubio, with octave errors < 1 %; the best fluxstream
onset method's F >= librosa's onset_detect and aubio's best, with median decision latency
< 30 ms; fluxstream YIN >= 3x faster than librosa.yin, pYIN >= 20x faster than
librosa.pyin; live p99 of pitch + onset < 0.2 ms.

Accuracy runs on ``--jobs`` worker processes (default: up to 2); timings run alone after.
Run: ``python benchmarks/bench_pitch_onset.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evalset  # noqa: E402
from bench_stft import ArraySource, median_time  # noqa: E402

FRAME, HOP = 2048, 512
#: The online onset detectors' STFT (fluxstream's and aubio's): a shorter window than the
#: pitch frame, because an onset cannot be decided before the window's second half has
#: seen it (half a window + a hop of latency at least: 16 ms here, 32 ms at 2048 / 512).
ONSET_FRAME, ONSET_HOP = 1024, 256
FMIN_HZ, FMAX_HZ = 48.0, 2100.0
ONSET_WINDOW_S = 0.05
CENTS = 50.0
TARGETS = {"pitch_rpa_vs_peers": ">= best peer", "octave_error_pct": 1.0, "onset_f_vs_peers": ">= best peer",
           "onset_latency_ms": 30.0, "yin_speedup": 3.0, "pyin_speedup": 20.0, "live_p99_ms": 0.2}


# ======================================================================================
# fluxstream adapter: the only code that knows fluxstream's pitch/onset API. The
# integrator fixes feature, parameter and field names here and nowhere else.
# ======================================================================================

FLUX_PITCH_METHODS = ("yin", "yinfft", "mpm", "cepstrum", "hps", "shs", "pyin")
FLUX_ONSET_METHODS = ("flux", "superflux", "hfc", "energy", "complex", "phase", "wphase", "mkl")
FLUX_PATH = {"mode": "auto"}  # "auto" | "engine" | "direct" (set by --flux-path)
#: analysis.threads of engine runs: one, as the peers (and the accuracy runs share the cores).
FLUX_ENGINE_THREADS = {"n": 1}
EXTRA_OVERRIDES: list[str] = []  # --set KEY=VALUE, appended to every engine run's config
ACCURACY_BLOCK = 16384  # engine block of the accuracy runs (timings use FILE_BLOCK)


def _pitch_overrides(method: str, hop: int) -> list[str]:
    return [f'features.pitch.method="{method}"', f"features.pitch.fmin_hz={FMIN_HZ}",
            f"features.pitch.fmax_hz={FMAX_HZ}", f"features.pitch.frame_length={FRAME}",
            f"features.pitch.hop_length={hop}"]


def _onset_overrides(method: str, hop: int) -> list[str]:
    return [f'features.onset.method="{method}"', f"stft.n_fft={ONSET_FRAME}", f"stft.hop_length={hop}"]


def engine_missing(feature: str) -> str | None:
    """None when the engine can compute ``feature``, else why not."""
    try:
        from fluxstream.dsp import registry
        import fluxstream.dsp.graph  # noqa: F401  (registers every feature)
        registry.get(feature)
    except Exception as e:  # ImportError, ConfigError "unknown feature"
        return f"{type(e).__name__}: {e}"
    return None


def _use_engine(feature: str) -> bool:
    mode = FLUX_PATH["mode"]
    if mode == "engine":
        return True
    if mode == "direct":
        return False
    return engine_missing(feature) is None


def _engine_config(overrides, block, threads=None):
    from fluxstream.config import load_config

    extra = [f"input.block={block}"]
    if threads is not None:
        extra.append(f"analysis.threads={threads}")
    return load_config(overrides=extra + list(overrides) + EXTRA_OVERRIDES)


def _engine_run(x, sr, features, overrides, block=None):
    """Frames and events of one whole-file engine run over ``x`` (mono)."""
    from fluxstream.config import FILE_BLOCK
    from fluxstream.results import Event
    from fluxstream.stream.engine import Engine

    block = block or FILE_BLOCK
    cfg = _engine_config(overrides, block, FLUX_ENGINE_THREADS["n"])
    eng = Engine(cfg, source=ArraySource(np.asarray(x, np.float32)[:, None], sr, block), features=features)
    frames, events = [], []
    eng.subscribe(lambda item: (events if isinstance(item, Event) else frames).append(item))
    eng.run()
    return frames, events


#: A voicing threshold that lets the method give its candidate on every frame it can (for
#: the pitch guesses of unvoiced frames; see fluxstream_pitch). YIN-type: a trough below
#: 1 (any); the others: clarity / salience above 1e-9.
GUESS_THRESHOLD = {"yin": 1.0, "yinfft": 1.0, "mpm": 1e-9, "cepstrum": 1e-9, "hps": 1e-9, "shs": 1e-9}


def _engine_pitch_rows(x, sr, method, hop, block=None, extra=()):
    frames, _ = _engine_run(x, sr, ["pitch"], _pitch_overrides(method, hop) + list(extra), block)
    got = [(f.time_s, f["pitch"]) for f in frames if "pitch" in f.features]
    times = np.concatenate([t for t, _ in got])
    return times, np.concatenate([p for _, p in got]).reshape(len(times), -1)


def _engine_pitch(x, sr, method, hop, block=None, guesses=True):
    times, rows = _engine_pitch_rows(x, sr, method, hop, block)
    f0 = np.where(rows[:, 2] > 0, rows[:, 0], 0.0)
    if guesses and method in GUESS_THRESHOLD:
        _, g = _engine_pitch_rows(x, sr, method, hop, block, [f"features.pitch.threshold={GUESS_THRESHOLD[method]}"])
        guess = np.where(g[:, 2] > 0, g[:, 0], 0.0)
        f0 = np.where(f0 > 0, f0, -guess)  # mir_eval: negative = unvoiced, with this pitch guess
    return times, f0


def _engine_onsets(x, sr, method, hop, block=None):
    _, events = _engine_run(x, sr, ["onset"], _onset_overrides(method, hop), block)
    on = [e for e in events if e.kind == "onset"]
    return (np.array([e.time_s for e in on], dtype=np.float64),
            np.array([e.info["latency"] for e in on], dtype=np.float64))


# --- fallback: fluxstream.dsp classes driven directly (until the engine features exist)


def _direct_pitch_estimator(method, sr, hop):
    from fluxstream.dsp import pitch as P

    classes = {"yin": P.Yin, "yinfft": P.YinFFT, "mpm": P.Mpm, "cepstrum": P.CepstrumPitch, "hps": P.Hps,
               "shs": P.Shs}
    if method == "pyin":
        from fluxstream.dsp.pyin import PYin  # not written yet: ImportError -> "not available"

        classes["pyin"] = PYin
    kw = {"hop_length": hop} if method == "pyin" else {}
    return classes[method](sample_rate=sr, frame_length=FRAME, fmin_hz=FMIN_HZ, fmax_hz=FMAX_HZ, **kw)


_DIRECT_CACHE: dict = {}


def _direct(key, make):
    """One instance per process and configuration (FFT plans are made once)."""
    obj = _DIRECT_CACHE.get(key)
    if obj is None:
        obj = _DIRECT_CACHE[key] = make()
    return obj


def _direct_pitch(x, sr, method, hop):
    from fluxstream.dsp.framing import frame_signal

    est = _direct(("pitch", method, sr, hop), lambda: _direct_pitch_estimator(method, sr, hop))
    est.reset()
    frames = frame_signal(x, FRAME, hop, center=True)
    out = est.process(frames)
    if hasattr(est, "flush"):
        out = np.concatenate([out, est.flush()], axis=1)
    rows = out[0]
    times = np.arange(rows.shape[0]) * hop / sr
    return times, np.where(rows[:, 2] > 0, rows[:, 0], 0.0)


def _direct_picker_settings() -> dict:
    """The direct path's picker: the engine's ``[features.onset]`` defaults (so both paths
    score the same detector), or the values they had when this was written."""
    try:
        from fluxstream.dsp.tracking import OnsetParams

        p = OnsetParams()
        return dict(threshold=p.threshold, ratio=p.ratio, pre_avg_s=p.pre_avg_s, pre_max_s=p.pre_max_s,
                    lookahead_frames=p.lookahead_frames, min_ioi_s=p.min_ioi_s, method=p.average,
                    norm_decay_s=p.norm_decay_s or None)
    except Exception:  # noqa: BLE001 - module or field renamed: fall back to the literals
        return dict(threshold=5.0, ratio=1.5, pre_avg_s=0.1, pre_max_s=0.03, lookahead_frames=0,
                    min_ioi_s=0.03, method="mean", norm_decay_s=None)


def _direct_odf(method):
    from fluxstream.dsp import onset as O
    from fluxstream.dsp.descriptors import ModifiedKL

    return {"flux": O.SpectralFluxOdf, "superflux": O.SuperFluxOdf, "hfc": O.HfcOdf, "energy": O.EnergyOdf,
            "complex": O.ComplexDomainOdf, "phase": O.PhaseDeviationOdf,
            "wphase": lambda: O.PhaseDeviationOdf(weighted=True, normalized=True), "mkl": ModifiedKL}[method]()


_COMPLEX_ODFS = ("complex", "phase", "wphase")


def _direct_onsets(x, sr, method, hop):
    from fluxstream.dsp.peaks import OnsetPicker, refine_onset_sample
    from fluxstream.dsp.stft import stft

    odf_stage = _direct(("odf", method), lambda: _direct_odf(method))
    odf_stage.reset()
    X = stft(np.asarray(x, np.float32), FRAME, hop)[None]  # (1, n_frames, n_bins)
    odf = odf_stage.process(X if method in _COMPLEX_ODFS else np.abs(X))
    picker = OnsetPicker(hop_length=hop, sample_rate=sr, **_direct_picker_settings())
    on = np.concatenate([picker.pick(odf[..., None], 0), picker.flush()])
    n = x.shape[0]
    times, decided = [], []
    for o in on:
        # The samples frame `frame` covers plus one hop, as SampleRefiner searches: all
        # arrived by the decision (decided_frame >= frame + 1).
        lo = max(0, int(o["frame"]) * hop - FRAME // 2)
        hi = min(n, int(o["frame"]) * hop - FRAME // 2 + FRAME + hop)
        s = refine_onset_sample(x, lo, hi, sr) if hi > lo else lo
        times.append(s / sr)
        decided.append((int(o["decided_frame"]) * hop + (FRAME - FRAME // 2)) / sr)
    times, decided = np.array(times), np.array(decided)
    return times, decided - times


def fluxstream_pitch(x: np.ndarray, sr: int, method: str, hop: int = HOP,
                     block: int | None = None, guesses: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(times [s], f0 [Hz])`` of fluxstream's pitch ``method`` over the mono signal ``x``
    (engine path: in blocks of ``block`` samples, default ``FILE_BLOCK``). Voiced frames
    have their f0; unvoiced ones 0, or with ``guesses`` minus the method's candidate from a
    second run with its voicing threshold opened (mir_eval's convention for a pitch guess
    on an unvoiced frame: raw pitch accuracy counts it, the voicing measures do not). The
    timed runs use one run without guesses."""
    if _use_engine("pitch"):
        return _engine_pitch(x, sr, method, hop, block, guesses)
    return _direct_pitch(x, sr, method, hop)


def fluxstream_onsets(x: np.ndarray, sr: int, method: str, hop: int = ONSET_HOP,
                      block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(onset times [s], latencies [s])``: each onset and how long after it the detector
    decided (the event's ``info["latency"]``)."""
    if _use_engine("onset"):
        return _engine_onsets(x, sr, method, hop, block)
    return _direct_onsets(x, sr, method, hop)


def fluxstream_path() -> str:
    """Which path the adapter takes, for the report."""
    p, o = _use_engine("pitch"), _use_engine("onset")
    if p and o:
        return "engine ([features.pitch] / [features.onset])"
    if not p and not o:
        why = engine_missing("pitch") or engine_missing("onset") or "forced by --flux-path direct"
        return f"fluxstream.dsp classes directly (engine features missing: {why})"
    return f"pitch: {'engine' if p else 'dsp classes'}, onset: {'engine' if o else 'dsp classes'}"


def fluxstream_setup_seconds(sr, method="yin", hop=HOP):
    """Seconds to build and open (then stop) an engine for pitch ``method``: the fixed part
    of every whole-file engine run (FFT plans, the silent warm-up blocks); None when the
    engine has no pitch feature."""
    if not _use_engine("pitch"):
        return None
    from fluxstream.config import FILE_BLOCK
    from fluxstream.stream.engine import Engine

    t0 = time.perf_counter()
    eng = Engine(_engine_config(_pitch_overrides(method, hop), FILE_BLOCK, FLUX_ENGINE_THREADS["n"]),
                 source=ArraySource(np.zeros((FILE_BLOCK, 1), np.float32), sr, FILE_BLOCK), features=["pitch"])
    eng.open()
    eng.stop()
    return time.perf_counter() - t0


def fluxstream_live_hop_times(x, sr, pitch_method, onset_method, hop=HOP, warmup_s=5.0):
    """Per-hop compute [ms] of pitch + onset together, block = hop (median, p99), and
    what was timed."""
    if _use_engine("pitch") and _use_engine("onset"):
        from bench_stft import live_latency
        from fluxstream.stream.engine import Engine

        def open_engine(sig, block):
            cfg = _engine_config(_pitch_overrides(pitch_method, hop) + _onset_overrides(onset_method, hop), block,
                                 1)
            eng = Engine(cfg, source=ArraySource(sig, sr, block), features=["pitch", "onset"])
            eng.open()
            return eng

        med, p99 = live_latency(np.asarray(x, np.float32)[:, None], hop, warmup_s, open_engine=open_engine)
        return med, p99, "engine.process_block"
    return (*_direct_live(x, sr, pitch_method, onset_method, hop, warmup_s),
            "dsp classes: Framer + estimator + WindowedFFT + ODF + OnsetPicker + SampleRefiner")


def _direct_live(x, sr, pitch_method, onset_method, hop, warmup_s):
    from fluxstream.dsp.framing import Framer
    from fluxstream.dsp.peaks import OnsetPicker, SampleRefiner
    from fluxstream.dsp.stft import WindowedFFT

    est = _direct_pitch_estimator(pitch_method, sr, hop)
    odf = _direct_odf(onset_method)
    framer = Framer(FRAME, hop, 1, True)
    fft = WindowedFFT(FRAME)
    picker = OnsetPicker(hop_length=hop, sample_rate=sr, **_direct_picker_settings())
    refiner = SampleRefiner(FRAME, hop, history_frames=16, sample_rate=sr)
    want_complex = onset_method in _COMPLEX_ODFS
    x = np.asarray(x, np.float32)[:, None]
    warm = int(warmup_s * sr) // hop * hop
    times = []
    for i in range(0, len(x) - hop + 1, hop):
        t0 = time.perf_counter()
        frames, k0 = framer.process(x[i : i + hop])
        if frames.shape[1]:
            est.process(frames)
            refiner.process(frames, k0)
            X = fft.process(frames)
            d = odf.process(X if want_complex else np.abs(X))
            for o in picker.pick(d[..., None], k0):
                try:
                    refiner.refine(0, int(o["frame"]))
                except (ValueError, IndexError):
                    pass  # the frame left the refiner's history (as the engine does)
        if i >= warm:
            times.append(time.perf_counter() - t0)
    t = np.asarray(times) * 1e3
    return float(np.median(t)), float(np.percentile(t, 99))


# ======================================================================================
# peers
# ======================================================================================

#: aubio's voicing. yin: confidence (1 - d' at the chosen dip) >= 1 - tolerance (0.15), i.e.
#: YIN's own rule (aubio returns the global minimum's period when no dip is below the
#: tolerance). yinfft: its output is 0 unless the minimum is below its tolerance (0.85),
#: so f0 > 0 is its decision; its confidence is not used (aubio 0.4.9 reads it at a stale
#: position for periods longer than sample_rate / 1300: 0 on most voiced frames).
AUBIO_VOICED_CONFIDENCE = {"yin": 0.85, "yinfft": None}


def librosa_yin(x, sr):
    import librosa

    f0 = librosa.yin(x, fmin=FMIN_HZ, fmax=FMAX_HZ, sr=sr, frame_length=FRAME, hop_length=HOP)
    return np.arange(f0.shape[0]) * HOP / sr, f0


def librosa_pyin(x, sr):
    import librosa

    # fill_na=None: unvoiced frames carry librosa's best guess, passed on negated (mir_eval).
    f0, voiced, _ = librosa.pyin(x, fmin=FMIN_HZ, fmax=FMAX_HZ, sr=sr, frame_length=FRAME, hop_length=HOP,
                                 fill_na=None)
    return np.arange(f0.shape[0]) * HOP / sr, np.where(voiced, f0, -np.abs(f0))


def librosa_onsets(x, sr):
    import librosa

    t = librosa.onset.onset_detect(y=x, sr=sr, hop_length=HOP, backtrack=False, units="time")
    return np.asarray(t, dtype=np.float64), None


def _hops(x, extra, hop=HOP):
    """``x`` zero-padded by ``extra`` samples and to whole hops, as float32 blocks."""
    n = x.shape[0] + extra
    y = np.zeros(-(-n // hop) * hop, dtype=np.float32)
    y[: x.shape[0]] = x
    return y.reshape(-1, hop)


def aubio_pitch(x, sr, method):
    import aubio

    p = aubio.pitch(method, FRAME, HOP, int(sr))
    p.set_unit("Hz")
    thr = AUBIO_VOICED_CONFIDENCE[method]
    blocks = _hops(x, FRAME // 2)  # the zeros after the end let the last windows centre on it
    f0 = np.empty(blocks.shape[0])
    for k, b in enumerate(blocks):
        f = float(p(b)[0])
        # Below the confidence threshold: unvoiced, its estimate kept as a guess (negated).
        f0[k] = f if (f > 0 and (thr is None or p.get_confidence() >= thr)) else -abs(f)
    times = ((np.arange(blocks.shape[0]) + 1) * HOP - FRAME // 2) / sr  # window centres
    keep = times >= 0
    return times[keep], f0[keep]


def aubio_onsets(x, sr, method):
    import aubio

    o = aubio.onset(method, ONSET_FRAME, ONSET_HOP, int(sr))
    times, decided = [], []
    for k, b in enumerate(_hops(x, ONSET_FRAME, ONSET_HOP)):  # the zeros let it decide on the last onsets
        if o(b)[0]:
            times.append(o.get_last_s())
            decided.append((k + 1) * ONSET_HOP / sr)
    times, decided = np.array(times), np.array(decided)
    return times, decided - times


# ======================================================================================
# methods
# ======================================================================================


@dataclass
class Method:
    name: str  # as printed
    task: str  # "pitch" | "onset"
    lib: str  # "fluxstream" | "librosa" | "aubio"
    online: bool
    run: Callable  # (x, sr) -> pitch: (times, f0); onset: (times, latencies or None)
    timed: Callable | None = None  # what the speed table times (default: run)
    cost: float = 1.0  # relative run time, to schedule the slow ones first
    error: str | None = None  # why it is not available
    results: dict = field(default_factory=dict)  # clip index -> result
    seconds: float = 0.0  # total accuracy-run compute


def all_methods() -> list[Method]:
    ms = []
    # Accuracy runs feed the engine smaller blocks than a file run (same results: streaming
    # equals batch), so that the per-clip engine warm-up stays small; timings use the
    # default block, as `fluxstream analyze`.
    for m in FLUX_PITCH_METHODS:
        ms.append(Method(f"fluxstream {m}", "pitch", "fluxstream", True,
                         lambda x, sr, m=m: fluxstream_pitch(x, sr, m, block=ACCURACY_BLOCK),
                         lambda x, sr, m=m: fluxstream_pitch(x, sr, m, guesses=False),
                         cost=3.0 if m == "pyin" else 0.3))
    ms += [Method("librosa.yin", "pitch", "librosa", False, librosa_yin, cost=0.3),
           Method("librosa.pyin", "pitch", "librosa", False, librosa_pyin, cost=20.0)]
    ms += [Method(f"aubio {m}", "pitch", "aubio", True, lambda x, sr, m=m: aubio_pitch(x, sr, m), cost=0.5)
           for m in ("yin", "yinfft")]
    for m in FLUX_ONSET_METHODS:
        ms.append(Method(f"fluxstream {m}", "onset", "fluxstream", True,
                         lambda x, sr, m=m: fluxstream_onsets(x, sr, m, block=ACCURACY_BLOCK),
                         lambda x, sr, m=m: fluxstream_onsets(x, sr, m), cost=0.3))
    ms.append(Method("librosa onset_detect", "onset", "librosa", False, librosa_onsets, cost=0.2))
    ms += [Method(f"aubio {m}", "onset", "aubio", True, lambda x, sr, m=m: aubio_onsets(x, sr, m), cost=0.3)
           for m in ("specflux", "hfc", "complex")]
    return ms


def _short_error(e: BaseException) -> str:
    if isinstance(e, ImportError) and getattr(e, "name", None) in ("aubio", "librosa", "mir_eval"):
        return f"{e.name} not installed: pip install {e.name}"
    s = f"{type(e).__name__}: {e}".splitlines()[0]
    return s if len(s) <= 110 else s[:107] + "..."


def probe(methods, x, sr):
    """Run every method once on a short signal: marks the unavailable ones (and warms up
    imports, JIT compilation and FFT plans before worker processes fork)."""
    for m in methods:
        try:
            m.run(x, sr)
        except Exception as e:  # noqa: BLE001 - any failure makes the method "not available"
            m.error = _short_error(e)


# --- accuracy runs (worker processes fork from here and see these globals) ------------

_G: dict = {}


def _task(job):
    mi, ci = job
    m, clip = _G["methods"][mi], _G["clips"][ci]
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = m.run(clip.audio, clip.sample_rate)
        res = tuple(None if r is None else np.asarray(r, dtype=np.float64) for r in res)
        return mi, ci, res, None, time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001 - reported per method
        return mi, ci, None, _short_error(e), time.perf_counter() - t0


def _limit_blas():
    try:
        from threadpoolctl import threadpool_limits

        _G["blas"] = threadpool_limits(limits=1)
    except ImportError:
        pass


def run_accuracy(methods, clips, jobs, progress=None):
    _G["methods"], _G["clips"] = methods, clips
    live = [i for i, m in enumerate(methods) if m.error is None]
    jobs_list = sorted(((mi, ci) for mi in live for ci in range(len(clips))),
                       key=lambda j: -methods[j[0]].cost * clips[j[1]].duration_s)
    done = 0

    def take(r):
        nonlocal done
        mi, ci, res, err, dt = r
        m = methods[mi]
        m.seconds += dt
        if err is not None and m.error is None:
            m.error = f"failed on {clips[ci].name}: {err}"
        if res is not None:
            m.results[ci] = res
        done += 1
        if progress and done % 50 == 0:
            progress(done, len(jobs_list))

    if jobs <= 1:
        for j in jobs_list:
            take(_task(j))
    else:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(jobs, initializer=_limit_blas) as pool:
            for r in pool.imap_unordered(_task, jobs_list, chunksize=1):
                take(r)
    for m in methods:  # a method that failed on any clip is not scored on a partial set
        if m.error is not None:
            m.results = {}


# ======================================================================================
# scoring
# ======================================================================================


def pitch_frames(clip, times, f0):
    """(ref_voicing, ref_cent, est_voicing, est_cent) on the truth grid, valid frames only."""
    import mir_eval

    order = np.argsort(times, kind="stable")
    times, f0 = np.asarray(times)[order], np.asarray(f0, dtype=np.float64)[order]  # < 0: unvoiced guess
    if times.size < 2:
        times, f0 = np.array([0.0, clip.duration_s]), np.zeros(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rv, rc, ev, ec = mir_eval.melody.to_cent_voicing(clip.f0_times, clip.f0_hz, times, f0)
    v = clip.f0_valid
    return rv[v], rc[v], ev[v], ec[v]


def pitch_scores(parts):
    """Pooled pitch metrics [%] over a list of ``pitch_frames`` tuples."""
    import mir_eval.melody as mm

    if not parts:
        return None
    rv, rc, ev, ec = (np.concatenate(a) for a in zip(*parts))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vr, vfa = mm.voicing_measures(rv, ev)
        rpa = mm.raw_pitch_accuracy(rv, rc, ev, ec, cent_tolerance=CENTS)
        rca = mm.raw_chroma_accuracy(rv, rc, ev, ec, cent_tolerance=CENTS)
        oa = mm.overall_accuracy(rv, rc, ev, ec, cent_tolerance=CENTS)
    both = (rv > 0) & (ev > 0) & (rc > 0) & (ec > 0)
    err = np.abs(ec[both] - rc[both])
    octave = 100 * float(np.mean(np.abs(err - 1200) <= CENTS)) if both.any() else None
    voiced = int(np.sum(rv > 0))
    pct = lambda v: 100 * v if voiced else None  # noqa: E731 - no voiced truth: nothing to score
    return {"rpa": pct(rpa), "rca": pct(rca), "oa": 100 * oa, "vr": pct(vr),
            "vfa": 100 * vfa if voiced < rv.size else None, "octave": octave,
            "voiced_frames": voiced, "frames": int(rv.size)}


def onset_counts(clip, times, decision_latency):
    """(n_ref, n_est, n_match, latencies of the matched onsets [s] or None, per-clip F)."""
    import mir_eval

    est = np.asarray(times, dtype=np.float64)
    keep = est >= 0
    est = est[keep]
    order = np.argsort(est, kind="stable")
    est = est[order]
    ref = clip.onsets_s
    match = mir_eval.util.match_events(ref, est, ONSET_WINDOW_S) if est.size and ref.size else []
    lat = None
    if decision_latency is not None:
        decided = (np.asarray(times) + np.asarray(decision_latency))[keep][order]
        lat = np.array([decided[j] - ref[i] for i, j in match])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = mir_eval.onset.f_measure(ref, est, window=ONSET_WINDOW_S)[0] if est.size and ref.size else 0.0
    return ref.size, est.size, len(match), lat, f


def onset_scores(parts):
    if not parts:
        return None
    n_ref = sum(p[0] for p in parts)
    n_est = sum(p[1] for p in parts)
    n_hit = sum(p[2] for p in parts)
    P = n_hit / n_est if n_est else 0.0
    R = n_hit / n_ref if n_ref else 0.0
    F = 2 * P * R / (P + R) if P + R else 0.0
    lats = [p[3] for p in parts if p[3] is not None]
    lat = float(np.median(np.concatenate(lats))) * 1e3 if lats and sum(a.size for a in lats) else None
    return {"f": 100 * F, "p": 100 * P, "r": 100 * R, "latency_ms": lat, "n_ref": n_ref, "n_est": n_est,
            "n_match": n_hit}


def score(methods, clips, groups):
    """``({method: {group: scores}}, {method: {family: {group: scores}}}, {method: {clip:
    onset F}})``; the per-family scores cover the groups "clean" and "noisy"."""
    out, per_family, per_clip = {}, {}, {}
    for m in methods:
        if m.error is not None:
            continue
        parts, fam_parts = {}, {}
        for ci, res in m.results.items():
            c = clips[ci]
            if m.task == "pitch":
                part = pitch_frames(c, res[0], res[1])
            else:
                part = onset_counts(c, res[0], res[1])
                per_clip.setdefault(m.name, {})[c.name] = part[4]
            for g, conds in groups.items():
                if c.condition in conds:
                    parts.setdefault(g, []).append(part)
                    if g in ("clean", "noisy"):
                        fam_parts.setdefault(c.family, {}).setdefault(g, []).append(part)
        fn = pitch_scores if m.task == "pitch" else onset_scores
        out[m.name] = {g: fn(parts.get(g, [])) for g in groups}
        per_family[m.name] = {f: {g: fn(p) for g, p in gp.items()} for f, gp in fam_parts.items()}
    return out, per_family, per_clip


# ======================================================================================
# speed
# ======================================================================================


def speed(methods, x, sr, repeat, repeat_slow):
    """{method name: median seconds of a whole-file run over x} (``repeat_slow`` runs for
    the slow ones, librosa.pyin)."""
    out = {}
    for m in methods:
        if m.error is not None:
            continue
        try:
            run = m.timed or m.run
            run(x[:sr], sr)  # warm-up
            out[m.name] = median_time(lambda: run(x, sr), repeat_slow if m.cost >= 10 else repeat)
        except Exception as e:  # noqa: BLE001
            m.error = m.error or f"speed run failed: {_short_error(e)}"
    if "fluxstream yin" in out:
        try:
            fluxstream_setup_seconds(sr)
            t = [fluxstream_setup_seconds(sr) for _ in range(repeat)]
            if t[0] is not None:
                out[SETUP_ROW] = float(np.median(t))
        except Exception:  # noqa: BLE001 - informational row only
            pass
    return out


SETUP_ROW = "  of which engine setup"


# ======================================================================================
# report
# ======================================================================================


def _num(v, width=6, digits=1):
    return f"{'n/a':>{width}}" if v is None else f"{v:{width}.{digits}f}"


def _best(scores, methods, lib, key, group="noisy"):
    cands = [(scores[m.name][group][key], m.name) for m in methods
             if m.lib == lib and m.name in scores and scores[m.name].get(group)
             and scores[m.name][group][key] is not None]
    return max(cands) if cands else (None, None)


def _peer_text(peer):
    return "no peer run" if peer[0] is None else f"{peer[1]} {peer[0]:.1f} %"


def _verdict(ok):
    return "met" if ok else "MISSED"


def targets(pitch_sc, onset_sc, methods, spd, live):
    """Each target: (text, met or None when it cannot be judged)."""
    pm = [m for m in methods if m.task == "pitch"]
    om = [m for m in methods if m.task == "onset"]
    rows = []
    fr, fname = _best(pitch_sc, pm, "fluxstream", "rpa")
    peers = [_best(pitch_sc, pm, lib, "rpa") for lib in ("librosa", "aubio")]
    peers = [p for p in peers if p[0] is not None]
    peer = max(peers) if peers else (None, None)
    if fr is None:
        rows.append(("noisy RPA: best fluxstream >= best peer", "n/a (fluxstream pitch not available)", None))
        rows.append(("noisy octave errors of that method < 1 %", "n/a", None))
    else:
        ok = peer[0] is None or fr >= peer[0]
        rows.append(("noisy RPA: best fluxstream >= best peer",
                     f"{fname} {fr:.1f} % vs {_peer_text(peer)}: {_verdict(ok)}", ok))
        octv = pitch_sc[fname]["noisy"]["octave"]
        ok = octv is not None and octv < 1.0
        rows.append(("noisy octave errors of that method < 1 %", f"{_num(octv, 0, 2)} %: {_verdict(ok)}", ok))
    fo, foname = _best(pitch_sc, pm, "fluxstream", "oa")
    po = max([p for p in (_best(pitch_sc, pm, lib, "oa") for lib in ("librosa", "aubio")) if p[0] is not None],
             default=(None, None))
    if fo is not None and po[0] is not None:
        rows.append(("(info) noisy overall accuracy, voicing counted",
                     f"{foname} {fo:.1f} % vs {po[1]} {po[0]:.1f} %", None))
    ff, fon = _best(onset_sc, om, "fluxstream", "f")
    peers = [_best(onset_sc, om, lib, "f") for lib in ("librosa", "aubio")]
    peers = [p for p in peers if p[0] is not None]
    peer = max(peers) if peers else (None, None)
    if ff is None:
        rows.append(("noisy onset F: best fluxstream >= best peer", "n/a (fluxstream onsets not available)", None))
        rows.append(("its median decision latency < 30 ms", "n/a", None))
    else:
        ok = peer[0] is None or ff >= peer[0]
        rows.append(("noisy onset F: best fluxstream >= best peer",
                     f"{fon} {ff:.1f} % vs {_peer_text(peer)}: {_verdict(ok)}", ok))
        lat = onset_sc[fon]["noisy"]["latency_ms"]
        ok = lat is not None and lat < 30.0
        rows.append(("its median decision latency < 30 ms", f"{_num(lat, 0)} ms: {_verdict(ok)}", ok))
    for flux, peer_name, key, limit in (("fluxstream yin", "librosa.yin", "yin_speedup", 3.0),
                                        ("fluxstream pyin", "librosa.pyin", "pyin_speedup", 20.0)):
        if flux in spd and peer_name in spd:
            r = spd[peer_name] / spd[flux]
            rows.append((f"{flux} >= {limit:g}x faster than {peer_name}", f"{r:.2f}x: {_verdict(r >= limit)}",
                         r >= limit))
        else:
            missing = "no timings (--no-speed)" if not spd else \
                f"{flux if flux not in spd else peer_name} not available"
            rows.append((f"{flux} >= {limit:g}x faster than {peer_name}", f"n/a ({missing})", None))
    what = "live p99 per hop, pitch + onset, hop 512 < 0.2 ms"
    if live is None:
        rows.append((what, "n/a (fluxstream pitch or onsets not available)", None))
    else:
        ok = live["p99_ms"] < 0.2
        rows.append((what, f"{live['p99_ms']:.4f} ms ({live['pitch_method']} + {live['onset_method']}): "
                           f"{_verdict(ok)}", ok))
    return rows


def print_report(fig, methods, conds, per_family=False):
    print(f"workload: {fig['workload']}")
    print(f"machine: {fig['machine']}; fluxstream path: {fig['fluxstream_path']}")
    if fig["midi_skipped"]:
        print(f"rendered MIDI part skipped: {fig['midi_skipped']}")
    print()
    print(fig["evalset_summary"])
    short = {c: c.replace("white", "w").replace("pink", "p") for c in conds}
    for task, title, key, extra in (
            ("pitch", "PITCH raw pitch accuracy [%] (mir_eval.melody, 50 cents) per condition", "rpa",
             [("rpa", "RPA"), ("rca", "RCA"), ("oa", "OA"), ("vr", "VR"), ("vfa", "VFA"), ("octave", "oct%")]),
            ("onset", "ONSETS F-measure [%] (mir_eval.onset, +-50 ms) per condition", "f",
             [("f", "F"), ("p", "P"), ("r", "R"), ("latency_ms", "lat ms")])):
        sc = fig[f"{task}_scores"]
        print()
        print(title + f"; then all metrics on {fig['target_group']}")
        head = f"{'method':24} {'online':6} " + " ".join(f"{short[c]:>6}" for c in conds)
        head += " |" + " ".join(f"{lbl:>6}" for _, lbl in extra)
        print(head)
        for m in methods:
            if m.task != task:
                continue
            if m.error is not None:
                what = "fluxstream: not available" if m.lib == "fluxstream" else "n/a"
                print(f"{m.name:24} {'yes' if m.online else 'no':6} {what} ({m.error})")
                continue
            s = sc[m.name]
            row = f"{m.name:24} {'yes' if m.online else 'no':6} "
            row += " ".join(_num(s[c][key] if s.get(c) else None) for c in conds)
            noisy = s.get("noisy")
            vals = []
            for k, _ in extra:
                v = noisy.get(k) if noisy else None
                if k == "latency_ms" and v is None and noisy:
                    vals.append(f"{'offline' if not m.online else 'n/a':>6}")
                else:
                    vals.append(_num(v, 6, 2 if k == "octave" else 1))
            print(row + " |" + " ".join(vals))
        if task == "pitch":
            print("  RPA/RCA count every voiced truth frame the method gives a pitch for, voiced or as an unvoiced\n"
                  "  guess (mir_eval's negative f0: fluxstream's candidate with the voicing threshold opened,\n"
                  "  librosa.pyin's fill_na=None, aubio's sub-threshold estimate); VR/VFA judge the voicing\n"
                  "  decisions alone (librosa.yin never says unvoiced); OA weighs both.")
        else:
            print("  fluxstream: [features.onset] defaults except the method (threshold, ratio, ... shared "
                  "by every ODF);\n  change them with --set features.onset.KEY=VALUE.")
        if per_family:
            pf = fig["per_family"]
            fams = list(dict.fromkeys(f for m in methods if m.name in pf and m.task == task for f in pf[m.name]))
            legend = "RPA [%] clean/noisy (-: no voiced truth)" if task == "pitch" else "F [%] clean/noisy"
            print(f"  per family, {legend}:")
            print(f"  {'method':22} " + " ".join(f"{f.replace('midi_', 'm.')[:7]:>7}" for f in fams))
            for m in methods:
                if m.task != task or m.name not in pf:
                    continue
                cells = []
                for f in fams:
                    g = pf[m.name].get(f, {})
                    a = g.get("clean", {}) or {}
                    b = g.get("noisy", {}) or {}
                    fa, fb = a.get(key), b.get(key)
                    cells.append(f"{'-' if fa is None else f'{fa:.0f}':>3}/{'-' if fb is None else f'{fb:.0f}':<3}")
                print(f"  {m.name:22} " + " ".join(cells))
    print()
    spd = fig["speed_s"]
    if spd:
        print(f"SPEED whole file, {fig['speed_audio_s']:.0f} s of audio (clean clips concatenated), median of "
              f"{fig['repeat']} runs ({fig['repeat_slow']} for librosa.pyin), one process")
        print(f"{'method':24} {'seconds':>9} {'x real time':>12} {'librosa/this':>13}")
        for m in methods:
            if m.name not in spd:
                continue
            t = spd[m.name]
            if m.name == "fluxstream yin" and SETUP_ROW in spd:
                print(f"{m.name:24} {t:9.4f} {fig['speed_audio_s'] / t:12.0f} {spd['librosa.yin'] / t:13.2f}"
                      if "librosa.yin" in spd else f"{m.name:24} {t:9.4f} {fig['speed_audio_s'] / t:12.0f}")
                print(f"{SETUP_ROW:24} {spd[SETUP_ROW]:9.4f}   (Engine() + open(): plans, silent warm-up blocks; "
                      "in every engine row)")
                continue
            peer = SPEED_PEER.get(m.name) or (("librosa.yin" if m.task == "pitch" else "librosa onset_detect")
                                               if m.lib == "fluxstream" else None)
            r = f"{spd[peer] / t:13.2f}" if peer in spd else ""
            print(f"{m.name:24} {t:9.4f} {fig['speed_audio_s'] / t:12.0f} {r}")
    for live in fig["live"]:
        if "error" in live:
            print(f"live per-hop compute, pitch ({live['pitch_method']}) + onset ({live['onset_method']}): "
                  f"{live['error']}")
        else:
            print(f"live per-hop compute, pitch ({live['pitch_method']}) + onset ({live['onset_method']}), "
                  f"block = hop = {HOP}: median {live['median_ms']:.4f} ms, p99 {live['p99_ms']:.4f} ms "
                  f"[{live['label']}; {live['timed']}]")
    print()
    print("TARGETS")
    for t in fig["targets"]:
        print(f"  {t['target']:56} {t['result']}")
    print(f"run time {fig['run_time_s']:.0f} s (evaluation set {fig['generate_time_s']:.0f} s, accuracy "
          f"{fig['accuracy_time_s']:.0f} s on {fig['jobs']} processes, speed {fig['speed_time_s']:.0f} s)")


SPEED_PEER = {"fluxstream pyin": "librosa.pyin"}
#: --quick: a few families (librosa.pyin costs ~1 s a call), 1 s clips, three conditions.
QUICK_FAMILIES = ("vibrato", "plucked", "drums", "midi_piano")
#: The fluxstream defaults the live timing also reports (the engine's [features.*] defaults).
DEFAULT_PITCH, DEFAULT_ONSET = "yin", "superflux"


# ======================================================================================
# main
# ======================================================================================


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke run (< 30 s): 4 families, 1 s clips, clean/white10/pink0, one timing run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clip-seconds", type=float, default=None, help="about how long each clip is (default 6)")
    ap.add_argument("--conditions", default=None,
                    help=f"comma-separated subset of {','.join(evalset.CONDITIONS)} (default: all)")
    ap.add_argument("--families", default=None,
                    help="comma-separated subset of " + ",".join(evalset.FAMILIES + evalset.MIDI_FAMILIES))
    ap.add_argument("--no-midi", action="store_true", help="leave out the rendered-MIDI clips")
    ap.add_argument("--methods", default=None, help="comma-separated substrings: only methods whose name has one")
    ap.add_argument("--flux-path", choices=("auto", "engine", "direct"), default="auto",
                    help="how fluxstream is run (auto: the engine when it has the features)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="extra fluxstream config override for the engine path, e.g. "
                         "features.onset.threshold=2.0 (repeatable)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes for accuracy")
    ap.add_argument("--repeat", type=int, default=None, help="timing runs per method (default 3)")
    ap.add_argument("--repeat-slow", type=int, default=1, help="timing runs of librosa.pyin (default 1)")
    ap.add_argument("--speed-seconds", type=float, default=None, help="audio for the timings (default 30)")
    ap.add_argument("--no-speed", action="store_true", help="accuracy only")
    ap.add_argument("--per-family", action="store_true", help="also print the key metric per content family")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    try:
        import mir_eval  # noqa: F401
    except ImportError:
        print("bench_pitch_onset needs mir_eval to score: pip install mir_eval (the bench extra)", file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    FLUX_PATH["mode"] = args.flux_path
    EXTRA_OVERRIDES[:] = args.overrides
    q = args.quick
    clip_s = args.clip_seconds or (1.0 if q else 6.0)
    conds = args.conditions.split(",") if args.conditions else (["clean", "white10", "pink0"] if q
                                                                  else list(evalset.CONDITIONS))
    repeat = args.repeat or (1 if q else 3)
    speed_s = args.speed_seconds or (5.0 if q else 30.0)
    fams = args.families.split(",") if args.families else (list(QUICK_FAMILIES) if q else None)

    clips, midi_why = evalset.generate(seed=args.seed, conditions=conds, clip_seconds=clip_s, families=fams,
                                       midi=not args.no_midi)
    gen_time = time.perf_counter() - t_start
    sr = clips[0].sample_rate
    n_base = len(clips) // len(conds)
    clean = clips[:n_base] if conds[0] == "clean" else [c for c in clips if c.condition == "clean"] or clips[:n_base]
    methods = all_methods()
    if args.methods:
        keys = [k.strip() for k in args.methods.split(",")]
        methods = [m for m in methods if any(k in m.name for k in keys)]
    probe(methods, clean[0].audio[:sr], sr)

    t0 = time.perf_counter()
    prog = None if args.json else (lambda d, n: print(f"  accuracy runs {d}/{n}", file=sys.stderr, flush=True))
    run_accuracy(methods, clips, args.jobs, prog)
    acc_time = time.perf_counter() - t0
    noisy = [c for c in conds if c != "clean"]
    groups = {c: [c] for c in conds}
    groups["noisy"] = noisy or conds  # the targets' group; all conditions when none is noisy
    scores, per_family, per_clip = score(methods, clips, groups)
    pitch_sc = {m.name: scores[m.name] for m in methods if m.task == "pitch" and m.name in scores}
    onset_sc = {m.name: scores[m.name] for m in methods if m.task == "onset" and m.name in scores}

    t0 = time.perf_counter()
    x_speed = np.concatenate([c.audio for c in clean])[: int(speed_s * sr)]
    spd, live = {}, []
    if not args.no_speed:
        spd = speed(methods, x_speed, sr, repeat, args.repeat_slow)
        _, pbest = _best(pitch_sc, methods, "fluxstream", "rpa")
        _, obest = _best(onset_sc, methods, "fluxstream", "f")
        configs = [("the targets' methods (best noisy accuracy)", pbest, obest),
                   ("fluxstream's defaults", "fluxstream " + DEFAULT_PITCH, "fluxstream " + DEFAULT_ONSET)]
        warm = min(5.0, 0.25 * len(x_speed) / sr)
        for label, pm, om in configs:
            if pm is None or om is None:
                live.append({"label": label, "pitch_method": pm, "onset_method": om,
                             "error": "n/a (fluxstream pitch or onsets not available)"})
                continue
            pm, om = pm.split()[-1], om.split()[-1]
            if live and (pm, om) == (live[0]["pitch_method"], live[0]["onset_method"]):
                continue
            try:
                med, p99, what = fluxstream_live_hop_times(x_speed, sr, pm, om, warmup_s=warm)
                live.append({"label": label, "pitch_method": pm, "onset_method": om, "median_ms": med,
                             "p99_ms": p99, "timed": what})
            except Exception as e:  # noqa: BLE001
                live.append({"label": label, "pitch_method": pm, "onset_method": om,
                             "error": f"fluxstream: not available ({_short_error(e)})"})
    speed_time = time.perf_counter() - t0

    total_audio = sum(c.duration_s for c in clips)
    fig = {
        "workload": f"{n_base} clips x {len(conds)} conditions = {total_audio:.0f} s of audio ({sr} Hz mono), "
                    f"frame {FRAME}, hop {HOP}, pitch search {FMIN_HZ:g}-{FMAX_HZ:g} Hz; seed {args.seed}",
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "fluxstream_path": fluxstream_path(),
        "fluxstream_overrides": list(args.overrides),
        "midi_skipped": midi_why,
        "evalset_summary": evalset.summary(clips),
        "conditions": conds,
        "groups": groups,
        "methods": {m.name: {"task": m.task, "lib": m.lib, "online": m.online, "error": m.error,
                             "accuracy_compute_s": m.seconds} for m in methods},
        "pitch_scores": pitch_sc,
        "onset_scores": onset_sc,
        "per_family": per_family,
        "onset_f_per_clip": per_clip,
        "speed_audio_s": len(x_speed) / sr,
        "speed_s": spd,
        "repeat": repeat,
        "repeat_slow": args.repeat_slow,
        "live": live,
        "jobs": args.jobs,
        "generate_time_s": gen_time,
        "accuracy_time_s": acc_time,
        "speed_time_s": speed_time,
        "targets_spec": TARGETS,
        "target_group": "the noisy conditions combined" if noisy else
                        "all selected conditions (none is noisy; targets judged on them)",
    }
    live_target = next((v for v in live if "error" not in v and v["label"].startswith("the targets")), None)
    fig["targets"] = [{"target": a, "result": b, "met": None if c is None else bool(c)}
                      for a, b, c in targets(pitch_sc, onset_sc, methods, spd, live_target)]
    fig["run_time_s"] = time.perf_counter() - t_start
    if args.json:
        print(json.dumps(fig, indent=2, default=float))
        return 0
    print_report(fig, methods, conds, args.per_family)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Noise gating in the engine and on files: the ``[gate]`` configuration, the gate stage
built from it, its alignment to the input's timeline, and ``fluxstream denoise``.

The DSP is in :mod:`~fluxstream.dsp.gate` (time-domain gate) and
:mod:`~fluxstream.dsp.spectral_gate` (spectral gating, noise profiles); this module
chooses one from ``[gate] mode``, feeds it blocks, and hands its audio on.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .dsp.gate import TimeGate, TimeGateParams
from .dsp.spectral_gate import NoiseProfile, SpectralGate, SpectralGateParams
from .errors import AudioFileError, ConfigError
from .params import Params, opt

__all__ = ["GATE_MODES", "GateConfig", "AlignedGate", "build_gate", "denoise_file"]

#: ``[gate] mode`` values ("off": no gate).
GATE_MODES = ("off", "gate", "stationary", "nonstationary")

_TIME_KEYS = tuple(f.name for f in dataclasses.fields(TimeGateParams) if f.name not in ("sample_rate", "channels"))
_SPECTRAL_KEYS = tuple(f.name for f in dataclasses.fields(SpectralGateParams)
                       if f.name not in ("sample_rate", "channels", "mode"))


def _default(cls, name):
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


@dataclass(frozen=True, kw_only=True)
class GateConfig(Params):
    """``[gate]``: the noise gate on live input (``listen --denoise``) and in ``denoise``.

    ``mode`` picks the stage: ``gate`` (time-domain gate: ``open_db`` ... ``linked``),
    ``stationary`` (spectral gating against a noise profile: from ``profile``, from
    ``noise_clip``, or learned over the first ``learn_s`` seconds) or ``nonstationary``
    (spectral gating against a causal noise-floor tracker, ``time_constant_s``).
    ``analyze`` says what the features see: the ``gated`` signal or the ``raw`` input.
    """

    mode: str = opt("off", str, "one of " + ", ".join(GATE_MODES), choices=GATE_MODES)
    analyze: str = opt("gated", str, "gated or raw (what the features are computed on)", choices=("gated", "raw"))
    profile: str = opt("", str, "a saved noise profile (.npz), or \"\"")
    noise_clip: str = opt("", str, "an audio file of the noise alone, or \"\"")
    save_profile: str = opt("", str, "where to save the learned profile (.npz), or \"\"")
    monitor: bool = opt(False, bool, "true or false (play the gated audio on an output device)")
    output_device: str = opt("", str, "output device: \"\" = default, an index or a name substring")
    record: str = opt("", str, "a WAV/FLAC file to write the gated audio to, or \"\"")
    # Time-domain gate.
    open_db: float = opt(_default(TimeGateParams, "open_db"), float, "a level in dBFS")
    close_db: float = opt(_default(TimeGateParams, "close_db"), float, "a level in dBFS, <= open_db")
    attack_ms: float = opt(_default(TimeGateParams, "attack_ms"), float, "a time >= 0 (ms)")
    hold_ms: float = opt(_default(TimeGateParams, "hold_ms"), float, "a time >= 0 (ms)")
    release_ms: float = opt(_default(TimeGateParams, "release_ms"), float, "a time >= 0 (ms)")
    range_db: float = opt(_default(TimeGateParams, "range_db"), float, "a gain <= 0 (dB) when closed")
    lookahead_ms: float = opt(_default(TimeGateParams, "lookahead_ms"), float, "a time >= 0 (ms)")
    detector: str = opt(_default(TimeGateParams, "detector"), str, "peak or rms", choices=("peak", "rms"))
    rms_window_ms: float = opt(_default(TimeGateParams, "rms_window_ms"), float, "a time > 0 (ms)")
    sidechain_hz: float = opt(_default(TimeGateParams, "sidechain_hz"), float, "a frequency >= 0 (Hz; 0 = off)")
    linked: bool = opt(_default(TimeGateParams, "linked"), bool, "true or false")
    # Spectral gate.
    n_fft: int = opt(_default(SpectralGateParams, "n_fft"), int, "an integer >= 16 (samples)")
    hop_length: int = opt(_default(SpectralGateParams, "hop_length"), int, "an integer >= 1, <= n_fft/2 (samples)")
    learn_s: float = opt(_default(SpectralGateParams, "learn_s"), float, "a time >= 0 (s)")
    n_std: float = opt(_default(SpectralGateParams, "n_std"), float, "a number >= 0")
    prop_decrease: float = opt(_default(SpectralGateParams, "prop_decrease"), float, "a number in 0..1")
    freq_smooth_hz: float = opt(_default(SpectralGateParams, "freq_smooth_hz"), float, "a frequency >= 0 (Hz)")
    time_smooth_ms: float = opt(_default(SpectralGateParams, "time_smooth_ms"), float, "a time >= 0 (ms)")
    time_constant_s: float = opt(_default(SpectralGateParams, "time_constant_s"), float, "a time > 0 (s)")
    lookahead_frames: int = opt(_default(SpectralGateParams, "lookahead_frames"), int, "an integer >= 0")
    noise_smooth_ms: float = opt(_default(SpectralGateParams, "noise_smooth_ms"), float, "a time > 0 (ms)")

    @property
    def enabled(self) -> bool:
        return self.mode != "off"


def _read_mono_or_channels(path: str, sample_rate: int, channels: int) -> np.ndarray:
    import soundfile as sf

    try:
        x, sr = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError, sf.LibsndfileError) as e:
        raise AudioFileError(f"cannot read noise clip {path!r}: {e}") from None
    if sr != sample_rate:
        raise ConfigError(f"noise clip {path!r} is at {sr} Hz, the stream at {sample_rate} Hz (no resampling)")
    return x.mean(axis=1) if channels == 1 or x.shape[1] != channels else x


def build_gate(cfg: GateConfig, sample_rate: int, channels: int):
    """The gate stage ``[gate]`` describes, for a stream of this rate and channel count
    (``TimeGate`` or ``SpectralGate``; a bad or mismatched profile is a ConfigError)."""
    if not cfg.enabled:
        raise ConfigError("gate.mode is \"off\": there is no gate to build")
    if cfg.mode == "gate":
        p = TimeGateParams(sample_rate=sample_rate, channels=channels,
                           **{k: getattr(cfg, k) for k in _TIME_KEYS})
        return TimeGate.from_params(p)
    p = SpectralGateParams(sample_rate=sample_rate, channels=channels, mode=cfg.mode,
                           **{k: getattr(cfg, k) for k in _SPECTRAL_KEYS})
    profile = None
    if cfg.mode == "stationary":
        if cfg.profile and cfg.noise_clip:
            raise ConfigError("gate.profile and gate.noise_clip both given: use one")
        if cfg.profile:
            profile = NoiseProfile.load(cfg.profile, sample_rate=sample_rate, n_fft=cfg.n_fft)
        elif cfg.noise_clip:
            clip = _read_mono_or_channels(cfg.noise_clip, sample_rate, channels)
            profile = NoiseProfile.learn(clip if clip.ndim == 1 else clip.mean(axis=1), sample_rate,
                                         n_fft=cfg.n_fft, hop_length=cfg.hop_length)
            if cfg.save_profile:
                profile.save(cfg.save_profile)
    return SpectralGate.from_params(p, profile)


class AlignedGate:
    """A gate stage whose output is put back on the input's timeline: the first
    ``latency_samples`` output samples (the stage's delay, zeros) are dropped, so output
    sample k is the gated input sample k; :meth:`flush` returns the last ones.

    Parameters
    ----------
    stage : TimeGate or SpectralGate

    Real-time notes
    ---------------
    Analysis thread. A call returns fewer samples than it got until the delay has been
    skipped (and, for the spectral gate, per-call counts vary with the block size); the
    engine's framer takes any block size. Events come from :meth:`pop_events` as
    ``(kind, channel, sample)`` on the input's clock.
    """

    def __init__(self, stage):
        self.stage = stage
        self.latency_samples = int(stage.latency_samples)
        self.reset()

    def reset(self) -> None:
        self.stage.reset()
        self._skip = self.latency_samples

    def process(self, block: np.ndarray) -> np.ndarray:
        out = self.stage.process(block)
        if self._skip:
            k = min(self._skip, out.shape[0])
            self._skip -= k
            out = out[k:]
        return out

    def flush(self) -> np.ndarray:
        out = self.stage.flush()
        if self._skip:
            k = min(self._skip, out.shape[0])
            self._skip -= k
            out = out[k:]
        return out

    def pop_events(self) -> list:
        pop = getattr(self.stage, "pop_events", None)
        return pop() if pop is not None else []


def denoise_file(src: str, dst: str, cfg: GateConfig,
                 on_progress: Callable[[float], None] | None = None, block: int = 65536) -> dict:
    """Run a file through the online gate (streaming, block by block) and write the result.

    The output has the input's length, sample rate, channels and subtype (WAV/FLAC/... by
    the output's suffix), aligned to the input (the gate's delay removed).

    Returns
    -------
    info : dict
        ``samples``, ``sample_rate``, ``channels``, ``latency_samples``, ``mode``,
        ``events`` (gate open/close count, time-domain gate).
    """
    import soundfile as sf

    if not cfg.enabled:
        raise ConfigError("denoise needs a gate: --mode gate | stationary | nonstationary")
    try:
        f = sf.SoundFile(src)
    except (RuntimeError, OSError, sf.LibsndfileError) as e:
        raise AudioFileError(f"cannot read {src!r}: {e}") from None
    with f:
        sr, ch, n = f.samplerate, f.channels, f.frames
        gate = AlignedGate(build_gate(cfg, sr, ch))
        if os.path.abspath(src) == os.path.abspath(dst):
            raise ConfigError(f"denoise would overwrite its input {src!r}: choose another OUT")
        try:
            out = sf.SoundFile(dst, "w", samplerate=sr, channels=ch,
                               subtype=f.subtype if sf.check_format(_format_of(dst), f.subtype) else None)
        except (RuntimeError, OSError, sf.LibsndfileError, ValueError) as e:
            raise AudioFileError(f"cannot write {dst!r}: {e}") from None
        events = 0
        with out:
            done = 0
            while True:
                x = f.read(block, dtype="float32", always_2d=True)
                if not x.shape[0]:
                    break
                out.write(gate.process(x))
                events += len(gate.pop_events())
                done += x.shape[0]
                if on_progress is not None and n > 0:
                    on_progress(min(1.0, done / n))
            out.write(gate.flush())
            events += len(gate.pop_events())
    return {"samples": n, "sample_rate": sr, "channels": ch, "latency_samples": gate.latency_samples,
            "mode": cfg.mode, "events": events}


def _format_of(path: str) -> str:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    formats = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "aiff": "AIFF", "aif": "AIFF"}
    if ext not in formats:
        raise ConfigError(f"{path!r}: unknown audio format {ext or '(no suffix)'!r}; use .wav, .flac, .ogg or .aiff")
    return formats[ext]

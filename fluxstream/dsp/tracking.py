"""Pitch and onset detectors as graph features: ``pitch`` (and ``pitch.midi``,
``pitch.cents``, ``pitch.tuning``), ``onset_strength`` and the event-only ``onset``.

The estimators live in :mod:`~fluxstream.dsp.pitch` / :mod:`~fluxstream.dsp.pyin` and the
detection functions and the picker in :mod:`~fluxstream.dsp.onset` /
:mod:`~fluxstream.dsp.peaks`; this module gives them their ``[features.<name>]`` tables
and their nodes, and registers them.

Onset events (kind ``"onset"``) carry ``sample`` (where the onset was placed on the
stream's sample clock: the reference sample of the frame where the rise starts, or the
refined attack sample), ``time_s``, ``value`` (the detection function at the peak) and
``info``: ``strength`` (the same), ``latency`` [s] (from the onset to the moment the
decision was possible: the newest sample the deciding frame needed), ``channel``, ``band``
(0 for a broadband detector), ``frame`` and ``decided_frame``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..params import Params, opt
from ..results import Event
from . import descriptors as desc
from . import onset as onset_mod
from . import pitch as pitch_mod
from .peaks import OnsetPicker, SampleRefiner
from .pyin import MedianSmoother, PYin, TuningTracker
from .registry import TRANSFORM_SCALES, TRANSFORM_SPECTRA, AnalysisContext, FeatureSpec, FramesParams, FunctionNode, register
from .suite import DescriptorParams

__all__ = ["ONSET_METHODS", "OnsetParams", "PITCH_METHODS", "PitchParams"]

#: ``[features.onset] method`` values: the detection function.
ONSET_METHODS = ("superflux", "flux", "hfc", "energy", "complex", "phase", "wphase", "mkl")
_COMPLEX = {"complex", "phase", "wphase"}
_REFINE_CHUNK = 16  # frames per refinement step in large ticks
_AVERAGES = ("mean", "median")


def _edges_ok(v) -> bool:
    return all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in v) and \
        all(b > a for a, b in zip(v, v[1:])) and (not v or (len(v) >= 2 and v[0] >= 0))


@dataclass(frozen=True, kw_only=True)
class OnsetParams(DescriptorParams):
    """``[features.onset]`` (also read by ``onset_strength``): the detection function on
    a spectrum (``scale``/``n_bands``/``fmin_hz``/``fmax_hz`` as every descriptor; the
    complex and phase methods need the linear STFT), the online peak picker, optional
    frequency bands and sample-accurate refinement."""

    method: str = opt("superflux", str, "one of " + ", ".join(ONSET_METHODS), choices=ONSET_METHODS)
    log_compression: float = opt(1.0, float, "a number >= 0 (0 = no log; flux, superflux)",
                                 check=lambda v: v >= 0)
    max_bins: int = opt(3, int, "an integer >= 1 (bins; superflux's maximum filter)", check=lambda v: v >= 1)
    lag: int = opt(2, int, "an integer >= 1 (frames; superflux)", check=lambda v: v >= 1)
    threshold: float = opt(-1.0, float, "a number >= 0 added to the moving average, or -1 for the method's default "
                           "(0.3 for phase and wphase, whose function is an angle; 5 for the others)",
                           check=lambda v: v >= 0 or v == -1)
    ratio: float = opt(1.5, float, "a number >= 0 (times the moving average)", check=lambda v: v >= 0)
    average: str = opt("mean", str, "mean or median (the adaptive threshold's average)", choices=_AVERAGES)
    pre_avg_s: float = opt(0.1, float, "a time >= 0 (s)", check=lambda v: v >= 0)
    pre_max_s: float = opt(0.03, float, "a time >= 0 (s)", check=lambda v: v >= 0)
    min_ioi_s: float = opt(0.03, float, "a time >= 0 (s; minimum inter-onset interval)", check=lambda v: v >= 0)
    lookahead_frames: int = opt(0, int, "an integer >= 0 (frames)", check=lambda v: v >= 0)
    norm_decay_s: float = opt(0.0, float, "a time >= 0 (s; 0 = no running-maximum normalisation)",
                              check=lambda v: v >= 0)
    bands_hz: tuple = opt((), tuple, "an increasing array of band edges in Hz (empty = one broadband detector)",
                          check=_edges_ok)
    refine: bool = opt(False, bool, "true or false (place onsets at the attack sample)")

    def __post_init__(self):
        super().__post_init__()
        if self.method in _COMPLEX and self.scale != "linear":
            raise ConfigError(f"features.onset.method={self.method!r} needs the complex STFT: "
                              f"scale must be \"linear\", not {self.scale!r}")
        if self.refine and self.scale in TRANSFORM_SCALES:
            raise ConfigError(f"features.onset.refine=true works on the STFT's frames: with "
                              f"scale={self.scale!r} (its own clock) use refine=false")

    def threshold_for_method(self) -> float:
        """``threshold``, or its default for ``method`` when -1."""
        if self.threshold >= 0:
            return self.threshold
        return 0.3 if self.method in ("phase", "wphase") else 5.0

    def n_columns(self) -> int:
        return max(len(self.bands_hz) - 1, 1)

    def frame_latency(self, ctx: AnalysisContext) -> int:
        """Samples after a frame's time that the detection function's spectrum needs."""
        if self.scale in TRANSFORM_SCALES:
            return TRANSFORM_SPECTRA[self.scale].frame_latency(ctx)
        return ctx.frame_latency

    def odf_input(self, ctx: AnalysisContext | None = None):
        return "stft" if self.method in _COMPLEX else self.spectrum_key(ctx)


def _odf_stage(ctx: AnalysisContext, p: OnsetParams):
    """The detection-function stage for these params: (C, n, K) -> (C, n, n_columns)."""
    m = p.method
    kw = {}
    if m in ("flux", "superflux"):
        kw["log_compression"] = p.log_compression
    if m == "superflux":
        kw.update(max_bins=p.max_bins, lag=p.lag)
    if m == "wphase":
        m, kw = "phase", {"weighted": True, "normalized": True}
    if p.bands_hz:
        if m == "mkl":
            raise ConfigError("features.onset.method=\"mkl\" has no band-wise form; "
                              "use bands_hz = [] or another method")
        freqs = p.freqs(ctx)
        return onset_mod.BandOdf(freqs, tuple(float(e) for e in p.bands_hz), m, **kw)
    stage = {
        "energy": lambda: onset_mod.EnergyOdf(),
        "hfc": lambda: onset_mod.HfcOdf(),
        "flux": lambda: onset_mod.SpectralFluxOdf(**kw),
        "superflux": lambda: onset_mod.SuperFluxOdf(**kw),
        "complex": lambda: onset_mod.ComplexDomainOdf(),
        "phase": lambda: onset_mod.PhaseDeviationOdf(**kw),
        "mkl": lambda: desc.ModifiedKL(),
    }[m]()
    return _Column(stage)


class _Column:
    """A one-value-per-frame stage (C, n, K) -> (C, n) given a trailing axis."""

    def __init__(self, stage):
        self._stage = stage

    def process(self, X: np.ndarray) -> np.ndarray:
        return self._stage.process(X)[..., None]

    def reset(self) -> None:
        self._stage.reset()


class _OnsetNode:
    """Picks onsets from the detection function, online, and turns them into events.

    Inputs: the detection function ``(C, n, n_columns)`` and, for refinement, the
    time-domain frames ``(C, n, n_fft)`` of the same ticks. Output: nothing per frame
    (``onset`` is event-only); :meth:`pop_events` hands over the onsets decided so far.
    """

    def __init__(self, ctx: AnalysisContext, p: OnsetParams):
        self._sr = ctx.sample_rate
        self._hop = ctx.hop_length
        self._offset = 0 if ctx.center else ctx.n_fft // 2
        self._frame_latency = p.frame_latency(ctx)
        self._picker = OnsetPicker(
            hop_length=ctx.hop_length, sample_rate=ctx.sample_rate, threshold=p.threshold_for_method(),
            ratio=p.ratio,
            pre_avg_s=p.pre_avg_s, pre_max_s=p.pre_max_s, lookahead_frames=p.lookahead_frames,
            min_ioi_s=p.min_ioi_s, method=p.average, norm_decay_s=p.norm_decay_s or None)
        self._refiner = None
        if p.refine:
            # A decided onset lies at most delay + rise frames back: the refiner holds that
            # many more frames than the chunks it is fed in (see process()).
            self._refiner = SampleRefiner(
                n_fft=ctx.n_fft, hop_length=ctx.hop_length, center=ctx.center, sample_rate=ctx.sample_rate,
                history_frames=_REFINE_CHUNK + self._picker.delay_frames + self._picker.max_rise_frames + 2)
        self._empty = np.zeros((ctx.channels, 0, 0), dtype=np.float32)
        self._events: list[Event] = []
        self._start = 0
        self.reset()

    def set_threshold(self, threshold: float) -> None:
        """Change the picker's ``threshold`` live (the OSC control server's
        ``/onset/threshold``); validated by the picker."""
        self._picker.threshold = threshold

    def start_at(self, frame_index: int) -> None:
        """The frame index of the next input frame (the graph calls this after a reset)."""
        self._start = self._next = int(frame_index)

    def reset(self) -> None:
        self._picker.reset()
        if self._refiner is not None:
            self._refiner.reset()
        self._next = self._start
        self._tail_from: int | None = None
        self._events.clear()

    def end_of_stream(self) -> None:
        """The frames from here on are the stream's tail (their windows reach into the
        zero padding after the last sample): a signal cut off there looks like a broadband
        rise, so onsets peaking in them are not reported."""
        if self._tail_from is None:
            self._tail_from = self._next

    def process(self, odf: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
        first = self._next
        n = odf.shape[1]
        self._next += n
        if self._refiner is None or frames is None:
            self._emit(self._picker.pick(odf, first))
        else:
            # In chunks, so that a file's large ticks refine each onset while its frame is
            # still held (the picker gives the same onsets for any partition).
            for i in range(0, max(n, 1), _REFINE_CHUNK):
                self._refiner.process(frames[:, i : i + _REFINE_CHUNK], first + i)
                self._emit(self._picker.pick(odf[:, i : i + _REFINE_CHUNK], first + i))
        return self._empty[:, :0]

    def flush(self) -> np.ndarray:
        self._emit(self._picker.flush())
        return self._empty[:, :0]

    def _emit(self, found: np.ndarray) -> None:
        for r in found:
            if self._tail_from is not None and int(r["peak_frame"]) >= self._tail_from:
                continue
            frame, decided = int(r["frame"]), int(r["decided_frame"])
            ch = int(r["channel"])
            sample = frame * self._hop + self._offset
            if self._refiner is not None:
                try:
                    sample = self._refiner.refine(ch, frame)
                except (ValueError, IndexError):
                    pass  # the frame left the refiner's history: keep the frame's time
            decided_sample = decided * self._hop + self._offset + self._frame_latency
            strength = float(r["strength"])
            self._events.append(Event("onset", sample, sample / self._sr, strength, {
                "strength": strength, "latency": max(decided_sample - sample, 0) / self._sr,
                "channel": ch, "band": int(r["column"]), "frame": frame, "decided_frame": decided}))

    def pop_events(self) -> list[Event]:
        out, self._events = self._events, []
        return out


register(FeatureSpec(
    name="onset_strength", unit="odf", params=OnsetParams, params_from="onset",
    description="onset detection function per frame ([features.onset] method; one column per band)",
    inputs=lambda c, p: (p.odf_input(c),), dim=lambda c, p: p.n_columns(), build=_odf_stage,
))
register(FeatureSpec(
    name="onset", unit="events", params=OnsetParams, events=("onset",), frames_out=False,
    description="onset events (time, strength, latency), picked online from onset_strength",
    inputs=lambda c, p: (("onset_strength", p),) + (("frames", FramesParams()),) if p.refine else
    (("onset_strength", p),),
    dim=lambda c, p: 0, build=lambda c, p: _OnsetNode(c, p),
    delay_frames=lambda c, p: 0,
))


# --- pitch -------------------------------------------------------------------------------

#: ``[features.pitch] method`` values.
PITCH_METHODS = ("yin", "yinfft", "mpm", "cepstrum", "hps", "shs", "pyin")
# The voicing threshold's name in each estimator (``threshold = 0`` keeps its default).
_THRESHOLD_NAME = {"yin": "threshold", "yinfft": "threshold", "mpm": "clarity_threshold",
                   "cepstrum": "threshold", "hps": "voicing_threshold", "shs": "voicing_threshold"}
_ESTIMATORS = {"yin": pitch_mod.Yin, "yinfft": pitch_mod.YinFFT, "mpm": pitch_mod.Mpm,
               "cepstrum": pitch_mod.CepstrumPitch, "hps": pitch_mod.Hps, "shs": pitch_mod.Shs}


def _odd_or_off(v) -> bool:
    return v == 0 or (v >= 3 and v % 2 == 1)


@dataclass(frozen=True, kw_only=True)
class PitchParams(Params):
    """``[features.pitch]``: the estimator, its range and framing, and the optional
    median smoother; ``pitch.midi``, ``pitch.cents`` and ``pitch.tuning`` read it too."""

    method: str = opt("yin", str, "one of " + ", ".join(PITCH_METHODS), choices=PITCH_METHODS)
    fmin_hz: float = opt(65.0, float, "a frequency > 0 (Hz)", check=lambda v: v > 0)
    fmax_hz: float = opt(2093.0, float, "a frequency > 0 (Hz)", check=lambda v: v > 0)
    frame_length: int = opt(0, int, "an integer >= 0 (samples; 0 = [stft] n_fft, or longer if fmin_hz needs it)",
                            check=lambda v: v >= 0)
    hop_length: int = opt(0, int, "an integer >= 0 (samples; 0 = [stft] hop_length)", check=lambda v: v >= 0)
    threshold: float = opt(0.0, float, "a number >= 0 (the method's voicing threshold; 0 = its default)",
                           check=lambda v: v >= 0)
    lag_s: float = opt(0.1, float, "a time >= 0 (s; pyin's Viterbi decision lag)", check=lambda v: v >= 0)
    smooth_frames: int = opt(0, int, "0 (off) or an odd integer >= 3 (median smoother width, frames)",
                             check=_odd_or_off)
    reference_hz: float = opt(440.0, float, "a frequency > 0 (Hz; A4 for pitch.midi and pitch.cents)",
                              check=lambda v: v > 0)
    tuning_time_s: float = opt(10.0, float, "a time > 0 (s; pitch.tuning's forgetting time constant)",
                               check=lambda v: v > 0)

    def __post_init__(self):
        super().__post_init__()
        if self.fmin_hz >= self.fmax_hz:
            raise ConfigError(f"features.pitch.fmin_hz={self.fmin_hz:g} must be < fmax_hz={self.fmax_hz:g} (Hz)")

    def frame_length_for(self, ctx: AnalysisContext) -> int:
        """``frame_length``, or when 0 the STFT's n_fft if it holds two periods of
        ``fmin_hz`` (what every estimator needs), else the next power of two that does."""
        if self.frame_length:
            return self.frame_length
        need = 2 * math.ceil(ctx.sample_rate / self.fmin_hz)
        return ctx.n_fft if ctx.n_fft >= need else 1 << (need - 1).bit_length()

    def frames_key(self, ctx: AnalysisContext):
        return ("frames", FramesParams.on(ctx, self.frame_length_for(ctx), self.hop_length))

    def framing(self, ctx: AnalysisContext) -> tuple[int, int]:
        return FramesParams.on(ctx, self.frame_length_for(ctx), self.hop_length).resolved(ctx)

    def delay_frames(self, ctx: AnalysisContext) -> int:
        """Frames the output lags its frames: pyin's Viterbi lag plus half the smoother."""
        lag = int(round(self.lag_s * ctx.sample_rate / self.framing(ctx)[1])) if self.method == "pyin" else 0
        return lag + self.smooth_frames // 2


class _PitchNode:
    """The estimator, then the optional median smoother: frames -> (C, n, 3)."""

    def __init__(self, ctx: AnalysisContext, p: PitchParams):
        length, hop = p.framing(ctx)
        kw = dict(sample_rate=ctx.sample_rate, frame_length=length, fmin_hz=p.fmin_hz, fmax_hz=p.fmax_hz)
        if p.method == "pyin":
            self._est = PYin(hop_length=hop, lag_s=p.lag_s, **kw)
        else:
            if p.threshold > 0:
                kw[_THRESHOLD_NAME[p.method]] = p.threshold
            self._est = _ESTIMATORS[p.method](**kw)
        self._smooth = MedianSmoother(width=p.smooth_frames, hop_length=hop) if p.smooth_frames else None
        self._delayed = hasattr(self._est, "flush")
        self._channels = ctx.channels

    def process(self, frames: np.ndarray) -> np.ndarray:
        self._channels = frames.shape[0]
        out = self._est.process(frames)
        return out if self._smooth is None else self._smooth.process(out)

    def flush(self) -> np.ndarray:
        """The delayed frames at the end of the stream (pyin's lag, the smoother's half)."""
        out = np.zeros((self._channels, 0, 3), dtype=np.float32)
        if self._delayed:
            tail = self._est.flush()
            if tail.shape[0] == self._channels:
                out = tail
        if self._smooth is not None:
            parts = [self._smooth.process(out), self._smooth.flush()]
            out = np.concatenate([a for a in parts if a.shape[0] == self._channels] or [out], axis=1)
        return out

    def reset(self) -> None:
        self._est.reset()
        if self._smooth is not None:
            self._smooth.reset()


def _midi(p: PitchParams):
    shift = 12.0 * math.log2(440.0 / p.reference_hz)

    def fn(pitch: np.ndarray) -> np.ndarray:
        f0 = pitch[..., 0]
        m = pitch_mod.hz_to_midi(f0) + shift
        return np.where(f0 > 0, m, 0.0).astype(np.float32)[..., None]
    return fn


def _cents(p: PitchParams):
    return lambda pitch: pitch_mod.cents_deviation(pitch[..., 0], p.reference_hz).astype(np.float32)[..., None]


register(FeatureSpec(
    name="pitch", unit="Hz, 0..1, 0/1", params=PitchParams,
    description="f0 [Hz] (0 when unvoiced), confidence 0..1, voiced 0/1 ([features.pitch] method)",
    inputs=lambda c, p: (p.frames_key(c),), dim=lambda c, p: 3,
    build=lambda c, p: _PitchNode(c, p), delay_frames=lambda c, p: p.delay_frames(c),
))
register(FeatureSpec(
    name="pitch.midi", unit="MIDI note", params=PitchParams, params_from="pitch",
    description="f0 as a (fractional) MIDI note number against reference_hz (0 when unvoiced)",
    inputs=("pitch",), dim=lambda c, p: 1, build=lambda c, p: FunctionNode(_midi(p)),
))
register(FeatureSpec(
    name="pitch.cents", unit="cents", params=PitchParams, params_from="pitch",
    description="deviation of f0 from the nearest tempered note, -50..50 cents (0 when unvoiced)",
    inputs=("pitch",), dim=lambda c, p: 1, build=lambda c, p: FunctionNode(_cents(p)),
))
register(FeatureSpec(
    name="pitch.tuning", unit="Hz", params=PitchParams, params_from="pitch",
    description="running estimate of the A4 reference from the voiced f0 so far (440 until enough)",
    inputs=("pitch",), dim=lambda c, p: 1,
    build=lambda c, p: TuningTracker(sample_rate=c.sample_rate, hop_length=p.framing(c)[1],
                                     time_constant_s=p.tuning_time_s, reference_hz=p.reference_hz),
))

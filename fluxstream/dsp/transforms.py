"""Registry entries of the multi-resolution transforms: ``cqt``, ``vqt``, ``chroma_cqt``,
``chroma_cens``, ``cqcc``, ``nsgt`` and ``cwt``.

Each transform runs on its own framer (a root of the graph): frames as long as its longest
kernel (CQT/VQT, CWT) or the contiguous stream (NSGT, which slices it itself), on the
STFT's hop, so its frames share the STFT's times ``k * hop_length`` but not its latency.
The spectra are also readable by every spectral descriptor and onset function with
``scale = "cqt" | "vqt" | "nsgt" | "cwt"`` (:data:`~fluxstream.dsp.registry.TRANSFORM_SPECTRA`):
they then read the transform's magnitudes as configured in ``[features.<name>]``.

Complex outputs (``output = "complex"``) are laid out as the real parts of every bin, then
the imaginary parts (``dim = 2 n_bins``), so that every output stays a real array for the
``.npz``, CSV and OSC paths.

Building a transform's kernels takes tens of milliseconds (NSGT's up to a second); the
graph asks for a transform's frame length, bins and delay before it builds the node, so
the stateless stages (``Cqt``, ``Cwt``) are built once per (sample rate, parameters) and
shared (they keep no per-call state), and the NSGT's layout comes from a kept prototype
while every node gets its own stateful stages (:func:`_cqt`, :func:`_cwt`,
:func:`_nsgt_proto`).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..params import Params, opt
from . import cqt as cqt_mod
from . import cwt as cwt_mod
from . import nsgt as nsgt_mod
from .cepstrum import cepstrum
from .spectral import power_to_db
from .registry import REGISTRY, TRANSFORM_SPECTRA, AnalysisContext, FeatureSpec, FramesParams, FunctionNode, register
from .scales import SCALES

__all__ = ["CqtParams", "VqtParams", "ChromaCqtParams", "ChromaCensParams", "CqccParams", "NsgtParams",
           "CwtParams", "TransformPower"]

_OUTPUTS = ("magnitude", "complex")
_CWT_SCALES = tuple(s for s in SCALES if s != "linspace")


def _positive(v) -> bool:
    return v > 0


def _interleave(W: np.ndarray) -> np.ndarray:
    """Complex ``(..., n)`` -> real ``(..., 2 n)``: real parts, then imaginary parts."""
    return np.concatenate([W.real, W.imag], axis=-1).astype(np.float32, copy=False)


# --- CQT / VQT ---------------------------------------------------------------------------


def _norm_ok(v) -> bool:
    return v in (1, 2, "inf")


@dataclass(frozen=True, kw_only=True)
class CqtParams(Params):
    """``[features.cqt]``: constant-Q magnitudes per hop (librosa's ``cqt`` conventions).

    ``n_bins`` bins from ``fmin_hz``, ``bins_per_octave`` per octave, kernels of librosa's
    lengths (``filter_scale``, Hann by default, ``norm``, ``sparsity``, ``scale``: divided
    by the square root of the kernel length). Each frame holds every bin at the frame's
    time, so the latency is half the longest (lowest) kernel; bin ``b`` alone would need
    half its own length (``fluxstream.dsp.cqt.Cqt.bin_latency_samples``)."""

    fmin_hz: float = opt(cqt_mod.C1_HZ, float, "a frequency > 0 (Hz; default C1)", check=_positive)
    n_bins: int = opt(84, int, "an integer >= 1", check=lambda v: v >= 1)
    bins_per_octave: int = opt(12, int, "an integer >= 1", check=lambda v: v >= 1)
    tuning: float = opt(0.0, float, "a number in [-0.5, 0.5) (bins)", check=lambda v: -0.5 <= v < 0.5)
    filter_scale: float = opt(1.0, float, "a number > 0", check=_positive)
    window: str = opt("hann", str, "a window name (hann, hamming, blackman, ...)")
    norm: object = opt(1, (int, str), '1, 2 or "inf" (kernel normalisation)', check=_norm_ok)
    sparsity: float = opt(0.01, float, "a number in [0, 1)", check=lambda v: 0 <= v < 1)
    scale: bool = opt(True, bool, "true or false (divide by sqrt of the kernel length, as librosa)")
    output: str = opt("magnitude", str, "magnitude or complex", choices=_OUTPUTS)

    def gamma_value(self):
        return 0.0

    def stage_kwargs(self) -> dict:
        return dict(fmin_hz=self.fmin_hz, n_bins=self.n_bins, bins_per_octave=self.bins_per_octave,
                    tuning=self.tuning, filter_scale=self.filter_scale, gamma=self.gamma_value(),
                    window=self.window, norm=float("inf") if self.norm == "inf" else self.norm,
                    scale=self.scale, sparsity=self.sparsity, output=self.output)


@dataclass(frozen=True, kw_only=True)
class VqtParams(CqtParams):
    """``[features.vqt]``: variable-Q: as ``cqt`` with each bin's bandwidth widened by
    ``gamma`` Hz (-1: librosa's default, the ERB rule ``24.7 alpha / 0.108``)."""

    gamma: float = opt(-1.0, float, "a number >= 0 (Hz), or -1 for the ERB rule", check=lambda v: v >= 0 or v == -1)

    def gamma_value(self):
        return None if self.gamma == -1 else self.gamma


@functools.lru_cache(maxsize=16)
def _cqt(sample_rate: int, p: CqtParams) -> cqt_mod.Cqt:
    return cqt_mod.Cqt(float(sample_rate), **p.stage_kwargs())


def _cqt_frames(ctx: AnalysisContext, p: CqtParams):
    return ("frames", FramesParams.on(ctx, _cqt(ctx.sample_rate, p).frame_length, 0))


def _cqt_node(ctx: AnalysisContext, p: CqtParams):
    stage, hop = _cqt(ctx.sample_rate, p), ctx.hop_length
    if p.output == "complex":
        return FunctionNode(lambda frames: _interleave(stage.transform_frames(frames, hop)))
    return FunctionNode(lambda frames: stage.transform_frames(frames, hop))


for _name, _cls, _what in (("cqt", CqtParams, "constant-Q transform magnitudes (librosa.cqt's conventions)"),
                           ("vqt", VqtParams, "variable-Q transform magnitudes (librosa.vqt's conventions)")):
    register(FeatureSpec(
        name=_name, unit="linear", params=_cls, description=_what,
        inputs=lambda c, p: (_cqt_frames(c, p),),
        dim=lambda c, p: p.n_bins * (2 if p.output == "complex" else 1),
        build=_cqt_node, freqs=lambda c, p: _cqt(c.sample_rate, p).freqs_hz,
    ))


# --- constant-Q chroma, CENS, CQCC ------------------------------------------------------

_CHROMA_NORMS = ("inf", "1", "2", "none")


@dataclass(frozen=True, kw_only=True)
class ChromaCqtParams(Params):
    """``[features.chroma_cqt]``: chroma folded from a constant-Q spectrum, librosa's
    ``chroma_cqt`` defaults: ``n_octaves`` octaves of ``bins_per_octave`` bins from
    ``fmin_hz``, ``n_chroma`` classes, per-frame ``norm``, values below ``threshold``
    zeroed."""

    fmin_hz: float = opt(cqt_mod.C1_HZ, float, "a frequency > 0 (Hz; default C1)", check=_positive)
    n_octaves: int = opt(7, int, "an integer >= 1", check=lambda v: v >= 1)
    bins_per_octave: int = opt(36, int, "an integer >= 1, a multiple of n_chroma", check=lambda v: v >= 1)
    n_chroma: int = opt(12, int, "an integer >= 1", check=lambda v: v >= 1)
    tuning: float = opt(0.0, float, "a number in [-0.5, 0.5) (bins)", check=lambda v: -0.5 <= v < 0.5)
    norm: str = opt("inf", str, "inf, 1, 2 or none", choices=_CHROMA_NORMS)
    threshold: float = opt(0.0, float, "a number >= 0", check=lambda v: v >= 0)

    def __post_init__(self):
        super().__post_init__()
        if self.bins_per_octave % self.n_chroma:
            raise ConfigError(f"bins_per_octave={self.bins_per_octave} must be a multiple of "
                              f"n_chroma={self.n_chroma} (each chroma class folds whole CQT bins)")

    def cqt_key(self):
        return ("cqt", CqtParams(fmin_hz=self.fmin_hz, n_bins=self.n_octaves * self.bins_per_octave,
                                 bins_per_octave=self.bins_per_octave, tuning=self.tuning))

    def norm_value(self):
        return None if self.norm == "none" else float(self.norm)


def _chroma_cqt_node(ctx: AnalysisContext, p: ChromaCqtParams):
    return cqt_mod.ChromaCqt(n_bins=p.n_octaves * p.bins_per_octave, bins_per_octave=p.bins_per_octave,
                             fmin_hz=p.fmin_hz, n_chroma=p.n_chroma, norm=p.norm_value(), threshold=p.threshold)


register(FeatureSpec(
    name="chroma_cqt", unit="ratio", params=ChromaCqtParams,
    description="chroma from a constant-Q spectrum (librosa.feature.chroma_cqt's defaults)",
    inputs=lambda c, p: (p.cqt_key(),), dim=lambda c, p: p.n_chroma, build=_chroma_cqt_node,
))


@dataclass(frozen=True, kw_only=True)
class ChromaCensParams(ChromaCqtParams):
    """``[features.chroma_cens]``: CENS (librosa's ``chroma_cens``): the unnormalised
    constant-Q chroma L1-normalised, quantised, smoothed over ``win_len_smooth`` frames
    centred on each frame (so delayed by ``win_len_smooth // 2`` frames) and normalised
    (``norm``, default 2)."""

    norm: str = opt("2", str, "inf, 1, 2 or none", choices=_CHROMA_NORMS)
    win_len_smooth: int = opt(41, int, "an integer >= 1 (frames)", check=lambda v: v >= 1)
    smoothing_window: str = opt("hann", str, "a window name")

    def chroma_key(self):
        return ("chroma_cqt", ChromaCqtParams(fmin_hz=self.fmin_hz, n_octaves=self.n_octaves,
                                              bins_per_octave=self.bins_per_octave, n_chroma=self.n_chroma,
                                              tuning=self.tuning, norm="none", threshold=self.threshold))


class _CensNode:
    """:class:`~fluxstream.dsp.cqt.ChromaCens` with a flush of the graph's shape."""

    def __init__(self, ctx: AnalysisContext, p: ChromaCensParams):
        self._stage = cqt_mod.ChromaCens(win_len_smooth=p.win_len_smooth, smoothing_window=p.smoothing_window,
                                         norm=p.norm_value(), hop_length=ctx.hop_length)
        self._channels, self._n = ctx.channels, p.n_chroma

    def process(self, chroma: np.ndarray) -> np.ndarray:
        self._channels = chroma.shape[0]
        return self._stage.process(chroma)

    def flush(self) -> np.ndarray:
        out = self._stage.flush()
        return out if out.shape[0] == self._channels else np.zeros((self._channels, 0, self._n), np.float32)

    def reset(self) -> None:
        self._stage.reset()


register(FeatureSpec(
    name="chroma_cens", unit="ratio", params=ChromaCensParams,
    description="chroma energy normalised statistics (librosa.feature.chroma_cens), delayed by half its smoothing",
    inputs=lambda c, p: (p.chroma_key(),), dim=lambda c, p: p.n_chroma, build=_CensNode,
    delay_frames=lambda c, p: cqt_mod.ChromaCens(win_len_smooth=p.win_len_smooth,
                                                 smoothing_window=p.smoothing_window).delay_frames,
))


@dataclass(frozen=True, kw_only=True)
class CqccParams(CqtParams):
    """``[features.cqcc]``: constant-Q cepstral coefficients: the orthonormal DCT-II of the
    CQT's power in dB (``10 log10 max(|X|^2, 1e-10)``), first ``n_coeffs``, optional
    liftering (as ``mfcc``). The DCT runs over the geometrically spaced bins directly (no
    uniform resampling of the log spectrum as in Todisco et al.'s CQCC)."""

    n_coeffs: int = opt(20, int, "an integer >= 1, <= n_bins", check=lambda v: v >= 1)
    lifter: float = opt(0.0, float, "a number >= 0 (0 = none)", check=lambda v: v >= 0)

    def __post_init__(self):
        super().__post_init__()
        if self.n_coeffs > self.n_bins:
            raise ConfigError(f"features.cqcc.n_coeffs={self.n_coeffs} must be <= n_bins={self.n_bins}")

    def cqt_key(self):
        return ("cqt", CqtParams(**{f.name: getattr(self, f.name) for f in dataclasses.fields(CqtParams)
                                    if f.name != "output"}))


register(FeatureSpec(
    name="cqcc", unit="dB", params=CqccParams,
    description="cepstral coefficients of the constant-Q power spectrum (DCT-II of its dB)",
    inputs=lambda c, p: (p.cqt_key(),), dim=lambda c, p: p.n_coeffs,
    build=lambda c, p: FunctionNode(lambda X: cepstrum(power_to_db(np.square(X)), p.n_coeffs, p.lifter)),
))


# --- NSGT ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NsgtParams(Params):
    """``[features.nsgt]``: the sliced non-stationary Gabor transform's magnitudes on the
    STFT's hop: bands uniform on ``scale`` (``bins`` per octave on "octave", i.e.
    constant-Q; else ``bins`` bands) from ``fmin_hz`` to ``fmax_hz`` (0: 0.45 of the
    sample rate), slices of ``slice_length`` samples (0: the shortest that holds the
    longest band window) with ``transition_length`` (0: an eighth of the slice). Each
    band's magnitude is interpolated at the frame times; the latency (about one and a half
    slices) is what the slices need, and grows with lower ``fmin_hz`` and more ``bins``."""

    scale: str = opt("octave", str, "one of " + ", ".join(nsgt_mod.NSGT_SCALES), choices=nsgt_mod.NSGT_SCALES)
    fmin_hz: float = opt(65.40639132514966, float, "a frequency > 0 (Hz; default C2)", check=_positive)
    fmax_hz: float = opt(0.0, float, "a frequency >= 0 (Hz; 0 = 0.45 * sample rate)", check=lambda v: v >= 0)
    bins: int = opt(12, int, "an integer >= 1 (per octave on the octave scale, else bands)", check=lambda v: v >= 1)
    slice_length: int = opt(0, int, "an integer >= 0, a multiple of 4 (samples; 0 = automatic)",
                            check=lambda v: v >= 0)
    transition_length: int = opt(0, int, "an even integer >= 0 (samples; 0 = slice_length / 8)",
                                 check=lambda v: v >= 0)
    edge_bands: bool = opt(False, bool, "true or false (add the 0 Hz lowpass and Nyquist highpass bands)")

    def stage_kwargs(self) -> dict:
        return dict(scale=self.scale, fmin_hz=self.fmin_hz, fmax_hz=self.fmax_hz or None, bins=self.bins,
                    slice_length=self.slice_length or None, transition_length=self.transition_length or None)


@functools.lru_cache(maxsize=4)
def _nsgt_proto(sample_rate: int, hop_length: int, p: NsgtParams) -> nsgt_mod.NsgtMagnitude:
    """A built magnitude stage for these parameters: its bands and delay (not its state)."""
    fwd = nsgt_mod.SlicedNsgt(sample_rate=float(sample_rate), **p.stage_kwargs())
    return nsgt_mod.NsgtMagnitude(hop_length, fwd, edge_bands=p.edge_bands)


def _nsgt_delay_frames(ctx: AnalysisContext, p: NsgtParams) -> int:
    """Frames the columns lag the contiguous framer (whose frame ``k`` ends half a hop
    after ``k * hop``)."""
    hop = ctx.hop_length
    after = _nsgt_proto(ctx.sample_rate, hop, p).delay_samples - (hop - hop // 2)
    return max(0, -(-after // hop))


class _NsgtNode:
    """The contiguous stream (frames of one hop, end to end) -> slices -> magnitude
    columns at the frame times.

    Real-time notes
    ---------------
    Analysis thread. Columns come out in bursts, one per completed slice (the forward
    transform spreads a slice's work over the following hops), at most
    ``delay_frames`` frames after their time.
    """

    def __init__(self, ctx: AnalysisContext, p: NsgtParams):
        self._fwd = nsgt_mod.SlicedNsgt(sample_rate=float(ctx.sample_rate), channels=ctx.channels,
                                        backend=ctx.fft_backend, **p.stage_kwargs())
        self._mag = nsgt_mod.NsgtMagnitude(ctx.hop_length, self._fwd, edge_bands=p.edge_bands)
        self._hop = ctx.hop_length
        # The contiguous framer's frame k starts half a hop before k * hop (centred).
        self._lead = ctx.hop_length // 2 if ctx.center else 0
        self._dim = len(self._mag.freqs_hz)
        self.reset()

    def reset(self) -> None:
        self._fwd.reset()
        self._mag.reset()
        self._drop = self._lead
        self._frames = 0  # frames received since the reset
        self._columns = 0  # columns emitted since the reset

    def process(self, frames: np.ndarray) -> np.ndarray:
        C, n, h = frames.shape
        self._frames += n
        x = frames.reshape(C, n * h)
        if self._drop:
            d = min(self._drop, x.shape[1])
            x, self._drop = x[:, d:], self._drop - d
        out = self._mag.process(self._fwd.process(np.ascontiguousarray(x.T)))
        self._columns += out.shape[1]
        return out

    def flush(self) -> np.ndarray:
        """The columns still owed at the end of the stream: one per frame received."""
        parts = [self._mag.process(self._fwd.flush())]
        if self._frames:
            parts.append(self._mag.flush((self._frames - 1) * self._hop))
        out = np.concatenate(parts, axis=1)[:, : max(0, self._frames - self._columns)]
        self._columns += out.shape[1]
        return out


register(FeatureSpec(
    name="nsgt", unit="linear", params=NsgtParams,
    description="sliced NSGT (constant-Q on the octave scale) magnitudes on the hop grid; latency ~1.5 slices",
    inputs=lambda c, p: (("frames", FramesParams.on(c, c.hop_length, 0)),),
    dim=lambda c, p: len(_nsgt_proto(c.sample_rate, c.hop_length, p).freqs_hz),
    build=_NsgtNode, freqs=lambda c, p: _nsgt_proto(c.sample_rate, c.hop_length, p).freqs_hz,
    delay_frames=_nsgt_delay_frames,
))


# --- CWT ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CwtParams(Params):
    """``[features.cwt]``: the continuous wavelet transform at each frame's time.

    ``n_scales`` wavelets with peak frequencies uniform on ``scale`` between ``fmin_hz`` and
    ``fmax_hz`` (ascending), ``wavelet`` one of morlet (``omega0``), morse (``gamma``,
    ``beta``), bump (``mu``, ``sigma``), paul (``order``, default 4), dog (``order``,
    default 2 = Mexican hat). ``frame_length`` 0: the smallest power of two holding the
    longest wavelet (at most 65536 samples); a shorter one truncates the long wavelets (a
    warning says which). Latency: half the longest wavelet's support."""

    wavelet: str = opt("morlet", str, "one of " + ", ".join(sorted(cwt_mod.WAVELETS)),
                       choices=tuple(sorted(cwt_mod.WAVELETS)))
    n_scales: int = opt(64, int, "an integer >= 1", check=lambda v: v >= 1)
    fmin_hz: float = opt(50.0, float, "a frequency > 0 (Hz)", check=_positive)
    fmax_hz: float = opt(8000.0, float, "a frequency > fmin_hz, <= Nyquist (Hz)", check=_positive)
    scale: str = opt("log", str, "one of " + ", ".join(_CWT_SCALES), choices=_CWT_SCALES)
    frame_length: int = opt(0, int, "an integer >= 0 (samples; 0 = fits the longest wavelet)",
                            check=lambda v: v >= 0)
    output: str = opt("magnitude", str, "magnitude or complex", choices=_OUTPUTS)
    normalization: str = opt("l1", str, "l1 (a sine of amplitude A gives |W| = A) or l2 (unit energy)",
                             choices=("l1", "l2"))
    omega0: float = opt(6.0, float, "a number > 0 (rad; morlet)", check=_positive)
    gamma: float = opt(3.0, float, "a number > 0 (morse)", check=_positive)
    beta: float = opt(60.0, float, "a number > 0 (morse)", check=_positive)
    mu: float = opt(5.0, float, "a number > 0 (bump)", check=_positive)
    sigma: float = opt(1.0, float, "a number > 0 (bump's width s)", check=_positive)
    order: int = opt(0, int, "an integer >= 0 (paul, dog; 0 = the wavelet's default)", check=lambda v: v >= 0)

    def __post_init__(self):
        super().__post_init__()
        if self.fmin_hz >= self.fmax_hz:
            raise ConfigError(f"features.cwt.fmin_hz={self.fmin_hz:g} must be < fmax_hz={self.fmax_hz:g} (Hz)")

    def wavelet_params(self) -> dict:
        w = cwt_mod.wavelet(self.wavelet)  # the canonical class for the name
        kind = type(w).__name__
        if kind == "Morlet":
            return {"omega0": self.omega0}
        if kind == "Morse":
            return {"gamma": self.gamma, "beta": self.beta}
        if kind == "Bump":
            return {"mu": self.mu, "s": self.sigma}
        return {"m": self.order} if self.order else {}


@functools.lru_cache(maxsize=16)
def _cwt(sample_rate: int, p: CwtParams) -> cwt_mod.Cwt:
    return cwt_mod.Cwt(sample_rate=sample_rate, wavelet=p.wavelet, n_scales=p.n_scales, fmin_hz=p.fmin_hz,
                       fmax_hz=p.fmax_hz, scale=p.scale, frame_length=p.frame_length or None,
                       output=p.output, normalization=p.normalization, **p.wavelet_params())


def _cwt_frames(ctx: AnalysisContext, p: CwtParams):
    return ("frames", FramesParams.on(ctx, _cwt(ctx.sample_rate, p).frame_length, 0))


def _cwt_node(ctx: AnalysisContext, p: CwtParams):
    stage = _cwt(ctx.sample_rate, p)
    if p.output == "complex":
        return FunctionNode(lambda frames: _interleave(stage.process(frames)))
    return FunctionNode(stage.process)


register(FeatureSpec(
    name="cwt", unit="linear", params=CwtParams,
    description="continuous wavelet transform magnitudes at each frame's time (wavelet, scales on any scale)",
    inputs=lambda c, p: (_cwt_frames(c, p),),
    dim=lambda c, p: p.n_scales * (2 if p.output == "complex" else 1),
    build=_cwt_node, freqs=lambda c, p: _cwt(c.sample_rate, p).freqs_hz,
))


# --- transform spectra for descriptors and onset functions -----------------------------


@dataclass(frozen=True)
class TransformPower:
    """Parameters of the internal ``transform.power`` node: the squared magnitudes of
    transform ``name`` under ``params``."""

    name: str
    params: object


register(FeatureSpec(
    name="transform.power", unit="power", public=False, params=TransformPower,
    description="squared magnitudes of a transform (descriptors that read a power spectrum)",
    inputs=lambda c, p: ((p.name, p.params),), dim=None,
    build=lambda c, p: FunctionNode(np.square),
))


class _Spectrum:
    """How descriptors read transform ``name``: its magnitudes as configured."""

    def __init__(self, name: str, freqs, dim):
        self.name, self._freqs, self._dim = name, freqs, dim

    def _params(self, ctx: AnalysisContext):
        if ctx is None:
            raise ConfigError(f"scale={self.name!r} needs the analysis context")
        p = ctx.params_of(self.name)
        return dataclasses.replace(p, output="magnitude") if getattr(p, "output", "magnitude") != "magnitude" else p

    def magnitude_key(self, ctx):
        return (self.name, self._params(ctx))

    def power_key(self, ctx):
        return ("transform.power", TransformPower(self.name, self._params(ctx)))

    def freqs(self, ctx):
        return np.asarray(self._freqs(ctx, self._params(ctx)), dtype=np.float64)

    def dim(self, ctx):
        return int(self._dim(ctx, self._params(ctx)))

    def frame_latency(self, ctx) -> int:
        """Samples after a frame's time that its magnitudes need (its framer's)."""
        key = self.magnitude_key(ctx)
        spec = REGISTRY[self.name]
        (frames,) = [k for k in spec.input_keys(ctx, key[1]) if isinstance(k, tuple) and k[0] == "frames"] or [None]
        length = frames[1].resolved(ctx)[0] if frames is not None else ctx.n_fft
        return length - length // 2


TRANSFORM_SPECTRA["cqt"] = _Spectrum("cqt", lambda c, p: _cqt(c.sample_rate, p).freqs_hz, lambda c, p: p.n_bins)
TRANSFORM_SPECTRA["vqt"] = _Spectrum("vqt", lambda c, p: _cqt(c.sample_rate, p).freqs_hz, lambda c, p: p.n_bins)
TRANSFORM_SPECTRA["nsgt"] = _Spectrum("nsgt", lambda c, p: _nsgt_proto(c.sample_rate, c.hop_length, p).freqs_hz,
                                      lambda c, p: len(_nsgt_proto(c.sample_rate, c.hop_length, p).freqs_hz))
TRANSFORM_SPECTRA["cwt"] = _Spectrum("cwt", lambda c, p: _cwt(c.sample_rate, p).freqs_hz, lambda c, p: p.n_scales)

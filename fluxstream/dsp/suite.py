"""The spectral suite's registry entries: scales and filterbank spectrograms, cepstra,
deltas, deconvolution, chroma and the spectral descriptors.

Each entry names its parameters (the ``[features.<name>]`` table, librosa's names where
librosa has the parameter, house units otherwise), its inputs and how its node is built
from a pure kernel. Shared work is found by the graph: every feature that needs the same
filterbank product (same scale, bands, range, shape, norm and exponent) names the same
``("bands", BandsSpec(...))`` input and gets one node.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, fields

import numpy as np

from ..errors import ConfigError
from ..params import Params, opt
from . import _jit, frame_kernels
from . import chroma as chroma_mod
from . import descriptors as desc
from .cepstrum import apply_cepstrum, cepstrum, cepstrum_plan, deconvolve
from .deltas import Delta
from .filterbank import band_centers_hz, filterbank
from .registry import TRANSFORM_SCALES, TRANSFORM_SPECTRA, AnalysisContext, FeatureSpec, FunctionNode, register
from .scales import SCALES, octave_n_bands
from .spectral import fft_frequencies, power_to_db, spectral_centroid
from .summary import SUMMARY_COLUMNS, SummaryKernel

__all__ = ["BandsSpec", "BandsParams", "MelParams", "MfccParams", "CepstrumParams", "DeltaParams",
           "ChromaParams", "DescriptorParams"]

_SHAPES = ("triangle", "rectangle", "gammatone", "hann", "gaussian")
_NORMS = ("none", "area", "bandwidth")
_BAND_SCALES = tuple(s for s in SCALES if s != "linear")


def _nonneg(v) -> bool:
    return v >= 0


# --- parameters ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BandsSpec(Params):
    """A filterbank product: |X|**power mapped onto bands of a frequency scale.

    Attributes
    ----------
    scale : {"linspace", "mel", "bark", "erb", "octave", "log"}
    n_bands : int >= 0 (0 = derived from the range, octave scale only)
    fmin_hz, fmax_hz : float >= 0 [Hz] (fmax_hz 0 = Nyquist)
    shape : {"triangle", "rectangle", "gammatone", "hann", "gaussian"}
    norm : {"none", "area", "bandwidth"}
    htk : bool (mel formula)
    bins_per_octave : int >= 1 (octave scale)
    tuning : float in [-0.5, 0.5) [bins] (octave scale)
    power : {1.0, 2.0}
        Exponent of |X| before the filterbank (1: amplitude, 2: power).
    """

    scale: str = opt("mel", str, "one of " + ", ".join(_BAND_SCALES), choices=_BAND_SCALES)
    n_bands: int = opt(128, int, "an integer >= 0 (0 = derived, octave scale)", check=_nonneg)
    fmin_hz: float = opt(0.0, float, "a frequency >= 0 (Hz)", check=_nonneg)
    fmax_hz: float = opt(0.0, float, "a frequency >= 0 (Hz; 0 = Nyquist)", check=_nonneg)
    shape: str = opt("triangle", str, "one of " + ", ".join(_SHAPES), choices=_SHAPES)
    norm: str = opt("area", str, "one of " + ", ".join(_NORMS), choices=_NORMS)
    htk: bool = opt(False, bool, "true or false")
    bins_per_octave: int = opt(12, int, "an integer >= 1", check=lambda v: v >= 1)
    tuning: float = opt(0.0, float, "a number in [-0.5, 0.5) (bins)", check=lambda v: -0.5 <= v < 0.5)
    power: float = opt(2.0, float, "1 (amplitude) or 2 (power)", choices=(1.0, 2.0))

    def n_bands_for(self, ctx: AnalysisContext) -> int:
        if self.n_bands:
            return self.n_bands
        if self.scale != "octave":
            raise ConfigError(f"n_bands=0 is only allowed for scale=\"octave\" (got scale={self.scale!r})")
        return octave_n_bands(self.fmin_hz, self.fmax_hz or ctx.sample_rate / 2, self.bins_per_octave)

    def kwargs(self, ctx: AnalysisContext) -> dict:
        return dict(scale=self.scale, fmin_hz=self.fmin_hz, fmax_hz=self.fmax_hz or None,
                    shape=self.shape, norm=self.norm, htk=self.htk,
                    bins_per_octave=self.bins_per_octave, tuning=self.tuning)


def _spec_of(p, **over) -> BandsSpec:
    """The BandsSpec part of a params object (fields of the same name), with overrides."""
    names = {f.name for f in fields(BandsSpec)}
    kw = {f.name: getattr(p, f.name) for f in fields(p) if f.name in names}
    kw.update(over)
    return BandsSpec(**kw)


@dataclass(frozen=True, kw_only=True)
class BandsParams(BandsSpec):
    """``[features.bands]``: a spectrogram on any scale (:class:`BandsSpec`), optionally in
    dB (``10 log10(max(x, 1e-10))``, fixed reference 1)."""

    db: bool = opt(False, bool, "true or false")


_MEL_NORMS = ("slaney", "none")


@dataclass(frozen=True, kw_only=True)
class MelParams(Params):
    """``[features.mel]``: librosa's melspectrogram parameters (``norm`` "slaney" or
    "none"; ``power`` 1 or 2) and ``db`` (fixed-reference dB, see README)."""

    n_mels: int = opt(128, int, "an integer >= 1", check=lambda v: v >= 1)
    fmin_hz: float = opt(0.0, float, "a frequency >= 0 (Hz)", check=_nonneg)
    fmax_hz: float = opt(0.0, float, "a frequency >= 0 (Hz; 0 = Nyquist)", check=_nonneg)
    htk: bool = opt(False, bool, "true or false")
    norm: str = opt("slaney", str, '"slaney" or "none"', choices=_MEL_NORMS)
    power: float = opt(2.0, float, "1 (amplitude) or 2 (power)", choices=(1.0, 2.0))
    db: bool = opt(False, bool, "true or false")

    def bands(self) -> BandsSpec:
        return BandsSpec(scale="mel", n_bands=self.n_mels, fmin_hz=self.fmin_hz, fmax_hz=self.fmax_hz,
                         shape="triangle", norm="area" if self.norm == "slaney" else "none",
                         htk=self.htk, power=self.power)


@dataclass(frozen=True, kw_only=True)
class MfccParams(Params):
    """``[features.mfcc]``: librosa's mfcc parameters; the dB step uses ``ref=1``,
    ``amin=1e-10`` and no ``top_db``."""

    n_mfcc: int = opt(20, int, "an integer >= 1", check=lambda v: v >= 1)
    lifter: float = opt(0.0, float, "a number >= 0", check=_nonneg)
    n_mels: int = opt(128, int, "an integer >= 1", check=lambda v: v >= 1)
    fmin_hz: float = opt(0.0, float, "a frequency >= 0 (Hz)", check=_nonneg)
    fmax_hz: float = opt(0.0, float, "a frequency >= 0 (Hz; 0 = Nyquist)", check=_nonneg)
    htk: bool = opt(False, bool, "true or false")
    norm: str = opt("slaney", str, '"slaney" or "none"', choices=_MEL_NORMS)

    def validate(self) -> None:
        if self.n_mfcc > self.n_mels:
            raise ConfigError(f"n_mfcc={self.n_mfcc} is not allowed: must be <= n_mels={self.n_mels}")

    def bands(self) -> BandsSpec:
        return MelParams(n_mels=self.n_mels, fmin_hz=self.fmin_hz, fmax_hz=self.fmax_hz,
                         htk=self.htk, norm=self.norm).bands()


@dataclass(frozen=True, kw_only=True)
class CepstrumParams(BandsSpec):
    """Cepstral coefficients of a log (dB) filterbank power spectrum on any scale:
    ``n_coeffs`` DCT-II (orthonormal) coefficients, ``lifter`` as librosa's mfcc."""

    n_coeffs: int = opt(20, int, "an integer >= 1", check=lambda v: v >= 1)
    lifter: float = opt(0.0, float, "a number >= 0", check=_nonneg)
    power: float = opt(2.0, float, "2 (power)", choices=(2.0,))

    def validate(self) -> None:
        if self.n_bands and self.n_coeffs > self.n_bands:
            raise ConfigError(f"n_coeffs={self.n_coeffs} is not allowed: must be <= n_bands={self.n_bands}")


@dataclass(frozen=True, kw_only=True)
class LfccParams(CepstrumParams):
    """``[features.lfcc]``: linearly spaced triangular bands."""

    scale: str = opt("linspace", str, "one of " + ", ".join(_BAND_SCALES), choices=_BAND_SCALES)
    n_bands: int = opt(128, int, "an integer >= 1", check=lambda v: v >= 1)


@dataclass(frozen=True, kw_only=True)
class BfccParams(CepstrumParams):
    """``[features.bfcc]``: Bark-spaced triangular bands."""

    scale: str = opt("bark", str, "one of " + ", ".join(_BAND_SCALES), choices=_BAND_SCALES)
    n_bands: int = opt(64, int, "an integer >= 1", check=lambda v: v >= 1)


@dataclass(frozen=True, kw_only=True)
class GtccParams(CepstrumParams):
    """``[features.gtcc]``: ERB-spaced gammatone bands."""

    scale: str = opt("erb", str, "one of " + ", ".join(_BAND_SCALES), choices=_BAND_SCALES)
    n_bands: int = opt(64, int, "an integer >= 1", check=lambda v: v >= 1)
    shape: str = opt("gammatone", str, "one of " + ", ".join(_SHAPES), choices=_SHAPES)


@dataclass(frozen=True, kw_only=True)
class OctaveCepstrumParams(CepstrumParams):
    """``[features.cepstrum]``: any scale; by default third-octave bands from 125 Hz (finer
    or lower octave bands leave bands without an FFT bin at usual n_fft)."""

    scale: str = opt("octave", str, "one of " + ", ".join(_BAND_SCALES), choices=_BAND_SCALES)
    n_bands: int = opt(0, int, "an integer >= 0 (0 = derived, octave scale)", check=_nonneg)
    fmin_hz: float = opt(125.0, float, "a frequency >= 0 (Hz)", check=_nonneg)
    bins_per_octave: int = opt(3, int, "an integer >= 1", check=lambda v: v >= 1)
    # 13: third-octave bands from 125 Hz number 17 at 16 kHz, 14 at 8 kHz.
    n_coeffs: int = opt(13, int, "an integer >= 1", check=lambda v: v >= 1)


@dataclass(frozen=True, kw_only=True)
class DeltaParams(Params):
    """``[features.<cepstrum>.delta]``: ``width`` frames (odd, >= 3), librosa's
    Savitzky-Golay delta with ``mode="interp"`` edges. Latency: width // 2 frames."""

    width: int = opt(9, int, "an odd integer >= 3 (frames)", check=lambda v: v >= 3 and v % 2 == 1)


def _chroma_norm(v) -> bool:
    return v in ("inf", "none") or (not isinstance(v, str) and v in (1, 2, float("inf")))


@dataclass(frozen=True, kw_only=True)
class ChromaParams(Params):
    """``[features.chroma]``: librosa's chroma_stft parameters (``tuning`` a number of
    bins, or ``"estimate"`` for the online estimate; ``norm`` inf, 1, 2 or "none";
    ``octwidth`` 0 = no octave weighting) or, with ``scale = "octave"``, chroma folded
    from a 3-bins-per-semitone octave-scale spectrum from C1."""

    n_chroma: int = opt(12, int, "an integer >= 1", check=lambda v: v >= 1)
    tuning: float | str = opt(0.0, (float, str), 'a number in [-0.5, 0.5) (bins) or "estimate"',
                              check=lambda v: v == "estimate" if isinstance(v, str) else -0.5 <= v < 0.5)
    norm: float | str = opt("inf", (float, str), 'inf, 1, 2 or "none"', check=_chroma_norm)
    ctroct: float = opt(5.0, float, "a number (octaves)")
    octwidth: float = opt(2.0, float, "a number >= 0 (octaves; 0 = none)", check=_nonneg)
    scale: str = opt("linear", str, '"linear" (STFT bins) or "octave"', choices=("linear", "octave"))

    @property
    def norm_value(self):
        if self.norm == "none":
            return None
        return float("inf") if self.norm == "inf" else self.norm


_DESCRIPTOR_SCALES = SCALES + TRANSFORM_SCALES


@dataclass(frozen=True, kw_only=True)
class DescriptorParams(Params):
    """The spectrum a descriptor reads: ``scale = "linear"`` (the STFT magnitude, FFT bin
    frequencies), a band scale: the amplitude filterbank spectrum (|X| through
    triangular bands; gammatone on "erb") with ``n_bands`` bands over
    [``fmin_hz``, ``fmax_hz``] and their centre frequencies, or a transform's magnitudes
    (``"cqt"``, ``"vqt"``, ``"nsgt"``, ``"cwt"``: as configured in ``[features.<name>]``,
    on that transform's clock; ``n_bands``/``fmin_hz``/``fmax_hz`` do not apply)."""

    scale: str = opt("linear", str, "one of " + ", ".join(_DESCRIPTOR_SCALES), choices=_DESCRIPTOR_SCALES)
    n_bands: int = opt(128, int, "an integer >= 0 (0 = derived, octave scale)", check=_nonneg)
    fmin_hz: float = opt(0.0, float, "a frequency >= 0 (Hz)", check=_nonneg)
    fmax_hz: float = opt(0.0, float, "a frequency >= 0 (Hz; 0 = Nyquist)", check=_nonneg)

    def _transform(self):
        if self.scale not in TRANSFORM_SPECTRA:
            raise ConfigError(f"scale={self.scale!r}: the {self.scale} transform is not available")
        return TRANSFORM_SPECTRA[self.scale]

    def _bands(self) -> BandsSpec:
        return BandsSpec(scale=self.scale, n_bands=self.n_bands, fmin_hz=self.fmin_hz, fmax_hz=self.fmax_hz,
                         power=1.0, shape="gammatone" if self.scale == "erb" else "triangle")

    def spectrum_key(self, ctx: AnalysisContext | None = None):
        """The node of the magnitude spectrum (``ctx`` is needed for a transform scale)."""
        if self.scale == "linear":
            return "spectrum"
        if self.scale in TRANSFORM_SCALES:
            return self._transform().magnitude_key(ctx)
        return ("bands.raw", self._bands())

    def power_key(self, ctx: AnalysisContext | None = None):
        """The node of the power spectrum (``ctx`` is needed for a transform scale)."""
        if self.scale == "linear":
            return "power"
        if self.scale in TRANSFORM_SCALES:
            return self._transform().power_key(ctx)
        return ("bands.raw", _spec_of(self._bands(), power=2.0))

    def freqs(self, ctx: AnalysisContext) -> np.ndarray:
        if self.scale == "linear":
            return fft_frequencies(ctx.sample_rate, ctx.n_fft)
        if self.scale in TRANSFORM_SCALES:
            return self._transform().freqs(ctx)
        s = self._bands()
        return band_centers_hz(ctx.sample_rate, ctx.n_fft, s.n_bands_for(ctx), **s.kwargs(ctx))

    def dim(self, ctx: AnalysisContext) -> int:
        if self.scale == "linear":
            return ctx.n_bins
        if self.scale in TRANSFORM_SCALES:
            return self._transform().dim(ctx)
        return self._bands().n_bands_for(ctx)


@dataclass(frozen=True, kw_only=True)
class BandwidthParams(DescriptorParams):
    p: float = opt(2.0, float, "a number > 0", check=lambda v: v > 0)


@dataclass(frozen=True, kw_only=True)
class RolloffParams(DescriptorParams):
    roll_percent: float = opt(0.85, float, "a number in (0, 1)", check=lambda v: 0 < v < 1)


@dataclass(frozen=True, kw_only=True)
class ContrastParams(Params):
    """``[features.contrast]``: librosa's spectral_contrast on the STFT magnitude, in dB
    against a fixed reference (no top_db)."""

    fmin_hz: float = opt(200.0, float, "a frequency > 0 (Hz)", check=lambda v: v > 0)
    n_bands: int = opt(6, int, "an integer >= 1", check=lambda v: v >= 1)
    quantile: float = opt(0.02, float, "a number in (0, 1)", check=lambda v: 0 < v < 1)
    linear: bool = opt(False, bool, "true or false")


@dataclass(frozen=True, kw_only=True)
class BandFlatnessParams(DescriptorParams):
    """``[features.band_flatness]``: flatness in ``n_octaves`` octave bands from
    ``band_fmin_hz`` (MPEG-7 style)."""

    band_fmin_hz: float = opt(250.0, float, "a frequency > 0 (Hz)", check=lambda v: v > 0)
    n_octaves: int = opt(4, int, "an integer >= 1", check=lambda v: v >= 1)


@dataclass(frozen=True, kw_only=True)
class FluxParams(DescriptorParams):
    rectify: bool = opt(True, bool, "true or false")
    p: float = opt(1.0, float, "1 or 2 (the norm)", choices=(1.0, 2.0))
    log_compression: float = opt(0.0, float, "a number >= 0 (0 = none)", check=_nonneg)


@dataclass(frozen=True, kw_only=True)
class MklParams(DescriptorParams):
    eps: float = opt(1e-10, float, "a number > 0", check=lambda v: v > 0)


@dataclass(frozen=True, kw_only=True)
class EnergyParams(DescriptorParams):
    """``[features.energy]``: power summed over [``band_fmin_hz``, ``band_fmax_hz``]
    (0 and 0 = the whole spectrum: broadband energy)."""

    band_fmin_hz: float = opt(0.0, float, "a frequency >= 0 (Hz)", check=_nonneg)
    band_fmax_hz: float = opt(0.0, float, "a frequency >= 0 (Hz; 0 = Nyquist)", check=_nonneg)


@dataclass(frozen=True, kw_only=True)
class BerParams(DescriptorParams):
    split_hz: float = opt(1500.0, float, "a frequency > 0 (Hz)", check=lambda v: v > 0)


@dataclass(frozen=True, kw_only=True)
class ZcrParams(Params):
    threshold: float = opt(1e-10, float, "a number >= 0", check=_nonneg)


@dataclass(frozen=True, kw_only=True)
class HarmonicParams(Params):
    fmin_hz: float = opt(50.0, float, "a frequency > 0 (Hz)", check=lambda v: v > 0)
    fmax_hz: float = opt(1000.0, float, "a frequency > 0 (Hz)", check=lambda v: v > 0)

    def validate(self) -> None:
        if self.fmin_hz >= self.fmax_hz:
            raise ConfigError(f"fmin_hz={self.fmin_hz} is not allowed: must be < fmax_hz={self.fmax_hz}")


# --- nodes ---------------------------------------------------------------------------------


class BandsNode:
    """``S @ fb.T``: one filterbank product per tick (S is |X| or |X|**2 per the spec).

    Triangular and rectangular filterbanks are mostly zeros (a mel bank of 128 bands over
    1025 bins keeps 2 % of its weights): those run as a sparse product, measured twice as
    fast as the dense one; dense shapes (gammatone) use the BLAS product.
    """

    causal = True

    def __init__(self, ctx: AnalysisContext, spec: BandsSpec):
        fb = filterbank(ctx.sample_rate, ctx.n_fft, spec.n_bands_for(ctx), **spec.kwargs(ctx))
        self.n_bands = fb.shape[0]
        self._fbT = np.ascontiguousarray(fb.T, dtype=np.float32)
        self._sparse = None
        if np.count_nonzero(fb) < 0.3 * fb.size:
            import scipy.sparse

            self._sparse = scipy.sparse.csr_matrix(fb)
            # The compiled one-frame product's copy, with indices of one type whatever
            # scipy chose (a new type would compile on a live hop).
            sp = self._sparse
            self._csr = (sp.data, sp.indices.astype(np.int64), sp.indptr.astype(np.int64))

    def process(self, S: np.ndarray) -> np.ndarray:
        if self._sparse is None or S.shape[-2] == 0:
            return S @ self._fbT
        if _jit.ENABLED and S.size == S.shape[-1] and S.dtype == self._sparse.dtype and S.flags.c_contiguous:
            # One frame (a live hop): the same sparse product, compiled.
            out = np.empty(S.shape[:-1] + (self.n_bands,), dtype=S.dtype)
            frame_kernels.csr_matvec(*self._csr, S.reshape(-1), out.reshape(-1))
            return out
        flat = S.reshape(-1, S.shape[-1])
        out = (self._sparse @ flat.T).T  # (bands, rows) -> (rows, bands), a view
        return out.reshape(S.shape[:-1] + (self.n_bands,))

    def reset(self) -> None:
        return None


def _db(x: np.ndarray) -> np.ndarray:
    return power_to_db(x, ref=1.0, amin=1e-10)


def _amplitude_db(x: np.ndarray) -> np.ndarray:
    # 20 log10 for amplitudes = 10 log10 of their square, with the same floor on power.
    return power_to_db(x * x, ref=1.0, amin=1e-10)


def _bands_out(p) -> FunctionNode:
    if not p.db:
        # A copy: the shared product also feeds other nodes (mfcc), and an output belongs
        # to its receiver.
        return FunctionNode(lambda x: x.copy())
    return FunctionNode(_db if p.power == 2.0 else _amplitude_db)


def _unit_bands(p) -> str:
    return "dB" if p.db else ("power" if p.power == 2.0 else "linear")


def _band_freqs(ctx: AnalysisContext, spec: BandsSpec) -> np.ndarray:
    return band_centers_hz(ctx.sample_rate, ctx.n_fft, spec.n_bands_for(ctx), **spec.kwargs(ctx))


class CepstrumNode:
    """Cepstrum of the dB of a band power spectrum (stateless). The DCT rows and lifter
    are prepared on the first tick (the band count is known then), not on every one: the
    same arithmetic as :func:`cepstrum`, without its per-call checks and set-up."""

    def __init__(self, n_coeffs: int, lifter: float):
        self.n_coeffs, self.lifter = n_coeffs, lifter
        self._plan = None

    def process(self, P: np.ndarray) -> np.ndarray:
        x = _db(P)
        plan = self._plan
        if plan is None or plan[0].shape[0] != x.shape[-1] or plan[0].dtype != x.dtype:
            cepstrum(x[..., :0, :], self.n_coeffs, self.lifter)  # the checks, once per shape
            plan = self._plan = cepstrum_plan(x.shape[-1], self.n_coeffs, float(self.lifter), x.dtype)
        return apply_cepstrum(x, plan)

    def reset(self) -> None:
        return None


# --- entries -------------------------------------------------------------------------------

register(FeatureSpec(
    name="bands", unit="power", unit_of=_unit_bands, params=BandsParams,
    description="spectrogram on any scale (filterbank of |X|^power; dB optional)",
    inputs=lambda c, p: (("bands.raw", _spec_of(p)),),
    dim=lambda c, p: p.n_bands_for(c), build=lambda c, p: _bands_out(p),
    freqs=lambda c, p: _band_freqs(c, _spec_of(p)),
))
register(FeatureSpec(
    name="bands.raw", unit="power", public=False, params=BandsSpec,
    description="filterbank product (shared node)",
    inputs=lambda c, p: ("spectrum" if p.power == 1.0 else "power",),
    dim=lambda c, p: p.n_bands_for(c), build=BandsNode,
    freqs=lambda c, p: _band_freqs(c, p),
))
register(FeatureSpec(
    name="mel", unit="power", unit_of=_unit_bands, params=MelParams,
    description="mel spectrogram, as librosa.feature.melspectrogram (dB optional)",
    inputs=lambda c, p: (("bands.raw", p.bands()),),
    dim=lambda c, p: p.n_mels, build=lambda c, p: _bands_out(p),
    freqs=lambda c, p: _band_freqs(c, p.bands()),
))
register(FeatureSpec(
    name="mfcc", unit="dB", params=MfccParams,
    description="MFCC: DCT-II (ortho) of the dB mel power spectrogram, as librosa.feature.mfcc",
    inputs=lambda c, p: (("bands.raw", p.bands()),),
    dim=lambda c, p: p.n_mfcc, build=lambda c, p: CepstrumNode(p.n_mfcc, p.lifter),
))
for _name, _cls, _what in (("lfcc", LfccParams, "linear-frequency"), ("bfcc", BfccParams, "Bark"),
                           ("gtcc", GtccParams, "gammatone (ERB)"),
                           ("cepstrum", OctaveCepstrumParams, "any-scale (default third-octave)")):
    register(FeatureSpec(
        name=_name, unit="dB", params=_cls,
        description=f"{_what} cepstral coefficients: DCT-II of the dB band power spectrum",
        inputs=lambda c, p: (("bands.raw", _spec_of(p)),),
        dim=lambda c, p: p.n_coeffs, build=lambda c, p: CepstrumNode(p.n_coeffs, p.lifter),
    ))
for _base in ("mfcc", "lfcc", "bfcc", "gtcc", "cepstrum"):
    for _order, _suffix in ((1, "delta"), (2, "delta2")):
        register(FeatureSpec(
            name=f"{_base}.{_suffix}", unit="dB/frame" + ("^2" if _order == 2 else ""),
            params=DeltaParams,
            description=f"{'first' if _order == 1 else 'second'}-order delta of {_base} "
                        "(librosa.feature.delta, interp edges; delayed width//2 frames)",
            inputs=(_base,),
            dim=None,  # the configured base feature's dimension
            build=lambda c, p, _o=_order: Delta(p.width, _o, hop_length=c.hop_length),
            delay_frames=lambda c, p: p.width // 2,
        ))


# --- deconvolution -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DeconvParams(DescriptorParams):
    """``[features.envelope]`` / ``[features.fine]``: cepstral liftering of the spectrum
    (any scale): the first ``n_coeffs`` cepstral coefficients give the envelope."""

    n_coeffs: int = opt(30, int, "an integer >= 1", check=lambda v: v >= 1)


class _DeconvNode:
    def __init__(self, n_coeffs: int):
        self.n_coeffs = n_coeffs

    def process(self, S: np.ndarray) -> np.ndarray:
        env, fine = deconvolve(S, self.n_coeffs)
        return np.concatenate([env, fine], axis=-1)

    def reset(self) -> None:
        return None


register(FeatureSpec(
    name="deconv", unit="linear", public=False, params=DeconvParams,
    description="envelope and fine structure, side by side",
    inputs=lambda c, p: (p.spectrum_key(c),),
    dim=lambda c, p: 2 * p.dim(c), build=lambda c, p: _DeconvNode(p.n_coeffs),
))
register(FeatureSpec(
    name="envelope", unit="linear", params=DeconvParams,
    description="spectral envelope (formant part) by cepstral liftering; envelope * fine = spectrum",
    inputs=lambda c, p: (("deconv", p),), dim=lambda c, p: p.dim(c),
    build=lambda c, p: FunctionNode(lambda x: x[..., : x.shape[-1] // 2].copy()),
    freqs=lambda c, p: p.freqs(c),
))
register(FeatureSpec(
    name="fine", unit="linear", params=DeconvParams,
    description="spectral fine structure (pitch part): spectrum / envelope",
    inputs=lambda c, p: (("deconv", p),), dim=lambda c, p: p.dim(c),
    build=lambda c, p: FunctionNode(lambda x: x[..., x.shape[-1] // 2 :].copy()),
    freqs=lambda c, p: p.freqs(c),
))


# --- chroma --------------------------------------------------------------------------------

_C1_HZ = 32.70319566257483


def _chroma_octave_bands(p: ChromaParams) -> BandsSpec:
    return BandsSpec(scale="octave", n_bands=7 * 3 * p.n_chroma, fmin_hz=_C1_HZ,
                     bins_per_octave=3 * p.n_chroma, shape="triangle", norm="none", power=2.0)


class _FoldChroma:
    def __init__(self, p: ChromaParams):
        self.p = p

    def process(self, S: np.ndarray) -> np.ndarray:
        c = chroma_mod.fold_octaves(S, 3 * self.p.n_chroma, self.p.n_chroma)
        return chroma_mod.normalize_frames(c, self.p.norm_value)

    def reset(self) -> None:
        return None


def _chroma_node(ctx: AnalysisContext, p: ChromaParams):
    if p.scale == "octave":
        return _FoldChroma(p)
    return chroma_mod.Chroma(ctx.sample_rate, ctx.n_fft, n_chroma=p.n_chroma,
                             tuning=None if p.tuning == "estimate" else p.tuning, norm=p.norm_value,
                             ctroct=p.ctroct, octwidth=p.octwidth or None, hop_length=ctx.hop_length)


register(FeatureSpec(
    name="chroma", unit="normalized", params=ChromaParams,
    description="chroma from the STFT power (librosa.feature.chroma_stft) or an octave spectrum",
    inputs=lambda c, p: ("power",) if p.scale == "linear" else (("bands.raw", _chroma_octave_bands(p)),),
    dim=lambda c, p: p.n_chroma, build=_chroma_node,
))


# --- descriptors ---------------------------------------------------------------------------


def _scalar(fn):
    return FunctionNode(fn, scalar=True)


def _descriptor(name: str, unit: str, what: str, kernel, params=DescriptorParams, power: bool = False,
                with_freqs: bool = False, dim=lambda c, p: 1, scalar: bool = True):
    """Register a stateless descriptor ``kernel(S[, freqs], p)`` on any scale."""

    def build(ctx, p):
        if with_freqs:
            f = p.freqs(ctx).astype(np.float32)
            fn = (lambda S: kernel(S, f, p))
        else:
            fn = (lambda S: kernel(S, p))
        return FunctionNode(fn, scalar=scalar)

    register(FeatureSpec(
        name=name, unit=unit, params=params, description=what,
        inputs=lambda c, p: (p.power_key(c) if power else p.spectrum_key(c),),
        dim=dim, build=build,
    ))


def _descriptor_base(p: DescriptorParams) -> DescriptorParams:
    """The plain spectrum choice of any descriptor's params (drops e.g. bandwidth's ``p``),
    so that descriptors on the same spectrum share one summary node."""
    return DescriptorParams(**{f.name: getattr(p, f.name) for f in fields(DescriptorParams)})


register(FeatureSpec(
    name="summary", unit="mixed", public=False, params=DescriptorParams,
    description="one pass: " + ", ".join(SUMMARY_COLUMNS),
    inputs=lambda c, p: (p.spectrum_key(c),), dim=lambda c, p: len(SUMMARY_COLUMNS),
    build=lambda c, p: FunctionNode(SummaryKernel(p.freqs(c))),
))


def _column(k: int) -> FunctionNode:
    # A view (the summary array is new every tick, so the column is the caller's to keep),
    # taken by a C-level getter: nine of these run on every live hop.
    return FunctionNode(operator.itemgetter((Ellipsis, slice(k, k + 1))))


# The centroid alone is one matrix-vector product: its own node, so that asking for it does
# not pay for the summary. The other shape descriptors come from one summary node per
# spectrum, computed once however many of them are asked for (on a live hop, nine separate
# kernels cost five times as much, almost all of it per-call overhead).
_descriptor("centroid", "Hz", "spectral centroid: magnitude-weighted mean frequency (0 Hz for silence)",
            lambda S, f, p: spectral_centroid(S, f), with_freqs=True)
for _name, _unit, _what in (
        ("spread", "Hz", "spectral spread: standard deviation of frequency (= bandwidth with p=2)"),
        ("skewness", "ratio", "spectral skewness (3rd standardized moment; 0 for silence)"),
        ("kurtosis", "ratio", "spectral kurtosis (4th standardized moment, not excess; 0 for silence)"),
        ("slope", "1/Hz", "spectral slope: least-squares slope / sum (Peeters)"),
        ("decrease", "ratio", "spectral decrease (Peeters)"),
        ("crest", "ratio", "spectral crest: max / mean (1 for silence)"),
        ("flatness", "ratio", "spectral flatness: geometric / arithmetic mean of power (librosa; 1 for silence)"),
        ("entropy", "ratio", "normalized spectral entropy, 0..1 (0 for silence)")):
    register(FeatureSpec(
        name=_name, unit=_unit, params=DescriptorParams, description=_what,
        inputs=lambda c, p: (("summary", p),), dim=lambda c, p: 1,
        build=lambda c, p, _k=SUMMARY_COLUMNS.index(_name): _column(_k),
    ))


def _bandwidth_inputs(c, p: BandwidthParams):
    return (("summary", _descriptor_base(p)),) if p.p == 2.0 else (p.spectrum_key(c),)


def _bandwidth_node(c, p: BandwidthParams):
    if p.p == 2.0:  # the spread, which the summary has
        return _column(SUMMARY_COLUMNS.index("spread"))
    f = p.freqs(c).astype(np.float32)
    return FunctionNode(lambda S: desc.spectral_bandwidth(S, f, p=p.p), scalar=True)


register(FeatureSpec(
    name="bandwidth", unit="Hz", params=BandwidthParams,
    description="p-th order spectral bandwidth around the centroid (librosa)",
    inputs=_bandwidth_inputs, dim=lambda c, p: 1, build=_bandwidth_node,
))
_descriptor("band_flatness", "ratio", "flatness per octave band (MPEG-7 style)",
            lambda S, f, p: desc.band_flatness(S, f, desc.octave_band_edges(p.band_fmin_hz, p.n_octaves)),
            params=BandFlatnessParams, with_freqs=True, dim=lambda c, p: p.n_octaves, scalar=False)
_descriptor("rolloff", "Hz", "roll-off frequency: roll_percent of the magnitude lies below (librosa)",
            lambda S, f, p: desc._rolloff(S, f, p.roll_percent), params=RolloffParams, with_freqs=True)
_descriptor("energy", "power", "spectral energy: sum of |X|^2 (in a band if set)",
            lambda P, f, p: desc.spectral_energy(P, f, p.band_fmin_hz or None, p.band_fmax_hz or None),
            params=EnergyParams, power=True, with_freqs=True)
_descriptor("ber", "ratio", "band energy ratio: energy above split_hz / below",
            lambda P, f, p: desc.band_energy_ratio(P, f, p.split_hz), params=BerParams, power=True,
            with_freqs=True)
_descriptor("hfc", "power", "high-frequency content: sum of k |X_k|^2 (Masri)",
            lambda P, p: desc.high_frequency_content(P), power=True)


def _contrast_node(ctx, p: ContrastParams):
    ranges = desc.contrast_bands(fft_frequencies(ctx.sample_rate, ctx.n_fft), p.fmin_hz, p.n_bands, p.quantile)
    return FunctionNode(lambda S: desc.contrast_from_bands(S, ranges, p.linear))


register(FeatureSpec(
    name="contrast", unit="dB", unit_of=lambda p: "linear" if p.linear else "dB", params=ContrastParams,
    description="spectral contrast per octave band (librosa; fixed dB reference)",
    inputs=("spectrum",), dim=lambda c, p: p.n_bands + 1, build=_contrast_node,
))


class _StatefulScalar:
    """A stateful descriptor (C, n, K) -> (C, n, 1)."""

    def __init__(self, stage):
        self._stage = stage

    def process(self, S: np.ndarray) -> np.ndarray:
        return self._stage.process(S)[..., None]

    def reset(self) -> None:
        self._stage.reset()


register(FeatureSpec(
    name="flux", unit="linear", params=FluxParams,
    description="spectral flux against the previous frame (rectified or not, L1/L2, log-compressed)",
    inputs=lambda c, p: (p.spectrum_key(c),), dim=lambda c, p: 1,
    build=lambda c, p: _StatefulScalar(desc.Flux(p.rectify, int(p.p), p.log_compression)),
))
register(FeatureSpec(
    name="mkl", unit="nats", params=MklParams,
    description="modified Kullback-Leibler divergence against the previous frame",
    inputs=lambda c, p: (p.spectrum_key(c),), dim=lambda c, p: 1,
    build=lambda c, p: _StatefulScalar(desc.ModifiedKL(p.eps)),
))
register(FeatureSpec(
    name="zcr", unit="ratio", params=ZcrParams,
    description="zero-crossing rate of the frame (librosa's counting; zero-padded edges)",
    inputs=("frames",), dim=lambda c, p: 1,
    build=lambda c, p: _scalar(lambda x: desc.zero_crossing_rate(x, p.threshold)),
))
register(FeatureSpec(
    name="peak", unit="linear", description="peak level: max |x| of the frame",
    inputs=("frames",), dim=lambda c, p: 1, build=lambda c, p: _scalar(desc.peak_level),
))
register(FeatureSpec(
    name="harmonic_ratio", unit="ratio", params=HarmonicParams,
    description="harmonic ratio: max normalized autocorrelation for lags in 1/fmax..1/fmin",
    inputs=("frames",), dim=lambda c, p: 1,
    build=lambda c, p: _scalar(lambda x: desc.harmonic_ratio(x, c.sample_rate, p.fmin_hz, p.fmax_hz)),
))

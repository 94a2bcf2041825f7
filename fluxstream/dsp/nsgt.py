"""Sliced non-stationary Gabor transform (sliCQ): invertible, online, on any frequency scale.

The signal is cut into overlapping slices, each slice is analysed by a *painless*
non-stationary Gabor transform (NSGT) whose frequency-domain windows follow a frequency scale
(constant-Q on ``"octave"``), and the inverse overlap-adds the dual-frame synthesis of each
slice times a dual slicing window, which reconstructs the input to float round-off.
Holighaus, Dörfler, Velasco & Grill (2013) describe the construction; this module is an
independent implementation with the conventions stated below.

Map
---
band layout         :func:`nsgt_frequencies`, :func:`nsgt_bandwidths`, :class:`NsgtConfig`
slicing windows     :func:`slicing_window`, :func:`dual_slicing_window`
batch references    :func:`nsgt_batch` (forward over a whole signal), :func:`insgt_batch`
                    (inverse), :func:`nsgt_magnitude_batch` (hop-grid magnitudes)
streaming stages    :class:`SlicedNsgt` (samples -> slices), :class:`SlicedInsgt`
                    (slices -> samples), :class:`NsgtMagnitude` (slices -> spectrogram
                    columns on the engine's hop grid)
slice record        :class:`NsgtSlice`

Maths
-----
*Slices.* With slice length ``L`` (a multiple of 4), slice hop ``L/2`` and transition
``T`` (even, ``0 <= T <= L/2``), slice ``j`` is the frame of ``L`` samples starting at
sample ``j L/2 - L/2`` (it is centred on sample ``j L/2``; samples before the stream start
are zeros). The slicing window (Tukey-like, frame coordinates ``t = 0 .. L-1``)::

    phi(t) = 0                          t <  L/4 - T/2            (zero margin)
           = sin^2(pi/2 u(t))           L/4 - T/2 <= t < L/4 + T/2, u = (t - L/4 + T/2 + 1/2)/T
           = 1                          L/4 + T/2 <= t < 3L/4 - T/2 (flat top)
           = cos^2(pi/2 u(t - L/2))     3L/4 - T/2 <= t < 3L/4 + T/2
           = 0                          t >= 3L/4 + T/2

is a uniform partition of unity at hop ``L/2`` (``sum_j phi(t - j L/2) = 1``); its support
is ``L/2 + T`` samples, and the zero margins of ``L/4 - T/2`` samples on each side absorb
the time spread of the band atoms (the circular transform of a slice would otherwise alias
it). The dual slicing window is the canonical one, ``psi = phi / sum_j phi(t - j L/2)^2``,
so that ``sum_j psi_j phi_j = 1`` with ``psi`` supported where ``phi`` is.

*Painless NSGT of a slice.* Let ``X = DFT_L(phi_j x)``. Band ``b`` has a real window
``g_b`` on frequency bins ``nu`` (a Hann in linear frequency, ``g_b(nu) = cos^2(pi (nu -
f_b L/sr) / W_b)`` over ``|nu - f_b L/sr| < W_b / 2``, with ``W_b`` the band's full width
in bins, from its neighbouring centres, see :func:`nsgt_bandwidths`), an integer
demodulation bin ``k_b = round(f_b L/sr)`` and ``M_b`` coefficients (even, at least
``min_coefficients``, and large enough that the window support fits in ``[k_b - M_b/2,
k_b + M_b/2)``: the *painless* condition ``|supp g_b| <= M_b``). Its coefficients are::

    c_b[n] = (1/L) sum_nu X[nu] g_b(nu) exp(2 pi i (nu - k_b) n / M_b),  n = 0 .. M_b-1

one inverse FFT of length ``M_b`` per band; ``c_b[n]`` is the atom centred ``n L / M_b``
samples after the slice's first sample. The ``1/L`` makes a sine of amplitude ``A`` at a
band's centre give ``|c_b| = A/2`` in every band (an amplitude spectrum).
(Grill's ``nsgt`` package scales by ``1/M_b`` instead: its values are ``L/M_b`` times these.) Besides the scale's bands, a lowpass band (centred
at 0 Hz: flat below band 1's lower edge, a cos^2 taper up to band 1's centre) and a
highpass band (the mirror image at Nyquist) complete the cover of ``0 .. sr``; with
``real=True`` the negative-frequency bands are implied (conjugates) and not returned.
Because the frame is painless, the canonical dual windows are diagonal::

    gd_b(nu) = g_b(nu) / D(nu),   D(nu) = sum_b' g_b'(nu)^2   (over all bands, mirrors included)

and ``phi_j x = IDFT_L( sum_b gd_b * (L/M_b) DFT_{M_b}(c_b) )`` exactly, provided ``D > 0``
everywhere (the windows cover the frequency circle). The inverse of the sliced transform is
``x = sum_j psi_j * IDFT_L(...)_j``.

*Magnitudes on the hop grid.* Band ``b``'s coefficients of consecutive slices describe the
same absolute times ``m L / M_b`` (``m = j M_b/2 - M_b/2 + n``); slice ``j + 1`` sees the
signal shifted by ``L/2``, which multiplies ``c_b`` by ``(-1)^(k_b)``, so the overlap-add
``C_b[m] = sum_j (-1)^(j k_b) c_{j,b}[m - j M_b/2 + M_b/2]`` is the NSGT of ``sum_j phi_j x
= x`` (up to the slices' time aliasing). :class:`NsgtMagnitude` interpolates ``|C_b|``
linearly on that grid at the times ``k * hop_length``.

References
----------
Holighaus, N., Dörfler, M., Velasco, G. A., & Grill, T. (2013). A framework for invertible,
real-time constant-Q transforms. IEEE Trans. Audio, Speech, Lang. Process. 21(4), 775-785.
Balazs, P., Dörfler, M., Jaillet, F., Holighaus, N., & Velasco, G. (2011). Theory,
implementation and applications of nonstationary Gabor frames. J. Comput. Appl. Math.
236(6), 1481-1496.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.fft

from ..errors import ConfigError
from .fft import RealFFT, _pyfftw, default_backend
from .scales import hz_to_scale, scale_to_hz

__all__ = [
    "NSGT_SCALES",
    "nsgt_frequencies",
    "nsgt_bandwidths",
    "slicing_window",
    "dual_slicing_window",
    "NsgtConfig",
    "NsgtSlice",
    "nsgt_batch",
    "insgt_batch",
    "nsgt_magnitude_batch",
    "SlicedNsgt",
    "SlicedInsgt",
    "NsgtMagnitude",
]

#: Scales :func:`nsgt_frequencies` understands.
NSGT_SCALES = ("octave", "mel", "bark", "erb", "log", "linear")
#: Relative slack when counting whole steps of 1/bins octave in fmin..fmax.
_STEP_SLACK = 1e-9
#: Main-lobe width of a Hann window's transform, in units of 1/width: the time length of a
#: band's atom is ``_ATOM_LOBE * sample_rate / W_hz`` samples.
_ATOM_LOBE = 4.0


# -- validation ------------------------------------------------------------------------

def _check_int(name: str, value, low: int, unit: str = "samples") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ConfigError(f"{name}={value!r} must be an integer >= {low} ({unit})")
    return int(value)


def _check_real(name: str, value, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} must be a finite number ({unit})")
    return float(value)


def _check_range(scale, fmin_hz, fmax_hz, bins, sample_rate):
    if scale not in NSGT_SCALES:
        raise ConfigError(f"scale={scale!r} is not an NSGT scale; allowed: {', '.join(NSGT_SCALES)}")
    sr = _check_real("sample_rate", sample_rate, "Hz")
    if sr <= 0:
        raise ConfigError(f"sample_rate={sample_rate!r} must be > 0 (Hz)")
    fmin = _check_real("fmin_hz", fmin_hz, "Hz")
    fmax = _check_real("fmax_hz", fmax_hz, "Hz")
    if not 0 < fmin < sr / 2:
        raise ConfigError(f"fmin_hz={fmin_hz!r} must be > 0 and < sample_rate/2 = {sr / 2:g} "
                          f"(the Nyquist frequency) (Hz)")
    if not fmax > fmin:
        raise ConfigError(f"fmin_hz={fmin_hz!r} must be < fmax_hz={fmax_hz!r} (Hz)")
    if not fmax < sr / 2:
        raise ConfigError(f"fmax_hz={fmax_hz!r} must be < sample_rate/2 = {sr / 2:g} "
                          f"(the Nyquist frequency; the highpass band lies above it) (Hz)")
    bins = _check_int("bins", bins, 1 if scale == "octave" else 2,
                      "bins per octave" if scale == "octave" else "bands")
    return sr, fmin, fmax, bins


# -- band layout -----------------------------------------------------------------------

def _scale_positions(scale, fmin, fmax, bins):
    """Positions of the centres on the scale and the step between them."""
    if scale == "octave":
        lo, hi = hz_to_scale(fmin, "octave"), hz_to_scale(fmax, "octave")
        n = math.floor(bins * (hi - lo) * (1.0 + _STEP_SLACK)) + 1
        step = 1.0 / bins
        return lo + step * np.arange(n), step
    lo, hi = hz_to_scale(fmin, scale), hz_to_scale(fmax, scale)
    return np.linspace(lo, hi, bins), (hi - lo) / (bins - 1)


def nsgt_frequencies(scale: str, fmin_hz: float, fmax_hz: float, bins: int, sample_rate: float) -> np.ndarray:
    """Centre frequencies of the scale's bands.

    Parameters
    ----------
    scale : {"octave", "mel", "bark", "erb", "log", "linear"}
    fmin_hz : float [Hz], ``0 < fmin_hz < fmax_hz``
    fmax_hz : float [Hz], ``< sample_rate / 2``
    bins : int
        ``"octave"``: bins per octave (>= 1): centres ``fmin_hz * 2**(i / bins)`` up to
        ``fmax_hz`` (constant Q). Other scales: the number of bands (>= 2), equally spaced
        on the scale from ``fmin_hz`` to ``fmax_hz`` inclusive.
    sample_rate : float > 0 [Hz]

    Returns
    -------
    freqs_hz : ndarray [shape=(n_bands,), dtype=float64] [Hz]

    Examples
    --------
    >>> nsgt_frequencies("octave", 100.0, 400.0, 2, 8000).round(1).tolist()
    [100.0, 141.4, 200.0, 282.8, 400.0]
    """
    sr, fmin, fmax, bins = _check_range(scale, fmin_hz, fmax_hz, bins, sample_rate)
    pos, _ = _scale_positions(scale, fmin, fmax, bins)
    f = np.asarray(scale_to_hz(pos, scale), dtype=np.float64)
    f[0] = fmin  # exact end point (the round trip through the scale is within round-off)
    return f


def nsgt_bandwidths(scale: str, fmin_hz: float, fmax_hz: float, bins: int, sample_rate: float) -> np.ndarray:
    """Full widths [Hz] of the bands' Hann windows: the distance between the neighbouring
    centres ``f_(b+1) - f_(b-1)`` (one scale step beyond the ends is extrapolated).

    Constant-Q (``"octave"``): ``W_b = f_b (2**(1/bins) - 2**(-1/bins))``, i.e. a -6 dB
    bandwidth of ``W_b / 2`` and ``Q = f_b / (W_b / 2)``.

    Returns
    -------
    widths_hz : ndarray [shape=(n_bands,), dtype=float64] [Hz]
    """
    sr, fmin, fmax, bins = _check_range(scale, fmin_hz, fmax_hz, bins, sample_rate)
    pos, step = _scale_positions(scale, fmin, fmax, bins)
    if scale == "octave":
        f = nsgt_frequencies(scale, fmin, fmax, bins, sr)
        return f * (2.0 ** (1.0 / bins) - 2.0 ** (-1.0 / bins))
    return np.asarray(scale_to_hz(pos + step, scale) - scale_to_hz(pos - step, scale), dtype=np.float64)


def slicing_window(slice_length: int, transition_length: int) -> np.ndarray:
    """The slicing window ``phi`` [shape=(slice_length,), float64] (module docstring): a
    partition of unity at hop ``slice_length // 2``."""
    L, T = slice_length, transition_length
    t = np.arange(L, dtype=np.float64)
    phi = np.zeros(L)
    a, b = L // 4 - T // 2, 3 * L // 4 - T // 2
    phi[a + T: b] = 1.0
    if T:
        u = (t[a: a + T] - a + 0.5) / T
        phi[a: a + T] = np.sin(0.5 * np.pi * u) ** 2
        phi[b: b + T] = np.cos(0.5 * np.pi * u) ** 2
    return phi


def dual_slicing_window(slice_length: int, transition_length: int) -> np.ndarray:
    """The canonical dual ``psi = phi / sum_j phi(t - j L/2)^2`` [shape=(L,), float64]."""
    phi = slicing_window(slice_length, transition_length)
    h = slice_length // 2
    energy = phi ** 2 + np.roll(phi, h) ** 2  # phi's support is L/2 + T <= L: two terms
    out = np.zeros_like(phi)
    np.divide(phi, energy, out=out, where=phi > 0)
    return out


@dataclass(frozen=True)
class _Band:
    """One frequency band of a slice transform (all bins on the frequency circle mod L)."""
    kc: int              # demodulation bin
    M: int               # coefficients per slice (even, painless)
    pos: np.ndarray      # positions in the M-buffer of the support bins
    src: np.ndarray      # rfft index of each support bin
    conj: np.ndarray     # support bins taken conjugated (negative frequencies / above Nyquist)
    g: np.ndarray        # analysis window on the support
    gd: np.ndarray       # dual window on the support
    alpha: float         # synthesis weight: 1 (mirror implied) or 1/2 (self-mirrored band)
    dst1: np.ndarray     # (support index, rfft bin) pairs of the direct synthesis term
    sel1: np.ndarray
    dst2: np.ndarray     # ... and of the conjugate-mirrored term
    sel2: np.ndarray


def _make_band(nu: np.ndarray, g: np.ndarray, kc: int, L: int, min_coef: int, alpha: float) -> _Band:
    keep = g > 0
    nu, g = nu[keep], g[keep]
    half = max(kc - int(nu.min()), int(nu.max()) + 1 - kc, 1)
    M = max(2 * half, min_coef)
    # Round up to an even FFT-friendly length (2^a 3^b 5^c): still painless, and a length
    # with a large prime factor (the highpass band at 44.1 kHz came to 2 * 18227) runs
    # Bluestein's algorithm, ten times slower.
    while True:
        M = scipy.fft.next_fast_len(M)
        if M % 2 == 0:
            break
        M += 1
    u = np.mod(nu, L)
    src = np.where(u <= L // 2, u, L - u)
    m1 = np.flatnonzero(u <= L // 2)
    v = np.mod(L - u, L)
    m2 = np.flatnonzero(v <= L // 2)
    return _Band(kc=int(kc), M=int(M), pos=np.mod(nu - kc, M), src=src, conj=u > L // 2, g=g,
                 gd=g, alpha=alpha, dst1=u[m1], sel1=m1, dst2=v[m2], sel2=m2)


def _hann_band(fc: float, wb: float, L: int, min_coef: int, alpha: float) -> _Band:
    lo, hi = math.floor(fc - wb / 2) + 1, math.ceil(fc + wb / 2) - 1
    nu = np.arange(lo, hi + 1)
    g = np.cos(np.pi * (nu - fc) / wb) ** 2
    return _make_band(nu, g, int(round(fc)), L, min_coef, alpha)


def _edge_band(centre: int, flat: float, zero: float, L: int, min_coef: int) -> _Band:
    """A band symmetric about bin ``centre`` (0 or L/2): 1 within ``flat`` bins, a cos^2
    taper to 0 at ``zero`` bins."""
    r = max(math.ceil(zero) - 1, 0)
    nu = np.arange(centre - r, centre + r + 1)
    d = np.abs(nu - centre).astype(np.float64)
    taper = np.cos(0.5 * np.pi * np.clip((d - flat) / max(zero - flat, 1e-12), 0.0, 1.0)) ** 2
    g = np.where(d <= flat, 1.0, taper)
    return _make_band(nu, g, centre, L, min_coef, 0.5)


@dataclass(frozen=True, kw_only=True)
class NsgtConfig:
    """Validated parameters of a sliced NSGT and the derived layout.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    scale : {"octave", "mel", "bark", "erb", "log", "linear"}
    fmin_hz, fmax_hz : float [Hz], ``0 < fmin_hz < fmax_hz < sample_rate / 2``
        None for ``fmax_hz``: ``0.45 * sample_rate``.
    bins : int
        Bins per octave (``"octave"``) or number of bands (other scales).
    slice_length : int, multiple of 4, or None [samples]
        None: the smallest power of two >= the longest band atom (and >= 16).
    transition_length : int, even, ``0 <= T <= slice_length / 2``, or None [samples]
        None: ``slice_length / 8`` rounded down to even.
    min_coefficients : int >= 2
        Least coefficients per band and slice.
    real : bool
        True: the lowpass, scale and highpass bands only (the negative frequencies are their
        conjugates). False: also the mirrored bands, highest first (as for complex input).
    dtype : complex64 or complex128
        Coefficient dtype; the FFTs run in the matching precision (float32 / float64).
    spread_samples : int >= 0 [samples]
        :class:`SlicedNsgt` spreads a completed slice's per-band IFFTs over this many input
        samples (0: all at once), adding as much latency.
    """

    sample_rate: float = 44100.0
    scale: str = "octave"
    fmin_hz: float = 32.7
    fmax_hz: float | None = None
    bins: int = 24
    slice_length: int | None = None
    transition_length: int | None = None
    min_coefficients: int = 4
    real: bool = True
    dtype: type = np.complex64
    spread_samples: int | None = None
    # derived
    freqs_hz: np.ndarray = field(init=False, repr=False)
    widths_hz: np.ndarray = field(init=False, repr=False)
    bands: tuple = field(init=False, repr=False)
    atom_length: int = field(init=False, repr=False)

    def __post_init__(self):
        s = object.__setattr__
        sr = _check_real("sample_rate", self.sample_rate, "Hz")
        fmax = 0.45 * sr if self.fmax_hz is None else self.fmax_hz
        sr, fmin, fmax, bins = _check_range(self.scale, self.fmin_hz, fmax, self.bins, self.sample_rate)
        f = nsgt_frequencies(self.scale, fmin, fmax, bins, sr)
        w = nsgt_bandwidths(self.scale, fmin, fmax, bins, sr)
        atoms = _ATOM_LOBE * sr / w  # main-lobe length of each band's atom [samples]
        longest = int(math.ceil(atoms.max()))
        L = self.slice_length
        if L is None:
            L = max(16, 1 << (longest - 1).bit_length())
        L = _check_int("slice_length", L, 8)
        if L % 4:
            raise ConfigError(f"slice_length={L} must be a multiple of 4 (samples)")
        if len(f) > 1:
            gap = float(np.min(np.diff(f)))
            if gap < sr / L:
                raise ConfigError(
                    f"bins={bins} is too many for scale={self.scale!r} at slice_length={L}: adjacent "
                    f"centres come {gap:.4g} Hz apart, closer than the slice's frequency resolution "
                    f"sample_rate/slice_length = {sr / L:.4g} (Hz); use fewer bins or a longer slice")
        if longest > L:
            b = int(np.argmax(atoms))
            raise ConfigError(
                f"slice_length={L} is shorter than the longest band window, {longest} samples (band "
                f"{b + 1} at {f[b]:.4g} Hz, width {w[b]:.4g} Hz); slice_length must be >= {longest} "
                f"(samples): raise it, raise fmin_hz or use fewer bins")
        T = L // 16 * 2 if self.transition_length is None else self.transition_length
        T = _check_int("transition_length", T, 0)
        if T % 2 or T > L // 2:
            raise ConfigError(f"transition_length={T} must be even and <= slice_length/2 = {L // 2} "
                              "(samples)")
        mc = _check_int("min_coefficients", self.min_coefficients, 2, "coefficients")
        if not isinstance(self.real, (bool, np.bool_)):
            raise ConfigError(f"real={self.real!r} must be True or False")
        dt = np.dtype(self.dtype)
        if dt not in (np.complex64, np.complex128):
            raise ConfigError(f"dtype={self.dtype!r} must be complex64 or complex128")
        S = L // 4 if self.spread_samples is None else self.spread_samples
        S = _check_int("spread_samples", S, 0)
        fc, wb = f * L / sr, w * L / sr
        if fc[-1] + 0.5 >= L // 2:
            raise ConfigError(f"fmax_hz={fmax!r} leaves no room for the highpass band at slice_length={L}: "
                              f"must be < {(L // 2 - 0.5) * sr / L:.6g} (Hz)")
        scale_alpha = 1.0 if self.real else 0.5
        bands = [_edge_band(0, max(fc[0] - wb[0] / 2, 0.0), fc[0], L, mc)]
        bands += [_hann_band(c, q, L, mc, scale_alpha) for c, q in zip(fc, wb)]
        bands.append(_edge_band(L // 2, max(L // 2 - (fc[-1] + wb[-1] / 2), 0.0), L // 2 - fc[-1], L, mc))
        if not self.real:
            bands += [_hann_band(L - c, q, L, mc, 0.5) for c, q in zip(fc[::-1], wb[::-1])]
        # D(nu) over the frequency circle, mirrored bands included (implied ones too).
        D = np.zeros(L)
        for bd in bands:
            u = np.mod(bd.src * np.where(bd.conj, -1, 1), L)
            np.add.at(D, u, bd.g ** 2)
            if bd.alpha == 1.0:
                np.add.at(D, np.mod(-u, L), bd.g ** 2)
        if D.min() <= 1e-6:
            raise ConfigError(f"the bands leave frequencies uncovered at slice_length={L} (frame bound "
                              f"{D.min():.3g}): use more bins or a wider fmin_hz..fmax_hz")
        final = []
        for bd in bands:
            u = np.mod(bd.src * np.where(bd.conj, -1, 1), L)
            object.__setattr__(bd, "gd", bd.g / D[u])
            final.append(bd)
        freqs = np.concatenate(([0.0], f, [sr / 2] + ([] if self.real else list(-f[::-1]))))
        s(self, "sample_rate", sr); s(self, "fmin_hz", fmin); s(self, "fmax_hz", float(fmax))
        s(self, "bins", bins); s(self, "slice_length", L); s(self, "transition_length", T)
        s(self, "min_coefficients", mc); s(self, "real", bool(self.real)); s(self, "dtype", dt.type)
        s(self, "spread_samples", S); s(self, "freqs_hz", freqs); s(self, "widths_hz", w)
        s(self, "bands", tuple(final)); s(self, "atom_length", longest)

    @property
    def coefficients_per_band(self) -> np.ndarray:
        return np.array([b.M for b in self.bands])

    @property
    def support(self) -> tuple[int, int]:
        """First and end (exclusive) frame positions where the slicing window is nonzero."""
        L, T = self.slice_length, self.transition_length
        return L // 4 - T // 2, 3 * L // 4 + T // 2

    def n_slices(self, n_samples: int) -> int:
        """Slices whose window overlaps samples ``0 .. n_samples-1``."""
        if n_samples <= 0:
            return 0
        L, T = self.slice_length, self.transition_length
        return -(-(n_samples + L // 4 + T // 2) // (L // 2))


class NsgtSlice(NamedTuple):
    """One slice of coefficients.

    index : int
        Slice number ``j``; the slice is centred on sample ``j * slice_hop``.
    start_sample : int
        First sample of the slice's frame, ``j * slice_hop - slice_length // 2``.
    coefficients : tuple of ndarray [shape=(channels, M_b), dtype]
        One array per band (views into one buffer owned by this slice).
    """
    index: int
    start_sample: int
    coefficients: tuple


# -- kernels ---------------------------------------------------------------------------

class _Kernel:
    """FFT plans and buffers for analysing / synthesising slices of one layout."""

    def __init__(self, cfg: NsgtConfig, channels: int, backend: str | None, forward: bool = True):
        self.cfg = cfg
        self.C = channels
        L = cfg.slice_length
        self.single = cfg.dtype == np.complex64
        self.rdtype = np.float32 if self.single else np.float64
        self.phi = slicing_window(L, cfg.transition_length).astype(self.rdtype)
        self.psi = dual_slicing_window(L, cfg.transition_length).astype(self.rdtype)
        self.plan = RealFFT(L, backend).plan((channels,)) if self.single and forward else None
        self.offsets = np.concatenate(([0], np.cumsum(cfg.coefficients_per_band)))
        self.g = [b.g.astype(self.rdtype) for b in cfg.bands]
        self.gd = [(b.gd * (L / b.M)).astype(self.rdtype) for b in cfg.bands]  # (L/M) undoes 1/L
        # Conjugation as a sign on the imaginary part (one multiply instead of masked copies).
        self.sgn = [np.where(b.conj, -1.0, 1.0).astype(self.rdtype) if b.conj.any() else None
                    for b in cfg.bands]
        cdt = np.complex64 if self.single else np.complex128
        self.cdt = cdt
        backend = default_backend() if backend is None else backend
        self.band_plans = None
        if forward and backend == "pyfftw" and _pyfftw is not None:
            # One FFTW plan per band (FFTW_ESTIMATE: planning 200 lengths takes ~0.1 s;
            # pocketfft's 16-entry plan cache would thrash over that many lengths). The
            # input positions outside a band's support are zero once and stay zero (an
            # out-of-place c2c transform preserves its input).
            self.band_plans = []
            for b in cfg.bands:
                a = _pyfftw.empty_aligned((channels, b.M), dtype=cdt)
                o = _pyfftw.empty_aligned((channels, b.M), dtype=cdt)
                a.fill(0)
                f = _pyfftw.FFTW(a, o, axes=(-1,), direction="FFTW_BACKWARD",
                                 flags=("FFTW_ESTIMATE",), threads=1)
                self.band_plans.append((a, o, f, self.rdtype(1.0 / L)))

    def spectrum(self, frame: np.ndarray, out: np.ndarray) -> None:
        """``out[:] = rfft(frame * phi)``; frame [shape=(C, L)]."""
        if self.plan is not None:
            np.multiply(frame, self.phi, out=self.plan.input)
            out[...] = self.plan()
        else:
            out[...] = scipy.fft.rfft(frame * self.phi, axis=-1)

    def new_coefficients(self) -> np.ndarray:
        return np.empty((self.C, int(self.offsets[-1])), dtype=self.cfg.dtype)

    def band(self, X: np.ndarray, b: int, out: np.ndarray) -> None:
        """Coefficients of band ``b`` from the slice spectrum ``X`` into ``out`` [(C, M_b)]."""
        bd = self.cfg.bands[b]
        vals = X[:, bd.src]
        if self.sgn[b] is not None:
            vals.imag *= self.sgn[b]
        vals *= self.g[b]
        if self.band_plans is not None:
            a, o, f, scale = self.band_plans[b]
            a[:, bd.pos] = vals
            f.execute()
            np.multiply(o, scale, out=out)
        else:
            buf = np.zeros((self.C, bd.M), dtype=X.dtype)
            buf[:, bd.pos] = vals
            out[...] = scipy.fft.ifft(buf, axis=-1, overwrite_x=True) * self.rdtype(bd.M / self.cfg.slice_length)

    def views(self, flat: np.ndarray) -> tuple:
        o = self.offsets
        return tuple(flat[:, o[i]: o[i + 1]] for i in range(len(o) - 1))

    def synthesise(self, coefs) -> np.ndarray:
        """``psi * IDFT(sum_b gd_b DFT(c_b))`` [shape=(C, L), rdtype]."""
        cfg = self.cfg
        L = cfg.slice_length
        H = np.zeros((self.C, L // 2 + 1), dtype=np.complex64 if self.single else np.complex128)
        for bd, gd, c in zip(cfg.bands, self.gd, coefs):
            Y = scipy.fft.fft(np.asarray(c, dtype=H.dtype), axis=-1)
            v = Y[:, bd.pos] * gd
            if bd.alpha != 1.0:
                v *= bd.alpha
            H[:, bd.dst1] += v[:, bd.sel1]
            if len(bd.sel2):
                H[:, bd.dst2] += np.conj(v[:, bd.sel2])
        return scipy.fft.irfft(H, n=L, axis=-1) * self.psi


def _as_block(x, channels: int | None = None) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or (channels is not None and a.shape[1] != channels):
        raise ValueError(f"block shape {np.shape(x)} does not match (n_samples, channels="
                         f"{channels if channels is not None else 'C'})")
    return a


def nsgt_batch(x: np.ndarray, backend: str | None = None, **params) -> list[NsgtSlice]:
    """The sliced NSGT of a whole signal in one go: the reference :class:`SlicedNsgt` streams.

    Parameters
    ----------
    x : ndarray [shape=(n_samples, channels) or (n_samples,)]
    backend : {"pyfftw", "scipy"}, optional
        FFT backend of the slice transforms (complex64 only).
    **params
        :class:`NsgtConfig` fields (``sample_rate``, ``scale``, ``bins``...).

    Returns
    -------
    slices : list of NsgtSlice
        Slices ``0 .. n_slices - 1``: every slice whose window overlaps the signal (the
        signal is zero-padded on both sides).
    """
    cfg = params.pop("config", None) or NsgtConfig(**params)
    x = _as_block(x)
    n, C = x.shape
    k = _Kernel(cfg, C, backend)
    L, h = cfg.slice_length, cfg.slice_length // 2
    J = cfg.n_slices(n)
    pad = np.zeros((C, n + 2 * L), dtype=k.rdtype)
    pad[:, L: L + n] = x.T
    X = np.empty((C, L // 2 + 1), dtype=np.complex64 if k.single else np.complex128)
    out = []
    for j in range(J):
        start = j * h - h
        k.spectrum(pad[:, start + L: start + 2 * L], X)
        flat = k.new_coefficients()
        views = k.views(flat)
        for b in range(len(cfg.bands)):
            k.band(X, b, views[b])
        out.append(NsgtSlice(j, start, views))
    return out


def insgt_batch(slices, n_samples: int, backend: str | None = None, **params) -> np.ndarray:
    """Inverse of :func:`nsgt_batch`: samples ``0 .. n_samples-1`` [shape=(n_samples, C),
    float32] from all slices (same parameters)."""
    cfg = params.pop("config", None) or NsgtConfig(**params)
    C = slices[0].coefficients[0].shape[0] if slices else 1
    k = _Kernel(cfg, C, backend, forward=False)
    L = cfg.slice_length
    y = np.zeros((C, n_samples + 2 * L))
    for s in slices:
        y[:, s.start_sample + L: s.start_sample + 2 * L] += k.synthesise(s.coefficients)
    return y[:, L: L + n_samples].T.astype(np.float32)


# -- streaming forward -----------------------------------------------------------------

class SlicedNsgt:
    """Streaming sliced NSGT: sample blocks in, completed slices of coefficients out.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    scale, fmin_hz, fmax_hz, bins, slice_length, transition_length, min_coefficients, real,
    dtype, spread_samples
        As :class:`NsgtConfig`.
    channels : int >= 1
    backend : {"pyfftw", "scipy"}, optional
        FFT backend of the slice FFT (complex64).

    Attributes
    ----------
    config : NsgtConfig
    freqs_hz : ndarray [shape=(n_bands,)] [Hz]
        Band centres: 0 (lowpass band), the scale's centres, ``sample_rate / 2`` (highpass
        band), then with ``real=False`` the negative mirrors.
    coefficients_per_band : ndarray [shape=(n_bands,), int]
        ``M_b``: coefficients per slice; band ``b``'s time step is ``slice_length / M_b``.
    slice_length, slice_hop, transition_length : int [samples]
    latency_samples : int [samples]
        ``slice_length/4 + transition_length/2 + spread_samples``: slice ``j`` (centred on
        sample ``j * slice_hop``) is returned by the call in which the stream's sample count
        reaches ``j * slice_hop + latency_samples``. Without spreading, the newest sample it
        needs is ``j * slice_hop + slice_length/4 + transition_length/2 - 1`` (the end of its
        window's support); spreading adds ``spread_samples``.
    causal : bool
        True.
    hop : int
        ``slice_hop`` (one slice per hop).

    Examples
    --------
    >>> t = SlicedNsgt(sample_rate=8000, fmin_hz=100.0, fmax_hz=3000.0, bins=6)
    >>> x = np.zeros((20000, 1), np.float32)
    >>> slices = t.process(x) + t.flush()
    >>> len(slices) == t.config.n_slices(20000)
    True

    Real-time notes
    ---------------
    Runs in the analysis thread. ``__init__`` allocates the sample buffer, the slice spectra
    queue and the FFT plan. When a slice's window support is complete, :meth:`process`
    windows it and computes its FFT (one real FFT of ``slice_length``); the per-band IFFTs
    (small, one per band) are spread over the next ``spread_samples`` input samples in
    proportion to the samples received, so a call with a hop-sized block does a bounded
    share of them. Each returned slice owns one new coefficient array (the caller may keep
    it). Blocks larger than a slice hop are processed in pieces, so the queue of pending
    slices never exceeds ``spread_samples / slice_hop + 2``.
    """

    causal = True

    def __init__(self, *, sample_rate: float = 44100.0, scale: str = "octave", fmin_hz: float = 32.7,
                 fmax_hz: float | None = None, bins: int = 24, slice_length: int | None = None,
                 transition_length: int | None = None, min_coefficients: int = 4, real: bool = True,
                 dtype=np.complex64, spread_samples: int | None = None, channels: int = 1,
                 backend: str | None = None):
        self.config = cfg = NsgtConfig(
            sample_rate=sample_rate, scale=scale, fmin_hz=fmin_hz, fmax_hz=fmax_hz, bins=bins,
            slice_length=slice_length, transition_length=transition_length,
            min_coefficients=min_coefficients, real=real, dtype=dtype, spread_samples=spread_samples)
        self.channels = _check_int("channels", channels, 1, "channels")
        self._k = _Kernel(cfg, self.channels, backend)
        self.sample_rate = cfg.sample_rate
        self.freqs_hz = cfg.freqs_hz
        self.coefficients_per_band = cfg.coefficients_per_band
        self.slice_length = L = cfg.slice_length
        self.slice_hop = self.hop = L // 2
        self.transition_length = cfg.transition_length
        self.spread_samples = cfg.spread_samples
        self._sup0, self._sup1 = cfg.support
        self.latency_samples = int(self._sup1 - L // 2 + cfg.spread_samples)
        self._nb = len(cfg.bands)
        # Work schedule: bands in order, weighted by an estimate of their cost (a fixed
        # per-call overhead worth ~1000 coefficients, plus M log M).
        M = cfg.coefficients_per_band.astype(np.float64)
        self._cum_cost = np.cumsum(1000.0 + M * np.log2(M))
        self._cum_cost /= self._cum_cost[-1]
        self._buf = np.zeros((self.channels, 2 * L), dtype=self._k.rdtype)
        self._frame = np.zeros((self.channels, L), dtype=self._k.rdtype)
        q = cfg.spread_samples // self.slice_hop + 3
        cdt = np.complex64 if self._k.single else np.complex128
        self._spectra = [np.zeros((self.channels, L // 2 + 1), cdt) for _ in range(q)]
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next sample is sample 0."""
        self._buf.fill(0.0)
        # The buffer holds samples from absolute index _base; the first slice's support
        # begins before sample 0, so the buffer starts with that many zeros.
        self._base = self._sup0 - self.slice_hop
        self._fill = -self._base
        self.n_samples = 0
        self._next = 0          # next slice to complete
        self._pending = []      # [j, spectrum slot, coefficient array, bands done]
        self._free = list(range(len(self._spectra)))
        self._flushed = False

    def _end(self, j: int) -> int:
        """Samples the stream must hold for slice j's window support to be complete."""
        return j * self.slice_hop - self.slice_hop + self._sup1

    def process(self, block: np.ndarray) -> list[NsgtSlice]:
        """Add samples; return the slices finished by this call (possibly none).

        Parameters
        ----------
        block : ndarray [shape=(n_samples, channels)]
            Any ``n_samples >= 0``; converted to the working precision on the copy.

        Returns
        -------
        slices : list of NsgtSlice
            In order of ``index``.
        """
        if self._flushed:
            raise RuntimeError("SlicedNsgt.process after flush(): call reset() first")
        x = _as_block(block, self.channels)
        out: list[NsgtSlice] = []
        i, n = 0, x.shape[0]
        while i < n:
            m = min(n - i, self._end(self._next) - self.n_samples)
            self._append(x[i: i + m])
            i += m
            if self.n_samples == self._end(self._next):
                self._complete(out)
        self._work(out)
        return out

    def flush(self) -> list[NsgtSlice]:
        """End of stream: zero-pad, complete and return every remaining slice whose window
        overlaps the stream."""
        if self._flushed:
            return []
        out: list[NsgtSlice] = []
        total = self.n_samples
        last = self.config.n_slices(total)
        while self._next < last:
            self._append(np.zeros((self._end(self._next) - self.n_samples, self.channels), np.float32))
            self._complete(out)
        self.n_samples = total
        for p in self._pending:
            self._finish(p, self._nb)
        self._emit(out, force=True)
        self._flushed = True
        return out

    def _append(self, x: np.ndarray) -> None:
        m = x.shape[0]
        if self._fill + m > self._buf.shape[1]:
            keep = self._next * self.slice_hop - self.slice_hop + self._sup0 - self._base
            self._buf[:, : self._fill - keep] = self._buf[:, keep: self._fill]
            self._base += keep
            self._fill -= keep
        self._buf[:, self._fill: self._fill + m] = x.T
        self._fill += m
        self.n_samples += m

    def _complete(self, out) -> None:
        j = self._next
        h = self.slice_hop
        a = j * h - h + self._sup0 - self._base
        self._frame[:, self._sup0: self._sup1] = self._buf[:, a: a + self._sup1 - self._sup0]
        if not self._free:  # only when spreading lags: finish the oldest now
            self._finish(self._pending[0], self._nb)
            self._emit(out)
        slot = self._free.pop(0)
        self._k.spectrum(self._frame, self._spectra[slot])
        flat = self._k.new_coefficients()
        self._pending.append([j, slot, flat, 0, self._k.views(flat)])
        self._next += 1
        self._work(out)

    def _finish(self, p, upto: int) -> None:
        views = p[4]
        for b in range(p[3], upto):
            self._k.band(self._spectra[p[1]], b, views[b])
        p[3] = max(p[3], upto)

    def _work(self, out) -> None:
        S = self.spread_samples
        for p in self._pending:
            since = self.n_samples - self._end(p[0])
            target = self._nb if since >= S else int(np.searchsorted(self._cum_cost, since / S, "right"))
            if target > p[3]:
                self._finish(p, target)
        self._emit(out)

    def _emit(self, out, force: bool = False) -> None:
        while self._pending and self._pending[0][3] >= self._nb and (
                force or self.n_samples - self._end(self._pending[0][0]) >= self.spread_samples):
            j, slot, _, _, views = self._pending.pop(0)
            self._free.append(slot)
            out.append(NsgtSlice(j, j * self.slice_hop - self.slice_hop, views))


# -- streaming inverse -----------------------------------------------------------------

class SlicedInsgt:
    """Streaming inverse of :class:`SlicedNsgt`: slices in, reconstructed samples out.

    Parameters
    ----------
    transform : SlicedNsgt
        The forward transform (its configuration, channels and FFT backend are used).

    Attributes
    ----------
    latency_samples : int [samples]
        Round trip through :class:`SlicedNsgt` and this inverse: input sample ``t`` is
        returned at the latest by the call that feeds the slice the forward emits when
        its input count reaches ``t + latency_samples`` (``slice_hop + transition_length +
        spread_samples``). After slice ``j`` the output is final up to (excluding) sample
        ``j * slice_hop + slice_length/4 - transition_length/2``.
    causal : bool
    hop : int
        ``slice_hop`` samples per slice.

    Real-time notes
    ---------------
    Analysis thread. One FFT per band and one inverse real FFT of ``slice_length`` per slice,
    in float32 (complex64 coefficients) or float64 (complex128). The overlap-add buffer is
    allocated in ``__init__``; each call returns a new array.
    """

    causal = True

    def __init__(self, transform: SlicedNsgt):
        if not isinstance(transform, SlicedNsgt):
            raise ConfigError(f"transform={transform!r} must be a SlicedNsgt")
        self.config = cfg = transform.config
        self.channels = transform.channels
        self._k = _Kernel(cfg, self.channels, None, forward=False)
        self.slice_length = L = cfg.slice_length
        self.hop = self.slice_hop = L // 2
        self._sup0, self._sup1 = cfg.support
        self.latency_samples = int(L // 2 + cfg.transition_length + cfg.spread_samples)
        self._acc = np.zeros((self.channels, 2 * L))
        self.reset()

    def reset(self) -> None:
        self._acc.fill(0.0)
        self._base = -self.slice_length  # absolute sample of _acc[:, 0]
        self._emitted = 0
        self._next = 0

    def process(self, slices) -> tuple[np.ndarray, int]:
        """Feed slices (consecutive, from :meth:`SlicedNsgt.process`).

        Returns
        -------
        samples : ndarray [shape=(n, channels), dtype=float32]
        start_sample : int
            Stream index of ``samples[0]``.
        """
        start = self._emitted
        parts = []
        for s in slices:
            if s.index != self._next:
                raise ValueError(f"slice {s.index} out of order: expected slice {self._next}")
            self._next += 1
            a = s.start_sample - self._base
            self._acc[:, a: a + self.slice_length] += self._k.synthesise(s.coefficients)
            final = s.start_sample + self._sup0 + self.slice_hop  # next slice's support start
            parts.append(self._take(final))
        return self._join(parts), start

    def flush(self, n_samples: int | None = None) -> tuple[np.ndarray, int]:
        """Return the rest: up to the last slice's support end, or up to ``n_samples``."""
        start = self._emitted
        end = self._next * self.slice_hop - self.slice_hop + self._sup1 if n_samples is None else n_samples
        return self._join([self._take(end)]), start

    def _take(self, end: int) -> np.ndarray:
        end = max(end, self._emitted)
        a, b = self._emitted - self._base, end - self._base
        b = min(b, self._acc.shape[1])
        out = self._acc[:, a:b].T.astype(np.float32)
        self._emitted += out.shape[0]
        # Drop what is emitted: keep the buffer starting one slice before the output end.
        shift = self._emitted - self.slice_length - self._base
        if shift > 0:
            self._acc[:, : self._acc.shape[1] - shift] = self._acc[:, shift:]
            self._acc[:, self._acc.shape[1] - shift:] = 0.0
            self._base += shift
        return out

    def _join(self, parts) -> np.ndarray:
        if not parts:
            return np.zeros((0, self.channels), np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


# -- magnitudes on the hop grid --------------------------------------------------------

def _band_selection(cfg: NsgtConfig, edge_bands: bool) -> np.ndarray:
    n = len(cfg.widths_hz)
    return np.arange(n + 2) if edge_bands else np.arange(1, n + 1)


def _column_limit(M: np.ndarray, L: int, hop: int, j: int) -> int:
    """Columns ``k < limit`` are complete once slices ``0 .. j`` have arrived: band ``b``
    is complete below index ``j M_b / 2`` and column ``k`` reads index ``floor(k hop M_b /
    L) + 1``."""
    M = np.asarray(M, dtype=np.int64)
    num = (j * M // 2 - 1) * L
    return int(max(0, np.min(-(-num // (hop * M)))))


def nsgt_magnitude_batch(slices, hop_length: int, n_samples: int, edge_bands: bool = False,
                         **params) -> np.ndarray:
    """Hop-grid magnitudes from all slices of a stream: the reference of :class:`NsgtMagnitude`.

    Overlap-adds each band's complex coefficients over the whole stream (module docstring),
    then ``np.interp`` of ``|C_b|`` on the band's time grid ``m * slice_length / M_b`` at
    the times ``k * hop_length``, ``k = 0 .. n_samples // hop_length``.

    Returns
    -------
    mag : ndarray [shape=(channels, n_columns, n_bands), dtype=float32]
    """
    cfg = params.pop("config", None) or NsgtConfig(**params)
    hop = _check_int("hop_length", hop_length, 1)
    L = cfg.slice_length
    sel = _band_selection(cfg, edge_bands)
    C = slices[0].coefficients[0].shape[0] if slices else 1
    J = len(slices)
    # Columns to the stream's end, and any later ones the last slices already complete
    # (the streaming stage emits those before it learns where the stream ends).
    K = max(1 + n_samples // hop if n_samples > 0 else 0,
            _column_limit(cfg.coefficients_per_band[sel], L, hop, J - 1) if J else 0)
    t = np.arange(K) * hop
    out = np.zeros((C, K, len(sel)), np.float32)
    for i, b in enumerate(sel):
        bd = cfg.bands[b]
        M = bd.M
        # global index m = j M/2 - M/2 + n, stored at m + M/2
        Cb = np.zeros((C, (J + 4) * M // 2 + M), dtype=np.complex128)
        for s in slices:
            sign = -1.0 if (bd.kc * s.index) % 2 else 1.0
            o = s.index * M // 2
            Cb[:, o: o + M] += sign * s.coefficients[b]
        grid = (np.arange(Cb.shape[1]) - M // 2) * L / M
        for c in range(C):
            out[c, :, i] = np.interp(t, grid, np.abs(Cb[c]))
    return out


class NsgtMagnitude:
    """Slices in, magnitude spectrogram columns on the engine's hop grid out.

    Column ``k`` holds, for each band, ``|C_b|`` (the overlap-added slice coefficients,
    module docstring) linearly interpolated on that band's own time grid (coefficient ``m``
    at sample ``m * slice_length / M_b``) at sample ``k * hop_length``.

    Parameters
    ----------
    hop_length : int >= 1 [samples]
    transform : SlicedNsgt
        The transform whose slices are fed.
    edge_bands : bool
        Include the lowpass and highpass bands (columns 0 and -1); default: the scale's
        bands only.

    Attributes
    ----------
    freqs_hz : ndarray [shape=(n_bands,)] [Hz]
    delay_samples, latency_samples : int [samples]
        Worst case over columns of (sample count at which the forward transform emits the
        slice that completes column ``k``) minus ``k * hop_length``: column ``k`` is
        returned, at the latest, by the call fed from the input block that brings the
        stream to ``k * hop_length + delay_samples`` samples.
    hop : int
        ``hop_length``.
    causal : bool

    Real-time notes
    ---------------
    Analysis thread; on each slice, one vectorised overlap-add into a flat buffer of four
    half-slices per band (allocated in ``__init__``) and one gather for the new columns;
    returns a new array. Band ``b`` is complete up to time ``j * slice_hop`` after slice
    ``j``; a column needs the coefficient after it, hence the delay.
    """

    causal = True

    def __init__(self, hop_length: int = 512, transform: SlicedNsgt | None = None, *, edge_bands: bool = False):
        self.hop_length = self.hop = _check_int("hop_length", hop_length, 1)
        if transform is None:
            transform = SlicedNsgt()
        if not isinstance(transform, SlicedNsgt):
            raise ConfigError(f"transform={transform!r} must be a SlicedNsgt")
        cfg = self.config = transform.config
        self.channels = transform.channels
        self.edge_bands = bool(edge_bands)
        self._sel = _band_selection(cfg, self.edge_bands)
        self.freqs_hz = cfg.freqs_hz[self._sel]
        self.slice_length = cfg.slice_length
        M = cfg.coefficients_per_band
        self._M = M[self._sel].astype(np.int64)
        self._kc = np.array([b.kc for b in cfg.bands])
        # Window per band: global indices [(j-3) M/2, (j+1) M/2) after slice j: 2 M entries.
        win = 2 * M
        self._off = np.concatenate(([0], np.cumsum(win)))
        tot = int(self._off[-1])
        self._acc = np.zeros((self.channels, tot), np.complex128)
        # Shift by one half-slice per band: new[o + i] = old[o + i + M/2] (i < 3M/2), zeros after.
        keep = np.concatenate([np.arange(o, o + 3 * m // 2) for o, m in zip(self._off[:-1], M)])
        self._shift_dst = keep
        self._shift_src = np.concatenate([np.arange(o + m // 2, o + 2 * m) for o, m in zip(self._off[:-1], M)])
        self._zero_dst = np.concatenate([np.arange(o + 3 * m // 2, o + 2 * m) for o, m in zip(self._off[:-1], M)])
        # A slice's flat coefficients (concatenated bands) land at o + M .. o + 2M.
        self._add_dst = np.concatenate([np.arange(o + m, o + 2 * m) for o, m in zip(self._off[:-1], M)])
        odd = np.concatenate([np.full(m, kc % 2) for m, kc in zip(M, self._kc)]).astype(bool)
        self._sign_odd = np.where(odd, -1.0, 1.0)
        self._boff = self._off[:-1][self._sel].astype(np.int64)
        self._fwd_latency = transform.latency_samples
        self.delay_samples = self.latency_samples = self._worst_delay()
        self.reset()

    def reset(self) -> None:
        self._acc.fill(0.0)
        self._j = -1          # last slice added
        self._k = 0           # next column

    def _limit(self, j: int) -> int:
        return _column_limit(self._M, self.slice_length, self.hop_length, j)

    def _worst_delay(self) -> int:
        h = self.slice_length // 2
        j0 = 8
        k_lo, worst = self._limit(j0 - 1), 0
        for j in range(j0, j0 + 4):
            k_hi = self._limit(j)
            if k_hi > k_lo:
                worst = max(worst, j * h + self._fwd_latency - k_lo * self.hop_length)
            k_lo = max(k_lo, k_hi)
        return int(worst)

    def _add(self, coefs_flat, j: int) -> None:
        acc = self._acc
        acc[:, self._shift_dst] = acc[:, self._shift_src]
        acc[:, self._zero_dst] = 0.0
        if coefs_flat is not None:
            if j % 2:
                acc[:, self._add_dst] += coefs_flat * self._sign_odd
            else:
                acc[:, self._add_dst] += coefs_flat
        self._j = j

    def _columns(self, k_end: int) -> np.ndarray:
        k = np.arange(self._k, k_end, dtype=np.int64)
        if not len(k):
            return np.zeros((self.channels, 0, len(self._sel)), np.float32)
        L, M = self.slice_length, self._M
        num = k[:, None] * self.hop_length * M[None, :]
        m0 = num // L
        w = (num - m0 * L) / L
        base = (self._j - 3) * M // 2  # global index of each band's window start
        i0 = self._boff[None, :] + (m0 - base[None, :])
        a = np.abs(self._acc[:, i0])
        b = np.abs(self._acc[:, i0 + 1])
        self._k = k_end
        return ((1.0 - w) * a + w * b).astype(np.float32)

    def process(self, slices) -> np.ndarray:
        """Feed consecutive slices; return the completed columns.

        Returns
        -------
        mag : ndarray [shape=(channels, n_columns, n_bands), dtype=float32]
            Columns ``first_column .. first_column + n_columns - 1`` (``first_column`` is
            the attribute's value before the call).
        """
        self.first_column = self._k
        parts = []
        for s in slices:
            if s.index != self._j + 1:
                raise ValueError(f"slice {s.index} out of order: expected slice {self._j + 1}")
            flat = np.concatenate(s.coefficients, axis=1) if len(s.coefficients) > 1 else s.coefficients[0]
            self._add(flat, s.index)
            parts.append(self._columns(max(self._k, self._limit(s.index))))
        if not parts:
            return np.zeros((self.channels, 0, len(self._sel)), np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def flush(self, n_samples: int) -> np.ndarray:
        """End of stream of ``n_samples`` samples: emit the columns up to ``n_samples //
        hop_length`` (later slices count as zeros)."""
        self.first_column = self._k
        K = 1 + n_samples // self.hop_length if n_samples > 0 else 0
        parts = []
        while self._k < K:
            self._add(None, self._j + 1)
            parts.append(self._columns(min(K, max(self._k, self._limit(self._j)))))
        if not parts:
            return np.zeros((self.channels, 0, len(self._sel)), np.float32)
        return np.concatenate(parts, axis=1)

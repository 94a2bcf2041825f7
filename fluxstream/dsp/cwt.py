"""Online continuous wavelet transform (CWT) sampled at the engine's hop.

The engine hands a frame-based stage unwindowed frames ``(channels, n_frames,
frame_length)`` centred on samples ``k * hop_length``; :class:`Cwt` returns, per frame, the
CWT at the frame's centre sample (index ``frame_length // 2`` of the frame) for
``n_scales`` scales: ``(channels, n_frames, n_scales)`` magnitudes (float32) or complex
values (complex64). :func:`cwt_batch` is the whole-signal reference (FFT convolution over
the full, zero-padded signal, sampled at ``k * hop_length``); both compute the same sum.

Map
---
wavelets            :class:`Morlet`, :class:`Morse` (generalized Morse), :class:`Bump`,
                    :class:`Paul`, :class:`DoG` (derivative of Gaussian; ``m=2`` is the
                    Mexican hat / Ricker); :func:`wavelet` builds one by name from
                    :data:`WAVELETS`
scales              :func:`cwt_frequencies` (centre frequencies on any fluxstream scale),
                    :func:`frequencies_to_scales`
kernels             :func:`wavelet_kernel` (the sampled wavelet at one scale, built in the
                    frequency domain), :func:`cwt_frames` (the pure frame kernel)
batch / online      :func:`cwt_batch`, :class:`Cwt`

Definitions
-----------
A wavelet is given by its Fourier transform ``psi_hat(omega)`` (``omega`` in radians per
sample at scale 1; ``psi_hat(omega) = integral psi(t) exp(-i omega t) dt``). At scale ``s``
(samples) the discrete kernel is the *sampled* continuous wavelet

    h_s[n] = psi(n / s) / s                      (normalization="l1")
    h_s[n] = psi(n / s) / (sqrt(s) ||psi||_2)    (normalization="l2", unit energy)

and the transform at time ``b`` (samples) is the correlation

    W(b, s) = sum_n x[n] conj(h_s[n - b]).

``h_s`` is computed from ``psi_hat`` by Poisson summation: its DTFT is
``sum_p psi_hat(s (omega + 2 pi p))`` (times ``sqrt(s) / ||psi||_2`` for "l2"), inverted by
an FFT. Amplitudes: ``max |psi_hat| = 2`` for the complex (analytic) wavelets and 1 for the
real ones, so with "l1" a unit-amplitude sinusoid at a scale's peak frequency gives
``|W| = 1`` at that scale (real wavelets: ``W`` oscillates between -1 and 1). "l2" keeps
``sum_n |h_s[n]|^2 = 1`` at every scale (PyWavelets' convention).

Scales are placed by frequency: a wavelet's ``peak_frequency`` is the frequency (cycles
per sample) where ``|psi_hat|`` peaks at scale 1, so the scale for ``f_hz`` is
``peak_frequency * sample_rate / f_hz``.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import scipy.fft
import scipy.special

from ..errors import ConfigError
from ._checks import as_signal
from ._checks import check_int as _check_int
from ._checks import check_positive as _check_positive
from .scales import SCALES, hz_to_scale, scale_to_hz

__all__ = [
    "WAVELETS",
    "SUPPORT_FRACTION",
    "MAX_FRAME_LENGTH",
    "Wavelet",
    "Morlet",
    "Morse",
    "Bump",
    "Paul",
    "DoG",
    "wavelet",
    "cwt_frequencies",
    "frequencies_to_scales",
    "wavelet_kernel",
    "cwt_frames",
    "cwt_batch",
    "Cwt",
    "CwtTruncationWarning",
]

#: The effective support of a wavelet ends where its envelope ``|psi(t)|`` falls below this
#: fraction of its maximum for good. For a Gaussian envelope that is 4.8 standard
#: deviations, and the L1 mass of the tail beyond is ~1.6e-6 of the whole: dropping it
#: changes W by about float32 round-off.
SUPPORT_FRACTION = 1e-5
#: Largest default ``frame_length`` (samples); longer kernels are truncated to it (with a
#: :class:`CwtTruncationWarning`).
MAX_FRAME_LENGTH = 2**16
#: ``psi_hat`` below this fraction of its peak counts as zero when locating its band.
_BAND_FRACTION = 1e-14
#: Scales grouped into one dense kernel block have half-supports within this ratio.
_GROUP_RATIO = 1.5
#: Frames (times channels) per internal block of :meth:`Cwt.process`.
_BLOCK_FRAMES = 256


class CwtTruncationWarning(UserWarning):
    """A wavelet's effective support is longer than the frame: its kernel is truncated."""


# -- validation ------------------------------------------------------------------------

def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not valid; allowed: {', '.join(map(repr, allowed))}")
    return value


# -- wavelets --------------------------------------------------------------------------

class Wavelet:
    """Base of the wavelets: a frequency-domain definition plus derived constants.

    Subclasses define :meth:`_psi_hat_raw` (unnormalized, ``omega`` in rad/sample at scale
    1), the peak ``omega`` and the band where ``psi_hat`` is non-negligible, and optionally
    a closed-form :meth:`_psi_raw`. The base normalizes the peak to 2 (complex wavelets)
    or 1 (real ones) and computes the energy norm and the support.

    Attributes
    ----------
    name : str
    params : dict
    is_real : bool
        ``psi(t)`` is real (``psi_hat`` Hermitian): the CWT is real.
    peak_omega : float [rad/sample at scale 1]
    peak_frequency : float [cycles/sample at scale 1]
        ``peak_omega / (2 pi)``.
    band : tuple of float [rad/sample at scale 1]
        ``psi_hat`` is below ``1e-14`` of its peak outside ``band``.
    norm_l2 : float
        ``||psi||_2 = sqrt(integral |psi(t)|^2 dt)``.
    half_support : float [samples at scale 1]
        ``|psi(t)| < SUPPORT_FRACTION * max |psi|`` for ``|t| > half_support``.
    """

    name = ""
    is_real = False

    def __init__(self, **params):
        self.params = params
        self._amp = 1.0
        raw_peak = abs(complex(self._psi_hat_raw(np.array([self.peak_omega]))[0]))
        self._amp = (1.0 if self.is_real else 2.0) / raw_peak
        self.peak_frequency = self.peak_omega / (2 * np.pi)
        lo, hi = self.band
        w = np.linspace(lo, hi, 1 << 16)
        self.norm_l2 = float(np.sqrt(np.sum(np.abs(self.psi_hat(w)) ** 2) * (w[1] - w[0]) / (2 * np.pi)))
        self.half_support = self._find_half_support()

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"wavelet({self.name!r}, {args})"

    # subclass hooks
    peak_omega = 1.0
    band = (0.0, 1.0)

    def _psi_hat_raw(self, w):  # pragma: no cover - abstract
        raise NotImplementedError

    _psi_raw = None  # closed-form psi(t) without the normalization, if any

    def psi_hat(self, omega):
        """Fourier transform of the wavelet at scale 1.

        Parameters
        ----------
        omega : float or ndarray [shape=(...)] [rad/sample]

        Returns
        -------
        psi_hat : ndarray [shape=(...), dtype=complex128 or float64]
            Peak magnitude 2 (complex wavelets) or 1 (real wavelets).
        """
        w = np.asarray(omega, dtype=np.float64)
        return self._amp * self._psi_hat_raw(w)

    def psi(self, t):
        """The wavelet in time at scale 1: ``(1/2 pi) integral psi_hat(w) exp(i w t) dw``.

        Parameters
        ----------
        t : float or ndarray [shape=(...)] [samples at scale 1]

        Returns
        -------
        psi : ndarray [shape=(...), dtype=complex128 (float64 when real)]
            Closed form where one exists (Morlet, Paul, DoG), otherwise the integral by the
            trapezoid rule over :attr:`band` (16384 points; accurate to ~1e-10 of the peak
            for ``|t| < 1000``).
        """
        t = np.asarray(t, dtype=np.float64)
        if self._psi_raw is not None:
            y = self._amp * self._psi_raw(t)
        else:
            lo, hi = self.band
            w = np.linspace(lo, hi, 1 << 14)
            dw = w[1] - w[0]
            ph = self.psi_hat(w) * (dw / (2 * np.pi))
            flat = t.reshape(-1)
            y = np.empty(flat.shape, dtype=np.complex128)
            for i in range(0, flat.size, 256):  # bounded temporaries
                y[i:i + 256] = np.exp(1j * np.outer(flat[i:i + 256], w)) @ ph
            y = y.reshape(t.shape)
        return y.real if self.is_real else y

    def _find_half_support(self) -> float:
        # |psi| on a uniform grid by one inverse FFT of psi_hat (exact up to the grid's
        # periodization), doubling the time span until the envelope has fallen below the
        # threshold over the outer half.
        lo, hi = self.band
        span = 64.0
        while True:
            dw = 2 * np.pi / span
            m = 1 << int(math.ceil(math.log2(2 * max(abs(lo), abs(hi), np.pi) / dw + 8)))
            k = np.fft.fftfreq(m, 1.0 / m)
            spec = self.psi_hat(k * dw)
            y = np.abs(np.fft.ifft(spec)) * m * dw / (2 * np.pi)
            t = np.fft.fftfreq(m, 1.0 / m) * (span / m)
            level = SUPPORT_FRACTION * y.max()
            T = float(np.abs(t[y >= level]).max())
            if T + span / m < span / 4 or span >= 2.0**20:
                break
            span *= 4
        # Refine the last crossing (on the side where it lies) by bisection on psi itself.
        a, b = T, T + span / m
        side = 1.0 if np.interp(T, t[t >= 0], y[t >= 0]) >= level * 0.999 else -1.0
        for _ in range(30):
            mid = 0.5 * (a + b)
            if abs(complex(self.psi(np.array([side * mid]))[0])) >= level:
                a = mid
            else:
                b = mid
        return b

    def support(self, scale) -> np.ndarray:
        """Effective support (samples) at ``scale``: ``2 * ceil(half_support * scale) + 1``.

        Outside it the envelope ``|psi(t / scale)|`` stays below :data:`SUPPORT_FRACTION`
        of its maximum.

        Parameters
        ----------
        scale : float or ndarray [shape=(...)] [samples], > 0

        Returns
        -------
        support : int64 or ndarray [shape=(...), dtype=int64] [samples], odd
        """
        s = np.asarray(scale, dtype=np.float64)
        out = 2 * np.ceil(self.half_support * s).astype(np.int64) + 1
        return out[()] if out.ndim == 0 else out


class Morlet(Wavelet):
    """Morlet wavelet with the admissibility correction term (Morlet 1982; Torrence &
    Compo 1998; the form ssqueezepy uses).

    ``psi_hat(w) = c (exp(-(w - omega0)^2 / 2) - exp(-omega0^2 / 2) exp(-w^2 / 2))``,
    ``psi(t) = c / sqrt(2 pi) (exp(i omega0 t) - exp(-omega0^2 / 2)) exp(-t^2 / 2)``: zero
    mean exactly; not strictly analytic (a negative-frequency lobe below
    ``exp(-omega0^2/2)``, 1.5e-8 of the peak at ``omega0 = 6``). The peak lies slightly
    above ``omega0`` (found numerically).

    Parameters
    ----------
    omega0 : float > 0 [rad/sample at scale 1]
        Centre frequency; 6 by default (5 is PyWavelets' "morl").
    """

    name = "morlet"

    def __init__(self, omega0: float = 6.0):
        self.omega0 = _check_positive("omega0", omega0, "rad per unit time, Morlet centre frequency")
        self._kappa = math.exp(-0.5 * self.omega0**2)
        # The correction shifts the peak above omega0 by ~ omega0 exp(-omega0^2/2)...; refine
        # numerically (golden section on a bracket around omega0).
        import scipy.optimize

        res = scipy.optimize.minimize_scalar(lambda w: -self._psi_hat_raw(np.array([w]))[0],
                                             bounds=(0.5 * self.omega0, self.omega0 + 3.0),
                                             method="bounded", options={"xatol": 1e-12})
        self.peak_omega = float(res.x)
        width = 8.0 + math.sqrt(2 * math.log(1 / _BAND_FRACTION))
        self.band = (-width, self.omega0 + width)
        super().__init__(omega0=self.omega0)

    def _psi_hat_raw(self, w):
        return np.exp(-0.5 * (w - self.omega0) ** 2) - self._kappa * np.exp(-0.5 * w**2)

    def _psi_raw(self, t):
        return (np.exp(1j * self.omega0 * t) - self._kappa) * np.exp(-0.5 * t**2) / math.sqrt(2 * np.pi)


class Morse(Wavelet):
    """Generalized Morse wavelet, order 0 (Olhede & Walden 2002; Lilly & Olhede 2012).

    ``psi_hat(w) = 2 (w / wc)^beta exp(wc^gamma - w^gamma)`` for ``w > 0``, 0 otherwise,
    with peak ``wc = (beta / gamma)^(1 / gamma)``: ssqueezepy's ``gmw`` with
    ``norm='bandpass'``. Analytic. ``psi(t)`` is computed numerically.

    Parameters
    ----------
    gamma : float > 0
        Symmetry (3: the Airy family, nearly symmetric in time and frequency).
    beta : float > 0
        Decay / number of oscillations (time-bandwidth product ``P^2 = beta gamma``).
    """

    name = "morse"

    def __init__(self, gamma: float = 3.0, beta: float = 60.0):
        self.gamma = _check_positive("gamma", gamma, "Morse symmetry parameter")
        self.beta = _check_positive("beta", beta, "Morse decay parameter")
        wc = (self.beta / self.gamma) ** (1.0 / self.gamma)
        self.peak_omega = wc
        # Band: log psi_hat = beta log(w/wc) + wc^g - w^g >= log(1e-14), on a scan grid.
        w = np.linspace(1e-9, wc * 50 + 50, 400001)
        lg = self.beta * np.log(w / wc) + wc**self.gamma - w**self.gamma
        ok = w[lg >= math.log(_BAND_FRACTION)]
        self.band = (0.0, float(ok.max()) * 1.01)
        super().__init__(gamma=self.gamma, beta=self.beta)

    def _psi_hat_raw(self, w):
        pos = w > 0
        ws = np.where(pos, w, 1.0)
        wc = self.peak_omega
        lg = self.beta * np.log(ws / wc) + wc**self.gamma - ws**self.gamma
        return np.where(pos, np.exp(np.minimum(lg, 700.0)), 0.0)


class Bump(Wavelet):
    """Bump wavelet (as MATLAB's and ssqueezepy's ``bump``).

    ``psi_hat(w) = 2 exp(1 - 1 / (1 - x^2))`` for ``|x| < 1``, ``x = (w - mu) / s``, 0
    otherwise: compact in frequency on ``(mu - s, mu + s)``, peak at ``mu``. Analytic
    (``s <= mu`` is required). ``psi(t)`` is computed numerically; it decays slower than a
    Gaussian (its support at scale 1 is ~30 for ``mu=5, s=1``).

    Parameters
    ----------
    mu : float > 0 [rad/sample at scale 1]
        Centre frequency.
    s : float, 0 < s <= mu [rad/sample at scale 1]
        Half-width of the frequency support.
    """

    name = "bump"

    def __init__(self, mu: float = 5.0, s: float = 1.0):
        self.mu = _check_positive("mu", mu, "rad per unit time, bump centre frequency")
        self.s = _check_positive("s", s, "rad per unit time, bump half-width")
        if self.s > self.mu:
            raise ConfigError(f"s={s!r} must be <= mu={mu!r} (rad per unit time) so that the "
                              "bump wavelet has no negative frequencies")
        self.peak_omega = self.mu
        self.band = (self.mu - self.s, self.mu + self.s)
        super().__init__(mu=self.mu, s=self.s)

    def _psi_hat_raw(self, w):
        x = (w - self.mu) / self.s
        inside = np.abs(x) < 1.0
        xs = np.where(inside, x, 0.0)
        return np.where(inside, np.exp(1.0 - 1.0 / (1.0 - xs**2)), 0.0)


class Paul(Wavelet):
    """Paul wavelet of order m (Torrence & Compo 1998).

    ``psi_hat(w) = c w^m exp(-w)`` for ``w > 0``, 0 otherwise (analytic, peak at ``w = m``),
    ``psi(t) = c m! / (2 pi (1 - i t)^(m + 1))``: a power-law decay ``|t|^-(m+1)``, so its
    support is long (~20 at scale 1 for ``m = 4``). Broadband: at the small scales near
    Nyquist its sampled kernel aliases (a tone at 0.3 ``sample_rate`` peaks one scale too
    high with 24 scales over 100-3000 Hz at 8 kHz); keep ``fmax_hz`` below about
    ``sample_rate / 4``.

    Parameters
    ----------
    m : int >= 1
        Order.
    """

    name = "paul"

    def __init__(self, m: int = 4):
        self.m = _check_int("m", m, 1, "Paul wavelet order")
        self.peak_omega = float(self.m)
        # w^m e^-w / (m^m e^-m) >= 1e-14: scan.
        w = np.linspace(0.0, 200.0 + 20 * self.m, 200001)[1:]
        lg = self.m * np.log(w / self.m) - w + self.m
        self.band = (0.0, float(w[lg >= math.log(_BAND_FRACTION)].max()) * 1.01)
        super().__init__(m=self.m)

    def _psi_hat_raw(self, w):
        pos = w > 0
        ws = np.where(pos, w, 0.0)
        return np.where(pos, ws**self.m * np.exp(-ws), 0.0)

    def _psi_raw(self, t):
        return math.factorial(self.m) / (2 * np.pi) * (1.0 - 1j * t) ** (-(self.m + 1))


class DoG(Wavelet):
    """Derivative of Gaussian of order m, real-valued; ``m=2`` is the Mexican hat (Ricker).

    ``psi(t) = -c / sqrt(2 pi) He_m(t) exp(-t^2 / 2)`` (``He_m``: probabilists' Hermite
    polynomial; ``(-1)^(m+1) d^m/dt^m exp(-t^2/2)`` up to ``c``), so ``m=2`` gives
    ``(1 - t^2) exp(-t^2/2)`` (positive peak), PyWavelets' "mexh" up to its constant;
    ``psi_hat(w) = c (-1)^(m+1) (i w)^m exp(-w^2 / 2)``, peak magnitude at ``|w| = sqrt(m)``.

    Parameters
    ----------
    m : int >= 1
        Order of the derivative.
    """

    name = "dog"
    is_real = True

    def __init__(self, m: int = 2):
        self.m = _check_int("m", m, 1, "derivative-of-Gaussian order")
        self.peak_omega = math.sqrt(self.m)
        w = np.linspace(0.0, 100.0, 100001)[1:]
        lg = self.m * np.log(w / self.peak_omega) - 0.5 * (w**2 - self.m)
        hi = float(w[lg >= math.log(_BAND_FRACTION)].max()) * 1.01
        self.band = (-hi, hi)
        super().__init__(m=self.m)

    def _psi_hat_raw(self, w):
        return (-1.0) ** (self.m + 1) * (1j * w) ** self.m * np.exp(-0.5 * w**2)

    def _psi_raw(self, t):
        he = np.polynomial.hermite_e.hermeval(t, [0.0] * self.m + [1.0])
        return (-he * np.exp(-0.5 * t**2) / math.sqrt(2 * np.pi)).astype(np.complex128)


#: Wavelet names understood by :func:`wavelet`, with their classes. "mexh" and "ricker"
#: are :class:`DoG` with ``m=2``; "gmw" is :class:`Morse`.
WAVELETS = {"morlet": Morlet, "morse": Morse, "gmw": Morse, "bump": Bump, "paul": Paul,
            "dog": DoG, "mexh": DoG, "ricker": DoG}
_FIXED = {"mexh": {"m": 2}, "ricker": {"m": 2}}


@functools.lru_cache(maxsize=32)
def _wavelet_cached(name, items):
    return WAVELETS[name](**dict(items))


def wavelet(name: str = "morlet", **params) -> Wavelet:
    """A wavelet by name: ``wavelet("morlet", omega0=6)``, ``wavelet("morse", gamma=3,
    beta=60)``, ``wavelet("bump", mu=5, s=1)``, ``wavelet("paul", m=4)``, ``wavelet("dog",
    m=2)`` (= ``"mexh"`` = ``"ricker"``).

    Objects are immutable and cached per (name, parameters).

    Raises
    ------
    ConfigError
        Unknown name (the message lists :data:`WAVELETS`), unknown or out-of-range parameter.
    """
    if not isinstance(name, str) or name.lower() not in WAVELETS:
        raise ConfigError(f"wavelet={name!r} is not a wavelet; allowed: {', '.join(WAVELETS)}")
    name = name.lower()
    cls = WAVELETS[name]
    import inspect

    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    fixed = _FIXED.get(name, {})
    for k in params:
        if k not in valid or k in fixed:
            allowed = [p for p in valid if p not in fixed]
            raise ConfigError(f"{k}={params[k]!r} is not a parameter of wavelet {name!r}; "
                              f"allowed: {', '.join(allowed) if allowed else '(none)'}")
    merged = {**params, **fixed}
    try:
        return _wavelet_cached(name, tuple(sorted(merged.items())))
    except TypeError:  # unhashable parameter value: validate without caching
        return cls(**merged)


# -- scales ----------------------------------------------------------------------------

def cwt_frequencies(n_scales: int, fmin_hz: float, fmax_hz: float, scale: str = "log", *,
                    sample_rate: float) -> np.ndarray:
    """Centre frequencies uniformly spaced on a frequency scale, **low to high**.

    Parameters
    ----------
    n_scales : int >= 1
    fmin_hz, fmax_hz : float [Hz], 0 < fmin_hz < fmax_hz <= sample_rate / 2
        Included end points (``n_scales = 1`` gives ``[fmin_hz]``; then ``fmax_hz`` may
        equal ``fmin_hz``).
    scale : str
        One of ``fluxstream.dsp.scales.SCALES``: "linear", "mel", "bark", "erb", "octave",
        "log" (equal ratios: constant Q).
    sample_rate : float > 0 [Hz]

    Returns
    -------
    freqs_hz : ndarray [shape=(n_scales,), dtype=float64] [Hz], ascending
        The same ascending order as the engine's spectra and filterbanks (so scales
        *descend*: PyWavelets and ssqueezepy list scales ascending, frequencies descending).
    """
    sr = _check_positive("sample_rate", sample_rate, "Hz")
    n = _check_int("n_scales", n_scales, 1, "scales")
    fmin = _check_positive("fmin_hz", fmin_hz, "Hz")
    fmax = _check_positive("fmax_hz", fmax_hz, "Hz")
    _check_choice("scale", scale, SCALES)
    if fmin > sr / 2:
        raise ConfigError(f"fmin_hz={fmin_hz!r} must be <= sample_rate/2 = {sr / 2:g} (the Nyquist "
                          f"frequency at sample_rate={sample_rate!r}) (Hz)")
    if fmax > sr / 2:
        raise ConfigError(f"fmax_hz={fmax_hz!r} must be <= sample_rate/2 = {sr / 2:g} (the Nyquist "
                          f"frequency at sample_rate={sample_rate!r}) (Hz)")
    if n == 1:
        if fmax < fmin:
            raise ConfigError(f"fmin_hz={fmin_hz!r} must be <= fmax_hz={fmax_hz!r} (Hz)")
        return np.array([fmin])
    if not fmin < fmax:
        raise ConfigError(f"fmin_hz={fmin_hz!r} must be < fmax_hz={fmax_hz!r} (Hz) when n_scales > 1")
    lo, hi = hz_to_scale(np.array([fmin, fmax]), scale)
    f = np.asarray(scale_to_hz(np.linspace(lo, hi, n), scale), dtype=np.float64)
    f[0], f[-1] = fmin, fmax  # exact end points despite the round trip
    return f


def frequencies_to_scales(freqs_hz, wav: Wavelet, sample_rate: float) -> np.ndarray:
    """Scales (samples) whose peak frequency is ``freqs_hz``: ``peak_frequency * sr / f``."""
    return wav.peak_frequency * float(sample_rate) / np.asarray(freqs_hz, dtype=np.float64)


# -- kernels ---------------------------------------------------------------------------

def _kernel_spectrum(wav: Wavelet, s: float, n_fft: int, normalization: str) -> np.ndarray:
    """DFT (``n_fft`` points, complex128) of the ``n_fft``-periodized sampled kernel
    ``h_s[n]``, by Poisson summation over the aliases of ``psi_hat(s w)``."""
    w = 2 * np.pi * np.fft.fftfreq(n_fft)  # [-pi, pi)
    lo, hi = wav.band
    p_lo = math.floor((lo / s - np.pi) / (2 * np.pi))
    p_hi = math.ceil((hi / s + np.pi) / (2 * np.pi))
    H = np.zeros(n_fft, dtype=np.complex128)
    for p in range(p_lo, p_hi + 1):
        H += wav.psi_hat(s * (w + 2 * np.pi * p))
    if normalization == "l2":
        H *= math.sqrt(s) / wav.norm_l2
    return H


def wavelet_kernel(wav: Wavelet, scale: float, half_length: int, normalization: str = "l1"):
    """The sampled wavelet ``h_s[n]`` for ``n = -half_length .. half_length``.

    Parameters
    ----------
    wav : Wavelet
    scale : float > 0 [samples]
    half_length : int >= 0 [samples]
    normalization : {"l1", "l2"}

    Returns
    -------
    taps : ndarray [shape=(2 * half_length + 1,), dtype=complex128]
        ``taps[half_length + n] = h_s[n]``: ``psi(n / s) / s`` ("l1") or
        ``psi(n / s) / (sqrt(s) ||psi||_2)`` ("l2"), computed from ``psi_hat`` by Poisson
        summation and an inverse FFT long enough (4x the support, at least
        ``4 * half_length``) for the periodization to be negligible.
    tail : float
        ``sum |h_s[n]|`` over the ``n`` outside the returned range (on that FFT grid): the
        bound on ``|delta W| / max|x|`` when the kernel is truncated to it.
    """
    L = int(half_length)
    need = max(4 * int(wav.support(scale)), 4 * (2 * L + 1), 64)
    n_fft = int(scipy.fft.next_fast_len(need))
    h = scipy.fft.ifft(_kernel_spectrum(wav, scale, n_fft, normalization))
    idx = np.arange(-L, L + 1) % n_fft
    taps = h[idx]
    tail = float(np.abs(h).sum() - np.abs(taps).sum())
    return taps, max(tail, 0.0)


def cwt_frames(frames: np.ndarray, blocks) -> np.ndarray:
    """The frame kernel: ``W[..., j] = sum_i frames[..., i] conj(h_j[i - c])``.

    Parameters
    ----------
    frames : ndarray [shape=(rows, frame_length), dtype=float32]
    blocks : sequence of (lo, hi, K, cols)
        Dense kernel blocks: ``K`` [shape=(hi - lo, m), float32] acts on frame samples
        ``lo:hi`` and its ``m`` output columns land at ``cols`` of the result.

    Returns
    -------
    y : ndarray [shape=(rows, n_cols), dtype=float32]
        For complex wavelets the columns are ``[Re W (n_scales), Im W (n_scales)]``.
    """
    n_cols = sum(len(b[3]) for b in blocks)
    y = np.empty((frames.shape[0], n_cols), dtype=np.float32)
    for lo, hi, K, cols in blocks:
        y[:, cols] = frames[:, lo:hi] @ K
    return y


def _frame_blocks(kernels, frame_length: int, is_real: bool):
    """Group scales (``kernels``: list of (taps, L) per scale) into dense blocks over their
    support within the frame; consecutive scales whose half-supports lie within
    :data:`_GROUP_RATIO` share a block."""
    N = frame_length
    c = N // 2
    S = len(kernels)
    order = sorted(range(S), key=lambda j: -kernels[j][1])
    groups, cur = [], []
    for j in order:
        if cur and kernels[j][1] * _GROUP_RATIO < kernels[cur[0]][1]:
            groups.append(cur)
            cur = []
        cur.append(j)
    if cur:
        groups.append(cur)
    blocks = []
    for g in groups:
        L = kernels[g[0]][1]
        lo, hi = c - L, c + L + 1
        m = len(g) if is_real else 2 * len(g)
        K = np.zeros((hi - lo, m), dtype=np.float64)
        cols = []
        for q, j in enumerate(g):
            taps, Lj = kernels[j]
            # W = sum_i x[i] conj(h[i - c]) = sum x Re(h) - i sum x Im(h)
            K[L - Lj: L + Lj + 1, q] = taps.real
            cols.append(j)
            if not is_real:
                K[L - Lj: L + Lj + 1, len(g) + q] = -taps.imag
        if not is_real:
            cols = cols + [S + j for j in g]
        blocks.append((lo, hi, np.ascontiguousarray(K, dtype=np.float32), np.array(cols)))
    return blocks


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


class _Config:
    """Validated parameters shared by :class:`Cwt` and :func:`cwt_batch`."""

    def __init__(self, sample_rate, wavelet_name, n_scales, fmin_hz, fmax_hz, scale, output,
                 normalization, wavelet_params):
        self.sample_rate = _check_positive("sample_rate", sample_rate, "Hz")
        self.wavelet = wavelet(wavelet_name, **wavelet_params)
        self.n_scales = _check_int("n_scales", n_scales, 1, "scales")
        self.freqs_hz = cwt_frequencies(n_scales, fmin_hz, fmax_hz, scale, sample_rate=self.sample_rate)
        self.fmin_hz, self.fmax_hz, self.scale = float(fmin_hz), float(fmax_hz), scale
        self.output = _check_choice("output", output, ("magnitude", "complex"))
        self.normalization = _check_choice("normalization", normalization, ("l1", "l2"))
        self.scales = frequencies_to_scales(self.freqs_hz, self.wavelet, self.sample_rate)
        self.support_samples = np.asarray(self.wavelet.support(self.scales), dtype=np.int64)


def _finish(re_im: np.ndarray, S: int, output: str, is_real: bool) -> np.ndarray:
    if is_real:
        re = re_im[..., :S]
        return np.abs(re).astype(np.float32) if output == "magnitude" else re.astype(np.complex64)
    if output == "magnitude":
        return np.hypot(re_im[..., :S], re_im[..., S:]).astype(np.float32)
    out = np.empty(re_im.shape[:-1] + (S,), dtype=np.complex64)
    out.real = re_im[..., :S]
    out.imag = re_im[..., S:]
    return out


def cwt_batch(x, sample_rate: float, hop_length: int, *, wavelet: str = "morlet", n_scales: int = 64,
              fmin_hz: float = 50.0, fmax_hz: float = 8000.0, scale: str = "log",
              output: str = "magnitude", normalization: str = "l1", **wavelet_params) -> np.ndarray:
    """Whole-signal CWT by FFT convolution, sampled at ``k * hop_length``: the reference.

    Parameters
    ----------
    x : ndarray [shape=(n_samples,) or (n_samples, channels)]
    sample_rate : float > 0 [Hz]
    hop_length : int >= 1 [samples]
    wavelet, n_scales, fmin_hz, fmax_hz, scale, output, normalization, **wavelet_params
        As :class:`Cwt`.

    Returns
    -------
    W : ndarray [shape=(channels, n_frames, n_scales), dtype=float32 or complex64]
        ``n_frames = 1 + n_samples // hop_length`` (the engine's centred frame count for an
        even ``frame_length``); frame ``k`` is the CWT at sample ``k * hop_length`` with zeros
        outside the signal. Scales ascend in frequency.

    Notes
    -----
    Computed in float64: the signal is zero-padded to ``n_fft >= n_samples + support`` (no
    wrap-around), and each scale's kernel spectrum is the Poisson sum of ``psi_hat(s (w +
    2 pi p))`` on that grid, i.e. the untruncated sampled kernel. Memory: one complex128
    row of ``n_fft`` per scale at a time.
    """
    cfg = _Config(sample_rate, wavelet, n_scales, fmin_hz, fmax_hz, scale, output, normalization,
                  wavelet_params)
    hop = _check_int("hop_length", hop_length, 1, "samples")
    a = as_signal(x, np.float64)
    n, C = a.shape
    n_frames = 1 + n // hop
    wav = cfg.wavelet
    n_fft = int(scipy.fft.next_fast_len(n + hop + 2 * int(cfg.support_samples.max()) + 1))
    X = scipy.fft.fft(a.T, n=n_fft, axis=-1)
    times = np.arange(n_frames) * hop
    S = cfg.n_scales
    W = np.empty((C, n_frames, S), dtype=np.complex128)
    for j, s in enumerate(cfg.scales):
        H = _kernel_spectrum(wav, float(s), n_fft, cfg.normalization)
        w = scipy.fft.ifft(X * np.conj(H), axis=-1)
        W[:, :, j] = w[:, times]
    re_im = np.concatenate([W.real, W.imag], axis=-1)
    return _finish(re_im, S, cfg.output, wav.is_real)


class Cwt:
    """Online CWT: per frame, the wavelet transform at the frame's centre sample.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    wavelet : str
        A name from :data:`WAVELETS` ("morlet", "morse"/"gmw", "bump", "paul",
        "dog"/"mexh"/"ricker"); its parameters go in ``**wavelet_params`` (``omega0``;
        ``gamma``, ``beta``; ``mu``, ``s``; ``m``).
    n_scales : int >= 1
    fmin_hz, fmax_hz : float [Hz], 0 < fmin_hz < fmax_hz <= sample_rate / 2
        Peak frequencies of the lowest and highest scale.
    scale : str
        Frequency scale the centre frequencies are uniform on (:func:`cwt_frequencies`).
    frame_length : int >= 1 or None [samples]
        None: the smallest power of two holding the longest support, capped at
        :data:`MAX_FRAME_LENGTH` (2**16). A frame shorter than a scale's support is allowed:
        that kernel is truncated to the frame, :attr:`truncated` flags it, and a
        :class:`CwtTruncationWarning` names the frame length needed (a warning, not an error:
        the error is bounded, :attr:`truncation_error`, and small for most signals).
    output : {"magnitude", "complex"}
        ``|W|`` as float32, or ``W`` as complex64 (real-valued for the DoG wavelets).
    normalization : {"l1", "l2"}
        See the module docstring.

    Attributes
    ----------
    freqs_hz : ndarray [shape=(n_scales,)] [Hz], ascending
    scales : ndarray [shape=(n_scales,)] [samples], descending
    support_samples : ndarray [shape=(n_scales,), int64] [samples]
        Effective support of each scale's wavelet (:meth:`Wavelet.support`).
    truncated : ndarray [shape=(n_scales,), bool]
        The support exceeds the frame: the kernel is cut to the frame.
    truncation_error : ndarray [shape=(n_scales,), float64]
        ``sum |h_s[n]|`` over the taps dropped (beyond the support, or the frame when
        truncated): ``|W_frame - W_batch| <= truncation_error * max|x|`` over the taps'
        span. About 1e-6 of ``sum |h_s|`` for untruncated scales.
    scale_latency_samples : ndarray [shape=(n_scales,), int64] [samples]
        Half the support used per scale: W at sample ``b`` needs input up to
        ``b + scale_latency_samples``.
    latency_samples : int [samples]
        ``max(scale_latency_samples)``.
    frame_length : int [samples]

    Notes
    -----
    ``W(b, s) = sum_n x[n] conj(h_s[n - b])`` with ``b`` the frame's centre sample (frame
    index ``frame_length // 2``). The kernels are sampled wavelets (module docstring),
    computed once in ``__init__`` and cut to ``[-L_s, L_s]``, ``L_s = min(support_s // 2,
    frame_length - frame_length // 2 - 1, frame_length // 2)``. Scales are grouped by
    support and each group applied as one dense float32 matrix over its own span of the
    frame: direct time-domain kernels restricted to each scale's support (the work per
    frame is about ``2 sum_s support_s`` multiply-adds, not ``2 n_scales frame_length``).
    Equals :func:`cwt_batch` to float32 round-off (about 1e-5 of max|W|) where the support
    fits the frame.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 8000
    >>> cwt = Cwt(sample_rate=sr, n_scales=17, fmin_hz=125.0, fmax_hz=2000.0)  # 4 per octave
    >>> t = (np.arange(cwt.frame_length) - cwt.frame_length // 2) / sr
    >>> frame = np.cos(2 * np.pi * 500.0 * t).astype(np.float32)[None, None]
    >>> W = cwt.process(frame)[0, 0]
    >>> round(float(cwt.freqs_hz[np.argmax(W)])), round(float(W.max()), 2)
    (500, 1.0)

    Real-time notes
    ---------------
    Analysis thread. ``__init__`` computes every kernel (tens of ms; FFTs of a few times the
    longest support) and allocates the kernel blocks (``~2 sum_s support_s`` float32).
    :meth:`process` allocates its output and one temporary of ``(rows, 2 n_scales)``
    float32, nothing that grows with the stream, and returns a new array. Stateless: the
    frames carry the history. Causal given the frames; the values at frame ``k`` refer to
    sample ``k * hop``, available ``latency_samples`` (half the longest used support)
    after it.

    References
    ----------
    C. Torrence, G. P. Compo, "A practical guide to wavelet analysis", Bull. Amer. Meteor.
    Soc. 79(1), 1998. J. M. Lilly, S. C. Olhede, "Generalized Morse wavelets as a
    superfamily of analytic wavelets", IEEE Trans. Signal Process. 60(11), 2012.
    """

    causal = True
    hop = 1

    def __init__(self, *, sample_rate: float = 48000, wavelet: str = "morlet", n_scales: int = 64,
                 fmin_hz: float = 50.0, fmax_hz: float = 8000.0, scale: str = "log",
                 frame_length: int | None = None, output: str = "magnitude",
                 normalization: str = "l1", **wavelet_params):
        cfg = _Config(sample_rate, wavelet, n_scales, fmin_hz, fmax_hz, scale, output, normalization,
                      wavelet_params)
        self.sample_rate = cfg.sample_rate
        self.wavelet = cfg.wavelet
        self.n_scales = cfg.n_scales
        self.fmin_hz, self.fmax_hz, self.scale = cfg.fmin_hz, cfg.fmax_hz, cfg.scale
        self.output, self.normalization = cfg.output, cfg.normalization
        self.freqs_hz, self.scales = cfg.freqs_hz, cfg.scales
        self.support_samples = cfg.support_samples
        longest = int(self.support_samples.max())
        if frame_length is None:
            N = min(_next_pow2(longest), MAX_FRAME_LENGTH)
        else:
            N = _check_int("frame_length", frame_length, 1, "samples")
        self.frame_length = N
        c = N // 2
        fit = min(c, N - c - 1)  # taps either side of the centre that fit the frame
        self.truncated = self.support_samples > 2 * fit + 1
        half = np.minimum(self.support_samples // 2, fit)
        self.scale_latency_samples = half.astype(np.int64)
        self.latency_samples = int(half.max())
        if self.truncated.any():
            k = np.flatnonzero(self.truncated)
            warnings.warn(
                f"frame_length={N} is shorter than the support of {k.size} of {self.n_scales} scales "
                f"(fmin_hz={self.freqs_hz[k[0]]:g}..{self.freqs_hz[k[-1]]:g} Hz); their kernels are "
                f"truncated to the frame (see Cwt.truncation_error). frame_length >= {longest} "
                "(samples) avoids it.", CwtTruncationWarning, stacklevel=2)
        kernels, tails = [], np.empty(self.n_scales)
        for j, s in enumerate(self.scales):
            taps, tails[j] = wavelet_kernel(self.wavelet, float(s), int(half[j]), self.normalization)
            kernels.append((taps, int(half[j])))
        self.truncation_error = tails
        self._is_real = self.wavelet.is_real
        self._blocks = _frame_blocks(kernels, N, self._is_real)
        self.reset()

    def reset(self) -> None:
        """Stateless: nothing to forget (present for the stage contract)."""
        return None

    def process(self, frames: np.ndarray) -> np.ndarray:
        """CWT at the centre of each frame.

        Parameters
        ----------
        frames : ndarray [shape=(channels, n_frames, frame_length)]
            Unwindowed frames (engine's centred framing), ``n_frames >= 0``; not modified.

        Returns
        -------
        W : ndarray [shape=(channels, n_frames, n_scales), dtype=float32 or complex64]
            ``|W|`` ("magnitude") or ``W`` ("complex"), scales ascending in frequency.
        """
        x = np.asarray(frames)
        if x.ndim != 3 or x.shape[-1] != self.frame_length:
            raise ValueError(f"frames shape {x.shape} must be (channels, n_frames, "
                             f"frame_length={self.frame_length})")
        C, n, N = x.shape
        dtype = np.float32 if self.output == "magnitude" else np.complex64
        if C == 0 or n == 0:
            return np.zeros((C, n, self.n_scales), dtype=dtype)
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        rows = x.reshape(C * n, N)
        out = np.empty((C * n, self.n_scales), dtype=dtype)
        for i in range(0, C * n, _BLOCK_FRAMES):
            # BLAS needs a row stride >= the row length: the Framer's overlapping views
            # (stride = hop) are copied once here, else matmul takes a slow non-BLAS loop.
            y = cwt_frames(np.ascontiguousarray(rows[i:i + _BLOCK_FRAMES]), self._blocks)
            out[i:i + _BLOCK_FRAMES] = _finish(y, self.n_scales, self.output, self._is_real)
        return out.reshape(C, n, self.n_scales)

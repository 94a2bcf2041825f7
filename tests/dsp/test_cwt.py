"""Tests of fluxstream.dsp.cwt: the online CWT against its batch reference, an inline direct
sum, PyWavelets and ssqueezepy, known answers (tones, clicks), truncation bounds, errors."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings

from fluxstream.dsp.cwt import (Cwt, CwtTruncationWarning, SUPPORT_FRACTION, WAVELETS, cwt_batch,
                                cwt_frequencies, wavelet, wavelet_kernel)
from fluxstream.dsp.framing import Framer, frame_signal
from fluxstream.dsp.scales import hz_to_mel
from fluxstream.errors import ConfigError
from tests.helpers import block_sizes, sine, split

SR = 8000
#: A small configuration: 12 log-spaced scales, 200 Hz - 3 kHz at 8 kHz.
SMALL = dict(n_scales=12, fmin_hz=200.0, fmax_hz=3000.0)
ALL = [("morlet", {}), ("morse", {}), ("bump", {}), ("paul", {}), ("dog", {}), ("dog", {"m": 3}),
       ("mexh", {})]


def _quiet(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CwtTruncationWarning)  # no truncation unless asked
        return Cwt(sample_rate=SR, **kw)


def _relerr(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


# -- frames vs batch vs stream ---------------------------------------------------------

@pytest.mark.parametrize("name,params", ALL)
@pytest.mark.parametrize("normalization", ["l1", "l2"])
def test_frames_equal_batch(name, params, normalization, rng):
    x = rng.standard_normal(2500).astype(np.float32)
    kw = dict(wavelet=name, output="complex", normalization=normalization, **SMALL, **params)
    cwt = _quiet(**kw)
    assert not cwt.truncated.any()
    got = cwt.process(frame_signal(x, cwt.frame_length, 100))
    ref = cwt_batch(x, SR, 100, **kw)
    assert got.shape == ref.shape == (1, 26, 12) and got.dtype == np.complex64
    # Tail beyond the support (envelope < 1e-5): ~1e-6 of max|W| for Gaussian envelopes,
    # ~1e-5 for the slowly decaying Paul and bump wavelets.
    assert _relerr(got, ref) < 3e-5
    assert np.all(np.abs(got - ref) <= cwt.truncation_error * np.abs(x).max() + 1e-5 * np.abs(ref).max())


@settings(max_examples=10)
@given(sizes=block_sizes)
def test_stream_equals_batch(sizes):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3000, 2)).astype(np.float32)
    cwt = _quiet(wavelet="morlet", **SMALL)
    framer = Framer(cwt.frame_length, 128, channels=2, max_block=64)
    outs, first = [], []
    for block in split(x, sizes):
        frames, k0 = framer.process(block)
        y = cwt.process(frames)
        assert y.shape == (2, frames.shape[1], 12)
        outs.append(y)
        first.append(k0)
    frames, k0 = framer.flush()
    outs.append(cwt.process(frames))
    got = np.concatenate(outs, axis=1)
    ref = cwt_batch(x, SR, 128, wavelet="morlet", **SMALL)
    assert got.shape == ref.shape
    assert _relerr(got, ref) < 1e-5


def test_reset_gives_identical_results_and_input_untouched(rng):
    cwt = _quiet(wavelet="morse", **SMALL)
    frames = rng.standard_normal((1, 5, cwt.frame_length)).astype(np.float32)
    keep = frames.copy()
    a = cwt.process(frames)
    assert cwt.reset() is None
    b = cwt.process(frames)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(frames, keep)
    assert cwt.process(frames[:, :0]).shape == (1, 0, 12)


# -- independent references ------------------------------------------------------------

def _morlet_psi(t, w0):
    """Morlet with the admissibility term, written from Torrence & Compo's formula."""
    return (np.exp(1j * w0 * t) - np.exp(-w0**2 / 2)) * np.exp(-t**2 / 2)


def _ricker(t):
    return (1 - t**2) * np.exp(-t**2 / 2)


@pytest.mark.parametrize("name,psi,analytic", [("morlet", lambda t: _morlet_psi(t, 6.0), True),
                                               ("mexh", _ricker, False)])
def test_batch_equals_direct_sum(name, psi, analytic, rng):
    """A loop over sampled closed-form wavelets, normalized here from the definitions (l1:
    peak of psi_hat = 2 for complex, 1 for real wavelets)."""
    x = rng.standard_normal(1200)
    hop = 50
    ref = cwt_batch(x, SR, hop, wavelet=name, output="complex", **SMALL)[0]
    wav = wavelet(name)
    # Peak of |psi_hat| of the unnormalized psi by a dense Riemann sum (independent of the
    # module's closed forms of psi_hat).
    t = np.arange(-40, 40, 0.01)
    w = np.linspace(0.0, 10.0, 2001)
    peak = np.abs(np.exp(-1j * np.outer(w, t)) @ psi(t) * 0.01).max()
    target = 2.0 if analytic else 1.0
    for j, s in enumerate(wav.peak_frequency * SR / cwt_frequencies(12, 200.0, 3000.0, sample_rate=SR)):
        n = np.arange(len(x))
        for k in range(0, ref.shape[0], 6):
            b = k * hop
            h = psi((n - b) / s) / s * (target / peak)
            want = np.sum(x * np.conj(h))
            assert abs(ref[k, j] - want) < 2e-4 * max(1.0, abs(want)), (j, k)


@pytest.mark.parametrize("name,params", [("morlet", {}), ("paul", {"m": 4}), ("morse", {})])
def test_click_gives_the_wavelet_shape(name, params):
    """A unit click at n0: W(b, s) = conj(h_s[n0 - b]) = conj(psi((n0 - b) / s)) / s."""
    n0 = 600
    x = np.zeros(1200, dtype=np.float32)
    x[n0] = 1.0
    cwt = _quiet(wavelet=name, output="complex", **SMALL, **params)
    W = cwt.process(frame_signal(x, cwt.frame_length, 1))[0]  # every sample
    b = np.arange(W.shape[0])
    wav = wavelet(name, **params)
    if name == "morlet":  # closed form, amplitude from the l1 convention (peak psi_hat 2)
        peak_hat = math.sqrt(2 * math.pi) * (1 - math.exp(-18.0) * math.exp(-0.5 * wav.peak_omega**2)
                                             / math.exp(-0.5 * (wav.peak_omega - 6) ** 2))
        psi = lambda t: _morlet_psi(t, 6.0) * 2 / peak_hat  # noqa: E731
    elif name == "paul":  # (1 - i t)^-(m+1) has psi_hat = 2 pi w^m e^-w / m!, peak at m
        peak_hat = 2 * math.pi * 4**4 * math.exp(-4) / math.factorial(4)
        psi = lambda t: (1 - 1j * t) ** -5 * 2 / peak_hat  # noqa: E731
    else:  # numerical quadrature of psi_hat: independent of the kernel's FFT route
        psi = wav.psi
    for j in (0, 5, 11):
        s = cwt.scales[j]
        near = np.abs(b - n0) < cwt.support_samples[j] // 2
        want = np.conj(psi((n0 - b[near]) / s)) / s
        assert _relerr(W[near, j], want) < 1e-4


def test_pywavelets_mexh_and_morl(rng):
    """pywt.cwt(x, s, 'mexh')[b] = W_l2(b + 1/2, s) for our DoG m=2 ('mexh' has unit
    energy); 'morl' = exp(-t^2/2) cos(5t) = pi^(1/4) Re(unit-energy Morlet, omega0=5).
    PyWavelets differentiates a convolution with the integrated wavelet, which lags half a
    sample and is accurate to ~1 % at scales >= 16."""
    pywt = pytest.importorskip("pywt")
    import scipy.signal

    n = 3000
    x = scipy.signal.lfilter(*scipy.signal.butter(4, 0.1), rng.standard_normal(n))
    X = np.fft.rfft(x)
    xd = np.fft.irfft(X * np.exp(-0.5j * 2 * np.pi * np.fft.rfftfreq(n)), n)  # x[n - 1/2]
    sl = slice(600, n - 600)
    for name, pw, params, const, tol in [("mexh", "mexh", {}, 1.0, 0.005),
                                         ("morlet", "morl", {"omega0": 5.0}, math.pi**0.25, 0.01)]:
        wav = wavelet(name, **params)
        scales = np.array([64.0, 32.0, 16.0])
        f = wav.peak_frequency * SR / scales
        W = cwt_batch(xd, SR, 1, wavelet=name, n_scales=3, fmin_hz=f[0], fmax_hz=f[-1], output="complex",
                      normalization="l2", **params)[0, :n].real.T
        P, _ = pywt.cwt(x, scales, pw, method="fft")
        for j in range(3):
            assert _relerr(const * W[j, sl], P[j, sl]) < tol, (name, scales[j])


def test_ssqueezepy(rng):
    """ssqueezepy.cwt (padtype='zero', l1_norm=True) uses psi_hat(s w) on the DFT grid: equal
    to ours where aliasing is negligible (scales whose band stays below Nyquist); its morlet
    and bump peaks are not 2, so both sides are divided by their own psi_hat peak."""
    sq = pytest.importorskip("ssqueezepy")
    x = rng.standard_normal(3000)
    sl = slice(800, 2200)
    for name, spec in [("morse", ("gmw", {"gamma": 3, "beta": 60})), ("morlet", ("morlet", {"mu": 6})),
                       ("bump", ("bump", {"mu": 5, "s": 1}))]:
        kw = dict(wavelet=name, n_scales=6, fmin_hz=100.0, fmax_hz=1500.0, output="complex")
        ours = cwt_batch(x, SR, 1, **kw)[0, :3000].T
        cw = _quiet(**kw)
        Wx, _ = sq.cwt(x, spec, scales=cw.scales[::-1].copy(), padtype="zero", l1_norm=True)
        Wx = np.asarray(Wx)[::-1]
        theirs_peak = np.abs(sq.Wavelet(spec)(np.linspace(0.0, 20.0, 200001))).max()
        assert _relerr(Wx[:, sl] * (2.0 / theirs_peak), ours[:, sl]) < 2e-4, name


# -- known answers ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["morlet", "morse", "bump", "paul"])
def test_tone_peaks_at_nearest_scale_with_its_amplitude(name):
    cwt = _quiet(wavelet=name, n_scales=24, fmin_hz=100.0, fmax_hz=3000.0)
    n = cwt.frame_length
    # Paul's psi_hat decays only exponentially: sampled at the small scales near Nyquist
    # its kernel aliases and its peak scale drifts up, so it is held to sr / 4 here.
    for f in (150.0, 440.0, 1000.0, 1900.0 if name == "paul" else 2500.0, cwt.freqs_hz[7]):
        t = (np.arange(n) - n // 2) / SR
        frame = (0.5 * np.cos(2 * np.pi * f * t + 0.3)).astype(np.float32)[None, None]
        W = cwt.process(frame)[0, 0]
        assert np.argmax(W) == np.argmin(np.abs(np.log(cwt.freqs_hz / f)))
    # At exactly a scale's peak frequency, l1: |W| = amplitude (peak psi_hat = 2 times A/2);
    # the sampled kernel's aliasing is negligible at 1/8 of the sample rate here.
    assert W[7] == pytest.approx(0.5, rel=2e-3)


def test_mexican_hat_is_real_and_matches_its_magnitude():
    x = sine(300.0, SR, 2000)
    cwt = _quiet(wavelet="mexh", output="complex", **SMALL)
    W = cwt.process(frame_signal(x, cwt.frame_length, 64))
    assert W.dtype == np.complex64 and np.all(W.imag == 0)
    assert np.any(W.real < 0) and np.any(W.real > 0)
    M = _quiet(wavelet="mexh", **SMALL).process(frame_signal(x, cwt.frame_length, 64))
    np.testing.assert_allclose(M, np.abs(W.real), rtol=1e-6, atol=1e-7)


def test_silence_gives_zeros():
    cwt = _quiet(wavelet="paul", **SMALL)
    assert not cwt.process(np.zeros((2, 3, cwt.frame_length), np.float32)).any()


# -- wavelets, frequencies, supports ---------------------------------------------------

@pytest.mark.parametrize("name,params", ALL)
def test_wavelet_properties(name, params):
    wav = wavelet(name, **params)
    w = np.linspace(-20.0, 40.0, 600001)
    mag = np.abs(wav.psi_hat(w))
    pos = w >= 0  # real wavelets peak at +-peak_omega
    assert mag.max() == pytest.approx(1.0 if wav.is_real else 2.0, rel=1e-6)
    assert w[pos][np.argmax(mag[pos])] / (2 * np.pi) == pytest.approx(wav.peak_frequency, abs=2e-5)
    # the support: |psi| falls to SUPPORT_FRACTION of its peak there, and stays below beyond
    T = wav.half_support
    tt = np.linspace(-4 * T, 4 * T, 1601)
    env = np.abs(wav.psi(tt))
    top = env.max()
    assert abs(wav.psi(T)) == pytest.approx(SUPPORT_FRACTION * top, rel=1e-2) or \
        abs(wav.psi(-T)) == pytest.approx(SUPPORT_FRACTION * top, rel=1e-2)
    assert np.all(env[np.abs(tt) > T * 1.001] < SUPPORT_FRACTION * top * 1.01)
    # l2 kernels have unit energy at every scale; l1 kernels keep their L1 norm
    for s in (3.0, 20.0):
        taps, _ = wavelet_kernel(wav, s, int(wav.support(s)) // 2 + int(s), "l2")
        assert np.sum(np.abs(taps) ** 2) == pytest.approx(1.0, rel=1e-3)
    a = np.abs(wavelet_kernel(wav, 6.0, int(wav.support(6.0)), "l1")[0]).sum()
    b = np.abs(wavelet_kernel(wav, 24.0, int(wav.support(24.0)), "l1")[0]).sum()
    assert a == pytest.approx(b, rel=2e-2)


def test_frequencies_on_scales():
    f = cwt_frequencies(9, 100.0, 3200.0, "log", sample_rate=SR)
    np.testing.assert_allclose(f, 100.0 * 2.0 ** (np.arange(9) * 5 / 8), rtol=1e-12)
    m = hz_to_mel(cwt_frequencies(20, 100.0, 3800.0, "mel", sample_rate=SR))
    np.testing.assert_allclose(np.diff(m), np.diff(m)[0], rtol=1e-9)
    for sc in ("linear", "bark", "erb", "octave"):
        g = cwt_frequencies(5, 60.0, 4000.0, sc, sample_rate=SR)
        assert g[0] == 60.0 and g[-1] == 4000.0 and np.all(np.diff(g) > 0)
    assert cwt_frequencies(1, 440.0, 440.0, sample_rate=SR).tolist() == [440.0]
    cwt = _quiet(wavelet="morlet", **SMALL)
    np.testing.assert_allclose(cwt.scales, wavelet("morlet").peak_frequency * SR / cwt.freqs_hz)


def test_latency_and_default_frame_length():
    cwt = _quiet(wavelet="morlet", **SMALL)
    np.testing.assert_array_equal(cwt.scale_latency_samples, cwt.support_samples // 2)
    assert cwt.latency_samples == int(cwt.support_samples.max() // 2)
    N = cwt.frame_length
    assert N & (N - 1) == 0 and N // 2 < cwt.support_samples.max() <= N
    # Morlet support at scale s is 2 ceil(4.80 s) + 1 (Gaussian envelope at 1e-5)
    assert wavelet("morlet").half_support == pytest.approx(math.sqrt(2 * math.log(1e5)), rel=1e-3)


def test_truncated_kernel_error_is_bounded(rng):
    x = rng.standard_normal(3000).astype(np.float32)
    kw = dict(wavelet="morlet", n_scales=8, fmin_hz=60.0, fmax_hz=2000.0, output="complex")
    with pytest.warns(CwtTruncationWarning, match=r"frame_length=256 .* frame_length >= \d+"):
        cwt = Cwt(sample_rate=SR, frame_length=256, **kw)
    assert cwt.truncated[0] and not cwt.truncated[-1]
    assert cwt.latency_samples == 127
    got = cwt.process(frame_signal(x, 256, 100))
    ref = cwt_batch(x, SR, 100, **kw)
    err = np.abs(got - ref).max(axis=(0, 1))
    bound = cwt.truncation_error * np.abs(x).max() + 1e-5 * np.abs(ref).max()
    assert np.all(err <= bound)
    assert err[0] > 100 * err[-1]  # the truncated scale really differs


# -- bad parameters --------------------------------------------------------------------

@pytest.mark.parametrize("kw,msg", [
    (dict(fmin_hz=5000.0, fmax_hz=6000.0), r"fmin_hz=5000.0 must be <= sample_rate/2 = 4000"),
    (dict(fmin_hz=100.0, fmax_hz=4500.0), r"fmax_hz=4500.0 must be <= sample_rate/2 = 4000"),
    (dict(fmin_hz=500.0, fmax_hz=500.0), r"fmin_hz=500.0 must be < fmax_hz=500.0 \(Hz\)"),
    (dict(fmin_hz=-1.0), r"fmin_hz=-1.0 must be > 0 \(Hz\)"),
    (dict(n_scales=0), r"n_scales=0 must be an integer >= 1"),
    (dict(wavelet="haar"), r"wavelet='haar' is not a wavelet; allowed: morlet, morse, gmw, bump, paul, dog"),
    (dict(output="power"), r"output='power' is not valid; allowed: 'magnitude', 'complex'"),
    (dict(normalization="l3"), r"normalization='l3' is not valid"),
    (dict(scale="semitone"), r"scale"),
    (dict(frame_length=0), r"frame_length=0 must be an integer >= 1 \(samples\)"),
    (dict(omega0=0.0), r"omega0=0.0 must be > 0"),
    (dict(wavelet="morse", beta=-1.0), r"beta=-1.0 must be > 0"),
    (dict(wavelet="morse", gamma=float("nan")), r"gamma=nan must be a finite number"),
    (dict(wavelet="bump", mu=1.0, s=2.0), r"s=2.0 must be <= mu=1.0"),
    (dict(wavelet="paul", m=0), r"m=0 must be an integer >= 1"),
    (dict(wavelet="dog", m=1.5), r"m=1.5 must be an integer >= 1"),
    (dict(wavelet="mexh", m=3), r"m=3 is not a parameter of wavelet 'mexh'"),
    (dict(wavelet="morlet", beta=3.0), r"beta=3.0 is not a parameter of wavelet 'morlet'; allowed: omega0"),
])
def test_bad_parameters(kw, msg):
    base = dict(sample_rate=SR, n_scales=4, fmin_hz=100.0, fmax_hz=1000.0)
    with pytest.raises(ConfigError, match=msg):
        Cwt(**{**base, **kw})


def test_bad_frames_shape():
    cwt = _quiet(wavelet="dog", **SMALL)
    with pytest.raises(ValueError, match="frame_length"):
        cwt.process(np.zeros((1, 2, cwt.frame_length + 1), np.float32))
    assert set(WAVELETS) >= {"morlet", "morse", "bump", "paul", "dog", "mexh"}
    with pytest.raises(ConfigError, match=re.escape("hop_length=0 must be an integer >= 1 (samples)")):
        cwt_batch(np.zeros(10), SR, 0, **SMALL)

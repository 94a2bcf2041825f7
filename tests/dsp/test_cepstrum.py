import numpy as np
import pytest
import scipy.fft

from fluxstream.dsp import spectral
from fluxstream.dsp.cepstrum import cepstrum, dct_matrix, deconvolve
from fluxstream.dsp.stft import stft as _stft
from fluxstream.errors import ConfigError
from tests.helpers import sine

librosa = pytest.importorskip("librosa")


def stft(y, n_fft, hop):
    """The batch STFT on the scipy backend: these tests are not about the FFT (test_stft.py
    runs both backends), and pyfftw plans every new batch shape (~0.2 s each)."""
    return _stft(y, n_fft, hop, backend="scipy")


@pytest.mark.parametrize("n_in,n_out", [(1, 1), (2, 2), (13, 5), (40, 40), (128, 20), (1025, 30)])
def test_dct_matrix_equals_scipy_ortho_dct(n_in, n_out, rng):
    D = dct_matrix(n_in, n_out)
    assert D.shape == (n_out, n_in) and D.dtype == np.float32
    x = rng.standard_normal((7, n_in))
    # float32 basis entries: 6e-8 relative each, summed over n_in terms of a unit vector.
    np.testing.assert_allclose(x @ D.T.astype(np.float64), scipy.fft.dct(x, type=2, norm="ortho")[:, :n_out],
                               atol=2e-7 * np.sqrt(n_in) * np.abs(x).max())
    if n_in <= 128:
        full = dct_matrix(n_in, n_in).astype(np.float64)
        np.testing.assert_allclose(full @ full.T, np.eye(n_in), atol=1e-6)  # orthonormal


@pytest.mark.parametrize("n_mfcc", [1, 13, 20, 40])
@pytest.mark.parametrize("lifter", [0, 0.5, 22, 40.0])
def test_cepstrum_of_db_equals_librosa_mfcc(n_mfcc, lifter, rng):
    # A dB mel spectrogram as librosa makes it (frames last), on a plausible scale.
    mel = (rng.gamma(0.5, 1.0, (40, 60)) * 10.0 ** rng.uniform(-6, 2, (40, 1))).astype(np.float32)
    S_db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    ref = librosa.feature.mfcc(S=S_db, n_mfcc=n_mfcc, lifter=lifter)
    got = cepstrum(S_db.T, n_mfcc, lifter)
    assert got.shape == (60, n_mfcc) and got.dtype == np.float32
    # float32 sums of 40 dB values up to ~100 in magnitude: coefficients up to ~1000,
    # round-off of either side ~ eps32 * sqrt(40) * 100 * (1 + lifter/2) < 1e-3.
    np.testing.assert_allclose(got, ref.T, rtol=1e-5, atol=1e-3 * (1 + lifter / 2))


@pytest.mark.parametrize("sr,n_fft,hop,n_mels,htk,lifter,n_mfcc", [
    (22050, 2048, 512, 128, False, 0, 20),
    (16000, 512, 128, 40, True, 22, 13),
    (44100, 1024, 256, 96, True, 0, 40),
    (48000, 4096, 1024, 64, False, 30, 30),
])
def test_mfcc_chain_from_audio_equals_librosa(sr, n_fft, hop, n_mels, htk, lifter, n_mfcc, rng):
    y = (0.1 * rng.standard_normal(sr // 2)).astype(np.float32)
    ref = librosa.feature.mfcc(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, htk=htk, lifter=lifter,
                               n_mfcc=n_mfcc, center=True, pad_mode="constant")
    mel = spectral.power(stft(y, n_fft, hop)) @ librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, htk=htk).T
    db = spectral.power_to_db(mel)
    # librosa's mfcc(y=...) cannot take top_db (it is passed on to filters.mel and
    # rejected), so it applies power_to_db's default top_db=80 below the maximum. White
    # noise spans far less than 80 dB across mel bands, so the clip is inactive here:
    assert db.max() - db.min() < 80
    got = cepstrum(db, n_mfcc, lifter)
    assert got.shape == ref.T.shape
    # Our STFT/mel/dB and librosa's differ by float32 round-off (~1e-5 dB per band), the
    # DCT sums n_mels of them: measured <= 8e-5 on coefficients up to ~300; 1e-3 leaves a
    # 10x margin and is still 1e-5 of the coefficient scale.
    np.testing.assert_allclose(got, ref.T, rtol=1e-5, atol=1e-3)


def test_lifter_formula_and_multichannel(rng):
    x = rng.standard_normal((2, 5, 26)).astype(np.float32)
    plain = cepstrum(x, 13)
    lifted = cepstrum(x, 13, lifter=22)
    L = 1 + 11 * np.sin(np.pi * np.arange(1, 14) / 22)
    np.testing.assert_allclose(lifted, plain * L, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(cepstrum(x[1], 13), plain[1], rtol=1e-6, atol=1e-6)
    assert cepstrum(x.astype(np.float64), 13).dtype == np.float64


def test_cepstrum_known_answers():
    flat = np.full((3, 40), -20.0, np.float32)
    c = cepstrum(flat, 13)
    np.testing.assert_allclose(c[:, 0], -20 * np.sqrt(40), rtol=1e-6)
    np.testing.assert_allclose(c[:, 1:], 0, atol=1e-4)
    # A single cosine across the bands lands in one coefficient.
    n = np.arange(40)
    x = np.cos(np.pi * 3 * (2 * n + 1) / 80).astype(np.float32)
    c = cepstrum(x, 10)
    np.testing.assert_allclose(c, np.eye(10)[3] * np.sqrt(20), atol=1e-5)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
@pytest.mark.parametrize("n_coeffs", [1, 8, 40, 513])
def test_deconvolve_product_is_the_floored_spectrum(scale, n_coeffs, rng):
    S = (np.abs(rng.standard_normal((2, 4, 513))) * scale).astype(np.float32)
    S[0, 0, :50] = 0.0  # exact zeros meet the floor
    env, fine = deconvolve(S, n_coeffs)
    assert env.dtype == fine.dtype == np.float32 and env.shape == fine.shape == S.shape
    assert np.all(np.isfinite(env)) and np.all(np.isfinite(fine)) and np.all(env > 0) and np.all(fine > 0)
    # Two float32 roundings (the division, the product): within 2 ulp.
    np.testing.assert_allclose(env * fine, np.maximum(S, np.float32(1e-10)), rtol=2.5e-7, atol=0)


def test_deconvolve_scale_goes_to_the_envelope(rng):
    S = np.abs(rng.standard_normal((3, 257))).astype(np.float32) + 1e-3
    env1, fine1 = deconvolve(S, 20)
    env2, fine2 = deconvolve(S * np.float32(1000.0), 20)
    np.testing.assert_allclose(env2, 1000 * env1, rtol=1e-4)
    np.testing.assert_allclose(fine2, fine1, rtol=1e-4)


def test_deconvolve_known_answers():
    n_bins, q = 257, 12
    D = dct_matrix(n_bins, n_bins).astype(np.float64)
    coef = np.zeros(n_bins)
    coef[:q] = np.linspace(-3, 2, q)
    smooth = np.exp(coef @ D)  # log-spectrum inside the low-quefrency span
    env, fine = deconvolve(smooth.astype(np.float32), q)
    np.testing.assert_allclose(env, smooth, rtol=1e-4)
    np.testing.assert_allclose(fine, 1.0, rtol=1e-4)
    coef = np.zeros(n_bins)
    coef[60] = 1.5  # a pure "pitch" ripple, above the cut
    ripple = np.exp(coef @ D)
    env, fine = deconvolve(ripple.astype(np.float32), q)
    np.testing.assert_allclose(env, 1.0, rtol=1e-4)
    np.testing.assert_allclose(fine, ripple, rtol=1e-4)
    # A harmonic spectrum under a formant envelope: the envelope follows the formant,
    # not the harmonics.
    sr, n_fft = 16000, 1024
    f = np.arange(n_fft // 2 + 1) * sr / n_fft
    formant = np.exp(-0.5 * ((f - 1500) / 600) ** 2) + 0.05
    y = sum(np.interp(h * 200, f, formant) * sine(h * 200, sr, n_fft * 8, amp=1.0) for h in range(1, 30))
    S = np.abs(stft(y, n_fft, 256))[10:20]
    env, fine = deconvolve(S, 20)
    peak_hz = f[np.argmax(env, axis=-1)]
    assert np.all(np.abs(peak_hz - 1500) < 250)
    np.testing.assert_allclose(env * fine, np.maximum(S, 1e-10), rtol=2.5e-7)


@pytest.mark.parametrize("kind", ["silence", "dc", "sine", "noise"])
def test_finite_on_known_signals(kind, rng):
    sr, n_fft = 16000, 512
    y = {"silence": np.zeros(4000, np.float32), "dc": np.full(4000, 0.5, np.float32),
         "sine": sine(440, sr, 4000), "noise": rng.standard_normal(4000).astype(np.float32)}[kind]
    P = spectral.power(stft(y, n_fft, 128))
    db = spectral.power_to_db(P @ librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=40).T)
    c = cepstrum(db, 13, lifter=22)
    env, fine = deconvolve(np.sqrt(P), 20)
    for a in (c, env, fine):
        assert a.dtype == np.float32 and np.all(np.isfinite(a))
    if kind == "silence":
        # The -100 dB floor in c0, times the lifter's first weight; nothing else.
        np.testing.assert_allclose(c[:, 0], -100 * np.sqrt(40) * (1 + 11 * np.sin(np.pi / 22)), rtol=1e-6)
        np.testing.assert_allclose(c[:, 1:], 0, atol=1e-3)
        np.testing.assert_allclose(env, 1e-10, rtol=1e-4)
        np.testing.assert_allclose(fine, 1.0, rtol=1e-4)


@pytest.mark.parametrize("call,match", [
    (lambda x: cepstrum(x, 0), r"n_coeffs=0 must be an integer >= 1"),
    (lambda x: cepstrum(x, 2.0), r"n_coeffs=2.0"),
    (lambda x: cepstrum(x, 41), r"n_coeffs=41 must be <= n_bands=40"),
    (lambda x: cepstrum(x, 13, lifter=-1), r"lifter=-1 must be a finite number >= 0"),
    (lambda x: cepstrum(x, 13, lifter=float("nan")), r"lifter=nan"),
    (lambda x: deconvolve(x, 0), r"n_coeffs=0"),
    (lambda x: deconvolve(x, 41), r"n_coeffs=41 must be <= n_bins=40"),
    (lambda x: deconvolve(x, 5, amin=0), r"amin=0 must be a finite number > 0"),
    (lambda x: dct_matrix(0, 1), r"n_in=0"),
    (lambda x: dct_matrix(10, 11), r"n_out=11 must be <= n_in=10"),
    (lambda x: dct_matrix(10, 0), r"n_out=0"),
])
def test_bad_parameters(call, match):
    with pytest.raises(ConfigError, match=match):
        call(np.zeros((3, 40), np.float32))

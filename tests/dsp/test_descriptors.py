"""Frame descriptors: librosa parity where conventions agree, naive references, known
answers on silence / white noise / DC / a sine, streaming-equals-batch for the two stages,
dtype and no-mutation contracts, and bad parameters."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.dsp import descriptors as D
from fluxstream.dsp.framing import frame_signal
from fluxstream.dsp.spectral import fft_frequencies, power, spectral_centroid
from fluxstream.dsp.stft import stft
from fluxstream.errors import ConfigError
from tests.helpers import KERNELS, block_sizes, sine, split, use_kernels

try:
    import librosa
    import librosa.feature.spectral as librosa_spectral
except ImportError:  # pragma: no cover - librosa is a test dependency
    librosa = None

needs_librosa = pytest.mark.skipif(librosa is None, reason="librosa (test reference) not installed")

# (sample rate, n_fft, hop) sets for the librosa comparisons.
PARAMS = [(22050, 2048, 512), (16000, 512, 128), (48000, 4096, 1024), (44100, 1024, 441)]


def mixture(rng, sr, seconds=0.4):
    """Noise + a sine + a chirp: every band busy, nothing digitally silent."""
    n = int(sr * seconds)
    t = np.arange(n) / sr
    x = 0.2 * rng.standard_normal(n) + 0.4 * np.sin(2 * np.pi * 440 * t)
    x += 0.2 * np.sin(2 * np.pi * (300 * t + 4000 * t * t))
    return x.astype(np.float32)


def mag(x, n_fft, hop):
    return np.abs(stft(x, n_fft, hop))


def mel_centres(sr, n_mels):
    return librosa.mel_frequencies(n_mels=n_mels + 2, fmin=0.0, fmax=sr / 2)[1:-1]


# -- librosa parity ----------------------------------------------------------------------

@needs_librosa
@pytest.mark.parametrize("sr,n_fft,hop", PARAMS)
def test_bandwidth_equals_librosa(sr, n_fft, hop, rng):
    S = mag(mixture(rng, sr), n_fft, hop)
    f = fft_frequencies(sr, n_fft)
    for p in (1, 2, 3):
        ref = librosa.feature.spectral_bandwidth(S=S.T, sr=sr, n_fft=n_fft, p=p)[0]
        np.testing.assert_allclose(D.spectral_bandwidth(S, f, p=p), ref, rtol=2e-5)
    np.testing.assert_allclose(D.spectral_spread(S, f), librosa.feature.spectral_bandwidth(S=S.T, sr=sr,
                               n_fft=n_fft, p=2)[0], rtol=2e-5)
    # A precomputed centroid gives the same as computing it inside.
    c = spectral_centroid(S, f.astype(np.float32))
    np.testing.assert_array_equal(D.spectral_bandwidth(S, f, p=2, centroid_hz=c), D.spectral_bandwidth(S, f))


@needs_librosa
@pytest.mark.parametrize("sr,n_fft,hop", PARAMS)
def test_rolloff_equals_librosa(sr, n_fft, hop, rng):
    S = mag(mixture(rng, sr), n_fft, hop)
    f = fft_frequencies(sr, n_fft)
    for roll in (0.5, 0.85, 0.99):
        ref = librosa.feature.spectral_rolloff(S=S.T, sr=sr, n_fft=n_fft, roll_percent=roll)[0]
        np.testing.assert_allclose(D.spectral_rolloff(S, f, roll_percent=roll), ref, rtol=1e-7)


def test_rolloff_of_one_frame_equals_the_batch(kernels, rng):
    # A live hop (one frame) takes a binary search for the crossing, or the compiled
    # kernel's count (which also serves whole batches) in the same float32 sums: every
    # frame alone, and the batch, must give numpy's batch values, including silence, a
    # single bin at either end, flat, inf and NaN (in the first bin too).
    f = fft_frequencies(22050, 512)
    S = np.abs(rng.standard_normal((40, 257))).astype(np.float32) ** 3
    special = np.zeros((8, 257), np.float32)
    special[1, 0] = special[2, -1] = 1.0
    special[3] = 1.0
    special[4, 100] = np.inf
    special[5, 7] = np.nan
    special[6, 0] = np.inf
    special[7, 0] = np.nan
    S = np.concatenate([S, special])
    for roll in (0.01, 0.5, 0.85, 0.999):
        with use_kernels("numpy"):
            ref = D.spectral_rolloff(S, f, roll_percent=roll)
        batch = D.spectral_rolloff(S, f, roll_percent=roll)  # (compiled too, with the kernels)
        alone = [D.spectral_rolloff(s[None, None], f, roll_percent=roll)[0, 0] for s in S]
        np.testing.assert_array_equal(alone, ref)
        np.testing.assert_array_equal(batch, ref)


@needs_librosa
@pytest.mark.parametrize("sr,n_fft,hop", PARAMS)
def test_flatness_equals_librosa(sr, n_fft, hop, rng):
    S = mag(mixture(rng, sr), n_fft, hop)
    for pw in (2.0, 1.0):
        ref = librosa.feature.spectral_flatness(S=S.T, power=pw, amin=1e-10)[0]
        np.testing.assert_allclose(D.spectral_flatness(S, power=pw, amin=1e-10), ref, rtol=1e-5, atol=1e-7)


@needs_librosa
@pytest.mark.parametrize("sr,n_fft,hop", PARAMS)
@pytest.mark.parametrize("fmin,n_bands,quantile", [(200.0, 6, 0.02), (400.0, 4, 0.1), (300.0, 3, 0.5)])
def test_contrast_linear_equals_librosa(sr, n_fft, hop, fmin, n_bands, quantile, rng):
    S = mag(mixture(rng, sr), n_fft, hop)
    got = D.spectral_contrast(S, fft_frequencies(sr, n_fft), fmin, n_bands, quantile, linear=True)
    ref = librosa.feature.spectral_contrast(S=S.T, sr=sr, n_fft=n_fft, fmin=fmin, n_bands=n_bands,
                                            quantile=quantile, linear=True).T
    assert got.shape == (S.shape[0], n_bands + 1)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def _recording_power_to_db(monkeypatch):
    """Wrap librosa's power_to_db inside spectral_contrast; record whether its top_db=80
    clipping changed anything."""
    clipped = []
    original = librosa_spectral.power_to_db

    def wrapped(S, **kw):
        out = original(S, **kw)
        clipped.append(not np.array_equal(out, original(S, top_db=None)))
        return out

    monkeypatch.setattr(librosa_spectral, "power_to_db", wrapped)
    return clipped


@needs_librosa
@pytest.mark.parametrize("sr,n_fft,hop", PARAMS)
def test_contrast_db_equals_librosa_when_nothing_is_clipped(sr, n_fft, hop, rng, monkeypatch):
    S = mag(mixture(rng, sr), n_fft, hop)
    clipped = _recording_power_to_db(monkeypatch)
    ref = librosa.feature.spectral_contrast(S=S.T, sr=sr, n_fft=n_fft).T
    assert clipped == [False, False]  # peaks and valleys: librosa's top_db did not act
    np.testing.assert_allclose(D.spectral_contrast(S, fft_frequencies(sr, n_fft)), ref, atol=2e-4)


@needs_librosa
def test_contrast_db_differs_from_librosa_where_it_clips(rng, monkeypatch):
    # Digital silence then noise: librosa clips the silent frames' peaks and valleys to
    # 80 dB below the signal's loudest, so their contrast is not 0; the fixed reference
    # gives 0 dB (peak = valley = the 1e-10 floor).
    sr, n_fft, hop = 22050, 1024, 256
    x = np.concatenate([np.zeros(8 * n_fft, np.float32), rng.standard_normal(4 * n_fft).astype(np.float32)])
    S = mag(x, n_fft, hop)
    clipped = _recording_power_to_db(monkeypatch)
    ref = librosa.feature.spectral_contrast(S=S.T, sr=sr, n_fft=n_fft).T
    assert any(clipped)
    got = D.spectral_contrast(S, fft_frequencies(sr, n_fft))
    np.testing.assert_array_equal(got[:10], 0.0)
    assert np.all(np.abs(ref[:10]) > 1.0)
    np.testing.assert_allclose(got[-5:], ref[-5:], atol=2e-4)  # loud frames: not clipped


def _contrast_reference(S, f, fmin, n_bands, quantile):
    """Peaks and valleys by the written rule, one frame and one band at a time."""
    octa = np.r_[0.0, fmin * 2.0 ** np.arange(n_bands + 1)]
    peak = np.zeros((S.shape[0], n_bands + 1))
    valley = np.zeros_like(peak)
    for t in range(S.shape[0]):
        for k in range(n_bands + 1):
            members = [i for i in range(len(f)) if octa[k] <= f[i] <= octa[k + 1]]
            if k > 0:
                members = [members[0] - 1] + members
            if k == n_bands:
                members = members + list(range(members[-1] + 1, len(f)))
            vals = sorted(S[t, i] for i in (members[:-1] if k < n_bands else members))
            q = max(1, int(round(quantile * len(members))))
            valley[t, k] = np.mean(vals[:q])
            peak[t, k] = np.mean(vals[-q:])
    return peak, valley


@pytest.mark.parametrize("linear", [False, True])
@pytest.mark.parametrize("sr,n_fft,fmin,n_bands,quantile", [(48000, 2048, 200.0, 6, 0.02),
                                                           (16000, 512, 100.0, 4, 0.1),
                                                           (22050, 1024, 300.0, 3, 0.2)])
def test_contrast_of_one_frame_equals_the_batch(sr, n_fft, fmin, n_bands, quantile, linear, kernels, rng):
    # A live hop (one frame) takes 1-D reductions, or the compiled kernel's insertion
    # selection of each band's q extremes (which also serves whole batches): numpy's batch
    # numbers within float32 round-off (sums over a wide band's ends may run in another
    # order), on layouts where one, several or all bands average more than one bin at
    # each end; silence, zeros, ties (values repeated across a band), a band's extremes at
    # its edges, inf; a NaN frame gives the batch's NaN where the batch has it.
    f = fft_frequencies(sr, n_fft)
    ranges = D.contrast_bands(f, fmin, n_bands, quantile)
    K = n_fft // 2 + 1
    S = np.abs(rng.standard_normal((30, K))).astype(np.float32) ** 2
    S[0] = 0.0
    S[1, 5:9] = 0.0
    S[2] = np.round(S[2] * 2) / 2  # ties
    S[3] = np.linspace(0.0, 1.0, K)  # each band's extremes at its edges
    S[4] = S[3][::-1]
    S[5, K // 2] = np.inf
    S[6, K // 3] = np.nan
    with use_kernels("numpy"):
        ref = D.contrast_from_bands(S, ranges, linear)
    batch = D.contrast_from_bands(S, ranges, linear)  # (compiled too, with the kernels)
    alone = np.array([D.contrast_from_bands(s[None, None], ranges, linear)[0, 0] for s in S])
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(alone, ref, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(batch, ref, rtol=1e-6, atol=1e-6)


def test_contrast_is_the_documented_formula(rng):
    sr, n_fft = 16000, 256
    S = mag(mixture(rng, sr, 0.05), n_fft, 64)[:4]
    f = fft_frequencies(sr, n_fft)
    peak, valley = _contrast_reference(S.astype(np.float64), f, 200.0, 4, 0.1)
    np.testing.assert_allclose(D.spectral_contrast(S, f, 200.0, 4, 0.1, linear=True), peak - valley,
                               rtol=1e-5, atol=1e-6)
    db = 10 * np.log10(np.maximum(peak, 1e-10)) - 10 * np.log10(np.maximum(valley, 1e-10))
    np.testing.assert_allclose(D.spectral_contrast(S, f, 200.0, 4, 0.1), db, atol=1e-4)


@needs_librosa
@pytest.mark.parametrize("sr,n_fft,hop", PARAMS)
@pytest.mark.parametrize("threshold", [1e-10, 0.05])
def test_zcr_equals_librosa_on_interior_frames(sr, n_fft, hop, threshold, rng):
    x = mixture(rng, sr) + np.float32(0.01)  # an offset, so that edge padding matters
    got = D.zero_crossing_rate(frame_signal(x, n_fft, hop, center=True), threshold=threshold)[0]
    ref = librosa.feature.zero_crossing_rate(x, frame_length=n_fft, hop_length=hop, center=True,
                                             threshold=threshold)[0]
    k = np.arange(len(ref))
    interior = (k * hop >= n_fft // 2) & (k * hop - n_fft // 2 + n_fft <= len(x))
    assert interior.sum() >= 3
    np.testing.assert_array_equal(got[interior], ref[interior])


@needs_librosa
def test_zcr_edge_frames_differ_by_padding():
    # The documented difference: zero padding adds crossings at a negative edge that
    # librosa's edge-value padding does not.
    x = np.full(4096, -0.5, np.float32)
    got = D.zero_crossing_rate(frame_signal(x, 1024, 256, center=True))[0]
    ref = librosa.feature.zero_crossing_rate(x, frame_length=1024, hop_length=256)[0]
    assert got[0] == pytest.approx(1 / 1024) and ref[0] == 0
    np.testing.assert_array_equal(got[2:-2], ref[2:-2])


@needs_librosa
def test_non_uniform_mel_frequencies(rng):
    sr, n_fft, n_mels = 44100, 2048, 96
    x = mixture(rng, sr)
    M = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels) @ mag(x, n_fft, 512).T  # (n_mels, t)
    S = M.T.astype(np.float32)
    f = mel_centres(sr, n_mels)
    for p in (1, 2, 3):
        np.testing.assert_allclose(D.spectral_bandwidth(S, f, p=p),
                                   librosa.feature.spectral_bandwidth(S=M, freq=f, p=p)[0], rtol=2e-5)
    for roll in (0.5, 0.85, 0.99):
        np.testing.assert_allclose(D.spectral_rolloff(S, f, roll),
                                   librosa.feature.spectral_rolloff(S=M, freq=f, roll_percent=roll)[0])
    np.testing.assert_allclose(D.spectral_contrast(S, f, linear=True),
                               librosa.feature.spectral_contrast(S=M, sr=sr, freq=f, linear=True).T,
                               rtol=1e-5, atol=1e-6)
    for fn in (D.spectral_skewness, D.spectral_kurtosis, D.spectral_slope, D.spectral_spread):
        assert np.all(np.isfinite(fn(S, f)))
    bf = D.band_flatness(S, f, D.octave_band_edges(250.0, 4))
    assert bf.shape == (S.shape[0], 4) and np.all((bf > 0) & (bf <= 1))
    assert np.all(np.isfinite(D.band_energy_ratio(S, f, 2000.0)))
    assert np.all(D.spectral_energy(S, f, 1000.0, 4000.0) <= D.spectral_energy(S))


# -- naive references --------------------------------------------------------------------

def test_moments_equal_naive_reference(rng):
    S = rng.random((6, 33)).astype(np.float32) ** 3
    f = np.sort(rng.uniform(0, 8000, 33))
    for t in range(S.shape[0]):
        w = S[t].astype(np.float64) / S[t].sum()
        c = w @ f
        sd = np.sqrt(w @ (f - c) ** 2)
        assert D.spectral_spread(S[t], f) == pytest.approx(sd, rel=1e-5)
        assert D.spectral_bandwidth(S[t], f, p=1.5) == pytest.approx((w @ np.abs(f - c) ** 1.5) ** (1 / 1.5),
                                                                      rel=1e-5)
        assert D.spectral_skewness(S[t], f) == pytest.approx(w @ (f - c) ** 3 / sd ** 3, rel=1e-4, abs=1e-5)
        assert D.spectral_kurtosis(S[t], f) == pytest.approx(w @ (f - c) ** 4 / sd ** 4, rel=1e-4)


def test_two_bin_spectrum_known_moments():
    # Weights 2/3 at 0 Hz and 1/3 at 100 Hz: a two-point distribution with p = 1/3.
    f = np.array([0.0, 100.0, 200.0, 300.0])
    S = np.array([[2.0, 1.0, 0.0, 0.0]], np.float32)
    p = 1 / 3
    assert D.spectral_spread(S, f)[0] == pytest.approx(100 * math.sqrt(p * (1 - p)), rel=1e-6)
    assert D.spectral_skewness(S, f)[0] == pytest.approx((1 - 2 * p) / math.sqrt(p * (1 - p)), rel=1e-5)
    assert D.spectral_kurtosis(S, f)[0] == pytest.approx((1 - 3 * p * (1 - p)) / (p * (1 - p)), rel=1e-5)
    assert D.spectral_rolloff(S, f, 0.6)[0] == 0.0 and D.spectral_rolloff(S, f, 0.7)[0] == 100.0
    assert D.spectral_entropy(S)[0] == pytest.approx(-(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
                                                     / math.log(4), rel=1e-6)


def test_slope_decrease_crest_entropy_equal_naive(rng):
    S = rng.random((5, 40)).astype(np.float32)
    f = np.sort(rng.uniform(0, 11025, 40))
    for t in range(5):
        s = S[t].astype(np.float64)
        assert D.spectral_slope(S[t], f) == pytest.approx(np.polyfit(f, s, 1)[0] / s.sum(), rel=1e-4)
        dec = sum((s[k] - s[0]) / k for k in range(1, 40)) / s[1:].sum()
        assert D.spectral_decrease(S[t]) == pytest.approx(dec, rel=1e-4, abs=1e-6)
        assert D.spectral_crest(S[t]) == pytest.approx(s.max() / s.mean(), rel=1e-6)
        p = s / s.sum()
        assert D.spectral_entropy(S[t]) == pytest.approx(-(p @ np.log(p)) / np.log(40), rel=1e-5)
    ramp = np.arange(10, dtype=np.float32)  # S = f: regression slope 1
    assert D.spectral_slope(ramp, np.arange(10.0)) == pytest.approx(1 / 45, rel=1e-6)
    assert D.spectral_slope(np.full(10, 3.0, np.float32), np.arange(10.0)) == pytest.approx(0, abs=1e-9)
    assert D.spectral_entropy(np.ones((2, 64), np.float32)) == pytest.approx(1.0, rel=1e-6)
    assert D.spectral_crest(np.ones(64, np.float32)) == 1.0


def test_energy_ratio_hfc_flux_mkl_equal_naive(rng):
    P = rng.random((4, 50)).astype(np.float32)
    f = np.linspace(0, 4900, 50)
    np.testing.assert_allclose(D.spectral_energy(P), P.sum(-1), rtol=1e-6)
    band = (f >= 1000) & (f <= 2000)
    np.testing.assert_allclose(D.spectral_energy(P, f, 1000, 2000), P[:, band].sum(-1), rtol=1e-6)
    np.testing.assert_allclose(D.spectral_energy(P, f, fmin_hz=1000), P[:, f >= 1000].sum(-1), rtol=1e-6)
    np.testing.assert_allclose(D.spectral_energy(P, f, fmax_hz=1000), P[:, f <= 1000].sum(-1), rtol=1e-6)
    np.testing.assert_allclose(D.band_energy_ratio(P, f, 2500), P[:, f >= 2500].sum(-1) / P[:, f < 2500].sum(-1),
                               rtol=1e-5)
    np.testing.assert_allclose(D.high_frequency_content(P), P @ np.arange(50), rtol=1e-5)
    Q = rng.random((4, 50)).astype(np.float32)
    d = P - Q
    np.testing.assert_allclose(D.spectral_flux(P, Q), np.maximum(d, 0).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(D.spectral_flux(P, Q, rectify=False), np.abs(d).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(D.spectral_flux(P, Q, norm=2), np.sqrt((np.maximum(d, 0) ** 2).sum(-1)), rtol=1e-5)
    np.testing.assert_allclose(D.spectral_flux(P, Q, rectify=False, norm=3), (np.abs(d) ** 3).sum(-1) ** (1 / 3),
                               rtol=1e-5)
    np.testing.assert_allclose(D.modified_kl(P, Q), np.log(1 + P / (Q + 1e-10)).sum(-1), rtol=1e-5)
    # Known answers: energy appearing from silence.
    ones, zeros = np.ones(16, np.float32), np.zeros(16, np.float32)
    assert D.spectral_flux(ones, zeros) == 16 and D.spectral_flux(zeros, ones) == 0
    assert D.spectral_flux(zeros, ones, rectify=False) == 16
    assert D.spectral_flux(ones, zeros, norm=2) == pytest.approx(4.0)
    assert D.modified_kl(ones, zeros) == pytest.approx(16 * math.log1p(1e10), rel=1e-6)
    assert D.modified_kl(ones, ones) == pytest.approx(16 * math.log(2), rel=1e-6)


def test_band_flatness_is_flatness_of_each_band(rng):
    S = rng.random((3, 129)).astype(np.float32)
    f = fft_frequencies(16000, 256)
    edges = D.octave_band_edges(250.0, 4)
    np.testing.assert_allclose(edges, [250, 500, 1000, 2000, 4000])
    got = D.band_flatness(S, f, edges)
    for i in range(4):
        sel = (f >= edges[i]) & (f < edges[i + 1])
        np.testing.assert_allclose(got[:, i], D.spectral_flatness(S[:, sel]), rtol=1e-5)


def test_harmonic_ratio_equals_direct_autocorrelation(rng):
    sr, N = 16000, 512
    x = mixture(rng, sr, 0.1)
    fr = frame_signal(x, N, 128, center=False)[0, :5]
    got = D.harmonic_ratio(fr, sr, fmin_hz=60.0, fmax_hz=800.0)
    lo, hi = 20, min(266, N - 1)  # ceil(16000/800) .. floor(16000/60)
    for t in range(5):
        r = np.correlate(fr[t].astype(np.float64), fr[t].astype(np.float64), "full")[N - 1:]
        assert got[t] == pytest.approx(max(0.0, r[lo:hi + 1].max() / r[0]), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("threshold", [0.0, 0.1])
def test_zcr_of_one_frame_equals_the_batch(threshold, kernels, rng):
    # A live hop (one frame) may take the compiled count: the same crossings, exactly, on
    # noise, a sine, silence, a constant, values at +-threshold and -0.0, NaN and inf.
    n = 512
    x = rng.standard_normal((12, n)).astype(np.float32)
    x[1] = np.sin(np.arange(n) * 0.3)
    x[2] = 0.0
    x[3] = -1.0
    x[4, ::2] = -threshold
    x[5, ::3] = -0.0
    x[6, 100] = np.nan
    x[7, 200] = -np.inf
    batch = D.zero_crossing_rate(x, threshold)
    alone = [D.zero_crossing_rate(r[None, None], threshold)[0, 0] for r in x]
    np.testing.assert_array_equal(alone, batch)


def test_zcr_sign_convention():
    # Zero and values within the threshold count as positive; the first sample is not a crossing.
    x = np.array([[-1, 1, 0, -1, 1e-12, -1e-12, -1, -1]], np.float32)
    # signs (negative?): T F F T F F T T -> crossings at 1, 3, 4, 6 -> 4 / 8
    assert D.zero_crossing_rate(x)[0] == 0.5
    assert D.zero_crossing_rate(np.array([-0.0, 0.0, -0.0], np.float32)) == 0.0


# -- known answers: silence, full-scale white noise, DC, a sine --------------------------

SR, N_FFT, HOP = 48000, 2048, 512
F = fft_frequencies(SR, N_FFT)


@pytest.fixture
def signals(rng):
    n = SR // 2
    return {
        "silence": np.zeros(n, np.float32),
        "noise": rng.uniform(-1, 1, n).astype(np.float32),
        "dc": np.full(n, 0.5, np.float32),
        "sine": sine(1000.0, SR, n, amp=0.5),
    }


def analyse(x):
    """Interior frames (no centring pad) of every descriptor."""
    X = stft(x, N_FFT, HOP)[4:-4]
    S, P = np.abs(X), power(X)
    fr = frame_signal(x, N_FFT, HOP, center=True)[0, 4:-4]
    return {
        "bandwidth1": D.spectral_bandwidth(S, F, p=1), "spread": D.spectral_spread(S, F),
        "skewness": D.spectral_skewness(S, F), "kurtosis": D.spectral_kurtosis(S, F),
        "flatness": D.spectral_flatness(S), "band_flatness": D.band_flatness(S, F, D.octave_band_edges()),
        "crest": D.spectral_crest(S), "slope": D.spectral_slope(S, F), "decrease": D.spectral_decrease(S),
        "rolloff": D.spectral_rolloff(S, F), "rolloff50": D.spectral_rolloff(S, F, 0.5),
        "entropy": D.spectral_entropy(S), "contrast": D.spectral_contrast(S, F),
        "energy": D.spectral_energy(P), "band_energy": D.spectral_energy(P, F, 900.0, 1100.0),
        "ber": D.band_energy_ratio(P, F, 12000.0), "hfc": D.high_frequency_content(P),
        "flux": D.spectral_flux(S[1:], S[:-1]), "mkl": D.modified_kl(S[1:], S[:-1]),
        "zcr": D.zero_crossing_rate(fr), "peak": D.peak_level(fr), "hr": D.harmonic_ratio(fr, SR),
    }


def test_silence(signals):
    r = analyse(signals["silence"])
    for name, v in r.items():
        assert v.dtype == np.float32 and np.all(np.isfinite(v)), name
    for name in ("bandwidth1", "spread", "skewness", "kurtosis", "slope", "decrease", "rolloff", "entropy",
                 "contrast", "energy", "band_energy", "ber", "hfc", "flux", "mkl", "zcr", "peak", "hr"):
        assert np.all(r[name] == 0), name
    assert np.all(r["crest"] == 1.0)
    np.testing.assert_allclose(r["flatness"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(r["band_flatness"], 1.0, rtol=1e-5)
    assert np.all(r["flatness"] <= 1.0)
    assert D.spectral_rolloff(np.zeros((2, 4), np.float32), [50.0, 60, 70, 80])[0] == 50.0  # freqs_hz[0]


def test_full_scale_white_noise(signals):
    r = analyse(signals["noise"])
    for name, v in r.items():
        assert np.all(np.isfinite(v)), name
    top = SR / 2
    np.testing.assert_allclose(np.median(r["spread"]), top / math.sqrt(12), rtol=0.03)  # uniform over 0..sr/2
    np.testing.assert_allclose(np.median(r["bandwidth1"]), top / 4, rtol=0.03)
    assert np.all(np.abs(r["skewness"]) < 0.15)
    np.testing.assert_allclose(np.median(r["kurtosis"]), 1.8, atol=0.06)  # a uniform distribution's
    assert np.all((r["flatness"] > 0.5) & (r["flatness"] < 0.62))  # exp(-Euler gamma) = 0.56
    assert np.all((r["band_flatness"] > 0.2) & (r["band_flatness"] < 0.95))
    assert np.all((r["crest"] > 2) & (r["crest"] < 5))
    assert np.all(np.abs(r["slope"]) * len(F) * top < 0.3) and abs(np.median(r["slope"])) * len(F) * top < 0.1
    assert np.all(np.abs(r["decrease"]) < 0.05)
    np.testing.assert_allclose(np.median(r["rolloff"]), 0.85 * top, rtol=0.02)
    np.testing.assert_allclose(np.median(r["rolloff50"]), 0.5 * top, rtol=0.02)
    assert np.all(r["entropy"] > 0.95) and np.all(r["entropy"] <= 1)
    assert np.all(r["contrast"] > 0)
    np.testing.assert_allclose(np.median(r["ber"]), 1.0, atol=0.1)
    np.testing.assert_allclose(np.median(r["hfc"] / r["energy"]), len(F) / 2, rtol=0.05)
    assert np.all(r["flux"] > 0)
    np.testing.assert_allclose(np.median(r["zcr"]), 0.5, atol=0.02)
    assert np.all((r["peak"] > 0.99) & (r["peak"] <= 1.0))
    assert np.all(r["hr"] < 0.2)


def test_dc(signals):
    r = analyse(signals["dc"])
    for name, v in r.items():
        assert np.all(np.isfinite(v)), name
    # Hann window, centred frames: |X0| = A N/2, |X1| = A N/4, nothing else.
    a0, a1 = 0.5 * N_FFT / 2, 0.5 * N_FFT / 4
    np.testing.assert_allclose(r["rolloff50"], 0.0)
    np.testing.assert_allclose(r["rolloff"], F[1])  # 2/3 of the sum in bin 0 < 0.85
    np.testing.assert_allclose(r["energy"], a0 ** 2 + a1 ** 2, rtol=1e-5)
    np.testing.assert_allclose(r["crest"], a0 / ((a0 + a1) / len(F)), rtol=1e-4)
    assert np.all(r["flatness"] < 1e-6) and np.all(r["entropy"] < 0.15)
    assert np.all(r["ber"] < 1e-9)
    np.testing.assert_allclose(r["hfc"] / r["energy"], a1 ** 2 / (a0 ** 2 + a1 ** 2), rtol=1e-4)
    h = sum(1 / k for k in range(1, len(F)))
    np.testing.assert_allclose(r["decrease"], (a1 - a0 * h) / a1, rtol=1e-3)
    assert np.all(r["zcr"] == 0) and np.all(r["peak"] == 0.5) and np.all(r["flux"] == 0)
    np.testing.assert_allclose(r["hr"], 1 - 48 / N_FFT, rtol=1e-5)  # periodic at every lag; lag 48 = sr/fmax
    # An ideal one-bin DC spectrum: zero spread, so the higher moments are defined as 0.
    dc = np.zeros((3, len(F)), np.float32)
    dc[:, 0] = 5.0
    for fn in (D.spectral_bandwidth, D.spectral_spread, D.spectral_skewness, D.spectral_kurtosis,
               D.spectral_rolloff):
        assert np.all(fn(dc, F) == 0), fn.__name__
    assert np.all(D.spectral_entropy(dc) == 0) and np.all(D.spectral_decrease(dc) == 0)
    np.testing.assert_allclose(D.spectral_crest(dc), len(F))
    fc = F - F.mean()
    np.testing.assert_allclose(D.spectral_slope(dc, F), fc[0] / (fc @ fc), rtol=1e-5)


def test_single_sine(signals):
    r = analyse(signals["sine"])
    for name, v in r.items():
        assert np.all(np.isfinite(v)), name
    df = SR / N_FFT
    assert np.all(np.abs(r["rolloff"] - 1000) <= df) and np.all(np.abs(r["rolloff50"] - 1000) <= df)
    assert np.all(r["spread"] < 2 * df) and np.all(r["bandwidth1"] < df)
    assert np.all(r["flatness"] < 1e-6) and np.all(r["band_flatness"][:, 2] < 1e-4)
    assert np.all(r["crest"] > 100) and np.all(r["entropy"] < 0.3)
    # Energy: half of Parseval's N * sum((w x)**2) = 3 A**2 N**2 / 32 for a Hann window.
    np.testing.assert_allclose(r["energy"], 3 * 0.25 * N_FFT ** 2 / 32, rtol=1e-3)
    assert np.all(r["band_energy"] / r["energy"] > 0.999)
    assert np.all(r["ber"] < 1e-9)
    np.testing.assert_allclose(r["hfc"] / r["energy"], 1000 / df, rtol=1e-3)  # the sine's bin index
    assert np.all(r["contrast"][:, 3] > 40)  # band [800, 1600] Hz: 10 log10 of peak/valley magnitude
    assert np.all(r["slope"] < 0)  # all magnitude at the bottom of the band
    np.testing.assert_allclose(r["zcr"], 2 * 1000 / SR, atol=1 / N_FFT)
    np.testing.assert_allclose(r["peak"], 0.5, rtol=1e-3)
    np.testing.assert_allclose(r["hr"], 1 - 48 / N_FFT, rtol=1e-3)  # period 48 samples, taper (N-l)/N
    np.testing.assert_allclose(r["flux"], 0, atol=0.05)  # steady
    np.testing.assert_allclose(r["mkl"], len(F) * math.log(2), rtol=0.3)  # steady: about K log 2


# -- stages: streaming equals batch, contract --------------------------------------------

#: Frame counts per call: the shared block sizes, and small ones so that short inputs split.
frame_counts = st.one_of(block_sizes, st.lists(st.integers(0, 6), min_size=1, max_size=12))

STAGES = [lambda: D.Flux(), lambda: D.Flux(rectify=False, norm=2), lambda: D.Flux(log_compression=10.0),
          lambda: D.Flux(norm=0.5, log_compression=1.0), lambda: D.ModifiedKL(), lambda: D.ModifiedKL(eps=1e-3)]


def _frames_in(S, sizes):
    """(C, n, K) frames cut along the frame axis into consecutive (C, n_i, K) chunks."""
    return [np.moveaxis(c, 0, 1) for c in split(np.moveaxis(S, 1, 0), sizes)]


@pytest.mark.parametrize("kernels", KERNELS)
@given(sizes=frame_counts, n=st.integers(0, 60), which=st.integers(0, len(STAGES) - 1),
       seed=st.integers(0, 2 ** 32 - 1), channels=st.integers(1, 2))
def test_stage_streaming_equals_batch(kernels, sizes, n, which, seed, channels):
    # One channel's one-frame calls take the compiled kernels when they are on.
    S = (np.random.default_rng(seed).random((channels, n, 17)) ** 2).astype(np.float32)
    batch = STAGES[which]().process(S)
    stage = STAGES[which]()
    with use_kernels(kernels):
        parts = [stage.process(c) for c in _frames_in(S, sizes)]
        parts.append(stage.process(np.zeros((channels, 0, 17), np.float32)))  # an empty call changes nothing
    streamed = np.concatenate(parts, axis=1)
    assert batch.shape == streamed.shape == (channels, n) and streamed.dtype == np.float32
    np.testing.assert_allclose(streamed, batch, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("make", STAGES)
def test_stage_one_frame_at_a_time_equals_batch(make, kernels, rng):
    # A live hop (one channel, one frame) may take the compiled kernels: the batch's
    # values, frame by frame, through silence, energy after silence (the eps-bounded
    # ratio), a steady stretch and a NaN frame (NaN where the batch has NaN).
    S = (rng.random((1, 30, 65)) ** 2).astype(np.float32)
    S[0, 3:6] = 0.0
    S[0, 10:13] = S[0, 9]
    S[0, 20, 7] = np.nan
    with np.errstate(invalid="ignore"):
        batch = make().process(S)
        stage = make()
        alone = np.concatenate([stage.process(S[:, i : i + 1]) for i in range(S.shape[1])], axis=1)
    np.testing.assert_allclose(alone, batch, rtol=1e-6, atol=1e-6)


def test_stage_batch_is_the_kernel_against_the_previous_frame(rng):
    S = rng.random((3, 9, 20)).astype(np.float32)
    prev = np.concatenate([S[:, :1], S[:, :-1]], axis=1)  # the first frame against itself
    np.testing.assert_allclose(D.Flux().process(S), D.spectral_flux(S, prev), rtol=1e-6)
    L = np.log1p(5.0 * S)
    np.testing.assert_allclose(D.Flux(rectify=False, log_compression=5.0).process(S),
                               D.spectral_flux(L, np.concatenate([L[:, :1], L[:, :-1]], axis=1), rectify=False),
                               rtol=1e-5)
    np.testing.assert_allclose(D.ModifiedKL().process(S), D.modified_kl(S, prev), rtol=1e-6)
    assert np.all(D.Flux().process(S)[:, 0] == 0)
    np.testing.assert_allclose(D.ModifiedKL().process(S)[:, 0], D.modified_kl(S[:, 0], S[:, 0]), rtol=1e-6)


@pytest.mark.parametrize("make", STAGES)
def test_stage_contract(make, rng):
    stage = make()
    assert stage.causal is True and stage.latency_samples == 0 and stage.hop == 1
    S = rng.random((2, 7, 33)).astype(np.float32)
    S.flags.writeable = False  # input not mutated (a write would raise)
    a = stage.process(S)
    buf = stage._history._last
    assert stage.reset() is None and stage.reset() is None
    assert stage._history._last is buf  # reset() does not reallocate
    b = stage.process(S)
    np.testing.assert_array_equal(a, b)  # deterministic after reset
    assert stage.process(S[:, :0]).shape == (2, 0)  # never None
    with pytest.raises(ValueError, match="n_bins=33"):
        stage.process(rng.random((2, 3, 40)).astype(np.float32))
    with pytest.raises(ValueError, match="channels, n_frames, n_bins"):
        stage.process(S[0])
    stage.reset()
    assert stage.process(rng.random((1, 3, 40)).astype(np.float32)).shape == (1, 3)  # new shape after reset


# -- dtype, shapes, no mutation ----------------------------------------------------------

def _calls(f):
    edges = D.octave_band_edges(250.0, 3)
    return {
        "spectral_bandwidth": lambda S: D.spectral_bandwidth(S, f, p=3),
        "spectral_spread": lambda S: D.spectral_spread(S, f),
        "spectral_skewness": lambda S: D.spectral_skewness(S, f),
        "spectral_kurtosis": lambda S: D.spectral_kurtosis(S, f),
        "spectral_moments": lambda S: D.spectral_moments(S, f),
        "spectral_flatness": lambda S: D.spectral_flatness(S, power=1.5),
        "band_flatness": lambda S: D.band_flatness(S, f, edges),
        "spectral_crest": D.spectral_crest,
        "spectral_slope": lambda S: D.spectral_slope(S, f),
        "spectral_decrease": D.spectral_decrease,
        "spectral_rolloff": lambda S: D.spectral_rolloff(S, f),
        "spectral_entropy": D.spectral_entropy,
        "spectral_contrast": lambda S: D.spectral_contrast(S, f, n_bands=4),
        "spectral_energy": lambda S: D.spectral_energy(S, f, 100.0, 3000.0),
        "band_energy_ratio": lambda S: D.band_energy_ratio(S, f, 1000.0),
        "high_frequency_content": D.high_frequency_content,
        "spectral_flux": lambda S: D.spectral_flux(S, S[..., ::-1], norm=1.5),
        "modified_kl": lambda S: D.modified_kl(S, S[..., ::-1]),
        "zero_crossing_rate": lambda x: D.zero_crossing_rate(x - 0.5),
        "peak_level": D.peak_level,
        "harmonic_ratio": lambda x: D.harmonic_ratio(x, 16000, 100.0, 2000.0),
    }


def test_dtype_shape_and_no_mutation(rng):
    f = fft_frequencies(16000, 256)
    calls = _calls(f)
    assert set(calls) == set(D.__all__) - {"Flux", "ModifiedKL", "octave_band_edges", "contrast_bands",
                                           "contrast_from_bands"}
    extra = {"band_flatness": (3,), "spectral_contrast": (5,), "spectral_moments": (4,)}
    for lead in [(4, 6), (5,), ()]:
        S = rng.random(lead + (129,)).astype(np.float32)
        S.flags.writeable = False  # any write into the input raises
        for name, call in calls.items():
            out = np.asarray(call(S))
            assert out.dtype == np.float32, name
            assert out.shape == lead + extra.get(name, ()), name
            assert np.all(np.isfinite(out)), name
    S64 = rng.random((3, 129))
    assert D.spectral_spread(S64, f).dtype == np.float64 and D.spectral_rolloff(S64, f).dtype == np.float64


# -- bad parameters ----------------------------------------------------------------------

def test_bad_parameters_raise_config_error():
    S = np.ones((2, 129), np.float32)
    f = fft_frequencies(16000, 256)
    fr = np.ones((2, 512), np.float32)
    cases = [
        (lambda: D.spectral_bandwidth(S, f, p=0), "p=0 must be > 0"),
        (lambda: D.spectral_bandwidth(S, f, p=-1.5), "p=-1.5"),
        (lambda: D.spectral_bandwidth(S, f[:-1]), "freqs_hz shape"),
        (lambda: D.spectral_rolloff(S, f, roll_percent=0.0), "roll_percent=0.0"),
        (lambda: D.spectral_rolloff(S, f, roll_percent=1.0), "roll_percent=1.0"),
        (lambda: D.spectral_rolloff(S, f, roll_percent=1.5), "roll_percent"),
        (lambda: D.spectral_contrast(S, f, quantile=0.0), "quantile=0.0"),
        (lambda: D.spectral_contrast(S, f, quantile=1.0), "quantile=1.0"),
        (lambda: D.spectral_contrast(S, f, n_bands=0), "n_bands=0"),
        (lambda: D.spectral_contrast(S, f, n_bands=2.5), "n_bands=2.5"),
        (lambda: D.spectral_contrast(S, f, fmin_hz=0.0), "fmin_hz=0.0"),
        (lambda: D.spectral_contrast(S, f, fmin_hz=1000.0, n_bands=6), "fmin_hz=1000"),  # beyond Nyquist
        (lambda: D.spectral_contrast(S, f, fmin_hz=40.0), "band 0"),  # 62.5 Hz bins: one bin below 40 Hz
        (lambda: D.octave_band_edges(n_bands=0), "n_bands=0"),
        (lambda: D.octave_band_edges(fmin_hz=-1.0), "fmin_hz=-1.0"),
        (lambda: D.spectral_flatness(S, power=0), "power=0"),
        (lambda: D.spectral_flatness(S, amin=0), "amin=0"),
        (lambda: D.band_flatness(S, f, [1010.0, 1020.0]), "contains no bin"),
        (lambda: D.band_flatness(S, f, [1000.0, 500.0]), "edges_hz"),
        (lambda: D.band_flatness(S, f, [1000.0]), "edges_hz"),
        (lambda: D.spectral_energy(S, fmin_hz=100.0), "freqs_hz"),
        (lambda: D.spectral_energy(S, f, 2000.0, 1000.0), "fmax_hz=1000.0"),
        (lambda: D.spectral_energy(S, f, 1010.0, 1020.0), "contains no bin"),
        (lambda: D.band_energy_ratio(S, f, 0.0), "split_hz=0.0"),
        (lambda: D.band_energy_ratio(S, f, 9000.0), "split_hz=9000.0"),
        (lambda: D.spectral_flux(S, S, norm=0), "norm=0"),
        (lambda: D.modified_kl(S, S, eps=0), "eps=0"),
        (lambda: D.Flux(norm=-1), "norm=-1"),
        (lambda: D.Flux(log_compression=-1.0), "log_compression=-1.0"),
        (lambda: D.ModifiedKL(eps=-1e-3), "eps=-0.001"),
        (lambda: D.zero_crossing_rate(fr, threshold=-1.0), "threshold=-1.0"),
        (lambda: D.harmonic_ratio(fr, 0), "sample_rate=0"),
        (lambda: D.harmonic_ratio(fr, 16000, fmin_hz=0.0), "fmin_hz=0.0"),
        (lambda: D.harmonic_ratio(fr, 16000, fmin_hz=500.0, fmax_hz=400.0), "fmax_hz=400"),
        (lambda: D.harmonic_ratio(fr, 16000, fmax_hz=9000.0), "fmax_hz=9000"),
        (lambda: D.harmonic_ratio(fr[:, :100], 16000, fmin_hz=50.0, fmax_hz=100.0), "frame_length=100"),
        (lambda: D.spectral_bandwidth(S, f, p=float("nan")), "p=nan"),
    ]
    for call, match in cases:
        with pytest.raises(ConfigError, match=match):
            call()
    # Edge cases that are valid: a spectrum of one bin, a one-sample frame.
    one = np.ones((2, 1), np.float32)
    assert np.all(D.spectral_entropy(one) == 0) and np.all(D.spectral_slope(one, [100.0]) == 0)
    assert np.all(D.spectral_decrease(one) == 0)
    assert np.all(D.zero_crossing_rate(np.ones((2, 1), np.float32)) == 0)


def test_moments_in_one_pass_equal_the_single_descriptors(rng):
    from fluxstream.dsp.spectral import spectral_centroid

    f = fft_frequencies(16000, 256)
    S = rng.random((7, 129)).astype(np.float32)
    S[0] = 0.0  # silence
    S[1] = 0.0
    S[1, 40] = 1.0  # a single bin: zero spread
    m = D.spectral_moments(S, f)
    np.testing.assert_allclose(m[:, 0], spectral_centroid(S, f), rtol=1e-6)
    np.testing.assert_allclose(m[:, 1], D.spectral_spread(S, f), rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(m[:, 2], D.spectral_skewness(S, f))
    np.testing.assert_array_equal(m[:, 3], D.spectral_kurtosis(S, f))
    assert np.all(m[0] == 0) and m[1, 2] == 0 and m[1, 3] == 0

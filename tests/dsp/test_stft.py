import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.dsp.stft import Istft, Stft, stft
from fluxstream.errors import ConfigError
from tests.helpers import block_sizes, split

librosa = pytest.importorskip("librosa")


def naive_stft(x, n_fft, hop, window):
    """Loop reference: centred, zero-padded, direct DFT per frame (float64)."""
    xp = np.pad(x.astype(np.float64), n_fft // 2)
    n = 1 + (len(xp) - n_fft) // hop
    k = np.arange(n_fft // 2 + 1)[:, None] * np.arange(n_fft)[None, :]
    dft = np.exp(-2j * np.pi * k / n_fft)
    return np.stack([dft @ (xp[i * hop : i * hop + n_fft] * window) for i in range(n)])


def rel_err(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)


def stream_stft(st_, blocks, mono):
    outs = [st_.process(b) for b in blocks]
    outs.append(st_.flush(mono=mono))
    return np.concatenate(outs, axis=0)


@given(sizes=block_sizes, n=st.integers(0, 5000),
       params=st.sampled_from([(256, 64, None), (512, 128, 300), (64, 100, 50), (2048, 512, None)]),
       center=st.booleans())
def test_streaming_equals_batch(fft_backend, sizes, n, params, center):
    n_fft, hop, win = params
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    ref = stft(x, n_fft, hop, win, center=center, backend=fft_backend)
    got = stream_stft(Stft(n_fft, hop, win, center=center, backend=fft_backend), split(x, sizes), True)
    assert got.shape == ref.shape
    # Same kernels on the same frames: equal up to FFT batch-shape round-off.
    np.testing.assert_allclose(got, ref, atol=1e-5 * max(1.0, np.abs(ref).max(initial=0.0)), rtol=0)


def test_batch_equals_direct_dft():
    x = np.random.default_rng(5).standard_normal(3000).astype(np.float32)
    w = scipy.signal.get_window("hann", 256, fftbins=True)
    assert rel_err(stft(x, 256, 64), naive_stft(x, 256, 64, w)) < 2e-6


@pytest.mark.parametrize("n_fft,hop,win,window,center", [
    (2048, 512, None, "hann", True), (512, 128, None, "hamming", True), (1024, 256, 600, "hann", True),
    (4096, 1024, None, "blackman", False), (256, 100, None, "kaiser(8)", True), (512, 512, None, "hann", False),
])
def test_equals_librosa(fft_backend, n_fft, hop, win, window, center):
    x = np.random.default_rng(7).standard_normal(22050).astype(np.float32)
    lwin = ("kaiser", 8.0) if window.startswith("kaiser") else window
    ref = librosa.stft(x, n_fft=n_fft, hop_length=hop, win_length=win, window=lwin,
                       center=center, pad_mode="constant").T
    got = stft(x, n_fft, hop, win, window, center, backend=fft_backend)
    assert got.shape == ref.shape and got.dtype == np.complex64
    assert rel_err(got, ref) < 2e-6


def test_equals_scipy_short_time_fft(fft_backend):
    x = np.random.default_rng(8).standard_normal(8000).astype(np.float32)
    w = scipy.signal.get_window("hann", 512, fftbins=True)
    got = stft(x, 512, 128, backend=fft_backend)
    sft = scipy.signal.ShortTimeFFT(w, 128, fs=1.0, mfft=512, fft_mode="onesided", phase_shift=None)
    ref = sft.stft(x, p0=0, p1=got.shape[0]).T  # slice p is centred on sample p * hop
    assert rel_err(got, ref) < 2e-6


def test_multichannel_equals_per_channel(rng):
    x = rng.standard_normal((4000, 3)).astype(np.float32)
    got = stft(x, 256, 64)
    assert got.shape[1:] == (3, 129)
    for c in range(3):
        np.testing.assert_allclose(got[:, c], stft(x[:, c], 256, 64), atol=1e-5)


def test_known_answer_sine_peak_bin():
    sr, n_fft = 16000, 1024
    k = 64  # bin 64 = 1000 Hz
    x = np.sin(2 * np.pi * k * sr / n_fft * np.arange(sr) / sr).astype(np.float32)
    X = np.abs(stft(x, n_fft, 256))
    assert np.all(np.argmax(X[4:-4], axis=1) == k)
    # Hann window: the peak of a bin-centred unit sine is n_fft/4.
    np.testing.assert_allclose(X[4:-4, k], n_fft / 4, rtol=1e-4)


def test_reset_gives_identical_results(rng):
    x = rng.standard_normal(5000).astype(np.float32)
    s = Stft(512, 128)
    a = stream_stft(s, split(x, [300]), True)
    s.reset()
    b = stream_stft(s, split(x, [300]), True)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kw,match", [
    ({"n_fft": 0}, "n_fft"), ({"hop_length": 0}, "hop_length"), ({"win_length": 4096}, "win_length"),
    ({"window": "nope"}, "window"), ({"n_fft": 512.0}, "n_fft"),
])
def test_bad_parameters(kw, match):
    with pytest.raises(ConfigError, match=match):
        Stft(**kw)


# --- inverse -------------------------------------------------------------------------------


@given(sizes=block_sizes, n=st.integers(1, 6000),
       params=st.sampled_from([(512, 128, "hann"), (256, 64, "hamming"), (1024, 256, "blackman"),
                               (512, 256, "hann"), (300, 75, "hann")]),
       center=st.booleans())
def test_inverse_reconstructs_any_partition(fft_backend, sizes, n, params, center):
    n_fft, hop, window = params
    x = np.random.default_rng(n).uniform(-1, 1, n).astype(np.float32)
    fwd = Stft(n_fft, hop, window=window, center=center, backend=fft_backend)
    inv = Istft(n_fft, hop, window=window, center=center, backend=fft_backend)
    ys, fed = [], 0
    for b in split(x, sizes):
        ys.append(inv.process(fwd.process(b)))
        fed += len(b)
        emitted = sum(map(len, ys))
        # Stated latency: whole-hop input is out after latency_samples; other blocks add < hop.
        assert emitted >= fed - inv.latency_samples - (hop - 1) - (0 if center else n_fft)
    ys.append(inv.process(fwd.flush(mono=True)))
    ys.append(inv.flush(end_sample=n, mono=True))
    y = np.concatenate(ys)
    # Without centring, the first and last n_fft - hop samples lack full window overlap.
    lo, hi = (0, n) if center else (n_fft, n - n_fft)
    if hi > lo:
        err = np.abs(y[lo:hi] - x[lo:hi]).max() / max(np.abs(x[lo:hi]).max(), 1e-12)
        assert err < 1e-5
    if center:
        assert len(y) == n


def test_inverse_latency_with_whole_hops(rng):
    x = rng.uniform(-1, 1, 512 * 90).astype(np.float32)
    fwd, inv = Stft(2048, 512), Istft(2048, 512)
    out = 0
    for i in range(0, len(x), 512):
        out += len(inv.process(fwd.process(x[i : i + 512])))
        assert out == max(0, i + 512 - inv.latency_samples)


def test_inverse_equals_librosa_istft(rng):
    x = rng.standard_normal(10000).astype(np.float32)
    X = stft(x, 1024, 256)
    ref = librosa.istft(X.T, hop_length=256, window="hann", center=True, length=len(x))
    inv = Istft(1024, 256)
    y = np.concatenate([inv.process(X), inv.flush(end_sample=len(x), mono=True)])
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_inverse_rejects_gapped_hop_and_wrong_shape():
    with pytest.raises(ConfigError, match="hop_length"):
        Istft(256, 300)
    with pytest.raises(ValueError, match="n_bins"):
        Istft(256, 64).process(np.zeros((2, 100), np.complex64))

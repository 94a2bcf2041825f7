import numpy as np
import pytest

from fluxstream.dsp import spectral
from fluxstream.dsp.framing import frame_signal
from fluxstream.dsp.stft import stft
from tests.helpers import sine

librosa = pytest.importorskip("librosa")


@pytest.mark.parametrize("sr,n_fft,hop", [(22050, 2048, 512), (16000, 512, 128), (48000, 4096, 1024),
                                          (44100, 1024, 441)])
def test_rms_equals_librosa(sr, n_fft, hop, rng):
    x = rng.standard_normal(sr).astype(np.float32) * 0.3
    got = spectral.frame_rms(frame_signal(x, n_fft, hop, True))[0]
    ref = librosa.feature.rms(y=x, frame_length=n_fft, hop_length=hop, center=True, pad_mode="constant")[0]
    np.testing.assert_allclose(got, ref, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("sr,n_fft,hop", [(22050, 2048, 512), (16000, 512, 128), (48000, 4096, 1024)])
def test_centroid_equals_librosa(sr, n_fft, hop, rng):
    x = rng.standard_normal(sr).astype(np.float32)
    S = np.abs(stft(x, n_fft, hop))
    got = spectral.spectral_centroid(S, spectral.fft_frequencies(sr, n_fft))
    ref = librosa.feature.spectral_centroid(S=S.T, sr=sr, n_fft=n_fft)[0]
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_centroid_of_one_frame_equals_the_batch(kernels, rng):
    # A live hop (one frame) may take the compiled pass (float64 sums): the batch's values
    # within float32 round-off on noise, a single bin, silence (0 Hz), subnormal totals
    # (0 Hz); NaN and inf frames give the batch's NaN.
    f = spectral.fft_frequencies(48000, 1024)
    S = np.abs(rng.standard_normal((10, f.size))).astype(np.float32)
    S[1] = 0.0
    S[1, 77] = 2.0
    S[2] = 0.0
    S[3] = 1e-44
    S[4, 9] = np.nan
    S[5, 9] = np.inf
    with np.errstate(invalid="ignore"):
        batch = spectral.spectral_centroid(S, f)
        alone = [spectral.spectral_centroid(s[None, None], f)[0, 0] for s in S]
    np.testing.assert_allclose(alone, batch, rtol=1e-6)
    assert batch[1] == np.float32(f[77]) and batch[2] == batch[3] == 0.0


def test_power_of_one_frame_equals_the_batch(kernels, rng):
    # A live hop may take the compiled pass: re**2 + im**2 rounded as numpy rounds it, bit
    # for bit, with inf and NaN parts and a scalar as well.
    X = (rng.standard_normal((6, 257)) + 1j * rng.standard_normal((6, 257))).astype(np.complex64) * 1e3
    X[1, 3] = complex(np.inf, 1.0)
    X[2, 4] = complex(1.0, np.nan)
    X[3] = 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        batch = spectral.power(X)
        alone = np.concatenate([spectral.power(x[None, None])[0] for x in X])
    np.testing.assert_array_equal(alone, batch)
    assert spectral.power(np.complex64(3 + 4j)) == 25.0


def test_fft_frequencies_equal_librosa():
    np.testing.assert_allclose(spectral.fft_frequencies(44100, 1024), librosa.fft_frequencies(sr=44100, n_fft=1024))


def test_power_and_db_equal_librosa(rng):
    X = stft(rng.standard_normal(8000).astype(np.float32), 512, 128)
    P = spectral.power(X)
    np.testing.assert_allclose(P, np.abs(X) ** 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(spectral.power_to_db(P), librosa.power_to_db(P, ref=1.0, amin=1e-10, top_db=None),
                               atol=1e-4)
    np.testing.assert_allclose(spectral.power_to_db(P, ref=4.0),
                               librosa.power_to_db(P, ref=4.0, amin=1e-10, top_db=None), atol=1e-4)
    with pytest.raises(ValueError, match="amin"):
        spectral.power_to_db(P, amin=0)


def test_known_answers_sine_dc_silence():
    sr = 48000
    frames = frame_signal(sine(1000, sr, sr, amp=0.5), 2048, 512, True)[0, 4:-4]
    np.testing.assert_allclose(spectral.frame_rms(frames), 0.5 / np.sqrt(2), rtol=2e-3)
    S = np.abs(stft(sine(1000, sr, sr), 2048, 512))[4:-4]
    c = spectral.spectral_centroid(S, spectral.fft_frequencies(sr, 2048))
    np.testing.assert_allclose(c, 1000, rtol=0.01)
    # DC: centroid at 0 Hz (all energy in bin 0 with a rectangular window).
    dc = np.zeros((3, 1025), np.float32)
    dc[:, 0] = 5.0
    assert np.all(spectral.spectral_centroid(dc, spectral.fft_frequencies(sr, 2048)) == 0)
    # Silence: defined, never NaN.
    zero = np.zeros((4, 1025), np.float32)
    assert np.all(spectral.spectral_centroid(zero, spectral.fft_frequencies(sr, 2048)) == 0)
    assert np.all(spectral.frame_rms(np.zeros((4, 2048), np.float32)) == 0)


def test_full_scale_noise_is_finite(rng):
    x = rng.uniform(-1, 1, 48000).astype(np.float32)
    S = np.abs(stft(x, 2048, 512))
    c = spectral.spectral_centroid(S, spectral.fft_frequencies(48000, 2048))
    assert np.all(np.isfinite(c)) and 10000 < np.median(c) < 14000  # white: about sr/4


def test_kernels_do_not_mutate_input(rng):
    S = np.abs(rng.standard_normal((5, 65))).astype(np.float32)
    keep = S.copy()
    spectral.spectral_centroid(S, spectral.fft_frequencies(8000, 128))
    spectral.power_to_db(S)
    spectral.frame_rms(S)
    np.testing.assert_array_equal(S, keep)

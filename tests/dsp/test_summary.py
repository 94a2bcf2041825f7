"""The one-pass spectral summary equals the individual descriptor kernels, column by
column, on both of its code paths (few frames: Python floats; many: numpy), for every
special frame (silence, DC only, one bin, flat, a sine, noise) and on band scales."""

import numpy as np
import pytest

from fluxstream.dsp import descriptors as D
from fluxstream.dsp.spectral import fft_frequencies, spectral_centroid
from fluxstream.dsp.summary import _SCALAR_FRAMES, SUMMARY_COLUMNS, SummaryKernel, spectral_summary
from fluxstream.dsp.stft import stft
from fluxstream.errors import ConfigError

REFERENCE = {
    "centroid": lambda S, f: spectral_centroid(S, f),
    "spread": lambda S, f: D.spectral_spread(S, f),
    "skewness": lambda S, f: D.spectral_skewness(S, f),
    "kurtosis": lambda S, f: D.spectral_kurtosis(S, f),
    "slope": lambda S, f: D.spectral_slope(S, f),
    "decrease": lambda S, f: D.spectral_decrease(S),
    "crest": lambda S, f: D.spectral_crest(S),
    "flatness": lambda S, f: D.spectral_flatness(S),
    "entropy": lambda S, f: D.spectral_entropy(S),
}


def special_frames(rng, sr=48000, n_fft=2048):
    K = n_fft // 2 + 1
    t = np.arange(n_fft) / sr
    rows = [
        np.zeros(K),  # silence
        np.eye(1, K, 0)[0],  # DC only
        np.eye(1, K, 300)[0] * 3.0,  # a single bin
        np.eye(1, K, K - 1)[0],  # Nyquist only
        np.ones(K),  # flat
        np.full(K, 1e-42),  # subnormal magnitudes whose total is below float32's tiny
        np.abs(np.fft.rfft(np.hanning(n_fft) * np.sin(2 * np.pi * 1000 * t))),
        np.abs(np.fft.rfft(np.hanning(n_fft) * np.sin(2 * np.pi * 20000 * t))),  # narrow, high
        np.abs(np.fft.rfft(np.hanning(n_fft) * rng.standard_normal(n_fft))) * 50,
        np.abs(rng.standard_normal(K)) * 1e-6,
    ]
    return np.array(rows, dtype=np.float32)


# Skewness and kurtosis of a narrow peak far from 0 Hz are sensitive to the centroid's
# float32 rounding (the reference kernels themselves move by ~4e-5 between batch sizes);
# values near 0 are compared at an absolute level: dimensionless ones at 1e-6, the others
# at 1e-6 of the column's largest value.
RTOL = {"skewness": 1e-4, "kurtosis": 1e-4}
SCALED = {"centroid", "spread", "slope"}


def check_columns(got, S, f):
    for j, name in enumerate(SUMMARY_COLUMNS):
        want = REFERENCE[name](S, f)
        atol = 1e-6 * (np.abs(want).max() if name in SCALED else 1.0)
        np.testing.assert_allclose(got[..., j], want, rtol=RTOL.get(name, 2e-5), atol=atol, err_msg=name)


@pytest.mark.parametrize("n_frames", [1, 2, _SCALAR_FRAMES, _SCALAR_FRAMES + 1, 11])
def test_equals_individual_kernels_on_special_frames(n_frames, kernels, rng):
    f = fft_frequencies(48000, 2048)
    S = special_frames(rng)
    S = np.concatenate([S] * (1 + n_frames // len(S)))[:n_frames][None]  # (1, n, K)
    check_columns(SummaryKernel(f)(S), S, f)


def test_both_paths_agree_frame_by_frame(kernels, rng):
    # The Python-float path (one frame at a time; or the compiled kernels) and the numpy
    # path (all at once) give the same values, so a live stream and a file agree.
    f = fft_frequencies(48000, 2048)
    S = special_frames(rng)[None]
    k = SummaryKernel(f)
    one = np.concatenate([k(S[:, i : i + 1]) for i in range(S.shape[1])], axis=1)
    many = k(S)
    scale = np.abs(many).max(axis=1, keepdims=True)
    bad = np.abs(one - many) > 1e-6 * np.abs(many) + 1e-6 * scale
    assert not bad.any(), (np.argwhere(bad), one[bad], many[bad])


def test_real_spectra_and_multichannel(rng):
    sr, n_fft, hop = 22050, 1024, 256
    t = np.arange(sr // 2) / sr
    x = np.stack([0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(t.size),
                  0.2 * rng.standard_normal(t.size)]).astype(np.float32)
    S = np.moveaxis(np.abs(stft(x.T, n_fft, hop)), 1, 0)  # (channels, frames, bins)
    f = fft_frequencies(sr, n_fft)
    check_columns(spectral_summary(S, f), S, f)


def test_band_scale_frequencies(rng):
    f = np.geomspace(50, 8000, 40)  # any ascending band centres
    S = np.abs(rng.standard_normal((2, 6, 40))).astype(np.float32)
    check_columns(spectral_summary(S, f), S, f)


def test_float64_input_stays_float64(rng):
    f = fft_frequencies(16000, 512)
    S = np.abs(rng.standard_normal((3, 257)))
    out = spectral_summary(S, f)
    assert out.dtype == np.float64 and out.shape == (3, len(SUMMARY_COLUMNS))
    check_columns(out, S, f)


def test_input_not_mutated(rng):
    S = np.abs(rng.standard_normal((1, 3, 257))).astype(np.float32)
    keep = S.copy()
    spectral_summary(S, fft_frequencies(16000, 512))
    np.testing.assert_array_equal(S, keep)


@pytest.mark.parametrize("freqs", [np.zeros((2, 3)), np.array([]), np.array([0.0, np.nan])])
def test_bad_frequencies(freqs):
    with pytest.raises(ConfigError, match="freqs_hz"):
        SummaryKernel(freqs)


def test_shape_mismatch_and_bad_amin():
    k = SummaryKernel(np.arange(5.0))
    with pytest.raises(ConfigError, match="does not match"):
        k(np.ones((2, 6), dtype=np.float32))
    with pytest.raises(ConfigError, match="amin"):
        SummaryKernel(np.arange(5.0), amin=0.0)

"""Online CQT/VQT (fluxstream.dsp.cqt.Cqt), constant-Q chroma and CENS."""

import functools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxstream.dsp.cqt import (C1_HZ, ChromaCens, ChromaCqt, Cqt, chroma_cens_batch, cq_to_chroma_matrix,
                                cqt_batch, cqt_frequencies, cqt_lengths, decimate_halfband, halfband_lowpass,
                                vqt_gamma)
from fluxstream.dsp.framing import Framer, frame_signal
from fluxstream.errors import ConfigError
from tests.helpers import block_sizes, split

# A small configuration for the exactness and streaming tests: 4 octaves from C2 at 8 kHz
# (frame_length ~ 3.4k samples) keeps them fast; the librosa comparisons use the defaults.
SMALL = dict(fmin_hz=65.40639132514966, n_bins=48)
SR_SMALL = 8000

#: Chunk sizes in frames for the CENS streaming test.
frame_sizes = st.lists(st.one_of(st.integers(0, 2), st.integers(1, 9), st.integers(10, 80)), min_size=1, max_size=10)


@pytest.fixture(scope="module")
def librosa():
    return pytest.importorskip("librosa")


def music(sr, dur_s, seed=0, notes=(45, 52, 57, 64, 72), noise=0.01):
    """Harmonic notes (5 partials, 1/h amplitudes, random phases) changing every 0.5 s, over
    a chord, plus white noise: a music-like signal in equal temperament (A440)."""
    rng = np.random.default_rng(seed)
    n = int(dur_s * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    for i, m in enumerate(notes):
        f0 = 440.0 * 2 ** ((m - 69) / 12)
        env = np.ones(n) if i < 3 else ((t // 0.5) % 2 == (i % 2)).astype(float)
        for h in range(1, 6):
            if f0 * h < sr / 2.2:
                y += env * 0.3 / h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
    y += noise * rng.standard_normal(n)
    return (y / 4).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _cqt(sr, **kw):
    return Cqt(sr, **kw)


def cqt(sr, **kw):
    return _cqt(sr, **kw)


def db(x):
    return 20 * np.log10(np.maximum(x, 1e-6))


def frame_corr(a, b):
    return np.array([np.corrcoef(a[k], b[k])[0, 1] for k in range(len(a))])


# -- helpers vs librosa -----------------------------------------------------------------

def test_frequencies_and_lengths_equal_librosa(librosa):
    for n, fmin, bpo, tuning in [(84, C1_HZ, 12, 0.0), (252, C1_HZ, 36, -0.2), (7, 100.0, 5, 0.3)]:
        f = cqt_frequencies(n, fmin, bpo, tuning)
        np.testing.assert_allclose(f, librosa.cqt_frequencies(n, fmin=fmin, bins_per_octave=bpo, tuning=tuning),
                                   rtol=1e-13)
        for gamma in (0.0, 7.5, None):
            ref, _ = librosa.filters.wavelet_lengths(freqs=f, sr=22050, filter_scale=1.5, gamma=gamma)
            np.testing.assert_allclose(cqt_lengths(f, 22050, bpo, 1.5, gamma), ref, rtol=1e-12)
    r = 2 ** (1 / 6)  # alpha at 12 bins per octave: (r - 1) / (r + 1) = 0.0577
    assert vqt_gamma(12) == pytest.approx(24.7 * (r - 1) / (r + 1) / 0.108, rel=1e-12)


def test_halfband_filter_is_halfband_flat_and_attenuates():
    g = halfband_lowpass()
    n = np.arange(g.size) - g.size // 2
    assert np.all(g[(n % 2 == 0) & (n != 0)] == 0) and np.allclose(g, g[::-1])
    f = np.linspace(0, 0.5, 4001)
    H = np.abs(np.exp(-2j * np.pi * np.outer(f, n)) @ g)
    assert np.max(np.abs(H[f <= 0.125] - 1)) < 1e-5
    assert np.max(H[f >= 0.375]) < 10 ** (-100 / 20)


def test_decimate_halfband_is_independent_of_the_span(rng):
    y = rng.standard_normal((2, 400)).astype(np.float32)
    whole = decimate_halfband(y, -100, -40, 140)  # samples -100..299 -> -40..139
    part = decimate_halfband(y[:, 100:250], 0, 10, 60)
    np.testing.assert_array_equal(whole[:, 50:100], part)
    direct = np.convolve(y[0].astype(np.float64), halfband_lowpass())[15:-15][::2]  # index 0 = sample -100
    np.testing.assert_allclose(whole[0], direct[10:190], atol=1e-6)


# -- exactness: frames, batch reference, file mode, streaming ----------------------------

@pytest.mark.parametrize("output", ["magnitude", "complex"])
def test_process_equals_direct_batch_reference(output, rng):
    sr = SR_SMALL
    cq = cqt(sr, output=output, **SMALL)
    x = (0.3 * rng.standard_normal((2500, 2))).astype(np.float32)
    ref = cqt_batch(x, sr, 200, output=output, **SMALL)
    got = cq.process(frame_signal(x, cq.frame_length, 200))
    assert got.shape == ref.shape == (2, 1 + 2500 // 200, 48)
    assert got.dtype == (np.complex64 if output == "complex" else np.float32)
    np.testing.assert_allclose(got, ref, atol=2e-6 * np.abs(ref).max())


def test_transform_equals_process_on_frames(rng):
    sr = SR_SMALL
    cq = cqt(sr, **SMALL)
    x = (0.3 * rng.standard_normal((3001, 2))).astype(np.float32)
    for hop in (128, 100):  # 128: one cascade (multiple of 2**3); 100: the chunked fallback
        ref = cq.process(frame_signal(x, cq.frame_length, hop))
        got = cq.transform(x, hop)
        np.testing.assert_allclose(got, ref, atol=1e-6 * ref.max())
    assert cq.transform(x[:0], 128).shape == (2, 1, 48)


@settings(max_examples=10)
@given(sizes=block_sizes)
def test_streaming_equals_batch(sizes):
    sr = SR_SMALL
    cq = cqt(sr, **SMALL)
    x = music(sr, 0.6, seed=3)[:, None]
    framer = Framer(cq.frame_length, 128, channels=1, max_block=256)
    outs = []
    for block in split(x, sizes):
        frames, _ = framer.process(block)
        outs.append(cq.process(frames))
    frames, _ = framer.flush()
    outs.append(cq.process(frames))
    got = np.concatenate(outs, axis=1)
    ref = cq.transform(x, 128)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-6 * ref.max())


def test_reset_gives_identical_results_and_input_untouched(rng):
    cq = cqt(SR_SMALL, **SMALL)
    frames = rng.standard_normal((1, 3, cq.frame_length)).astype(np.float32)
    keep = frames.copy()
    a = cq.process(frames)
    assert cq.reset() is None
    np.testing.assert_array_equal(a, cq.process(frames))
    np.testing.assert_array_equal(frames, keep)
    assert cq.process(frames[:, :0]).shape == (1, 0, 48)


# -- known answers -----------------------------------------------------------------------

def test_sine_at_a_bin_has_amplitude_sqrt_length_over_two():
    """scale=True, norm=1: a sine A sin(2 pi f_b t) gives |X_b| = A sqrt(L_b) / 2 (the
    L1-normalised kernel's inner product is A/2; scale divides L_b by sqrt(L_b))."""
    sr = SR_SMALL
    cq = cqt(sr, sparsity=0.0, **SMALL)
    t = np.arange(3 * sr) / sr
    for b in (2, 17, 30, 45):
        y = (0.5 * np.sin(2 * np.pi * cq.freqs_hz[b] * t + 0.3)).astype(np.float32)
        X = cq.transform(y, 128)[0]
        mid = X[len(X) // 2]
        assert int(mid.argmax()) == b
        assert mid[b] == pytest.approx(0.5 * math.sqrt(cq.lengths[b]) / 2, rel=2e-3)


def test_click_response_is_centred_and_low_bins_are_longer():
    """An impulse at a frame's centre: the magnitudes are the kernels' window peaks, and
    frames reached by the click lie within each bin's latency."""
    sr = SR_SMALL
    cq = cqt(sr, **SMALL)
    hop = 64
    x = np.zeros(4 * sr, np.float32)
    k_click = 100
    x[k_click * hop] = 1.0
    X = cq.transform(x, hop)[0]
    peak_frame = X.argmax(axis=0)
    assert np.all(peak_frame == k_click)
    for b in (0, 20, 47):
        reach = cq.bin_latency_samples[b] // hop
        # beyond the window's reach only the sparsified tails remain (< 2 % of the peak)
        assert X[k_click + reach + 2, b] < 0.02 * X[k_click, b]
        assert X[k_click + reach // 2, b] > 0.2 * X[k_click, b]
    assert cq.bin_latency_samples[0] > cq.bin_latency_samples[-1]


def test_silence_is_zero():
    cq = cqt(SR_SMALL, **SMALL)
    X = cq.process(np.zeros((1, 2, cq.frame_length), np.float32))
    assert np.all(X == 0)


def test_latency_attributes():
    cq = cqt(22050)
    np.testing.assert_array_equal(cq.bin_latency_samples, np.ceil(cq.lengths / 2).astype(int))
    assert cq.latency_samples == cq.bin_latency_samples[0] == 5843
    assert cq.frame_length % 2 == 0 and cq.frame_length // 2 >= cq.latency_samples
    assert cq.causal is False and cq.octave_levels == (0, 1, 2, 3, 4, 5, 6)
    assert cqt(44100).octave_levels == (1, 2, 3, 4, 5, 6, 7)  # librosa's early downsampling


# -- against librosa -----------------------------------------------------------------------

def interior(X, cq, hop=512):
    """Frames whose longest kernel lies inside the signal. At the edges librosa's resampler
    truncates each octave's signal to ``ceil(n / 2)`` samples, dropping the decimation
    filter's smear before the start and after the end, which the direct inner product
    (and this module, frame by frame) keeps: the low bins differ there on abrupt edges."""
    m = -(-cq.latency_samples // hop)
    return X[m:len(X) - m]


@pytest.mark.parametrize("sr, dur_s, kw, lkw", [
    (22050, 2.0, {}, {}),
    (22050, 2.0, {"gamma": None}, {"gamma": None}),
    (22050, 3.5, {"bins_per_octave": 36, "n_bins": 252, "filter_scale": 1.5},
     {"bins_per_octave": 36, "n_bins": 252, "filter_scale": 1.5}),
    (44100, 2.0, {"norm": 2, "scale": False}, {"norm": 2, "scale": False}),
])
def test_magnitudes_match_librosa(librosa, sr, dur_s, kw, lkw):
    y = music(sr, dur_s)
    cq = cqt(sr, **kw)
    got = cq.transform(y, 512)[0]
    fn = librosa.vqt if "gamma" in lkw else librosa.cqt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.abs(fn(y, sr=sr, hop_length=512, **lkw)).T
    assert got.shape == ref.shape
    assert frame_corr(db(got), db(ref)).min() >= 0.95  # all frames, edges included
    g, r = interior(got, cq), interior(ref, cq)
    assert frame_corr(db(g), db(r)).min() >= 0.99
    ratio = g.sum() / r.sum()
    assert abs(ratio - 1) < 0.002, ratio
    # where librosa's magnitude is within 40 dB of the peak, bins agree to 1 %
    big = r > 0.01 * r.max()
    np.testing.assert_allclose(g[big], r[big], rtol=0.01)


def test_complex_output_matches_librosa_phase(librosa):
    sr = 22050
    y = music(sr, 2.0)
    cq = cqt(sr, output="complex")
    got = interior(cq.transform(y, 512)[0], cq)
    ref = interior(librosa.cqt(y, sr=sr, hop_length=512).T, cq)
    big = np.abs(ref) > 0.05 * np.abs(ref).max()
    assert np.abs(np.angle(got[big] / ref[big])).max() < 0.02


def test_pure_tones_peak_bins_equal_librosa(librosa):
    sr = 22050
    t = np.arange(sr) / sr
    cq = cqt(sr)
    for f in (41.2, 98.0, 233.08, 440.0, 1318.5, 3520.0):
        y = (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)
        got = cq.transform(y, 512)[0].argmax(axis=1)
        ref = np.abs(librosa.cqt(y, sr=sr, hop_length=512)).T.argmax(axis=1)
        expect = round(12 * math.log2(f / C1_HZ))
        mid = slice(len(got) // 2 - 3, len(got) // 2 + 3)
        assert np.all(got[mid] == expect) and np.all(ref[mid] == expect)
        np.testing.assert_array_equal(got[8:-8], ref[8:-8])


# -- chroma --------------------------------------------------------------------------------

def test_cq_to_chroma_matrix_equals_librosa(librosa):
    for n, bpo, nc, fmin in [(252, 36, 12, C1_HZ), (84, 12, 12, C1_HZ), (50, 24, 12, 55.0), (60, 12, 12, 100.0),
                             (72, 36, 6, 440.0), (40, 24, 24, 30.0)]:
        ref = librosa.filters.cq_to_chroma(n, bins_per_octave=bpo, n_chroma=nc, fmin=fmin)
        np.testing.assert_array_equal(cq_to_chroma_matrix(n, bpo, nc, fmin), ref)


@pytest.fixture(scope="module")
def lib_cq36(librosa):
    y = music(22050, 3.0, seed=1)
    return y, np.abs(librosa.cqt(y, sr=22050, hop_length=512, n_bins=252, bins_per_octave=36))


@pytest.mark.parametrize("norm, threshold", [(np.inf, 0.0), (1, 0.0), (2, 0.05), (None, 0.1)])
def test_chroma_folding_equals_librosa(librosa, lib_cq36, norm, threshold):
    _, C = lib_cq36
    ref = librosa.feature.chroma_cqt(C=C, norm=norm, threshold=threshold).T
    got = ChromaCqt(norm=norm, threshold=threshold).process(C.T[None].astype(np.float32))[0]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * ref.max())


def test_chroma_pipeline_correlates_with_librosa(librosa, lib_cq36):
    y, _ = lib_cq36
    X = Cqt(22050, n_bins=252, bins_per_octave=36).transform(y, 512)
    got = ChromaCqt().process(X)[0]
    ref = librosa.feature.chroma_cqt(y=y, sr=22050, hop_length=512).T
    assert frame_corr(got, ref).min() >= 0.98


def test_chroma_known_answer():
    S = np.zeros((1, 2, 252), np.float32)
    S[0, 0, [27, 27 + 36, 27 + 72]] = 1.0  # A in three octaves (C1 + 27 thirds of a semitone)
    S[0, 1, 34] = 2.0  # B + 1/3 semitone: folds to B (bin 35, B + 2/3, is nearer C)
    got = ChromaCqt().process(S)[0]
    np.testing.assert_array_equal(got, np.eye(12, dtype=np.float32)[[9, 11]])


def test_cens_postprocessing_equals_librosa(librosa, lib_cq36):
    _, C = lib_cq36
    chroma = librosa.feature.chroma_cqt(C=C, norm=None)
    for kw in ({}, {"win_len_smooth": 20}, {"win_len_smooth": 7, "norm": 1}):
        ref = librosa.feature.chroma_cens(C=C, **kw).T
        cens = ChromaCens(**kw)
        got = np.concatenate([cens.process(chroma.T[None]), cens.flush()], axis=1)[0]
        assert cens.delay_frames == kw.get("win_len_smooth", 41) // 2
        np.testing.assert_allclose(got, ref, atol=1e-5)
        np.testing.assert_allclose(chroma_cens_batch(chroma.T, **kw), ref, atol=1e-5)


@given(sizes=frame_sizes, d=st.sampled_from([1, 3]))
def test_cens_streaming_equals_batch(sizes, d):
    rng = np.random.default_rng(5)
    chroma = rng.gamma(0.6, 1.0, (2, 150, 12)).astype(np.float32)
    cens = ChromaCens(downsample=d, win_len_smooth=9)
    outs = [cens.process(c.transpose(1, 0, 2)) for c in split(chroma.transpose(1, 0, 2), sizes)]
    got = np.concatenate(outs + [cens.flush()], axis=1)
    ref = chroma_cens_batch(chroma, win_len_smooth=9, downsample=d)
    assert got.shape == ref.shape == (2, math.ceil(150 / d), 12)
    np.testing.assert_allclose(got, ref, atol=1e-6)


def test_cens_delay_and_reset():
    cens = ChromaCens()
    x = np.zeros((1, 30, 12), np.float32)
    x[..., 9] = 1.0
    assert cens.process(x).shape == (1, 30 - 20, 12)
    assert cens.latency_samples == 20 * 512
    tail = cens.flush()
    assert tail.shape == (1, 20, 12)
    with pytest.raises(RuntimeError):
        cens.process(x)
    cens.reset()
    a = cens.process(x)
    cens.reset()
    np.testing.assert_array_equal(a, cens.process(x))
    np.testing.assert_allclose(a[0, :, 9], 1.0)  # one class: L2-normalised to 1


def test_cens_pipeline_correlates_with_librosa(librosa, lib_cq36):
    y, _ = lib_cq36
    X = Cqt(22050, n_bins=252, bins_per_octave=36).transform(y, 512)
    chroma = ChromaCqt(norm=None).process(X)
    cens = ChromaCens()
    got = np.concatenate([cens.process(chroma), cens.flush()], axis=1)[0]
    ref = librosa.feature.chroma_cens(y=y, sr=22050, hop_length=512).T
    assert frame_corr(got, ref).min() >= 0.98


# -- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("kw, msg", [
    ({"sample_rate": 0}, r"sample_rate=0 must be > 0 \(Hz\)"),
    ({"fmin_hz": -1.0}, r"fmin_hz=-1.0 must be > 0 \(Hz\)"),
    ({"n_bins": 0}, r"n_bins=0 must be an integer >= 1 \(bins\)"),
    ({"bins_per_octave": 2.5}, r"bins_per_octave=2.5 must be an integer >= 1"),
    ({"filter_scale": 0}, r"filter_scale=0 must be > 0"),
    ({"gamma": -2.0}, r"gamma=-2.0 must be >= 0 or None \(Hz\)"),
    ({"norm": 3}, r"norm=3 is not supported"),
    ({"sparsity": 1.0}, r"sparsity=1.0 must be in \[0, 1\)"),
    ({"output": "power"}, r"output='power' must be 'magnitude' or 'complex'"),
    ({"window": "hanning"}, r"window='hanning' is not a known window"),
    ({"n_bins": 102}, r"above the Nyquist frequency 11025 Hz"),
    ({"backend": "numpy"}, r"backend='numpy' is not an FFT backend"),
])
def test_bad_parameters(kw, msg):
    kw = {"sample_rate": 22050, **kw}
    with pytest.raises(ConfigError, match=msg):
        Cqt(**kw)


def test_bad_inputs():
    cq = cqt(SR_SMALL, **SMALL)
    with pytest.raises(ValueError, match="frame_length="):
        cq.process(np.zeros((1, 2, 100), np.float32))
    with pytest.raises(ConfigError, match=r"hop_length=0 must be an integer >= 1 \(samples\)"):
        cq.transform(np.zeros(100, np.float32), 0)
    with pytest.raises(ConfigError, match="must be a multiple of n_chroma=12"):
        ChromaCqt(bins_per_octave=20, n_bins=100)
    with pytest.raises(ConfigError, match=r"win_len_smooth=0 must be an integer >= 1 \(frames\)"):
        ChromaCens(win_len_smooth=0)
    with pytest.raises(ConfigError, match=r"downsample=0 must be an integer >= 1"):
        ChromaCens(downsample=0)
    with pytest.raises(ValueError, match="n_bins=252"):
        ChromaCqt().process(np.zeros((1, 2, 84), np.float32))

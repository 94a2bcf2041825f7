import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.dsp.chroma import (Chroma, TuningEstimator, chroma_filterbank, chroma_stft_batch, fold_octaves,
                                   normalize_frames)
from fluxstream.dsp.spectral import power
from fluxstream.dsp.stft import stft as _stft
from fluxstream.errors import ConfigError
from tests.helpers import sine, split

librosa = pytest.importorskip("librosa")


def stft(y, n_fft, hop):
    """The batch STFT on the scipy backend: these tests are not about the FFT (test_stft.py
    runs both backends), and pyfftw plans every new batch shape (~0.2 s each)."""
    return _stft(y, n_fft, hop, backend="scipy")

#: Chunk sizes in frames: empty chunks, single frames, a few, many.
frame_sizes = st.lists(st.one_of(st.integers(0, 2), st.integers(1, 9), st.integers(10, 80)), min_size=1, max_size=10)


def harmonic_melody(sr, tuning, dur_s=2.0, seed=0, notes=(57, 60, 64, 67, 69, 72, 62, 65)):
    """Harmonic notes (5 partials, 1/h), all detuned by ``tuning`` semitones, plus -60 dB
    noise: what an out-of-tune instrument gives."""
    rng = np.random.default_rng(seed)
    n = int(sr * dur_s)
    seg = n // len(notes)
    t = np.arange(seg) / sr
    y = np.zeros(n)
    for i, m in enumerate(notes):
        f0 = 440.0 * 2 ** ((m - 69 + tuning) / 12)
        for h in range(1, 6):
            y[i * seg : (i + 1) * seg] += np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 2 * np.pi)) / h
    y += 1e-3 * rng.standard_normal(n)
    return (0.2 * y).astype(np.float32)


def frames_in_chunks(P, sizes):
    """(C, n, F) -> chunks along the frame axis (at least one, possibly empty)."""
    return [np.moveaxis(b, 0, 1) for b in split(np.moveaxis(P, 1, 0), sizes)] or [P]


# --- filterbank ----------------------------------------------------------------------------


@pytest.mark.parametrize("sr,n_fft,kw", [
    (22050, 2048, {}),
    (16000, 512, dict(n_chroma=24, tuning=0.3)),
    (44100, 4096, dict(n_chroma=36, octwidth=None)),
    (48000, 1024, dict(base_c=False, norm=1, ctroct=4.0, octwidth=1.5, tuning=-0.4)),
    (22050, 2047, dict(norm=np.inf)),
    (48000, 4096, dict(n_chroma=24, norm=None, octwidth=None, base_c=False)),
    (16000, 1000, dict(n_chroma=5)),
    (8000, 2, {}),
])
def test_filterbank_equals_librosa(sr, n_fft, kw):
    got = chroma_filterbank(sr, n_fft, **kw)
    ref = librosa.filters.chroma(sr=sr, n_fft=n_fft, **kw)
    assert got.shape == ref.shape == (kw.get("n_chroma", 12), n_fft // 2 + 1) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("norm", [np.inf, 1, 2, None, 2.0, float("inf")])
def test_normalize_frames_equals_librosa(norm, rng):
    X = rng.gamma(1.0, 1.0, (2, 30, 12)).astype(np.float32)
    X[0, 3] = 0.0  # silent frame: stays 0
    X[1, 4] = 1e-39  # subnormal frame: below float32 tiny, left as is
    X[1, 5] = -X[1, 5]  # negative values: norms use |x|
    got = normalize_frames(X, norm)
    ref = librosa.util.normalize(np.swapaxes(X, -1, -2), norm=norm, axis=-2, fill=None)
    assert got.dtype == np.float32 and got is not X
    np.testing.assert_allclose(got, np.swapaxes(ref, -1, -2), rtol=2e-7, atol=0)
    assert np.all(got[0, 3] == 0) and np.all(np.isfinite(got))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_normalize_frames_of_one_frame_equals_the_batch(dtype, rng):
    # A live hop (one frame, max norm) divides by a Python float: bit for bit the batch's
    # float64 quotient rounded to the output dtype, over a wide range of levels, with
    # silence, a subnormal frame and negative values.
    X = rng.standard_normal((200, 12)) * 10.0 ** rng.uniform(-30, 30, (200, 1))
    X[0], X[1], X[2, 3] = 0.0, 1e-39, -5.0
    X = X.astype(dtype) if dtype != np.int64 else rng.integers(-5, 6, (200, 12))
    batch = normalize_frames(X, np.inf)
    alone = np.array([normalize_frames(r[None, None], np.inf)[0, 0] for r in X])
    assert alone.dtype == batch.dtype
    np.testing.assert_array_equal(alone, batch)


@pytest.mark.parametrize("sr,n_fft,hop,tuning,norm,n_chroma", [
    (22050, 2048, 512, 0.0, np.inf, 12),
    (16000, 512, 128, 0.2, 2, 12),
    (44100, 4096, 1024, -0.3, 1, 24),
    (48000, 1024, 256, 0.0, None, 36),
    (48000, 2048, 480, 0.1, np.inf, 12),
])
def test_chroma_stft_batch_equals_librosa(sr, n_fft, hop, tuning, norm, n_chroma, rng):
    y = np.concatenate([0.1 * rng.standard_normal(sr // 4), harmonic_melody(sr, 0.0, 0.5)]).astype(np.float32)
    P = power(stft(y, n_fft, hop))
    P[3] = 0.0  # a silent frame
    ref = librosa.feature.chroma_stft(S=P.T, sr=sr, tuning=tuning, norm=norm, n_chroma=n_chroma)
    got = chroma_stft_batch(P, chroma_filterbank(sr, n_fft, n_chroma, tuning), norm)
    assert got.shape == ref.T.shape and got.dtype == np.float32
    # Two float32 matrix products over n_bins with different summation orders, then the
    # same normalisation: a few ulp of the frame's scale.
    np.testing.assert_allclose(got, ref.T, rtol=1e-5, atol=1e-6 * np.abs(ref).max())
    assert np.all(got[3] == 0)
    # The stage at a fixed tuning is the same kernel.
    st_ = Chroma(sr, n_fft, n_chroma, tuning=tuning, norm=norm)
    np.testing.assert_array_equal(st_.process(P[None])[0], got)


@given(sizes=frame_sizes, seed=st.integers(0, 1000), channels=st.integers(1, 2))
def test_stage_fixed_tuning_streaming_equals_batch(sizes, seed, channels):
    rng = np.random.default_rng(seed)
    P = (rng.gamma(0.3, 1.0, (channels, 90, 257)) * 10).astype(np.float32)
    stage = Chroma(16000, 512, tuning=0.1, norm=2)
    got = np.concatenate([stage.process(p) for p in frames_in_chunks(P, sizes)], axis=1)
    np.testing.assert_allclose(got, chroma_stft_batch(P, stage.fb, 2), rtol=1e-6, atol=1e-7)


# --- tuning --------------------------------------------------------------------------------


@pytest.mark.parametrize("sr,n_fft,hop", [(22050, 2048, 512), (16000, 1024, 256), (44100, 2048, 512),
                                          (48000, 4096, 1024)])
@pytest.mark.parametrize("tuning", [0.2, -0.3])
def test_tuning_converges_on_detuned_harmonic_tones(sr, n_fft, hop, tuning):
    P = power(stft(harmonic_melody(sr, tuning), n_fft, hop))[None]
    est = TuningEstimator(sr, n_fft, hop_length=hop).process(P)
    assert est.shape == (1, P.shape[1]) and est.dtype == np.float32
    after_1s = int(np.ceil(sr / hop))
    assert np.all(np.abs(est[0, after_1s:] - tuning) <= 0.02 + 1e-6), est[0, after_1s:]


def test_tuning_per_channel_and_state():
    sr, n_fft, hop = 22050, 2048, 512
    P = np.stack([power(stft(harmonic_melody(sr, t, seed=s), n_fft, hop)) for s, t in ((1, 0.2), (2, -0.3))])
    te = TuningEstimator(sr, n_fft)
    assert te.tuning is None
    est = te.process(P)
    np.testing.assert_allclose(te.tuning, [0.2, -0.3], atol=0.02)
    np.testing.assert_allclose(est[:, -1], [0.2, -0.3], atol=0.02)
    assert te.reset() is None and te.tuning is None
    np.testing.assert_array_equal(te.process(P), est)  # deterministic after reset


@given(sizes=frame_sizes, seed=st.integers(0, 3))
def test_tuning_streaming_equals_batch(sizes, seed):
    sr, n_fft, hop = 16000, 512, 128
    tuning = (-0.4, -0.1, 0.25, 0.45)[seed]
    P = power(stft(harmonic_melody(sr, tuning, 0.8, seed=seed), n_fft, hop))[None]
    batch = TuningEstimator(sr, n_fft).process(P)
    te = TuningEstimator(sr, n_fft)
    got = np.concatenate([te.process(p) for p in frames_in_chunks(P, sizes)], axis=1)
    np.testing.assert_array_equal(got, batch)  # bit for bit, by construction


def test_tuning_silence_and_peakless_input_is_zero(rng):
    te = TuningEstimator(22050, 2048)
    assert np.all(te.process(np.zeros((2, 20, 1025), np.float32)) == 0.0)
    np.testing.assert_array_equal(te.tuning, [0.0, 0.0])
    # DC and content outside fmin..fmax give no peaks either: still 0.
    P = np.zeros((2, 5, 1025), np.float32)
    P[..., 0] = 1.0
    P[..., 1000] = 1.0
    assert np.all(te.process(P) == 0.0)
    # A single exact A440 partial: 0 (to the resolution).
    sr, n_fft = 22050, 4096
    P = power(stft(sine(440.0, sr, sr // 2), n_fft, 1024))[None]
    assert np.all(np.abs(TuningEstimator(sr, n_fft).process(P)) <= 0.01)


def test_tuning_histogram_wraps_at_half_a_bin():
    # Tones at +0.49 and -0.49 semitone are 0.02 apart on the circle: their histogram bins
    # are neighbours across the +-0.5 seam, the estimate lands there, never in between.
    sr, n_fft, hop = 22050, 4096, 1024
    P = power(stft(harmonic_melody(sr, 0.49, 1.0) + harmonic_melody(sr, -0.49, 1.0, seed=3), n_fft, hop))[None]
    est = TuningEstimator(sr, n_fft).process(P)[0, 10:]
    assert np.all((est >= 0.46) | (est <= -0.46)), est


# --- the stage with online tuning ----------------------------------------------------------


@functools.lru_cache(maxsize=1)
def online_case():
    """Two channels detuned differently, and the per-frame reference: each frame's chroma
    with the filterbank at the (batch) estimator's tuning for that frame."""
    sr, n_fft, hop = 16000, 1024, 256
    P = np.stack([power(stft(harmonic_melody(sr, t, 0.6, seed=s), n_fft, hop)) for s, t in ((1, 0.2), (2, -0.3))])
    est = TuningEstimator(sr, n_fft).process(P)
    want = np.empty(P.shape[:2] + (12,), np.float32)
    for c in range(2):
        for i in range(P.shape[1]):
            want[c, i] = chroma_stft_batch(P[c, i], chroma_filterbank(sr, n_fft, 12, float(est[c, i])), np.inf)
    return sr, n_fft, P, want


@given(sizes=frame_sizes)
def test_online_tuning_chroma_streams_and_follows_the_estimate(sizes):
    sr, n_fft, P, want = online_case()
    stage = Chroma(sr, n_fft, tuning=None, norm=np.inf)
    got = np.concatenate([stage.process(p) for p in frames_in_chunks(P, sizes)], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_online_tuning_rebuilds_only_on_change(monkeypatch):
    sr, n_fft, hop = 22050, 2048, 512
    P = power(stft(harmonic_melody(sr, 0.2), n_fft, hop))[None]
    stage = Chroma(sr, n_fft, tuning=None)
    built = []
    orig = stage._filterbank
    monkeypatch.setattr(stage, "_filterbank", lambda j: built.append(j) or orig(j))
    for i in range(P.shape[1]):  # one frame at a time, as live
        stage.process(P[:, i : i + 1])
    idx = stage.estimator.process_index  # the sequence of estimates, recomputed
    stage.estimator.reset()
    seq = idx(P)[0]
    assert len(built) == 1 + np.count_nonzero(np.diff(seq))
    assert stage.estimator.index_to_tuning(built[-1]) == pytest.approx(0.2, abs=0.02)


@pytest.mark.parametrize("kind", ["silence", "dc", "sine", "noise"])
@pytest.mark.parametrize("tuning", [0.0, None])
def test_finite_on_known_signals(kind, tuning, rng):
    sr, n_fft = 22050, 2048
    y = {"silence": np.zeros(sr, np.float32), "dc": np.full(sr, 0.5, np.float32),
         "sine": sine(440.0, sr, sr), "noise": rng.standard_normal(sr).astype(np.float32)}[kind]
    P = power(stft(y, n_fft, 512))[None]
    out = Chroma(sr, n_fft, tuning=tuning).process(P)
    assert out.shape == (1, P.shape[1], 12) and out.dtype == np.float32 and np.all(np.isfinite(out))
    if kind == "silence":
        assert np.all(out == 0)
    if kind == "sine":  # A440: class 9 with base_c (C = 0), class 0 from A
        assert np.all(np.argmax(out[0, 2:-2], axis=-1) == 9)
        a_based = Chroma(sr, n_fft, tuning=tuning, base_c=False).process(P)
        assert np.all(np.argmax(a_based[0, 2:-2], axis=-1) == 0)


def test_stage_contract(rng):
    P = (rng.gamma(0.5, 1.0, (2, 7, 1025))).astype(np.float32)
    keep = P.copy()
    for stage in (Chroma(), Chroma(tuning=None, hop_length=256), TuningEstimator(hop_length=256)):
        assert stage.causal is True and stage.latency_samples == 0 and stage.hop in (512, 256)
        a = stage.process(P)
        np.testing.assert_array_equal(P, keep)
        assert stage.reset() is None and stage.reset() is None
        np.testing.assert_array_equal(stage.process(P), a)
        assert stage.process(P[:, :0]).shape[:2] == (2, 0)
        with pytest.raises(ValueError, match="n_bins"):
            stage.process(P[..., :-1])


# --- octave folding ------------------------------------------------------------------------


@pytest.mark.parametrize("bpo,n_chroma", [(12, 12), (24, 12), (36, 12), (48, 12), (24, 24), (36, 36)])
@pytest.mark.parametrize("fmin_note", ["C1", "A1", "E2", "F#0"])
def test_fold_octaves_equals_librosa_cq_to_chroma(bpo, n_chroma, fmin_note, rng):
    n_bands = 7 * bpo + 5
    S = rng.gamma(1.0, 1.0, (3, n_bands)).astype(np.float32)
    first = float(librosa.note_to_midi(fmin_note) % 12)
    M = librosa.filters.cq_to_chroma(n_bands, bins_per_octave=bpo, n_chroma=n_chroma,
                                  fmin=librosa.note_to_hz(fmin_note))
    got = fold_octaves(S, bpo, n_chroma, first_bin_pitch_class=first)
    assert got.shape == (3, n_chroma) and got.dtype == np.float32
    np.testing.assert_allclose(got, S @ M.T, rtol=1e-6)


def test_fold_octaves_known_answers():
    # 36 bands per octave from C: band 3k is exactly on class k, 3k +- 1 are a third off.
    S = np.zeros((2, 36 * 4), np.float32)
    S[0, 3 * 9 + 36 * np.arange(4)] = 1.0  # A in four octaves
    S[0, 3 * 9 + 1 + 36] = 0.5  # a third of a semitone sharp: still A
    S[0, 3 * 4 - 1] = 0.25  # a third flat of E: still E
    S[1] = 1.0  # flat spectrum: 3 bands x 4 octaves per class
    out = fold_octaves(S, 36)
    want = np.zeros(12, np.float32)
    want[9], want[4] = 4.5, 0.25
    np.testing.assert_array_equal(out[0], want)
    np.testing.assert_array_equal(out[1], 12.0)
    # 24 bands per octave: the band half way between two classes goes to the upper one.
    S = np.zeros(24, np.float32)
    S[1] = 1.0  # C + 50 cents -> C#
    np.testing.assert_array_equal(fold_octaves(S, 24), np.eye(12, dtype=np.float32)[1])
    # Band 0 at A (9): band 3 is C (0).
    S = np.zeros(12, np.float32)
    S[3] = 2.0
    assert fold_octaves(S, 12, first_bin_pitch_class=9.0)[0] == 2.0


# --- bad parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("call,match", [
    (lambda: chroma_filterbank(22050, 2048, n_chroma=0), r"n_chroma=0 must be an integer >= 1"),
    (lambda: chroma_filterbank(22050, 2048, norm="l2"), r"norm='l2' is not supported: must be one of inf, 1, 2, None"),
    (lambda: chroma_filterbank(22050, 2048, norm=3), r"norm=3 is not supported"),
    (lambda: chroma_filterbank(22050, 2048, octwidth=0), r"octwidth=0 must be a finite number > 0"),
    (lambda: chroma_filterbank(0, 2048), r"sample_rate=0 must be a finite number > 0 \(Hz\)"),
    (lambda: chroma_filterbank(22050, 1), r"n_fft=1 must be an integer >= 2 \(samples\)"),
    (lambda: chroma_filterbank(22050, 2048, tuning=float("nan")), r"tuning=nan"),
    (lambda: normalize_frames(np.ones((2, 3)), "max"), r"norm='max' is not supported"),
    (lambda: normalize_frames(np.ones((2, 3)), True), r"norm=True is not supported"),
    (lambda: Chroma(n_chroma=0), r"n_chroma=0"),
    (lambda: Chroma(norm=0), r"norm=0 is not supported"),
    (lambda: Chroma(hop_length=0), r"hop_length=0"),
    (lambda: TuningEstimator(resolution=0.03), r"resolution=0.03 must be in \(0, 0.5\] and divide 1"),
    (lambda: TuningEstimator(resolution=0), r"resolution=0 must be a finite number > 0"),
    (lambda: TuningEstimator(threshold=1.0), r"threshold=1.0 must be a number in \[0, 1\)"),
    (lambda: TuningEstimator(22050, fmax_hz=12000), r"fmax_hz=12000 must be in \(fmin_hz=150.0, sample_rate/2=11025.0\]"),
    (lambda: TuningEstimator(fmin_hz=-1), r"fmin_hz=-1"),
    (lambda: TuningEstimator(bins_per_octave=0), r"bins_per_octave=0"),
    (lambda: Chroma(tuning=None, fmin_hz=5000), r"fmax_hz=4000.0 must be in \(fmin_hz=5000"),
    (lambda: fold_octaves(np.ones(36), 36, n_chroma=0), r"n_chroma=0"),
    (lambda: fold_octaves(np.ones(36), 30), r"bins_per_octave=30 must be a multiple of n_chroma=12"),
    (lambda: fold_octaves(np.ones(36), 36, first_bin_pitch_class=float("inf")), r"first_bin_pitch_class=inf"),
])
def test_bad_parameters(call, match):
    with pytest.raises(ConfigError, match=match):
        call()

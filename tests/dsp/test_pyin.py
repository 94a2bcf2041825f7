"""pYIN with online fixed-lag decoding, median smoothing and the tuning tracker
(fluxstream.dsp.pyin): kernels against naive references, streaming against batch over
random partitions, librosa.pyin for plausibility."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxstream.dsp import pyin as Y
from fluxstream.dsp.framing import frame_signal
from fluxstream.errors import ConfigError
from tests.helpers import split

#: Chunk sizes in frames: empty chunks, single frames, a few, many.
frame_sizes = st.lists(st.one_of(st.integers(0, 2), st.integers(1, 7), st.integers(8, 60)),
                       min_size=1, max_size=10)


def tone(f0, sr, n, amps=(0.4, 0.2, 0.1), seed=0):
    ph = np.random.default_rng(seed).uniform(0, 2 * np.pi, len(amps))
    t = np.arange(n) / sr
    y = sum(a * np.sin(2 * np.pi * (h + 1) * f0 * t + p) for h, (a, p) in enumerate(zip(amps, ph)))
    return y.astype(np.float32)


def cents(f, ref):
    return 1200.0 * np.log2(np.asarray(f, dtype=np.float64) / ref)


def in_chunks(x, sizes):
    """(C, n, ...) -> chunks along the frame axis (at least one, possibly empty)."""
    return [np.moveaxis(b, 0, 1) for b in split(np.moveaxis(x, 1, 0), sizes)] or [x]


def run(stage, x, sizes):
    outs = [stage.process(p) for p in in_chunks(x, sizes)]
    if hasattr(stage, "flush"):
        outs.append(stage.flush())
    return np.concatenate(outs, axis=1)


def melody(sr=16000, hop=256, N=1024):
    """Two channels: notes, a glide, silence and noise (every decoder path gets used)."""
    rng = np.random.default_rng(3)
    seg = sr // 4
    parts = [tone(220.0, sr, seg), np.zeros(seg // 2, np.float32), tone(330.0, sr, seg),
             (0.2 * rng.standard_normal(seg // 2)).astype(np.float32), tone(247.0, sr, seg, seed=1)]
    glide_t = np.arange(seg) / sr
    parts.append((0.4 * np.sin(2 * np.pi * (300 * glide_t + 150 * glide_t ** 2))).astype(np.float32))
    y = np.concatenate(parts)
    return np.concatenate([frame_signal(y, N, hop), frame_signal(0.5 * y[::-1].copy(), N, hop)])


# --- kernels ------------------------------------------------------------------------------

def test_beta_prior_equals_scipy_stats():
    stats = pytest.importorskip("scipy.stats")
    s, p = Y.beta_threshold_prior(100, 2, 18)
    np.testing.assert_allclose(s, np.arange(1, 101) / 100)
    np.testing.assert_allclose(p, np.diff(stats.beta.cdf(np.linspace(0, 1, 101), 2, 18)), atol=1e-14)
    assert p.sum() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="n_thresholds"):
        Y.beta_threshold_prior(0)


def naive_candidates(cmnd, s, p, no_trough):
    """pYIN's definition, threshold by threshold: YIN's pick is the first trough below it."""
    n = len(cmnd)
    tr = [i for i in range(n) if (0 < i < n - 1 and cmnd[i] < cmnd[i - 1] and cmnd[i] <= cmnd[i + 1])
          or (i == 0 and n > 1 and cmnd[0] < cmnd[1]) or (i == n - 1 and n > 1 and cmnd[i] < cmnd[i - 1])]
    mass = np.zeros(n)
    for si, pi in zip(s, p):
        below = [i for i in tr if cmnd[i] < si]
        if below:
            mass[below[0]] += pi
        elif tr:
            mass[min(tr, key=lambda i: (cmnd[i], i))] += no_trough * pi
    return mass


def test_candidates_equal_the_threshold_by_threshold_definition(rng):
    s, p = Y.beta_threshold_prior(100, 2, 18)
    for trial in range(30):
        c = np.abs(rng.standard_normal(60)) * rng.uniform(0.1, 1.0)
        c[rng.integers(0, 60, 3)] = rng.uniform(0, 0.2, 3)  # a few deep troughs
        got = Y.pyin_candidates(c, c, s, p, 0.01)
        np.testing.assert_allclose(got, naive_candidates(c, s, p, 0.01), atol=1e-12)
        assert got.sum() <= 1.0 + 1e-12
    flat = np.ones((2, 40))  # silence: no trough, no mass
    np.testing.assert_array_equal(Y.pyin_candidates(flat, flat, s, p, 0.01), 0.0)


def dense_step(delta, n, H, switch):
    """The HMM's transition matrix written out, and one max-product step (no observation)."""
    k = (H + 1.0 - np.abs(np.arange(-H, H + 1))) / (H + 1.0)  # the triangle
    T = np.zeros((n, n))
    for i in range(n):
        for j in range(max(0, i - H), min(n, i + H + 1)):
            T[i, j] = k[j - i + H]
        T[i] /= T[i].sum()
    A = np.kron(np.array([[1 - switch, switch], [switch, 1 - switch]]), T)
    with np.errstate(divide="ignore"):
        logA = np.log(A)
    scores = delta[:, None] + logA
    return scores.max(axis=0), scores.argmax(axis=0), logA


@pytest.mark.parametrize("n,H", [(12, 2), (30, 5), (7, 6)])
def test_viterbi_step_equals_dense_max_product(n, H, rng):
    p = Y.PYin(sample_rate=16000, frame_length=1024, hop_length=256, fmin_hz=100.0,
               fmax_hz=100.0 * 2 ** ((n - 1) * 0.2 / 12) + 1e-6, resolution=0.2,
               max_transition_rate=2 * H * 0.2 * 16000 / (12 * 256), backend="scipy")
    assert p.n_bins == n and p.transition_half_width == H
    for trial in range(5):
        delta = rng.standard_normal((2, 2 * n)) * 3
        obs = rng.standard_normal((2, 2 * n))
        got, bp = Y.viterbi_step(delta, p._log_kernel, p._log_norm, p._log_stay, p._log_switch, obs)
        for c in range(2):
            ref, _, logA = dense_step(delta[c], n, H, p.switch_prob)
            np.testing.assert_allclose(got[c], ref + obs[c], rtol=1e-12, atol=1e-12)
            # The backpointer reaches the maximum (ties may pick another arg of equal value).
            np.testing.assert_allclose(delta[c][bp[c]] + logA[bp[c], np.arange(2 * n)], ref, atol=1e-12)


def test_online_decoder_equals_offline_viterbi(rng):
    # A lag longer than the stream: flush() backtracks the whole path, which must be the
    # offline Viterbi path over the same observations (dense reference).
    sr, hop, N = 16000, 256, 1024
    x = melody(sr, hop, N)[:1, :60]
    p = Y.PYin(sample_rate=sr, frame_length=N, hop_length=hop, lag_s=100.0, backend="scipy")
    rows = run(p, x, [60])
    msum, fsum, V = p._observe(x)
    n = p.n_bins
    with np.errstate(divide="ignore"):
        obs = np.concatenate([np.log(msum[0]), np.repeat(np.log((1 - V[0]) / n)[:, None], n, 1)], axis=1)
    delta = obs[0] - np.log(2 * n)
    back = []
    for t in range(1, obs.shape[0]):
        m, a, _ = dense_step(delta, n, p.transition_half_width, p.switch_prob)
        delta = m + obs[t]
        back.append(a)
    path = [int(np.argmax(delta))]
    for a in reversed(back):
        path.append(int(a[path[-1]]))
    path = path[::-1]
    voiced = np.array(path) < n
    np.testing.assert_array_equal(rows[0, :, 2] == 1.0, voiced)
    centres = p.bin_hz[np.array(path)[voiced]]
    assert np.all(np.abs(cents(rows[0, voiced, 0], centres)) <= 0.1 * 100 + 1e-6)  # inside the bin


# --- PYin on signals ------------------------------------------------------------------------

@pytest.mark.parametrize("sr,f0", [(16000, 98.0), (16000, 440.0), (44100, 185.0), (48000, 660.0),
                                   (48000, 1500.0)])
def test_steady_tone_within_10_cents_and_silence_unvoiced(sr, f0):
    hop, N = 512, 2048
    y = np.concatenate([np.zeros(sr // 4, np.float32), tone(f0, sr, sr // 2), np.zeros(sr // 4, np.float32)])
    p = Y.PYin(sample_rate=sr, frame_length=N, hop_length=hop, backend="scipy")
    rows = run(p, frame_signal(y, N, hop), [7])[0]
    k = np.arange(rows.shape[0]) * hop  # frame centres
    steady = (k >= sr // 4 + N) & (k <= 3 * sr // 4 - N)
    silent = (k + N // 2 < sr // 4) | (k - N // 2 > 3 * sr // 4)
    assert np.all(rows[steady, 2] == 1.0)
    assert np.abs(cents(rows[steady, 0], f0)).max() < 10.0
    assert np.all(rows[steady, 1] > 0.9)
    assert np.all(rows[silent, 2] == 0.0) and np.all(rows[silent, 0] == 0.0)


def test_white_noise_is_mostly_unvoiced(rng):
    y = (0.3 * rng.standard_normal(48000)).astype(np.float32)
    rows = run(Y.PYin(backend="scipy"), frame_signal(y, 2048, 512), [100])[0]
    assert (rows[:, 2] == 1.0).mean() < 0.1
    assert np.all(rows[rows[:, 2] == 0, 0] == 0.0)


@pytest.mark.parametrize("sr,f0", [(22050, 196.0), (44100, 523.0)])
def test_plausible_against_librosa_pyin(sr, f0):
    librosa = pytest.importorskip("librosa")
    hop, N = 512, 2048
    y = np.concatenate([np.zeros(sr // 5, np.float32), tone(f0, sr, 3 * sr // 5), np.zeros(sr // 5, np.float32)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lf, lv, _ = librosa.pyin(y, fmin=65.0, fmax=2093.0, sr=sr, frame_length=N, hop_length=hop,
                                 center=True, pad_mode="constant")
    rows = run(Y.PYin(sample_rate=sr, frame_length=N, hop_length=hop, backend="scipy"),
               frame_signal(y, N, hop), [1000])[0]
    assert rows.shape[0] == lf.shape[0]
    ours_v = rows[:, 2] == 1.0
    assert (ours_v == lv).mean() >= 0.9
    both = ours_v & lv
    assert both.sum() >= rows.shape[0] // 2
    # librosa reports 10-cent bin centres: within 10 cents of ours, both within 10 of f0.
    assert np.abs(cents(rows[both, 0], lf[both])).max() < 10.0
    k = np.arange(rows.shape[0]) * hop
    steady = both & (k >= sr // 5 + N) & (k <= 4 * sr // 5 - N)
    assert np.abs(cents(rows[steady, 0], f0)).max() < 10.0


# --- streaming ----------------------------------------------------------------------------

@settings(max_examples=20)
@given(sizes=frame_sizes, lag=st.sampled_from([0.0, 0.016, 0.1, 0.3]))
def test_pyin_streaming_equals_batch(sizes, lag):
    x = melody()
    p = Y.PYin(sample_rate=16000, frame_length=1024, hop_length=256, lag_s=lag, backend="scipy")
    ref = run(p, x, [x.shape[1]])
    p.reset()
    got = run(p, x, sizes)
    assert got.shape == ref.shape == (2, x.shape[1], 3) and got.dtype == np.float32
    np.testing.assert_array_equal(got, ref)


def test_pyin_emission_follows_the_delay():
    x = melody()[:, :40]
    p = Y.PYin(sample_rate=16000, frame_length=1024, hop_length=256, lag_s=0.1, backend="scipy")
    D = p.delay_frames
    assert D == round(0.1 * 16000 / 256) == 6 and p.latency_samples == D * 256 and p.hop == 256
    assert p.causal is True
    given_, returned = 0, 0
    for n in [0, 1, 3, 2, 0, 10, 24]:
        out = p.process(x[:, given_ : given_ + n])
        given_ += n
        assert out.shape[1] == max(0, given_ - D) - returned
        returned += out.shape[1]
    assert p.flush().shape[1] == given_ - returned == D
    assert p.flush().shape == (2, 0, 3)
    with pytest.raises(RuntimeError, match="reset"):
        p.process(x[:, :1])
    assert p.reset() is None
    assert p.process(x[:, :1]).shape == (2, 0, 3)
    with pytest.raises(ValueError, match="channels"):
        p.process(x[:1, 1:2])


def test_lag_zero_decides_each_frame_from_its_own_best_state():
    x = melody()[:, :30]
    p = Y.PYin(sample_rate=16000, frame_length=1024, hop_length=256, lag_s=0.0, backend="scipy")
    assert p.delay_frames == 0 and p.latency_samples == 0
    outs = [p.process(x[:, i : i + 1]) for i in range(30)]
    assert all(o.shape == (2, 1, 3) for o in outs)
    assert p.flush().shape == (2, 0, 3)


# --- median smoother ----------------------------------------------------------------------

def naive_median(rows, width):
    h = width // 2
    out = rows.copy()
    for c in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            if rows[c, j, 2] > 0:
                w = rows[c, max(0, j - h) : j + h + 1]
                out[c, j, 0] = np.median(w[w[:, 2] > 0, 0])
    return out


def random_rows(rng, C=2, n=80):
    f0 = rng.uniform(80, 800, (C, n))
    v = rng.random((C, n)) < 0.7
    return np.stack([np.where(v, f0, 0.0), rng.random((C, n)), v.astype(float)], axis=-1).astype(np.float32)


@pytest.mark.parametrize("width", [1, 3, 5, 9])
def test_median_equals_naive_rule(width, rng):
    rows = random_rows(rng)
    m = Y.MedianSmoother(width=width)
    got = run(m, rows, [rows.shape[1]])
    np.testing.assert_allclose(got, naive_median(rows, width), rtol=1e-6)
    assert np.all(got[rows[..., 2] == 0] == rows[rows[..., 2] == 0])  # unvoiced untouched


def test_median_removes_an_octave_blip():
    rows = np.array([[[200, 1, 1], [201, 1, 1], [400, 1, 1], [199, 1, 1], [0, 0.1, 0], [202, 1, 1]]],
                    dtype=np.float32)
    got = run(Y.MedianSmoother(width=3), rows, [2])[0]
    # Ends truncated ([200, 201] -> 200.5); the blip takes its neighbours' median; the row
    # before the unvoiced one has two voiced values (mean of 400 and 199); unvoiced stays 0.
    assert got[:, 0].tolist() == pytest.approx([200.5, 201.0, 201.0, 299.5, 0.0, 202.0])
    np.testing.assert_array_equal(got[:, 1:], rows[0, :, 1:])


@given(sizes=frame_sizes, width=st.sampled_from([1, 3, 5, 7]), seed=st.integers(0, 100))
def test_median_streaming_equals_batch(sizes, width, seed):
    rows = random_rows(np.random.default_rng(seed), n=50)
    m = Y.MedianSmoother(width=width)
    ref = run(m, rows, [50])
    m.reset()
    got = run(m, rows, sizes)
    np.testing.assert_array_equal(got, ref)
    assert m.delay_frames == width // 2 and m.latency_samples == (width // 2) * 512


def test_median_short_streams_and_flush():
    m = Y.MedianSmoother(width=5)
    assert m.flush().shape == (0, 0, 3)
    m.reset()
    rows = np.array([[[100, 1, 1], [110, 1, 1]]], dtype=np.float32)
    assert m.process(rows).shape == (1, 0, 3)
    np.testing.assert_allclose(m.flush()[0, :, 0], [105.0, 105.0])


# --- tuning tracker ------------------------------------------------------------------------

def note_rows(dev_cents, n=60, seed=0):
    rng = np.random.default_rng(seed)
    midi = rng.integers(45, 80, n)
    f0 = 440.0 * 2 ** ((midi - 69 + np.asarray(dev_cents) / 100.0) / 12)
    return np.stack([f0, np.ones(n), np.ones(n)], axis=-1)[None].astype(np.float32)


@pytest.mark.parametrize("dev", [-37.0, -5.0, 0.0, 12.0, 45.0])
def test_tuning_converges_to_the_detuned_reference(dev):
    t = Y.TuningTracker(min_voiced=5)
    a4 = t.process(note_rows(dev))[0, :, 0]
    np.testing.assert_array_equal(a4[:4], 440.0)  # not enough evidence yet
    np.testing.assert_allclose(cents(a4[10:], 440.0), dev, atol=0.05)


def test_tuning_is_circular_at_half_a_semitone():
    # Notes at +49 and -49 cents are 2 cents apart on the circle: the estimate sits near
    # +-50 cents, not at the arithmetic mean 0.
    rows = note_rows(np.where(np.arange(60) % 2, 49.0, -49.0))
    a4 = Y.TuningTracker(min_voiced=5).process(rows)[0, -1, 0]
    assert abs(abs(cents(a4, 440.0)) - 50.0) < 1.5


def test_tuning_ignores_unvoiced_and_forgets():
    rows = note_rows(20.0, n=40)
    rows[0, ::2, 2] = 0.0  # unvoiced rows do not count, whatever their f0
    rows[0, ::2, 0] = 523.0
    t = Y.TuningTracker(min_voiced=3, time_constant_s=0.05)
    a4 = t.process(rows)[0, :, 0]
    np.testing.assert_allclose(cents(a4[6:], 440.0), 20.0, atol=0.05)
    # A short time constant follows a change of tuning within a few frames.
    later = t.process(note_rows(-10.0, n=40, seed=1))[0, :, 0]
    np.testing.assert_allclose(cents(later[-5:], 440.0), -10.0, atol=0.5)


@given(sizes=frame_sizes, seed=st.integers(0, 100))
def test_tuning_streaming_equals_batch(sizes, seed):
    rows = random_rows(np.random.default_rng(seed), n=50)
    t = Y.TuningTracker(min_voiced=4, time_constant_s=0.5)
    ref = run(t, rows, [50])
    assert ref.shape == (2, 50, 1) and ref.dtype == np.float32
    t.reset()
    np.testing.assert_array_equal(run(t, rows, sizes), ref)


# --- parameters ----------------------------------------------------------------------------

def test_pyin_parameter_errors():
    with pytest.raises(ConfigError, match=r"fmin_hz=3000.0 must be < fmax_hz=2000.0 \(Hz\)"):
        Y.PYin(fmin_hz=3000.0, fmax_hz=2000.0)
    with pytest.raises(ConfigError, match=r"frame_length=1024 is too short.*frame_length >= 1477"):
        Y.PYin(frame_length=1024)
    with pytest.raises(ConfigError, match="fmax_hz=30000.0 must be <= sample_rate/2"):
        Y.PYin(fmax_hz=30000.0)
    with pytest.raises(ConfigError, match="frame_length=2048.0 must be an integer"):
        Y.PYin(frame_length=2048.0)
    for kw, name in [(dict(hop_length=0), "hop_length"), (dict(lag_s=-0.1), "lag_s"),
                     (dict(resolution=0), "resolution"), (dict(switch_prob=0.0), "switch_prob"),
                     (dict(switch_prob=1.0), "switch_prob"), (dict(no_trough_prob=-0.1), "no_trough_prob"),
                     (dict(max_transition_rate=-1), "max_transition_rate"),
                     (dict(beta_parameters=(2, -1)), "beta_parameters"), (dict(beta_parameters=3), "beta_parameters"),
                     (dict(n_thresholds=0), "n_thresholds"), (dict(difference="x"), "difference")]:
        with pytest.raises(ConfigError, match=name):
            Y.PYin(**kw)
    with pytest.raises(ConfigError, match="width=4 must be odd"):
        Y.MedianSmoother(width=4)
    with pytest.raises(ConfigError, match="width"):
        Y.MedianSmoother(width=0)
    with pytest.raises(ConfigError, match="time_constant_s"):
        Y.TuningTracker(time_constant_s=0)
    with pytest.raises(ConfigError, match="min_voiced"):
        Y.TuningTracker(min_voiced=0)
    with pytest.raises(ConfigError, match="reference_hz"):
        Y.TuningTracker(reference_hz=-440.0)


def test_pyin_derived_attributes():
    p = Y.PYin()
    assert p.delay_frames == round(0.1 * 48000 / 512) == 9
    assert p.latency_samples == 9 * 512 and p.hop == 512 and p.causal is True
    # 0.2-semitone bins from 65 Hz to 2093 Hz: 5.009 octaves = 300.5 bins -> 301 centres;
    # 35.92 oct/s at 512/48000 s per frame = 4.598 semitones of full triangle width per
    # frame, +-2.299 semitones = +-11 bins.
    assert p.n_bins == 301 and p.transition_half_width == 11
    np.testing.assert_allclose(p.bin_hz[[0, 5]], [65.0, 65.0 * 2 ** (1 / 12)])


def test_a_jump_beyond_the_transition_width_stays_finite():
    # A clean tone jumping 2.3 octaves in one hop: every voiced state it can reach has no
    # candidate, and a voicing probability of 1 leaves the unvoiced states none either.
    # Without floors on the observation probabilities every state became -inf and the
    # renormalisation NaN (seen on music at a note change).
    sr = 48000
    t = np.arange(sr) / sr
    x = np.where(t < 0.5, np.sin(2 * np.pi * 200 * t), np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    frames = frame_signal(x, 2048, 512)
    p = Y.PYin(sample_rate=sr, frame_length=2048)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = np.concatenate([p.process(frames), p.flush()], axis=1)[0]
    assert np.isfinite(out).all()
    n = out.shape[0]
    f0 = out[:, 0]
    np.testing.assert_allclose(f0[10 : n // 2 - 5], 200.0, rtol=2e-3)
    np.testing.assert_allclose(f0[n // 2 + 8 : -10], 1000.0, rtol=2e-3)
    # Across the jump it reports unvoiced frames, never made-up pitches in between.
    assert not np.any((f0 > 250) & (f0 < 900))

"""SpectralGate and NoiseProfile: unity reconstruction, streaming = a batch implementation
over the whole STFT (any block partition), the noise tracker, learning, profiles on disk,
silence, NaN/inf, parameter errors."""

import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.dsp.spectral_gate import (
    GAUSSIAN_DB_STD, NoiseProfile, NoiseTracker, SpectralGate, SpectralGateParams, freq_kernel, gate_mask,
    magnitude_db, noise_db_offsets, smooth_freq, truncated_mean_offset)
from fluxstream.dsp.stft import stft
from fluxstream.errors import ConfigError
from tests.helpers import block_sizes, split

librosa = pytest.importorskip("librosa")

SR, N_FFT, HOP = 16000, 512, 128  # small frames keep the property tests fast


def rel_err(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)


def run(gate, blocks, channels):
    outs = [gate.process(b) for b in blocks]
    outs.append(gate.flush())
    return np.concatenate(outs) if outs else np.zeros((0, channels), np.float32)


def make_signal(n, channels, seed):
    """Tone bursts over noise whose level steps up by 12 dB half-way (for the tracker)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    x = np.zeros((n, channels))
    for c in range(channels):
        noise = 0.01 * rng.standard_normal(n) * np.where(t < t[-1] / 2 if n else 0, 1.0, 4.0)
        env = (np.sin(2 * np.pi * 2.5 * t + c) > 0.3).astype(float)
        tone = 0.3 * env * (np.sin(2 * np.pi * 440 * (c + 1) * t) + 0.5 * np.sin(2 * np.pi * 1320 * t))
        x[:, c] = noise + tone
    return x.astype(np.float32)


def batch_gate(x, profile=None, mode="stationary", n_std=1.5, prop_decrease=1.0, freq_smooth_hz=200.0,
               time_smooth_ms=30.0, lookahead_frames=0, learn_s=0.0, time_constant_s=0.5,
               noise_smooth_ms=50.0):
    """The documented algorithm over the whole STFT at once: thresholds, mask, smoothing
    written out frame by frame here, librosa's inverse STFT. Returns (n, C)."""
    n, C = x.shape
    X = stft(x, N_FFT, HOP)  # (K, C, F)
    K, F = X.shape[0], X.shape[2]
    S = magnitude_db(X)
    if mode == "nonstationary":
        tr = NoiseTracker((C, F), SR, HOP, time_constant_s, noise_smooth_ms)
        if profile is not None:
            tr.seed(profile.mean_db)
        thr = tr.track(S) + np.float32(n_std * GAUSSIAN_DB_STD)
        m = gate_mask(S, thr)
    else:
        m = np.ones_like(S)
        first, last = 0, -1
        if learn_s:
            first = -(-(N_FFT // 2) // HOP)
            last = first + (round(learn_s * SR) - N_FFT) // HOP
            Sl = S[first : last + 1].reshape(-1, F).astype(np.float64)
            mean, std = Sl.mean(axis=0), Sl.std(axis=0)
            profile = NoiseProfile(SR, N_FFT, mean, std)
        if profile is not None:
            g = gate_mask(S, profile.threshold_db(n_std))
            m[last + 1 :] = g[last + 1 :]
    m = smooth_freq(m, freq_kernel(freq_smooth_hz, SR, N_FFT))
    n_past = round(time_smooth_ms / 1000 * SR / HOP)
    L = lookahead_frames
    M = np.zeros_like(m)
    for k in range(K):
        num, den = 0.0, 0.0
        for d in range(-L, n_past + 1):  # d: age of frame k - d
            j = k - d
            if 0 <= j < K:
                w = 1 - d / (n_past + 1) if d >= 0 else 1 - (-d) / (L + 1)
                num = num + w * m[j]
                den += w
        M[k] = num / den
    G = 1 - prop_decrease * (1 - M)
    Y = np.transpose(X * G, (1, 2, 0))  # (C, F, K) for librosa
    y = librosa.istft(Y, hop_length=HOP, n_fft=N_FFT, window="hann", center=True, length=n)
    return np.asarray(y, np.float32).T


@functools.lru_cache(maxsize=None)
def case(name, channels):
    x = make_signal(12000, channels, seed=channels)
    noise = (0.01 * np.random.default_rng(99).standard_normal((8000, 1))).astype(np.float32)
    prof = NoiseProfile.learn(noise, SR, N_FFT, HOP)
    cfgs = {
        "stationary": dict(profile=prof),
        "stationary-lookahead": dict(profile=prof, lookahead_frames=2, n_std=1.0),
        "learn": dict(learn_s=0.25),
        "nonstationary": dict(mode="nonstationary"),
        "nonstationary-seeded": dict(mode="nonstationary", profile=prof, lookahead_frames=1,
                                     prop_decrease=0.7),
    }
    kw = cfgs[name]
    return x, kw, batch_gate(x, **kw)


def make_gate(channels, **kw):
    return SpectralGate(SR, channels, n_fft=N_FFT, hop_length=HOP, freq_smooth_hz=200.0, time_smooth_ms=30.0,
                        time_constant_s=0.5, **kw)


@given(sizes=block_sizes, name=st.sampled_from(["stationary", "stationary-lookahead", "learn", "nonstationary",
                                                "nonstationary-seeded"]),
       channels=st.sampled_from([1, 2]))
def test_streaming_equals_batch(sizes, name, channels):
    x, kw, ref = case(name, channels)
    gate = make_gate(channels, **kw)
    out = run(gate, split(x, sizes), channels)
    lat = gate.latency_samples
    assert out.dtype == np.float32 and out.shape == (len(x) + lat, channels)
    assert np.all(out[:lat] == 0)
    # The streaming STFT is the batch STFT bit for bit here, so the masks are identical and
    # only the overlap-add's round-off differs.
    np.testing.assert_allclose(out[lat:], ref, rtol=0, atol=2e-6)
    assert rel_err(out[lat:], x) > 0.01  # it did gate something


@given(sizes=block_sizes, lookahead=st.sampled_from([0, 1, 3]), channels=st.sampled_from([1, 2]),
       mode=st.sampled_from(["stationary", "nonstationary"]), n=st.integers(0, 6000))
def test_unity_reconstruction(sizes, lookahead, channels, mode, n):
    """With the mask forced to 1 the output is the input delayed by latency_samples."""
    x = np.random.default_rng(n).standard_normal((n, channels)).astype(np.float32)
    gate = make_gate(channels, mode=mode, prop_decrease=0.0, lookahead_frames=lookahead)
    out = run(gate, split(x, sizes), channels)
    lat = gate.latency_samples
    assert lat == N_FFT - HOP + lookahead * HOP
    assert out.shape == (n + lat, channels)
    assert np.all(out[:lat] == 0)
    if n:
        assert rel_err(out[lat:], x) < 1e-5


def test_default_latency_and_whole_hops_in_whole_hops_out():
    gate = SpectralGate()
    assert gate.latency_samples == 2048 - 512 and gate.hop == 512 and gate.causal is True
    x = np.random.default_rng(0).standard_normal((512 * 20, 1)).astype(np.float32)
    for b in split(x, [512]):
        assert gate.process(b).shape == (512, 1)  # block = hop: as many out as in, every call
    assert gate.flush().shape == (gate.latency_samples, 1)


def test_gates_stationary_noise_and_keeps_the_tone():
    rng = np.random.default_rng(4)
    n = SR * 2
    t = np.arange(n) / SR
    tone = (0.3 * np.sin(2 * np.pi * 1000 * t) * (t > 1.0)).astype(np.float32)
    noise = (0.01 * rng.standard_normal(n)).astype(np.float32)
    clip = (0.01 * rng.standard_normal(SR)).astype(np.float32)
    # The default frequency smoothing (50 Hz: 3 bins here); wider smoothing dilutes the mask
    # of a partial only 3 bins wide (at 200 Hz it keeps 62 % of the tone's amplitude).
    gate = SpectralGate(SR, n_fft=N_FFT, hop_length=HOP, profile=NoiseProfile.learn(clip, SR, N_FFT, HOP))
    y = run(gate, split((tone + noise)[:, None], [HOP]), 1)[gate.latency_samples :, 0]
    quiet = slice(SR // 4, SR - N_FFT)  # noise only
    assert np.sqrt(np.mean(y[quiet] ** 2)) < 0.18 * np.sqrt(np.mean(noise[quiet] ** 2))  # > 15 dB down
    loud = slice(SR + SR // 4, n - N_FFT)
    err = y[loud] - tone[loud]
    assert 10 * np.log10(np.sum(tone[loud] ** 2) / np.sum(err**2)) > 15  # the tone is kept


# -- the non-stationary tracker ----------------------------------------------------------

def white_db_frames(n_frames, F, seed, level_db=0.0):
    """dB values of bins of Gaussian noise with mean power 10^(level_db/10) (exponential)."""
    u = np.random.default_rng(seed).exponential(size=(n_frames, F))
    return (10 * np.log10(u) + level_db).astype(np.float32)


def test_tracker_converges_to_the_noise_mean_and_follows_a_gradual_rise():
    hop_s = HOP / SR
    tr = NoiseTracker((64,), SR, HOP, time_constant_s=0.5, noise_smooth_ms=50.0)
    true_mean = -10 * np.log10(np.e) * 0.5772156649015329
    est = tr.track(white_db_frames(400, 64, 1))
    assert abs(np.mean(est[-100:]) - true_mean) < 0.5
    # A rise of 20 dB over 2 s (0.08 dB per frame, well within the averaging band) is
    # followed, lagging by about slope x time constant.
    k = int(2.0 / hop_s)
    ramp = np.linspace(0, 20, k, dtype=np.float32)[:, None]
    est = tr.track(white_db_frames(k, 64, 2) + ramp)
    assert abs(np.mean(est[-20:]) - (true_mean + 20)) < 2.5


def test_tracker_ignores_a_tone_and_recovers_from_a_jump():
    tr = NoiseTracker((64,), SR, HOP, time_constant_s=2.0, noise_smooth_ms=50.0)
    tr.track(white_db_frames(600, 64, 3))
    before = tr.track(white_db_frames(1, 64, 4))[0]
    # A tone 30 dB above the noise for 0.5 s in bins 10..19: the estimate moves there by at
    # most the slow floor's creep, q / p = 4.6 dB per time constant (here 1.15 dB).
    S = white_db_frames(int(0.5 * SR / HOP), 64, 5)
    S[:, 10:20] = 30.0
    est = tr.track(S)
    assert np.max(est[-1, 10:20] - before[10:20]) < 1.15 + 0.5
    # Noise that jumps up 20 dB at once is above the band: it is caught up within a few
    # time constants.
    est = tr.track(white_db_frames(int(3 * 2.0 * SR / HOP), 64, 6) + 20.0)
    true_mean = -2.507
    assert abs(np.mean(est[-10:]) - (true_mean + 20)) < 1.0


def test_tracker_waits_for_sound_and_seeding():
    tr = NoiseTracker((8,), SR, HOP, 1.0, 50.0)
    S = np.full((5, 8), -200.0, np.float32)  # digital silence
    assert np.all(np.isinf(tr.track(S)))
    tr.seed(np.full(8, -40.0, np.float32))
    assert np.allclose(tr.track(np.full((1, 8), -40.0, np.float32)), -40.0, atol=0.3)


def test_noise_model_constants():
    q_off, std = noise_db_offsets(0.1)
    u = np.random.default_rng(0).exponential(size=2_000_000)
    db = 10 * np.log10(u)
    assert std == pytest.approx(np.std(db), abs=0.02)
    assert q_off == pytest.approx(np.mean(db) - np.quantile(db, 0.1), abs=0.03)
    # The excluding mean's fixed point, by simulation: iterate N <- mean(db[db < N + c]).
    c = 1.5 * GAUSSIAN_DB_STD
    N = 0.0
    for _ in range(50):
        N = np.mean(db[db < N + c])
    assert truncated_mean_offset(c) == pytest.approx(N - np.mean(db), abs=0.02)


def test_nonstationary_gate_tracks_rising_noise():
    rng = np.random.default_rng(8)
    n = 4 * SR
    t = np.arange(n) / SR
    noise = 0.003 * 10 ** (20 * np.clip(t - 1, 0, 2) / 2 / 20) * rng.standard_normal(n)  # +20 dB over 2 s
    gate = make_gate(1, mode="nonstationary")
    y = run(gate, split(noise.astype(np.float32)[:, None], [1000]), 1)[gate.latency_samples :, 0]
    for a, b in ((0.5, 1.0), (3.2, 3.9)):  # before the rise, and at the top of it
        s = slice(int(a * SR), int(b * SR))
        assert np.sqrt(np.mean(y[s] ** 2)) < 0.18 * np.sqrt(np.mean(noise[s] ** 2))  # > 15 dB down


# -- learning, profiles ------------------------------------------------------------------

def test_learn_s_passes_through_while_learning_then_gates():
    rng = np.random.default_rng(10)
    x = (0.02 * rng.standard_normal((SR, 1))).astype(np.float32)
    gate = make_gate(1, learn_s=0.25)
    assert gate.profile is None and gate.learning
    y = run(gate, split(x, [700]), 1)[gate.latency_samples :]
    assert not gate.learning and gate.profile is not None
    n_learn = (round(0.25 * SR) - N_FFT) // HOP + 1
    last = -(-(N_FFT // 2) // HOP) + n_learn - 1  # last learning frame
    passthrough = last * HOP + N_FFT // 2 - N_FFT  # samples wholly before frames that gate
    np.testing.assert_allclose(y[:passthrough], x[:passthrough], atol=1e-6)
    assert np.sqrt(np.mean(y[SR // 2 :] ** 2)) < 0.18 * 0.02  # > 15 dB down once gating
    ref = NoiseProfile.learn(x[: round(0.25 * SR)], SR, N_FFT, HOP)
    assert np.abs(gate.profile.mean_db - ref.mean_db).mean() < 0.1


def test_start_learning_on_command_and_learn_from():
    rng = np.random.default_rng(11)
    loud = (0.3 * rng.standard_normal((SR, 1))).astype(np.float32)
    quiet = (0.01 * rng.standard_normal((SR, 1))).astype(np.float32)
    gate = make_gate(1)
    y0 = gate.process(loud)  # no profile: passes through
    np.testing.assert_allclose(y0[gate.latency_samples :], loud[: len(y0) - gate.latency_samples], atol=1e-6)
    gate.start_learning(0.5)
    assert gate.learning
    gate.process(quiet)
    assert not gate.learning
    ref = NoiseProfile.learn(quiet, SR, N_FFT, HOP)
    assert np.abs(gate.profile.mean_db - ref.mean_db).mean() < 0.5
    prof = gate.learn_from(loud)
    assert gate.profile is prof and prof.mean_db.mean() > ref.mean_db.mean() + 25
    with pytest.raises(ConfigError, match="seconds=0.01 must be at least one frame"):
        gate.start_learning(0.01)


def test_profile_save_load_round_trip(tmp_path):
    noise = np.random.default_rng(12).standard_normal((SR, 2)).astype(np.float32)
    p = NoiseProfile.learn(noise, SR, N_FFT, HOP)
    assert p.mean_db.shape == (N_FFT // 2 + 1,)
    # Gaussian noise of unit variance, Hann window: mean power sum(w^2) = 3 N / 8 per bin.
    expected = 10 * np.log10(3 * N_FFT / 8) - 2.507
    assert np.median(p.mean_db) == pytest.approx(expected, abs=0.3)
    assert np.median(p.std_db) == pytest.approx(GAUSSIAN_DB_STD, abs=0.3)
    path = tmp_path / "room.npz"
    p.save(path)
    q = NoiseProfile.load(path, sample_rate=SR, n_fft=N_FFT)
    assert (q.sample_rate, q.n_fft) == (SR, N_FFT)
    np.testing.assert_array_equal(q.mean_db, p.mean_db)
    np.testing.assert_array_equal(q.std_db, p.std_db)
    gate = make_gate(1, profile=q)
    assert gate.profile is q


def test_wrong_profile_rejected_with_both_values(tmp_path):
    p = NoiseProfile.learn(np.random.default_rng(0).standard_normal(SR).astype(np.float32), SR, N_FFT, HOP)
    path = tmp_path / "p.npz"
    p.save(path)
    with pytest.raises(ConfigError, match=r"sample_rate=16000 Hz .* sample_rate=48000 Hz"):
        NoiseProfile.load(path, sample_rate=48000)
    with pytest.raises(ConfigError, match=r"n_fft=512 \(257 bins\) .* n_fft=1024 \(513 bins\)"):
        NoiseProfile.load(path, n_fft=1024)
    with pytest.raises(ConfigError, match=r"n_fft=512 .* n_fft=2048"):
        SpectralGate(SR, profile=p)  # the gate's default n_fft is 2048
    with pytest.raises(ConfigError, match=r"sample_rate=16000 Hz .* sample_rate=44100 Hz"):
        SpectralGate(44100, n_fft=N_FFT, hop_length=HOP, profile=p)
    gate = make_gate(1)
    with pytest.raises(ConfigError, match="n_fft=2048"):
        gate.profile = NoiseProfile(SR, 2048, np.zeros(1025), np.ones(1025))
    bad = tmp_path / "bad.npz"
    np.savez(bad, mean_db=np.zeros(3))
    with pytest.raises(ConfigError, match="not a fluxstream noise profile"):
        NoiseProfile.load(bad)
    with pytest.raises(ConfigError, match="cannot read noise profile"):
        NoiseProfile.load(tmp_path / "missing.npz")
    with pytest.raises(ConfigError, match=r"mean_db has shape \(3,\), but n_fft=512 needs \(257,\)"):
        NoiseProfile(SR, N_FFT, np.zeros(3), np.zeros(3))
    with pytest.raises(ConfigError, match="shorter than one frame"):
        NoiseProfile.learn(np.zeros(100, np.float32), SR, N_FFT, HOP)


# -- silence, NaN/inf, state -------------------------------------------------------------

@pytest.mark.parametrize("mode", ["stationary", "nonstationary"])
def test_silence(mode):
    prof = NoiseProfile(SR, N_FFT, np.full(257, -20.0), np.full(257, 5.0)) if mode == "stationary" else None
    gate = make_gate(2, mode=mode, profile=prof)
    y = run(gate, split(np.zeros((SR, 2), np.float32), [HOP]), 2)
    assert y.shape == (SR + gate.latency_samples, 2) and np.all(y == 0)


@pytest.mark.parametrize("mode", ["stationary", "nonstationary"])
def test_nan_and_inf_are_taken_as_zero(mode):
    x = make_signal(8000, 1, seed=3)
    bad = x.copy()
    bad[[100, 3000, 3001]] = np.nan
    bad[5000] = np.inf
    bad[7999] = -np.inf
    clean = np.nan_to_num(bad, nan=0.0, posinf=0.0, neginf=0.0)
    prof = NoiseProfile.learn(0.01 * np.random.default_rng(1).standard_normal(4000).astype(np.float32), SR,
                              N_FFT, HOP)
    a = run(make_gate(1, mode=mode, profile=prof), split(bad, [1000]), 1)
    b = run(make_gate(1, mode=mode, profile=prof), split(clean, [1000]), 1)
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert np.isnan(bad[100, 0])  # input not modified


def test_reset_gives_the_same_stream_and_flush_ends_it():
    x = make_signal(6000, 2, seed=5)
    gate = make_gate(2, mode="nonstationary", lookahead_frames=1)
    a = run(gate, split(x, [1000]), 2)
    with pytest.raises(RuntimeError):
        gate.process(x)
    gate.reset()
    b = run(gate, split(x, [7, 3000]), 2)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)


def test_mono_1d_blocks():
    x = make_signal(4000, 1, seed=6)
    a = make_gate(1, mode="nonstationary").process(x[:, 0])
    b = make_gate(1, mode="nonstationary").process(x)
    assert a.ndim == 1
    np.testing.assert_array_equal(a, b[:, 0])


def test_set_params_recomputes_and_rejects_structural():
    gate = make_gate(1, mode="nonstationary")
    gate.set_params(n_std=2.0, prop_decrease=0.5, freq_smooth_hz=0.0, time_constant_s=1.0)
    assert gate.params.n_std == 2.0 and gate._kernel.shape == (1,)
    with pytest.raises(ConfigError, match="hop_length is structural"):
        gate.set_params(hop_length=64)
    with pytest.raises(ConfigError, match="time_smooth_ms=100.0 changes the number of smoothed frames"):
        gate.set_params(time_smooth_ms=100.0)
    assert gate.params.time_smooth_ms == 30.0
    with pytest.raises(ConfigError, match="prop_decrease=2"):
        gate.set_params(prop_decrease=2.0)
    with pytest.raises(ConfigError, match="unknown parameter n_sigma"):
        gate.set_params(n_sigma=1.0)


# -- parameters --------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, names", [
    (dict(hop_length=4096), ["hop_length=4096", "n_fft // 2 = 1024"]),
    (dict(n_fft=512, hop_length=300), ["hop_length=300", "n_fft // 2 = 256"]),
    (dict(hop_length=0), ["hop_length=0"]),
    (dict(n_fft=2), ["n_fft=2"]),
    (dict(mode="adaptive"), ["mode='adaptive'", "'stationary'", "'nonstationary'"]),
    (dict(time_smooth_ms=-1.0), ["time_smooth_ms=-1"]),
    (dict(freq_smooth_hz=-5.0), ["freq_smooth_hz=-5"]),
    (dict(time_constant_s=0.0), ["time_constant_s=0"]),
    (dict(noise_smooth_ms=0.0), ["noise_smooth_ms=0"]),
    (dict(prop_decrease=1.5), ["prop_decrease=1.5"]),
    (dict(lookahead_frames=-1), ["lookahead_frames=-1"]),
    (dict(learn_s=-1.0), ["learn_s=-1"]),
    (dict(learn_s=0.01), ["learn_s=0.01", "one frame"]),
    (dict(learn_s=1.0, mode="nonstationary"), ["learn_s=1.0", "mode='nonstationary'"]),
    (dict(n_std=float("inf")), ["n_std=inf"]),
    (dict(channels=0), ["channels=0"]),
])
def test_bad_parameters_name_the_parameter(kwargs, names):
    with pytest.raises(ConfigError) as e:
        SpectralGate(**kwargs)
    for name in names:
        assert name in str(e.value)


def test_profile_and_learn_s_are_exclusive():
    p = NoiseProfile(48000, 2048, np.zeros(1025), np.ones(1025))
    with pytest.raises(ConfigError, match="profile or learn_s"):
        SpectralGate(profile=p, learn_s=1.0)
    with pytest.raises(ConfigError, match="must be a NoiseProfile"):
        SpectralGate(profile="room.npz")


def test_params_dataclass():
    p = SpectralGateParams(mode="nonstationary", n_fft=1024, hop_length=256)
    gate = SpectralGate.from_params(p)
    assert gate.params is p and gate.latency_samples == 768

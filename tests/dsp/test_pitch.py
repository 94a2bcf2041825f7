"""Frame-wise pitch estimators (fluxstream.dsp.pitch): kernels against naive references,
estimators against the true f0 of synthetic tones, librosa.yin on the same frames."""

import math
import warnings

import numpy as np
import pytest

from fluxstream.dsp import pitch as P
from fluxstream.dsp.framing import frame_signal
from fluxstream.errors import ConfigError
from tests.helpers import use_kernels

ESTIMATORS = [P.Yin, P.YinFFT, P.Mpm, P.CepstrumPitch, P.Hps, P.Shs]
RATES = [16000, 44100, 48000]
HOP = 512


# --- signals ---------------------------------------------------------------------------

def tone(f0, sr, n, amps, seed=0):
    """Sum of partials ``amps[h-1] sin(2 pi h f0 t + phi_h)`` below Nyquist, random phases."""
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, len(amps))
    t = np.arange(n) / sr
    y = np.zeros(n)
    for h, (a, ph) in enumerate(zip(amps, phases), start=1):
        if a and h * f0 < 0.95 * sr / 2:
            y += a * np.sin(2 * np.pi * h * f0 * t + ph)
    return y.astype(np.float32)


SINE = [0.5]
STACK = [0.3, 0.2, 0.15, 0.1, 0.08]  # five partials
RICH = [0.3 / h for h in range(1, 13)]  # twelve partials, 1/h
STRONG2 = [0.1, 0.4, 0.1]  # second partial 12 dB above the fundamental
MISSING = [0.0, 0.2, 0.2, 0.2, 0.2, 0.2]  # partials 2..6 only


def steady_frames(y, frame_length, hop=HOP):
    """Centred frames (the engine's framing) that lie wholly inside the signal."""
    fr = frame_signal(y, frame_length, hop, center=True)
    edge = -(-(frame_length // 2) // hop)
    return fr[:, edge : fr.shape[1] - edge]


def cents(f, ref):
    return 1200.0 * np.log2(np.asarray(f, dtype=np.float64) / ref)


# Per estimator and rate: the frame length and the f0 range where the docstrings promise
# accuracy (Yin/Mpm: >= 16 samples per period for rich tones; YinFFT: >= 5 periods per
# frame; CepstrumPitch: resolved partials, >= 3 of them below Nyquist).
def domain(cls, sr, kind):
    fmin, fmax = 65.0, 2093.0
    N = 2048
    lo, hi = 70.0, 2000.0
    rich = kind != "sine"
    if cls in (P.Yin, P.Mpm) and rich and sr == 16000:
        hi = 1000.0
    if cls is P.YinFFT:
        N = 4096 if sr > 20000 else 2048
        lo = max(lo, 5 * sr / N)
        if rich and sr == 16000:
            hi = 1000.0
    if cls is P.CepstrumPitch:
        N = 4096 if sr > 20000 else 2048
        lo, hi = max(100.0, 6 * sr / N), (1000.0 if sr > 20000 else 500.0)
    # scipy's FFT: these tests are about the estimators; pyfftw plans every new length with
    # FFTW_MEASURE (up to a second each). test_fft_backends_agree covers pyfftw.
    return dict(sample_rate=sr, frame_length=N, fmin_hz=fmin, fmax_hz=fmax, backend="scipy"), (lo, hi)


# --- kernels against naive references --------------------------------------------------

def naive_yin_difference(x, max_lag, W=None):
    x = x.astype(np.float64)
    d = np.zeros(max_lag + 1)
    for tau in range(1, max_lag + 1):
        if W is None:
            xs = np.concatenate([x[tau:], np.zeros(tau)])  # zeros after the frame
            d[tau] = np.sum((x - xs) ** 2)
        else:
            d[tau] = np.sum((x[:W] - x[tau : tau + W]) ** 2)
    return d


@pytest.mark.parametrize("W", [None, 64, 100])
def test_yin_difference_equals_direct_sums(W, rng, fft_backend):
    N, max_lag = 256, 120
    x = rng.standard_normal((3, N)).astype(np.float32)
    L = N if W is not None else N + max_lag
    from fluxstream.dsp.fft import RealFFT

    for fft in (None, RealFFT(L, fft_backend)):
        got = P.yin_difference(x, max_lag, W, fft)
        ref = np.stack([naive_yin_difference(r, max_lag, W) for r in x])
        assert got.shape == (3, max_lag + 1) and got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-4 * ref.max())


def test_cmnd_equals_definition_and_silence_is_one(rng):
    d = np.abs(rng.standard_normal((2, 50)))
    d[:, 0] = 0.0
    ref = np.ones_like(d)
    for tau in range(1, 50):
        ref[:, tau] = d[:, tau] * tau / d[:, 1 : tau + 1].sum(axis=1)
    np.testing.assert_allclose(P.cumulative_mean_normalized(d), ref, rtol=1e-12)
    np.testing.assert_array_equal(P.cumulative_mean_normalized(np.zeros((1, 30))), 1.0)


def test_parabolic_interpolation_finds_a_parabola_vertex():
    # y = 2 (x - 5.3)**2 + 1 sampled on integers: the vertex is exactly recovered.
    x = np.arange(10.0)
    y = (2 * (x - 5.3) ** 2 + 1)[None]
    delta, value = P.parabolic_interpolation(y, np.array([5]))
    assert delta[0] == pytest.approx(0.3, abs=1e-12) and value[0] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(P.parabolic_vertex_values(y)[0, 5], 1.0, atol=1e-12)
    # Edges and far vertices: no shift, the sample itself.
    d0, v0 = P.parabolic_interpolation(y, np.array([0]))
    assert d0[0] == 0 and v0[0] == y[0, 0]
    line = np.arange(5.0)[None]
    assert P.parabolic_interpolation(line, np.array([2]))[0][0] == 0


def test_first_trough_below_rules():
    y = np.array([[0.9, 0.5, 0.6, 0.05, 0.3, 0.02, 0.4],   # first trough below 0.1 is at 3
                  [0.9, 0.8, 0.85, 0.7, 0.75, 0.6, 0.65],   # none below 0.1
                  [0.05, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]])    # falling into the first index
    idx, found = P.first_trough_below(y, 0.1)
    assert idx.tolist()[0] == 3 and found.tolist() == [True, False, True] and idx[2] == 0


def naive_nsdf(x, max_lag):
    x = x.astype(np.float64)
    N = len(x)
    out = np.zeros(max_lag + 1)
    for tau in range(max_lag + 1):
        a, b = x[: N - tau], x[tau:]
        m = np.sum(a * a) + np.sum(b * b)
        out[tau] = 2 * np.sum(a * b) / m if m > 0 else 0
    return out


def test_nsdf_equals_direct_sums(rng):
    x = rng.standard_normal((2, 300)).astype(np.float32)
    got = P.nsdf(x, 200)
    ref = np.stack([naive_nsdf(r, 200) for r in x])
    np.testing.assert_allclose(got, ref, atol=2e-5)
    np.testing.assert_array_equal(P.nsdf(np.zeros((1, 64), np.float32), 30), 0.0)


def test_window_autocorrelation_direct(rng):
    w = rng.random(40)
    ref = np.array([np.sum(w[: 40 - k] * w[k:]) for k in range(10)]) / np.sum(w * w)
    np.testing.assert_allclose(P.window_autocorrelation(w, 9), ref, rtol=1e-12)


def test_a_weighting_known_values():
    # IEC 61672 table: A(100 Hz) = -19.1 dB, A(1 kHz) = 0, A(10 kHz) = -2.5 dB.
    db = 10 * np.log10(P.a_weighting(np.array([100.0, 1000.0, 10000.0])))
    np.testing.assert_allclose(db, [-19.1, 0.0, -2.5], atol=0.06)
    assert P.a_weighting(np.array([0.0]))[0] == 0.0


def test_pitch_helpers_known_values():
    np.testing.assert_allclose(P.hz_to_midi([440.0, 261.6255653, 880.0]), [69.0, 60.0, 81.0], atol=1e-6)
    np.testing.assert_allclose(P.midi_to_hz([69.0, 57.0]), [440.0, 220.0])
    np.testing.assert_allclose(P.cents_deviation(440.0 * 2 ** (23 / 1200)), 23.0, atol=1e-9)
    np.testing.assert_allclose(P.cents_deviation(440.0 * 2 ** (-31 / 1200), 440.0), -31.0, atol=1e-9)
    # A 442 Hz reference moves the grid: 442 Hz itself is in tune.
    assert abs(P.cents_deviation(442.0, tuning_hz=442.0)) < 1e-9
    # Unvoiced (0 Hz): 0, never NaN or -inf.
    assert P.hz_to_midi(0.0) == 0.0 and P.cents_deviation(0.0) == 0.0
    assert np.all(np.isfinite(P.hz_to_midi(np.array([0.0, 100.0]))))
    with pytest.raises(ConfigError, match="tuning_hz"):
        P.cents_deviation(440.0, tuning_hz=0.0)


# --- estimators on synthetic tones -----------------------------------------------------

def check_accuracy(cls, sr, amps, kind, n_f0=10, tol_cents=10.0):
    kw, (lo, hi) = domain(cls, sr, kind)
    est = cls(**kw)
    N = kw["frame_length"]
    for i, f0 in enumerate(np.geomspace(lo, hi, n_f0)):
        y = tone(f0, sr, N + 4 * HOP, amps, seed=i)
        out = est.process(steady_frames(y, N))
        assert out.shape[0] == 1 and out.shape[1] >= 4 and out.dtype == np.float32
        assert np.all(out[0, :, 2] == 1.0), (cls.__name__, sr, kind, f0, out[0])
        err = np.abs(cents(out[0, :, 0], f0))
        assert err.max() < tol_cents, (cls.__name__, sr, kind, f0, out[0, :, 0])
        assert np.all((out[0, :, 1] > 0) & (out[0, :, 1] <= 1))


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("cls", [c for c in ESTIMATORS if c is not P.CepstrumPitch])
def test_sines_within_10_cents(cls, sr):
    check_accuracy(cls, sr, SINE, "sine")


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_harmonic_stacks_within_10_cents(cls, sr):
    check_accuracy(cls, sr, RICH if cls is P.CepstrumPitch else STACK, "stack")


@pytest.mark.parametrize("sr", [16000, 48000])
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_strong_second_partial_is_no_octave_error(cls, sr):
    amps = STRONG2 + [0.1 / h for h in range(4, 13)] if cls is P.CepstrumPitch else STRONG2
    check_accuracy(cls, sr, amps, "strong2", n_f0=6)


@pytest.mark.parametrize("sr", [16000, 48000])
@pytest.mark.parametrize("cls", [P.Yin, P.Mpm, P.Hps, P.Shs])
def test_missing_fundamental_gives_the_fundamental(cls, sr):
    check_accuracy(cls, sr, MISSING, "missing", n_f0=6)


def test_cepstrum_reports_a_pure_sine_unvoiced():
    # Documented: no harmonic ripple, no cepstral pitch (a sine is unvoiced, f0 = 0).
    est = P.CepstrumPitch()
    out = est.process(steady_frames(tone(330.0, 48000, 8192, SINE), 2048))
    assert np.all(out[0, :, 2] == 0.0) and np.all(out[0, :, 0] == 0.0)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_silence_and_noise_are_unvoiced_with_f0_exactly_zero(cls, rng):
    est = cls()
    silence = est.process(np.zeros((2, 3, 2048), dtype=np.float32))
    np.testing.assert_array_equal(silence, 0.0)  # f0 0, confidence 0, unvoiced
    noise = (0.3 * rng.standard_normal(48000)).astype(np.float32)
    out = est.process(frame_signal(noise, 2048, 1024))
    assert np.all(out[..., 2] == 0.0) and np.all(out[..., 0] == 0.0)
    assert np.all((out[..., 1] >= 0) & (out[..., 1] < 0.5))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_hard_clipping_and_dc_offset_keep_the_pitch(cls):
    sr = 48000
    kw, _ = domain(cls, sr, "stack")
    est = cls(**kw)
    N = kw["frame_length"]
    for f0 in (220.0, 440.0):
        base = tone(f0, sr, N + 4 * HOP, RICH if cls is P.CepstrumPitch else [0.9])
        clipped = np.clip(3 * base, -0.9, 0.9)  # hard-clipped: flat tops
        offset = tone(f0, sr, N + 4 * HOP, RICH if cls is P.CepstrumPitch else STACK) + 0.5
        for y in (clipped, offset):
            out = est.process(steady_frames(y, N))
            assert np.all(out[0, :, 2] == 1.0)
            assert np.abs(cents(out[0, :, 0], f0)).max() < 10.0, (cls.__name__, f0, out[0, :, 0])


# --- shapes, batching, the stage contract ----------------------------------------------

@pytest.mark.parametrize("cls", ESTIMATORS)
def test_output_contract_and_batch_equals_frame_by_frame(cls, rng):
    est = cls()
    assert est.causal is True and est.latency_samples == 0 and est.hop == 1
    assert est.reset() is None
    empty = est.process(np.zeros((2, 0, 2048), dtype=np.float32))
    assert empty.shape == (2, 0, 3) and empty.dtype == np.float32
    y = tone(196.0, 48000, 48000, RICH) + 0.01 * rng.standard_normal(48000).astype(np.float32)
    x = np.concatenate([frame_signal(y, 2048, 512), frame_signal(0.5 * y[::-1].copy(), 2048, 512)])
    keep = x.copy()
    batch = est.process(x)  # 90+ frames: several internal blocks
    np.testing.assert_array_equal(x, keep)  # input not mutated
    assert batch.shape == (2, x.shape[1], 3) and batch.dtype == np.float32
    single = np.concatenate([est.process(x[:, i : i + 1]) for i in range(0, x.shape[1], 7)], axis=1)
    np.testing.assert_allclose(single, batch[:, ::7], rtol=1e-5, atol=1e-5)
    for c in range(2):  # channels are independent
        np.testing.assert_allclose(est.process(x[c : c + 1]), batch[c : c + 1], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="frame_length"):
        est.process(np.zeros((1, 2, 1000), dtype=np.float32))


def test_fft_backends_agree():
    y = tone(310.0, 44100, 12000, STACK)
    x = frame_signal(y, 2048, 512)
    for cls in ESTIMATORS:
        a = cls(sample_rate=44100, backend="pyfftw").process(x)
        b = cls(sample_rate=44100, backend="scipy").process(x)
        assert np.all(a[:, 3:-3, 2] == 1.0)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


# --- librosa -----------------------------------------------------------------------------

@pytest.mark.parametrize("sr,f0s", [(16000, [98.0, 185.0, 440.0, 1021.0]),
                                    (22050, [147.0, 330.0, 700.0, 1500.0]),
                                    (44100, [440.0, 880.0, 1750.0]),
                                    (48000, [523.0, 1100.0, 2000.0])])
@pytest.mark.parametrize("amps", [SINE, STACK])
def test_full_difference_agrees_with_librosa_yin_within_a_cent(sr, f0s, amps):
    librosa = pytest.importorskip("librosa")
    N = 2048
    est = P.Yin(sample_rate=sr, frame_length=N, difference="full", backend="scipy")
    n_checked = 0
    for f0 in f0s:
        y = tone(f0, sr, sr // 2, amps)
        ours = est.process(frame_signal(y, N, HOP, center=True))[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = librosa.yin(y, fmin=65.0, fmax=2093.0, sr=sr, frame_length=N, hop_length=HOP,
                              trough_threshold=0.1, center=True, pad_mode="constant")
        assert ref.shape == (ours.shape[0],)
        voiced = ours[:, 2] == 1.0
        assert voiced.sum() >= ours.shape[0] // 2
        np.testing.assert_array_less(np.abs(cents(ours[voiced, 0], ref[voiced])), 1.0)
        n_checked += voiced.sum()
    assert n_checked > 0


def test_full_difference_is_biased_sharp_at_low_pitch_and_windowed_is_not():
    # The documented reason for the default: librosa 0.11's convention reads 110 Hz at
    # 48 kHz (2048 samples) well sharp; the windowed difference does not.
    sr, f0 = 48000, 110.0
    x = steady_frames(tone(f0, sr, 8192, SINE), 2048)
    full = P.Yin(difference="full", threshold=0.5).process(x)[0]
    windowed = P.Yin().process(x)[0]
    assert np.median(cents(full[:, 0], f0)) > 5.0
    assert np.abs(cents(windowed[:, 0], f0)).max() < 0.5


# --- parameters ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls", ESTIMATORS)
def test_bad_parameters_raise_config_errors_naming_them(cls):
    with pytest.raises(ConfigError, match=r"fmin_hz=3000.0 must be < fmax_hz=2000.0 \(Hz\)"):
        cls(fmin_hz=3000.0, fmax_hz=2000.0)
    with pytest.raises(ConfigError, match=r"fmax_hz=30000.0 must be <= sample_rate/2 = 24000"):
        cls(fmax_hz=30000.0)
    with pytest.raises(ConfigError, match=r"frame_length=512 is too short for fmin_hz=65.*frame_length >= \d+"):
        cls(frame_length=512)
    with pytest.raises(ConfigError, match=r"frame_length=2048.5 must be an integer"):
        cls(frame_length=2048.5)
    with pytest.raises(ConfigError, match="sample_rate"):
        cls(sample_rate=0)
    with pytest.raises(ConfigError, match="fmin_hz"):
        cls(fmin_hz=float("nan"))


@pytest.mark.parametrize("cls,name", [(P.Yin, "threshold"), (P.YinFFT, "threshold"),
                                      (P.CepstrumPitch, "threshold"), (P.CepstrumPitch, "cutoff"),
                                      (P.Mpm, "cutoff"),
                                      (P.Mpm, "clarity_threshold"), (P.Hps, "voicing_threshold"),
                                      (P.Shs, "voicing_threshold")])
def test_negative_threshold_raises_and_setter_validates(cls, name):
    with pytest.raises(ConfigError, match=rf"{name}=-0.1 must be in \(0, 1\]"):
        cls(**{name: -0.1})
    est = cls()
    setattr(est, name, 0.3)
    assert getattr(est, name) == 0.3
    with pytest.raises(ConfigError, match=name):
        setattr(est, name, 1.5)


def test_frame_too_short_message_names_the_needed_length():
    # Yin (windowed, win_length = N // 2): N - N // 2 >= ceil(48000 / 65) = 739 needs
    # N >= 1477; the lowest fmin 1024 samples allow is 48000 / 512 = 93.75 Hz.
    with pytest.raises(ConfigError, match=r"frame_length >= 1477 .*fmin_hz to >= 93.75 \(Hz\)"):
        P.Yin(frame_length=1024)
    P.Yin(frame_length=1477, backend="scipy")
    with pytest.raises(ConfigError, match=r"frame_length >= 1477 .*fmin_hz to >= 65.05"):
        P.Yin(frame_length=1476)
    P.Yin(frame_length=1476, fmin_hz=65.05, backend="scipy")
    # The full-frame convention needs one period plus one sample.
    with pytest.raises(ConfigError, match=r"frame_length >= 740"):
        P.Yin(frame_length=512, difference="full")
    P.Yin(frame_length=740, difference="full", backend="scipy")
    with pytest.raises(ConfigError, match="difference"):
        P.Yin(difference="fast")
    with pytest.raises(ConfigError, match="win_length"):
        P.Yin(win_length=2048)


def test_other_parameter_checks():
    with pytest.raises(ConfigError, match="n_harmonics"):
        P.Hps(n_harmonics=0)
    with pytest.raises(ConfigError, match="zero_padding"):
        P.Shs(zero_padding=1.5)
    with pytest.raises(ConfigError, match="octave_guard_db"):
        P.Hps(octave_guard_db=-1.0)
    with pytest.raises(ConfigError, match="compression"):
        P.Shs(compression=0.0)
    with pytest.raises(ConfigError, match="bins_per_octave"):
        P.Shs(bins_per_octave=6)
    with pytest.raises(ConfigError, match="dynamic_range_db"):
        P.CepstrumPitch(dynamic_range_db=0)
    assert math.isclose(P.Hps().bin_hz, 48000 / 8192)


@pytest.mark.parametrize("cls", [P.Hps, P.Shs])
@pytest.mark.parametrize("kw", [{}, dict(sample_rate=22050, fmax_hz=2000.0), dict(n_harmonics=1),
                                dict(n_harmonics=9, zero_padding=2),
                                dict(sample_rate=16000, frame_length=1024, fmin_hz=80.0, fmax_hz=7000.0)])
def test_harmonic_estimators_one_frame_path_equals_their_batch_path(cls, kw, kernels, rng):
    # A live hop takes Hps's and Shs's own path: Hps's spectrum on the bins the harmonics
    # reach, its guard, and both refinements per harmonic on Python floats (or Hps's
    # compiled kernels). The candidate and the voicing flag agree; f0 within 1e-6 relative
    # (the refinement's weights are float64 throughout) and the periodicity (the
    # confidence) within 1e-6 (summed in another order). Tones at the range's edges (the
    # bins reached are the most there), missing fundamentals, noise, silence, a ramp, DC,
    # and random harmonic mixtures.
    est = cls(**kw)
    assert getattr(est, "_jit", False) == (kernels == "jit" and cls is P.Hps)
    N, sr = est.frame_length, est.sample_rate
    t = np.arange(N) / sr
    frames = [np.sin(2 * np.pi * f * t) for f in (est.fmin_hz, 110.0, 333.3, 0.99 * est.fmax_hz)]
    frames += [sum(np.sin(2 * np.pi * h * f * t) / h for h in range(2, 7)) for f in (100.0, 150.0, 440.0)]
    frames += [rng.standard_normal(N) for _ in range(10)]
    frames += [np.zeros(N), np.linspace(-1, 1, N), np.ones(N)]
    frames += [sum(rng.uniform(0, 1) / h * np.sin(2 * np.pi * h * f * t + rng.uniform(0, 6)) for h in range(1, 12))
               + 0.1 * rng.standard_normal(N) for f in rng.uniform(est.fmin_hz, est.fmax_hz, 30)]
    voiced = 0
    for x in np.asarray(frames, dtype=np.float32):
        fast, ref = est.process(x[None, None])[0, 0], est._batch_one(x)[0, 0]
        assert abs(fast[0] - ref[0]) <= 1e-6 * ref[0] and fast[2] == ref[2], (fast, ref)
        assert abs(fast[1] - ref[1]) <= 1e-6, (fast, ref)
        voiced += int(ref[2])
    assert voiced >= 20  # the comparison covered the refinement, not only unvoiced frames


@pytest.mark.parametrize("make", [lambda: P.Yin(), lambda: P.Yin(difference="full"), lambda: P.Mpm()])
def test_time_domain_batches_are_the_same_with_the_compiled_cumulative_sums(make, kernels, rng):
    # The cumulative sums over many frames (Yin's energy term and normalization, MPM's
    # energies) may run compiled: numpy's sequential float32 order, so bit for bit.
    t = np.arange(2048) / 48000
    frames = np.array([np.sin(2 * np.pi * f * t) * a + 0.1 * rng.standard_normal(2048)
                       for f, a in zip(rng.uniform(50, 2000, 40), rng.uniform(0, 1, 40))], dtype=np.float32)
    frames[0] = 0.0
    with use_kernels("numpy"):
        ref = make().process(frames[None])
    np.testing.assert_array_equal(make().process(frames[None]), ref)


@pytest.mark.parametrize("difference", ["windowed", "full"])
def test_yin_one_frame_path_equals_its_batch_path(difference, rng):
    # A live hop (one frame) takes Yin's own path: the same float32 arithmetic on the
    # troughs only. With the same FFT plan as the batch path of one frame it must agree
    # bit for bit: voiced tones, octave traps, noise (no trough below the threshold),
    # silence, a ramp (no trough at all) and a sine at the search range's edges.
    est = P.Yin(sample_rate=22050, frame_length=2048, fmin_hz=65.0, fmax_hz=2000.0, difference=difference)
    t = np.arange(2048) / 22050
    frames = [np.sin(2 * np.pi * f * t) for f in (65.0, 110.0, 333.3, 1999.0)]
    frames += [np.sin(2 * np.pi * 150 * t) + 2 * np.sin(2 * np.pi * 300 * t)]
    frames += [rng.standard_normal(2048) for _ in range(20)]
    frames += [np.zeros(2048), np.linspace(-1, 1, 2048)]
    frames += [np.sin(2 * np.pi * rng.uniform(60, 2100) * t) + 0.3 * rng.standard_normal(2048) for _ in range(40)]
    for x in np.asarray(frames, dtype=np.float32):
        fast = est.process(x[None, None])
        np.testing.assert_array_equal(fast, est._batch_one(x))

import warnings

import numpy as np
import pytest

from fluxstream.dsp import scales as sc
from fluxstream.errors import ConfigError

librosa = pytest.importorskip("librosa")

# A frequency grid straddling every scale's special points (Slaney's 1 kHz knee, 0 Hz).
GRID_HZ = np.array([0.0, 1e-3, 20.0, 440.0, 999.999, 1000.0, 1000.001, 4000.0, 11025.0, 24000.0, 96000.0])


def _freqs(rng, n=500):
    return np.concatenate([GRID_HZ, rng.uniform(0.0, 24000.0, n)])


# --- equal to librosa ----------------------------------------------------------------------


@pytest.mark.parametrize("htk", [False, True])
def test_mel_conversions_equal_librosa(htk, rng):
    f = _freqs(rng)
    np.testing.assert_allclose(sc.hz_to_mel(f, htk=htk), librosa.hz_to_mel(f, htk=htk), rtol=1e-12, atol=0)
    m = sc.hz_to_mel(f, htk=htk)
    np.testing.assert_allclose(sc.mel_to_hz(m, htk=htk), librosa.mel_to_hz(m, htk=htk), rtol=1e-12, atol=1e-12)
    # Scalars too, on both sides of the knee.
    for x in (0.0, 500.0, 1000.0, 3000.0):
        assert sc.hz_to_mel(x, htk=htk) == pytest.approx(float(librosa.hz_to_mel(x, htk=htk)), rel=1e-12)
        assert sc.mel_to_hz(x / 50, htk=htk) == pytest.approx(float(librosa.mel_to_hz(x / 50, htk=htk)),
                                                              rel=1e-12)


@pytest.mark.parametrize("n_mels,fmin,fmax", [(128, 0.0, 11025.0), (40, 0.0, 8000.0), (64, 20.0, 22050.0),
                                              (20, 300.0, 3400.0), (1, 100.0, 200.0), (2, 0.0, 24000.0)])
@pytest.mark.parametrize("htk", [False, True])
def test_mel_frequencies_equal_librosa(n_mels, fmin, fmax, htk):
    got = sc.mel_frequencies(n_mels, fmin, fmax, htk=htk)
    ref = librosa.mel_frequencies(n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk)
    assert got.shape == (n_mels,) and got.dtype == np.float64
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-9)


def test_mel_frequencies_defaults_equal_librosa():
    np.testing.assert_allclose(sc.mel_frequencies(), librosa.mel_frequencies(), rtol=1e-12)


@pytest.mark.parametrize("tuning,bpo", [(0.0, 12), (0.25, 12), (-0.4, 36), (0.1, 24)])
def test_octave_equals_librosa_octs(tuning, bpo, rng):
    f = rng.uniform(20.0, 20000.0, 200)
    o = sc.hz_to_octave(f, tuning=tuning, bins_per_octave=bpo)
    np.testing.assert_allclose(o, librosa.hz_to_octs(f, tuning=tuning, bins_per_octave=bpo), rtol=1e-12)
    np.testing.assert_allclose(sc.octave_to_hz(o, tuning=tuning, bins_per_octave=bpo),
                               librosa.octs_to_hz(o, tuning=tuning, bins_per_octave=bpo), rtol=1e-12)


# --- round trips, types, known values ------------------------------------------------------


@pytest.mark.parametrize("scale", sc.SCALES)
@pytest.mark.parametrize("htk", [False, True])
def test_every_scale_round_trips(scale, htk, rng):
    f = rng.uniform(1.0, 24000.0, (7, 11))  # any shape
    kw = dict(htk=htk, bins_per_octave=24, tuning=0.3)
    x = sc.hz_to_scale(f, scale, **kw)
    assert x.shape == f.shape and x.dtype == np.float64
    np.testing.assert_allclose(sc.scale_to_hz(x, scale, **kw), f, rtol=1e-12)
    # Monotonic increasing on every scale.
    s = np.sort(f.ravel())
    assert np.all(np.diff(sc.hz_to_scale(s, scale, **kw)) > 0)


@pytest.mark.parametrize("fwd,inv", [(sc.hz_to_mel, sc.mel_to_hz), (sc.hz_to_bark, sc.bark_to_hz),
                                     (sc.hz_to_erb, sc.erb_to_hz), (sc.hz_to_octave, sc.octave_to_hz)])
def test_pairs_take_scalars_and_ints_and_return_float64(fwd, inv):
    y = fwd(1000)
    assert isinstance(y, np.float64)
    assert isinstance(inv(y), np.float64)
    assert inv(y) == pytest.approx(1000.0, rel=1e-12)
    assert fwd([100, 200]).dtype == np.float64
    assert fwd(np.float32(440.0)).dtype == np.float64


def test_bark_round_trip_is_exact_including_zero(rng):
    f = np.concatenate([[0.0], rng.uniform(0.0, 22050.0, 1000)])
    np.testing.assert_allclose(sc.bark_to_hz(sc.hz_to_bark(f)), f, rtol=1e-13, atol=1e-10)
    assert sc.hz_to_bark(0.0) == -0.53  # no low-end correction (documented)


def test_known_values():
    assert sc.erb_bandwidth(1000.0) == pytest.approx(132.639, abs=1e-9)
    assert round(float(sc.erb_bandwidth(1000.0)), 1) == 132.6
    assert sc.hz_to_erb(1000.0) == pytest.approx(15.62, abs=0.01)
    assert sc.hz_to_erb(0.0) == 0.0
    assert sc.hz_to_bark(1000.0) == pytest.approx(8.5, abs=0.05)
    assert sc.hz_to_bark(1000.0) == pytest.approx(26.81 * 1000 / 2960 - 0.53, rel=1e-15)
    assert sc.hz_to_octave(440.0) == 4.0
    assert sc.hz_to_octave(27.5) == 0.0
    # A tuning of half a bin moves the reference by half a bin (50 cents at 12 per octave).
    assert sc.hz_to_octave(440.0 * 2 ** (0.5 / 12), tuning=0.5) == pytest.approx(4.0, abs=1e-12)
    assert sc.hz_to_mel(1000.0) == pytest.approx(15.0, rel=1e-12)
    assert sc.hz_to_mel(1000.0, htk=True) == pytest.approx(1000.0, abs=0.02)
    assert sc.hz_to_scale(1024.0, "log") == 10.0
    assert sc.hz_to_scale(123.4, "linspace") == 123.4 == sc.hz_to_scale(123.4, "linear")


def test_erb_rate_is_the_integral_of_one_over_erb():
    # d(ERB-rate)/df = 1 / ERB(f): Glasberg & Moore's rounded constants agree to 0.3 %.
    f = np.linspace(50.0, 15000.0, 50)
    h = 1e-3
    slope = (sc.hz_to_erb(f + h) - sc.hz_to_erb(f - h)) / (2 * h)
    np.testing.assert_allclose(slope * sc.erb_bandwidth(f), 1.0, rtol=4e-3)


def test_zero_hz_on_log_scales_is_minus_inf_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sc.hz_to_octave(0.0) == -np.inf
        assert sc.hz_to_scale(0.0, "log") == -np.inf
        assert np.isneginf(sc.hz_to_scale(np.array([0.0, 1.0]), "octave")[0])
        sc.hz_to_mel(np.array([0.0, -5.0]))  # Slaney's linear part is defined there


@pytest.mark.parametrize("bad", ["Mel", "cqt", "", None, 3])
def test_unknown_scale_is_a_config_error(bad):
    for fn in (sc.hz_to_scale, sc.scale_to_hz):
        with pytest.raises(ConfigError, match=r"scale=.*allowed: linear, linspace, mel"):
            fn(100.0, bad)
    with pytest.raises(ConfigError, match="scale="):
        sc.band_edges(bad, 4, 0.0, 1000.0)


# --- band edges ----------------------------------------------------------------------------


@pytest.mark.parametrize("scale", sc.SCALES)
@pytest.mark.parametrize("n_bands", [1, 7, 128])
def test_band_edges_are_equally_spaced_on_the_scale(scale, n_bands):
    fmin, fmax = (50.0, 16000.0)
    edges = sc.band_edges(scale, n_bands, fmin, fmax, bins_per_octave=24, tuning=0.2)
    assert edges.shape == (n_bands + 2,) and edges.dtype == np.float64
    assert edges[0] == fmin and edges[-1] == fmax
    assert np.all(np.diff(edges) > 0)
    x = sc.hz_to_scale(edges, scale, bins_per_octave=24, tuning=0.2)
    np.testing.assert_allclose(np.diff(x), (x[-1] - x[0]) / (n_bands + 1), rtol=1e-9)


@pytest.mark.parametrize("htk", [False, True])
def test_mel_band_edges_are_librosas_mel_layout(htk):
    edges = sc.band_edges("mel", 40, 0.0, 8000.0, htk=htk)
    np.testing.assert_allclose(edges, librosa.mel_frequencies(n_mels=42, fmin=0.0, fmax=8000.0, htk=htk),
                               rtol=1e-12)


def test_log_and_octave_edges_agree_and_tuning_does_not_move_them():
    a = sc.band_edges("log", 30, 55.0, 7040.0)
    b = sc.band_edges("octave", 30, 55.0, 7040.0)
    c = sc.band_edges("octave", 30, 55.0, 7040.0, tuning=0.37)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(b, c, rtol=1e-12)


def test_octave_n_bands_derived():
    # Seven octaves at 12 per octave: 84 steps -> 85 edges -> 83 bands, exactly a semitone apart.
    assert sc.octave_n_bands(27.5, 27.5 * 2 ** 7, 12) == 83
    edges = sc.band_edges("octave", None, 27.5, 27.5 * 2 ** 7)
    assert edges.shape == (85,)
    np.testing.assert_allclose(np.diff(np.log2(edges)), 1 / 12, rtol=1e-9)
    # Not a whole number of steps: the spacing is at least one step.
    n = sc.octave_n_bands(100.0, 1000.0, 3)  # 3 * log2(10) = 9.97 steps
    assert n == 8
    e = sc.band_edges("octave", None, 100.0, 1000.0, bins_per_octave=3)
    assert e.shape == (10,) and np.all(np.diff(np.log2(e)) >= 1 / 3)
    # Fewer than two steps: no band fits.
    with pytest.raises(ConfigError, match="fmax_hz"):
        sc.octave_n_bands(100.0, 100.0 * 2 ** (1.5 / 12), 12)
    with pytest.raises(ConfigError, match="n_bands=None"):
        sc.band_edges("mel", None, 0.0, 1000.0)


@pytest.mark.parametrize("kwargs,name", [
    (dict(fmin_hz=-1.0), r"fmin_hz=-1.0 must be >= 0 \(Hz\)"),
    (dict(fmin_hz=500.0, fmax_hz=500.0), "fmax_hz=500.0 must be > fmin_hz=500.0"),
    (dict(fmin_hz=800.0, fmax_hz=500.0), "fmax_hz=500.0 must be > fmin_hz"),
    (dict(n_bands=0), "n_bands=0 must be an integer >= 1"),
    (dict(n_bands=2.5), "n_bands=2.5 must be an integer"),
    (dict(n_bands=True), "n_bands=True"),
    (dict(fmin_hz=float("nan")), "fmin_hz=nan must be a finite number"),
    (dict(fmax_hz=float("inf")), "fmax_hz=inf must be a finite number"),
    (dict(scale="log", fmin_hz=0.0), "fmin_hz=0.0 must be > 0 .* scale='log'"),
    (dict(scale="octave", fmin_hz=0.0), "fmin_hz=0.0 must be > 0 .* scale='octave'"),
    (dict(scale="octave", fmin_hz=30.0, bins_per_octave=0), "bins_per_octave=0 must be an integer >= 1"),
    (dict(fmin_hz=1000.0, fmax_hz=1000.0 + 1e-9, n_bands=10 ** 6), "n_bands=1000000 is too many"),
])
def test_band_edges_bad_parameters_name_the_parameter(kwargs, name):
    args = dict(scale="mel", n_bands=10, fmin_hz=0.0, fmax_hz=8000.0) | kwargs
    with pytest.raises(ConfigError, match=name):
        sc.band_edges(args.pop("scale"), args.pop("n_bands"), args.pop("fmin_hz"), args.pop("fmax_hz"), **args)


def test_mel_frequencies_validates():
    with pytest.raises(ConfigError, match="n_mels=0"):
        sc.mel_frequencies(0)
    with pytest.raises(ConfigError, match="fmax_hz"):
        sc.mel_frequencies(10, 100.0, 100.0)

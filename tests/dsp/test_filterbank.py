import warnings

import numpy as np
import pytest

from fluxstream.dsp import scales as sc
from fluxstream.dsp.filterbank import (
    NORMS,
    SHAPES,
    apply_filterbank,
    band_centers_hz,
    filterbank,
    mel_filterbank,
)
from fluxstream.dsp.spectral import fft_frequencies
from fluxstream.errors import ConfigError

librosa = pytest.importorskip("librosa")

# (sample_rate, n_fft, n_mels, fmin_hz, fmax_hz): every set gives every band at least one bin.
MEL_SETS = [
    (16000, 512, 40, 0.0, None),
    (16000, 1024, 64, 20.0, 7600.0),
    (22050, 2048, 128, 0.0, None),
    (22050, 1024, 80, 0.0, 8000.0),
    (44100, 2048, 128, 30.0, 16000.0),
    (44100, 4096, 96, 0.0, None),
    (48000, 4096, 128, 0.0, 24000.0),
    (48000, 1024, 40, 133.33, 6855.4976),
    (48000, 512, 26, 300.0, 3400.0),
]

# Layouts where every band of every shape receives bins.
LAYOUTS = [
    dict(scale="mel", n_bands=40, fmin_hz=0.0, fmax_hz=None),
    dict(scale="erb", n_bands=32, fmin_hz=50.0, fmax_hz=10000.0),
    dict(scale="bark", n_bands=24, fmin_hz=20.0, fmax_hz=None),
    dict(scale="octave", n_bands=None, fmin_hz=110.0, fmax_hz=110.0 * 2 ** 6, bins_per_octave=6),
    dict(scale="log", n_bands=20, fmin_hz=200.0, fmax_hz=11000.0),
    dict(scale="linspace", n_bands=30, fmin_hz=0.0, fmax_hz=8000.0),
]
SR, N_FFT = 22050, 2048
DF = SR / N_FFT
FREQS = fft_frequencies(SR, N_FFT)


def _fb(layout, **kw):
    lay = dict(layout)
    return filterbank(SR, N_FFT, lay.pop("n_bands"), **lay, **kw)


def _edges(layout):
    lay = dict(layout)
    nyq = SR / 2
    return sc.band_edges(lay["scale"], lay["n_bands"], lay["fmin_hz"], lay["fmax_hz"] or nyq,
                         bins_per_octave=lay.get("bins_per_octave", 12))


def _ids(layouts):
    return [lay["scale"] for lay in layouts]


# --- equal to librosa ----------------------------------------------------------------------


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", MEL_SETS)
@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("norm", ["slaney", None])
def test_mel_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax, htk, norm):
    got = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    assert got.dtype == np.float32 and got.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * ref.max())


def test_generic_filterbank_defaults_are_librosas_slaney_mel():
    np.testing.assert_allclose(filterbank(22050, 2048, 128), librosa.filters.mel(sr=22050, n_fft=2048),
                               rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(mel_filterbank(22050, 2048), librosa.filters.mel(sr=22050, n_fft=2048),
                               rtol=1e-6, atol=1e-10)


def test_apply_filterbank_equals_librosa_melspectrogram(rng):
    P = (rng.standard_normal((6, 1025)) ** 2).astype(np.float32)
    fb = mel_filterbank(22050, 2048, 64)
    got = apply_filterbank(P, fb)
    ref = librosa.feature.melspectrogram(S=P.T, sr=22050, n_fft=2048, n_mels=64).T
    assert got.dtype == np.float32 and got.shape == (6, 64)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)


# --- every shape x norm keeps its documented property --------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS, ids=_ids(LAYOUTS))
@pytest.mark.parametrize("shape", SHAPES)
def test_norms(layout, shape):
    edges = _edges(layout)
    width_hz = edges[2:] - edges[:-2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no empty band, no RuntimeWarning
        base = _fb(layout, shape=shape, norm="none").astype(np.float64)
        area = _fb(layout, shape=shape, norm="area").astype(np.float64)
        bw = _fb(layout, shape=shape, norm="bandwidth").astype(np.float64)
        assert np.array_equal(_fb(layout, shape=shape, norm=None), base.astype(np.float32))
    n = len(edges) - 2
    for w in (base, area, bw):
        assert w.shape == (n, N_FFT // 2 + 1) and np.all(np.isfinite(w)) and np.all(w >= 0)
    assert np.all(base.max(axis=1) > 0) and np.all(base.max(axis=1) <= 1.0)
    np.testing.assert_allclose(bw, base / width_hz[:, None], rtol=1e-6, atol=1e-12)
    if shape == "triangle":
        # Slaney's analytic area norm: 2 / width; numerically close to unit area when the
        # triangle spans many bins.
        np.testing.assert_allclose(area, base * (2.0 / width_hz)[:, None], rtol=1e-6, atol=1e-12)
        wide = width_hz > 20 * DF
        np.testing.assert_allclose(area[wide].sum(axis=1) * DF, 1.0, rtol=0.01)
    else:
        np.testing.assert_allclose(area.sum(axis=1) * DF, 1.0, rtol=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS, ids=_ids(LAYOUTS))
def test_triangles_peak_at_the_centre_bin_and_sum_to_one_between_centres(layout):
    edges = _edges(layout)
    fb = _fb(layout, shape="triangle", norm="none")
    c = edges[1:-1] / DF
    k = fb.argmax(axis=1)
    assert np.all((k == np.floor(c)) | (k == np.ceil(c)))
    inner = (FREQS >= edges[1]) & (FREQS <= edges[-2])
    np.testing.assert_allclose(fb.sum(axis=0)[inner], 1.0, atol=1e-6)


@pytest.mark.parametrize("layout", LAYOUTS, ids=_ids(LAYOUTS))
def test_rectangles_tile_without_overlap(layout):
    lay = dict(layout)
    kw = dict(bins_per_octave=lay.get("bins_per_octave", 12))
    edges = _edges(layout)
    fb = _fb(layout, shape="rectangle", norm="none")
    assert set(np.unique(fb)) <= {0.0, 1.0}
    # Boundaries halfway between centres on the scale axis; every bin in between is in
    # exactly one band, every bin outside in none.
    x = sc.hz_to_scale(edges, lay["scale"], **kw)
    b = sc.scale_to_hz(0.5 * (x[:-1] + x[1:]), lay["scale"], **kw)
    covered = (FREQS >= b[0]) & (FREQS < b[-1])
    col = fb.sum(axis=0)
    assert np.all(col[covered] == 1.0) and np.all(col[~covered] == 0.0)
    # Each rectangle is one contiguous run of bins inside its own boundaries.
    for i, row in enumerate(fb):
        nz = np.flatnonzero(row)
        assert np.all(np.diff(nz) == 1)
        assert FREQS[nz[0]] >= b[i] and FREQS[nz[-1]] < b[i + 1]


@pytest.mark.parametrize("layout", LAYOUTS, ids=_ids(LAYOUTS))
def test_hann_bands_sum_to_one_on_the_scale_axis(layout):
    edges = _edges(layout)
    fb = _fb(layout, shape="hann", norm="none")
    inner = (FREQS >= edges[1]) & (FREQS <= edges[-2])
    np.testing.assert_allclose(fb.sum(axis=0)[inner], 1.0, atol=1e-6)
    assert np.all(fb[:, (FREQS < edges[0]) | (FREQS > edges[-1])] == 0)


@pytest.mark.parametrize("layout", LAYOUTS, ids=_ids(LAYOUTS))
def test_gaussian_sigma_is_a_quarter_of_the_band_on_the_scale_axis(layout):
    lay = dict(layout)
    kw = dict(bins_per_octave=lay.get("bins_per_octave", 12))
    edges = _edges(layout)
    fb = _fb(layout, shape="gaussian", norm="none").astype(np.float64)
    x_bins = sc.hz_to_scale(np.maximum(FREQS, 1e-300), lay["scale"], **kw)
    x = sc.hz_to_scale(edges, lay["scale"], **kw)
    for i, row in enumerate(fb):
        lo, hi = x[i], x[i + 2]
        inside = (x_bins >= lo) & (x_bins <= hi)
        sigma = (hi - lo) / 4
        ref = np.exp(-0.5 * ((x_bins[inside] - (lo + hi) / 2) / sigma) ** 2)
        np.testing.assert_allclose(row[inside], ref, rtol=1e-6)
        assert np.all(row[~inside] == 0)
        assert row[inside].min() >= np.exp(-2.0) * (1 - 1e-6)  # truncated at 2 sigma


@pytest.mark.parametrize("scale", ["erb", "mel", "linspace"])
def test_gammatone_peaks_at_fc_with_the_erb_as_its_equivalent_bandwidth(scale):
    sr, n_fft = 16000, 8192
    df = sr / n_fft
    freqs = fft_frequencies(sr, n_fft)
    fb = filterbank(sr, n_fft, 24, scale=scale, shape="gammatone", norm="none", fmin_hz=100.0,
                    fmax_hz=7000.0).astype(np.float64)
    fc = band_centers_hz(sr, n_fft, 24, scale=scale, fmin_hz=100.0, fmax_hz=7000.0)
    np.testing.assert_array_equal(fb.argmax(axis=1), np.round(fc / df))
    b = 1.019 * sc.erb_bandwidth(fc)
    np.testing.assert_allclose(fb, (1 + ((freqs - fc[:, None]) / b[:, None]) ** 2) ** -2, rtol=1e-6, atol=1e-12)
    # The power response's equivalent rectangular bandwidth is b * 5 pi / 16 = 1.0004 ERB(fc).
    mid = (fc > 300) & (fc < 5000)
    erb_num = (fb[mid] ** 2).sum(axis=1) * df
    np.testing.assert_allclose(erb_num, sc.erb_bandwidth(fc[mid]), rtol=2e-3)


@pytest.mark.parametrize("layout", LAYOUTS, ids=_ids(LAYOUTS))
@pytest.mark.parametrize("shape", ["hann", "gaussian", "gammatone"])
def test_smooth_shapes_peak_near_their_centre(layout, shape):
    edges = _edges(layout)
    fb = _fb(layout, shape=shape, norm="none")
    k = fb.argmax(axis=1)
    # The peak bin is within one bin of the centre frequency.
    assert np.all(np.abs(FREQS[k] - edges[1:-1]) <= DF)


# --- centres, linear, octave ---------------------------------------------------------------


@pytest.mark.parametrize("scale", [s for s in sc.SCALES if s != "linear"])
def test_band_centers_are_monotonic_and_the_middle_edges(scale):
    c = band_centers_hz(44100, 2048, 50, scale=scale, fmin_hz=40.0, fmax_hz=18000.0, htk=True)
    assert c.shape == (50,) and c.dtype == np.float64
    assert np.all(np.diff(c) > 0) and c[0] > 40.0 and c[-1] < 18000.0
    np.testing.assert_array_equal(c, sc.band_edges(scale, 50, 40.0, 18000.0, htk=True)[1:-1])


def test_mel_band_centers_are_librosas():
    c = band_centers_hz(22050, 2048, 128)
    np.testing.assert_allclose(c, librosa.mel_frequencies(n_mels=130, fmax=11025.0)[1:-1], rtol=1e-12)


def test_linear_scale_is_the_identity():
    for n_bands in (None, 513):
        fb = filterbank(16000, 1024, n_bands, scale="linear", shape="gaussian", norm="area")
        assert fb.dtype == np.float32 and np.array_equal(fb, np.eye(513, dtype=np.float32))
    np.testing.assert_array_equal(band_centers_hz(16000, 1024, None, scale="linear"), fft_frequencies(16000, 1024))
    assert filterbank(16000, 1024, None, scale="linear", fmax_hz=8000.0).shape == (513, 513)
    with pytest.raises(ConfigError, match="n_bands=40 must be None or n_fft//2\\+1=513"):
        filterbank(16000, 1024, 40, scale="linear")
    with pytest.raises(ConfigError, match="fmin_hz=100.0"):
        filterbank(16000, 1024, None, scale="linear", fmin_hz=100.0)


def test_octave_bands_are_derived_from_bins_per_octave():
    fb = filterbank(44100, 4096, None, scale="octave", fmin_hz=220.0, fmax_hz=220.0 * 2 ** 5, bins_per_octave=3)
    assert fb.shape == (14, 2049)  # 5 octaves * 3 = 15 steps -> 14 bands
    c = band_centers_hz(44100, 4096, None, scale="octave", fmin_hz=220.0, fmax_hz=220.0 * 2 ** 5, bins_per_octave=3)
    np.testing.assert_allclose(np.diff(np.log2(c)), 1 / 3, rtol=1e-9)


# --- bad parameters, empty bands, apply ----------------------------------------------------


@pytest.mark.parametrize("kwargs,msg", [
    (dict(fmin_hz=1000.0, fmax_hz=1000.0), "fmax_hz=1000.0 must be > fmin_hz=1000.0"),
    (dict(fmax_hz=11026.0), r"fmax_hz=11026.0 must be <= sample_rate/2=11025 \(Hz"),
    (dict(n_bands=0), "n_bands=0 must be an integer >= 1"),
    (dict(n_bands=None), "n_bands=None is only allowed"),
    (dict(fmin_hz=-5.0), "fmin_hz=-5.0 must be >= 0"),
    (dict(scale="chroma"), "scale='chroma' is not a known scale"),
    (dict(shape="triangular"), "shape='triangular' is not a known filter shape; allowed: triangle"),
    (dict(norm="slaney"), "norm='slaney' is not a known filter norm; allowed: none, area, bandwidth"),
    (dict(norm=2), "norm=2"),
    (dict(sample_rate=0), "sample_rate=0 must be"),
    (dict(n_fft=0), "n_fft=0 must be an integer >= 1"),
    (dict(scale="log"), "fmin_hz=0.0 must be > 0"),
])
def test_bad_parameters_are_config_errors_naming_the_parameter(kwargs, msg):
    args = dict(sample_rate=22050, n_fft=2048, n_bands=40) | kwargs
    sr, n_fft, n_bands = args.pop("sample_rate"), args.pop("n_fft"), args.pop("n_bands")
    with pytest.raises(ConfigError, match=msg):
        filterbank(sr, n_fft, n_bands, **args)
    with pytest.raises(ConfigError, match=msg):
        band_centers_hz(sr, n_fft, n_bands, **args)


def test_mel_filterbank_bad_norm_and_nyquist():
    with pytest.raises(ConfigError, match="norm='area' is not a mel filter norm"):
        mel_filterbank(22050, 2048, norm="area")
    with pytest.raises(ConfigError, match="fmax_hz=12000.0"):
        mel_filterbank(22050, 2048, fmax_hz=12000.0)
    with pytest.raises(ConfigError, match="n_mels=0"):
        mel_filterbank(22050, 2048, n_mels=0)


@pytest.mark.parametrize("shape", ["triangle", "rectangle", "hann", "gaussian"])
@pytest.mark.parametrize("norm", NORMS)
def test_empty_bands_warn_and_stay_zero(shape, norm):
    with pytest.warns(UserWarning, match=r"\d+ of 128 bands receive no FFT bin"):
        fb = filterbank(16000, 256, 128, scale="mel", shape=shape, norm=norm)
    assert fb.shape == (128, 129) and np.all(np.isfinite(fb))
    assert np.any(fb.max(axis=1) == 0) and np.all(fb[-10:].max(axis=1) > 0)


def test_no_warning_when_every_band_has_bins():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        filterbank(22050, 2048, 128)
        mel_filterbank(16000, 512, 40)


def test_apply_filterbank_shapes_dtypes_and_out(rng):
    fb = filterbank(16000, 512, 24, scale="erb", shape="gammatone", fmin_hz=50.0)
    S = rng.random((5, 2, 257))  # float64 (frames, channels, bins)
    got = apply_filterbank(S, fb)
    assert got.shape == (5, 2, 24) and got.dtype == np.float32
    np.testing.assert_allclose(got, np.einsum("...k,bk->...b", S, fb.astype(np.float64)), rtol=1e-5)
    out = np.empty((5, 2, 24), np.float32)
    assert apply_filterbank(S.astype(np.float32), fb, out=out) is out
    np.testing.assert_allclose(out, got, rtol=1e-6)
    assert apply_filterbank(S[0, 0], fb).shape == (24,)
    S32 = S.astype(np.float32)
    before = S32.copy()
    apply_filterbank(S32, fb)
    assert np.array_equal(S32, before)
    with pytest.raises(ValueError, match=r"S.shape=\(5, 2, 256\)"):
        apply_filterbank(S[..., :256], fb)
    with pytest.raises(ValueError, match="complex"):
        apply_filterbank(S + 1j, fb)

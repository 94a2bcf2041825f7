"""Onset detection functions: naive per-frame references, librosa's onset strength where the
conventions can be matched, the start-of-stream convention, streaming-equals-batch for every
stage, band ODFs, stage contract and bad parameters."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.dsp import onset as O
from fluxstream.dsp.spectral import fft_frequencies
from fluxstream.errors import ConfigError
from tests.helpers import block_sizes, split

try:
    import librosa
except ImportError:  # pragma: no cover - librosa is a test dependency
    librosa = None

needs_librosa = pytest.mark.skipif(librosa is None, reason="librosa (test reference) not installed")


def magnitudes(rng, C=2, n=12, K=40):
    return (rng.random((C, n, K)) ** 2).astype(np.float32)


def spectra(rng, C=2, n=12, K=40):
    X = (rng.standard_normal((C, n, K)) + 1j * rng.standard_normal((C, n, K))).astype(np.complex64)
    X[:, :, :3] = 0  # silent bins: phase 0 by convention
    X[:, 4, 10:20] = 0  # a silent patch in one frame
    return X


# -- naive references: per-frame, per-bin loops in float64 ------------------------------
# "Frames before the first are copies of it" is written here as clamping the earlier frame
# index at 0.

def ref_energy_terms(S):
    return S.astype(np.float64) ** 2


def ref_energy(S, bins=None):
    C, n, K = S.shape
    bins = range(K) if bins is None else bins
    out = np.zeros((C, n))
    for c in range(C):
        for i in range(n):
            e = sum(float(S[c, i, k]) ** 2 for k in bins)
            e_prev = sum(float(S[c, max(i - 1, 0), k]) ** 2 for k in bins)
            out[c, i] = max(e - e_prev, 0.0)
    return out


def ref_hfc(S, bins=None):
    C, n, K = S.shape
    bins = range(K) if bins is None else bins
    out = np.zeros((C, n))
    for c in range(C):
        for i in range(n):
            out[c, i] = sum(k * float(S[c, i, k]) ** 2 for k in bins)
    return out


def _compress(S, lam):
    S = S.astype(np.float64)
    return np.log(1.0 + lam * S) if lam > 0 else S


def ref_flux(S, lam=1.0, rectify=True, norm=1.0, bins=None):
    L = _compress(S, lam)
    C, n, K = S.shape
    bins = range(K) if bins is None else bins
    out = np.zeros((C, n))
    for c in range(C):
        for i in range(n):
            total = 0.0
            for k in bins:
                d = L[c, i, k] - L[c, max(i - 1, 0), k]
                d = max(d, 0.0) if rectify else abs(d)
                total += d ** norm
            out[c, i] = total ** (1.0 / norm)
    return out


def ref_superflux(S, lag=2, max_bins=3, lam=1.0, bins=None):
    L = _compress(S, lam)
    C, n, K = S.shape
    bins = range(K) if bins is None else bins
    below, above = max_bins // 2, max_bins - 1 - max_bins // 2
    out = np.zeros((C, n))
    for c in range(C):
        for i in range(n):
            r = max(i - lag, 0)
            for k in bins:
                ref = max(L[c, r, j] for j in range(max(0, k - below), min(K, k + above + 1)))
                out[c, i] += max(L[c, i, k] - ref, 0.0)
    return out


def ref_complex(X, rectify=False, bins=None):
    X = X.astype(np.complex128)
    C, n, K = X.shape
    bins = range(K) if bins is None else bins
    out = np.zeros((C, n))
    for c in range(C):
        for i in range(n):
            x1, x2 = X[c, max(i - 1, 0)], X[c, max(i - 2, 0)]
            for k in bins:
                target = abs(x1[k]) * np.exp(1j * (2 * np.angle(x1[k]) - np.angle(x2[k])))
                if rectify and abs(X[c, i, k]) < abs(x1[k]):
                    continue
                out[c, i] += abs(X[c, i, k] - target)
    return out


def ref_phase(X, weighted=False, normalized=False, bins=None):
    X = X.astype(np.complex128)
    C, n, K = X.shape
    bins = list(range(K)) if bins is None else list(bins)
    out = np.zeros((C, n))
    for c in range(C):
        for i in range(n):
            num = den = 0.0
            for k in bins:
                d = np.angle(X[c, i, k]) - 2 * np.angle(X[c, max(i - 1, 0), k]) + np.angle(X[c, max(i - 2, 0), k])
                d = abs((d + math.pi) % (2 * math.pi) - math.pi)
                w = abs(X[c, i, k]) if weighted else 1.0
                num += w * d
                den += abs(X[c, i, k])
            if normalized:
                out[c, i] = num / den if den > 0 else 0.0
            else:
                out[c, i] = num / len(bins)
    return out


def test_kernels_equal_naive_references(rng):
    S = magnitudes(rng)
    S[1, 5:8] = 0.0  # silence inside the stream
    X = spectra(rng)
    rtol, atol = 2e-5, 1e-5
    np.testing.assert_allclose(O.energy_odf(S), ref_energy(S), rtol=rtol, atol=atol)
    np.testing.assert_allclose(O.hfc_odf(S), ref_hfc(S), rtol=rtol, atol=atol)
    for lam, rect, norm in [(1.0, True, 1), (0.0, True, 1), (10.0, False, 2), (3.0, True, 0.5)]:
        np.testing.assert_allclose(O.spectral_flux_odf(S, log_compression=lam, rectify=rect, norm=norm),
                                   ref_flux(S, lam, rect, norm), rtol=rtol, atol=atol)
    for lag, mb, lam in [(2, 3, 1.0), (1, 1, 0.0), (3, 5, 10.0), (2, 4, 1.0), (1, 2, 0.5)]:
        np.testing.assert_allclose(O.superflux_odf(S, max_bins=mb, lag=lag, log_compression=lam),
                                   ref_superflux(S, lag, mb, lam), rtol=rtol, atol=atol)
    for rect in (False, True):
        np.testing.assert_allclose(O.complex_domain_odf(X, rectify=rect), ref_complex(X, rect), rtol=1e-4, atol=1e-4)
    for w, nz in [(False, False), (True, False), (True, True)]:
        np.testing.assert_allclose(O.phase_deviation_odf(X, weighted=w, normalized=nz), ref_phase(X, w, nz),
                                   rtol=1e-4, atol=1e-4)


def test_kernels_dtype_shape_and_no_mutation(rng):
    S = magnitudes(rng, C=3, n=5, K=17)
    X = spectra(rng, C=3, n=5, K=17)
    S.flags.writeable = False
    X.flags.writeable = False
    calls = [lambda: O.energy_odf(S), lambda: O.hfc_odf(S), lambda: O.spectral_flux_odf(S),
             lambda: O.superflux_odf(S), lambda: O.complex_domain_odf(X), lambda: O.phase_deviation_odf(X, True, True),
             lambda: O.complex_domain_odf(X, rectify=True)]
    for call in calls:
        out = call()
        assert out.dtype == np.float32 and out.shape == (3, 5) and np.all(np.isfinite(out))
    # Any leading axes: one frame matrix (n_frames, n_bins), or more.
    assert O.spectral_flux_odf(S[0]).shape == (5,)
    assert O.superflux_odf(S[None]).shape == (1, 3, 5)
    # float64 in, float64 out; no frames, no values.
    assert O.spectral_flux_odf(S.astype(np.float64)).dtype == np.float64
    assert O.superflux_odf(S[:, :0]).shape == (3, 0)
    assert O.phase_deviation_odf(X[:, :0]).dtype == np.float32


def test_start_of_stream_convention(rng):
    """Frame 0 compares with copies of itself: every difference ODF gives exactly 0 there;
    the next frames compare with those copies (documented as warm-up frames)."""
    S = magnitudes(rng)
    X = spectra(rng)
    for odf in (O.energy_odf(S), O.spectral_flux_odf(S), O.superflux_odf(S), O.superflux_odf(S, lag=3, max_bins=1),
                O.phase_deviation_odf(X), O.phase_deviation_odf(X, True, True)):
        assert np.all(odf[:, 0] == 0)
    # The complex domain's prediction X u conj(u) equals X to float32 round-off.
    np.testing.assert_allclose(O.complex_domain_odf(X)[:, 0], 0, atol=1e-6 * np.abs(X[:, 0]).sum())
    # SuperFlux frame 1 (lag 2) compares with frame 0's filtered copy: plain SuperFlux
    # against frame 0, not 0 and not against zeros.
    sf = O.superflux_odf(S, lag=2, max_bins=3)
    pair = O.superflux_odf(S[:, [0, 1]], lag=1, max_bins=3)
    np.testing.assert_allclose(sf[:, 1], pair[:, 1], rtol=1e-6)
    # A steady partial: the complex-domain ODF is 0 from frame 2 on (prediction exact); its
    # frame 1 is |exp(j w) - 1| (zero phase advance assumed), the phase deviation's is w.
    w = 0.7
    Xs = np.exp(1j * w * np.arange(8))[None, :, None].astype(np.complex64)
    cd = O.complex_domain_odf(Xs)[0]
    pd = O.phase_deviation_odf(Xs)[0]
    np.testing.assert_allclose(cd[1], abs(np.exp(1j * w) - 1), rtol=1e-5)
    np.testing.assert_allclose(pd[1], w, rtol=1e-5)
    np.testing.assert_allclose(cd[2:], 0, atol=1e-5)
    np.testing.assert_allclose(pd[2:], 0, atol=1e-5)
    stages = [O.EnergyOdf(), O.HfcOdf(), O.SpectralFluxOdf(), O.SuperFluxOdf(lag=3), O.ComplexDomainOdf(),
              O.PhaseDeviationOdf()]
    assert [s.warmup_frames for s in stages] == [1, 0, 1, 3, 2, 2]


def test_prev_continues_a_stream(rng):
    """A kernel given the frames before (``prev``) continues the batch over the whole."""
    S = magnitudes(rng, n=15)
    X = spectra(rng, n=15)
    cases = [(O.energy_odf, S), (lambda s, prev=None: O.spectral_flux_odf(s, 5.0, False, 2, prev=prev), S),
             (lambda s, prev=None: O.superflux_odf(s, 3, 3, prev=prev), S),
             (lambda s, prev=None: O.complex_domain_odf(s, True, prev=prev), X),
             (lambda s, prev=None: O.phase_deviation_odf(s, True, prev=prev), X)]
    for f, A in cases:
        whole = f(A)
        for k in (3, 7):
            np.testing.assert_allclose(f(A[:, k:], prev=A[:, :k]), whole[:, k:], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="prev shape"):
        O.superflux_odf(S[:, 3:], prev=S[:, :1], lag=2)


# -- librosa's onset strength on the same log-mel input ----------------------------------

def _db_mel(rng, sr=22050, n_fft=2048, hop=512, n_mels=64):
    """A dB mel spectrogram of clicks over noise and a tone, as librosa builds it."""
    n = sr * 2
    t = np.arange(n) / sr
    y = 0.05 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 330 * t) * (t > 0.8)
    y[[int(0.3 * sr), int(1.3 * sr)]] += 1.0
    M = librosa.feature.melspectrogram(y=y.astype(np.float32), sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
    return librosa.power_to_db(M)  # (n_mels, n_frames): librosa's layout


@needs_librosa
@pytest.mark.parametrize("lag,max_size", [(1, 1), (2, 3), (1, 3), (3, 5)])
def test_superflux_and_flux_equal_librosa_onset_strength(lag, max_size, rng):
    """``librosa.onset.onset_strength(S=dB, lag, max_size, center=False, detrend=False)``
    is the same recipe (lag 1, max_size 1: spectral flux; lag 2, max_size 3: SuperFlux) with
    the mean over bins and zeros for frames 0..lag-1. On frames >= lag ours equals n_mels
    times it; frames < lag differ by the start convention (copies of frame 0 vs zeros)."""
    D = _db_mel(rng)
    n_mels = D.shape[0]
    ref = librosa.onset.onset_strength(S=D, lag=lag, max_size=max_size, center=False, detrend=False)
    ours = O.superflux_odf(D.T[None].astype(np.float32), lag=lag, max_bins=max_size, log_compression=0.0)[0]
    assert ref.shape == ours.shape
    np.testing.assert_allclose(ours[lag:], n_mels * ref[lag:], rtol=1e-4, atol=1e-3)
    assert np.all(ref[:lag] == 0) and ours[0] == 0
    if max_size == 1:  # plain flux at lag 1 is also SpectralFluxOdf
        flux = O.SpectralFluxOdf(log_compression=0.0).process(D.T[None].astype(np.float32))[0]
        np.testing.assert_allclose(flux[1:], n_mels * ref[1:], rtol=1e-4, atol=1e-3)
    else:  # and the stage gives the kernel's values
        stage = O.SuperFluxOdf(max_bins=max_size, lag=lag, log_compression=0.0)
        np.testing.assert_allclose(stage.process(D.T[None].astype(np.float32))[0], ours, rtol=1e-6)


@needs_librosa
def test_librosa_centring_is_a_shift_of_two_frames(rng):
    """librosa's default centring pads ``n_fft // (2 * hop_length)`` frames (2 with its
    defaults 2048 and 512 when S is given) in front and trims the end: its value at frame
    t + 2 is ours at frame t. We do not shift: the picker and the sample refiner place
    onsets on the frame clock instead."""
    D = _db_mel(rng)
    lag, shift = 2, 2048 // (2 * 512)
    ref = librosa.onset.onset_strength(S=D, lag=lag, max_size=3, detrend=False)
    ours = O.superflux_odf(D.T[None].astype(np.float32), lag=lag, max_bins=3, log_compression=0.0)[0]
    np.testing.assert_allclose(ours[lag : len(ours) - shift], D.shape[0] * ref[lag + shift :], rtol=1e-4, atol=1e-3)


# -- stages: streaming equals batch --------------------------------------------------------

#: Frame counts per call: the shared block sizes, and small ones so that short inputs split.
frame_counts = st.one_of(block_sizes, st.lists(st.integers(0, 6), min_size=1, max_size=12))

FREQS = fft_frequencies(8000, 64)  # 33 bins of 125 Hz
STAGES = [
    (lambda: O.EnergyOdf(), O.energy_odf, False),
    (lambda: O.HfcOdf(), O.hfc_odf, False),
    (lambda: O.SpectralFluxOdf(), O.spectral_flux_odf, False),
    (lambda: O.SpectralFluxOdf(log_compression=0.0, rectify=False, norm=2),
     lambda S: O.spectral_flux_odf(S, 0.0, False, 2), False),
    (lambda: O.SuperFluxOdf(), O.superflux_odf, False),
    (lambda: O.SuperFluxOdf(max_bins=1, lag=4, log_compression=10.0), lambda S: O.superflux_odf(S, 1, 4, 10.0), False),
    (lambda: O.ComplexDomainOdf(), O.complex_domain_odf, True),
    (lambda: O.ComplexDomainOdf(rectify=True), lambda X: O.complex_domain_odf(X, rectify=True), True),
    (lambda: O.PhaseDeviationOdf(), O.phase_deviation_odf, True),
    (lambda: O.PhaseDeviationOdf(weighted=True, normalized=True), lambda X: O.phase_deviation_odf(X, True, True), True),
    (lambda: O.BandOdf(FREQS, (0, 500, 1500, math.inf)),
     lambda S: O.band_odf(S, FREQS, (0, 500, 1500, math.inf)), False),
    (lambda: O.BandOdf(FREQS, (250, 2000, 4000), "superflux", lag=3),
     lambda S: O.band_odf(S, FREQS, (250, 2000, 4000), "superflux", lag=3), False),
    (lambda: O.BandOdf(FREQS, (0, 1000, math.inf), "phase", weighted=True),
     lambda X: O.band_odf(X, FREQS, (0, 1000, math.inf), "phase", weighted=True), True),
]


def _frames_in(S, sizes):
    """(C, n, K) frames cut along the frame axis into consecutive (C, n_i, K) chunks."""
    return [np.moveaxis(c, 0, 1) for c in split(np.moveaxis(S, 1, 0), sizes)]


@given(sizes=frame_counts, n=st.integers(0, 50), which=st.integers(0, len(STAGES) - 1),
       seed=st.integers(0, 2 ** 32 - 1))
def test_stage_streaming_equals_batch(sizes, n, which, seed):
    make, kernel, cplx = STAGES[which]
    g = np.random.default_rng(seed)
    K = len(FREQS)
    if cplx:
        S = (g.standard_normal((2, n, K)) + 1j * g.standard_normal((2, n, K))).astype(np.complex64)
    else:
        S = (g.random((2, n, K)) ** 2).astype(np.float32)
    batch = make().process(S)
    np.testing.assert_allclose(batch, kernel(S), rtol=1e-6, atol=1e-6)  # the stage is its kernel
    stage = make()
    parts = [stage.process(c) for c in _frames_in(S, sizes)]
    parts.append(stage.process(S[:, :0]))  # an empty call changes nothing
    streamed = np.concatenate(parts, axis=1)
    assert streamed.shape == batch.shape and streamed.dtype == np.float32
    assert streamed.shape[:2] == (2, n)
    np.testing.assert_allclose(streamed, batch, rtol=1e-6, atol=1e-6)


# -- bands -----------------------------------------------------------------------------------

def _band_bins(freqs, edges):
    f = np.asarray(freqs)
    return [np.flatnonzero((f >= lo) & (f < hi)) for lo, hi in zip(edges[:-1], edges[1:])]


def test_band_odf_equals_per_band_references(rng):
    K = len(FREQS)
    S = magnitudes(rng, K=K)
    X = spectra(rng, K=K)
    edges = (100.0, 700.0, 2100.0, math.inf)
    bands = _band_bins(FREQS, edges)
    assert [len(b) for b in bands] == [5, 11, 16]  # 125-625, 750-2000, 2125-4000 Hz
    cases = [
        ("energy", {}, S, ref_energy),
        ("hfc", {}, S, ref_hfc),
        ("flux", {"log_compression": 2.0}, S, lambda A, bins: ref_flux(A, 2.0, bins=bins)),
        ("flux", {"rectify": False, "norm": 2}, S, lambda A, bins: ref_flux(A, 1.0, False, 2.0, bins=bins)),
        # The maximum filter runs over the whole spectrum: band edges see across.
        ("superflux", {"max_bins": 3, "lag": 2}, S, lambda A, bins: ref_superflux(A, 2, 3, 1.0, bins=bins)),
        ("complex", {"rectify": True}, X, lambda A, bins: ref_complex(A, True, bins=bins)),
        ("phase", {}, X, lambda A, bins: ref_phase(A, bins=bins)),
        ("phase", {"weighted": True, "normalized": True}, X, lambda A, bins: ref_phase(A, True, True, bins=bins)),
    ]
    for method, params, A, ref in cases:
        got = O.band_odf(A, FREQS, edges, method, **params)
        want = np.stack([ref(A, bins) for bins in bands], axis=-1)
        assert got.shape == (2, A.shape[1], 3) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=method)
        np.testing.assert_allclose(O.BandOdf(FREQS, edges, method, **params).process(A), got, rtol=1e-6)


def test_band_odf_with_one_band_over_everything_is_the_full_odf(rng):
    S = magnitudes(rng, K=len(FREQS))
    got = O.band_odf(S, FREQS, (0.0, math.inf), "superflux")
    np.testing.assert_allclose(got[..., 0], O.superflux_odf(S), rtol=1e-6)


def test_band_odf_defaults_and_non_uniform_bins(rng):
    odf = O.BandOdf()
    assert odf.n_bands == 3 and odf.bin_ranges[0] == (0, 9)  # 0..187.5 Hz in 23.4 Hz bins
    assert odf.bin_ranges[-1][1] == 1025  # the last edge inf takes the Nyquist bin
    assert odf.process(rng.random((1, 4, 1025)).astype(np.float32)).shape == (1, 4, 3)
    # Mel-band centres: any strictly increasing frequencies.
    centres = np.geomspace(60.0, 7000.0, 24)
    S = magnitudes(rng, K=24)
    got = O.BandOdf(centres, (0, 300, 3000, 8000)).process(S)
    bands = _band_bins(centres, (0, 300, 3000, 8000))
    want = np.stack([ref_flux(S, 1.0, bins=b) for b in bands], axis=-1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# -- stage contract ------------------------------------------------------------------------

@pytest.mark.parametrize("which", range(len(STAGES)))
def test_stage_contract(which, rng):
    make, _, cplx = STAGES[which]
    stage = make()
    assert stage.causal is True and stage.latency_samples == 0 and stage.hop == 1
    assert isinstance(stage.warmup_frames, int)
    K = len(FREQS)
    S = spectra(rng, 2, 7, K) if cplx else magnitudes(rng, 2, 7, K)
    S.flags.writeable = False  # input not mutated (a write would raise)
    a = stage.process(S)
    bufs = list(stage._history._bufs)
    assert stage.reset() is None and stage.reset() is None
    b = stage.process(S)
    assert all(x is y for x, y in zip(bufs, stage._history._bufs))  # reset() does not reallocate
    np.testing.assert_array_equal(a, b)  # deterministic after reset
    out = stage.process(S[:, :0])
    assert out is not None and out.shape[:2] == (2, 0)
    if stage._history.m:  # stages with history insist on the same channels and bins
        with pytest.raises(ValueError, match="reset"):
            stage.process(S[:1])
    with pytest.raises(ValueError, match="channels, n_frames, n_bins"):
        stage.process(S[0])
    wrong = np.abs(S) if cplx else S.astype(np.complex64)
    with pytest.raises(ValueError, match="complex" if cplx else "magnitudes"):
        stage.process(wrong)


def test_history_survives_calls_larger_than_its_buffer(rng):
    """The history buffer grows for a call larger than any before and compacts otherwise;
    values are unaffected (compared with one batch call)."""
    S = magnitudes(rng, n=400, K=16)
    stage = O.SuperFluxOdf(lag=3)
    parts = [stage.process(S[:, a:b]) for a, b in [(0, 5), (5, 300), (300, 301), (301, 400)]]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), O.superflux_odf(S, lag=3), rtol=1e-6)


# -- bad parameters ------------------------------------------------------------------------

def test_bad_parameters_raise_config_error():
    cases = [
        (lambda: O.SuperFluxOdf(lag=-1), "lag=-1"),
        (lambda: O.SuperFluxOdf(lag=0), "lag=0 must be an integer >= 1 \\(frames\\)"),
        (lambda: O.SuperFluxOdf(lag=1.5), "lag=1.5"),
        (lambda: O.SuperFluxOdf(max_bins=0), "max_bins=0 must be an integer >= 1 \\(bins\\)"),
        (lambda: O.SuperFluxOdf(log_compression=-1.0), "log_compression=-1.0 must be a finite number >= 0"),
        (lambda: O.SpectralFluxOdf(norm=0), "norm=0"),
        (lambda: O.SpectralFluxOdf(log_compression=float("nan")), "log_compression=nan"),
        (lambda: O.SpectralFluxOdf(rectify="yes"), "rectify='yes'"),
        (lambda: O.PhaseDeviationOdf(normalized=True), "normalized=True requires weighted=True"),
        (lambda: O.ComplexDomainOdf(rectify=None), "rectify=None"),
        (lambda: O.BandOdf(edges_hz=(0, 2000, 200)), "edges_hz=\\(0, 2000, 200\\) must be >= 2 strictly increasing"),
        (lambda: O.BandOdf(edges_hz=(100,)), "edges_hz"),
        (lambda: O.BandOdf(edges_hz=(-math.inf, 100)), "edges_hz"),
        (lambda: O.BandOdf(edges_hz=(0, 10, 20)), "band 1 \\[10, 20\\) Hz contains no bin"),
        (lambda: O.BandOdf(freqs_hz=[100.0, 50.0]), "freqs_hz"),
        (lambda: O.BandOdf(method="spectral"), "method='spectral' is not an ODF method; allowed: energy, hfc, flux, "
                                               "superflux, complex, phase"),
        (lambda: O.BandOdf(method="flux", lag=2), "unknown parameter\\(s\\) lag for method='flux'; allowed: "
                                                  "log_compression, rectify, norm"),
        (lambda: O.BandOdf(method="hfc", norm=1), "allowed: none"),
        (lambda: O.BandOdf(method="superflux", max_bins=0), "max_bins=0"),
        (lambda: O.band_odf(np.ones((1, 2, 1025), np.float32), method="superflux", lag=-2), "lag=-2"),
    ]
    for call, match in cases:
        with pytest.raises(ConfigError, match=match):
            call()
    with pytest.raises(ValueError, match="1025"):
        O.BandOdf().process(np.ones((1, 2, 100), np.float32))
    with pytest.raises(ValueError, match="1025"):
        O.band_odf(np.ones((1, 2, 100), np.float32))

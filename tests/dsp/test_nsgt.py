"""Sliced NSGT: layout, slicing windows, perfect reconstruction, streaming = batch, latency,
hop-grid magnitudes, known answers, a naive DFT reference, the nsgt package, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from fluxstream.dsp import nsgt as N
from fluxstream.dsp.scales import hz_to_erb, hz_to_mel
from fluxstream.errors import ConfigError
from tests.helpers import block_sizes, sine, split

SR = 8000
# Small layouts (slices of 256..4096 samples) so every test runs in well under a second.
OCT = dict(sample_rate=SR, scale="octave", fmin_hz=100.0, fmax_hz=3200.0, bins=6)
MEL = dict(sample_rate=SR, scale="mel", fmin_hz=60.0, fmax_hz=3500.0, bins=40)
ERB = dict(sample_rate=SR, scale="erb", fmin_hz=60.0, fmax_hz=3500.0, bins=30)


def stream(t: N.SlicedNsgt, x, sizes):
    out = []
    for b in split(x, sizes):
        out += t.process(b)
    return out + t.flush()


def same_slices(a, b):
    assert [s.index for s in a] == [s.index for s in b]
    assert [s.start_sample for s in a] == [s.start_sample for s in b]
    for sa, sb in zip(a, b):
        assert len(sa.coefficients) == len(sb.coefficients)
        for ca, cb in zip(sa.coefficients, sb.coefficients):
            np.testing.assert_array_equal(ca, cb)


# -- layout ------------------------------------------------------------------------------

def test_octave_frequencies_and_constant_q():
    f = N.nsgt_frequencies("octave", 100.0, 400.0, 4, SR)
    np.testing.assert_allclose(f, 100.0 * 2.0 ** (np.arange(9) / 4), rtol=1e-12)
    w = N.nsgt_bandwidths("octave", 100.0, 400.0, 4, SR)
    # width = distance between the neighbouring centres
    np.testing.assert_allclose(w, f * 2 ** 0.25 - f * 2 ** -0.25, rtol=1e-12)


@pytest.mark.parametrize("scale,fwd", [("mel", hz_to_mel), ("erb", hz_to_erb)])
def test_other_scales_are_equally_spaced_on_their_scale(scale, fwd):
    f = N.nsgt_frequencies(scale, 60.0, 3500.0, 12, SR)
    assert len(f) == 12 and f[0] == pytest.approx(60.0) and f[-1] == pytest.approx(3500.0)
    d = np.diff(fwd(f))
    np.testing.assert_allclose(d, d[0], rtol=1e-9)
    w = N.nsgt_bandwidths(scale, 60.0, 3500.0, 12, SR)
    np.testing.assert_allclose(w[1:-1], f[2:] - f[:-2], rtol=1e-9)


def test_slicing_window_is_partition_of_unity_and_dual():
    L, T = 64, 12
    phi, psi = N.slicing_window(L, T), N.dual_slicing_window(L, T)
    assert np.count_nonzero(phi) == L // 2 + T
    tot = np.zeros(4 * L)
    dual = np.zeros(4 * L)
    for j in range(7):
        tot[j * L // 2: j * L // 2 + L] += phi
        dual[j * L // 2: j * L // 2 + L] += phi * psi
    np.testing.assert_allclose(tot[L: 3 * L], 1.0, atol=1e-12)
    np.testing.assert_allclose(dual[L: 3 * L], 1.0, atol=1e-12)


def test_layout_is_painless_and_reported():
    t = N.SlicedNsgt(**OCT)
    cfg = t.config
    assert len(t.freqs_hz) == len(t.coefficients_per_band) == 6 * 5 + 1 + 2
    assert t.freqs_hz[0] == 0.0 and t.freqs_hz[-1] == SR / 2
    for b in cfg.bands:
        assert b.M % 2 == 0 and len(b.g) <= b.M  # painless: support fits the coefficients
        assert len(np.unique(b.pos)) == len(b.pos)
    assert t.slice_hop == t.slice_length // 2
    assert t.latency_samples == t.slice_length // 4 + t.transition_length // 2 + t.spread_samples


# -- perfect reconstruction ------------------------------------------------------------

@pytest.mark.parametrize("params", [OCT, MEL, ERB, dict(OCT, real=False), dict(MEL, real=False)],
                         ids=["octave", "mel", "erb", "octave-complex", "mel-complex"])
def test_streaming_inverse_reconstructs(params, rng):
    x = rng.standard_normal((7000, 2)).astype(np.float32)
    t = N.SlicedNsgt(channels=2, **params)
    inv = N.SlicedInsgt(t)
    ys, starts = [], []
    for b in split(x, [333, 0, 1, 2000]):
        y, s0 = inv.process(t.process(b))
        ys.append(y), starts.append(s0)
    y, s0 = inv.process(t.flush())
    ys.append(y), starts.append(s0)
    y, s0 = inv.flush(len(x))
    ys.append(y), starts.append(s0)
    # start samples chain without gaps
    assert starts == [0] + list(np.cumsum([len(a) for a in ys])[:-1])
    y = np.concatenate(ys)
    assert y.shape[0] >= x.shape[0] and y.dtype == np.float32
    assert np.linalg.norm(y[: len(x)] - x) / np.linalg.norm(x) < 1e-4
    assert np.abs(y[len(x):]).max(initial=0.0) < 1e-5  # the zero padding after the end


def test_float64_reconstruction_is_exact(rng):
    x = rng.standard_normal((5000, 1)).astype(np.float32)
    cfg = N.NsgtConfig(dtype=np.complex128, **ERB)
    sl = N.nsgt_batch(x, config=cfg)
    assert sl[0].coefficients[3].dtype == np.complex128
    y = N.insgt_batch(sl, len(x), config=cfg)
    assert np.linalg.norm(y - x) / np.linalg.norm(x) < 1e-6  # float32 output rounding only


def test_inverse_output_timing(rng):
    """After slice j the output is final up to j*hop + L/4 - T/2 (documented)."""
    t = N.SlicedNsgt(**MEL)
    inv = N.SlicedInsgt(t)
    x = rng.standard_normal((3000, 1)).astype(np.float32)
    end = 0
    for s in t.process(x):
        y, s0 = inv.process([s])
        end = s0 + len(y)
        assert end == s.index * t.slice_hop + t.slice_length // 4 - t.transition_length // 2 or end == 0
    assert end > 0


# -- streaming = batch ------------------------------------------------------------------

@settings(max_examples=10)
@given(sizes=block_sizes)
def test_stream_equals_batch(sizes, fft_backend):
    x = np.random.default_rng(7).standard_normal((6000, 2)).astype(np.float32)
    t = N.SlicedNsgt(channels=2, backend=fft_backend, **OCT)
    same_slices(stream(t, x, sizes), N.nsgt_batch(x, backend=fft_backend, config=t.config))


def test_reset_gives_identical_results(rng):
    x = rng.standard_normal((5000, 1)).astype(np.float32)
    t = N.SlicedNsgt(**ERB)
    a = stream(t, x, [700])
    t.reset()
    same_slices(a, stream(t, x, [700]))
    with pytest.raises(RuntimeError):
        t.process(x[:10])


@pytest.mark.parametrize("spread", [0, 700])
def test_slices_arrive_exactly_at_latency(spread, rng):
    t = N.SlicedNsgt(spread_samples=spread, **MEL)
    x = rng.standard_normal((2500, 1)).astype(np.float32)
    seen = 0
    for i in range(len(x)):
        for s in t.process(x[i: i + 1]):
            assert s.index == seen
            assert i + 1 == s.index * t.slice_hop + t.latency_samples
            seen += 1
    assert seen == (len(x) - t.latency_samples) // t.slice_hop + 1
    assert len(t.flush()) == t.config.n_slices(len(x)) - seen


def test_empty_stream_and_empty_blocks():
    t = N.SlicedNsgt(**MEL)
    assert t.process(np.zeros((0, 1), np.float32)) == []
    assert t.flush() == []
    t.reset()
    assert t.process(np.zeros((1, 1), np.float32)) == []
    assert len(t.flush()) == t.config.n_slices(1) >= 1


# -- magnitudes on the hop grid --------------------------------------------------------

def mags_streamed(t, m, x, sizes):
    cols = []
    for b in split(x, sizes):
        cols.append(m.process(t.process(b)))
    cols.append(m.process(t.flush()))
    cols.append(m.flush(len(x)))
    return np.concatenate(cols, axis=1)


@settings(max_examples=8)
@given(sizes=block_sizes)
def test_magnitude_stream_equals_batch(sizes):
    x = np.random.default_rng(3).standard_normal((6000, 1)).astype(np.float32)
    t = N.SlicedNsgt(**OCT)
    m = N.NsgtMagnitude(100, t)
    got = mags_streamed(t, m, x, sizes)
    ref = N.nsgt_magnitude_batch(N.nsgt_batch(x, config=t.config), 100, len(x), config=t.config)
    assert got.shape == ref.shape and ref.shape[1] >= 1 + len(x) // 100
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6 * ref.max())


def test_magnitude_columns_within_stated_delay(rng):
    t = N.SlicedNsgt(**MEL)
    m = N.NsgtMagnitude(64, t, edge_bands=True)
    assert m.freqs_hz.shape == t.freqs_hz.shape
    x = rng.standard_normal((3000, 1)).astype(np.float32)
    delays = []
    k = 0
    for i in range(len(x)):
        c = m.process(t.process(x[i: i + 1]))
        for _ in range(c.shape[1]):
            delays.append(i + 1 - k * 64)
            k += 1
    assert k > 10
    assert max(delays) <= m.delay_samples
    assert max(delays) >= m.delay_samples - 64  # the bound is tight to a hop


def test_magnitude_of_a_steady_sine_is_flat_and_peaks_at_its_band():
    t = N.SlicedNsgt(**OCT)
    f0 = 100.0 * 2 ** (14 / 6)  # band 15 of the scale
    x = sine(f0, SR, 12000)[:, None]
    m = N.NsgtMagnitude(128, t)
    mag = mags_streamed(t, m, x, [512])[0]
    assert np.all(np.argmax(mag[10:80], axis=1) == 14)
    band = mag[10:80, 14]  # away from the stream's ends
    assert band.std() / band.mean() < 0.01  # slicing leaves no modulation
    # a unit-amplitude sine at a band centre gives |C| = amplitude * g(centre) / 2 = 0.25
    assert band.mean() == pytest.approx(0.25, rel=0.02)


def test_click_is_localised_in_time():
    t = N.SlicedNsgt(**OCT)
    x = np.zeros((8000, 1), np.float32)
    x[3000] = 1.0
    sl = N.nsgt_batch(x, config=t.config)
    b = len(t.freqs_hz) - 3  # a high band: short atoms
    M = t.coefficients_per_band[b]
    best = max(sl, key=lambda s: np.abs(s.coefficients[b]).max())
    n = int(np.argmax(np.abs(best.coefficients[b][0])))
    assert abs(best.start_sample + n * t.slice_length / M - 3000) <= t.slice_length / M


# -- references --------------------------------------------------------------------------

def test_matches_naive_dft_of_one_slice(rng):
    """Band coefficients from the formulas of the module docstring, by explicit sums."""
    t = N.SlicedNsgt(**MEL)
    L, T = t.slice_length, t.transition_length
    x = rng.standard_normal((3 * L, 1)).astype(np.float32)
    j = 3
    s = N.nsgt_batch(x, config=t.config)[j]
    seg = np.zeros(L)
    a = j * L // 2 - L // 2
    seg[:] = x[a: a + L, 0]
    u = (np.arange(T) + 0.5) / T
    phi = np.zeros(L)
    phi[L // 4 - T // 2: L // 4 + T // 2] = np.sin(np.pi / 2 * u) ** 2
    phi[L // 4 + T // 2: 3 * L // 4 - T // 2] = 1.0
    phi[3 * L // 4 - T // 2: 3 * L // 4 + T // 2] = np.cos(np.pi / 2 * u) ** 2
    tt = np.arange(L)
    f, w = N.nsgt_frequencies("mel", 60.0, 3500.0, 40, SR), N.nsgt_bandwidths("mel", 60.0, 3500.0, 40, SR)
    for b in (1, 10, 25, 40):
        fc, wb = f[b - 1] * L / SR, w[b - 1] * L / SR
        nu = np.arange(int(np.floor(fc - wb / 2)) + 1, int(np.ceil(fc + wb / 2)))
        X = (seg * phi) @ np.exp(-2j * np.pi * np.outer(tt, nu) / L)
        g = np.cos(np.pi * (nu - fc) / wb) ** 2
        M, kc = t.coefficients_per_band[b], int(round(fc))
        n = np.arange(M)
        c = (X * g) @ np.exp(2j * np.pi * np.outer(nu - kc, n) / M) / L
        np.testing.assert_allclose(s.coefficients[b][0], c, atol=2e-6 * np.abs(c).max() + 1e-7)


def test_against_nsgt_package(monkeypatch):
    nsgt = pytest.importorskip("nsgt")
    from pathlib import Path

    import nsgt.nsgfwin_sl as nsgfwin_sl

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from bench_nsgt import numpy2_shim  # the benchmark's numpy-2 shim for nsgt 0.19

    monkeypatch.setattr(nsgfwin_sl, "np", numpy2_shim())
    # Five octaves less a hair, so that both count 31 bands despite float round-off
    # (Grill's OctScale takes ceil of the steps and stretches its step to end at fmax).
    fmin, fmax, bpo, L = 100.0, 3200.0 * (1 - 1e-9), 6, 4096
    # Same centres as Grill's OctScale.
    frqs, _ = nsgt.OctScale(fmin, fmax, bpo)()
    np.testing.assert_allclose(N.nsgt_frequencies("octave", fmin, fmax, bpo, SR), frqs, rtol=1e-5)
    # Both find a sine in the same band and both reconstruct; their windows differ
    # (Blackman-Harris there, Hann here), so coefficient values are not compared.
    ref = nsgt.CQ_NSGT_sliced(fmin, fmax, bpo, L, 512, SR, real=True, multichannel=True)
    t = N.SlicedNsgt(sample_rate=SR, fmin_hz=fmin, fmax_hz=fmax, bins=bpo, slice_length=L, transition_length=512)
    for k in (4, 17, 25):
        x = sine(float(frqs[k]), SR, 4 * L)
        c = list(ref.forward((x[None, :],)))
        e_ref = np.array([sum(float(np.sum(np.abs(s[0][b]) ** 2)) for s in c) for b in range(1, len(frqs) + 1)])
        sl = N.nsgt_batch(x, config=t.config)
        e = np.array([sum(float(np.sum(np.abs(s.coefficients[b]) ** 2)) for s in sl)
                      for b in range(1, len(frqs) + 1)])
        assert np.argmax(e) == np.argmax(e_ref) == k


# -- bad parameters ----------------------------------------------------------------------

@pytest.mark.parametrize("kw,match", [
    (dict(fmin_hz=5000.0), r"fmin_hz=5000.0 must be > 0 and < sample_rate/2 = 4000 .*\(Hz\)"),
    (dict(fmin_hz=3300.0), r"fmin_hz=3300.0 must be < fmax_hz=3200.0 \(Hz\)"),
    (dict(fmax_hz=4000.0), r"fmax_hz=4000.0 must be < sample_rate/2 = 4000"),
    (dict(scale="cent"), r"scale='cent' is not an NSGT scale; allowed: octave, mel"),
    (dict(bins=0), r"bins=0 must be an integer >= 1 \(bins per octave\)"),
    (dict(scale="mel", bins=1), r"bins=1 must be an integer >= 2 \(bands\)"),
    (dict(slice_length=1030), r"slice_length=1030 must be a multiple of 4 \(samples\)"),
    # 4 * 8000 / (100 * (2**(1/6) - 2**(-1/6))) = 1381.9: the Hann atom's main lobe at 100 Hz
    (dict(slice_length=1024), r"slice_length=1024 is shorter than the longest band window, 1382 samples "
                              r"\(band 1 at 100 Hz, width 23.16 Hz\); slice_length must be >= 1382 \(samples\)"),
    (dict(slice_length=4096, transition_length=2050), r"transition_length=2050 must be even and <= "
                                                     r"slice_length/2 = 2048 \(samples\)"),
    (dict(transition_length=-2), r"transition_length=-2 must be an integer >= 0"),
    (dict(scale="linear", fmin_hz=100.0, fmax_hz=3000.0, bins=400, slice_length=512),
     r"bins=400 is too many for scale='linear' at slice_length=512: adjacent centres come 7.268 Hz "
     r"apart, closer than the slice's frequency resolution sample_rate/slice_length = 15.62 \(Hz\)"),
    (dict(min_coefficients=1), r"min_coefficients=1 must be an integer >= 2"),
    (dict(dtype=np.float32), r"dtype=.* must be complex64 or complex128"),
    (dict(spread_samples=-1), r"spread_samples=-1 must be an integer >= 0 \(samples\)"),
    (dict(sample_rate=0), r"sample_rate=0 must be > 0 \(Hz\)"),
])
def test_bad_parameters(kw, match):
    with pytest.raises(ConfigError, match=match):
        N.SlicedNsgt(**{**OCT, **kw})


def test_bad_stage_arguments():
    t = N.SlicedNsgt(**OCT)
    with pytest.raises(ConfigError, match=r"hop_length=0 must be an integer >= 1 \(samples\)"):
        N.NsgtMagnitude(0, t)
    with pytest.raises(ConfigError, match="must be a SlicedNsgt"):
        N.SlicedInsgt(object())
    with pytest.raises(ValueError, match="does not match"):
        t.process(np.zeros((5, 2), np.float32))
    inv = N.SlicedInsgt(t)
    s = N.nsgt_batch(np.zeros((5000, 1), np.float32), config=t.config)
    with pytest.raises(ValueError, match="out of order"):
        inv.process([s[1]])

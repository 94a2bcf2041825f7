import numpy as np
import pytest

from fluxstream.dsp import fft as fftmod
from fluxstream.dsp.fft import RealFFT, default_backend
from fluxstream.errors import ConfigError


@pytest.mark.parametrize("n_fft", [1, 2, 7, 512, 1000, 2048])
def test_rfft_matches_numpy_reference(fft_backend, n_fft, rng):
    x = rng.standard_normal((3, 5, n_fft)).astype(np.float32)
    X = RealFFT(n_fft, fft_backend).rfft(x)
    ref = np.fft.rfft(x.astype(np.float64), axis=-1)
    assert X.dtype == np.complex64 and X.shape == ref.shape
    np.testing.assert_allclose(X, ref, atol=2e-5 * np.sqrt(n_fft), rtol=0)


@pytest.mark.parametrize("n_fft", [2, 9, 512, 2048])
def test_irfft_inverts(fft_backend, n_fft, rng):
    x = rng.standard_normal((4, n_fft)).astype(np.float32)
    f = RealFFT(n_fft, fft_backend)
    y = f.irfft(f.rfft(x))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x, atol=1e-5)


def test_backends_agree(rng):
    x = rng.standard_normal((8, 2048)).astype(np.float32)
    a = RealFFT(2048, "pyfftw").rfft(x)
    b = RealFFT(2048, "scipy").rfft(x)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_plans_are_cached_and_reused(fft_backend):
    f = RealFFT(64, fft_backend)
    p1 = f.plan((2, 3))
    assert f.plan((2, 3)) is p1
    assert f.plan((2, 4)) is not p1
    for b in range(40):  # the cache is bounded
        f.plan((b,))
    assert len(f._plans) <= fftmod._PLAN_CACHE_SIZE


def test_plan_result_is_the_plans_buffer(fft_backend):
    f = RealFFT(16, fft_backend)
    p = f.plan((1,))
    p.input[:] = 1.0
    out = p()
    assert out is p.output and out[0, 0] == 16


def test_env_var_forces_backend(monkeypatch):
    monkeypatch.setenv("FLUXSTREAM_FFT", "scipy")
    assert default_backend() == "scipy"
    monkeypatch.setenv("FLUXSTREAM_FFT", "cufft")
    with pytest.raises(ConfigError, match="FLUXSTREAM_FFT"):
        default_backend()


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_n_fft(bad):
    with pytest.raises(ConfigError, match="n_fft"):
        RealFFT(bad)


def test_unknown_backend():
    with pytest.raises(ConfigError, match="backend"):
        RealFFT(8, "fftpack")


def test_falls_back_to_scipy_when_pyfftw_is_missing(monkeypatch, rng):
    monkeypatch.delenv("FLUXSTREAM_FFT", raising=False)
    monkeypatch.setattr(fftmod, "_pyfftw", None)
    assert default_backend() == "scipy"
    x = rng.standard_normal((2, 256)).astype(np.float32)
    np.testing.assert_allclose(RealFFT(256).rfft(x), np.fft.rfft(x), atol=1e-4)
    with pytest.raises(ConfigError, match="pyfftw is not importable"):
        RealFFT(256, "pyfftw")


def test_plans_return_to_a_pool_and_are_never_shared():
    import gc

    from fluxstream.dsp import fft as F

    a = F.RealFFT(96)
    pa = a.plan((1, 3))
    b = F.RealFFT(96)
    pb = b.plan((1, 3))
    assert pa is not pb  # two live owners: two plans, two sets of buffers
    del a
    gc.collect()
    c = F.RealFFT(96)
    pc = c.plan((1, 3))
    assert pc is pa  # the freed owner's plan, reused
    assert c.plan((1, 3)) is pc
    # A reused plan computes as a new one.
    x = np.random.default_rng(1).standard_normal((1, 3, 96)).astype(np.float32)
    pc.input[...] = x
    np.testing.assert_allclose(pc(), np.fft.rfft(x, axis=-1), rtol=1e-4, atol=1e-4)

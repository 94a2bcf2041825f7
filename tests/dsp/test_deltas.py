import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.dsp.deltas import Delta, delta, delta_filter
from fluxstream.errors import ConfigError
from tests.helpers import KERNELS, sine, split, use_kernels

librosa = pytest.importorskip("librosa")

WIDTH_ORDER = [(3, 1), (3, 2), (5, 1), (5, 2), (9, 1), (9, 2)]

#: Chunk sizes in frames: empty chunks, single frames, a few frames, big chunks.
frame_sizes = st.lists(st.one_of(st.integers(0, 2), st.integers(1, 7), st.integers(8, 60)),
                       min_size=1, max_size=12)


def librosa_delta(x, width, order):
    """librosa with frames last: transpose (..., n, dim) -> (..., dim, n) and back."""
    return np.swapaxes(librosa.feature.delta(np.swapaxes(x, -1, -2), width=width, order=order,
                                             mode="interp", axis=-1), -1, -2)


def stream(stage, x, sizes):
    """Feed (C, n, dim) frames in chunks along the frame axis; outputs + flush, concatenated."""
    parts = [np.moveaxis(b, 0, 1) for b in split(np.moveaxis(x, 1, 0), sizes)] or [x]
    outs = [stage.process(p) for p in parts] + [stage.flush()]
    return np.concatenate(outs, axis=1)


@pytest.mark.parametrize("width,order", WIDTH_ORDER + [(7, 3), (11, 4)])
def test_filter_equals_savgol_coeffs(width, order):
    scipy_signal = pytest.importorskip("scipy.signal")  # tests only: the package avoids it
    np.testing.assert_allclose(delta_filter(width, order),
                               scipy_signal.savgol_coeffs(width, order, deriv=order, use="dot"),
                               rtol=1e-10, atol=1e-12)


def test_filter_known_answers():
    np.testing.assert_allclose(delta_filter(3, 1), [-0.5, 0.0, 0.5], atol=1e-15)
    np.testing.assert_allclose(delta_filter(5, 1), np.arange(-2, 3) / 10.0, atol=1e-15)
    np.testing.assert_allclose(delta_filter(5, 2), np.array([2, -1, -2, -1, 2]) / 7.0, atol=1e-15)
    assert delta_filter().shape == (9,)


@pytest.mark.parametrize("width,order", WIDTH_ORDER)
def test_polynomial_known_answer(width, order):
    # A polynomial of degree `order` has a constant order-th derivative: exact everywhere,
    # edges included.
    t = np.arange(30, dtype=np.float64)
    x = (0.5 * t ** order + 3.0 * t - 7.0)[:, None] * np.ones((1, 2))
    want = 0.5 * (1 if order == 1 else 2) + (3.0 if order == 1 else 0.0)
    np.testing.assert_allclose(delta(x, width, order), want, atol=1e-9)


@pytest.mark.parametrize("width,order", WIDTH_ORDER)
@pytest.mark.parametrize("shape", [(40, 13), (2, 25, 5), (2, 3, 9, 4)])
def test_batch_equals_librosa(width, order, shape, rng):
    if shape[-2] < width:
        pytest.skip("librosa raises for fewer frames than width")
    x = (rng.standard_normal(shape) * 100).astype(np.float32)
    got = delta(x, width, order)
    assert got.dtype == np.float32 and got.shape == x.shape
    # Against librosa on float64 data: only our own float32 output rounding (values of
    # |delta| up to ~1000 -> ulp 6e-5).
    np.testing.assert_allclose(got, librosa_delta(x.astype(np.float64), width, order),
                               rtol=1e-6, atol=1e-6 * np.abs(x).max())
    # Against librosa on float32 data: its interior is a float64 convolution (equal to
    # ours to 1 ulp); its interp edges come from a polyfit whose evaluation loses a few
    # ulp of the data's scale (measured up to 5e-7 * max|x|), so the tolerance scales
    # with the data: 4e-6 * max|x|.
    ref = librosa_delta(x, width, order)
    h = width // 2
    np.testing.assert_allclose(got[..., h:-h, :], ref[..., h:-h, :], rtol=1e-6,
                               atol=1e-6 * np.abs(x).max())
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=4e-6 * np.abs(x).max())


def test_float64_stays_float64(rng):
    x = rng.standard_normal((20, 3))
    assert delta(x, 5, 1).dtype == np.float64
    assert delta(x.astype(np.float32), 5, 1).dtype == np.float32


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 8])
def test_short_sequences_fit_all_frames(n, order, rng):
    # Fewer frames than width (librosa raises): the order-th derivative of the degree-order
    # least-squares polynomial over all n frames, the same for every frame; 0 if n <= order.
    x = rng.standard_normal((2, n, 3)).astype(np.float32)
    got = delta(x, 9, order)
    assert got.shape == x.shape and got.dtype == np.float32
    if n <= order:
        assert np.all(got == 0)
        return
    t = np.arange(n)
    for c in range(2):
        for d in range(3):
            lead = np.polyfit(t, x[c, :, d].astype(np.float64), order)[0]
            np.testing.assert_allclose(got[c, :, d], lead * (1 if order == 1 else 2), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("width,order", WIDTH_ORDER)
def test_short_rule_is_continuous_at_width(width, order, rng):
    # At n == width the interp rule gives every frame the same value, which is what the
    # short-sequence rule gives for n = width: the two rules meet.
    x = rng.standard_normal((width, 4))
    np.testing.assert_allclose(delta(x, width, order), delta(x, width, order)[width // 2][None, :].repeat(width, 0),
                               atol=1e-12)
    np.testing.assert_allclose(delta(x, width, order), delta(x, width + 2, order), atol=1e-9)


@pytest.mark.parametrize("kernels", KERNELS)
@given(sizes=frame_sizes, n=st.integers(0, 70), wo=st.sampled_from(WIDTH_ORDER), channels=st.integers(1, 3),
       dim=st.sampled_from([1, 4, 20]))
def test_streaming_equals_batch_and_librosa(kernels, sizes, n, wo, channels, dim):
    # dim 1 matters: with one value per frame the window axis is the only long one, and a
    # reduction that reordered its sum would differ between one-frame and batch calls.
    # The one-frame hops run on numpy or on the compiled kernel: bit for bit either way.
    width, order = wo
    x = (np.random.default_rng(n).standard_normal((channels, n, dim)) * 30).astype(np.float32)
    stage = Delta(width, order)
    with use_kernels(kernels):
        got = stream(stage, x, sizes)
    want = delta(x, width, order)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)  # bit for bit, any partition
    if n >= width:
        np.testing.assert_allclose(got, librosa_delta(x, width, order), rtol=1e-6, atol=4e-6 * np.abs(x).max())


@given(sizes=frame_sizes, wo=st.sampled_from(WIDTH_ORDER))
def test_output_count_rule(sizes, wo):
    # After k frames (before flush): nothing while k < width, then exactly k - width//2.
    width, order = wo
    h = width // 2
    x = np.random.default_rng(len(sizes)).standard_normal((2, 50, 3)).astype(np.float32)
    stage = Delta(width, order)
    k = emitted = 0
    for block in split(np.moveaxis(x, 1, 0), sizes):
        out = stage.process(np.moveaxis(block, 0, 1))
        k += block.shape[0]
        emitted += out.shape[1]
        assert out.shape[0] == 2 and out.shape[2] == 3
        assert emitted == (k - h if k >= width else 0)
    assert stage.flush().shape[1] == (h if k >= width else k)


def test_one_frame_at_a_time_latency():
    width, h = 5, 2
    x = np.arange(12, dtype=np.float32).reshape(1, 12, 1) ** 2
    stage = Delta(width, 1, hop_length=256)
    assert stage.latency_frames == h and stage.latency_samples == h * 256 and stage.hop == 256
    assert stage.causal is True
    counts = [stage.process(x[:, j : j + 1]).shape[1] for j in range(12)]
    assert counts == [0, 0, 0, 0, 3, 1, 1, 1, 1, 1, 1, 1]
    assert stage.flush().shape[1] == h


def test_reset_flush_and_contract(rng):
    x = rng.standard_normal((2, 30, 5)).astype(np.float32)
    keep = x.copy()
    stage = Delta(9, 2)
    a = np.concatenate([stage.process(x[:, :13]), stage.process(x[:, 13:]), stage.flush()], axis=1)
    np.testing.assert_array_equal(x, keep)  # input not mutated
    with pytest.raises(RuntimeError, match="reset"):
        stage.process(x)
    assert stage.flush().shape == (2, 0, 5)  # a second flush: nothing more
    assert stage.reset() is None
    assert stage.reset() is None
    b = np.concatenate([stage.process(x), stage.flush()], axis=1)
    np.testing.assert_array_equal(a, b)
    # After reset another shape is a new stream; within a stream the shape is fixed.
    stage.reset()
    assert stage.process(x[:1, :, :2]).shape == (1, 26, 2)
    with pytest.raises(ValueError, match="reset"):
        stage.process(x)
    with pytest.raises(ValueError, match="shape"):
        Delta().process(np.zeros((10, 3), np.float32))
    # Empty stream / flush before any input.
    assert Delta().flush().shape == (0, 0, 0)
    s = Delta()
    assert s.process(np.zeros((1, 0, 4), np.float32)).shape == (1, 0, 4)
    assert s.flush().shape == (1, 0, 4)


@pytest.mark.parametrize("kind", ["silence", "dc", "sine", "noise"])
def test_finite_on_known_signals(kind, rng):
    n = 100
    x = {"silence": np.zeros((1, n, 13), np.float32),
         "dc": np.full((1, n, 13), 3.5, np.float32),
         "sine": np.tile(sine(3.0, 100, n)[None, :, None], (1, 1, 13)),
         "noise": rng.standard_normal((1, n, 13)).astype(np.float32)}[kind]
    for order in (1, 2):
        d = delta(x, 9, order)
        s = Delta(9, order)
        ds = np.concatenate([s.process(x), s.flush()], axis=1)
        assert np.all(np.isfinite(d)) and np.array_equal(d, ds)
        if kind in ("silence", "dc"):
            np.testing.assert_allclose(d, 0, atol=1e-6)
    # Sine: the delta is the derivative, per frame: 0.5 * 2 pi f / rate * cos.
    t = np.arange(n)
    want = 0.5 * 2 * np.pi * 3.0 / 100 * np.cos(2 * np.pi * 3.0 * t / 100)
    got = delta(np.tile(sine(3.0, 100, n)[:, None], (1, 1)), 3, 1)[:, 0]
    np.testing.assert_allclose(got[1:-1], want[1:-1], atol=0.01)


@pytest.mark.parametrize("kw,match", [
    (dict(width=4), r"width=4 must be an odd integer >= 3 \(frames\)"),
    (dict(width=1), "width=1 must be an odd integer >= 3"),
    (dict(width=2), "width=2"),
    (dict(width=9.0), "width=9.0"),
    (dict(width=True), "width=True"),
    (dict(order=0), "order=0 must be an integer >= 1"),
    (dict(order=1.5), "order=1.5"),
    (dict(width=3, order=3), "order=3 must be < width=3"),
])
def test_bad_parameters(kw, match):
    with pytest.raises(ConfigError, match=match):
        delta_filter(**kw)
    with pytest.raises(ConfigError, match=match):
        delta(np.zeros((20, 2), np.float32), **kw)
    with pytest.raises(ConfigError, match=match):
        Delta(**kw)


def test_bad_hop_and_shape():
    with pytest.raises(ConfigError, match="hop_length=0"):
        Delta(hop_length=0)
    with pytest.raises(ValueError, match="n_frames"):
        delta(np.zeros(5, np.float32))

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.dsp.framing import Framer, frame_signal, n_frames_for
from fluxstream.errors import ConfigError
from tests.helpers import block_sizes, split


def naive_frames(x, N, hop, center):
    """Loop reference: pad (centre) and slice frame by frame."""
    if center:
        x = np.concatenate([np.zeros((N // 2, x.shape[1])), x, np.zeros((N // 2, x.shape[1]))])
    out = []
    k = 0
    while k * hop + N <= len(x):
        out.append(x[k * hop : k * hop + N].T)
        k += 1
    return np.stack(out, axis=1) if out else np.zeros((x.shape[1], 0, N))


def stream(framer, blocks):
    out, first = [], framer.next_index
    for b in blocks:
        fr, k = framer.process(b)
        assert k == first + sum(o.shape[1] for o in out)
        out.append(fr.copy())
    fr, _ = framer.flush()
    out.append(fr.copy())
    return np.concatenate(out, axis=1)


@given(sizes=block_sizes, N=st.sampled_from([1, 2, 5, 64, 257, 2048]),
       hop=st.sampled_from([1, 3, 64, 100, 512, 3000]), center=st.booleans(),
       n=st.integers(0, 6000), channels=st.integers(1, 2))
def test_streaming_equals_batch(sizes, N, hop, center, n, channels):
    x = np.random.default_rng(n).standard_normal((n, channels)).astype(np.float32)
    got = stream(Framer(N, hop, channels, center, max_block=64), split(x, sizes))
    ref = frame_signal(x, N, hop, center)
    assert got.shape == ref.shape == (channels, n_frames_for(n, N, hop, center), N)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("center", [True, False])
def test_batch_reference_equals_naive_loop(center, rng):
    x = rng.standard_normal((1000, 2)).astype(np.float32)
    np.testing.assert_array_equal(frame_signal(x, 64, 24, center), naive_frames(x, 64, 24, center))


def test_centred_framing_equals_librosa():
    librosa = pytest.importorskip("librosa")
    x = np.random.default_rng(1).standard_normal(5000).astype(np.float32)
    ref = librosa.util.frame(np.pad(x, 1024), frame_length=2048, hop_length=512)  # (N, n)
    got = frame_signal(x, 2048, 512, center=True)[0]
    np.testing.assert_array_equal(got, ref.T)


def test_reset_at_a_later_sample_keeps_the_clock():
    # After reset(p), frames are those of a stream that is zero before p: the global
    # index of the first frame is ceil(p / hop) and its samples before p are zeros.
    x = np.arange(1, 4001, dtype=np.float32)[:, None]
    f = Framer(16, 8, center=True)
    f.reset(1001)
    fr, k0 = f.process(x[1001:])
    assert k0 == 126  # ceil(1001 / 8)
    full = frame_signal(np.where(np.arange(4000)[:, None] >= 1001, x, 0), 16, 8, True)
    np.testing.assert_array_equal(fr, full[:, k0 : k0 + fr.shape[1]])


def test_reset_then_same_input_gives_same_frames(rng):
    x = rng.standard_normal((3000, 1)).astype(np.float32)
    f = Framer(256, 64)
    a = stream(f, split(x, [100]))
    f.reset()
    b = stream(f, split(x, [333]))
    np.testing.assert_array_equal(a, b)


def test_input_is_not_mutated_and_1d_mono_is_accepted(rng):
    x = rng.standard_normal(1000).astype(np.float32)
    keep = x.copy()
    fr, _ = Framer(64, 32).process(x)
    np.testing.assert_array_equal(x, keep)
    assert fr.shape[0] == 1


def test_float64_blocks_are_converted():
    fr, _ = Framer(4, 4, center=False).process(np.ones((8, 1), dtype=np.float64))
    assert fr.dtype == np.float32 and fr.shape == (1, 2, 4)


def test_huge_block_then_tiny_blocks():
    x = np.random.default_rng(3).standard_normal((200_000, 1)).astype(np.float32)
    got = stream(Framer(1024, 256, max_block=16), [x[:190_000]] + split(x[190_000:], [1]))
    np.testing.assert_array_equal(got, frame_signal(x, 1024, 256, True))


@pytest.mark.parametrize("kw,match", [
    ({"frame_length": 0}, "frame_length"), ({"hop_length": 0}, "hop_length"),
    ({"channels": 0}, "channels"), ({"hop_length": 2.5}, "hop_length"),
])
def test_bad_parameters(kw, match):
    with pytest.raises(ConfigError, match=match):
        Framer(**kw)


def test_wrong_channel_count_is_an_error():
    with pytest.raises(ValueError, match="channels=2"):
        Framer(8, 4, channels=2).process(np.zeros((10, 3), np.float32))


def test_process_after_flush_needs_reset():
    f = Framer(8, 4)
    f.flush()
    with pytest.raises(RuntimeError, match="reset"):
        f.process(np.zeros(4, np.float32))
    f.reset()
    f.process(np.zeros(4, np.float32))

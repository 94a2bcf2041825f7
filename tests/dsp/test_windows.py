import numpy as np
import pytest
import scipy.signal

from fluxstream.dsp.windows import make_window, parse_window
from fluxstream.errors import ConfigError


@pytest.mark.parametrize("spec,scipy_spec", [
    ("hann", "hann"), ("hamming", "hamming"), ("blackman", "blackman"),
    ("blackmanharris", "blackmanharris"), ("rectangular", "boxcar"), ("rect", "boxcar"),
    ("kaiser(14)", ("kaiser", 14.0)), ("gaussian(100)", ("gaussian", 100.0)),
    ("Kaiser( 8.5 )", ("kaiser", 8.5)),
])
@pytest.mark.parametrize("length", [1, 2, 3, 255, 512])
def test_windows_equal_scipy_periodic(spec, scipy_spec, length):
    w = make_window(spec, length)
    ref = scipy.signal.get_window(scipy_spec, length, fftbins=True)
    assert w.dtype == np.float32 and w.shape == (length,)
    np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-7)


def test_short_window_is_centred_and_zero_padded_like_librosa():
    librosa = pytest.importorskip("librosa")
    w = make_window("hann", 300, 512)
    ref = librosa.util.pad_center(scipy.signal.get_window("hann", 300, fftbins=True), size=512)
    np.testing.assert_allclose(w, ref, atol=1e-7)
    assert np.all(w[: (512 - 300) // 2] == 0) and np.all(w[(512 - 300) // 2 + 300 :] == 0)


@pytest.mark.parametrize("bad", ["hanning2", "kaiser", "hann(3)", "gaussian(0)", "kaiser(-1)",
                                 "kaiser(x)", "", "kaiser(1,2)"])
def test_bad_window_specs_are_clear_errors(bad):
    with pytest.raises(ConfigError, match="window="):
        parse_window(bad)


@pytest.mark.parametrize("win,n_fft", [(0, 512), (513, 512)])
def test_bad_win_length(win, n_fft):
    with pytest.raises(ConfigError, match="win_length"):
        make_window("hann", win, n_fft)

"""Signal processing: framing, windows, FFT, STFT and its inverse, spectral kernels, the
feature registry and the analysis graph.

``dsp`` imports only numpy, scipy and pyfftw, never :mod:`fluxstream.stream` or
:mod:`fluxstream.plugins`.

Modules
-------
framing   blocks of any size -> overlapping frames (:class:`Framer`)
windows   window specs -> arrays
fft       real FFT backend (pyfftw plans, scipy fallback)
stft      :class:`Stft`, :class:`Istft`, :class:`WindowedFFT`, batch :func:`stft`
spectral  pure kernels: magnitude, power, dB, RMS, centroid
registry  feature name -> stage, dimension, unit, latency, inputs
graph     the per-tick computation of the requested features
"""

from .framing import Framer, frame_signal
from .stft import Istft, Stft, WindowedFFT, stft

__all__ = ["Framer", "frame_signal", "Stft", "Istft", "WindowedFFT", "stft"]

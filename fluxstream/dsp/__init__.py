"""Signal processing: framing, windows, FFT, STFT and its inverse, spectral kernels, the
feature registry and the analysis graph.

``dsp`` imports only numpy, scipy and pyfftw (and numba when the ``jit`` extra is
installed), never :mod:`fluxstream.stream` or :mod:`fluxstream.plugins`.

Modules
-------
framing      blocks of any size -> overlapping frames (:class:`Framer`)
windows      window specs -> arrays
fft          real FFT backend (pyfftw plans, scipy fallback)
stft         :class:`Stft`, :class:`Istft`, :class:`WindowedFFT`, batch :func:`stft`
spectral     pure kernels: magnitude, power, dB, RMS, centroid
scales       Hz <-> mel, bark, ERB, octave, log; band edges on any scale
filterbank   filterbanks on any scale (triangle, rectangle, gammatone, hann, gaussian)
descriptors  spectral and time-domain descriptors; Flux and ModifiedKL stages
cepstrum     DCT-II cepstra, liftering, envelope/fine-structure deconvolution
deltas       Savitzky-Golay deltas, batch and streaming (:class:`Delta`)
chroma       chroma filterbank, online tuning estimate, :class:`Chroma`
registry     feature name -> stage, dimension, unit, latency, inputs
suite        the spectral suite's registry entries
graph        the per-tick computation of the requested features
_jit         the optional numba kernels' switch and warm-up
frame_kernels  compiled one-frame (live hop) kernels of the descriptors
"""

from .framing import Framer, frame_signal
from .stft import Istft, Stft, WindowedFFT, stft

__all__ = ["Framer", "frame_signal", "Stft", "Istft", "WindowedFFT", "stft"]

"""Where results leave fluxstream: recorders now; OSC and callback plugins later.

Plugins see :mod:`fluxstream.results` only, never the engine's internals.
"""

from .recorders import FORMATS, FeatureRecorder, format_for

__all__ = ["FORMATS", "FeatureRecorder", "format_for"]

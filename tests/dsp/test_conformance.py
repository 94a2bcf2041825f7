"""Every processor in fluxstream.dsp keeps the stage contract (found by introspection, so a
new stage cannot skip this file: it must be given an input maker below)."""

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import fluxstream.dsp as dsp


def discover():
    found = {}
    for m in pkgutil.iter_modules(dsp.__path__):
        mod = importlib.import_module(f"fluxstream.dsp.{m.name}")
        for name, cls in inspect.getmembers(mod, inspect.isclass):
            if cls.__module__ == mod.__name__ and callable(getattr(cls, "process", None)) \
                    and callable(getattr(cls, "reset", None)) and not getattr(cls, "_is_protocol", False) \
                    and not name.startswith("_"):
                found[name] = cls
    return found


def _block(stage, rng):
    return rng.standard_normal((3000, 1)).astype(np.float32)


def _spectra(stage, rng):
    return (rng.standard_normal((5, 1, stage.n_bins)) + 1j * rng.standard_normal((5, 1, stage.n_bins))).astype(
        np.complex64)


def _frames(stage, rng):
    return rng.standard_normal((1, 4, stage.n_fft)).astype(np.float32)


def _mags(stage, rng):
    return np.abs(rng.standard_normal((1, 4, 257))).astype(np.float32)


def _power(stage, rng):
    return rng.gamma(0.5, 1.0, (1, 5, stage.n_bins)).astype(np.float32)


def _features(stage, rng):
    return rng.standard_normal((1, 12, 13)).astype(np.float32)


def _bands_input(stage, rng):
    return np.abs(rng.standard_normal((1, 4, 1025))).astype(np.float32)


def _log_bands(stage, rng):
    return np.abs(rng.standard_normal((1, 4, 128))).astype(np.float32)


def _pitch_frames(stage, rng):
    return (0.1 * rng.standard_normal((1, 12, stage.frame_length))).astype(np.float32)


def _pitch_rows(stage, rng):
    voiced = rng.random((1, 12)) < 0.7
    f0 = np.where(voiced, rng.uniform(80.0, 1000.0, (1, 12)), 0.0)
    return np.stack([f0, rng.random((1, 12)), voiced], axis=-1).astype(np.float32)


def _cq_mags(stage, rng):
    return np.abs(rng.standard_normal((1, 4, stage.n_bins))).astype(np.float32)


def _chroma(stage, rng):
    return rng.random((1, 12, 12)).astype(np.float32)


def _complex_frames(stage, rng):
    return (rng.standard_normal((1, 4, 257)) + 1j * rng.standard_normal((1, 4, 257))).astype(np.complex64)


INPUTS = {"Framer": _block, "Stft": _block, "Istft": _spectra, "WindowedFFT": _frames,
          "Flux": _mags, "ModifiedKL": _mags, "Chroma": _power, "TuningEstimator": _power,
          "Delta": _features, "BandsNode": _bands_input, "CepstrumNode": _log_bands,
          "EnergyOdf": _mags, "HfcOdf": _mags, "SpectralFluxOdf": _mags, "SuperFluxOdf": _mags,
          "ComplexDomainOdf": _complex_frames, "PhaseDeviationOdf": _complex_frames, "BandOdf": _bands_input,
          "SampleRefiner": _frames,
          "Yin": _pitch_frames, "YinFFT": _pitch_frames, "Mpm": _pitch_frames, "CepstrumPitch": _pitch_frames,
          "Hps": _pitch_frames, "Shs": _pitch_frames, "PYin": _pitch_frames,
          "MedianSmoother": _pitch_rows, "TuningTracker": _pitch_rows,
          "TimeGate": _block, "SpectralGate": _block, "Cwt": _pitch_frames,
          "Cqt": _pitch_frames, "ChromaCqt": _cq_mags, "ChromaCens": _chroma}
STATEFUL = {"Framer", "Stft", "Istft", "Flux", "ModifiedKL", "Chroma", "TuningEstimator", "Delta",
            "EnergyOdf", "HfcOdf", "SpectralFluxOdf", "SuperFluxOdf", "ComplexDomainOdf", "PhaseDeviationOdf",
            "BandOdf", "SampleRefiner", "PYin", "MedianSmoother", "TuningTracker", "TimeGate", "SpectralGate",
            "ChromaCens"}


def _make(name, cls):
    """Stages whose constructor needs a context get the default one."""
    if name == "BandsNode":
        from fluxstream.dsp.registry import AnalysisContext
        from fluxstream.dsp.suite import BandsSpec

        return cls(AnalysisContext(sample_rate=48000), BandsSpec())
    if name == "CepstrumNode":
        return cls(20, 0.0)
    return cls()
# Compositions, not stages: Graph (tested in test_graph.py, it returns a GraphOutput) and
# FunctionNode (the registry's adapter around a pure kernel, exercised through Graph).
# The sliced NSGT's stages pass lists of slices, not frame arrays (SlicedNsgt returns the
# slices a block completed, SlicedInsgt and NsgtMagnitude take them): tests/dsp/test_nsgt.py
# checks their contract (reset, determinism, inputs untouched, latency) with slices.
EXEMPT = {"Graph", "FunctionNode", "SlicedNsgt", "SlicedInsgt", "NsgtMagnitude"}


def as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def outputs(stage, x):
    out = stage.process(*as_tuple(x))
    arr = out[0] if isinstance(out, tuple) else out
    return np.array(arr, copy=True)


def test_every_stage_has_an_input_maker():
    assert set(discover()) - EXEMPT == set(INPUTS)


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_stage_contract(name, rng):
    cls = discover()[name]
    stage = _make(name, cls)  # constructible from defaults
    x = INPUTS[name](stage, rng)
    keep = [np.copy(a) for a in as_tuple(x)]
    a = outputs(stage, x)
    for k, a_in in zip(keep, as_tuple(x)):
        np.testing.assert_array_equal(k, a_in)  # input not mutated
    assert stage.reset() is None
    assert stage.reset() is None  # idempotent
    b = outputs(stage, x)
    np.testing.assert_array_equal(a, b)  # deterministic after reset
    assert a.dtype in (np.float32, np.complex64)
    if name in STATEFUL:
        assert stage.causal is True
        assert isinstance(stage.latency_samples, int) and stage.latency_samples >= 0
        assert isinstance(stage.hop, int) and stage.hop >= 1
        assert stage.process(*as_tuple(INPUTS[name](stage, rng))) is not None  # never None

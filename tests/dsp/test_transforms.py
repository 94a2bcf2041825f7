"""The multi-resolution transforms in the engine's graph: ``cqt``, ``vqt``, ``chroma_cqt``,
``chroma_cens``, ``cqcc``, ``nsgt`` and ``cwt`` equal their stages' batch references, are the
same for any block partition, keep the STFT's frame times on their own framers, and feed
the spectral descriptors and onset functions (``scale = "cqt"`` ...)."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

from fluxstream.config import load_config
from fluxstream.dsp import cqt as cqt_mod
from fluxstream.dsp import cwt as cwt_mod
from fluxstream.dsp import nsgt as nsgt_mod
from fluxstream.dsp.cepstrum import cepstrum
from fluxstream.dsp.descriptors import spectral_flatness
from fluxstream.dsp.graph import Graph
from fluxstream.dsp.registry import AnalysisContext
from fluxstream.dsp.spectral import power_to_db, spectral_centroid
from fluxstream.dsp.suite import DescriptorParams
from fluxstream.dsp.tracking import OnsetParams
from fluxstream.dsp.transforms import (
    ChromaCensParams,
    ChromaCqtParams,
    CqccParams,
    CqtParams,
    CwtParams,
    NsgtParams,
    VqtParams,
)
from fluxstream.errors import ConfigError
from tests.helpers import block_sizes, split

SR, HOP = 8000, 256
CTX = AnalysisContext(sample_rate=SR, n_fft=512, hop_length=HOP)

# Small layouts, so that building and running stay quick at 8 kHz.
CQT = CqtParams(fmin_hz=65.40639132514966, n_bins=48)
VQT = VqtParams(fmin_hz=65.40639132514966, n_bins=48)
CHROMA = ChromaCqtParams(fmin_hz=65.40639132514966, n_octaves=4)
CENS = ChromaCensParams(fmin_hz=65.40639132514966, n_octaves=4, win_len_smooth=9)
CQCC = CqccParams(fmin_hz=65.40639132514966, n_bins=48, n_coeffs=13)
NSGT = NsgtParams(fmin_hz=110.0, bins=6)
CWT = CwtParams(n_scales=24, fmin_hz=80.0, fmax_hz=3000.0)
PARAMS = {"cqt": CQT, "vqt": VQT, "chroma_cqt": CHROMA, "chroma_cens": CENS, "cqcc": CQCC, "nsgt": NSGT,
          "cwt": CWT}


def music(seconds=2.0, seed=3):
    """Two harmonic notes changing halfway, a little noise."""
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    t = np.arange(n) / SR
    f = np.where(t < seconds / 2, 196.0, 261.63)
    ph = 2 * np.pi * np.cumsum(f) / SR
    x = sum(0.3 / h * np.sin(h * ph) for h in range(1, 5)) + 0.01 * rng.standard_normal(n)
    return x.astype(np.float32)


def run(names, x, blocks=None, params=None, ctx=CTX):
    g = Graph(ctx, names, {**PARAMS, **(params or {})})
    outs = [g.process(b[:, None]) for b in (blocks if blocks is not None else [x])] + [g.flush()]
    res = {}
    for n in names:
        parts = [o.features[n] for o in outs if n in o.features]
        res[n] = np.concatenate(parts, axis=1)[0]
        first = [o.first_index[n] for o in outs if o.features[n].shape[1]]
        assert first[0] == 0
    return g, res


def n_frames(x):
    return 1 + len(x) // HOP


# --- each transform equals its reference ------------------------------------------------


def test_cqt_and_vqt_equal_the_stage_batch():
    x = music()
    _, r = run(["cqt", "vqt"], x)
    for name, p in (("cqt", CQT), ("vqt", VQT)):
        ref = cqt_mod.cqt_batch(x, SR, HOP, **p.stage_kwargs())[0]
        assert r[name].shape == ref.shape == (n_frames(x), 48)
        np.testing.assert_allclose(r[name], ref, rtol=0, atol=2e-5 * ref.max())


def test_cqt_complex_output_is_real_then_imaginary_parts():
    x = music(1.0)
    _, r = run(["cqt"], x, params={"cqt": dataclasses.replace(CQT, output="complex")})
    ref = cqt_mod.cqt_batch(x, SR, HOP, **dataclasses.replace(CQT, output="complex").stage_kwargs())[0]
    assert r["cqt"].shape == (n_frames(x), 96)
    W = r["cqt"][:, :48] + 1j * r["cqt"][:, 48:]
    np.testing.assert_allclose(W, ref, rtol=0, atol=2e-5 * np.abs(ref).max())


def test_chroma_cqt_and_cens_follow_their_stages():
    x = music()
    _, r = run(["chroma_cqt", "chroma_cens", "cqt"], x,
               params={"cqt": CqtParams(fmin_hz=CHROMA.fmin_hz, n_bins=144, bins_per_octave=36)})
    C = r["cqt"][None]
    chroma = cqt_mod.ChromaCqt(n_bins=144, bins_per_octave=36, fmin_hz=CHROMA.fmin_hz).process(C)[0]
    np.testing.assert_allclose(r["chroma_cqt"], chroma, atol=1e-5)
    raw = cqt_mod.ChromaCqt(n_bins=144, bins_per_octave=36, fmin_hz=CHROMA.fmin_hz, norm=None).process(C)
    cens = cqt_mod.chroma_cens_batch(raw, win_len_smooth=9)[0]
    assert r["chroma_cens"].shape == cens.shape == (n_frames(x), 12)
    np.testing.assert_allclose(r["chroma_cens"], cens, atol=1e-5)
    # The notes: G (7) in the first half, C (0) in the second.
    half = len(chroma) // 2
    assert np.argmax(chroma[half // 2]) == 7 and np.argmax(chroma[half + half // 2]) == 0


def test_cqcc_is_the_dct_of_the_cqt_power_in_db():
    x = music(1.0)
    _, r = run(["cqcc", "cqt"], x)
    ref = cepstrum(power_to_db(np.square(r["cqt"])), 13)
    np.testing.assert_allclose(r["cqcc"], ref, rtol=1e-5, atol=1e-3)


def test_nsgt_equals_the_sliced_batch_magnitudes():
    x = music()
    _, r = run(["nsgt"], x)
    kw = dict(sample_rate=float(SR), **NSGT.stage_kwargs())
    slices = nsgt_mod.nsgt_batch(x[:, None], **kw)
    ref = nsgt_mod.nsgt_magnitude_batch(slices, HOP, len(x), **kw)[0][: n_frames(x)]
    assert r["nsgt"].shape == ref.shape
    np.testing.assert_allclose(r["nsgt"], ref, rtol=0, atol=1e-5 * ref.max())


def test_cwt_equals_the_batch_cwt():
    x = music(1.0)
    _, r = run(["cwt"], x)
    ref = cwt_mod.cwt_batch(x, SR, HOP, n_scales=24, fmin_hz=80.0, fmax_hz=3000.0)[0]
    np.testing.assert_allclose(r["cwt"], ref, rtol=0, atol=1e-4 * ref.max())


# --- streaming equals batch -------------------------------------------------------------


@settings(max_examples=8)
@given(sizes=block_sizes)
def test_any_block_partition_gives_the_same_frames(sizes):
    x = music(1.5)
    names = ["cqt", "chroma_cens", "nsgt", "cwt"]
    _, whole = run(names, x)
    _, parts = run(names, x, blocks=split(x, sizes))
    for n in names:
        assert parts[n].shape == whole[n].shape, n
        # The CQT sums in another order for few frames per block: float32 round-off.
        np.testing.assert_allclose(parts[n], whole[n], rtol=0, atol=1e-5 * max(whole[n].max(), 1e-6), err_msg=n)


def test_reset_restarts_each_transform_identically():
    x = music(1.0)
    g = Graph(CTX, ["cqt", "nsgt", "cwt", "chroma_cens"], PARAMS)
    first = [g.process(x[:, None]), g.flush()]
    g.reset(0)
    again = [g.process(x[:, None]), g.flush()]
    for a, b in zip(first, again):
        for n in a.features:
            np.testing.assert_array_equal(a.features[n], b.features[n])


# --- clocks, latency, metadata -----------------------------------------------------------


def test_transform_frames_keep_the_stft_times_with_their_own_latency():
    g = Graph(CTX, ["rms", "cqt", "nsgt", "cwt"], PARAMS)
    for n in ("cqt", "nsgt", "cwt"):
        assert g.frame_sample(7, n) == g.frame_sample(7, "rms") == 7 * HOP
    cqt = cqt_mod.Cqt(float(SR), **CQT.stage_kwargs())
    assert g.latency_samples("cqt") == cqt.frame_length - cqt.frame_length // 2 >= cqt.latency_samples
    mag = nsgt_mod.NsgtMagnitude(HOP, nsgt_mod.SlicedNsgt(sample_rate=float(SR), **NSGT.stage_kwargs()))
    assert g.latency_samples("nsgt") >= mag.delay_samples
    assert g.latency_samples("nsgt") - mag.delay_samples < HOP
    cwt = cwt_mod.Cwt(sample_rate=SR, n_scales=24, fmin_hz=80.0, fmax_hz=3000.0)
    assert g.latency_samples("cwt") >= cwt.latency_samples
    np.testing.assert_allclose(g.freqs("cqt"), cqt.freqs_hz)


def test_engine_writes_transforms_to_npz(tmp_path):
    import soundfile as sf

    from fluxstream.analysis import analyze_to

    x = music(1.0)
    wav = tmp_path / "m.wav"
    sf.write(wav, x, SR, subtype="FLOAT")
    cfg = load_config(overrides=["stft.n_fft=512", f"stft.hop_length={HOP}",
                                 'analysis.features=["cqt", "cwt", "rms"]',
                                 "features.cqt.fmin_hz=65.40639132514966", "features.cqt.n_bins=48",
                                 "features.cwt.n_scales=24", "features.cwt.fmax_hz=3000.0"])
    out = tmp_path / "m.npz"
    analyze_to(str(wav), str(out), config=cfg)
    d = np.load(out)
    assert d["cqt"].shape == (n_frames(x), 48) and d["cwt"].shape == (n_frames(x), 24)
    np.testing.assert_array_equal(d["cqt.time"], d["rms.time"])
    assert d["cqt.freqs"][0] == pytest.approx(65.406, abs=1e-3)


# --- descriptors and onset functions on transform spectra --------------------------------


@pytest.mark.parametrize("scale", ["cqt", "vqt", "nsgt", "cwt"])
def test_descriptors_read_transform_magnitudes(scale):
    x = music(1.0)
    p = DescriptorParams(scale=scale)
    g, r = run(["centroid", "flatness", scale], x, params={"centroid": p, "flatness": p})
    S = r[scale]
    freqs = g.freqs(scale)
    np.testing.assert_allclose(r["centroid"][:, 0], spectral_centroid(S, freqs), rtol=1e-4)
    np.testing.assert_allclose(r["flatness"][:, 0], spectral_flatness(S), rtol=1e-4, atol=1e-7)
    # The notes' fundamentals sit below 1 kHz: the centroid follows them, not the STFT's axis.
    assert 100 < np.median(r["centroid"]) < 1200


def test_descriptor_on_complex_transform_reads_its_magnitudes():
    x = music(1.0)
    _, r = run(["centroid", "cwt"], x, params={"centroid": DescriptorParams(scale="cwt"),
                                               "cwt": dataclasses.replace(CWT, output="complex")})
    assert r["cwt"].shape[1] == 48
    mag = np.hypot(r["cwt"][:, :24], r["cwt"][:, 24:])
    np.testing.assert_allclose(r["centroid"][:, 0], spectral_centroid(mag, cwt_mod.Cwt(
        sample_rate=SR, n_scales=24, fmin_hz=80.0, fmax_hz=3000.0).freqs_hz), rtol=1e-4)


def test_onsets_on_a_transform_spectrum():
    # Notes every 0.25 s (0.15 s long, decaying): the flux on CWT magnitudes fires on each.
    # (Clicks shorter than a hop would fall between the frame times the CWT is sampled at.)
    x = np.zeros(SR * 2, np.float32)
    clicks = np.arange(SR // 4, len(x) - SR // 8, SR // 4)
    t = np.arange(int(0.15 * SR)) / SR
    for i, c in enumerate(clicks):
        x[c : c + len(t)] = 0.5 * np.exp(-t / 0.05) * np.sin(2 * np.pi * (300 + 100 * i) * t)
    p = OnsetParams(scale="cwt", method="flux", threshold=0.2)
    g = Graph(CTX, ["onset", "onset_strength"], {**PARAMS, "onset": p, "onset_strength": p})
    events = g.process(x[:, None]).events + g.flush().events
    times = np.array([e.time_s for e in events if e.kind == "onset"])
    assert len(times) == len(clicks), times
    np.testing.assert_allclose(times, clicks / SR, atol=2 * HOP / SR)
    # Decided no earlier than the CWT's frames allow.
    assert all(e.info["latency"] * SR >= g.latency_samples("onset_strength") - HOP for e in events)


def test_refinement_on_a_transform_scale_is_an_error():
    with pytest.raises(ConfigError, match="refine=true works on the STFT's frames"):
        OnsetParams(scale="cqt", refine=True)


# --- bad parameters -----------------------------------------------------------------------


@pytest.mark.parametrize("name, params, match", [
    ("cqt", CqtParams(fmin_hz=1000.0, n_bins=84), "Nyquist|nyquist"),
    ("nsgt", NsgtParams(fmin_hz=5000.0), "fmin|Nyquist"),
    ("nsgt", NsgtParams(fmin_hz=110.0, bins=6, slice_length=1024), "slice_length=1024 is shorter than the longest"),
    ("cwt", CwtParams(fmin_hz=80.0, fmax_hz=6000.0), "fmax|Nyquist"),
])
def test_bad_transform_parameters_are_clear_errors(name, params, match):
    with pytest.raises(ConfigError, match=match):
        Graph(CTX, [name], {name: params})


def test_bad_table_values_are_rejected():
    with pytest.raises(ConfigError, match="fmin_hz"):
        CwtParams(fmin_hz=500.0, fmax_hz=400.0)
    with pytest.raises(ConfigError, match="n_coeffs"):
        CqccParams(n_bins=12, n_coeffs=20)
    with pytest.raises(ConfigError, match="gamma"):
        VqtParams(gamma=-2.0)
    with pytest.raises(ConfigError, match="scale"):
        DescriptorParams(scale="wavelet")


def _scale_features():
    from fluxstream.dsp import registry

    return [n for n in registry.public_names() if issubclass(registry.get(n).params, DescriptorParams)]


@pytest.mark.parametrize("scale", ["cqt", "nsgt", "cwt"])
def test_every_descriptor_and_onset_function_accepts_transform_spectra(scale):
    # Every feature with a scale parameter (descriptors, deconvolution, band flatness,
    # energy ratios, flux, mkl, the onset functions) runs on each transform's magnitudes,
    # on its clock, with finite values and one row per frame.
    x = music(1.0)
    names = _scale_features()
    params = {}
    for n in names:
        from fluxstream.dsp import registry

        cls = registry.get(n).params
        kw = {"scale": scale}
        if n == "band_flatness":
            kw.update(band_fmin_hz=150.0, n_octaves=2)
        if n == "ber":
            kw["split_hz"] = 500.0
        if n in ("onset", "onset_strength"):
            kw["method"] = "superflux"
        if n in ("envelope", "fine"):
            kw["n_coeffs"] = 12  # at most the transform's bins (24 CWT scales here)
        params[n] = cls(**kw)
    g = Graph(CTX, names, {**PARAMS, **params})
    outs = [g.process(x[:, None]), g.flush()]
    for n in names:
        if not g.specs[g.output_keys[n]].frames_out:
            continue
        arr = np.concatenate([o.features[n] for o in outs if n in o.features], axis=1)[0]
        assert arr.shape[0] == n_frames(x), n
        assert np.isfinite(arr).all(), n
        assert g.frame_sample(3, n) == 3 * HOP


def test_chroma_bins_must_fold_whole_bins():
    with pytest.raises(ConfigError, match="bins_per_octave=30 must be a multiple of n_chroma=12"):
        ChromaCqtParams(bins_per_octave=30)


def test_batch_functions_refuse_a_signal_of_the_wrong_shape():
    # A whole signal is (n_samples,) or (n_samples, channels); anything else is named.
    from fluxstream.dsp.cqt import Cqt, cqt_batch
    from fluxstream.dsp.cwt import cwt_batch

    x = np.zeros((2, 2, 512), np.float32)
    for call in (lambda: Cqt(22050, fmin_hz=200.0, n_bins=12).transform(x, 256),
                 lambda: cqt_batch(x, 22050, 256, fmin_hz=200.0, n_bins=12),
                 lambda: cwt_batch(x, 22050, 256, n_scales=4, fmin_hz=200.0, fmax_hz=2000.0)):
        with pytest.raises(ValueError, match=r"x shape \(2, 2, 512\) must be \(n_samples,\) or"):
            call()

"""The onset features in the engine: ``onset_strength`` equals the batch detection function,
``onset`` events land on known attacks (to the sample when refined), any block partition
gives the same events, frame indices survive a gap, and the analyze contract
(``onset.time``, ``onset.strength``, ``onset.latency``) holds."""

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings

from fluxstream.analysis import analyze_to, meta_of
from fluxstream.config import load_config
from fluxstream.dsp import onset as odf
from fluxstream.dsp.spectral import fft_frequencies
from fluxstream.dsp.stft import stft
from fluxstream.errors import ConfigError
from fluxstream.stream.engine import Engine
from tests.helpers import block_sizes, split

SR = 16000
N_FFT, HOP = 1024, 256
ATTACKS_S = (0.3, 0.75, 1.1, 1.6)


def bursts(seed=0, seconds=2.0, attacks=ATTACKS_S):
    """Decaying noise bursts starting at exact samples, over a quiet noise floor."""
    rng = np.random.default_rng(seed)
    x = 1e-3 * rng.standard_normal(int(SR * seconds))
    for t in attacks:
        i, n = int(round(t * SR)), 2400
        x[i : i + n] += 0.5 * rng.standard_normal(n) * np.exp(-np.arange(n) / 500)
    return x.astype(np.float32)


class Source:
    live = False
    description = "test signal"

    def __init__(self, x, blocks):
        self.x, self.sample_rate, self.channels = x, SR, 1
        self._blocks = blocks

    def open(self):
        pass

    def blocks(self):
        pos = 0
        for b in self._blocks:
            yield pos, b[:, None] if b.ndim == 1 else b
            pos += len(b)

    def close(self):
        pass


def run(x, overrides=(), blocks=None, features=("onset", "onset_strength")):
    cfg = load_config(overrides=[f"stft.n_fft={N_FFT}", f"stft.hop_length={HOP}",
                                 "analysis.features=[" + ", ".join(f'"{f}"' for f in features) + "]",
                                 *overrides])
    items = []
    eng = Engine(cfg, source=Source(x, blocks if blocks is not None else [x]))
    eng.subscribe(items.append)
    eng.open()
    for pos, b in eng.source.blocks():
        eng.process_block(pos, b)
    eng._emit_frames(eng.graph.flush(), None)
    eng.stop()
    events = [e for e in items if getattr(e, "kind", None) == "onset"]
    frames = [f for f in items if hasattr(f, "features") and "onset_strength" in f.features]
    strength = np.concatenate([f["onset_strength"] for f in frames]) if frames else None
    return events, strength


def test_onsets_on_known_attacks_within_one_frame_and_refined_to_the_sample():
    x = bursts()
    events, _ = run(x)
    times = np.array([e.time_s for e in events])
    assert len(times) == len(ATTACKS_S)
    assert np.all(np.abs(times - ATTACKS_S) <= HOP / SR + 1e-9)
    refined, _ = run(x, ["features.onset.refine=true"])
    t = np.array([e.sample for e in refined]) / SR
    np.testing.assert_allclose(t, ATTACKS_S, atol=1e-3)
    for e in refined:
        assert e.info["latency"] > 0 and e.info["channel"] == 0 and e.info["band"] == 0
        # The decision needed the deciding frame's newest sample: that is the latency.
        decided_sample = e.info["decided_frame"] * HOP + N_FFT - N_FFT // 2
        assert e.info["latency"] == pytest.approx((decided_sample - e.sample) / SR)


def test_no_onsets_in_silence_steady_tone_or_stationary_noise():
    t = np.arange(2 * SR) / SR
    rng = np.random.default_rng(1)
    for x in (np.zeros(2 * SR), 0.3 * np.sin(2 * np.pi * 440 * t), 0.1 * rng.standard_normal(2 * SR)):
        events, _ = run(x.astype(np.float32))
        # Including the file's end: its centred tail frames see the signal cut off by the
        # zero padding (a broadband rise), which is not an onset.
        assert events == []


def test_onset_strength_equals_the_batch_detection_function():
    x = bursts(seed=2)
    X = stft(x, N_FFT, HOP)  # (frames, bins): the same frames the engine makes
    S = np.abs(X)
    for method, ref in (("superflux", odf.superflux_odf(S)), ("flux", odf.spectral_flux_odf(S)),
                        ("hfc", odf.hfc_odf(S)), ("complex", odf.complex_domain_odf(X))):
        _, got = run(x, [f'features.onset.method="{method}"'], features=("onset_strength",))
        assert got.shape == (S.shape[0], 1)
        np.testing.assert_allclose(got[:, 0], ref, rtol=2e-4, atol=2e-4 * np.abs(ref).max(), err_msg=method)


def test_band_onsets_are_tagged_with_their_band():
    # A low thump (band 0) then a high click (band 2).
    x = 1e-3 * np.random.default_rng(3).standard_normal(2 * SR)
    i = int(0.5 * SR)
    x[i : i + 3000] += 0.6 * np.sin(2 * np.pi * 80 * np.arange(3000) / SR) * np.exp(-np.arange(3000) / 900)
    j = int(1.2 * SR)
    hp = np.diff(np.random.default_rng(4).standard_normal(801))
    x[j : j + 800] += 0.5 * hp * np.exp(-np.arange(800) / 150)
    events, strength = run(x.astype(np.float32), ["features.onset.bands_hz=[0, 200, 2000, 8000]",
                                                   'features.onset.method="flux"'])
    assert strength.shape[1] == 3
    first_in = {b: min((e.time_s for e in events if e.info["band"] == b), default=None) for b in (0, 2)}
    assert first_in[0] == pytest.approx(0.5, abs=2 * HOP / SR)
    assert first_in[2] == pytest.approx(1.2, abs=2 * HOP / SR)
    assert not any(e.info["band"] == 0 and abs(e.time_s - 1.2) < 0.05 for e in events)


@settings(max_examples=15, deadline=None)
@given(sizes=block_sizes)
def test_any_block_partition_gives_the_same_events(sizes):
    x = bursts(seed=5)
    want, s_want = run(x)
    got, s_got = run(x, blocks=split(x, sizes))
    assert [(e.sample, e.info["decided_frame"]) for e in got] == [(e.sample, e.info["decided_frame"]) for e in want]
    np.testing.assert_allclose([e.value for e in got], [e.value for e in want], rtol=1e-5)
    np.testing.assert_allclose(s_got, s_want, rtol=1e-5, atol=1e-6)


def test_frame_indices_stay_on_the_sample_clock_across_a_gap():
    x = bursts(seed=6)
    cut = int(0.6 * SR)  # after the first attack; the rest resumes 0.2 s later on the clock
    lost = int(0.2 * SR)
    cfg = load_config(overrides=[f"stft.n_fft={N_FFT}", f"stft.hop_length={HOP}", 'analysis.features=["onset"]',
                                 "features.onset.refine=true"])
    items = []
    eng = Engine(cfg, source=Source(x, [x]))
    eng.subscribe(items.append)
    eng.open()
    eng.process_block(0, x[:cut, None])
    eng.process_block(cut + lost, x[cut:, None])
    eng._emit_frames(eng.graph.flush(), None)
    eng.stop()
    onsets = [e.sample for e in items if getattr(e, "kind", None) == "onset"]
    later = [t + 0.2 for t in ATTACKS_S if t > 0.6]
    assert any(abs(s / SR - later[0]) < 2e-3 for s in onsets), (onsets, later)


def test_analyze_writes_onset_arrays(tmp_path):
    p = tmp_path / "b.wav"
    sf.write(p, bursts(seed=7), SR, subtype="FLOAT")
    cfg = load_config(overrides=[f"stft.n_fft={N_FFT}", f"stft.hop_length={HOP}", "features.onset.refine=true"])
    arrays, _ = analyze_to(str(p), None, cfg, ["onset", "rms"])
    assert "onset" not in arrays and "onset.time" in arrays
    np.testing.assert_allclose(arrays["onset.time"], ATTACKS_S, atol=1e-3)
    assert arrays["onset.strength"].shape == arrays["onset.latency"].shape == (len(ATTACKS_S),)
    assert arrays["onset.band"].dtype == np.int64 and np.all(arrays["onset.latency"] > 0)
    meta = meta_of(arrays)
    assert meta["events"]["onset"]["feature"] == "onset" and "onset" not in meta["features"]


@pytest.mark.parametrize("override,match", [
    ('features.onset.method="complex"', None),
    ('features.onset.method="nope"', "method"),
    ("features.onset.bands_hz=[0, 500, 300]", "bands_hz"),
    ("features.onset.threshold=-2", "threshold"),
    ("features.onset.lag=0", "lag"),
])
def test_bad_onset_parameters(override, match):
    if match is None:  # the complex STFT on a mel scale: a clear error naming both
        with pytest.raises(ConfigError, match="scale"):
            load_config(overrides=[override, 'features.onset.scale="mel"'])
        return
    with pytest.raises(ConfigError, match=match):
        load_config(overrides=[override])


def test_mkl_has_no_band_form():
    with pytest.raises(ConfigError, match="mkl"):
        run(bursts(), ['features.onset.method="mkl"', "features.onset.bands_hz=[0, 200, 8000]"])


def test_onset_strength_reads_the_onset_table_unless_it_has_its_own():
    cfg = load_config(overrides=['features.onset.method="hfc"'])
    assert cfg.feature_params("onset_strength").method == "hfc"
    cfg = load_config(overrides=['features.onset.method="hfc"', 'features.onset_strength.method="flux"'])
    assert cfg.feature_params("onset_strength").method == "flux"
    assert fft_frequencies(SR, N_FFT).shape == (N_FFT // 2 + 1,)

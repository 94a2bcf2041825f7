"""The pitch features in the engine: ``pitch`` equals its estimator on the same frames for
any block partition, frames on their own hop form their own clock (times, npz, CSV, JSONL,
metadata), delayed estimators keep their frames' times, and MIDI / cents / tuning outputs
and bad parameters behave."""

import csv
import json

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings

from fluxstream.analysis import analyze_to, meta_of
from fluxstream.config import load_config
from fluxstream.dsp.framing import frame_signal
from fluxstream.dsp.graph import Graph
from fluxstream.dsp.pitch import Yin
from fluxstream.dsp.pyin import PYin
from fluxstream.dsp.registry import AnalysisContext
from fluxstream.errors import ConfigError
from fluxstream.stream.engine import Engine
from tests.helpers import block_sizes, split

SR = 16000


def tone(f0=220.0, seconds=1.0, sr=SR):
    t = np.arange(int(sr * seconds)) / sr
    return (0.4 * np.sin(2 * np.pi * f0 * t) + 0.2 * np.sin(2 * np.pi * 2 * f0 * t)).astype(np.float32)


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
            yield pos, b[:, None]
            pos += len(b)

    def close(self):
        pass


def run(x, overrides=(), blocks=None, features=("pitch",)):
    cfg = load_config(overrides=["stft.n_fft=1024", "stft.hop_length=256",
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
    frames = [f for f in items if hasattr(f, "features")]
    out = {}
    for name in features:
        got = [f for f in frames if name in f.features]
        out[name] = np.concatenate([f[name] for f in got])
        out[name + ".time"] = np.concatenate([f.time_s for f in got])
        out[name + ".hop"] = {f.hop_length for f in got}
    return out


@settings(max_examples=12, deadline=None)
@given(sizes=block_sizes)
def test_pitch_equals_its_estimator_for_any_partition(sizes):
    x = tone(seconds=0.6)
    ref = Yin(sample_rate=SR, frame_length=1024, fmin_hz=65.0, fmax_hz=2093.0).process(
        frame_signal(x, 1024, 256, center=True))[0]
    got = run(x, blocks=split(x, sizes))
    np.testing.assert_allclose(got["pitch"], ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["pitch.time"], np.arange(len(ref)) * 256 / SR)


def test_pitch_on_its_own_frame_length_and_hop_is_its_own_clock():
    x = tone(seconds=0.8)
    over = ["features.pitch.frame_length=2048", "features.pitch.hop_length=128"]
    got = run(x, over, features=("pitch", "rms"))
    ref = Yin(sample_rate=SR, frame_length=2048, fmin_hz=65.0, fmax_hz=2093.0).process(
        frame_signal(x, 2048, 128, center=True))[0]
    np.testing.assert_allclose(got["pitch"], ref, rtol=1e-5, atol=1e-5)
    assert got["pitch.hop"] == {128} and got["rms.hop"] == {256}
    np.testing.assert_allclose(got["pitch.time"], np.arange(len(ref)) * 128 / SR)
    np.testing.assert_allclose(got["rms.time"], np.arange(len(got["rms"])) * 256 / SR)
    g = Graph(AnalysisContext(sample_rate=SR, n_fft=1024, hop_length=256), ["pitch", "rms"],
              {"pitch": load_config(overrides=over).feature_params("pitch")})
    assert g.framing("pitch") == (2048, 128) and g.clock("pitch") == (128, 0)
    assert g.latency_samples("pitch") == 1024 and g.latency_samples("rms") == 512


def test_same_hop_other_frame_length_shares_the_stft_clock():
    x = tone(seconds=0.5)
    got = run(x, ["features.pitch.frame_length=2048"], features=("pitch", "rms"))
    assert got["pitch.hop"] == got["rms.hop"] == {256}
    # Frame k of both is centred on sample k * hop: the same times.
    n = min(len(got["pitch"]), len(got["rms"]))
    np.testing.assert_allclose(got["pitch.time"][:n], got["rms.time"][:n])


def test_pyin_is_delayed_by_its_lag_but_stamped_with_its_frames_times():
    x = tone(seconds=1.0)
    got = run(x, ['features.pitch.method="pyin"', "features.pitch.lag_s=0.05"])
    ref = PYin(sample_rate=SR, frame_length=1024, fmin_hz=65.0, fmax_hz=2093.0, hop_length=256, lag_s=0.05)
    frames = frame_signal(x, 1024, 256, center=True)
    want = np.concatenate([ref.process(frames), ref.flush()], axis=1)[0]
    np.testing.assert_allclose(got["pitch"], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["pitch.time"], np.arange(len(want)) * 256 / SR)
    g = Graph(AnalysisContext(sample_rate=SR, n_fft=1024, hop_length=256), ["pitch"],
              {"pitch": load_config(overrides=['features.pitch.method="pyin"',
                                               "features.pitch.lag_s=0.05"]).feature_params("pitch")})
    assert g.delay_frames("pitch") == round(0.05 * SR / 256)
    assert g.latency_samples("pitch") == 512 + g.delay_frames("pitch") * 256


def test_median_smoother_adds_half_its_width():
    x = tone(seconds=0.5)
    got = run(x, ["features.pitch.smooth_frames=5"])
    plain = run(x)
    assert got["pitch"].shape == plain["pitch"].shape
    np.testing.assert_allclose(np.median(got["pitch"][5:-5, 0]), 220.0, rtol=1e-3)


def test_midi_cents_and_tuning():
    x = tone(440.0 * 2 ** (30 / 1200), seconds=1.5)  # A4 + 30 cents
    got = run(x, [], features=("pitch", "pitch.midi", "pitch.cents", "pitch.tuning"))
    voiced = got["pitch"][:, 2] > 0
    np.testing.assert_allclose(got["pitch.midi"][voiced, 0], 69.3, atol=0.01)
    np.testing.assert_allclose(got["pitch.cents"][voiced, 0], 30.0, atol=1.0)
    assert got["pitch.tuning"][-1, 0] == pytest.approx(440.0 * 2 ** (30 / 1200), rel=1e-3)
    ref = run(x, ["features.pitch.reference_hz=442.0"], features=("pitch.midi",))
    np.testing.assert_allclose(ref["pitch.midi"][voiced, 0], 69.3 - 12 * np.log2(442 / 440), atol=0.01)


def test_files_with_two_clocks(tmp_path):
    p = tmp_path / "t.wav"
    sf.write(p, tone(seconds=0.5), SR, subtype="FLOAT")
    cfg = load_config(overrides=["stft.n_fft=1024", "stft.hop_length=256", "features.pitch.hop_length=128"])
    arrays, _ = analyze_to(str(p), None, cfg, ["pitch", "rms"])
    np.testing.assert_allclose(np.diff(arrays["pitch.time"]), 128 / SR)
    np.testing.assert_allclose(np.diff(arrays["rms.time"]), 256 / SR)
    meta = meta_of(arrays)
    assert meta["features"]["pitch"]["hop_length"] == 128 and meta["features"]["rms"]["hop_length"] == 256
    analyze_to(str(p), str(tmp_path / "o.csv"), cfg, ["pitch", "rms"])
    rows = list(csv.reader(open(tmp_path / "o.csv")))
    assert rows[0][:3] == ["frame", "hop_length", "time_s"]
    body = rows[1:]
    assert [float(r[2]) for r in body] == sorted(float(r[2]) for r in body)  # time order
    assert {r[1] for r in body} == {"128", "256"}
    assert sum(r[1] == "128" for r in body) == len(arrays["pitch"])
    analyze_to(str(p), str(tmp_path / "o.jsonl"), cfg, ["pitch", "rms"])
    lines = [json.loads(line) for line in open(tmp_path / "o.jsonl")]
    assert all(("pitch" in r) == (r["hop_length"] == 128) for r in lines)


@pytest.mark.parametrize("override,match", [
    ("features.pitch.fmin_hz=3000", "fmin_hz"),
    ('features.pitch.method="crepe"', "method"),
    ("features.pitch.smooth_frames=4", "smooth_frames"),
    ("features.pitch.lag_s=-1", "lag_s"),
])
def test_bad_pitch_parameters(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(overrides=[override])


def test_frame_too_short_for_fmin_is_a_clear_error():
    with pytest.raises(ConfigError, match="frame_length"):
        run(tone(seconds=0.2), ["features.pitch.fmin_hz=20", "features.pitch.frame_length=512"])

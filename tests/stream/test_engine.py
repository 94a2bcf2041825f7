import logging
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from fluxstream import analyze
from fluxstream.config import Config, load_config
from fluxstream.errors import AudioFileError, StreamError
from fluxstream.results import Event, Frames
from fluxstream.stream.demo import DemoSource
from fluxstream.stream.engine import Engine
from fluxstream.stream.file import FileSource

librosa = pytest.importorskip("librosa")


class ListSource:
    """A test source yielding given (position, block) pairs (not a stand-in for a real
    part: a way to inject positions, gaps and bad samples exactly)."""

    live = False
    description = "test blocks"

    def __init__(self, items, sample_rate=16000, channels=1):
        self.items, self.sample_rate, self.channels = items, sample_rate, channels

    def open(self):
        pass

    def blocks(self):
        yield from self.items

    def close(self):
        pass


def collect(engine):
    frames, events = [], []
    engine.subscribe(lambda it: (frames if isinstance(it, Frames) else events).append(it))
    stats = engine.run()
    return frames, events, stats


def cat(frames, name):
    return np.concatenate([f[name] for f in frames])


@pytest.fixture
def tone_file(tmp_path, rng):
    sr = 22050
    t = np.arange(3 * sr) / sr
    x = (0.4 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    x[sr : sr + 2000] = 0.0  # a silent stretch
    p = tmp_path / "tone.wav"
    sf.write(p, x, sr, subtype="FLOAT")
    return p, x, sr


@pytest.mark.parametrize("block", [1, 37, 512, 4096, 1 << 20])
def test_file_results_do_not_depend_on_block_and_equal_librosa(tone_file, block):
    p, x, sr = tone_file
    cfg = load_config(overrides=[f"input.block={block}"])
    r = analyze(str(p), ["rms", "centroid", "spectrum"], cfg)
    S = np.abs(librosa.stft(x, n_fft=2048, hop_length=512, center=True, pad_mode="constant"))
    rms = librosa.feature.rms(y=x, frame_length=2048, hop_length=512, center=True, pad_mode="constant")[0]
    cen = librosa.feature.spectral_centroid(S=S, sr=sr)[0]
    assert r["rms"].shape == (S.shape[1], 1) and r["spectrum"].shape == (S.shape[1], 1025)
    np.testing.assert_allclose(r["spectrum"], S.T, atol=2e-5 * S.max())
    np.testing.assert_allclose(r["rms"][:, 0], rms, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(r["centroid"][:, 0], cen, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(r["rms.time"], librosa.frames_to_time(np.arange(S.shape[1]), sr=sr, hop_length=512))
    np.testing.assert_allclose(r["spectrum.freqs"], librosa.fft_frequencies(sr=sr, n_fft=2048))


def test_multichannel_features_have_a_channel_axis(tmp_path, rng):
    x = rng.standard_normal((8000, 2)).astype(np.float32)
    p = tmp_path / "st.wav"
    sf.write(p, x, 16000, subtype="FLOAT")
    r = analyze(str(p), ["rms", "spectrum"], load_config(overrides=["input.mono=false"]))
    assert r["rms"].shape == (16, 2, 1) and r["spectrum"].shape == (16, 2, 1025)
    for c in range(2):
        ref = librosa.feature.rms(y=x[:, c], frame_length=2048, hop_length=512, pad_mode="constant")[0]
        np.testing.assert_allclose(r["rms"][:, c, 0], ref, rtol=1e-4)


@given(cuts=st.lists(st.integers(1, 3000), min_size=1, max_size=8))
def test_engine_streaming_equals_batch_for_random_partitions(cuts):
    x = np.random.default_rng(len(cuts)).standard_normal(9000).astype(np.float32)
    items, pos, i = [], 0, 0
    while pos < len(x):
        n = cuts[i % len(cuts)]
        items.append((pos, x[pos : pos + n, None]))
        pos, i = pos + n, i + 1
    frames, _, _ = collect(Engine(Config(), source=ListSource(items)))
    whole, _, _ = collect(Engine(Config(), source=ListSource([(0, x[:, None])])))
    np.testing.assert_array_equal(np.concatenate([f.index for f in frames]),
                                  np.concatenate([f.index for f in whole]))
    np.testing.assert_allclose(cat(frames, "centroid"), cat(whole, "centroid"), rtol=1e-5)
    np.testing.assert_allclose(cat(frames, "rms"), cat(whole, "rms"), rtol=1e-5)


def test_nonfinite_samples_are_sanitized_counted_and_never_output():
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    bad = x.copy()
    bad[[10, 500, 4000]] = [np.nan, np.inf, -np.inf]
    frames, events, stats = collect(Engine(Config(), source=ListSource([(0, bad[:, None])])))
    assert stats.nonfinite_samples == 3
    assert [e.kind for e in events] == ["nonfinite"] and events[0].value == 3
    assert all(np.isfinite(f[n]).all() for f in frames for n in ("rms", "centroid"))
    clean = x.copy()
    clean[[10, 500, 4000]] = 0
    ref, _, _ = collect(Engine(Config(), source=ListSource([(0, clean[:, None])])))
    np.testing.assert_allclose(cat(frames, "rms"), cat(ref, "rms"), rtol=1e-6)
    assert np.isfinite(bad).sum() == 7997  # the source's block was not modified in place


def test_gap_emits_event_resets_state_and_keeps_frames_on_the_clock():
    x = np.random.default_rng(1).standard_normal(20000).astype(np.float32)[:, None]
    items = [(0, x[:5000]), (9000, x[9000:])]  # 4000 samples lost at 5000
    frames, events, stats = collect(Engine(Config(), source=ListSource(items)))
    gaps = [e for e in events if e.kind == "gap"]
    assert len(gaps) == 1 and gaps[0].sample == 5000 and gaps[0].value == 4000
    assert gaps[0].time_s == pytest.approx(5000 / 16000)
    assert stats.gaps == 1
    idx = np.concatenate([f.index for f in frames])
    # After the gap, the first frame is the first clock tick at or after 9000 (ceil(9000/512)
    # = 18), and its time is its index on the global hop clock.
    after = idx[idx >= 18]
    assert after[0] == 18 and np.all(np.diff(after) == 1)
    t = np.concatenate([f.time_s for f in frames])
    np.testing.assert_allclose(t, idx * 512 / 16000)
    # Frames after the gap equal a fresh analysis of the stream zeroed before 9000.
    z = x.copy()
    z[:9000] = 0
    ref, _, _ = collect(Engine(Config(), source=ListSource([(0, z)])))
    ridx = np.concatenate([f.index for f in ref])
    np.testing.assert_allclose(cat(frames, "rms")[idx >= 18], cat(ref, "rms")[ridx >= 18], rtol=1e-5)


def test_source_going_back_in_time_fails_clearly():
    x = np.zeros((100, 1), np.float32)
    eng = Engine(Config(), source=ListSource([(0, x), (50, x)]))
    with pytest.raises(StreamError, match="back in time"):
        eng.run()


def test_failing_subscriber_is_counted_logged_once_and_analysis_goes_on(caplog):
    eng = Engine(Config(), source=DemoSource(realtime=False, duration_s=1.0))
    seen = []

    def bad(item):
        raise RuntimeError("boom")

    eng.subscribe(bad)
    eng.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="fluxstream.engine"):
        stats = eng.run()
    # `bad` raised on every item, and the next subscriber still received every one.
    assert stats.subscriber_errors == len(seen) > 0
    assert sum("boom" in r.getMessage() for r in caplog.records) == 1


def test_duration_stop_and_stats():
    eng = Engine(Config(), source=DemoSource(realtime=False))
    frames = []
    eng.subscribe(lambda it: frames.append(it) if isinstance(it, Frames) else None)
    stats = eng.run(duration_s=2.0)
    assert stats.samples == 96000 and stats.audio_s == pytest.approx(2.0)
    assert stats.frames == sum(len(f) for f in frames) == 1 + 96000 // 512
    assert stats.compute_ms_p99 >= stats.compute_ms_median > 0
    assert stats.realtime_factor > 1 and stats.overrun_samples == 0
    assert "real time" in stats.summary()


def test_stop_from_another_thread_ends_a_live_stream_promptly():
    eng = Engine(Config(), source=DemoSource(block=512))  # paced, endless
    eng.start()
    time.sleep(0.2)  # let it run a little: this test is about stopping a running stream
    t0 = time.monotonic()
    stats = eng.stop()
    assert time.monotonic() - t0 < 1.0 and stats.blocks > 0
    assert not any(t.name == "fluxstream-analysis" for t in threading.enumerate())


def test_source_errors_surface_from_run(tmp_path):
    eng = Engine(Config(), source=FileSource(tmp_path / "missing.wav"))
    with pytest.raises(AudioFileError, match="does not exist"):
        eng.run()


def test_errors_inside_the_analysis_thread_surface_from_stop():
    class Exploding(ListSource):
        def blocks(self):
            yield 0, np.zeros((10, 1), np.float32)
            raise OSError("device unplugged")

    eng = Engine(Config(), source=Exploding([]))
    eng.start()
    eng.wait(5)
    with pytest.raises(StreamError, match="OSError: device unplugged"):
        eng.stop()


def test_context_manager_and_decorator_subscribe():
    got = []
    with Engine(Config(), source=DemoSource(realtime=False, duration_s=0.25)) as eng:
        @eng.subscribe
        def on_item(item):
            got.append(item)

        eng.run()
    assert any(isinstance(g, Frames) for g in got)
    with pytest.raises(TypeError):
        Engine(Config(), source=ListSource([])).subscribe(42)


def test_silence_gives_defined_features():
    frames, _, _ = collect(Engine(Config(), source=ListSource([(0, np.zeros((5000, 1), np.float32))])))
    assert np.all(cat(frames, "rms") == 0) and np.all(cat(frames, "centroid") == 0)


def test_event_and_frames_types():
    e = Event("gap", 10, 0.1, 5.0)
    assert e.info == {}
    f = Frames(np.arange(2), np.zeros(2), {"rms": np.zeros((2, 1))})
    assert len(f) == 2 and f["rms"].shape == (2, 1) and f.stream == "in"


@pytest.mark.parametrize("live,expected", [(False, 1 + 8000 // 512), (True, 1 + (8000 - 1024) // 512)])
def test_duration_limit_flushes_the_centred_tail_only_for_a_signal_with_an_end(live, expected):
    x = np.random.default_rng(2).standard_normal((20000, 1)).astype(np.float32)
    src = ListSource([(i, x[i : i + 1000]) for i in range(0, 20000, 1000)])
    src.live = live
    eng = Engine(Config(), source=src)
    stats = eng.run(duration_s=0.5)  # 8000 samples at 16 kHz
    assert stats.samples == 8000 and stats.frames == expected


def test_file_analysis_on_two_threads_equals_one(tone_file):
    p, x, sr = tone_file
    names = ["mfcc", "mfcc.delta", "chroma", "centroid", "contrast", "rms", "flux"]
    one = analyze(str(p), names, load_config(overrides=["analysis.threads=1", "input.block=2048"]))
    two = analyze(str(p), names, load_config(overrides=["analysis.threads=2", "input.block=2048"]))
    for k in names:
        np.testing.assert_array_equal(two[k], one[k], err_msg=k)
    assert Config().analysis.threads_for(live=True) == 1

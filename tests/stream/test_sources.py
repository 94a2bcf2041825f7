import time

import numpy as np
import pytest
import soundfile as sf

from fluxstream.config import InputConfig
from fluxstream.errors import AudioFileError, ConfigError
from fluxstream.stream.demo import HITS_S, LOOP_S, NOTES, DemoSource, demo_signal
from fluxstream.stream.file import FileSource
from fluxstream.stream.source import ChannelMap, open_source


def read_all(src):
    src.open()
    try:
        blocks = [(p, b.copy()) for p, b in src.blocks()]
    finally:
        src.close()
    return blocks


@pytest.mark.parametrize("fmt,subtype", [("WAV", "FLOAT"), ("WAV", "PCM_16"), ("FLAC", "PCM_24"),
                                         ("OGG", "VORBIS")])
def test_file_formats_read_in_blocks_with_positions(tmp_path, rng, fmt, subtype):
    x = (rng.uniform(-0.5, 0.5, (10_000, 2))).astype(np.float32)
    p = tmp_path / f"a.{fmt.lower()}"
    sf.write(p, x, 22050, format=fmt, subtype=subtype)
    ref, _ = sf.read(p, dtype="float32", always_2d=True)
    blocks = read_all(FileSource(p, block=999, mono=False))
    assert [b[0] for b in blocks] == list(range(0, 10_000, 999))
    y = np.concatenate([b for _, b in blocks])
    assert y.shape == (10_000, 2) and y.dtype == np.float32
    np.testing.assert_array_equal(y, ref)  # exactly what libsndfile decodes


def test_mono_mixdown_and_channel_selection(tmp_path, rng):
    x = rng.uniform(-1, 1, (1000, 3)).astype(np.float32)
    p = tmp_path / "c.wav"
    sf.write(p, x, 8000, subtype="FLOAT")
    mono = np.concatenate([b for _, b in read_all(FileSource(p, block=128))])
    np.testing.assert_allclose(mono[:, 0], x.mean(axis=1), atol=1e-6)
    sel = np.concatenate([b for _, b in read_all(FileSource(p, block=128, select=[2, 0], mono=False))])
    np.testing.assert_array_equal(sel, x[:, [2, 0]])
    one = np.concatenate([b for _, b in read_all(FileSource(p, block=128, select=[1]))])
    np.testing.assert_array_equal(one[:, 0], x[:, 1])
    with pytest.raises(ConfigError, match=r"input.select=\[3\].*3 channel"):
        FileSource(p, select=[3]).open()


def test_missing_directory_and_unreadable_files(tmp_path):
    with pytest.raises(AudioFileError, match="does not exist"):
        FileSource(tmp_path / "nope.wav").open()
    with pytest.raises(AudioFileError, match="is a directory"):
        FileSource(tmp_path).open()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioFileError, match="cannot read .*bad.wav.* as audio"):
        FileSource(bad).open()
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    with pytest.raises(AudioFileError):
        FileSource(empty).open()


def test_rate_mismatch_is_an_error_not_a_silent_resample(tmp_path):
    p = tmp_path / "r.wav"
    sf.write(p, np.zeros(100), 22050)
    with pytest.raises(ConfigError, match="input.sample_rate=48000 .* 22050 Hz"):
        FileSource(p, sample_rate=48000).open()
    src = FileSource(p, sample_rate=22050)
    src.open()
    assert src.sample_rate == 22050 and src.n_samples == 100
    src.close()


def test_realtime_pacing_holds_the_file_to_real_time(tmp_path):
    p = tmp_path / "t.wav"
    sr = 8000
    sf.write(p, np.zeros(int(0.3 * sr)), sr)
    t0 = time.monotonic()
    read_all(FileSource(p, block=400, realtime=True))
    assert time.monotonic() - t0 >= 0.3 * 0.95  # cannot be faster than the audio


def test_demo_is_deterministic_with_known_ground_truth():
    a, b = demo_signal(16000), demo_signal(16000)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (int(LOOP_S * 16000),) and a.dtype == np.float32
    assert np.abs(a).max() < 1.0
    assert len(NOTES) == 16 and all(0 <= n.onset_s < LOOP_S for n in NOTES)
    # Energy rises at each note onset (10 ms after vs 10 ms before).
    for n in NOTES[1:]:
        i = int(n.onset_s * 16000)
        after = np.sqrt(np.mean(a[i + 80 : i + 240] ** 2))
        before = np.sqrt(np.mean(a[i - 400 : i - 80] ** 2))
        assert after > before
    for h in HITS_S:
        i = int(h * 16000)
        assert np.abs(a[i : i + 160]).max() > 0.1


def test_demo_source_loops_and_stops_at_duration():
    src = DemoSource(sample_rate=8000, block=3000, realtime=False, duration_s=LOOP_S * 2.5)
    blocks = read_all(src)
    y = np.concatenate([b for _, b in blocks])[:, 0]
    assert len(y) == int(LOOP_S * 2.5 * 8000)
    one = demo_signal(8000)
    np.testing.assert_array_equal(y[: len(one)], one)
    np.testing.assert_array_equal(y[len(one) : 2 * len(one)], one)


def test_demo_source_close_stops_a_paced_stream_promptly():
    src = DemoSource(block=512)  # real time, endless
    src.open()
    it = src.blocks()
    next(it)
    t0 = time.monotonic()
    src.close()
    assert len(list(it)) <= 1  # at most the block already due, then the generator ends
    assert time.monotonic() - t0 < 1.0


def test_channel_map_identity_and_errors():
    m = ChannelMap(2, (), mono=False)
    x = np.ones((4, 2), np.float32)
    assert m.identity and m(x) is x and m.channels == 2
    assert ChannelMap(2, (), mono=True).channels == 1
    with pytest.raises(ConfigError, match="channel"):
        ChannelMap(2, (0, 5))


def test_open_source_from_config(tmp_path):
    assert isinstance(open_source(InputConfig(source="demo")), DemoSource)
    with pytest.raises(ConfigError, match="input.file"):
        open_source(InputConfig(source="file"))
    p = tmp_path / "x.wav"
    sf.write(p, np.zeros(10), 8000)
    assert isinstance(open_source(InputConfig(), file=str(p)), FileSource)

"""The noise gate in the engine and on the command line: ``fluxstream denoise`` writes the
gated file aligned to its input (mask 1 = the input itself), improves SNR with a noise clip,
the engine's features see the gated (or raw) signal on the input's timeline, gate events
are published, and bad configurations are clear errors."""

import numpy as np
import pytest
import soundfile as sf

from fluxstream.cli import main
from fluxstream.config import load_config
from fluxstream.denoise import AlignedGate, build_gate, denoise_file
from fluxstream.errors import ConfigError
from fluxstream.stream.engine import Engine

SR = 16000


def tone_in_noise(seed=0, seconds=3.0, snr_db=5.0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    clean = 0.3 * np.sin(2 * np.pi * 440 * t) * ((t > 1.0) & (t < 2.2))
    noise = rng.standard_normal(t.size)
    noise *= (0.3 / np.sqrt(2)) / np.sqrt(np.mean(noise**2)) * 10 ** (-snr_db / 20)  # SNR against the tone
    return clean.astype(np.float32), (clean + noise).astype(np.float32), noise.astype(np.float32)


def snr_db(clean, x):
    return 10 * np.log10(np.sum(clean**2) / np.sum((x - clean) ** 2))


def test_denoise_with_a_noise_clip_improves_snr_and_keeps_length_and_alignment(tmp_path):
    clean, noisy, noise = tone_in_noise()
    src, clip, dst = tmp_path / "in.wav", tmp_path / "noise.wav", tmp_path / "out.wav"
    sf.write(src, noisy, SR, subtype="FLOAT")
    rng = np.random.default_rng(9)
    sf.write(clip, (rng.standard_normal(SR) * noise.std()).astype(np.float32), SR, subtype="FLOAT")
    assert main(["denoise", str(src), str(dst), "--noise-clip", str(clip), "--no-progress",
                 "--save-profile", str(tmp_path / "p.npz"), "--set", "gate.n_fft=1024",
                 "--set", "gate.hop_length=256"]) == 0
    out, sr = sf.read(dst, dtype="float32")
    assert sr == SR and out.shape == noisy.shape
    assert snr_db(clean, out) > snr_db(clean, noisy) + 5
    # Aligned: the output's tone is in phase with the input's (no latency left in the file).
    seg = slice(int(1.3 * SR), int(2.0 * SR))
    assert np.corrcoef(out[seg], clean[seg])[0, 1] > 0.95
    # The saved profile gates the same way.
    dst2 = tmp_path / "out2.wav"
    assert main(["denoise", str(src), str(dst2), "--profile", str(tmp_path / "p.npz"), "--no-progress",
                 "--set", "gate.n_fft=1024", "--set", "gate.hop_length=256"]) == 0
    np.testing.assert_allclose(sf.read(dst2, dtype="float32")[0], out, atol=1e-6)


def test_mask_one_gives_back_the_input(tmp_path):
    _, noisy, _ = tone_in_noise(seed=1)
    src, dst = tmp_path / "in.wav", tmp_path / "out.flac"
    sf.write(src, noisy, SR, subtype="FLOAT")
    cfg = load_config(overrides=['gate.mode="nonstationary"', "gate.prop_decrease=0.0"]).gate
    info = denoise_file(str(src), str(dst), cfg)
    assert info["latency_samples"] > 0
    out, _ = sf.read(dst, dtype="float32")
    # FLAC stores 24-bit integers of the float input: equal to that resolution.
    np.testing.assert_allclose(out, noisy, atol=2e-5 * np.abs(noisy).max() + 1e-6)


@pytest.mark.parametrize("mode", ["gate", "nonstationary"])
def test_aligned_gate_any_blocks_same_output(mode):
    _, noisy, _ = tone_in_noise(seed=2, seconds=1.0)
    cfg = load_config(overrides=[f'gate.mode="{mode}"', "gate.n_fft=512", "gate.hop_length=128"]).gate
    whole = AlignedGate(build_gate(cfg, SR, 1))
    a = np.concatenate([whole.process(noisy[:, None]), whole.flush()])
    parts = AlignedGate(build_gate(cfg, SR, 1))
    sizes = [1, 0, 127, 128, 1000, 5, 3000]
    outs, i, k = [], 0, 0
    while i < noisy.size:
        n = sizes[k % len(sizes)]
        outs.append(parts.process(noisy[i : i + n, None]))
        i, k = i + n, k + 1
    b = np.concatenate(outs + [parts.flush()])
    assert a.shape == b.shape == (noisy.size, 1)
    np.testing.assert_allclose(a, b, atol=1e-6)


class Source:
    live = False
    description = "test signal"

    def __init__(self, x, block=1000):
        self.x, self.sample_rate, self.channels, self.block = x, SR, 1, block

    def open(self):
        pass

    def blocks(self):
        for i in range(0, len(self.x), self.block):
            yield i, self.x[i : i + self.block, None]

    def close(self):
        pass


def run_engine(x, overrides):
    cfg = load_config(overrides=["stft.n_fft=1024", "stft.hop_length=256", 'analysis.features=["rms"]', *overrides])
    items, audio = [], []
    eng = Engine(cfg, source=Source(x))
    eng.subscribe(items.append)
    eng.open()
    eng.add_audio_sink(lambda b: audio.append(np.array(b)))
    eng.run()
    frames = [f for f in items if hasattr(f, "features")]
    rms = np.concatenate([f["rms"] for f in frames])[:, 0]
    times = np.concatenate([f.time_s for f in frames])
    events = [e for e in items if getattr(e, "kind", "").startswith("gate_")]
    return rms, times, events, (np.concatenate(audio) if audio else None)


def test_features_see_the_gated_signal_on_the_input_timeline():
    clean, noisy, _ = tone_in_noise(seed=3)  # noise alone until 1.0 s, the tone 1.0-2.2 s
    gate = ['gate.mode="stationary"', "gate.learn_s=0.6", "gate.n_fft=1024", "gate.hop_length=256"]
    raw_rms, raw_t, _, _ = run_engine(noisy, [])
    g_rms, g_t, _, audio = run_engine(noisy, gate)
    np.testing.assert_array_equal(g_t, raw_t)  # same frames, same times
    assert audio.shape == (noisy.size, 1)
    quiet = (raw_t > 0.7) & (raw_t < 0.95)  # noise only, after the profile was learned
    loud = (raw_t > 1.3) & (raw_t < 2.0)
    assert np.median(g_rms[quiet]) < 0.3 * np.median(raw_rms[quiet])
    assert np.median(g_rms[loud]) > 0.5 * np.median(raw_rms[loud])
    # The gated audio is on the input's timeline: the tone in phase with the clean one, and
    # closer to it than the input was.
    seg = slice(int(1.3 * SR), int(2.0 * SR))
    assert np.corrcoef(audio[seg, 0], clean[seg])[0, 1] > 0.95
    assert snr_db(clean[seg], audio[seg, 0]) > snr_db(clean[seg], noisy[seg]) + 3
    # analyze = "raw": the features see the input, the sinks still get the gated audio.
    r_rms, _, _, audio2 = run_engine(noisy, gate + ['gate.analyze="raw"'])
    np.testing.assert_allclose(r_rms, raw_rms, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(audio2, audio, atol=1e-7)


def test_time_gate_events_are_published_at_the_attack():
    t = np.arange(2 * SR) / SR
    x = (0.5 * np.sin(2 * np.pi * 300 * t) * ((t > 0.5) & (t < 1.5))).astype(np.float32)
    x += (1e-4 * np.random.default_rng(4).standard_normal(x.size)).astype(np.float32)
    _, _, events, _ = run_engine(x, ['gate.mode="gate"'])
    kinds = [e.kind for e in events]
    assert kinds == ["gate_open", "gate_close"]
    assert abs(events[0].time_s - 0.5) < 0.002 and 1.5 < events[1].time_s < 1.5 + 0.2
    assert events[0].value == 1.0 and events[1].value == 0.0 and events[0].info["channel"] == 0


def test_bad_gate_configuration(tmp_path):
    with pytest.raises(ConfigError, match="gate.mode"):
        load_config(overrides=['gate.mode="loud"'])
    with pytest.raises(ConfigError, match="noise profile"):
        main_args = ["denoise", str(tmp_path / "x.wav"), str(tmp_path / "y.wav"), "--mode", "stationary"]
        from fluxstream.cli import cmd_denoise, build_parser

        cmd_denoise(build_parser().parse_args(main_args))
    p = tmp_path / "p.npz"
    from fluxstream.dsp.spectral_gate import NoiseProfile

    NoiseProfile.learn(np.random.default_rng(0).standard_normal(SR).astype(np.float32), SR, n_fft=512,
                       hop_length=128).save(p)
    cfg = load_config(overrides=['gate.mode="stationary"', f'gate.profile="{p}"']).gate  # n_fft 2048
    with pytest.raises(ConfigError, match="n_fft"):
        build_gate(cfg, SR, 1)
    cfg = load_config(overrides=['gate.mode="stationary"', f'gate.profile="{p}"', "gate.n_fft=512",
                                 "gate.hop_length=128"]).gate
    with pytest.raises(ConfigError, match="sample"):
        build_gate(cfg, 48000, 1)
    assert main(["denoise", str(tmp_path / "missing.wav"), str(tmp_path / "o.wav")]) == 1


def test_listen_demo_with_the_gate_records_the_gated_audio(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "gated.wav"
    r = subprocess.run([sys.executable, "-m", "fluxstream", "listen", "--demo", "--duration", "1.0",
                        "--denoise", "nonstationary", "--set", f'gate.record="{out}"'],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    y, sr = sf.read(out, dtype="float32")
    assert sr == 48000 and abs(len(y) - sr) <= 2048 and np.isfinite(y).all() and np.abs(y).max() > 0.01

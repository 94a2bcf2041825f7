"""The command line's publishing flags end to end, with real peers: ``analyze --osc`` read by
liblo's ``oscdump``, ``listen --demo --osc --control`` steered by liblo's ``oscsend``."""

import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from fluxstream.cli import main
from tests.conftest import real_part_missing
from tests.plugins.test_osc import Peer, free_port, oscdump, parse_oscdump

SR = 16000


@pytest.fixture
def wav(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(SR * 2) / SR
    x = 0.3 * np.sin(2 * np.pi * 440 * t) * (t >= 0.5)  # a note starting at 0.5 s
    x += 1e-3 * rng.standard_normal(t.size)
    p = tmp_path / "note.wav"
    sf.write(p, x.astype(np.float32), SR, subtype="FLOAT")
    return p


def test_analyze_sends_every_frame_and_the_onset_to_oscdump(wav):
    with oscdump() as (peer, port):
        code = main(["analyze", str(wav), "--features", "rms,pitch,onset", "--osc", f"127.0.0.1:{port}",
                     "--set", "stft.n_fft=1024", "--set", "stft.hop_length=256", "--no-progress"])
        assert code == 0
        n_frames = 1 + 2 * SR // 256
        rms = [parse_oscdump(ln) for ln in peer.wait_for(lambda ln: " /fluxstream/in/rms " in ln, n_frames)]
        pitch = [parse_oscdump(ln) for ln in peer.wait_for(lambda ln: " /fluxstream/in/pitch " in ln, n_frames)]
        onset = [parse_oscdump(ln) for ln in peer.wait_for(lambda ln: " /fluxstream/in/onset " in ln, 1)]
    assert len(rms) == len(pitch) == n_frames
    assert all(tags == "f" for _, _, tags, _ in rms) and all(tags == "ffff" for _, _, tags, _ in pitch)
    # One bundle per frame, timetagged a hop apart on the capture clock (NTP: 2**-32 s units).
    stamps = np.array([tt for tt, *_ in rms], dtype=np.float64) / 2**32
    np.testing.assert_allclose(np.diff(stamps), 256 / SR, atol=1e-6)
    voiced = [v for _, _, _, v in pitch if v[3] == 1.0]
    assert voiced and abs(np.median([v[0] for v in voiced]) - 440.0) < 1.0
    assert abs(np.median([v[2] for v in voiced]) - 69.0) < 0.01  # MIDI note
    (_, _, tags, (t_onset, strength, band)), = onset
    assert tags == "ffi" and abs(t_onset - 0.5) <= 2 * 256 / SR and strength > 0 and band == 0


def test_listen_is_steered_by_oscsend(tmp_path):
    if shutil.which("oscsend") is None:
        real_part_missing("oscsend not found (apt-get install liblo-tools)")
    control = free_port()
    with oscdump() as (peer, port):
        proc = Peer([sys.executable, "-m", "fluxstream", "listen", "--demo", "--duration", "20",
                     "--features", "rms", "--osc", f"127.0.0.1:{port}", "--control", str(control)])
        try:
            peer.wait_for(lambda ln: " /fluxstream/in/rms " in ln, 3, timeout=20)

            def send(*args):
                subprocess.run(["oscsend", "localhost", str(control), *args], check=True, timeout=5)

            # reset: the analysis thread resets between blocks and publishes a reset event.
            deadline = time.monotonic() + 10
            while not [ln for ln in peer.lines if " /fluxstream/in/reset " in ln]:
                send("/fluxstream/reset")
                try:
                    peer.wait_for(lambda ln: " /fluxstream/in/reset " in ln, timeout=0.5)
                except AssertionError:
                    assert time.monotonic() < deadline, "no reset event"
            # pause stops publishing; resume starts it again.
            send("/fluxstream/pause")
            time.sleep(0.3)  # let frames already queued drain before counting
            n = len([ln for ln in peer.lines if " /fluxstream/in/rms " in ln])
            time.sleep(0.5)
            assert len([ln for ln in peer.lines if " /fluxstream/in/rms " in ln]) == n
            send("/fluxstream/resume")
            peer.wait_for(lambda ln: " /fluxstream/in/rms " in ln, n + 3, timeout=10)
            # A bad message is answered and counted, and listen keeps going.
            send("/fluxstream/onset/threshold", "f", "1")  # no onset feature: not available
            peer.wait_for(lambda ln: " /fluxstream/in/rms " in ln, n + 10, timeout=10)
            assert proc.proc.poll() is None
        finally:
            proc.proc.send_signal(2)
            try:
                proc.proc.wait(10)
            finally:
                proc.stop()
    out = "\n".join(proc.lines)
    assert proc.proc.returncode == 0, out
    assert "stats:" in out and "osc: packets" in out


def test_noise_learning_and_gate_threshold_on_command():
    # /noise/learn reaches the spectral gate through the analysis thread; /gate/threshold
    # without a time-domain gate is answered "not available" and counted, never a crash.
    from fluxstream.config import load_config
    from fluxstream.outputs import Outputs
    from fluxstream.stream.demo import DemoSource
    from fluxstream.stream.engine import Engine

    cfg = load_config(overrides=['gate.mode="stationary"', 'analysis.features=["rms"]'])
    eng = Engine(cfg, source=DemoSource(realtime=False))
    eng.open()
    assert eng._gate.stage.profile is None  # no clip, no learn_s: nothing learned yet
    port = free_port()
    outs = Outputs(cfg, control_port=port).start(eng)
    try:
        if shutil.which("oscsend") is None:
            real_part_missing("oscsend not found (apt-get install liblo-tools)")
        subprocess.run(["oscsend", "localhost", str(port), "/fluxstream/noise/learn", "f", "0.5"], check=True)
        subprocess.run(["oscsend", "localhost", str(port), "/fluxstream/gate/threshold", "f", "-30"], check=True)
        deadline = time.monotonic() + 5
        while eng._learn_request is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the server thread hands the request over
        assert eng._learn_request == 0.5
        for pos, block in eng.source.blocks():
            eng.process_block(pos, block)
            if pos > 48000:
                break
        assert eng._learn_request is None and eng._gate.stage.profile is not None  # learned (was None)
        st = outs._control.stats
        assert st.unavailable >= 1  # /gate/threshold: not available
    finally:
        outs.stop()
        eng.stop()

"""Noise gate round trip through REAL devices: JACK2 dummy input -> gate -> JACK output.

A player client feeds tone bursts separated by quiet noise; ``fluxstream listen
--denoise ... --monitor`` gates them and plays the result on an output device that is a
second JACK client (a recorder with input ports: PortAudio lists it as an output device
named after the client); the recorder keeps every sample it hears. The recording is then
checked against what the gate is configured to do: bursts through at unit gain (a 1 kHz
sine at the input's level), the noise between them removed.

The rules of ``tests/realparts.py`` apply: the server and both clients run before the
fluxstream subprocess imports sounddevice, and the subprocess ends before they stop.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pytest

from tests import realparts

pytestmark = pytest.mark.realparts

SR = 48000
PLAYER, RECORDER = "fxgatein", "fxgaterec"
TONE_HZ, TONE_AMP = 1000.0, 0.5
NOISE_DBFS = -50.0
PERIOD = SR // 2  # one burst (first half) and one gap (second half) per period, looped
TIMEOUT = 60.0

RECORDER_SCRIPT = r'''
import signal, sys, threading
import jack, numpy as np
path, name = sys.argv[1], sys.argv[2]
chunks, done = [], threading.Event()
client = jack.Client(name, use_exact_name=True, no_start_server=True)
port = None
def process(frames):
    # Only copying here: the JACK thread must not wait on anything.
    if port is not None and port.number_of_connections:
        chunks.append(port.get_array().copy())
client.set_process_callback(process)
signal.signal(signal.SIGTERM, lambda *a: done.set())
client.activate()
port = client.inports.register("in_1")
done.wait()
client.deactivate()
client.close()
np.save(path, np.concatenate(chunks) if chunks else np.zeros(0, np.float32))
'''


def _bursts() -> np.ndarray:
    """Half a second of white noise at -50 dBFS RMS throughout, with a 1 kHz sine over its
    first 0.25 s (whole periods of the tone, so the loop has no click of its own)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(PERIOD) * 10 ** (NOISE_DBFS / 20)
    half = PERIOD // 2
    x[:half] += TONE_AMP * np.sin(2 * np.pi * TONE_HZ * np.arange(half) / SR)
    return x.astype(np.float32)


@contextlib.contextmanager
def _recorder(server: realparts.JackServer, path: str):
    """A JACK client with one input port that records what reaches it into ``path`` (.npy)."""
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([sys.executable, "-c", RECORDER_SCRIPT, path, RECORDER], env=server.env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            realparts._wait_ready(lambda: f"{RECORDER}:in_1" in server.ports(), proc, log,
                                  f"recorder {RECORDER!r}", 10.0)
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.seek(0)
            assert proc.returncode == 0, f"recorder failed:\n{log.read()}"


def _listen(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fluxstream", "listen", "--device", PLAYER, "--monitor",
                           "--set", f"gate.output_device={RECORDER}", "--duration", "2", *args],
                          env=env, cwd=realparts.REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


def _round_trip(tmp_path, *args: str) -> tuple[np.ndarray, str]:
    """Run the gate live between the two JACK clients; the recording (from its first
    non-silent sample) and the CLI's stderr."""
    for attempt in (1, 2):
        path = str(tmp_path / f"rec{attempt}.npy")
        with realparts.jack_server(sample_rate=SR) as server, \
                realparts.jack_player(server, _bursts(), SR, PLAYER), _recorder(server, path):
            r = _listen(server.env, *args)
        assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
        if "device overflows 0" in r.stderr or attempt == 2:
            break
        warnings.warn("gate round trip: a JACK xrun (loaded machine); ran it again once")
    assert "device overflows 0" in r.stderr, r.stderr
    rec = np.load(path)
    nz = np.flatnonzero(np.abs(rec) > 1e-3)
    assert nz.size, f"nothing reached the output device; stderr:\n{r.stderr}"
    return rec[nz[0]:], r.stderr


def _chunk_levels(x: np.ndarray, n: int = 480) -> np.ndarray:
    """RMS level of consecutive 10 ms chunks [dBFS]."""
    m = len(x) // n
    rms = np.sqrt(np.mean(x[: m * n].reshape(m, n).astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-12))


def test_time_gate_round_trip(jack_parts, tmp_path):
    # Open at -30 dBFS (the tone is at -9, the noise at -50), 60 dB of range, 1 ms attack.
    rec, err = _round_trip(tmp_path, "--denoise", "gate", "--set", "gate.open_db=-30",
                           "--set", "gate.close_db=-36", "--set", "gate.range_db=-60",
                           "--set", "gate.attack_ms=1", "--set", "gate.release_ms=5", "--set", "gate.hold_ms=0")
    assert "monitor: underruns" in err, err
    rec = rec[: 3 * SR // 2]  # the steady part: whole bursts before the end of the run
    assert len(rec) >= SR, f"only {len(rec)} samples reached the recorder; stderr:\n{err}"
    levels = _chunk_levels(rec)
    tone_db = 20 * np.log10(TONE_AMP / np.sqrt(2))
    burst = np.abs(levels - tone_db) < 0.5
    gated = levels < NOISE_DBFS - 40  # the noise, 60 dB down (well below the input's -50)
    # Every chunk is either burst at the input's level or gated noise, except the few that
    # hold a gate ramp (a burst edge): four per second at most, one or two chunks each.
    assert burst.mean() == pytest.approx(0.5, abs=0.08), levels.round(1)
    assert gated.mean() == pytest.approx(0.5, abs=0.08), levels.round(1)
    assert (~burst & ~gated).sum() <= 2 * 4 * len(rec) / SR + 2, levels.round(1)
    # Inside a burst the gate's gain is 1: the player's samples (to float32 round-off), at
    # some offset into its loop (the offset of least squared difference over one period).
    i = np.flatnonzero(burst)[len(np.flatnonzero(burst)) // 2] * 480
    seg = rec[i : i + 480].astype(np.float64)
    loop = np.tile(_bursts(), 2).astype(np.float64)
    energy = np.convolve(loop**2, np.ones(480), mode="valid")[:PERIOD]
    k = int(np.argmin(energy - 2 * np.correlate(loop, seg, mode="valid")[:PERIOD]))
    np.testing.assert_allclose(rec[i : i + 480], loop[k : k + 480], rtol=0, atol=1e-6)


def test_spectral_gate_round_trip(jack_parts, tmp_path):
    # Non-stationary spectral gate, no noise clip: the -50 dBFS noise between the bursts is
    # tracked as the floor and pulled down, the bursts pass at their level.
    rec, _ = _round_trip(tmp_path, "--denoise", "nonstationary")
    levels = _chunk_levels(rec[SR // 4 :])  # after the tracker's first quarter second
    tone_db = 20 * np.log10(TONE_AMP / np.sqrt(2))
    burst = np.abs(levels - tone_db) < 1.0
    gaps = levels < tone_db - 30
    # About half of the chunks each (the run ends wherever it ends in the loop).
    assert burst.mean() > 0.3 and gaps.mean() > 0.3, levels.round(1)
    # The bursts pass at their level (above); in the gaps the noise is at least 10 dB down.
    assert np.median(levels[gaps]) < NOISE_DBFS - 10, levels.round(1)

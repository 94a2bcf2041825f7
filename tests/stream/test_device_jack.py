"""DeviceSource, Engine and the CLI against a REAL PortAudio device: a private JACK2 dummy
server with player clients (see ``tests/realparts.py`` for the rules these tests follow).

One server runs for the whole module, with two players:

* ``fxplayer``  - 1 port, a 1 kHz sine, amplitude 0.5;
* ``fxplayer2`` - 2 ports, 500 Hz (amplitude 0.4) on port 1 and 2 kHz (amplitude 0.2) on
  port 2.

The two names also exercise device matching: ``"fxplayer"`` is both an exact name and a
substring of ``"fxplayer2"`` (the exact name must win).

The fluxstream side always runs in a fresh subprocess started after jackd and the players
(PortAudio reads the JACK graph at ``import sounddevice``); each one closes its streams
and calls ``terminate_portaudio()`` before it exits, and exits before the server stops.
This test process never imports ``sounddevice``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
import warnings

import numpy as np
import pytest

from tests import realparts

pytestmark = pytest.mark.realparts

SR = 48000
MONO_NAME = "fxplayer"
STEREO_NAME = "fxplayer2"
MONO_FREQ, MONO_AMP = 1000.0, 0.5
STEREO_FREQS, STEREO_AMPS = (500.0, 2000.0), (0.4, 0.2)
TIMEOUT = 60.0  # [s] per subprocess: generous, a hang must not stall the suite forever


# --- gating and the shared server ------------------------------------------------------


def _tone(freq_hz: float, amp: float) -> np.ndarray:
    # One second: a whole number of periods for every frequency used, so the loop is
    # seamless (no click at the wrap-around).
    t = np.arange(SR) / SR
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


@pytest.fixture(scope="module")
def jack(jack_parts):
    """A private JACK dummy server at 48 kHz with both players; yields the server."""
    stereo = np.stack([_tone(f, a) for f, a in zip(STEREO_FREQS, STEREO_AMPS)], axis=1)
    with realparts.jack_server(sample_rate=SR) as server, \
            realparts.jack_player(server, _tone(MONO_FREQ, MONO_AMP), SR, MONO_NAME), \
            realparts.jack_player(server, stereo, SR, STEREO_NAME):
        yield server


@pytest.fixture(scope="module")
def no_jack_env(jack_parts):
    """An environment whose JACK server does not exist (and must not be autostarted)."""
    return dict(os.environ, JACK_DEFAULT_SERVER=f"fxnone_{os.getpid()}_{uuid.uuid4().hex[:8]}",
                JACK_NO_START_SERVER="1")


# --- running the fluxstream side in a subprocess ---------------------------------------

# Prepended to every snippet. `find_jack_input` (SD_HELPERS) gives the index of a device
# by exact name on the JACK host API: the reference the fluxstream lookup is checked
# against.
PRELUDE = realparts.SD_HELPERS + r'''
import json
import numpy as np
from fluxstream.config import load_config
from fluxstream.errors import ConfigError, DeviceError
from fluxstream.results import Frames
from fluxstream.stream.device import DeviceSource, list_input_devices, terminate_portaudio
from fluxstream.stream.engine import Engine

JACK_HOSTAPI = %r

def run_engine(cfg, source=None, duration_s=1.0):
    """Run an Engine for duration_s of audio; everything the test checks, as a dict."""
    eng = Engine(cfg, source=source)
    frames, events = [], []
    eng.subscribe(lambda item: (frames if isinstance(item, Frames) else events).append(item))
    stats = eng.run(duration_s=duration_s)
    src = eng.source
    out = {
        "stats": stats.as_dict(), "info": src.info, "sample_rate": src.sample_rate,
        "channels": src.channels, "n_fft": cfg.stft.n_fft, "hop": cfg.stft.hop_length,
        "latency": max(eng.graph.latency_samples(n) for n in eng.feature_names),
        "events": [e.kind for e in events],
        "jack_index": find_jack_input(src.info["name"]),
    }
    out["index"] = np.concatenate([f.index for f in frames]).tolist() if frames else []
    out["time_s"] = np.concatenate([f.time_s for f in frames]).tolist() if frames else []
    for name in eng.feature_names:
        a = np.concatenate([f[name] for f in frames]) if frames else np.zeros(0)
        out[name] = a.tolist()
        out[name + "_shape"] = list(a.shape)
    return out

def try_open(**kw):
    """Open and close a DeviceSource; what happened, as a dict."""
    src = DeviceSource(**kw)
    try:
        src.open()
    except (DeviceError, ConfigError) as e:
        return {"ok": False, "type": type(e).__name__, "msg": str(e)}
    try:
        return {"ok": True, "info": src.info, "rate": src.sample_rate, "channels": src.channels}
    finally:
        src.close()

def emit(obj):
    print("RESULT " + json.dumps(obj), flush=True)
''' % realparts.JACK_HOSTAPI


def _overflows(obj) -> int:
    """device_overflows summed over every run (a dict with "stats") in an emitted result."""
    if isinstance(obj, dict):
        if "stats" in obj:
            return int(obj["stats"]["device_overflows"])
        return sum(_overflows(v) for v in obj.values())
    return 0


def _retry_note(what: str, overflows: int) -> None:
    warnings.warn(f"{what}: PortAudio reported {overflows} input overflow(s) (a JACK xrun: "
                  "the machine was too busy for the dummy server's clock); ran it again once")


def run_py(body: str, env: dict) -> dict:
    """Run PRELUDE + body in a fresh interpreter; return what it emit()ted.

    ``body`` must call ``terminate_portaudio()`` after its last stream is closed (in a
    ``finally``), as the JACK rules require.

    Under JACK every server xrun reaches every PortAudio stream as an input overflow, and
    on a loaded machine the dummy server can miss a period. Such a run is repeated once;
    the tests then still require ``device_overflows == 0`` of the repeat.
    """
    for attempt in (1, 2):
        r = realparts.run_in_subprocess(PRELUDE + body, env, timeout=TIMEOUT)
        assert r.returncode == 0, (f"subprocess exited with {r.returncode}\n--- stdout:\n"
                                   f"{r.stdout[-3000:]}\n--- stderr:\n{r.stderr[-5000:]}")
        got = [line[len("RESULT "):] for line in r.stdout.splitlines() if line.startswith("RESULT ")]
        assert len(got) == 1, (f"expected one RESULT line\n--- stdout:\n{r.stdout[-3000:]}"
                               f"\n--- stderr:\n{r.stderr[-3000:]}")
        res = json.loads(got[0])
        if attempt == 1 and _overflows(res):
            _retry_note("fluxstream subprocess", _overflows(res))
            continue
        return res


def run_cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    """``python -m fluxstream ARGS`` from the repository root (stdout is a pipe, not a tty)."""
    return subprocess.run([sys.executable, "-m", "fluxstream", *args], env=env,
                          cwd=realparts.REPO_ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def steady(res: dict) -> np.ndarray:
    """Mask of the frames whose whole window lies inside the recorded audio.

    A frame's time is the centre of its window (``n_fft`` samples, centred framing); it
    also needs ``latency`` samples after that time. Frames whose window reaches before the
    stream start (zero padding) are not steady-state (a live stream has no padded tail).
    """
    centre = np.rint(np.asarray(res["time_s"]) * res["sample_rate"])
    return (centre - res["n_fft"] // 2 >= 0) & (centre + res["latency"] <= res["stats"]["samples"])


def check_clean_run(res: dict, duration_s: float) -> None:
    """Counters of an uninterrupted run: no loss anywhere, frames consistent with samples."""
    st = res["stats"]
    assert st["samples"] == round(duration_s * res["sample_rate"]), st
    assert st["overrun_samples"] == 0, st
    assert st["gaps"] == 0, st
    assert "gap" not in res["events"], res["events"]
    assert st["device_overflows"] == 0, st
    assert st["nonfinite_samples"] == 0, st
    assert st["subscriber_errors"] == 0, st
    # A live stream cut by duration has no end of signal, so no zero-padded tail: every
    # frame whose window ends within the analysed samples (centred: the window reaches
    # `latency` samples past the frame's time), all delivered, in order.
    assert st["frames"] == 1 + (st["samples"] - res["latency"]) // res["hop"], st
    assert res["index"] == list(range(st["frames"]))
    np.testing.assert_allclose(np.diff(res["time_s"]), res["hop"] / res["sample_rate"], rtol=1e-9)
    assert steady(res).sum() >= st["frames"] - 2 * (res["n_fft"] // res["hop"]) - 2


# --- 1. DeviceSource + Engine end to end -----------------------------------------------


@pytest.fixture(scope="module")
def mono_run(jack):
    return run_py(f'''
try:
    cfg = load_config(overrides=['analysis.features=["rms", "centroid"]'])
    src = DeviceSource(device={MONO_NAME!r}, sample_rate={SR}, block=512)
    emit(run_engine(cfg, source=src, duration_s=1.0))
finally:
    terminate_portaudio()
''', jack.env)


def test_engine_device_end_to_end_sine(mono_run):
    res = mono_run
    assert res["info"]["name"] == MONO_NAME
    assert res["info"]["hostapi"] == realparts.JACK_HOSTAPI
    assert res["info"]["index"] == res["jack_index"]
    assert res["sample_rate"] == SR and res["channels"] == 1
    check_clean_run(res, 1.0)
    keep = steady(res)
    centroid = np.asarray(res["centroid"])[:, 0][keep]
    rms = np.asarray(res["rms"])[:, 0][keep]
    assert np.median(centroid) == pytest.approx(MONO_FREQ, rel=0.01)
    assert np.median(rms) == pytest.approx(MONO_AMP / np.sqrt(2), rel=0.02)
    # Not only the median: the signal is steady, so every steady frame agrees.
    assert np.all(np.abs(centroid / MONO_FREQ - 1) < 0.02), centroid
    assert np.all(np.abs(rms / (MONO_AMP / np.sqrt(2)) - 1) < 0.02), rms


# --- 2./3. device selection and listing -------------------------------------------------


@pytest.fixture(scope="module")
def selection(jack):
    """Every selection case, in one subprocess (one PortAudio start-up)."""
    return run_py(f'''
try:
    inputs = list_input_devices()
    jack_inputs = [d for d in inputs if d["hostapi"] == JACK_HOSTAPI]
    idx = next(d["index"] for d in jack_inputs if d["name"] == {MONO_NAME!r})
    bad_index = 1 + max(d["index"] for d in inputs)
    emit({{
        "inputs": inputs,
        "ref": {{n: find_jack_input(n) for n in ({MONO_NAME!r}, {STEREO_NAME!r})}},
        "bad_index": bad_index,
        "exact": try_open(device={MONO_NAME!r}, sample_rate={SR}),
        "exact_upper": try_open(device={MONO_NAME.upper()!r}),
        "substring": try_open(device="PLAYER2", channels=2),
        "index": try_open(device=idx, sample_rate={SR}),
        "ambiguous": try_open(device="player"),
        "no_name": try_open(device="nosuchdevice"),
        "no_index": try_open(device=bad_index),
        "bad_rate": try_open(device={MONO_NAME!r}, sample_rate=44100),
        "bad_channels": try_open(device={MONO_NAME!r}, channels=8),
        "bad_select": try_open(device={STEREO_NAME!r}, channels=2, select=[2]),
    }})
finally:
    terminate_portaudio()
''', jack.env)


def _opened(case: dict, name: str) -> None:
    assert case["ok"], case
    assert case["info"]["name"] == name
    assert case["info"]["hostapi"] == realparts.JACK_HOSTAPI


def _one_line_error(case: dict, etype: str = "DeviceError") -> str:
    assert not case["ok"], case
    assert case["type"] == etype, case
    msg = case["msg"]
    assert "\n" not in msg and "\r" not in msg, repr(msg)
    assert msg.strip() == msg and msg
    return msg


def test_list_input_devices(selection):
    by_name = {d["name"]: d for d in selection["inputs"] if d["hostapi"] == realparts.JACK_HOSTAPI}
    for name, channels in ((MONO_NAME, 1), (STEREO_NAME, 2)):
        assert name in by_name, selection["inputs"]
        d = by_name[name]
        assert d["channels"] == channels
        assert d["default_rate"] == SR
        assert d["index"] == selection["ref"][name]
        assert isinstance(d["default"], bool)
    # Exactly one default input.
    assert sum(d["default"] for d in selection["inputs"]) == 1, selection["inputs"]


def test_select_by_exact_name(selection):
    # "fxplayer" is also a substring of "fxplayer2": the exact name wins.
    _opened(selection["exact"], MONO_NAME)
    assert selection["exact"]["info"]["index"] == selection["ref"][MONO_NAME]
    assert selection["exact"]["rate"] == SR and selection["exact"]["channels"] == 1
    # Exact, case-insensitively.
    _opened(selection["exact_upper"], MONO_NAME)
    # sample_rate=0 (the default) means the device's own rate.
    assert selection["exact_upper"]["rate"] == SR


def test_select_by_case_insensitive_substring(selection):
    _opened(selection["substring"], STEREO_NAME)
    assert selection["substring"]["info"]["index"] == selection["ref"][STEREO_NAME]
    assert selection["substring"]["channels"] == 1  # 2 opened, mixed down (mono=True)


def test_select_by_index(selection):
    _opened(selection["index"], MONO_NAME)
    assert selection["index"]["info"]["index"] == selection["ref"][MONO_NAME]


def test_ambiguous_substring_is_an_error(selection):
    msg = _one_line_error(selection["ambiguous"])
    assert "'player'" in msg and "several" in msg
    assert f"{selection['ref'][MONO_NAME]}: {MONO_NAME}" in msg
    assert f"{selection['ref'][STEREO_NAME]}: {STEREO_NAME}" in msg


def test_unknown_name_error_lists_inputs(selection):
    msg = _one_line_error(selection["no_name"])
    assert "'nosuchdevice'" in msg
    assert f"{selection['ref'][MONO_NAME]}: {MONO_NAME}" in msg
    assert f"{selection['ref'][STEREO_NAME]}: {STEREO_NAME}" in msg


def test_unknown_index_error_lists_inputs(selection):
    msg = _one_line_error(selection["no_index"])
    assert f"input.device={selection['bad_index']}" in msg
    assert "index" in msg
    assert f"{selection['ref'][MONO_NAME]}: {MONO_NAME}" in msg


def test_unsupported_rate_error(selection):
    msg = _one_line_error(selection["bad_rate"])
    assert "44100 Hz" in msg and MONO_NAME in msg
    assert "48000 Hz" in msg  # what the device does support


def test_unsupported_channels_error(selection):
    msg = _one_line_error(selection["bad_channels"])
    assert "8 channel(s)" in msg and MONO_NAME in msg
    assert "1 input channel(s)" in msg  # what the device has


def test_select_out_of_range_error(selection):
    msg = _one_line_error(selection["bad_select"], "ConfigError")
    assert "input.select=[2]" in msg and "2 channel(s)" in msg


# --- 5. channel selection ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stereo_runs(jack):
    """Two 0.5 s runs on the 2-port player, the source built from the config."""
    base = [f'input.device="{STEREO_NAME}"', f"input.sample_rate={SR}", "input.channels=2",
            "input.mono=false", 'analysis.features=["rms", "centroid"]']
    return run_py(f'''
try:
    emit({{
        "both": run_engine(load_config(overrides={base!r}), duration_s=0.5),
        "second": run_engine(load_config(overrides={base + ["input.select=[1]"]!r}), duration_s=0.5),
    }})
finally:
    terminate_portaudio()
''', jack.env)


def test_two_channels_unmixed(stereo_runs):
    res = stereo_runs["both"]
    assert res["info"]["name"] == STEREO_NAME and res["info"]["index"] == res["jack_index"]
    assert res["channels"] == 2
    check_clean_run(res, 0.5)
    n = res["stats"]["frames"]
    assert res["centroid_shape"] == [n, 2, 1] and res["rms_shape"] == [n, 2, 1]
    keep = steady(res)
    centroid = np.asarray(res["centroid"])[keep, :, 0]
    rms = np.asarray(res["rms"])[keep, :, 0]
    for ch, (f, a) in enumerate(zip(STEREO_FREQS, STEREO_AMPS)):
        assert np.median(centroid[:, ch]) == pytest.approx(f, rel=0.01), (ch, centroid[:, ch])
        assert np.median(rms[:, ch]) == pytest.approx(a / np.sqrt(2), rel=0.02), (ch, rms[:, ch])


def test_select_second_channel(stereo_runs):
    res = stereo_runs["second"]
    assert res["info"]["name"] == STEREO_NAME
    assert res["channels"] == 1
    check_clean_run(res, 0.5)
    n = res["stats"]["frames"]
    assert res["centroid_shape"] == [n, 1] and res["rms_shape"] == [n, 1]
    keep = steady(res)
    centroid = np.asarray(res["centroid"])[keep, 0]
    rms = np.asarray(res["rms"])[keep, 0]
    assert np.median(centroid) == pytest.approx(STEREO_FREQS[1], rel=0.01), centroid
    assert np.median(rms) == pytest.approx(STEREO_AMPS[1] / np.sqrt(2), rel=0.02), rms


# --- 4. the command line ----------------------------------------------------------------

# A meter line: the time, then (once frames arrived) level and centroid.
METER = re.compile(r"^\s*(\d+\.\d) s(?: \| level\s+(-?\d+\.\d) dBFS \[[#.]+\] \| centroid\s+(\d+) Hz)?$")


def _meters(stdout: str) -> list[re.Match]:
    """Every stdout line as a meter line (asserted); the last one must show values."""
    meters = [METER.match(line) for line in stdout.splitlines()]
    assert meters and all(meters), stdout
    assert meters[-1].group(2) is not None, stdout
    return meters


def _stats_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("stats: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_cli_listen_device(jack):
    args = ["listen", "--device", MONO_NAME, "--duration", "1"]
    r = run_cli(args, jack.env)
    m = re.search(r"device overflows (\d+)", r.stderr)
    if r.returncode == 0 and m and int(m.group(1)):  # a JACK xrun: see run_py
        _retry_note("fluxstream " + " ".join(args), int(m.group(1)))
        r = run_cli(args, jack.env)
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    meters = _meters(r.stdout)
    # While listening (about 0.1 s in), the meter shows the player: 1 kHz at
    # 0.5/sqrt(2) = -9.0 dBFS. Not the last line: it shows the end-of-stream frame, whose
    # window is half zero padding.
    live = [m for m in meters[:-1] if m.group(2) is not None]
    assert live, r.stdout
    for m in live:
        assert abs(int(m.group(3)) - MONO_FREQ) <= 0.01 * MONO_FREQ, r.stdout
        assert abs(float(m.group(2)) - 20 * np.log10(MONO_AMP / np.sqrt(2))) <= 0.2, r.stdout
    assert float(meters[-1].group(1)) == pytest.approx(1.0, abs=0.05)
    assert re.search(rf"^listening to device \d+ \('{MONO_NAME}'\), 48000 Hz, 1 ch", r.stderr, re.M), r.stderr
    stats = _stats_line(r.stderr)
    assert stats.startswith("stats: 1.0 s of audio")
    assert "overruns 0 samples in 0 gaps, device overflows 0, non-finite samples 0" in stats
    assert "error" not in r.stderr.lower()


def test_cli_devices_lists_players(jack):
    r = run_cli(["devices"], jack.env)
    assert r.returncode == 0, r.stderr
    rows = {}
    for line in r.stdout.splitlines()[1:]:
        m = re.match(r"^[* ] +(\d+)  (\S+)\s+(.+?)\s+(\d+)\s+(\d+)$", line)
        assert m, line
        rows[m.group(2)] = (int(m.group(4)), int(m.group(5)), m.group(3))
    assert rows[MONO_NAME] == (1, SR, realparts.JACK_HOSTAPI), r.stdout
    assert rows[STEREO_NAME] == (2, SR, realparts.JACK_HOSTAPI), r.stdout
    assert r.stdout.count("*") == 1  # one default input, marked
    assert r.stderr == ""


@pytest.fixture(scope="module")
def no_devices(no_jack_env):
    """`fluxstream devices` with no JACK server; skips where another input exists."""
    r = run_cli(["devices"], no_jack_env)
    if r.returncode == 0 and "index" in r.stdout:
        pytest.skip("this machine has audio inputs besides JACK, so there is no "
                    f"'no device' case to test:\n{r.stdout}")
    return r


def test_cli_devices_without_server(no_devices):
    r = no_devices
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines() == [r.stdout.strip()]  # one line
    assert "no audio input devices" in r.stdout
    assert "demo signal" in r.stdout


def test_cli_listen_falls_back_to_demo_without_device(no_devices, no_jack_env):
    r = run_cli(["listen", "--duration", "0.5"], no_jack_env)
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    err = r.stderr.splitlines()
    assert any("no audio input device" in line and "using the built-in demo signal instead" in line
               for line in err), r.stderr
    assert any(line.startswith("listening to built-in demo signal") for line in err), r.stderr
    assert _stats_line(r.stderr).startswith("stats: 0.5 s of audio")
    _meters(r.stdout)


def test_cli_listen_explicit_device_is_an_error_without_device(no_devices, no_jack_env):
    r = run_cli(["listen", "--device", "nonexistent", "--duration", "0.5"], no_jack_env)
    assert r.returncode == 1, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("fluxstream: error: ")
    assert "no audio input device" in lines[0]
    assert "demo" not in lines[0]

"""TimeGate: sample-accurate timing, hysteresis, smooth gain, events, streaming = a naive
per-sample loop over any block partition."""

import functools
import math

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.dsp.gate import TimeGate, TimeGateParams, gain_slope_bound
from fluxstream.errors import ConfigError
from tests.helpers import block_sizes, split

SR = 48000


def naive_gate(x, sample_rate=SR, open_db=-40.0, close_db=-50.0, attack_ms=1.0, hold_ms=50.0,
               release_ms=100.0, range_db=-80.0, lookahead_ms=0.0, detector="peak", rms_window_ms=10.0,
               sidechain_hz=0.0, linked=True):
    """Per-sample loop reference, written from the documented behaviour.

    Returns (output, gain, events) for the whole signal ``x`` [shape=(n, C)]."""
    ms = lambda v: int(round(v * sample_rate / 1000))  # noqa: E731
    A, H, R, L = ms(attack_ms), ms(hold_ms), ms(release_ms), ms(lookahead_ms)
    x = np.asarray(x, np.float32)
    xs = np.where(np.isfinite(x), x, 0).astype(np.float32)
    n, C = xs.shape
    d = xs.astype(np.float64)
    if sidechain_hz:
        sos = scipy.signal.butter(2, sidechain_hz, "highpass", fs=sample_rate, output="sos")
        d = scipy.signal.sosfilt(sos, d, axis=0)
    if detector == "peak":
        level = d * d
    else:
        W = ms(rms_window_ms)
        level = np.stack([np.convolve(d[:, c] ** 2, np.ones(W))[:n] / W for c in range(C)], axis=1)
    if linked:
        level = level.max(axis=1, keepdims=True)
    op, cp, r = 10 ** (open_db / 10), 10 ** (close_db / 10), 10 ** (range_db / 20)
    D = level.shape[1]
    gain = np.zeros((n, D))
    events = []
    for c in range(D):
        state, run, p = False, 0, 0.0
        for i in range(n):
            lv = level[i, c]
            if lv > op:
                if not state:
                    events.append(("gate_open", c, i))
                state, run = True, 0
            elif lv < cp:
                run += 1
                if state and run >= H + 1:
                    state = False
                    events.append(("gate_close", c, i))
            else:
                run = 0
            if state:
                p = 1.0 if A == 0 else min(1.0, p + 1.0 / A)
            else:
                p = 0.0 if R == 0 else max(0.0, p - 1.0 / R)
            gain[i, c] = r + (1 - r) * 0.5 * (1 - math.cos(math.pi * p))
    if linked:
        gain = np.repeat(gain, C, axis=1)
        events = [(k, ch, i) for (k, _, i) in events for ch in range(C)]
    events.sort(key=lambda e: (e[2], e[1]))
    delayed = np.concatenate([np.zeros((L, C), np.float32), xs])[:n]
    return delayed * gain, gain, events


def bursts(n, channels, seed, levels_db=(-90, -80, -47, -30, -12)):
    """Segments of random level (some between the thresholds) per channel: sines (peak =
    the level) or, one time in four, Gaussian noise (RMS = the level)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, channels), np.float32)
    for c in range(channels):
        i = 0
        while i < n:
            m = min(int(rng.integers(30, 400)), n - i)
            lv = 10 ** (rng.choice(levels_db) / 20)
            if rng.random() < 0.25:
                x[i : i + m, c] = lv * rng.standard_normal(m)
            else:
                f = rng.uniform(300, 3000)
                x[i : i + m, c] = lv * np.sin(2 * np.pi * f * np.arange(m) / SR + rng.uniform(0, 6.3))
            i += m
    return x


def run_stream(gate, blocks):
    outs, gains, events = [], [], []
    for b in blocks:
        outs.append(gate.process(b))
        gains.append(gate.last_gain)
        events += gate.pop_events()
    outs.append(gate.flush())
    gains.append(gate.last_gain)
    events += gate.pop_events()
    return np.concatenate(outs), np.concatenate(gains), events


CONFIGS = [
    dict(attack_ms=0.5, hold_ms=2.0, release_ms=3.0),
    dict(attack_ms=0.0, hold_ms=0.0, release_ms=0.0, range_db=-20.0),
    dict(attack_ms=1.0, hold_ms=1.0, release_ms=2.0, detector="rms", rms_window_ms=1.0, lookahead_ms=0.7),
    dict(attack_ms=0.3, hold_ms=3.0, release_ms=1.0, sidechain_hz=2000.0, linked=False),
    dict(attack_ms=2.0, hold_ms=0.5, release_ms=0.2, detector="rms", rms_window_ms=0.5, linked=False,
         lookahead_ms=1.0, open_db=-30.0, close_db=-30.0),
]


@functools.lru_cache(maxsize=None)
def reference(i, n, channels):
    cfg = CONFIGS[i]
    x = bursts(n, channels, seed=i)
    L = TimeGate(SR, channels, **cfg).latency_samples
    full = np.concatenate([x, np.zeros((L, channels), np.float32)])  # flush() = L samples of silence
    return x, naive_gate(full, **cfg)


@given(sizes=block_sizes, i=st.integers(0, len(CONFIGS) - 1), channels=st.sampled_from([1, 2]))
def test_streaming_equals_naive_loop(sizes, i, channels):
    x, (ref, ref_gain, ref_events) = reference(i, 6000, channels)
    gate = TimeGate(SR, channels, **CONFIGS[i])
    out, gain, events = run_stream(gate, split(x, sizes))
    assert out.dtype == np.float32 and out.shape == ref.shape
    np.testing.assert_allclose(gain, ref_gain, rtol=0, atol=1e-6)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6)
    assert sorted(events, key=lambda e: (e[2], e[1])) == ref_events


def test_reset_gives_the_same_stream():
    x = bursts(4000, 2, seed=3)
    gate = TimeGate(SR, 2, attack_ms=0.5, hold_ms=2.0, release_ms=3.0, lookahead_ms=0.5)
    a = run_stream(gate, split(x, [333]))
    gate.reset()
    b = run_stream(gate, split(x, [1000, 7]))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[2] == b[2]


# -- timing at 48 kHz --------------------------------------------------------------------

@pytest.mark.parametrize("attack_ms, hold_ms, release_ms", [(1.0, 50.0, 100.0), (5.0, 20.0, 30.0),
                                                            (0.3, 7.5, 12.3)])
def test_attack_hold_release_within_one_sample(attack_ms, hold_ms, release_ms):
    n0, n1 = 4800, 9600  # a DC burst (peak level -6 dBFS) from n0 to n1
    x = np.zeros((n1 + 12000, 1), np.float32)
    x[n0:n1] = 0.5
    gate = TimeGate(SR, attack_ms=attack_ms, hold_ms=hold_ms, release_ms=release_ms, range_db=-80.0)
    gate.process(x)
    g = gate.last_gain[:, 0].astype(np.float64)
    floor = 10 ** (-80 / 20)
    events = gate.pop_events()
    assert [e[0] for e in events] == ["gate_open", "gate_close"]
    t_open, t_close = events[0][2], events[1][2]
    assert t_open == n0 and g[n0 - 1] == pytest.approx(floor)
    attack = np.flatnonzero(g >= 1.0 - 1e-7)[0] - t_open + 1  # samples from the event to 0 dB
    hold = t_close - n1  # samples the gate stayed open after the level fell
    release = np.flatnonzero((g <= floor + 1e-9) & (np.arange(len(g)) > t_close))[0] - t_close + 1
    assert abs(attack - attack_ms * SR / 1000) <= 1
    assert abs(hold - hold_ms * SR / 1000) <= 1
    assert abs(release - release_ms * SR / 1000) <= 1
    assert np.all(g[t_open + int(attack) - 1 : t_close] >= 1.0 - 1e-7)  # fully open in between


def test_lookahead_opens_before_the_audio_arrives():
    x = np.zeros((9600, 1), np.float32)
    x[4800:7200] = 0.5
    gate = TimeGate(SR, attack_ms=2.0, hold_ms=5.0, release_ms=5.0, lookahead_ms=2.0)
    y = np.concatenate([gate.process(x[:5000]), gate.process(x[5000:]), gate.flush()])
    L = gate.latency_samples
    assert L == 96 and y.shape == (9600 + L, 1)
    # The 2 ms attack is complete when the delayed burst reaches the output: it is untouched.
    np.testing.assert_array_equal(y[4800 + L : 7200 + L], x[4800:7200])
    assert gate.causal is True and gate.hop == 1


# -- hysteresis, events, linking ---------------------------------------------------------

def test_hysteresis_keeps_the_state_between_thresholds():
    seg = lambda db, n: np.full((n, 1), 10 ** (db / 20), np.float32)  # noqa: E731
    x = np.concatenate([seg(-45, 4800),   # between close (-50) and open (-40): stays closed
                        seg(-30, 480),    # above open: opens at 4800
                        seg(-45, 9600),   # between: stays open, far longer than the hold
                        seg(-60, 4800),   # below close: closes after the 50 ms hold
                        seg(-45, 4800)])  # between again: stays closed
    gate = TimeGate(SR, open_db=-40.0, close_db=-50.0, hold_ms=50.0)
    gate.process(x)
    assert gate.pop_events() == [("gate_open", 0, 4800), ("gate_close", 0, 4800 + 480 + 9600 + 2400)]
    assert gate.pop_events() == []


def test_level_at_close_threshold_restarts_hold():
    # Below close for 40 ms, back between the thresholds for one sample, below again: the hold
    # (50 ms) counts from the last sample at or above close_db.
    lv = lambda db: 10 ** (db / 20)  # noqa: E731
    x = np.full((20000, 1), lv(-60), np.float32)
    x[:100] = lv(-20)
    x[100 + 1920] = lv(-45)
    gate = TimeGate(SR, hold_ms=50.0)
    gate.process(x)
    assert gate.pop_events() == [("gate_open", 0, 0), ("gate_close", 0, 100 + 1920 + 1 + 2400)]


def test_linked_and_independent_channels():
    x = np.zeros((4800, 2), np.float32)
    x[1000:3000, 0] = 0.5  # only the left channel is loud
    linked = TimeGate(SR, channels=2, hold_ms=0.0, attack_ms=0.0, release_ms=0.0)
    y = linked.process(x)
    assert linked.pop_events() == [("gate_open", 0, 1000), ("gate_open", 1, 1000),
                                   ("gate_close", 0, 3000), ("gate_close", 1, 3000)]
    np.testing.assert_array_equal(linked.last_gain[:, 0], linked.last_gain[:, 1])
    indep = TimeGate(SR, channels=2, hold_ms=0.0, attack_ms=0.0, release_ms=0.0, linked=False)
    indep.process(x)
    assert indep.pop_events() == [("gate_open", 0, 1000), ("gate_close", 0, 3000)]
    assert np.all(indep.last_gain[:, 1] == np.float32(1e-4))
    assert y.shape == x.shape


def test_events_on_the_stream_clock_across_blocks():
    x = np.zeros((20000, 1), np.float32)
    x[12345:12400] = 0.5
    gate = TimeGate(SR, hold_ms=1.0)
    seen = []
    for b in split(x, [1000, 1, 0, 777]):
        gate.process(b)
        seen += gate.pop_events()
    assert seen == [("gate_open", 0, 12345), ("gate_close", 0, 12400 + 48)]


def test_sidechain_high_pass_ignores_rumble():
    t = np.arange(SR) / SR
    hum = (0.3 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)[:, None]
    plain = TimeGate(SR)
    plain.process(hum)
    assert plain.pop_events()[0][0] == "gate_open"
    hp = TimeGate(SR, sidechain_hz=1000.0)
    y = hp.process(hum)
    assert hp.pop_events() == []  # 50 Hz is 52 dB down at 1 kHz: below -50 dBFS
    assert np.abs(y).max() < 0.3 * 1e-4 * 1.01  # the audio itself is not filtered, only gated


# -- no clicks ---------------------------------------------------------------------------

def test_gain_slope_is_bounded():
    x = bursts(48000, 1, seed=11)
    gate = TimeGate(SR)  # attack 1 ms = 48 samples, release 100 ms
    gate.process(x)
    g = gate.last_gain[:, 0].astype(np.float64)
    bound = gain_slope_bound(48, 4800, 1e-4)
    assert gate.max_gain_step == pytest.approx(bound)
    assert bound == pytest.approx(0.0327, abs=1e-4)  # the stated figure
    steps = np.abs(np.diff(g))
    assert steps.max() <= bound + 1e-6
    assert steps.max() > 0.99 * bound  # a full attack happened: the bound is tight


def test_ramp_reverses_without_a_jump():
    # Re-open in the middle of a release: the gain turns around from where it is.
    x = np.zeros((20000, 1), np.float32)
    x[:1000] = 0.5
    x[1000 + 480 + 1200] = 0.5  # 10 ms hold + 25 ms into a 100 ms release
    gate = TimeGate(SR, hold_ms=10.0, release_ms=100.0, attack_ms=5.0)
    gate.process(x)
    g = gate.last_gain[:, 0].astype(np.float64)
    assert np.abs(np.diff(g)).max() <= gate.max_gain_step + 1e-6
    i = 1000 + 480 + 1200
    assert 0.5 < g[i] < 1.0 and g[i + 1] > g[i]


# -- silence, NaN/inf, flush -------------------------------------------------------------

def test_silence():
    gate = TimeGate(SR, channels=2, lookahead_ms=1.0)
    y = gate.process(np.zeros((9000, 2), np.float32))
    assert np.all(y == 0) and y.dtype == np.float32
    assert gate.pop_events() == []
    assert np.all(gate.last_gain == np.float32(1e-4))
    assert gate.flush().shape == (48, 2)


def test_nan_and_inf_are_zero_for_detection_and_output():
    rng = np.random.default_rng(2)
    x = (0.3 * rng.standard_normal((6000, 1))).astype(np.float32)
    x[:1000] *= 1e-4
    bad = [500, 2000, 2001, 3333, 5999]
    y_in = x.copy()
    y_in[bad[0]] = np.nan
    y_in[bad[1]] = np.inf
    y_in[bad[2]] = -np.inf
    y_in[bad[3:]] = np.nan
    clean = x.copy()
    clean[bad] = 0.0
    g1 = TimeGate(SR, lookahead_ms=0.5)
    g2 = TimeGate(SR, lookahead_ms=0.5)
    a = np.concatenate([g1.process(y_in), g1.flush()])
    b = np.concatenate([g2.process(clean), g2.flush()])
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert np.all(a[np.array(bad) + g1.latency_samples] == 0)
    assert g1.pop_events() == g2.pop_events()
    assert np.isnan(y_in[bad[0], 0])  # the input is not modified


def test_flush_returns_the_delayed_tail_then_needs_reset():
    x = np.full((1000, 1), 0.5, np.float32)
    gate = TimeGate(SR, lookahead_ms=1.0, attack_ms=0.0)
    y = np.concatenate([gate.process(x), gate.flush()])
    assert y.shape == (1048, 1)
    np.testing.assert_array_equal(y[48:], x)
    with pytest.raises(RuntimeError):
        gate.process(x)
    gate.reset()
    assert gate.process(x).shape == (1000, 1)


def test_mono_1d_blocks():
    x = bursts(2000, 1, seed=5)
    a = TimeGate(SR).process(x[:, 0])
    b = TimeGate(SR).process(x)
    assert a.shape == (2000,)
    np.testing.assert_array_equal(a, b[:, 0])


# -- parameters --------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, names", [
    (dict(open_db=-60.0, close_db=-50.0), ["open_db=-60", "close_db=-50"]),
    (dict(attack_ms=-1.0), ["attack_ms=-1"]),
    (dict(hold_ms=-0.5), ["hold_ms=-0.5"]),
    (dict(release_ms=-3.0), ["release_ms=-3"]),
    (dict(lookahead_ms=-1.0), ["lookahead_ms=-1"]),
    (dict(range_db=6.0), ["range_db=6"]),
    (dict(detector="loudness"), ["detector='loudness'", "'peak'", "'rms'"]),
    (dict(rms_window_ms=0.0), ["rms_window_ms=0"]),
    (dict(sidechain_hz=30000.0), ["sidechain_hz=30000", "24000"]),
    (dict(sidechain_hz=-1.0), ["sidechain_hz=-1"]),
    (dict(sample_rate=0), ["sample_rate=0"]),
    (dict(channels=0), ["channels=0"]),
    (dict(open_db=float("nan")), ["open_db=nan"]),
])
def test_bad_parameters_name_the_parameter(kwargs, names):
    with pytest.raises(ConfigError) as e:
        TimeGate(**kwargs)
    for name in names:
        assert name in str(e.value)


def test_setters_recompute_and_reject_structural_changes():
    x = np.full((4800, 1), 10 ** (-35 / 20), np.float32)  # -35 dBFS
    gate = TimeGate(SR)
    gate.process(x)
    assert gate.pop_events()[0][0] == "gate_open"
    gate.reset()
    gate.set_thresholds(open_db=-30.0, close_db=-40.0)
    gate.process(x)
    assert gate.pop_events() == []  # -35 dBFS is now between the thresholds: stays closed
    gate.open_db = -36.0
    assert gate.params.open_db == -36.0
    gate.attack_ms = 4.0
    assert gate.max_gain_step == pytest.approx(gain_slope_bound(192, 4800, 1e-4))
    with pytest.raises(ConfigError, match="open_db=-50.0 must be >= close_db=-40.0"):
        gate.set_params(open_db=-50.0)
    assert gate.params.open_db == -36.0  # unchanged after a rejected change
    with pytest.raises(ConfigError, match="lookahead_ms is structural"):
        gate.set_params(lookahead_ms=1.0)
    with pytest.raises(ConfigError, match="unknown parameter threshold"):
        gate.set_params(threshold=1.0)


def test_params_dataclass_round_trip():
    p = TimeGateParams(open_db=-30.0, close_db=-35.0, detector="rms")
    gate = TimeGate.from_params(p)
    assert gate.params is p and gate.latency_samples == 0

"""The pitch/onset evaluation set (``benchmarks/evalset.py``): its ground truth agrees with
its audio, measured here by naive references (autocorrelation, energy windows), its noise
hits the requested SNR, and it is a pure function of the seed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import evalset  # noqa: E402

SR = 48000


@pytest.fixture(scope="module")
def clean():
    clips, _ = evalset.clean_clips(seed=7, clip_seconds=3.0, midi=False)
    return {c.family: c for c in clips}


def naive_f0(x: np.ndarray, centre: int, sr: int = SR, fmin: float = 45.0, fmax: float = 2200.0) -> float:
    """f0 [Hz] at sample ``centre`` by normalised autocorrelation, directly summed: the
    first local maximum reaching 90 % of the largest one (the period, not a multiple),
    refined by a parabola."""
    W = 2048
    lo, hi = int(sr / fmax), int(sr / fmin) + 1
    seg = x[centre - W // 2 : centre + W // 2 + hi + 1].astype(np.float64)
    a = seg[:W]
    r = np.array([a @ seg[t : t + W] / np.sqrt((a @ a) * (seg[t : t + W] @ seg[t : t + W]) + 1e-30)
                  for t in range(lo - 1, hi + 2)])
    peaks = [i for i in range(1, len(r) - 1) if r[i] > r[i - 1] and r[i] >= r[i + 1]]
    best = max(r[i] for i in peaks)
    i = next(i for i in peaks if r[i] >= 0.9 * best)
    den = r[i - 1] - 2 * r[i] + r[i + 1]
    delta = 0.5 * (r[i - 1] - r[i + 1]) / den if den else 0.0
    return sr / (lo - 1 + i + delta)


def cents(a, b):
    return 1200 * np.log2(a / b)


def steady_points(clip, spread_cents: float, k: int = 3):
    """Grid indices whose neighbours within +-k frames are valid, voiced and within
    ``spread_cents`` of them, with no onset within 50 ms (the autocorrelation window there
    sees one note, not a re-attack of it)."""
    f, v = clip.f0_hz, clip.f0_valid
    out = []
    for i in range(k, len(f) - k):
        w = slice(i - k, i + k + 1)
        if v[w].all() and (f[w] > 0).all() and np.abs(cents(f[w], f[i])).max() <= spread_cents \
                and np.abs(clip.onsets_s - clip.f0_times[i]).min() > 0.05:
            out.append(i)
    return out


@pytest.mark.parametrize("family, tol_cents", [("struck", 5.0), ("plucked", 10.0), ("vibrato", 30.0),
                                               ("glides", 30.0), ("repeated", 5.0)])
def test_f0_truth_matches_naive_autocorrelation(clean, family, tol_cents):
    clip = clean[family]
    pts = steady_points(clip, 1.0 if tol_cents <= 10 else 80.0)
    assert len(pts) >= 20
    pts = pts[:: max(1, len(pts) // 25)]  # about 25 points, spread over the clip
    f0s = np.array([naive_f0(clip.audio, int(round(clip.f0_times[i] * SR))) for i in pts])
    err = cents(f0s, clip.f0_hz[pts])
    assert np.abs(err).max() < tol_cents, (family, err.round(1))


def test_truth_structure(clean):
    for c in clean.values():
        assert c.audio.dtype == np.float32 and c.audio.ndim == 1 and c.sample_rate == SR
        assert np.isclose(np.abs(c.audio).max(), evalset.PEAK, rtol=1e-4)
        np.testing.assert_allclose(np.diff(c.f0_times), evalset.GRID_S, atol=1e-9)
        assert c.f0_times[0] == 0 and c.f0_times[-1] <= c.duration_s
        f = c.f0_hz[c.f0_valid & (c.f0_hz > 0)]
        assert np.all((f >= evalset.F0_MIN_HZ) & (f <= evalset.F0_MAX_HZ))
        assert np.all(c.f0_hz[~c.f0_valid] == 0)
        on = c.onsets_s
        assert len(on) >= 2 and np.all(np.diff(on) >= 0.08 - 1e-9) and on[0] >= 0 and on[-1] < c.duration_s
    assert np.all(clean["drums"].f0_hz == 0) and clean["drums"].f0_valid.all()
    poly = clean["polyphony"]
    assert not poly.pitch_evaluable and (~poly.f0_valid).sum() > 0.3 * len(poly.f0_valid)
    assert all(c.pitch_evaluable for f, c in clean.items() if f != "polyphony")


@pytest.mark.parametrize("family", ["vibrato", "glides", "soft"])
def test_onsets_start_exactly_after_silence(clean, family):
    """Notes separated by silence: the first non-zero sample after each gap is the onset."""
    x = clean[family].audio
    for t in clean[family].onsets_s:
        i = int(round(t * SR))
        assert np.all(x[i - int(0.02 * SR) : i] == 0)
        first = i + int(np.argmax(np.abs(x[i : i + 480]) > 0))
        assert first - i <= 1


def _energy(x, a, b):
    return float(np.sum(x[max(a, 0) : b].astype(np.float64) ** 2))


@pytest.mark.parametrize("family, share", [("plucked", 0.8), ("drums", 0.8), ("struck", 0.6), ("repeated", 0.6)])
def test_onsets_where_energy_rises(clean, family, share):
    """Attacks on sounding material: the 5 ms after a true onset hold at least twice the
    energy of the 5 ms before for most onsets (not all: a soft note may follow a loud one
    that is still ringing), and the typical rise there is far above the one 30 ms earlier."""
    x, w = clean[family].audio, int(0.005 * SR)

    def rise(i):
        return _energy(x, i, i + w) / max(_energy(x, i - w, i), 1e-20)

    idx = np.round(clean[family].onsets_s * SR).astype(int)
    at = np.array([rise(i) for i in idx])
    before = np.array([rise(i - int(0.03 * SR)) for i in idx])
    assert np.mean(at >= 2.0) >= share, at.round(2)
    assert np.median(at) > 10 * np.median(before)


def test_deterministic_given_seed():
    kw = dict(clip_seconds=1.0, families=["vibrato", "drums"], conditions=["clean", "pink10"], midi=False)
    a, _ = evalset.generate(seed=3, **kw)
    b, _ = evalset.generate(seed=3, **kw)
    c, _ = evalset.generate(seed=4, **kw)
    assert [x.name for x in a] == ["vibrato/clean", "drums/clean", "vibrato/pink10", "drums/pink10"]
    for x, y in zip(a, b):
        assert np.array_equal(x.audio, y.audio) and np.array_equal(x.onsets_s, y.onsets_s)
        assert np.array_equal(x.f0_hz, y.f0_hz) and np.array_equal(x.f0_valid, y.f0_valid)
    assert not np.array_equal(a[0].audio, c[0].audio)
    # A condition's noise does not depend on which other conditions were asked for.
    d, _ = evalset.generate(seed=3, clip_seconds=1.0, families=["vibrato", "drums"], conditions=["pink10"],
                            midi=False)
    assert np.array_equal(d[1].audio, a[3].audio)


def naive_active(x, sr=SR, floor_db=-40.0):
    """10 ms frames from sample 0 within floor_db of the loudest: sample mask."""
    w = sr // 100
    m = np.zeros(len(x), dtype=bool)
    energies = [np.sum(x[i : i + w].astype(np.float64) ** 2) for i in range(0, len(x), w)]
    top = max(energies)
    for k, e in enumerate(energies):
        m[k * w : (k + 1) * w] = e >= top * 10 ** (floor_db / 10)
    return m


@pytest.mark.parametrize("condition", ["white20", "white0", "pink10", "pink0"])
def test_noise_hits_requested_snr(clean, condition):
    clip = clean["drums"]  # bursts and silences: the active-signal rule matters
    noisy = evalset.apply_condition(clip, condition, seed=7, index=4)
    assert noisy.condition == condition and np.array_equal(noisy.clean_audio, clip.audio)
    act = naive_active(clip.audio)
    assert 0.2 < act.mean() < 1.0
    s = clip.audio.astype(np.float64)
    n = noisy.audio.astype(np.float64) - s
    snr = 10 * np.log10(np.sum(s[act] ** 2) / np.sum(n[act] ** 2))
    assert abs(snr - noisy.snr_db) < 0.1
    assert noisy.snr_db == float(condition.lstrip("whitepnk"))
    # Colour: white is flat, pink falls 3 dB an octave (10 log10 of the band powers).
    P = np.abs(np.fft.rfft(n)) ** 2
    f = np.fft.rfftfreq(len(n), 1 / SR)
    band = lambda lo: 10 * np.log10(P[(f >= lo) & (f < 2 * lo)].mean())  # noqa: E731
    slope = (band(3200) - band(200)) / 4
    assert abs(slope - (0.0 if condition.startswith("white") else -3.0)) < 0.5


def test_midi_clip_truth_matches_render(tmp_path):
    why = evalset.midi_available()
    if why is not None:
        from tests.conftest import real_part_missing

        real_part_missing(why)
    clips, skipped = evalset.clean_clips(seed=2, clip_seconds=2.5, families=["midi_piano"], cache_dir=str(tmp_path))
    assert skipped is None
    (clip,) = clips
    assert len(list(tmp_path.glob("*.npy"))) == 1
    again, _ = evalset.clean_clips(seed=2, clip_seconds=2.5, families=["midi_piano"], cache_dir=str(tmp_path))
    assert np.array_equal(again[0].audio, clip.audio) and len(list(tmp_path.glob("*.npy"))) == 1
    x, w = clip.audio, int(0.005 * SR)
    for t in clip.onsets_s:  # note-ons: fluidsynth starts the attack within ~2 ms
        i = int(round(t * SR))
        assert _energy(x, i, i + 4 * w) > 4 * _energy(x, i - 4 * w, i)
    pts = steady_points(clip, 1.0)
    assert len(pts) >= 10
    pts = pts[:: max(1, len(pts) // 10)]
    f0s = np.array([naive_f0(x, int(round(clip.f0_times[i] * SR))) for i in pts])
    assert np.abs(cents(f0s, clip.f0_hz[pts])).max() < 25  # TimGM6mb's tuning, within a few cents

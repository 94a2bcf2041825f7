"""Evaluation set for pitch and onset detection: clips with exact ground truth.

Every clip is generated from a seed (same seed, same samples, on any machine), mono
float32 at ``sample_rate`` (48 kHz by default), with its ground truth taken from the
score that made it, never measured from the audio (except the voicing of rendered MIDI
notes, see below).

Content (``FAMILIES``), each family one clip of about ``clip_seconds``:

``vibrato``     harmonic notes (random spectra, some with a fundamental 12 dB down) with
                vibrato of 4-7 Hz and 10-60 cents, f0 log-uniform in 50 Hz - 2 kHz,
                separated by silences.
``glides``      legato phrases whose notes are joined by glides (portamento) of
                40-250 ms over up to an octave; one onset per phrase.
``plucked``     Karplus-Strong strings (an allpass tunes the loop exactly: the loop's phase
                delay at f0 is one period), each damped when the next is plucked.
``struck``      decaying harmonic stacks (1.5 ms attack, higher partials decay faster).
``drums``       noise bursts (low, band and high-pass noise, 1 ms attack, decay time
                constants of 20-200 ms) at 8th/16th-note spacings:
                onset truth only, unvoiced throughout.
``soft``        slow attacks (raised-cosine, 40-150 ms) on sustained harmonic notes; the
                onset is the start of the attack.
``repeated``    runs of one pitch: re-struck decaying notes every 100-300 ms, and
                sustained notes with 20-60 ms gaps.
``polyphony``   chords and staggered entries of 1-3 voices (struck and sustained): onset
                truth; pitch truth only where one voice sounds.

Rendered MIDI (``MIDI_FAMILIES``; needs ``fluidsynth`` and the TimGM6mb soundfont,
``apt-get install fluidsynth timgm6mb-soundfont``; skipped otherwise): scores written with
``mido`` and rendered by ``fluidsynth -ni -q -R 0 -C 0 -F out.wav -r SR TimGM6mb.sf2 in.mid``
(reverb and chorus off, so one note's tail does not smear into the next), averaged to
mono and trimmed. Melodies on piano, nylon guitar, flute, violin and a bass; a drum kit
alone (onsets only); and a band (piano chords, bass, drums: onsets only). Renders are
cached by content hash (``cache_dir``, default ``$FLUXSTREAM_EVALSET_CACHE`` or
``<tmp>/fluxstream-evalset-cache``).

Ground truth
------------
``onsets_s``
    Every note's start (the first sample of its attack; for MIDI the note-on time),
    sorted; simultaneous starts (chords, drum hits on one beat) are one onset. Distinct
    onsets are at least 80 ms apart.
``f0_times``, ``f0_hz``, ``f0_valid``
    A 10 ms grid from 0. A pitched note counts as *sounding* at a grid time while its
    own short-time RMS (10 ms, centred) is within ``VOICED_DB`` = 30 dB of its peak, and
    as *fading* while within ``ACTIVE_DB`` = 45 dB. ``f0_hz`` is the instantaneous f0 of
    the one sounding note (0.0 when no pitched note is active: silence and unpitched
    noise are unvoiced truth). ``f0_valid`` is False where the truth is ambiguous: only
    fading notes (decay tails, release), or two notes of different pitch at once
    (polyphony); scores use valid frames only. For rendered MIDI melodies a note sounds
    from note-on to note-off while the rendered RMS is within 30 dB of the note's peak;
    after note-off its release is not scored until it has decayed 45 dB or the next note
    starts. The band clip has no pitch truth.
``pitch_evaluable``
    The clip is monophonic by construction (every valid frame is scored); False for the
    polyphonic ones, whose ``f0_valid`` keeps only their monophonic stretches.

Noise conditions (``CONDITIONS``): ``clean``, white noise at 20/10/0 dB SNR, pink noise
(1/f power from 20 Hz) at 20/10/0 dB. The SNR is measured over the clip's *active*
samples: the 10 ms frames within ``SNR_ACTIVE_DB`` = 40 dB of the clip's loudest frame;
the noise is scaled so that ``10 log10(sum_active s^2 / sum_active n^2)`` is the
condition's SNR. Every condition carries the same clean content (the noise has its own
seed per clip and condition), peak-normalised to 0.5 before the noise is added.

Run ``python benchmarks/evalset.py`` for a summary of the set.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.signal

__all__ = [
    "ACTIVE_DB",
    "CONDITIONS",
    "Clip",
    "FAMILIES",
    "GRID_S",
    "MIDI_FAMILIES",
    "NOISY_CONDITIONS",
    "SAMPLE_RATE",
    "SOUNDFONT",
    "VOICED_DB",
    "active_mask",
    "apply_condition",
    "clean_clips",
    "generate",
    "midi_available",
    "mix_at_snr",
    "noise",
    "snr_db",
    "summary",
]

SAMPLE_RATE = 48000
GRID_S = 0.01
#: Pitch range of the content [Hz] (vibrato included).
F0_MIN_HZ, F0_MAX_HZ = 50.0, 2000.0
VOICED_DB = -30.0
ACTIVE_DB = -45.0
SNR_ACTIVE_DB = -40.0
PEAK = 0.5
CONDITIONS = ("clean", "white20", "white10", "white0", "pink20", "pink10", "pink0")
NOISY_CONDITIONS = CONDITIONS[1:]
FAMILIES = ("vibrato", "glides", "plucked", "struck", "drums", "soft", "repeated", "polyphony")
MIDI_FAMILIES = ("midi_piano", "midi_guitar", "midi_flute", "midi_violin", "midi_bass", "midi_drums",
                 "midi_band")
SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"
_MIN_IOI_S = 0.08


@dataclass(frozen=True, eq=False)
class Clip:
    """One evaluation clip and its ground truth.

    Attributes
    ----------
    name : str
        ``<family>/<condition>``.
    audio : ndarray [shape=(n_samples,), dtype=float32]
    sample_rate : int [Hz]
    condition : str
        One of ``CONDITIONS``.
    f0_times : ndarray [shape=(n_grid,)] [s]
        10 ms grid from 0.
    f0_hz : ndarray [shape=(n_grid,)] [Hz]
        Truth f0, 0.0 where unvoiced (or where not valid).
    f0_valid : ndarray [shape=(n_grid,), dtype=bool]
        Frames whose pitch truth is defined (see the module docstring).
    onsets_s : ndarray [shape=(n_onsets,)] [s]
        True onsets, sorted, at least 80 ms apart.
    family : str
    source : str
        ``"synth"`` or ``"midi"``.
    pitch_evaluable : bool
        Monophonic by construction.
    snr_db : float or None
        The condition's SNR (None for clean).
    """

    name: str
    audio: np.ndarray
    sample_rate: int
    condition: str
    f0_times: np.ndarray
    f0_hz: np.ndarray
    f0_valid: np.ndarray
    onsets_s: np.ndarray
    family: str
    source: str
    pitch_evaluable: bool
    snr_db: float | None = None
    clean_audio: np.ndarray | None = field(default=None, repr=False)

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sample_rate


# --- notes and truth ------------------------------------------------------------------


@dataclass
class _Note:
    """One note of a score: its isolated audio from sample ``start``, its per-sample f0
    (None: unpitched) and whether its start is an onset."""

    start: int
    audio: np.ndarray
    f0: np.ndarray | None
    onset: bool = True


def _moving_rms(x: np.ndarray, w: int) -> np.ndarray:
    """Centred moving RMS over ``w`` samples (zeros outside)."""
    cs = np.concatenate(([0.0], np.cumsum(x.astype(np.float64) ** 2)))
    n = x.shape[0]
    i = np.arange(n)
    lo = np.clip(i - w // 2, 0, n)
    hi = np.clip(i - w // 2 + w, 0, n)
    return np.sqrt(np.maximum(cs[hi] - cs[lo], 0.0) / w)


def _grid(n_samples: int, sr: int) -> tuple[np.ndarray, np.ndarray]:
    times = np.arange(int(math.floor((n_samples - 1) / sr / GRID_S)) + 1) * GRID_S
    return times, np.minimum(np.round(times * sr).astype(np.int64), n_samples - 1)


def _render(notes: list[_Note], sr: int, tail_s: float = 0.3):
    """Mix the notes (peak ``PEAK``) and derive the truth; returns (audio, f0_times, f0_hz,
    f0_valid, onsets_s)."""
    n = max(nt.start + nt.audio.shape[0] for nt in notes) + int(tail_s * sr)
    x = np.zeros(n)
    for nt in notes:
        x[nt.start : nt.start + nt.audio.shape[0]] += nt.audio
    times, idx = _grid(n, sr)
    n_sounding = np.zeros(idx.shape[0], dtype=np.int64)
    n_active = np.zeros_like(n_sounding)
    f_lo = np.full(idx.shape[0], np.inf)
    f_hi = np.zeros(idx.shape[0])
    w = int(round(0.01 * sr))
    for nt in notes:
        if nt.f0 is None:
            continue
        env = _moving_rms(nt.audio, w)
        peak = env.max()
        if peak <= 0:
            continue
        k = np.flatnonzero((idx >= nt.start) & (idx < nt.start + nt.audio.shape[0]))
        j = idx[k] - nt.start
        rel = env[j] / peak
        snd = rel >= 10 ** (VOICED_DB / 20)
        act = rel >= 10 ** (ACTIVE_DB / 20)
        n_sounding[k] += snd
        n_active[k] += act
        f = nt.f0[j]
        f_lo[k[snd]] = np.minimum(f_lo[k[snd]], f[snd])
        f_hi[k[snd]] = np.maximum(f_hi[k[snd]], f[snd])
    # One pitch sounding (two overlapping re-attacks of one pitch count as one), nothing
    # else fading: voiced truth. Nothing active: unvoiced truth. Otherwise ambiguous.
    same = (n_sounding >= 1) & (f_hi <= f_lo * 2 ** (1 / 1200)) & (n_active == n_sounding)
    f0 = np.where(same, f_hi, 0.0)
    valid = same | (n_active == 0)
    onsets = _unique_onsets([nt.start / sr for nt in notes if nt.onset])
    scale = PEAK / max(np.abs(x).max(), 1e-12)
    return (x * scale).astype(np.float32), times, f0, valid, onsets


def _unique_onsets(ts) -> np.ndarray:
    ts = np.sort(np.asarray(ts, dtype=np.float64))
    if ts.size == 0:
        return ts
    keep = np.concatenate(([True], np.diff(ts) > 1e-3))
    out = ts[keep]
    if np.any(np.diff(out) < _MIN_IOI_S - 1e-9):  # a generator bug, not a data property
        raise AssertionError("onsets closer than 80 ms")
    return out


# --- sound makers ---------------------------------------------------------------------


def _spectrum(rng, n_harm: int, weak_fundamental: bool = False) -> np.ndarray:
    """Random harmonic amplitudes: h**-rho with +-3 dB jitter (rho in 0.8..1.6)."""
    h = np.arange(1, n_harm + 1)
    a = h ** -rng.uniform(0.8, 1.6) * 10 ** (rng.normal(0, 3, n_harm) / 20)
    if weak_fundamental and n_harm > 1:
        a[0] = a[1] * 10 ** (-12 / 20)
    return a


def _n_harm(f_max: float, sr: int) -> int:
    return int(max(1, min(40, math.floor(min(12000.0, 0.4 * sr) / f_max))))


def _harmonic(f0: np.ndarray, amps: np.ndarray, sr: int, rng) -> np.ndarray:
    """Sum of harmonics of a per-sample f0 track (phase-continuous), random phases."""
    theta = 2 * np.pi * np.cumsum(f0) / sr
    z = np.exp(1j * theta)
    zh = np.ones_like(z)
    out = np.zeros(f0.shape[0])
    for a in amps:
        zh *= z
        out += a * np.imag(zh * np.exp(1j * rng.uniform(0, 2 * np.pi)))
    return out


def _ramp(n: int) -> np.ndarray:
    """Raised-cosine rise over n samples (0 -> 1)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / max(n, 1))


def _envelope(n: int, attack: int, release: int, tau_s: float | None = None, sr: int = SAMPLE_RATE):
    env = np.ones(n)
    attack, release = min(attack, n), min(release, n)
    env[:attack] = _ramp(attack)
    if release:
        env[n - release :] *= _ramp(release)[::-1]
    if tau_s is not None:
        env *= np.exp(-np.arange(n) / (tau_s * sr))
    return env


def _log_uniform(rng, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _vibrato_track(n: int, f0: float, sr: int, rng, depth_cents=(10, 60), rate_hz=(4.0, 7.0)) -> np.ndarray:
    depth = rng.uniform(*depth_cents)
    rate = rng.uniform(*rate_hz)
    t = np.arange(n) / sr
    # Vibrato fades in over 150 ms, as players do.
    fade = np.minimum(1.0, t / 0.15)
    return f0 * 2 ** (depth * fade * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)) / 1200)


def _struck(f0: float, n: int, sr: int, rng, amps=None) -> np.ndarray:
    """Decaying harmonic stack: partial h decays with tau1 / (1 + beta (h - 1))."""
    if amps is None:
        amps = _spectrum(rng, _n_harm(f0, sr), rng.random() < 0.2)
    tau1, beta = rng.uniform(0.4, 1.5), rng.uniform(0.2, 0.8)
    t = np.arange(n) / sr
    out = np.zeros(n)
    for h, a in enumerate(amps, start=1):
        out += a * np.exp(-t * (1 + beta * (h - 1)) / tau1) * np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 6.3))
    return out * _envelope(n, int(0.0015 * sr), int(0.003 * sr))


def _allpass_delay(c: float, w: float) -> float:
    """Phase delay [samples] at w [rad/sample] of (c + z^-1) / (1 + c z^-1)."""
    e = np.exp(-1j * w)
    return -float(np.angle((c + e) / (1 + c * e))) / w


def _karplus_strong(f0: float, n: int, sr: int, rng, t60_s: float) -> np.ndarray:
    """A plucked string whose loop resonates at exactly f0.

    Loop: delay N, two-point average (phase delay 0.5), first-order allpass with its
    phase delay at f0 solved (bisection) so that N + 0.5 + allpass delay = sr / f0.
    """
    P = sr / f0
    N = int(math.floor(P - 0.6))
    d = P - 0.5 - N  # in [0.1, 1.1)
    w = 2 * math.pi * f0 / sr
    lo, hi = -0.999, 0.999  # delay falls as c rises
    for _ in range(60):
        c = 0.5 * (lo + hi)
        if _allpass_delay(c, w) > d:
            lo = c
        else:
            hi = c
    c = 0.5 * (lo + hi)
    g = min(0.99995, 10 ** (-3 / (t60_s * f0)) / math.cos(w / 2))
    a = np.zeros(N + 3)
    a[0], a[1] = 1.0, c
    a[N] -= 0.5 * g * c
    a[N + 1] -= 0.5 * g * (1 + c)
    a[N + 2] -= 0.5 * g
    exc = np.zeros(n)
    burst = rng.uniform(-1, 1, N + 1)
    bright = rng.uniform(0.2, 0.9)  # one-pole lowpass of the excitation: pluck hardness
    burst = scipy.signal.lfilter([1 - bright], [1, -bright], burst)
    exc[: N + 1] = burst - burst.mean()
    y = scipy.signal.lfilter([1.0, c], a, exc)
    return y * _envelope(n, 0, int(0.004 * sr))


def _noise_burst(kind: str, n: int, sr: int, rng) -> np.ndarray:
    x = rng.standard_normal(n)
    if kind == "low":
        sos = scipy.signal.butter(4, rng.uniform(120, 250), "lowpass", fs=sr, output="sos")
        tau = rng.uniform(0.06, 0.2)
    elif kind == "band":
        lo = rng.uniform(300, 1500)
        sos = scipy.signal.butter(2, [lo, lo * rng.uniform(3, 8)], "bandpass", fs=sr, output="sos")
        tau = rng.uniform(0.05, 0.15)
    else:
        sos = scipy.signal.butter(4, rng.uniform(5000, 9000), "highpass", fs=sr, output="sos")
        tau = rng.uniform(0.02, 0.08)
    y = scipy.signal.sosfilt(sos, x)
    return y * _envelope(n, int(0.001 * sr), int(0.003 * sr), tau, sr)


# --- synthetic families ---------------------------------------------------------------
# Each returns the notes of about `seconds` of music.


def _fam_vibrato(rng, sr, seconds):
    notes, t = [], 0.1
    while t < seconds:
        dur = rng.uniform(0.4, 1.0)
        n = int(dur * sr)
        f0 = _log_uniform(rng, F0_MIN_HZ * 1.04, F0_MAX_HZ / 1.04)
        track = _vibrato_track(n, f0, sr, rng)
        amps = _spectrum(rng, _n_harm(track.max(), sr), rng.random() < 0.25)
        audio = _harmonic(track, amps, sr, rng) * _envelope(n, int(rng.uniform(0.005, 0.02) * sr), int(0.03 * sr))
        notes.append(_Note(int(t * sr), audio * rng.uniform(0.4, 1.0), track))
        t += dur + rng.uniform(0.1, 0.3)
    return notes


def _fam_glides(rng, sr, seconds):
    notes, t = [], 0.1
    while t < seconds:
        k = int(rng.integers(2, 5))
        f = _log_uniform(rng, 70, 1200)
        pieces = []
        for i in range(k):
            hold = int(rng.uniform(0.25, 0.6) * sr)
            pieces.append(np.full(hold, f))
            if i < k - 1:
                g = int(rng.uniform(0.04, 0.25) * sr)
                f_next = float(np.clip(f * 2 ** (rng.uniform(-12, 12) / 12), 60, 1500))
                pieces.append(f * (f_next / f) ** _ramp(g))  # raised cosine in log f
                f = f_next
        track = np.concatenate(pieces)
        n = track.shape[0]
        track = track * 2 ** (rng.uniform(5, 20) * np.sin(2 * np.pi * rng.uniform(4, 6) * np.arange(n) / sr) / 1200)
        amps = _spectrum(rng, _n_harm(track.max(), sr))
        audio = _harmonic(track, amps, sr, rng) * _envelope(n, int(0.015 * sr), int(0.04 * sr))
        notes.append(_Note(int(t * sr), audio * rng.uniform(0.5, 1.0), track))
        t += n / sr + rng.uniform(0.2, 0.4)
    return notes


def _fam_plucked(rng, sr, seconds):
    notes, t = [], 0.1
    while t < seconds:
        ioi = rng.uniform(0.35, 0.9)
        n = int(ioi * sr)
        f0 = _log_uniform(rng, 60, 1500)
        audio = _karplus_strong(f0, n, sr, rng, t60_s=rng.uniform(0.8, 2.5))
        audio /= max(np.abs(audio).max(), 1e-12)
        notes.append(_Note(int(t * sr), audio * rng.uniform(0.4, 1.0), np.full(n, f0)))
        t += ioi
    return notes


def _fam_struck(rng, sr, seconds):
    notes, t = [], 0.1
    while t < seconds:
        ioi = rng.uniform(0.3, 0.8)
        n = int(ioi * sr)
        f0 = _log_uniform(rng, F0_MIN_HZ, F0_MAX_HZ)
        audio = _struck(f0, n, sr, rng)
        audio /= max(np.abs(audio).max(), 1e-12)
        notes.append(_Note(int(t * sr), audio * rng.uniform(0.3, 1.0), np.full(n, f0)))
        t += ioi
    return notes


def _fam_drums(rng, sr, seconds):
    notes, t = [], 0.1
    while t < seconds:
        kind = ("low", "band", "high")[int(rng.integers(0, 3))]
        n = int(0.4 * sr)
        audio = _noise_burst(kind, n, sr, rng)
        audio /= max(np.abs(audio).max(), 1e-12)
        notes.append(_Note(int(t * sr), audio * rng.uniform(0.3, 1.0), None))
        t += rng.choice([0.125, 0.25, 0.375, 0.5]) * rng.uniform(0.97, 1.03)
    return notes


def _fam_soft(rng, sr, seconds):
    notes, t = [], 0.1
    while t < seconds:
        dur = rng.uniform(0.8, 1.5)
        n = int(dur * sr)
        f0 = _log_uniform(rng, 80, 1200)
        track = _vibrato_track(n, f0, sr, rng, depth_cents=(0, 25))
        amps = _spectrum(rng, _n_harm(track.max(), sr))
        attack = int(rng.uniform(0.04, 0.15) * sr)
        audio = _harmonic(track, amps, sr, rng) * _envelope(n, attack, int(0.08 * sr))
        notes.append(_Note(int(t * sr), audio * rng.uniform(0.4, 1.0), track))
        t += dur + rng.uniform(0.2, 0.5)
    return notes


def _fam_repeated(rng, sr, seconds):
    notes, t = [], 0.1
    while t < seconds:
        f0 = _log_uniform(rng, 60, 1500)
        struck = rng.random() < 0.5
        amps = _spectrum(rng, _n_harm(f0, sr))
        for _ in range(int(rng.integers(4, 9))):
            if struck:  # re-struck while ringing: cut 3 ms after the next attack starts
                ioi = rng.uniform(0.1, 0.3)
                n = int((ioi + 0.003) * sr)
                audio = _struck(f0, n, sr, rng, amps)
            else:  # sustained, with a short silence between repeats
                ioi = rng.uniform(0.15, 0.35)
                n = int((ioi - rng.uniform(0.02, 0.06)) * sr)
                audio = _harmonic(np.full(n, f0), amps, sr, rng) * _envelope(n, int(0.01 * sr), int(0.015 * sr))
            audio /= max(np.abs(audio).max(), 1e-12)
            notes.append(_Note(int(t * sr), audio * rng.uniform(0.5, 1.0), np.full(n, f0)))
            t += ioi
        t += rng.uniform(0.2, 0.4)
    return notes


def _fam_polyphony(rng, sr, seconds):
    notes, t = [], 0.1
    while t < seconds:
        k = int(rng.integers(1, 4))
        semis = rng.choice(np.arange(-12, 13), size=k, replace=False)  # no unisons
        base = _log_uniform(rng, 110, 600)
        stagger = rng.random() < 0.5
        start = t
        for i, s in enumerate(sorted(semis)):
            f0 = base * 2 ** (s / 12)
            if stagger and i:
                start += rng.uniform(0.08, 0.2)
            dur = rng.uniform(0.4, 1.2)
            n = int(dur * sr)
            if rng.random() < 0.5:
                audio = _struck(f0, n, sr, rng)
            else:
                amps = _spectrum(rng, _n_harm(f0, sr))
                audio = _harmonic(np.full(n, f0), amps, sr, rng) * _envelope(n, int(0.01 * sr), int(0.05 * sr))
            audio /= max(np.abs(audio).max(), 1e-12)
            notes.append(_Note(int(start * sr), audio * rng.uniform(0.4, 1.0), np.full(n, f0)))
        # Staggered entries keep >= 80 ms between onsets; the next event waits for them.
        t = max(nt.start for nt in notes) / sr + rng.uniform(0.3, 0.8)
    return notes


_SYNTH = {
    "vibrato": (_fam_vibrato, True),
    "glides": (_fam_glides, True),
    "plucked": (_fam_plucked, True),
    "struck": (_fam_struck, True),
    "drums": (_fam_drums, True),
    "soft": (_fam_soft, True),
    "repeated": (_fam_repeated, True),
    "polyphony": (_fam_polyphony, False),
}


# --- rendered MIDI --------------------------------------------------------------------

_TICKS_PER_S = 960  # 480 ticks per beat at 120 BPM: note times are exact in ticks
_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])


def midi_available(soundfont: str = SOUNDFONT) -> str | None:
    """None when MIDI clips can be made, else why not."""
    if shutil.which("fluidsynth") is None:
        return "fluidsynth not found (apt-get install fluidsynth timgm6mb-soundfont)"
    if not os.path.exists(soundfont):
        return f"soundfont {soundfont} not found (apt-get install timgm6mb-soundfont)"
    try:
        import mido  # noqa: F401
    except ImportError:
        return "mido not installed (pip install mido)"
    return None


def _melody(rng, seconds, lo, hi, dur_choices, gap=(0.03, 0.1)):
    """A random walk on a major scale between MIDI notes lo..hi: (on_s, off_s, note, vel)."""
    key = int(rng.integers(0, 12))
    scale = np.array([n for n in range(lo, hi + 1) if (n - key) % 12 in _MAJOR])
    i = int(rng.integers(0, len(scale)))
    out, t = [], 0.1
    while t < seconds:
        d = float(rng.choice(dur_choices))
        out.append((t, t + d, int(scale[i]), int(rng.integers(70, 121))))
        i = int(np.clip(i + rng.choice([-3, -2, -1, -1, 1, 1, 2, 3, 4]), 0, len(scale) - 1))
        t += d + rng.uniform(*gap)
    return out


def _drum_pattern(rng, seconds, step=0.125):
    hits = []
    for k in range(int(seconds / step)):
        t = 0.1 + k * step
        beat = k % 8
        if beat in (0, 4) or (beat == 6 and rng.random() < 0.3):
            hits.append((t, 36))
        if beat in (2, 6) or rng.random() < 0.08:
            hits.append((t, 38))
        if beat % 2 == 0 and rng.random() < 0.85:
            hits.append((t, 42 if rng.random() < 0.8 else 46))
        if k % 16 == 0 and rng.random() < 0.5:
            hits.append((t, 49))
        if beat in (5, 7) and rng.random() < 0.2:
            hits.append((t, int(rng.choice([45, 47, 50]))))
    return [(t, t + 0.1, n, int(rng.integers(80, 121))) for t, n in hits]


def _midi_score(family, rng, seconds):
    """{channel: (program, [(on_s, off_s, note, velocity), ...])}; channel 9 is drums."""
    if family == "midi_piano":
        return {0: (0, _melody(rng, seconds, 48, 84, [0.25, 0.375, 0.5, 0.75]))}
    if family == "midi_guitar":
        return {0: (24, _melody(rng, seconds, 40, 76, [0.25, 0.375, 0.5]))}
    if family == "midi_flute":
        return {0: (73, _melody(rng, seconds, 72, 93, [0.375, 0.5, 0.75], gap=(0.05, 0.12)))}
    if family == "midi_violin":
        return {0: (40, _melody(rng, seconds, 55, 88, [0.5, 0.75, 1.0], gap=(0.05, 0.12)))}
    if family == "midi_bass":
        return {0: (33, _melody(rng, seconds, 33, 55, [0.25, 0.375, 0.5]))}
    if family == "midi_drums":
        return {9: (0, _drum_pattern(rng, seconds))}
    if family == "midi_band":
        chords, bass = [], []
        key = int(rng.integers(0, 5))
        for k in range(int(seconds / 0.5)):
            t = 0.1 + 0.5 * k
            root = 48 + key + int(rng.choice([0, 5, 7, 9]))
            if k % 2 == 0:
                for iv in (0, 4, 7) if rng.random() < 0.6 else (0, 3, 7):
                    chords.append((t, t + 0.9, root + iv + 12, int(rng.integers(60, 100))))
                bass.append((t, t + 0.45, root - 12, 100))
            else:
                bass.append((t, t + 0.45, root - 12 + int(rng.choice([0, 7])), 90))
        return {0: (0, chords), 1: (33, bass), 9: (0, _drum_pattern(rng, seconds, step=0.25))}
    raise ValueError(f"unknown MIDI family {family!r}")


def _quantise(score):
    """Note times to whole ticks (the truth is then exactly what the file says)."""
    q = lambda s: round(s * _TICKS_PER_S) / _TICKS_PER_S  # noqa: E731
    return {ch: (prog, [(q(a), q(b), n, v) for a, b, n, v in notes]) for ch, (prog, notes) in score.items()}


def _midi_bytes(score) -> bytes:
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    events = []
    for ch, (prog, notes) in score.items():
        if ch != 9:
            events.append((0, 0, mido.Message("program_change", channel=ch, program=prog)))
        for a, b, n, v in notes:
            # note_off sorts before note_on at the same tick (a repeated note re-strikes)
            events.append((round(b * _TICKS_PER_S), 1, mido.Message("note_off", channel=ch, note=n, velocity=64)))
            events.append((round(a * _TICKS_PER_S), 2, mido.Message("note_on", channel=ch, note=n, velocity=v)))
    events.sort(key=lambda e: (e[0], e[1]))
    last = 0
    for tick, _, msg in events:
        tr.append(msg.copy(time=tick - last))
        last = tick
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def _fluidsynth_version() -> str:
    try:
        return subprocess.run(["fluidsynth", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"


def _default_cache() -> str:
    return os.environ.get("FLUXSTREAM_EVALSET_CACHE") or os.path.join(tempfile.gettempdir(),
                                                                      "fluxstream-evalset-cache")


def _render_midi(midi: bytes, sr: int, soundfont: str, cache_dir: str | None) -> np.ndarray:
    """Mono float64 render of a MIDI file (cached by content hash)."""
    import soundfile as sf

    cache_dir = cache_dir or _default_cache()
    cmd = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-r", str(sr)]
    st = os.stat(soundfont)
    key = hashlib.sha256(midi + repr((cmd, soundfont, st.st_size, _fluidsynth_version())).encode()).hexdigest()[:24]
    path = os.path.join(cache_dir, f"{key}.npy")
    if os.path.exists(path):
        return np.load(path).astype(np.float64)
    os.makedirs(cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        mid_path, wav_path = os.path.join(tmp, "in.mid"), os.path.join(tmp, "out.wav")
        with open(mid_path, "wb") as f:
            f.write(midi)
        subprocess.run(cmd[:-2] + ["-F", wav_path] + cmd[-2:] + [soundfont, mid_path], check=True,
                       capture_output=True, timeout=120)
        x, got_sr = sf.read(wav_path, dtype="float32", always_2d=True)
    if got_sr != sr:
        raise RuntimeError(f"fluidsynth wrote {got_sr} Hz, asked for {sr} Hz")
    mono = x.mean(axis=1).astype(np.float32)
    tmp_path = f"{path}.{os.getpid()}.tmp.npy"
    np.save(tmp_path, mono)
    os.replace(tmp_path, path)  # atomic: parallel runs never read half a file
    return mono.astype(np.float64)


def _midi_truth(score, x, sr, family):
    """(f0_times, f0_hz, f0_valid, onsets_s) of a rendered score (see the module doc)."""
    n = x.shape[0]
    times, idx = _grid(n, sr)
    onsets = _unique_onsets([a for _, notes in score.values() for a, _, _, _ in notes])
    f0 = np.zeros(times.shape[0])
    if family == "midi_band":
        return times, f0, np.zeros(times.shape[0], dtype=bool), onsets
    valid = np.ones(times.shape[0], dtype=bool)
    if 9 in score:  # drums only: unvoiced truth throughout
        return times, f0, valid, onsets
    (_, notes), = score.values()
    rms = _moving_rms(x, int(round(0.01 * sr)))[idx]
    notes = sorted(notes)
    for i, (a, b, note, _) in enumerate(notes):
        nxt = notes[i + 1][0] if i + 1 < len(notes) else times[-1] + 1
        held = (times >= a) & (times < b)
        peak = rms[held].max() if held.any() else 0.0
        if peak <= 0:
            valid[held] = False
            continue
        snd = held & (rms >= peak * 10 ** (VOICED_DB / 20))
        f0[snd] = 440.0 * 2 ** ((note - 69) / 12)
        valid[held & ~snd] = False
        # Release: not scored until 45 dB down (at most 1 s) or the next note.
        rel = (times >= b) & (times < min(nxt, b + 1.0))
        quiet = rel & (rms < peak * 10 ** (ACTIVE_DB / 20))
        end = times[quiet][0] if quiet.any() else min(nxt, b + 1.0)
        valid[(times >= b) & (times < end)] = False
    return times, f0, valid, onsets


# --- noise ----------------------------------------------------------------------------


def noise(color: str, n: int, rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Gaussian noise, ``"white"`` or ``"pink"`` (power density 1/f above 20 Hz, flat
    below), unit variance."""
    w = rng.standard_normal(n)
    if color == "white":
        return w / w.std()
    if color != "pink":
        raise ValueError(f"noise color {color!r} must be 'white' or 'pink'")
    W = np.fft.rfft(w)
    f = np.fft.rfftfreq(n, 1 / sr)
    W *= 1 / np.sqrt(np.maximum(f, 20.0))
    W[0] = 0.0
    p = np.fft.irfft(W, n)
    return p / p.std()


def active_mask(x: np.ndarray, sr: int, floor_db: float = SNR_ACTIVE_DB) -> np.ndarray:
    """Samples of the clip's active signal: the 10 ms frames (from sample 0) whose energy
    is within ``floor_db`` of the loudest frame's. Bool array of ``len(x)``."""
    w = int(round(0.01 * sr))
    n = x.shape[0]
    m = -(-n // w)
    e = np.zeros(m * w)
    e[:n] = np.asarray(x, dtype=np.float64) ** 2
    fe = e.reshape(m, w).sum(axis=1)
    on = fe >= fe.max() * 10 ** (floor_db / 10)
    return np.repeat(on, w)[:n]


def snr_db(clean: np.ndarray, noise_part: np.ndarray, sr: int) -> float:
    """SNR [dB] of ``clean + noise_part`` over the clean signal's active samples."""
    act = active_mask(clean, sr)
    s = np.sum(np.asarray(clean, dtype=np.float64)[act] ** 2)
    v = np.sum(np.asarray(noise_part, dtype=np.float64)[act] ** 2)
    return float(10 * np.log10(s / v))


def mix_at_snr(clean: np.ndarray, nz: np.ndarray, snr: float, sr: int) -> np.ndarray:
    """``clean + g * nz`` with ``g`` such that :func:`snr_db` is ``snr`` (float64)."""
    act = active_mask(clean, sr)
    s = np.sum(np.asarray(clean, dtype=np.float64)[act] ** 2)
    v = np.sum(np.asarray(nz, dtype=np.float64)[act] ** 2)
    g = math.sqrt(s / (v * 10 ** (snr / 10)))
    return clean.astype(np.float64) + g * nz


def _parse_condition(cond: str) -> tuple[str, float | None]:
    if cond == "clean":
        return "clean", None
    for color in ("white", "pink"):
        if cond.startswith(color):
            return color, float(cond[len(color):])
    raise ValueError(f"condition {cond!r} is not one of {CONDITIONS} (or <white|pink><snr dB>)")


def apply_condition(clip: Clip, condition: str, seed: int, index: int) -> Clip:
    """The clean ``clip`` under ``condition``; the noise is seeded by (seed, index,
    condition), so every condition is reproducible on its own."""
    color, snr = _parse_condition(condition)
    if color == "clean":
        return replace(clip, name=f"{clip.family}/clean", condition="clean", snr_db=None, clean_audio=None)
    tag = int.from_bytes(hashlib.sha256(condition.encode()).digest()[:4], "little")
    rng = np.random.default_rng([seed, 1, index, tag])
    nz = noise(color, clip.audio.shape[0], rng, clip.sample_rate)
    y = mix_at_snr(clip.audio, nz, snr, clip.sample_rate).astype(np.float32)
    return replace(clip, name=f"{clip.family}/{condition}", audio=y, condition=condition, snr_db=snr,
                   clean_audio=clip.audio)


# --- the set --------------------------------------------------------------------------


def clean_clips(seed: int = 0, sample_rate: int = SAMPLE_RATE, clip_seconds: float = 6.0,
                families=None, midi: bool = True, soundfont: str = SOUNDFONT,
                cache_dir: str | None = None) -> tuple[list[Clip], str | None]:
    """The clean clips, and why the MIDI part was skipped (None when it was not).

    Parameters
    ----------
    seed : int
    sample_rate : int > 0 [Hz]
    clip_seconds : float > 0 [s]
        About how long each clip is (a note or phrase in progress finishes).
    families : sequence of str, optional
        Subset of ``FAMILIES + MIDI_FAMILIES`` (default: all).
    midi : bool
        Include the rendered MIDI families (when fluidsynth is available).
    """
    fams = list(FAMILIES + MIDI_FAMILIES) if families is None else list(families)
    unknown = [f for f in fams if f not in FAMILIES + MIDI_FAMILIES]
    if unknown:
        raise ValueError(f"unknown families {unknown}; available: {FAMILIES + MIDI_FAMILIES}")
    why_not = None
    if any(f in MIDI_FAMILIES for f in fams):
        why_not = "disabled" if not midi else midi_available(soundfont)
        if why_not is not None:
            fams = [f for f in fams if f not in MIDI_FAMILIES]
    out = []
    for f in fams:
        k = (FAMILIES + MIDI_FAMILIES).index(f)
        rng = np.random.default_rng([seed, 0, k])
        if f in FAMILIES:
            make, mono = _SYNTH[f]
            audio, times, f0, valid, onsets = _render(make(rng, sample_rate, clip_seconds), sample_rate)
            src = "synth"
        else:
            score = _quantise(_midi_score(f, rng, clip_seconds))
            x = _render_midi(_midi_bytes(score), sample_rate, soundfont, cache_dir)
            end = max(b for _, notes in score.values() for _, b, _, _ in notes) + 0.5
            x = x[: int(end * sample_rate)]
            x = x * (PEAK / max(np.abs(x).max(), 1e-12))
            times, f0, valid, onsets = _midi_truth(score, x, sample_rate, f)
            audio, mono, src = x.astype(np.float32), f != "midi_band", "midi"
        out.append(Clip(name=f"{f}/clean", audio=audio, sample_rate=sample_rate, condition="clean",
                        f0_times=times, f0_hz=f0, f0_valid=valid, onsets_s=onsets, family=f, source=src,
                        pitch_evaluable=mono))
    return out, why_not


def generate(seed: int = 0, sample_rate: int = SAMPLE_RATE, conditions=CONDITIONS, clip_seconds: float = 6.0,
             families=None, midi: bool = True, soundfont: str = SOUNDFONT,
             cache_dir: str | None = None) -> tuple[list[Clip], str | None]:
    """Every clip under every condition (condition-major), and why MIDI was skipped (or
    None). See :func:`clean_clips` for the parameters; ``conditions`` is a subset of
    ``CONDITIONS`` (or any ``white<snr>`` / ``pink<snr>``)."""
    base, why_not = clean_clips(seed, sample_rate, clip_seconds, families, midi, soundfont, cache_dir)
    order = list(FAMILIES + MIDI_FAMILIES)
    clips = [apply_condition(c, cond, seed, order.index(c.family)) for cond in conditions for c in base]
    return clips, why_not


def summary(clips: list[Clip]) -> str:
    """Lines describing the set: per family duration, onsets, scored pitch frames."""
    lines = [f"{'family':12} {'source':6} {'seconds':>8} {'onsets':>7} {'voiced':>7} {'unvoiced':>8} "
             f"{'not scored':>10}  monophonic"]
    seen = set()
    for c in clips:
        if c.family in seen:
            continue
        seen.add(c.family)
        v = c.f0_valid
        lines.append(f"{c.family:12} {c.source:6} {c.duration_s:8.1f} {len(c.onsets_s):7d} "
                     f"{int(np.sum(v & (c.f0_hz > 0))):7d} {int(np.sum(v & (c.f0_hz == 0))):8d} "
                     f"{int(np.sum(~v)):10d}  {c.pitch_evaluable}")
    conds = sorted({c.condition for c in clips}, key=lambda s: CONDITIONS.index(s) if s in CONDITIONS else 99)
    total = sum(c.duration_s for c in clips)
    lines.append(f"conditions: {', '.join(conds)}; {len(clips)} clips, {total:.0f} s of audio in all "
                 f"(pitch frames on a {GRID_S * 1000:.0f} ms grid)")
    return "\n".join(lines)


if __name__ == "__main__":
    import time

    t0 = time.perf_counter()
    cl, why = generate()
    print(summary(cl))
    if why:
        print(f"rendered MIDI skipped: {why}")
    print(f"generated in {time.perf_counter() - t0:.1f} s")
    sys.exit(0)

"""Seeded test material for ``bench_denoise.py``: clean signals, noises and their mixtures.

Clean signals (mono, float64, peak about 0.5), each starting with ``LEAD_S`` seconds of
silence (a take that starts with a moment of room tone, which is what the "learn from the
first second" variant of the spectral gate needs):

- ``music``: a tonal, music-like line: notes of a major scale (A3..A6) with 8-16
  slightly inharmonic partials (amplitude ``k**-1.1``), percussive or sustained envelopes
  (attack 5-40 ms, exponential decay), sometimes two-note chords and overlapping tails.
- ``speech``: a speech-like signal: a glottal pulse train (f0 95-230 Hz with slow
  intonation and 1 % jitter, low-passed) through three formant resonators per syllable
  (F1 300-850 Hz, F2 850-2400 Hz, F3 2400-3200 Hz), syllables of 120-320 ms under a
  raised-cosine envelope (about 4 syllables/s), phrases of 2-6 syllables separated by
  150-550 ms pauses, and unvoiced bursts (band-passed noise 2.5-9 kHz, 40-120 ms) before
  some syllables.

Noises (:data:`NOISES`): ``white``, ``pink`` (1/f power from 20 Hz), ``hum`` (50 Hz and
19 harmonics, odd ones stronger, plus a faint white floor 50 dB down) are stationary;
``babble`` (six independent speech-like talkers summed, different f0 and timing) and
``passing`` (broadband Gaussian noise whose level rises and falls by about 18 dB and
whose spectral band sweeps up and down over a few seconds, like a vehicle passing, on top
of a constant floor 25 dB below its peak) are not.

:func:`mixture` scales the noise to the requested SNR over the whole signal
(``10 log10(sum s^2 / sum n^2)``) and also returns a separate noise clip: another
realisation of the same noise process (different seed), for the methods that learn a
profile from a clip.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

__all__ = ["SR", "SECONDS", "LEAD_S", "CLEAN", "NOISES", "STATIONARY", "NONSTATIONARY",
           "clean", "noise", "mixture"]

SR = 48000
SECONDS = 8.0
LEAD_S = 1.0
CLEAN = ("music", "speech")
STATIONARY = ("white", "pink", "hum")
NONSTATIONARY = ("babble", "passing")
NOISES = STATIONARY + NONSTATIONARY


# -- clean signals -----------------------------------------------------------------------

def _music(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    y = np.zeros(n)
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    t = 0.0
    total = n / sr
    while t < total - 0.1:
        dur = rng.uniform(0.18, 0.8)
        notes = 1 if rng.random() < 0.7 else 2
        for j in range(notes):
            degree = rng.integers(0, 21)
            midi = 57 + 12 * (degree // 7) + scale[degree % 7] + (0 if j == 0 else -12)
            f0 = 440.0 * 2 ** ((midi - 69) / 12)
            length = int((dur + rng.uniform(0.1, 0.6)) * sr)  # the tail overlaps the next note
            i0 = int(t * sr)
            length = min(length, n - i0)
            if length <= 0:
                continue
            tt = np.arange(length) / sr
            attack = rng.uniform(0.005, 0.04)
            decay = rng.uniform(0.25, 1.5) if rng.random() < 0.5 else rng.uniform(1.5, 4.0)
            env = np.minimum(tt / attack, 1.0) * np.exp(-tt / decay)
            release = np.clip((length / sr - tt) / 0.03, 0.0, 1.0)  # 30 ms fade at the end
            env *= release
            note = np.zeros(length)
            n_part = rng.integers(8, 17)
            b = rng.uniform(0, 2e-4)
            for k in range(1, n_part + 1):
                fk = f0 * k * np.sqrt(1 + b * k * k)
                if fk > 0.4 * sr:
                    break
                note += k ** -1.1 * np.sin(2 * np.pi * fk * tt + rng.uniform(0, 2 * np.pi)) \
                    * np.exp(-tt * k * rng.uniform(0.0, 0.6))
            y[i0 : i0 + length] += (0.6 if j == 0 else 0.35) * env * note
        t += dur
    return y


def _speech(n: int, sr: int, rng: np.random.Generator, f0_base: float | None = None) -> np.ndarray:
    y = np.zeros(n)
    f0_base = rng.uniform(95, 230) if f0_base is None else f0_base
    t = rng.uniform(0.0, 0.2)
    total = n / sr
    lp_b, lp_a = scipy.signal.butter(2, 900 / (sr / 2))  # glottal spectral tilt
    while t < total - 0.15:
        for _ in range(rng.integers(2, 7)):  # one phrase
            dur = rng.uniform(0.12, 0.32)
            i0, length = int(t * sr), int(dur * sr)
            if i0 + length >= n:
                break
            if rng.random() < 0.4:  # unvoiced burst before the vowel
                bl = int(rng.uniform(0.04, 0.12) * sr)
                if i0 + bl < n:
                    lo = rng.uniform(2500, 5000)
                    sos = scipy.signal.butter(4, [lo, min(lo * 2.2, 9000)], "bandpass", fs=sr, output="sos")
                    burst = scipy.signal.sosfilt(sos, rng.standard_normal(bl))
                    burst *= np.hanning(bl) * rng.uniform(0.08, 0.2) / (np.std(burst) + 1e-12)
                    y[i0 : i0 + bl] += burst
                    i0 += bl // 2
                    length = min(length, n - i0)
            tt = np.arange(length) / sr
            f0 = f0_base * (1 + 0.15 * np.sin(2 * np.pi * 0.5 * (t + tt) + 1.0)) \
                * (1 + 0.01 * rng.standard_normal(length).cumsum() / np.sqrt(np.arange(1, length + 1)))
            phase = np.cumsum(f0 / sr)
            pulses = np.diff(np.floor(phase), prepend=np.floor(phase[0])).astype(float)
            src = scipy.signal.lfilter(lp_b, lp_a, pulses)
            formants = (rng.uniform(300, 850), rng.uniform(850, 2400), rng.uniform(2400, 3200))
            v = src
            for f, bw in zip(formants, (80.0, 120.0, 180.0)):
                r = np.exp(-np.pi * bw / sr)
                v = scipy.signal.lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * f / sr), r * r], v)
            env = np.sin(np.pi * tt / (length / sr)) ** 1.5
            v = v * env / (np.std(v) + 1e-12)
            y[i0 : i0 + length] += 0.25 * v
            t = (i0 + length) / sr + rng.uniform(0.0, 0.06)
        t += rng.uniform(0.15, 0.55)  # pause between phrases
    return y


def clean(kind: str, seed: int, seconds: float = SECONDS, sr: int = SR) -> np.ndarray:
    """The clean signal ``kind`` (one of :data:`CLEAN`), ``LEAD_S`` s of silence first,
    peak-normalised to 0.5."""
    rng = np.random.default_rng(seed)
    n, lead = int(seconds * sr), int(LEAD_S * sr)
    y = np.zeros(n)
    body = {"music": _music, "speech": _speech}[kind](n - lead, sr, rng)
    y[lead:] = body
    return 0.5 * y / np.abs(y).max()


# -- noises ------------------------------------------------------------------------------

def _pink(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    spec /= np.sqrt(np.maximum(f, 20.0))
    return np.fft.irfft(spec, n)


def _hum(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    y = np.zeros(n)
    amps = np.random.default_rng(7).uniform(0.3, 1.0, 20)  # the same hum for every seed
    phases = np.random.default_rng(8).uniform(0, 2 * np.pi, 20)
    for k in range(1, 21):
        y += amps[k - 1] * (1.0 if k % 2 else 0.4) / k ** 0.7 * np.sin(2 * np.pi * 50 * k * t + phases[k - 1])
    y /= np.std(y)
    return y + 10 ** (-50 / 20) * rng.standard_normal(n)


def _babble(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    y = np.zeros(n)
    for _ in range(6):
        s = _speech(n, sr, np.random.default_rng(rng.integers(1 << 31)))
        y += s / (np.std(s) + 1e-12)
    return y


def _passing(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    nper = 1024
    hop = nper // 2
    n_frames = n // hop + 3
    f = np.fft.rfftfreq(nper, 1 / sr)
    t = np.arange(n_frames) * hop / sr
    period = rng.uniform(3.0, 4.5)
    phase = rng.uniform(0, 2 * np.pi)
    level_db = 18 * 0.5 * (1 - np.cos(2 * np.pi * t / period + phase))  # 0..18 dB and back
    centre = 400 * 2 ** (3.0 * 0.5 * (1 - np.cos(2 * np.pi * t / period + phase)))  # 400 Hz..3.2 kHz
    band = np.exp(-0.5 * (np.log2(np.maximum(f, 10.0)[None, :] / centre[:, None]) / 1.2) ** 2)
    amp = 10 ** (level_db / 20)[:, None] * band + 10 ** (-25 / 20) * 10 ** (18 / 20)
    Z = (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape)) * amp
    _, y = scipy.signal.istft(Z.T, fs=sr, nperseg=nper, noverlap=nper - hop)
    return y[:n]


_NOISE = {"white": lambda n, sr, rng: rng.standard_normal(n), "pink": _pink, "hum": _hum,
          "babble": _babble, "passing": _passing}


def noise(kind: str, seed: int, seconds: float = SECONDS, sr: int = SR) -> np.ndarray:
    """Unit-RMS noise of ``kind`` (one of :data:`NOISES`)."""
    y = _NOISE[kind](int(seconds * sr), sr, np.random.default_rng(seed))
    return y / np.sqrt(np.mean(y * y))


def mixture(clean_kind: str, noise_kind: str, snr_db: float, seed: int = 0,
            clip_seconds: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mix, clean, noise_clip)``: the clean signal plus noise at ``snr_db`` over the
    whole signal, and an independent noise clip of the same kind and scale, all float32."""
    s = clean(clean_kind, seed=1000 + seed + 17 * CLEAN.index(clean_kind))
    nz = noise(noise_kind, seed=2000 + seed + 31 * NOISES.index(noise_kind))
    g = np.sqrt(np.sum(s * s) / np.sum(nz * nz)) * 10 ** (-snr_db / 20)
    clip = noise(noise_kind, seed=3000 + seed + 31 * NOISES.index(noise_kind), seconds=clip_seconds)
    f32 = np.float32
    return (s + g * nz).astype(f32), s.astype(f32), (g * clip).astype(f32)

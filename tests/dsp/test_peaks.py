"""Online onset picking and sample refinement: a naive reference of the documented rule,
streaming-equals-batch over random partitions, known answers on clicks / bursts / plucked
tones (frame and sample), no onsets on steady signals, slow attacks, the minimum
inter-onset interval, vibrato, band columns, stream errors and bad parameters."""

import math
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.dsp import onset as O
from fluxstream.dsp.framing import frame_signal
from fluxstream.dsp.peaks import ONSET_DTYPE, OnsetPicker, SampleRefiner, refine_onset_sample
from fluxstream.dsp.spectral import fft_frequencies
from fluxstream.dsp.stft import WindowedFFT, stft
from fluxstream.errors import ConfigError
from tests.helpers import split

SR, N_FFT, HOP = 48000, 2048, 512
MS = SR // 1000  # samples per millisecond


def everything(picker, odf):
    """One call and a flush: the batch reference."""
    return np.concatenate([picker.pick(odf, 0), picker.flush()])


# -- the documented rule, written out frame by frame -------------------------------------

def naive_pick(odf, *, A, W, look, ioi, R, warm, ratio, thr, method, decay=None, floor=1e-6):
    """Onsets by the rule in OnsetPicker's Notes, one channel and column at a time, in
    Python floats. Returns (channel, column, frame, peak_frame, decided_frame, strength)."""
    C, n, M = odf.shape
    D = max(1, look)
    rows = []
    for c in range(C):
        for m in range(M):
            v = [float(x) for x in odf[c, :, m]]
            if decay is None:
                u = v
            else:
                u, r = [], 0.0
                for x in v:
                    r = max(x, r * decay)
                    u.append(x / max(r, floor))

            def at(j):
                return u[j] if j >= 0 else 0.0  # before the stream: 0

            last = None
            for p in range(n):
                past = [at(p - a) for a in range(A, 0, -1)]
                avg = (sum(past) / A if method == "mean" else statistics.median(past)) if A else 0.0
                level = ratio * avg + thr
                is_peak = (u[p] > level and all(u[p] >= at(p - w) for w in range(1, W + 1))
                           and all(u[p] > f for f in u[p + 1 : p + 1 + D]))
                if not is_peak or p < warm or (last is not None and p - last < ioi):
                    continue
                last = p
                q = p
                while q - 1 >= max(0, p - R) and v[q - 1] <= v[q] and u[q - 1] > level:
                    q -= 1
                rows.append((c, m, q, p, min(p + D, n - 1), float(np.float32(v[p]))))
    rows.sort(key=lambda r: (r[3], r[0], r[1]))
    return rows


configs = st.fixed_dictionaries({
    "A": st.sampled_from([0, 1, 2, 4, 8]),  # powers of two: the mean of integers is exact
    "W": st.integers(0, 3),
    "look": st.integers(0, 3),
    "ioi": st.integers(0, 4),
    "R": st.integers(0, 4),
    "warm": st.integers(0, 5),
    "ratio": st.sampled_from([1.0, 2.0, 0.5]),
    "thr": st.sampled_from([0.0, 0.5, 1.0]),
    "method": st.sampled_from(["mean", "median"]),
    "norm": st.booleans(),
})


def picker_for(cfg):
    """OnsetPicker at 100 frames/s, so that seconds = frames / 100."""
    return OnsetPicker(hop_length=1, sample_rate=100, threshold=cfg["thr"], ratio=cfg["ratio"],
                       pre_avg_s=cfg["A"] / 100, pre_max_s=cfg["W"] / 100, lookahead_frames=cfg["look"],
                       min_ioi_s=cfg["ioi"] / 100, method=cfg["method"], max_rise_frames=cfg["R"],
                       warmup_frames=cfg["warm"], norm_decay_s=0.05 if cfg["norm"] else None, norm_floor=0.5)


@given(cfg=configs, n=st.integers(0, 60), seed=st.integers(0, 2 ** 32 - 1))
def test_picker_equals_the_naive_rule(cfg, n, seed):
    if cfg["norm"] and cfg["method"] == "mean" and cfg["A"] > 2:
        cfg["A"] = 2  # normalised values are not integers: keep sums whose order cannot matter
    g = np.random.default_rng(seed)
    odf = g.integers(0, 6, (2, n, 2)).astype(np.float32)  # small integers: ties and plateaus happen
    pk = picker_for(cfg)
    assert (pk.pre_avg_frames, pk.pre_max_frames, pk.min_ioi_frames) == (cfg["A"], cfg["W"], cfg["ioi"])
    got = everything(pk, odf).tolist()
    want = naive_pick(odf, A=cfg["A"], W=cfg["W"], look=cfg["look"], ioi=cfg["ioi"], R=cfg["R"], warm=cfg["warm"],
                      ratio=cfg["ratio"], thr=cfg["thr"], method=cfg["method"],
                      decay=math.exp(-1 / (100 * 0.05)) if cfg["norm"] else None, floor=0.5)
    assert got == want


def test_picker_known_peaks():
    odf = np.zeros((1, 30, 1), np.float32)
    odf[0, 5:9, 0] = [1.8, 2.5, 4, 3]  # peak 7; threshold there (0 + 1.8 + 2.5) / 3 + 0.1
    odf[0, 15:18, 0] = [5, 5, 1]  # plateau: peaks at its last frame, rises at its first
    odf[0, 22:25, 0] = [0.05, 2, 0]  # frame 22 is below the threshold: the rise starts at 23
    pk = OnsetPicker(hop_length=1, sample_rate=100, threshold=0.1, ratio=1.0, pre_avg_s=0.03, pre_max_s=0.02,
                     min_ioi_s=0.0, warmup_frames=0)
    on = everything(pk, odf)
    assert on["peak_frame"].tolist() == [7, 16, 23]
    assert on["frame"].tolist() == [5, 15, 23]
    assert on["decided_frame"].tolist() == [8, 17, 24]
    np.testing.assert_array_equal(on["strength"], [4, 5, 2])
    assert on.dtype == ONSET_DTYPE


# -- streaming equals batch ----------------------------------------------------------------

PRESETS = [
    {},
    {"method": "median", "lookahead_frames": 3},
    {"norm_decay_s": 0.2, "norm_floor": 0.05, "threshold": 0.1, "ratio": 1.2},
    {"pre_avg_s": 0.0, "pre_max_s": 0.0, "min_ioi_s": 0.0, "max_rise_frames": 0, "warmup_frames": 0},
    {"lookahead_frames": 2, "min_ioi_s": 0.08, "warmup_frames": 3, "method": "median", "norm_decay_s": 1.0},
]


@given(sizes=st.lists(st.integers(0, 9), min_size=1, max_size=12), n=st.integers(0, 120),
       which=st.integers(0, len(PRESETS) - 1), explicit=st.booleans(), seed=st.integers(0, 2 ** 32 - 1))
def test_picker_streaming_equals_batch(sizes, n, which, explicit, seed):
    kw = {"hop_length": 1, "sample_rate": 100, "threshold": 0.3, "ratio": 1.0, **PRESETS[which]}
    g = np.random.default_rng(seed)
    odf = (g.random((2, n, 3)) ** 4 * 3).astype(np.float32)
    batch = everything(OnsetPicker(**kw), odf)
    pk = OnsetPicker(**kw)
    k, parts = 0, []
    for chunk in split(np.moveaxis(odf, 1, 0), sizes):
        chunk = np.moveaxis(chunk, 0, 1)
        parts.append(pk.pick(chunk, k if explicit else None))
        parts.append(pk.pick(odf[:, :0], k + chunk.shape[1]))  # empty calls, with the right index
        k += chunk.shape[1]
    parts.append(pk.flush())
    streamed = np.concatenate(parts)
    assert streamed.dtype == ONSET_DTYPE
    assert streamed.tolist() == batch.tolist()
    # Onsets decided in pick() come delay_frames after their peak, flushed ones at the end.
    assert np.all(streamed["decided_frame"] - streamed["peak_frame"] <= pk.delay_frames)
    assert np.all(streamed["frame"] <= streamed["peak_frame"])
    assert np.all(streamed["peak_frame"] - streamed["frame"] <= pk.max_rise_frames)


@pytest.mark.parametrize("which", range(len(PRESETS)))
def test_picker_one_frame_calls_equal_batch(which):
    # A live hop feeds one frame of one detection function: the picker's own path for it
    # must decide exactly what the batch decides (peaks, rises, ioi, warm-up).
    kw = {"hop_length": 1, "sample_rate": 100, "threshold": 0.3, "ratio": 1.0, **PRESETS[which]}
    g = np.random.default_rng(which)
    odf = (g.random((1, 400, 1)) ** 4 * 3).astype(np.float32)
    odf[0, 100:110, 0] = np.linspace(0, 5, 10)  # a rise, and a plateau of equal values
    odf[0, 110:113, 0] = 5.0
    batch = everything(OnsetPicker(**kw), odf)
    pk = OnsetPicker(**kw)
    parts = [pk.pick(odf[:, k : k + 1]) for k in range(odf.shape[1])] + [pk.flush()]
    streamed = np.concatenate(parts)
    assert len(batch) > 10
    assert streamed.tolist() == batch.tolist()


def test_stream_clock_offset_and_errors(rng):
    odf = (rng.random((1, 80, 1)) ** 4 * 3).astype(np.float32)
    ref = everything(OnsetPicker(hop_length=1, sample_rate=100, threshold=0.3), odf)
    pk = OnsetPicker(hop_length=1, sample_rate=100, threshold=0.3)
    on = np.concatenate([pk.pick(odf[:, :50], 1000), pk.pick(odf[:, 50:]), pk.flush()])
    for f in ("frame", "peak_frame", "decided_frame"):  # the same onsets on a clock starting at 1000
        np.testing.assert_array_equal(on[f], ref[f] + 1000)
    with pytest.raises(RuntimeError, match="flush"):
        pk.pick(odf[:, :1], 1080)
    assert pk.flush().shape == (0,)
    pk.reset()
    pk.pick(odf[:, :10], 0)
    with pytest.raises(ValueError, match="first_index=11 but the next frame of this stream is 10"):
        pk.pick(odf[:, 10:20], 11)
    with pytest.raises(ValueError, match="reset"):
        pk.pick(np.zeros((2, 3, 1), np.float32), 10)  # another channel count
    with pytest.raises(ValueError, match="channels, n_frames, n_columns"):
        pk.pick(np.zeros((3, 1), np.float32))
    with pytest.raises(TypeError, match="first_index"):
        pk.pick(odf[:, 10:11], 10.0)
    # reset(): the same results again, on the same buffers.
    buf = pk._hist_u
    assert pk.reset() is None and pk.reset() is None
    assert everything(pk, odf).tolist() == ref.tolist() and pk._hist_u is buf


def test_latency_is_data():
    for look, expected in [(0, 1), (1, 1), (3, 3)]:
        pk = OnsetPicker(lookahead_frames=look, hop_length=256, sample_rate=16000)
        assert pk.causal is True and pk.delay_frames == expected
        assert pk.latency_samples == expected * 256 and pk.hop == 256
        odf = np.zeros((1, 40, 1), np.float32)
        odf[0, 20] = 10.0
        on = pk.pick(odf, 0)
        assert on["peak_frame"].tolist() == [20] and on["decided_frame"].tolist() == [20 + expected]
        # A peak in the last frames is decided only at flush(), with the last frame.
        tail = np.zeros((1, 30, 1), np.float32)
        tail[0, -1] = 10.0
        pk.reset()
        assert pk.pick(tail, 0).shape == (0,)
        on = pk.flush()
        assert on["peak_frame"].tolist() == [29] and on["decided_frame"].tolist() == [29]


def test_warmup_frames():
    odf = np.zeros((1, 30, 1), np.float32)
    odf[0, [3, 15]] = 10.0
    assert everything(OnsetPicker(), odf)["peak_frame"].tolist() == [15]  # warm-up = pre_avg: 10 frames
    assert OnsetPicker().warmup_frames == OnsetPicker().pre_avg_frames == 10  # ceil(0.1 s * 93.75 /s)
    assert everything(OnsetPicker(warmup_frames=0), odf)["peak_frame"].tolist() == [3, 15]


def test_normalisation_makes_the_threshold_relative():
    """With a decaying running maximum, scaling the ODF (and the floor) changes nothing; the
    raw strength is reported."""
    g = np.random.default_rng(7)
    odf = (g.random((1, 200, 1)) ** 6 * 2).astype(np.float32)
    kw = {"hop_length": 1, "sample_rate": 100, "threshold": 0.2, "norm_decay_s": 0.5}
    a = everything(OnsetPicker(norm_floor=1e-3, **kw), odf)
    b = everything(OnsetPicker(norm_floor=1.0, **kw), odf * np.float32(1000))
    assert len(a) > 5
    assert a[["frame", "peak_frame"]].tolist() == b[["frame", "peak_frame"]].tolist()
    np.testing.assert_allclose(b["strength"], 1000 * a["strength"], rtol=1e-6)
    # Without normalisation the same threshold on the scaled ODF means something else.
    c = everything(OnsetPicker(hop_length=1, sample_rate=100, threshold=0.2), odf * np.float32(1000))
    assert c["peak_frame"].tolist() != a["peak_frame"].tolist()


def test_controls_are_settable_and_checked():
    pk = OnsetPicker()
    pk.threshold = 2.5
    pk.ratio = 1.5
    assert (pk.threshold, pk.ratio) == (2.5, 1.5)
    with pytest.raises(ConfigError, match="threshold=-1"):
        pk.threshold = -1
    with pytest.raises(ConfigError, match="ratio=nan"):
        pk.ratio = float("nan")


# -- signals -----------------------------------------------------------------------------

ONSETS = [9001, 21350, 33333, 47123, 60500]  # samples
LENGTH = 72000


def clicks(rng):
    x = 1e-4 * rng.standard_normal(LENGTH)
    x[ONSETS] += 0.8
    return x.astype(np.float32)


def bursts(rng):
    x = 1e-4 * rng.standard_normal(LENGTH)
    for s in ONSETS:
        x[s : s + 3000] += 0.3 * rng.standard_normal(3000)
    return x.astype(np.float32)


def plucks(rng):
    x = 1e-4 * rng.standard_normal(LENGTH)
    for i, s in enumerate(ONSETS):
        t = np.arange(LENGTH - s) / SR
        f0 = 196.0 * 2 ** (i * 5 / 12)
        x[s:] += 0.3 * np.exp(-t / 0.08) * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 6))
    return x.astype(np.float32)


def first_frame_of(s):
    """The first centred frame whose window [k*HOP - N_FFT/2, k*HOP + N_FFT/2) holds s."""
    return (s - N_FFT // 2) // HOP + 1


def live_frames(x):
    """Centred frames lying wholly inside x: a live stream cut short, with no end padding."""
    frames = frame_signal(x, N_FFT, HOP)
    return frames[:, : (len(x) - N_FFT // 2) // HOP + 1]


#: One picker setting for every signal below: the defaults, documented as meant for the
#: log-compressed flux ODFs on n_fft=2048 magnitudes (these tests check that claim).
PICK = {}


def run_stream(x, make_odf, complex_input=False, frames_per_call=1, spectra=None, **pick):
    """The engine's tick: frames -> refiner, FFT -> ODF -> picker, then refine each onset
    at once. Returns the onsets and their refined samples. ``spectra``: precomputed (the
    FFT's last-bit rounding may depend on its plan and batch size, which is not ours)."""
    frames = live_frames(x)
    fft = WindowedFFT(N_FFT)
    odf, pk, rf = make_odf(), OnsetPicker(**{**PICK, **pick}), SampleRefiner(N_FFT, HOP)
    onsets, samples = [], []
    for k in range(0, frames.shape[1], frames_per_call):
        chunk = frames[:, k : k + frames_per_call]
        rf.process(chunk, k)
        X = fft.process(chunk) if spectra is None else spectra[:, k : k + frames_per_call]
        v = odf.process(X if complex_input else np.abs(X))
        for o in pk.pick(v[..., None], k):
            onsets.append(o)
            samples.append(rf.refine(int(o["channel"]), int(o["frame"])))
    for o in pk.flush():
        onsets.append(o)
        samples.append(rf.refine(int(o["channel"]), int(o["frame"])))
    return np.array(onsets, dtype=ONSET_DTYPE), np.array(samples)


KNOWN = [
    ("clicks", clicks, lambda: O.SpectralFluxOdf(), False),
    ("clicks", clicks, lambda: O.SuperFluxOdf(), False),
    ("clicks", clicks, lambda: O.ComplexDomainOdf(), True),
    ("clicks", clicks, lambda: O.EnergyOdf(), False),
    ("bursts", bursts, lambda: O.SpectralFluxOdf(), False),
    ("bursts", bursts, lambda: O.SuperFluxOdf(), False),
    ("plucks", plucks, lambda: O.SpectralFluxOdf(), False),
    ("plucks", plucks, lambda: O.SuperFluxOdf(), False),
    ("plucks", plucks, lambda: O.ComplexDomainOdf(rectify=True), True),
]


@pytest.mark.parametrize("name,signal,make_odf,cplx", KNOWN, ids=[f"{k[0]}-{i}" for i, k in enumerate(KNOWN)])
def test_known_onsets_frame_and_sample(name, signal, make_odf, cplx, rng):
    x = signal(rng)
    on, samples = run_stream(x, make_odf, cplx, frames_per_call=3 if name == "bursts" else 1)
    assert on["peak_frame"].tolist() == sorted(on["peak_frame"].tolist())
    assert len(on) == len(ONSETS), on
    expected = np.array([first_frame_of(s) for s in ONSETS])
    assert np.all(np.abs(on["frame"] - expected) <= 1), (on["frame"], expected)
    err = samples - np.array(ONSETS)
    assert np.all(np.abs(err) <= MS), err  # within 1 ms
    if name != "plucks":
        assert np.all(err == 0), err  # a click, or noise after near-silence: to the sample


def test_streaming_pipeline_is_partition_independent(rng):
    x = plucks(rng)
    X = WindowedFFT(N_FFT).process(live_frames(x)).copy()
    a = run_stream(x, lambda: O.SuperFluxOdf(), frames_per_call=1, spectra=X)
    b = run_stream(x, lambda: O.SuperFluxOdf(), frames_per_call=7, spectra=X)
    assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()


def _tone(seconds, f0=261.6, n_harm=6, amp=0.3):
    t = np.arange(int(seconds * SR)) / SR
    return (amp * sum(np.sin(2 * np.pi * h * f0 * t + h) / h for h in range(1, n_harm + 1))).astype(np.float32)


@pytest.mark.parametrize("what", ["sine", "harmonic tone", "silence", "noise", "loud noise"])
@pytest.mark.parametrize("make_odf,cplx", [(lambda: O.SpectralFluxOdf(), False), (lambda: O.SuperFluxOdf(), False),
                                           (lambda: O.ComplexDomainOdf(), True)])
def test_steady_signals_give_no_onsets_after_the_warmup(what, make_odf, cplx):
    g = np.random.default_rng(11)
    n = SR  # one second
    x = {"sine": (0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / SR)).astype(np.float32),
         "harmonic tone": _tone(1.0),
         "silence": np.zeros(n, np.float32),
         "noise": (0.1 * g.standard_normal(n)).astype(np.float32),
         "loud noise": (0.7 * g.standard_normal(n)).astype(np.float32)}[what]
    on, _ = run_stream(x, make_odf, cplx, frames_per_call=4)
    warm = OnsetPicker(**PICK).warmup_frames
    assert warm == 10
    assert len(on) == 0 or on["peak_frame"].min() >= warm
    assert len(on) == 0, on
    # The signals start at full level at sample 0: with no warm-up, that start may count.
    on0, _ = run_stream(x, make_odf, cplx, frames_per_call=4, warmup_frames=0)
    assert np.all(on0["peak_frame"] < warm)


@pytest.mark.parametrize("make_odf", [lambda: O.SpectralFluxOdf(), lambda: O.SuperFluxOdf()])
@pytest.mark.parametrize("attack_s", [0.05, 0.3])
def test_slow_attack_is_found_once(make_odf, attack_s):
    start = 19000
    x = _tone(1.5)
    t = np.arange(len(x))
    x = (x * np.clip((t - start) / (attack_s * SR), 0, 1)).astype(np.float32)
    on, samples = run_stream(x, make_odf)
    assert len(on) == 1, on
    assert first_frame_of(start) - 1 <= on["frame"][0] <= first_frame_of(start + int(attack_s * SR))
    assert start - MS <= samples[0] <= start + attack_s * SR


def test_repeated_notes_closer_than_min_ioi_give_one_onset(rng):
    x = 1e-4 * rng.standard_normal(SR).astype(np.float32)
    x[20000] += 0.5
    x[20000 + 20 * MS] += 0.9  # 20 ms later, louder: its own peak two frames on
    both, _ = run_stream(x, lambda: O.SpectralFluxOdf(), min_ioi_s=0.0)
    assert len(both) == 2  # the second click is a separate peak...
    assert np.diff(both["peak_frame"])[0] * HOP / SR < 0.03
    one, samples = run_stream(x, lambda: O.SpectralFluxOdf(), min_ioi_s=0.03)
    assert len(one) == 1  # ...closer than min_ioi_s: dropped
    assert one["peak_frame"][0] == both["peak_frame"][0] and samples[0] == 20000


def _vibrato_note(depth_semitones=0.5, rate_hz=6.0):
    """A harmonic note from 0.3 s to the end, pitch swinging +-depth at rate_hz."""
    n = int(2.5 * SR)
    t = np.arange(n) / SR
    x = 1e-4 * np.random.default_rng(3).standard_normal(n)
    on = t >= 0.3
    tt = t[on] - 0.3
    phase = 2 * np.pi * np.cumsum(440.0 * 2 ** (depth_semitones / 12 * np.sin(2 * np.pi * rate_hz * tt))) / SR
    x[on] += 0.2 * np.minimum(1, tt / 0.005) * sum(np.sin(h * phase) / h for h in range(1, 6))
    return x.astype(np.float32)


def test_superflux_suppresses_vibrato():
    """Same picker, each ODF's threshold at 5 % of its own value at the real onset: plain
    flux fires on the vibrato, SuperFlux does not (or far less)."""
    x = _vibrato_note()
    S = np.abs(stft(x, N_FFT, HOP))[None, : (len(x) - N_FFT // 2) // HOP + 1]
    true = first_frame_of(int(0.3 * SR))
    false = {}
    for name, odf in [("flux", O.spectral_flux_odf(S)), ("superflux", O.superflux_odf(S))]:
        peak = odf[0, true - 1 : true + 4].max()
        on = everything(OnsetPicker(threshold=0.05 * float(peak), ratio=1.0), odf[..., None])
        near = np.abs(on["frame"] - true) <= 1
        assert near.sum() == 1, name  # the real onset, once
        false[name] = int((~near).sum())
    assert false["flux"] >= 8
    assert false["superflux"] <= false["flux"] // 5


def test_band_columns():
    """A low thump and a high click at different times: a band ODF puts each onset in its
    band's column."""
    g = np.random.default_rng(5)
    x = 1e-4 * g.standard_normal(SR)
    t = np.arange(SR - 15000) / SR
    # 80 Hz with a 20 ms attack (an abrupt start would splatter into band 1): band 0
    x[15000:] += 0.5 * np.minimum(1, t / 0.02) * np.exp(-t / 0.1) * np.sin(2 * np.pi * 80 * t)
    hp = np.diff(g.standard_normal(400), n=3)[:300]  # a short high-passed noise click, band 2
    x[33000 : 33000 + 300] += 0.2 * hp / np.abs(hp).max()
    freqs = fft_frequencies(SR, N_FFT)
    S = np.abs(stft(x.astype(np.float32), N_FFT, HOP))[None, : (SR - N_FFT // 2) // HOP + 1]
    odf = O.BandOdf(freqs, (0, 200, 2000, math.inf)).process(S)
    on = everything(OnsetPicker(**PICK), odf)
    got = sorted((int(o["column"]), int(o["frame"])) for o in on)
    assert [c for c, _ in got] == [0, 2], got
    assert abs(got[0][1] - first_frame_of(15000)) <= 1 and abs(got[1][1] - first_frame_of(33000)) <= 1


# -- refinement --------------------------------------------------------------------------

def test_refine_onset_sample_known_answers(rng):
    x = np.zeros(3000, np.float32)
    x[1234] = 1.0
    assert refine_onset_sample(x, 0, 3000, SR) == 1234
    assert refine_onset_sample(x, 1000, 2000, SR) == 1234
    # A step in white noise (40 dB up) and a unit step: found to the sample.
    y = 0.01 * rng.standard_normal(4000)
    y[2500:] += rng.standard_normal(1500)
    assert refine_onset_sample(y.astype(np.float32), 500, 4000, SR) == 2500
    z = np.zeros(2000)
    z[300:400] = 0.1  # an earlier, smaller rise
    z[1500:] = 1.0
    assert refine_onset_sample(z, 0, 2000, SR) == 1500  # the largest rise wins
    assert refine_onset_sample(z, 0, 2000, SR, window_ms=5.0, fraction=0.5) == 1500
    # A sine starting at phase 0 (its energy builds up over the first period): within 0.2 ms.
    t = np.arange(3000 - 1700) / SR
    s = np.zeros(3000)
    s[1700:] = np.sin(2 * np.pi * 220 * t)
    assert abs(refine_onset_sample(s + 1e-4 * rng.standard_normal(3000), 0, 3000, SR) - 1700) <= 0.2 * MS
    # Nothing rises: the start of the stretch.
    assert refine_onset_sample(np.zeros(100), 10, 90, SR) == 10
    assert refine_onset_sample(np.linspace(1, 0, 500), 100, 500, SR) == 100  # context before 100: falling
    # ...but samples before x[0] count as zeros for the envelope: a signal at full level from
    # x[0] starts in the first envelope window (the change point has no sample before x[0]).
    assert refine_onset_sample(np.linspace(1, 0, 500), 0, 500, SR) <= MS
    # The change point may use samples before start: an attack at start is found there.
    assert refine_onset_sample(z, 1500, 2000, SR) == 1500
    for bad, match in [({"window_ms": 0}, "window_ms=0"), ({"fraction": 1.0}, "fraction=1.0"),
                       ({"sample_rate": -1}, "sample_rate=-1")]:
        with pytest.raises(ConfigError, match=match):
            refine_onset_sample(x, 0, 100, **{"sample_rate": SR, **bad})
    with pytest.raises(ValueError, match="start=50, stop=50"):
        refine_onset_sample(x, 50, 50, SR)
    with pytest.raises(ValueError, match="n_samples"):
        refine_onset_sample(x[None], 0, 5, SR)


def test_sample_refiner_keeps_the_stream_clock(rng):
    x = clicks(rng)
    frames = live_frames(x)
    # A stream whose frame clock starts at frame 30 (its first 30 frames were not seen).
    rf = SampleRefiner(N_FFT, HOP, history_frames=200)
    out = rf.process(frames[:, 30:], 30)
    assert out.shape == (1, frames.shape[1] - 30, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[..., 0], np.mean(frames[:, 30:].astype(np.float64) ** 2, axis=-1), rtol=1e-5)
    for s in ONSETS[1:]:
        assert rf.refine(0, first_frame_of(s)) == s
        assert rf.refine(0, first_frame_of(s) + 1) == s  # the next frame's span holds it too
    assert rf.newest_frame == frames.shape[1] - 1
    with pytest.raises(ValueError, match="frame=3 is not held"):
        rf.refine(0, 3)
    with pytest.raises(ValueError, match="channel=1"):
        rf.refine(1, 100)
    # Partition independence, empty calls, reset.
    rf2 = SampleRefiner(N_FFT, HOP, history_frames=200)
    k = 30
    for chunk in split(np.moveaxis(frames[:, 30:], 1, 0), [0, 1, 5, 0, 17, 2]):
        rf2.process(np.moveaxis(chunk, 0, 1), k)
        k += chunk.shape[0]
    assert [rf2.refine(0, first_frame_of(s)) for s in ONSETS[1:]] == ONSETS[1:]
    with pytest.raises(ValueError, match="first_index=5"):
        rf2.process(frames[:, :1], 5)
    buf = rf2._buf
    assert rf2.reset() is None and rf2.reset() is None
    with pytest.raises(ValueError, match="no frames"):
        rf2.refine(0, 0)
    rf2.process(frames, 0)
    assert rf2._buf is buf and rf2.refine(0, first_frame_of(ONSETS[-1])) == ONSETS[-1]


@given(sizes=st.lists(st.integers(0, 9), min_size=1, max_size=10), seed=st.integers(0, 2 ** 32 - 1),
       start=st.integers(0, 5))
def test_sample_refiner_streaming_equals_batch(sizes, seed, start):
    g = np.random.default_rng(seed)
    x = (1e-3 * g.standard_normal(12000)).astype(np.float32)
    x[g.integers(0, 12000, 4)] += 1.0
    frames = frame_signal(x, 1024, 256)[:, start:]  # a stream joined at frame `start`
    n = frames.shape[1]
    batch = SampleRefiner(1024, 256, history_frames=12)
    want = batch.process(frames, start)
    rf = SampleRefiner(1024, 256, history_frames=12)
    parts, k = [], start
    for chunk in split(np.moveaxis(frames, 1, 0), sizes):
        parts.append(rf.process(np.moveaxis(chunk, 0, 1), k))
        k += chunk.shape[0]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), want)
    held = range(start + max(0, n - 12), start + n)
    assert [rf.refine(0, f) for f in held] == [batch.refine(0, f) for f in held]


def test_sample_refiner_short_history_and_start():
    x = np.zeros(20000, np.float32)
    x[300] = 1.0  # before frame 0's centre: in the zero-padded first frames
    x[15000] = 1.0
    frames = frame_signal(x, N_FFT, HOP)
    rf = SampleRefiner(N_FFT, HOP, history_frames=4)
    rf.process(frames[:, :2], 0)
    assert rf.refine(0, 0) == 300  # the region is clipped at sample 0
    for k in range(2, frames.shape[1]):
        rf.process(frames[:, k : k + 1])  # first_index None: continue the clock
    newest = frames.shape[1] - 1
    with pytest.raises(ValueError, match="increase history_frames"):
        rf.refine(0, newest - 4)
    assert rf.refine(0, newest) == newest * HOP - N_FFT // 2  # silence: the region's start
    rf.reset()
    rf.process(frames[:, : first_frame_of(15000) + 2], 0)
    assert rf.refine(0, first_frame_of(15000)) == 15000


# -- bad parameters ------------------------------------------------------------------------

def test_bad_parameters_raise_config_error():
    cases = [
        (lambda: OnsetPicker(pre_avg_s=-0.1), "pre_avg_s=-0.1 must be a finite number >= 0 \\(s\\)"),
        (lambda: OnsetPicker(pre_max_s=-1), "pre_max_s=-1"),
        (lambda: OnsetPicker(lookahead_frames=-1), "lookahead_frames=-1 must be an integer >= 0 \\(frames\\)"),
        (lambda: OnsetPicker(lookahead_frames=1.5), "lookahead_frames=1.5"),
        (lambda: OnsetPicker(method="max"), "method='max' is not an average; allowed: 'mean', 'median'"),
        (lambda: OnsetPicker(hop_length=0), "hop_length=0 must be an integer >= 1 \\(samples\\)"),
        (lambda: OnsetPicker(sample_rate=0), "sample_rate=0 must be a finite number > 0 \\(Hz\\)"),
        (lambda: OnsetPicker(threshold=-0.1), "threshold=-0.1"),
        (lambda: OnsetPicker(ratio=-1), "ratio=-1"),
        (lambda: OnsetPicker(min_ioi_s=float("nan")), "min_ioi_s=nan"),
        (lambda: OnsetPicker(max_rise_frames=-1), "max_rise_frames=-1"),
        (lambda: OnsetPicker(warmup_frames=-2), "warmup_frames=-2"),
        (lambda: OnsetPicker(norm_decay_s=0.0), "norm_decay_s=0.0"),
        (lambda: OnsetPicker(norm_floor=0.0), "norm_floor=0.0"),
        (lambda: SampleRefiner(hop_length=4096), "hop_length=4096 must be <= n_fft=2048"),
        (lambda: SampleRefiner(n_fft=0), "n_fft=0"),
        (lambda: SampleRefiner(history_frames=0), "history_frames=0"),
        (lambda: SampleRefiner(fraction=0.0), "fraction=0.0"),
        (lambda: SampleRefiner(window_ms=-1.0), "window_ms=-1.0"),
        (lambda: SampleRefiner(sample_rate=float("inf")), "sample_rate=inf"),
    ]
    for call, match in cases:
        with pytest.raises(ConfigError, match=match):
            call()
    with pytest.raises(ValueError, match="n_fft=2048"):
        SampleRefiner().process(np.zeros((1, 2, 1024), np.float32))

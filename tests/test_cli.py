import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from fluxstream.analysis import meta_of
from fluxstream.cli import main


@pytest.fixture
def wav(tmp_path):
    sr = 16000
    x = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(sr) / sr)).astype(np.float32)
    p = tmp_path / "in.wav"
    sf.write(p, x, sr, subtype="FLOAT")
    return p


def run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "fluxstream", *map(str, args)], capture_output=True,
                          text=True, timeout=60, **kw)


def test_analyze_npz_contract(wav, tmp_path, capsys):
    out = tmp_path / "o.npz"
    assert main(["analyze", str(wav), "--features", "rms,centroid,spectrum", "--out", str(out)]) == 0
    z = np.load(out)
    n = 1 + 16000 // 512
    assert z["rms"].shape == (n, 1) and z["centroid"].shape == (n, 1) and z["spectrum"].shape == (n, 1025)
    np.testing.assert_allclose(z["rms.time"], np.arange(n) * 512 / 16000)
    np.testing.assert_allclose(z["spectrum.freqs"], np.arange(1025) * 16000 / 2048)
    assert "rms.freqs" not in z and "centroid.freqs" not in z
    meta = meta_of(dict(z))
    assert meta["sample_rate"] == 16000 and meta["hop_length"] == 512 and meta["n_fft"] == 2048
    assert meta["features"]["centroid"] == {"dim": 1, "unit": "Hz", "latency_samples": 1024, "delay_frames": 0,
                                            "frame_length": 2048, "hop_length": 512}
    assert meta["events"] == {}
    assert np.median(z["centroid"]) == pytest.approx(1000, rel=0.01)
    assert "-> " in capsys.readouterr().out


def test_analyze_csv_and_jsonl_hold_the_same_values(wav, tmp_path):
    npz, c, j = tmp_path / "a.npz", tmp_path / "a.csv", tmp_path / "a.jsonl"
    for o in (npz, c, j):
        assert main(["analyze", str(wav), "--features", "rms,centroid", "--out", str(o), "--set",
                     "stft.n_fft=512"]) == 0
    z = np.load(npz)
    with open(c) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["frame", "time_s", "rms", "centroid"]
    np.testing.assert_allclose([float(r["rms"]) for r in rows], z["rms"][:, 0], rtol=1e-6)
    np.testing.assert_allclose([float(r["time_s"]) for r in rows], z["rms.time"])
    lines = [json.loads(line) for line in j.read_text().splitlines()]
    assert set(lines[0]) == {"frame", "time_s", "rms", "centroid"}
    np.testing.assert_allclose([r["centroid"] for r in lines], z["centroid"][:, 0], rtol=1e-6)
    assert [r["frame"] for r in lines] == list(range(len(lines)))


def test_csv_columns_for_vectors_and_channels(tmp_path, rng):
    p = tmp_path / "s.wav"
    sf.write(p, rng.standard_normal((4000, 2)).astype(np.float32), 8000, subtype="FLOAT")
    o = tmp_path / "s.csv"
    assert main(["analyze", str(p), "--features", "rms,spectrum", "--out", str(o), "--set", "input.mono=false",
                 "--set", "stft.n_fft=8", "--set", "stft.hop_length=4"]) == 0
    header = o.read_text().splitlines()[0].split(",")
    assert header[:4] == ["frame", "time_s", "rms.c0", "rms.c1"]
    assert header[4:6] == ["spectrum.c0.0", "spectrum.c0.1"] and header[-1] == "spectrum.c1.4"


def test_several_files_into_a_directory(wav, tmp_path):
    other = tmp_path / "other.flac"
    sf.write(other, np.zeros(4000), 8000)
    outdir = tmp_path / "res"
    assert main(["analyze", str(wav), str(other), "--out", str(outdir), "--format", "jsonl"]) == 0
    assert sorted(p.name for p in outdir.iterdir()) == ["in.jsonl", "other.jsonl"]


def test_analyze_without_out_prints_a_summary(wav, capsys):
    assert main(["analyze", str(wav)]) == 0
    out = capsys.readouterr().out
    assert "rms" in out and "centroid" in out and "shape (32, 1)" in out


@pytest.mark.parametrize("args,code,message", [
    (["analyze", "/nonexistent.wav"], 1, "audio file '/nonexistent.wav' does not exist"),
    (["analyze", "{wav}", "--features", "mell"], 2, "analysis.features: unknown feature 'mell'"),
    (["analyze", "{wav}", "--set", "stft.hop_length=0"], 2, "stft.hop_length=0 is not allowed"),
    (["analyze", "{wav}", "--out", "{tmp}/x.mat"], 2, "unknown format 'mat'"),
    (["analyze", "{wav}", "--config", "{tmp}/none.toml"], 2, "does not exist"),
    (["listen", "--demo", "--block", "-5"], 2, "input.block=-5 is not allowed"),
    (["analyze"], 2, "the following arguments are required: FILE"),
    (["frobnicate"], 2, "invalid choice"),
])
def test_errors_are_one_line_with_exit_codes(args, code, message, wav, tmp_path, capsys):
    args = [a.format(wav=wav, tmp=tmp_path) for a in args]
    try:
        rc = main(args)
    except SystemExit as e:  # argparse's own usage errors
        rc = e.code
    err = capsys.readouterr().err
    assert rc == code
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unreadable_file_and_debug_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert main(["analyze", str(bad)]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert main(["--debug", "analyze", str(bad)]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert main(["analyze", str(bad), "--debug"]) == 1  # after the command, too
    assert "Traceback" in capsys.readouterr().err


def test_features_command_lists_registry(capsys):
    assert main(["features", "--set", "stft.n_fft=1024"]) == 0
    out = capsys.readouterr().out
    for name in ("spectrum", "power", "rms", "centroid"):
        assert name in out
    assert "513" in out and "512 (  10.7 ms)" in out


def test_listen_demo_runs_for_a_duration_with_meter_and_stats():
    r = run_cli("listen", "--demo", "--duration", "0.6")
    assert r.returncode == 0, r.stderr
    assert "dBFS" in r.stdout and "centroid" in r.stdout
    assert "stats:" in r.stderr and "overruns 0 samples" in r.stderr
    assert "Traceback" not in r.stderr


def test_listen_ctrl_c_is_a_clean_stop():
    import signal
    import time

    p = subprocess.Popen([sys.executable, "-m", "fluxstream", "listen", "--demo"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        # Wait for the first meter line (printed once a second when not a TTY), then Ctrl-C.
        line = p.stdout.readline()
        assert "dBFS" in line
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "Traceback" not in err and "stats:" in err
    del time


def test_sigterm_stops_listen_cleanly_with_stats():
    import signal

    p = subprocess.Popen([sys.executable, "-m", "fluxstream", "listen", "--demo"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert "dBFS" in p.stdout.readline()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0 and "stats:" in err and "Traceback" not in err, err


def test_listen_records_features_and_audio_complete_after_ctrl_c(tmp_path):
    import json
    import signal

    import soundfile as sf

    npz, csv_, jsonl, wav_ = (tmp_path / n for n in ("f.npz", "f.csv", "f.jsonl", "in.wav"))
    p = subprocess.Popen([sys.executable, "-m", "fluxstream", "listen", "--demo", "--features", "rms,centroid",
                          "--record", str(npz), "--record", str(csv_), "--record", str(jsonl),
                          "--record-audio", str(wav_)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Meter lines come once a second (not a TTY): the second is about a second in.
        assert "dBFS" in p.stdout.readline() and "dBFS" in p.stdout.readline()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0 and "Traceback" not in err, err
    d = np.load(npz)
    n = d["rms"].shape[0]
    assert n > 50 and d["centroid"].shape == (n, 1) and d["rms.time"].shape == (n,)
    assert json.loads(str(d["_meta"]))["features"]["rms"]
    rows = csv_.read_text().splitlines()
    assert rows[0] == "frame,time_s,rms,centroid" and len(rows) == n + 1
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    assert len(lines) == n and lines[-1]["frame"] == n - 1
    np.testing.assert_allclose([x["rms"] for x in lines], d["rms"][:, 0], rtol=1e-6)
    # The audio: every sample the features saw, a WAV header that says so.
    x, sr = sf.read(wav_, dtype="float32")
    info = sf.info(wav_)
    assert sr == 48000 and info.frames == len(x)
    hop = 512
    assert (n - 1) * hop <= len(x) <= (n + 1) * hop
    rms0 = float(np.sqrt(np.mean(x[:1024] ** 2)))  # frame 0: half zero padding, half signal
    assert rms0 == pytest.approx(float(d["rms"][0, 0]) * np.sqrt(2), rel=0.05)


@pytest.mark.parametrize("delay_s", [0.15, 0.4])
def test_ctrl_c_during_start_up_has_no_traceback(delay_s):
    import signal
    import time

    p = subprocess.Popen([sys.executable, "-m", "fluxstream", "listen", "--demo"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(delay_s)  # aim the signal at start-up (imports, warm-up), not at the meter loop
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    # 130, or death by SIGINT (-2, which a shell also reports as 130): CPython re-raises
    # SIGINT at exit when the interrupt landed inside some extension's start-up code.
    assert p.returncode in (0, 130, -2), err
    assert "Traceback" not in err, err


def test_console_script_entry_point_and_module_agree():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("fluxstream ")


def test_flags_pass_typed_values_even_with_quotes_and_backslashes():
    from fluxstream.cli import _flag_values, build_parser
    from fluxstream.config import load_config

    args = build_parser().parse_args(["listen", "--device", 'fx"pl\\ayer', "--features", "rms, centroid"])
    cfg = load_config(values=_flag_values(args, {"device": "input.device", "features": "analysis.features"}))
    assert cfg.input.device == 'fx"pl\\ayer' and cfg.analysis.features == ("rms", "centroid")
    args = build_parser().parse_args(["listen", "--device", "01"])
    assert load_config(values=_flag_values(args, {"device": "input.device"})).input.device == 1
    # A flag wins over --set, which wins over the file.
    args = build_parser().parse_args(["listen", "--set", "input.block=64", "--block", "128"])
    from fluxstream.cli import _config

    assert _config(args, {"block": "input.block"}).input.block == 128


def test_progress_bar_draws_on_a_terminal_only(monkeypatch, wav):
    import io

    from fluxstream import cli

    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    assert cli.main(["analyze", str(wav)]) == 0
    assert "100.0%" in err.getvalue() and "in.wav" in err.getvalue()
    err2 = io.StringIO()  # not a terminal: no bar
    monkeypatch.setattr(sys, "stderr", err2)
    assert cli.main(["analyze", str(wav)]) == 0
    assert "%" not in err2.getvalue()

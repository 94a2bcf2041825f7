"""Import-time contract: sounddevice is imported lazily, dsp never imports stream/plugins,
and a missing PortAudio is a clear error naming libportaudio2."""

import subprocess
import sys
import textwrap


def run(code, **kw):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, **kw)


def test_sounddevice_is_not_imported_by_the_package_or_file_analysis(tmp_path):
    r = run(f"""
        import sys, numpy as np, soundfile as sf
        import fluxstream
        sf.write({str(tmp_path / 'a.wav')!r}, np.zeros(4000), 8000)
        fluxstream.analyze({str(tmp_path / 'a.wav')!r})
        assert "sounddevice" not in sys.modules, "sounddevice imported"
        print("ok")
    """)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_dsp_imports_only_leaf_modules_of_fluxstream():
    # dsp may use numpy/scipy/pyfftw and the leaf modules errors/params/results/interrupts
    # (the onset node hands out Event records), never stream, plugins, config or the CLI
    # (checked on the source, since importing any submodule runs the package's __init__).
    import ast
    from pathlib import Path

    import fluxstream.dsp

    allowed = {"errors", "params", "results", "interrupts"}  # (interrupts: the stdlib only)
    for path in Path(fluxstream.dsp.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                top = (node.module or "").split(".")[0]
                assert top in allowed, f"{path.name} imports ..{node.module}"
            elif isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and node.level == 0):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert not any(n.startswith("fluxstream") for n in names), f"{path.name} imports {names}"


def test_missing_portaudio_is_a_clear_error(tmp_path):
    # sounddevice raises OSError("PortAudio library not found") when libportaudio2 is absent;
    # a module of that name that does exactly that stands in for the missing system library.
    (tmp_path / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "fluxstream", "devices"], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 1
    assert "libportaudio2" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = subprocess.run([sys.executable, "-m", "fluxstream", "listen", "--duration", "0.3"], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert "libportaudio2" in r.stderr and "demo signal" in r.stderr
    r = subprocess.run([sys.executable, "-m", "fluxstream", "listen", "--device", "1", "--duration", "0.3"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 1 and "libportaudio2" in r.stderr

"""Real audio parts for tests: a private JACK2 server and a signal player.

Test machines have no sound card, yet tests should go through a REAL PortAudio
device.  JACK2's ``dummy`` backend is a server with a real clock and no
hardware; a second JACK client (the *player*) feeds a known signal.  PortAudio
lists every JACK client with ports as an input device named after the client,
so opening that device auto-connects the player to the stream.

Rules the tests must follow (each one was measured on this setup):

* PortAudio reads the JACK graph once, when ``sounddevice`` is imported.  So
  jackd and the player must be running *before* that import, which means the
  fluxstream side runs in a fresh process: use :func:`run_in_subprocess`.
* Stop order: the PortAudio process must close its streams AND call
  ``sd._terminate()`` before jackd stops.  Measured: a stream still open when
  jackd dies hangs the client forever in Pa_CloseStream; a closed stream
  without ``_terminate`` aborts at exit (pa_jack.c:820 ``err == 0``).
  Nesting ``with jack_server() as s:`` / ``with jack_player(s, ...):`` /
  ``run_in_subprocess(...)`` (which waits for the child) gives that order.
* Select the device on the JACK host API explicitly (see ``SD_HELPERS``): if
  libasound2-plugins is installed, ALSA's "jack" plugin device also exists.

The test process itself never imports ``sounddevice`` (only jack_available
imports ``jack``, which loads libjack and opens no client).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import os
import shutil
import signal as _signal  # `signal` is jack_player's parameter name
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

# The repository root (tests/..), not a fixed path: CI runs in a fresh clone.
REPO_ROOT = Path(__file__).resolve().parent.parent
JACK_HOSTAPI = "JACK Audio Connection Kit"

# Code to prepend to a subprocess snippet: finds an input device by name on
# the JACK host API only, so the ALSA "jack" plugin never matches, and by
# exact name, so "fxplayer" never picks "fxplayer2".  PortAudio's device name
# is the bare JACK client name, e.g. "fxplayer".
SD_HELPERS = '''
import sounddevice as sd
def find_jack_input(name):
    """Index of the JACK input device named exactly `name` (a client name)."""
    for api in sd.query_hostapis():
        if api["name"] == %r:
            for idx in api["devices"]:
                dev = sd.query_devices(idx)
                if dev["name"] == name and dev["max_input_channels"] > 0:
                    return idx
    raise LookupError("no JACK input device named %%r" %% name)
''' % JACK_HOSTAPI


def _set_pdeathsig():
    """preexec_fn: SIGTERM the child when its parent (forking thread) dies.

    Why: if pytest is SIGKILLed our finally blocks never run, and jackd and
    players would outlive the run.  Linux-only, best effort.
    """
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, _signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - non-Linux libc
        pass


def _stop(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """Stop one process we started, by its PID: SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def _wait_ready(ready, proc: subprocess.Popen, log, what: str,
                timeout: float) -> None:
    """Poll ``ready()`` until true; RuntimeError with ``log`` if ``proc`` dies."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            raise RuntimeError(f"{what} not ready (exit code {proc.poll()}):"
                               f"\n{log.read()}")
        time.sleep(0.02)


def _jack_ports(env: dict) -> list[str] | None:
    """Port names on the server named in ``env``, or None if it is not up."""
    try:
        r = subprocess.run(["jack_lsp"], env=env, capture_output=True,
                           text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return None
    return r.stdout.split("\n")[:-1] if r.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def jack_available() -> str | None:
    """Return None if a private JACK server can be used, else why not.

    The reason string is meant for ``pytest.skip(reason)``.  Checks the jackd
    and jack_lsp binaries, libjack, and the JACK-Client package (``jack``);
    importing ``jack`` only loads libjack, it opens no client.
    """
    for exe in ("jackd", "jack_lsp"):
        if shutil.which(exe) is None:
            return f"{exe} not found (apt-get install jackd2)"
    try:
        import jack  # noqa: F401  (raises OSError if libjack is missing)
    except ImportError:
        return "JACK-Client not installed (pip install JACK-Client)"
    except OSError as exc:
        return f"libjack not usable: {exc}"
    return None


@dataclasses.dataclass
class JackServer:
    """A running private jackd (``proc``) and the env its clients need."""
    name: str
    env: dict
    sample_rate: int
    period: int
    proc: subprocess.Popen | None = None

    def ports(self) -> list[str]:
        """Current port names on this server (``jack_lsp``)."""
        return _jack_ports(self.env) or []


@contextlib.contextmanager
def jack_server(name: str | None = None, sample_rate: int = 48000,
                period: int = 256, timeout: float = 10.0):
    """Run a private ``jackd -d dummy`` for the duration of the block.

    Yields a :class:`JackServer`.  Pass ``server.env`` to every subprocess
    that must see this server (PortAudio, JACK-Client and jack_lsp all read
    JACK_DEFAULT_SERVER).  Raises RuntimeError, with jackd's output, if it
    exits or is not ready within ``timeout`` seconds.
    """
    # A unique name so parallel test runs (xdist, two sessions) never share.
    name = name or f"fx{os.getpid()}_{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name,
               # Without this a libjack client whose server is gone would
               # autostart a *default* jackd that nobody stops.
               JACK_NO_START_SERVER="1")
    server = JackServer(name, env, sample_rate, period)
    # jack_lsp readiness would be fooled by a server already running under
    # this name (our jackd would just exit), so refuse that up front.
    if _jack_ports(env) is not None:
        raise RuntimeError(f"a JACK server named {name!r} is already running")
    # Output to a file, not a pipe: jackd logs every xrun, and a full pipe
    # that nobody reads would block the server mid-test.
    with tempfile.TemporaryFile("w+") as log:
        server.proc = subprocess.Popen(
            ["jackd", "-n", name, "-d", "dummy", "-r", str(sample_rate),
             "-p", str(period)],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=_set_pdeathsig)
        try:
            _wait_ready(lambda: _jack_ports(env) is not None, server.proc,
                        log, f"jackd {name!r}", timeout)
            yield server
        finally:
            _stop(server.proc)
            # Clients killed hard (e.g. a timed-out subprocess) leave their
            # semaphore files behind; they carry our unique server name.
            for f in glob.glob(f"/dev/shm/jack_sem.{os.getuid()}_{name}_*"):
                with contextlib.suppress(OSError):
                    os.unlink(f)


# The player, run as `python -c PLAYER_SCRIPT npy client_name loop rate`.  A
# separate process because JACK-Client's process callback needs the GIL: in
# the test process a slow test would starve it and cause xruns.
PLAYER_SCRIPT = r'''
import signal, sys, threading
import jack, numpy as np
path, name, loop = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
rate = int(sys.argv[4])
sig = np.load(path)
sig = np.ascontiguousarray(sig.reshape(len(sig), -1), dtype=np.float32)
done = threading.Event()
client = jack.Client(name, use_exact_name=True, no_start_server=True)
if client.samplerate != rate:
    sys.exit(f"player: server runs at {client.samplerate} Hz, signal is {rate} Hz")
ports, pos = (), 0
def process(frames):
    # Position 0 is the first period in which someone listens, so a
    # play-once signal is heard from its start.
    global pos
    if not ports:
        return
    block = np.zeros((frames, sig.shape[1]), np.float32)
    if pos or any(p.number_of_connections for p in ports):
        if loop:
            block = sig.take(np.arange(pos, pos + frames), axis=0, mode="wrap")
        else:
            chunk = sig[pos:pos + frames]
            block[:len(chunk)] = chunk
        pos = (pos + frames) % len(sig) if loop else pos + frames
    for ch, p in enumerate(ports):
        p.get_array()[:] = block[:, ch]
client.set_process_callback(process)
client.set_shutdown_callback(lambda status, reason: done.set())
signal.signal(signal.SIGTERM, lambda *a: done.set())
client.activate()
# Ports registered only after activate(): when jack_lsp shows them, the
# callback already runs, so "ports exist" really means "ready to play".
ports = tuple(client.outports.register(f"out_{c + 1}") for c in range(sig.shape[1]))
done.wait()
client.deactivate()
client.close()
'''


@contextlib.contextmanager
def jack_player(server: JackServer, signal: np.ndarray, sample_rate: int,
                client_name: str = "fxplayer", loop: bool = True,
                timeout: float = 10.0):
    """Play ``signal`` into ``server`` from a JACK client named ``client_name``.

    ``signal`` is (n,) or (n, channels); it is played as float32 on ports
    ``client_name:out_1`` .. ``out_<channels>``, from its first sample once a
    port gets connected, then looped (``loop=True``) or followed by zeros.
    Measured: a recording's first sample is ``signal[0]``, bit-exact (PortAudio
    connects channels one by one, so later channels might in theory start a
    period late; compare multichannel data with some slack).
    Yields once the ports exist; the player is stopped at exit.  Raises
    RuntimeError with the player's stderr if it fails to start (e.g. the
    server's sample rate differs from ``sample_rate``, or the name is taken).
    """
    sig = np.asarray(signal, dtype=np.float32)
    if sig.ndim not in (1, 2) or len(sig) == 0:
        raise ValueError(f"signal must be non-empty (n,) or (n, ch), got {sig.shape}")
    channels = 1 if sig.ndim == 1 else sig.shape[1]
    # Same reason as in jack_server: existing ports would pass the readiness
    # poll while our player dies on use_exact_name.
    if any(p.startswith(client_name + ":") for p in server.ports()):
        raise RuntimeError(f"JACK client name {client_name!r} already in use")
    with tempfile.TemporaryDirectory(prefix="fxplayer") as tmp, \
            tempfile.TemporaryFile("w+") as log:
        path = os.path.join(tmp, "signal.npy")
        np.save(path, sig)
        proc = subprocess.Popen(
            [sys.executable, "-c", PLAYER_SCRIPT, path, client_name,
             "1" if loop else "0", str(int(sample_rate))],
            env=server.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=_set_pdeathsig)
        try:
            _wait_ready(lambda: sum(p.startswith(client_name + ":")
                                    for p in server.ports()) >= channels,
                        proc, log, f"player {client_name!r}", timeout)
            yield proc
        finally:
            _stop(proc)


def run_in_subprocess(code: str, env: dict, timeout: float = 60.0
                      ) -> subprocess.CompletedProcess:
    """Run ``python -c code`` with ``env`` (e.g. ``server.env``) from the repo root.

    The cwd is the repository root so ``import fluxstream`` works; output is
    captured as text.  A fresh process is the only way PortAudio sees the
    current JACK graph (it reads it at ``import sounddevice``).  The code
    must close its streams and call ``sd._terminate()`` before it ends, and
    must end before the server stops (see the module docstring).  On timeout
    the child is SIGKILLed (harmless to jackd) and TimeoutExpired propagates.
    """
    return subprocess.run([sys.executable, "-c", code], env=env,
                          cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)

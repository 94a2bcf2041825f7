"""OSC out: encoding checked against python-osc's decoder, the publisher's behaviour on a
local socket, and the packets received by real OSC software: liblo's ``oscdump`` (UDP and
TCP/SLIP) and Pure Data (``[netreceive -u -b] -> [oscparse]``, plus the shipped example
patch), and the python-osc example receiver.

The peer helpers (:class:`Peer`, :func:`oscdump`, :func:`puredata`, :func:`free_port`) are
imported by ``test_control.py``.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fluxstream.errors import ConfigError
from fluxstream.plugins.base import StreamInfo
from fluxstream.plugins.osc import (IMMEDIATELY, NTP_UNIX_OFFSET_S, OscDestinationParams, OscPublisher,
                                    destinations_from_config, encode_bundle, encode_message, ntp_timetag,
                                    osc_address_part, osc_string, pack_bundles, parse_target, slip_encode)
from fluxstream.results import Event, Frames
from tests.conftest import real_part_missing

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
T0 = 1_700_000_000.0  # a fixed capture start (in the past: oscdump holds future bundles)
SR = 48000


# --- real-peer helpers ---------------------------------------------------------------------

def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port the kernel just handed out (free now; tiny race with other processes)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Peer:
    """A subprocess whose output lines are collected by a thread; :meth:`wait_for`
    blocks on a condition (no sleeps) until enough matching lines arrived."""

    def __init__(self, argv: list[str], stream: str = "stdout"):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT if stream == "stdout" else subprocess.PIPE,
                                     text=True, bufsize=1)
        src = self.proc.stdout if stream == "stdout" else self.proc.stderr
        if stream != "stdout":
            self._drain = threading.Thread(target=self.proc.stdout.read, daemon=True)
            self._drain.start()
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(src,), daemon=True)
        self._reader.start()

    def _read(self, src) -> None:
        for line in src:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, pred, n: int = 1, timeout: float = 5.0) -> list[str]:
        """The lines matching ``pred`` once there are at least ``n`` (AssertionError with
        everything seen after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [ln for ln in self.lines if pred(ln)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"{self.argv[0]}: {len(got)} of {n} expected lines after {timeout} s; "
                                         f"output:\n" + "\n".join(self.lines[-40:]))
                self._cond.wait(left)

    def wait_ready(self, probe, seen, timeout: float = 10.0) -> None:
        """Call ``probe()`` every 20 ms until a line satisfies ``seen`` (the peer listens)."""
        deadline = time.monotonic() + timeout
        while True:
            probe()
            try:
                self.wait_for(seen, timeout=0.02)
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _need(exe: str, package: str) -> None:
    if shutil.which(exe) is None:
        real_part_missing(f"{exe} not found (apt-get install {package})")


def send_udp(port: int, packet: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(packet, ("127.0.0.1", port))


@contextlib.contextmanager
def oscdump(tcp: bool = False):
    """A running ``oscdump -L`` on a free port: yields (peer, port)."""
    _need("oscdump", "liblo-tools")
    port = free_port(socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    peer = Peer(["oscdump", "-L", f"osc.tcp://:{port}" if tcp else str(port)])
    try:
        if tcp:
            def probe():
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(encode_message("/probe", 1) + b"\xc0")
        else:
            def probe():
                send_udp(port, encode_message("/probe", 1))
        peer.wait_ready(probe, lambda ln: " /probe " in ln)
        yield peer, port
    finally:
        peer.stop()


PD_PATCH = """#N canvas 0 0 400 300 10;
#X obj 10 10 netreceive -u -b {port};
#X obj 10 40 oscparse;
#X obj 10 70 list trim;
#X obj 10 100 print OSC;
#X connect 0 0 1 0;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
"""


@contextlib.contextmanager
def puredata(tmp_path, patch: Path | None = None, send: str | None = None, port: int | None = None,
             probe_address: str = "/probe", ready_text: str = "probe"):
    """Pure Data headless with ``patch`` (default: the minimal receiver on a free port);
    yields (peer, port). Lines come from Pd's stderr."""
    _need("pd", "puredata-core")
    port = port or free_port()
    if patch is None:
        patch = tmp_path / "recv.pd"
        patch.write_text(PD_PATCH.format(port=port))
    argv = ["pd", "-nogui", "-noaudio", "-nomidi", "-stderr"]
    if send:
        argv += ["-send", send]
    peer = Peer(argv + [str(patch)])
    try:
        peer.wait_ready(lambda: send_udp(port, encode_message(probe_address, 1.0)), lambda ln: ready_text in ln)
        yield peer, port
    finally:
        peer.stop()


def parse_oscdump(line: str) -> tuple[int, str, str, list]:
    """``eeac0cf7.d842d000 /addr ff 1.0 2.0`` -> (timetag, address, typetags, values)."""
    head, _, rest = line.partition(" ")
    sec, frac = head.split(".")
    address, _, rest = rest.partition(" ")
    tags, _, rest = rest.partition(" ")
    vals = []
    toks = shlex.split(rest) if rest and "[" not in rest else [rest] if rest else []
    for t, v in zip(tags, toks):
        vals.append(float(v) if t == "f" else int(v) if t == "i" else v)
    return (int(sec, 16) << 32) | int(frac, 16), address, tags, vals


def clock(sample: int) -> float:
    return T0 + sample / SR


def info(**kw) -> StreamInfo:
    kw.setdefault("sample_rate", SR)
    kw.setdefault("clock", clock)
    return StreamInfo(**kw)


def frames(n: int = 2, first: int = 0, hop: int = 256, **feats) -> Frames:
    idx = np.arange(first, first + n)
    return Frames(idx, idx * hop / SR, {k: np.asarray(v, dtype=np.float32) for k, v in feats.items()}, "in", hop)


class Receiver:
    """A local UDP socket collecting packets in a thread."""

    def __init__(self, port: int = 0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.packets: list[bytes] = []
        self._cond = threading.Condition()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            with self._cond:
                self.packets.append(data)
                self._cond.notify_all()

    def wait(self, n: int, timeout: float = 5.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.packets) < n:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.packets)} of {n} packets after {timeout} s"
                self._cond.wait(left)
            return list(self.packets)

    def close(self):
        self.sock.close()


@pytest.fixture
def rx():
    r = Receiver()
    yield r
    r.close()


def decode(packet: bytes):
    """python-osc's decoding of a bundle: (timetag, [(address, params)])."""
    from pythonosc.osc_bundle import OscBundle
    from pythonosc.osc_message import OscMessage

    assert packet.startswith(b"#bundle\x00")
    tt = struct.unpack(">Q", packet[8:16])[0]
    b = OscBundle(packet)
    return tt, [(m.address, list(m.params)) for m in b if isinstance(m, OscMessage)]


def publisher(port: int, start_info: StreamInfo | None = None, **kw) -> OscPublisher:
    return OscPublisher([OscDestinationParams(port=port, **kw)]).start(start_info or info())


# --- encoding ------------------------------------------------------------------------------

def test_encode_message_is_what_python_osc_decodes():
    from pythonosc.osc_message import OscMessage

    m = OscMessage(encode_message("/a/b", 1.5, 7, "héllo", b"\x01\x02\x03", True, False, None, 2**40,
                                  np.array([1, 2, 3], dtype=np.float32)))
    assert m.address == "/a/b"
    assert m.params == [1.5, 7, "héllo", b"\x01\x02\x03", True, False, None, 2**40, 1.0, 2.0, 3.0]
    assert len(encode_message("/abc")) == 12 and encode_message("/abc").endswith(b",\x00\x00\x00")
    assert osc_string("abcd") == b"abcd\x00\x00\x00\x00" and osc_string("") == b"\x00\x00\x00\x00"


@pytest.mark.parametrize("bad", [("nope",), ("/a", object()), ("/a", 1e39)])
def test_encode_message_rejects_what_osc_cannot_carry(bad):
    with pytest.raises((ValueError, TypeError)):
        encode_message(*bad)


def test_ntp_timetag_known_values():
    assert ntp_timetag(0.0) == NTP_UNIX_OFFSET_S << 32
    assert ntp_timetag(1.5) == ((NTP_UNIX_OFFSET_S + 1) << 32) | 0x80000000
    t = 1_700_000_000.25
    assert ntp_timetag(t) == ((int(t) + NTP_UNIX_OFFSET_S) << 32) | 0x40000000
    with pytest.raises(ValueError):
        ntp_timetag(-NTP_UNIX_OFFSET_S - 1)


def test_bundle_and_mtu_split_keep_every_message_in_order():
    from pythonosc.osc_bundle import OscBundle

    msgs = [encode_message(f"/m/{i}", np.arange(i % 10 + 1, dtype=np.float32)) for i in range(40)]
    bundles, over = pack_bundles(12345, msgs, 200)
    assert over == 0 and len(bundles) > 1
    assert all(len(b) <= 200 for b in bundles)
    got = [m.address for b in bundles for m in OscBundle(b)]
    assert got == [f"/m/{i}" for i in range(40)]
    assert all(struct.unpack(">Q", b[8:16])[0] == 12345 for b in bundles)
    one, over = pack_bundles(1, msgs, None)
    assert len(one) == 1 and over == 0 and one[0] == encode_bundle(1, msgs)


def test_a_message_larger_than_the_mtu_goes_alone_and_is_counted():
    big = encode_message("/big", np.zeros(400, np.float32))
    small = encode_message("/s", 1.0)
    bundles, over = pack_bundles(1, [small, big, small], 256)
    assert over == 1 and len(bundles) == 3
    assert len(bundles[1]) == 16 + 4 + len(big)  # nothing truncated


def test_slip_round_trip_with_python_osc():
    from pythonosc import slip

    pk = encode_message("/x", b"\xc0\xdb\xc0\xdd")
    framed = slip_encode(pk)
    assert framed[0] == framed[-1] == 0xC0 and framed.count(b"\xc0") == 2
    assert slip.decode(framed) == pk
    assert slip.decode(slip_encode(pk, leading_end=False)) == pk


def test_address_parts_replace_forbidden_characters():
    assert osc_address_part("mfcc.delta") == "mfcc.delta"
    assert osc_address_part("a b/c#d*[x]") == "a_b_c_d__x_"


# --- configuration -------------------------------------------------------------------------

def test_destination_params_defaults_and_errors():
    p = OscDestinationParams()
    assert (p.host, p.port, p.protocol, p.rate_hz, p.on_change, p.timetag, p.mtu, p.blobs, p.prefix) == (
        "127.0.0.1", 9000, "udp", 0.0, 0.0, "capture", 1472, 0, "/fluxstream")
    for kw, words in [({"port": 0}, "output.osc.port=0"), ({"protocol": "sctp"}, "'udp' or 'tcp'"),
                      ({"rate_hz": -1}, "rate_hz=-1"), ({"mtu": 64}, "128..65507"),
                      ({"timetag": "now"}, "'capture' or 'immediately'"), ({"prefix": "fx"}, "prefix"),
                      ({"prefix": "/a b"}, "cannot contain"), ({"host": "a b"}, "host"),
                      ({"features": ("rms", 3)}, "features")]:
        with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace(".", r"\.")):
            OscDestinationParams(**kw)


@pytest.mark.parametrize("text, url", [("192.168.1.20:9000", "udp://192.168.1.20:9000"),
                                       (":7000", "udp://127.0.0.1:7000"),
                                       ("localhost:57120", "udp://localhost:57120"),
                                       ("tcp://127.0.0.1:9001", "tcp://127.0.0.1:9001"),
                                       ("[::1]:9000", "udp://[::1]:9000"),
                                       ("osc.udp://host.local:9/", "udp://host.local:9")])
def test_parse_target(text, url):
    assert parse_target(text).url == url


@pytest.mark.parametrize("text, words", [("9000", "HOST:PORT"), ("host:", "port ''"), ("h:70000", "1..65535"),
                                         ("h:9x", "port '9x'"), ("::1:9000", "brackets"), ("[::1]9000", r"\[IPv6\]"),
                                         ("bad host:1", "not a host")])
def test_parse_target_errors_name_the_text(text, words):
    with pytest.raises(ConfigError, match=words) as e:
        parse_target(text)
    assert repr(text) in str(e.value)


def test_destinations_from_config_rejects_unknown_keys():
    d = destinations_from_config([{"host": "10.0.0.2", "port": 8000, "features": ["rms"], "rate_hz": 60}])
    assert d[0].features == ("rms",) and d[0].rate_hz == 60.0
    with pytest.raises(ConfigError, match=r"unknown key output\.osc\[0\]\.rate; valid keys .*rate_hz"):
        destinations_from_config([{"rate": 60}])


# --- the publisher on a local socket ---------------------------------------------------------

def test_one_bundle_per_frame_timetagged_with_the_capture_clock(rx):
    pub = publisher(rx.port)
    pub.submit(frames(3, first=10, rms=[[0.5], [0.25], [0.125]], mel=np.arange(12).reshape(3, 4)))
    packets = rx.wait(3)
    pub.stop()
    for i, pk in enumerate(packets):
        tt, msgs = decode(pk)
        assert tt == ntp_timetag(clock((10 + i) * 256))
        assert msgs == [("/fluxstream/in/rms", [0.5 / 2**i]), ("/fluxstream/in/mel", [4.0 * i, 4.0 * i + 1,
                                                                                      4.0 * i + 2, 4.0 * i + 3])]


def test_without_a_clock_sample_zero_is_the_start_time_and_immediately_is_1(rx):
    t_before = time.time()
    pub = OscPublisher([OscDestinationParams(port=rx.port),
                        OscDestinationParams(port=rx.port, timetag="immediately")]).start(StreamInfo(sample_rate=SR))
    pub.submit(frames(1, first=48000 // 256 * 0 + 375, rms=[[1.0]]))  # frame 375 = 2 s
    packets = rx.wait(2)
    pub.stop()
    tts = sorted(decode(p)[0] for p in packets)
    assert tts[0] == IMMEDIATELY
    unix = (tts[1] >> 32) - NTP_UNIX_OFFSET_S + (tts[1] & 0xFFFFFFFF) / 2**32
    assert t_before + 2.0 <= unix <= time.time() + 2.0


def test_features_selection_multichannel_suffix_pitch_and_events(rx):
    pub = publisher(rx.port, info(channels=2), features=("rms", "pitch", "onset", "gate"))
    fr = frames(1, rms=[[[0.5], [0.25]]], centroid=[[[1000.0], [2000.0]]],
                pitch=[[[440.0, 0.9, 1.0], [0.0, 0.1, 0.0]]])
    pub.submit(fr)
    pub.submit(Event("onset", 4800, 0.1, 2.0, {"strength": 2.0, "channel": 1, "band": 2}))
    pub.submit(Event("gate_open", 9600, 0.2, 1.0, {"channel": 0}))
    pub.submit(Event("gap", 100, 100 / SR, 64.0))  # not selected
    packets = rx.wait(3)
    stats = pub.stop()
    assert len(rx.packets) == 3 and stats.destinations[0].queued == 3
    _, msgs = decode(packets[0])
    assert msgs == [("/fluxstream/in/rms/c0", [0.5]), ("/fluxstream/in/rms/c1", [0.25]),
                    ("/fluxstream/in/pitch/c0", [440.0, pytest.approx(0.9), 69.0, 1.0]),
                    ("/fluxstream/in/pitch/c1", [0.0, pytest.approx(0.1), 0.0, 0.0])]
    tt, msgs = decode(packets[1])
    assert tt == ntp_timetag(clock(4800))
    assert msgs == [("/fluxstream/in/onset/c1", [pytest.approx(0.1), 2.0, 2])]
    assert decode(packets[2])[1] == [("/fluxstream/in/gate/c0", [pytest.approx(0.2), 1])]


def test_blobs_are_float32_little_endian_and_nonfinite_values_become_zero(rx):
    pub = publisher(rx.port, blobs=8)
    mel = np.arange(16, dtype=np.float32)
    mel[3] = np.nan
    pub.submit(frames(1, mel=[mel], chroma=[np.arange(4)]))
    (pk,) = rx.wait(1)
    stats = pub.stop().destinations[0]
    _, msgs = decode(pk)
    assert msgs[0][0] == "/fluxstream/in/mel"
    want = mel.copy()
    want[3] = 0.0
    assert np.frombuffer(msgs[0][1][0], "<f4").tolist() == want.tolist()
    assert msgs[1] == ("/fluxstream/in/chroma", [0.0, 1.0, 2.0, 3.0])
    assert stats.nonfinite_values == 1


def test_bundles_split_under_the_mtu_never_truncated(rx):
    pub = publisher(rx.port, mtu=600)
    feats = {f"f{i}": np.full((1, 60), i, np.float32) for i in range(6)}  # 6 x ~270 bytes
    pub.submit(frames(1, **feats))
    first = rx.wait(1)
    stats = pub.stop().destinations[0]
    packets = rx.wait(stats.packets)  # stop() returns once sent; the receiver may still be reading
    assert stats.oversize == 0 and stats.packets == len(packets) >= 3 and len(first) >= 1
    assert all(len(p) <= 600 for p in packets)
    got = [m for p in packets for m in decode(p)[1]]
    assert [a for a, _ in got] == [f"/fluxstream/in/f{i}" for i in range(6)]
    assert all(v == [float(i)] * 60 for i, (_, v) in enumerate(got))
    assert len({decode(p)[0] for p in packets}) == 1  # same timetag on every part


def test_rate_limit_coalesces_and_the_newest_value_always_arrives(rx):
    pub = publisher(rx.port, rate_hz=20, timetag="immediately")
    t0 = time.monotonic()
    for k in range(30):  # 30 frames as fast as possible: 1 goes now, the newest later
        pub.submit(frames(1, first=k, rms=[[float(k)]]))
    packets = rx.wait(2)
    dt = time.monotonic() - t0
    stats = pub.stop().destinations[0]
    vals = [decode(p)[1][0][1][0] for p in rx.wait(stats.packets)]
    assert vals[0] == 0.0 and vals[-1] == 29.0 and len(vals) <= 3
    assert dt >= 1 / 20 * 0.8 and len(packets) >= 2
    assert stats.frames_coalesced >= 27


def test_on_change_sends_only_values_that_moved(rx):
    pub = publisher(rx.port, on_change=0.1, timetag="immediately")
    for v in (0.0, 0.05, 0.09, 0.2, 0.25, 0.31):
        pub.submit(frames(1, rms=[[v]], centroid=[[1000.0]]))
    pub.submit(Event("onset", 0, 0.0, 1.0, {"strength": 1.0}))
    rx.wait(4)
    stats = pub.stop().destinations[0]
    got = [m for p in rx.packets for m in decode(p)[1]]
    assert [(a.rsplit("/", 1)[1], pytest.approx(v[0])) for a, v in got] == [
        ("rms", 0.0), ("centroid", 1000.0), ("rms", 0.2), ("rms", 0.31), ("onset", 0.0)]
    assert stats.unchanged == 3 + 5


def test_an_unreachable_destination_is_logged_once_counted_retried_and_never_blocks(caplog):
    port = free_port()
    pub = publisher(port, retry_s=0.05)
    caplog.set_level(logging.INFO, logger="fluxstream.osc")
    worst = 0.0
    deadline = time.monotonic() + 5
    while pub.stats.destinations[0].outages < 1 or pub.stats.destinations[0].send_errors < 2:
        t = time.perf_counter()
        pub.submit(frames(1, rms=[[1.0]]))
        worst = max(worst, time.perf_counter() - t)
        assert time.monotonic() < deadline, pub.stats
        time.sleep(0.005)  # the stream's pace
    rx = Receiver(port)  # the receiver starts late
    try:
        deadline = time.monotonic() + 5
        while pub.stats.destinations[0].state != "up":
            pub.submit(frames(1, rms=[[2.0]]))
            assert time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        stats = pub.stop().destinations[0]
        rx.close()
    down = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(down) == 1 and f"udp://127.0.0.1:{port}" in down[0].getMessage()
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    assert stats.send_errors >= 2 and stats.outages == 1 and stats.dropped_down > 0 and rx.packets
    # The GIL, never the network: under the 50 ms retry interval, whatever the machine's hiccups.
    assert worst < 0.045, f"submit took {worst * 1e3:.2f} ms"


def _slip_packets(conn: socket.socket, n: int, timeout: float = 5.0) -> list[bytes]:
    """Read SLIP-framed packets from a TCP connection until ``n`` arrived."""
    from pythonosc import slip

    conn.settimeout(timeout)
    buf, out = b"", []
    while len(out) < n:
        data = conn.recv(65536)
        assert data, "connection closed"
        buf += data
        *frames_, buf = buf.split(b"\xc0")
        out += [slip.decode(f + b"\xc0") for f in frames_ if f]
    return out


def test_tcp_connects_late_reconnects_after_the_peer_closes_and_logs_each_outage_once(caplog):
    port = free_port(socket.SOCK_STREAM)
    caplog.set_level(logging.INFO, logger="fluxstream.osc")
    pub = publisher(port, protocol="tcp", retry_s=0.05, timetag="immediately")
    deadline = time.monotonic() + 5
    while pub.stats.destinations[0].send_errors < 2:  # refused while nobody listens
        pub.submit(frames(1, rms=[[0.0]]))
        assert time.monotonic() < deadline, pub.stats
        time.sleep(0.005)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    srv.settimeout(5)
    try:
        got = []
        for k in (1, 2):  # accept, read, hang up; then the same again
            feeder = threading.Event()

            def feed(v=float(k)):
                while not feeder.is_set():
                    pub.submit(frames(1, rms=[[v]]))
                    time.sleep(0.005)

            t = threading.Thread(target=feed, daemon=True)
            t.start()
            conn, _ = srv.accept()
            try:
                got += [decode(p)[1][0][1][0] for p in _slip_packets(conn, 4)]
            finally:
                feeder.set()
                t.join()
                conn.close()
    finally:
        stats = pub.stop().destinations[0]
        srv.close()
    assert 1.0 in got and 2.0 in got
    assert stats.outages >= 2 and stats.send_errors >= 3
    down = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(down) == stats.outages and all(f"tcp://127.0.0.1:{port}" in m for m in down)


def test_a_tcp_peer_that_stops_reading_fills_the_queue_and_submit_never_waits():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    pub = publisher(srv.getsockname()[1], protocol="tcp", queue_size=8)
    conn, _ = srv.accept()  # accepted, never read
    big = np.zeros((1, 4000), np.float32)
    times = []
    try:
        for _ in range(3000):
            t = time.perf_counter()
            pub.submit(frames(1, spectrum=big))
            times.append(time.perf_counter() - t)
            if pub.stats.destinations[0].dropped_full > 100:
                break
    finally:
        conn.close()  # with unread data: a reset, which ends the blocked send at once
        stats = pub.stop(timeout_s=3.0).destinations[0]
        srv.close()
    assert stats.dropped_full > 100
    # A blocked send would hold submit until the reset above: seconds, not milliseconds.
    assert float(np.percentile(times, 99)) < 0.001 and max(times) < 0.25


def test_destinations_added_and_removed_while_running(rx):
    pub = OscPublisher().start(info())
    pub.submit(frames(1, rms=[[1.0]]))  # no destination yet: nothing happens
    pub.add_destination(OscDestinationParams(port=rx.port, prefix="/fx"))
    pub.submit(frames(1, rms=[[2.0]]))
    (pk,) = rx.wait(1)
    assert decode(pk)[1] == [("/fx/in/rms", [2.0])]
    assert pub.remove_destination("127.0.0.1", rx.port) and not pub.remove_destination("127.0.0.1", rx.port)
    pub.submit(frames(1, rms=[[3.0]]))
    stats = pub.stop()
    assert len(rx.packets) == 1 and stats.packets == 1


# --- real peers ----------------------------------------------------------------------------

def _submit_known(pub: OscPublisher) -> None:
    pub.submit(frames(2, first=100, rms=[[0.5], [0.25]], mfcc=[[1.0, -2.0, 3.5], [4.0, 5.0, 6.0]],
                      pitch=[[440.0, 0.875, 1.0], [220.0, 0.5, 1.0]]))
    pub.submit(Event("onset", 30000, 30000 / SR, 1.5, {"strength": 1.5, "channel": 0, "band": 0}))
    pub.submit(Event("gap", 40000, 40000 / SR, 512.0))


def _check_oscdump_lines(lines: list[str]) -> None:
    parsed = [parse_oscdump(ln) for ln in lines if "/fluxstream/" in ln]
    by = {}
    for tt, addr, tags, vals in parsed:
        by.setdefault(addr, []).append((tt, tags, vals))
    assert [(tt, t, v) for tt, t, v in by["/fluxstream/in/rms"]] == [
        (ntp_timetag(clock(100 * 256)), "f", [0.5]), (ntp_timetag(clock(101 * 256)), "f", [0.25])]
    assert by["/fluxstream/in/mfcc"][0][1:] == ("fff", [1.0, -2.0, 3.5])
    assert by["/fluxstream/in/pitch"][0][1:] == ("ffff", [440.0, 0.875, 69.0, 1.0])
    assert by["/fluxstream/in/pitch"][1][2] == [220.0, 0.5, 57.0, 1.0]
    assert by["/fluxstream/in/onset"] == [(ntp_timetag(clock(30000)), "ffi", [0.625, 1.5, 0])]
    assert by["/fluxstream/in/gap"] == [(ntp_timetag(clock(40000)), "fi", [pytest.approx(40000 / SR, abs=1e-6), 512])]


@pytest.mark.realparts
@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_oscdump_receives_addresses_types_values_and_timetags(protocol):
    with oscdump(tcp=protocol == "tcp") as (peer, port):
        pub = publisher(port, protocol=protocol)
        _submit_known(pub)
        lines = peer.wait_for(lambda ln: "/fluxstream/" in ln, n=8)
        stats = pub.stop()
    assert stats.send_errors == 0 and stats.packets == 4
    _check_oscdump_lines(lines)


@pytest.mark.realparts
def test_oscdump_receives_split_bundles_with_one_timetag():
    with oscdump() as (peer, port):
        pub = publisher(port, mtu=256)
        pub.submit(frames(1, first=7, **{f"band{i}": np.full((1, 40), i / 8, np.float32) for i in range(5)}))
        lines = peer.wait_for(lambda ln: "/fluxstream/" in ln, n=5)
        stats = pub.stop().destinations[0]
    parsed = [parse_oscdump(ln) for ln in lines]
    assert stats.packets == 5 and stats.oversize == 0
    assert {p[0] for p in parsed} == {ntp_timetag(clock(7 * 256))}
    assert [(p[1], p[2], p[3]) for p in parsed] == [(f"/fluxstream/in/band{i}", "f" * 40, [i / 8] * 40) for i in range(5)]


@pytest.mark.realparts
def test_pure_data_oscparse_receives_the_stream(tmp_path):
    with puredata(tmp_path) as (peer, port):
        pub = publisher(port, info(channels=2))
        pub.submit(frames(1, rms=[[[0.5], [0.25]]], chroma=[[np.arange(12) / 10, np.zeros(12)]]))
        pub.submit(Event("onset", 4800, 0.1, 2.0, {"strength": 2.0, "channel": 1, "band": 0}))
        pub.submit(Event("gate_close", 9600, 0.2, 0.0, {"channel": 0}))
        lines = peer.wait_for(lambda ln: ln.startswith("OSC: fluxstream"), n=6)
        stats = pub.stop()
    assert stats.send_errors == 0
    assert lines == ["OSC: fluxstream in rms c0 0.5", "OSC: fluxstream in rms c1 0.25",
                     "OSC: fluxstream in chroma c0 0 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1 1.1",
                     "OSC: fluxstream in chroma c1 0 0 0 0 0 0 0 0 0 0 0 0",
                     "OSC: fluxstream in onset c1 0.1 2 0", "OSC: fluxstream in gate c0 0.2 0"]


@pytest.mark.realparts
def test_the_example_pd_patch_routes_fluxstream_headless(tmp_path):
    port = free_port()
    with puredata(tmp_path, patch=EXAMPLES / "pd" / "fluxstream-receive.pd", send=f"fluxstream-port {port}",
                  port=port, probe_address="/fluxstream/in/probe", ready_text="fluxstream: probe 1") as (peer, _):
        pub = publisher(port)
        _submit_known(pub)
        pub.submit(frames(1, mel=[np.arange(4) / 4], centroid=[[1234.5]]))
        lines = peer.wait_for(lambda ln: ln.split(":")[0] in ("rms", "pitch", "onset", "gap", "mel", "centroid"),
                              n=8)
        pub.stop()
    assert lines == ["rms: 0.5", "pitch: 440 0.875 69 1", "rms: 0.25", "pitch: 220 0.5 57 1",
                     "onset: 0.625 1.5 0", "gap: 0.833333 512", "mel: 0 0.25 0.5 0.75", "centroid: 1234.5"]


def test_the_python_example_receiver(rx):
    port = free_port()
    peer = Peer([sys.executable, str(EXAMPLES / "python" / "receive.py"), "--port", str(port), "--max-messages", "4"])
    try:
        peer.wait_for(lambda ln: ln.startswith("listening"))
        pub = publisher(port)
        _submit_known(pub)
        lines = peer.wait_for(lambda ln: ln.startswith("/fluxstream"), n=4)
        pub.stop()
        assert peer.proc.wait(5) == 0
    finally:
        peer.stop()
    assert lines[0] == "/fluxstream/in/rms 0.5"
    assert lines[1] == "/fluxstream/in/mfcc 1 -2 3.5"
    assert lines[2] == "/fluxstream/in/pitch 440.0 Hz  MIDI 69.00  confidence 0.88"


def test_the_other_examples_use_the_documented_addresses():
    import json

    patch = json.loads((EXAMPLES / "max" / "fluxstream-receive.maxpat").read_text())["patcher"]
    ids = {b["box"]["id"]: b["box"] for b in patch["boxes"]}
    for ln in patch["lines"]:
        src, dst = ln["patchline"]["source"], ln["patchline"]["destination"]
        assert src[1] < ids[src[0]]["numoutlets"] and dst[1] < ids[dst[0]]["numinlets"]
    texts = " ".join(b.get("text", "") for b in ids.values())
    sc = (EXAMPLES / "supercollider" / "fluxstream.scd").read_text()
    for addr in ("/fluxstream/in/rms", "/fluxstream/in/onset", "/fluxstream/in/pitch", "/fluxstream/in/mel"):
        assert addr in texts and f"'{addr}'" in sc
    assert "udpreceive 9000" in texts
    assert sc.count("(") == sc.count(")") and sc.count("{") == sc.count("}")


@pytest.mark.realparts
def test_engine_to_oscdump_end_to_end():
    """The integration the engine will do: subscribe(publisher.submit) on a demo stream."""
    from fluxstream import Config, Engine
    from fluxstream.stream.demo import DemoSource

    with oscdump() as (peer, port):
        src = DemoSource(realtime=False, duration_s=0.25, block=512)
        eng = Engine(Config(), source=src, features=["rms", "centroid"])
        eng.open()
        pub = OscPublisher([OscDestinationParams(port=port)]).start(
            StreamInfo(sample_rate=src.sample_rate, clock=lambda s: T0 + s / src.sample_rate))
        eng.subscribe(pub.submit)
        stats = eng.run()
        lines = peer.wait_for(lambda ln: "/fluxstream/in/centroid" in ln, n=stats.frames)
        osc = pub.stop()
    assert osc.packets == stats.frames and osc.dropped == 0
    assert all(parse_oscdump(ln)[2] == "f" for ln in lines)
    rms = [parse_oscdump(ln) for ln in peer.lines if "/fluxstream/in/rms" in ln]
    assert len(rms) == stats.frames and rms[1][0] - rms[0][0] == ntp_timetag(T0 + 512 / 48000) - ntp_timetag(T0)


def test_a_failing_clock_is_counted_and_logged_once_and_the_sender_lives_on(rx, caplog):
    def clock_(sample):
        if sample >= 512:
            raise RuntimeError("device timestamps unavailable")
        return T0 + sample / SR

    pub = publisher(rx.port, info(clock=clock_))
    for k in range(4):  # frames 0, 1 are fine; 2, 3 are at sample 512, 768
        pub.submit(frames(1, first=k, rms=[[float(k)]]))
    pub.submit(Event("onset", 0, 0.0, 1.0, {"strength": 1.0}))
    rx.wait(3)
    stats = pub.stop().destinations[0]
    assert stats.internal_errors == 2 and "device timestamps unavailable" in stats.last_error
    assert [decode(p)[1][0][0].rsplit("/", 1)[1] for p in rx.packets] == ["rms", "rms", "onset"]
    assert sum("could not encode Frames" in r.getMessage() for r in caplog.records) == 1


def test_the_docstring_examples_run():
    import doctest

    import fluxstream.plugins.osc as mod

    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0


def test_pause_resume_and_feature_switches(rx):
    pub = publisher(rx.port, timetag="immediately")
    pub.set_feature_enabled("mel", False)
    pub.set_feature_enabled("onset", False)
    pub.submit(frames(1, rms=[[1.0]], mel=[[1.0, 2.0]]))
    pub.submit(Event("onset", 0, 0.0, 1.0, {"strength": 1.0}))
    pub.pause()
    pub.submit(frames(1, rms=[[2.0]]))
    pub.resume()
    pub.set_feature_enabled("mel", True)
    pub.submit(frames(1, rms=[[3.0]], mel=[[3.0, 4.0]]))
    rx.wait(2)
    stats = pub.stop()
    assert [decode(p)[1] for p in rx.packets] == [
        [("/fluxstream/in/rms", [1.0])], [("/fluxstream/in/rms", [3.0]), ("/fluxstream/in/mel", [3.0, 4.0])]]
    assert stats.skipped_paused == 1 and stats.muted == ("onset",) and not stats.paused

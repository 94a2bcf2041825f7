"""OSC control in: commands sent with liblo's ``oscsend`` change parameters, errors and
status replies are read back in ``oscdump``, floods are throttled, privileged commands are
refused unless enabled, and random input (hypothesis) never crashes the server and is
always counted."""

from __future__ import annotations

import queue
import socket
import struct
import subprocess
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.errors import ConfigError
from fluxstream.plugins.control import (Arg, Command, ControlHandlers, ControlParams, ControlServer, OscDecodeError,
                                        decode_packet, destination_commands, standard_commands)
from fluxstream.plugins.osc import OscPublisher, encode_bundle, encode_message, osc_string
from tests.plugins.test_osc import Receiver, _need, frames, info, oscdump, parse_oscdump

ERRORS = ("malformed", "unknown_address", "wrong_type", "wrong_count", "out_of_range", "flood", "not_allowed",
          "unavailable", "handler_failed")


class Calls:
    """Handlers that record their calls into a queue (the test waits on it)."""

    def __init__(self):
        self.q: queue.Queue = queue.Queue()

    def rec(self, name):
        return lambda *a: self.q.put((name, a))

    def handlers(self, **kw) -> ControlHandlers:
        return ControlHandlers(
            set_feature=self.rec("feature"), feature_names=("rms", "mel", "mfcc"),
            set_onset_threshold=self.rec("onset"), set_gate_threshold_db=self.rec("gate"),
            learn_noise=self.rec("learn"), reset=self.rec("reset"), pause=self.rec("pause"),
            resume=self.rec("resume"), status=lambda: {"frames": 42, "realtime_factor": 12.5, "paused": False,
                                                       "osc": {"dropped": 0, "url": "udp://127.0.0.1:9000"},
                                                       "levels": [0.5, 0.25]}, **kw)

    def next(self, timeout=5.0):
        return self.q.get(timeout=timeout)


def server(calls: Calls | None = None, commands=(), **kw) -> ControlServer:
    calls = calls or Calls()
    kw.setdefault("port", 0)
    return ControlServer(ControlParams(enabled=True, **kw), list(standard_commands(calls.handlers())) + list(commands))


def oscsend(port: int, address: str, types: str = "", *values) -> None:
    _need("oscsend", "liblo-tools")
    argv = ["oscsend", "127.0.0.1", str(port), address] + ([types] if types else []) + [str(v) for v in values]
    subprocess.run(argv, check=True, timeout=10, capture_output=True)


def exchange(port: int, packet: bytes, timeout: float = 5.0, linger: float = 0.2) -> list[bytes]:
    """Send one packet from a fresh socket; the first reply, and those that follow within
    ``linger`` seconds."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.sendto(packet, ("127.0.0.1", port))
        s.settimeout(timeout)
        out = [s.recv(65536)]
        if not linger:
            return out
        s.settimeout(linger)
        try:
            while True:
                out.append(s.recv(65536))
        except socket.timeout:
            pass
        return out


def messages(packets) -> list[tuple[str, list]]:
    out = []
    for pk in packets:
        out += [(a, list(args)) for a, _, args in decode_packet(pk)]
    return out


# --- configuration -------------------------------------------------------------------------

def test_params_defaults_off_and_local():
    p = ControlParams()
    assert (p.enabled, p.host, p.port, p.allow_destinations, p.reply_port) == (False, "127.0.0.1", 9001, False, 0)
    with pytest.raises(ConfigError, match=r"control\.port=70000"):
        ControlParams(port=70000)
    with pytest.raises(ConfigError, match=r"control\.max_rate_hz=0"):
        ControlParams(max_rate_hz=0)


def test_disabled_server_opens_nothing_and_enabled_binds_localhost():
    s = ControlServer(ControlParams(port=0), standard_commands(ControlHandlers())).start()
    assert s.address is None
    s.stop()
    s = server().start()
    try:
        assert s.address[0] == "127.0.0.1" and s.address[1] > 0
    finally:
        s.stop()


def test_command_table_checks_itself():
    with pytest.raises(ConfigError, match="share the address"):
        ControlServer(ControlParams(), [Command("/a"), Command("/a")])
    with pytest.raises(ConfigError, match="after an optional"):
        Command("/a", (Arg("x", default=1.0), Arg("y")))
    with pytest.raises(ConfigError, match="kind='double'"):
        Arg("x", "double")


# --- the strict decoder ----------------------------------------------------------------------

@pytest.mark.parametrize("packet, words", [
    (b"", "multiple of 4"), (b"/ab", "multiple of 4"), (b"abcd", "neither"),
    (b"/abc", "no terminating NUL"), (b"/a\x00\x00,f\x00\x00", "truncated"),
    (b"/a\x00\x00fff\x00", "does not start with ','"), (b"/a\x00\x00,q\x00\x00", "not supported"),
    (b"/a\x00\x00,\x00\x00\x00\x00\x00\x00\x01", "after the last argument"),
    (b"/a\x00x,\x00\x00\x00", "non-NUL padding"), (b"/\xff\x00\x00", "UTF-8"),
    (b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 8) + b"/a\x00\x00", "truncated"),
    (b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", -4), "positive multiple"),
    (b"/a\x00\x00,b\x00\x00" + struct.pack(">i", -1), "negative size"),
])
def test_decoder_says_what_is_wrong(packet, words):
    with pytest.raises(OscDecodeError, match=words):
        decode_packet(packet)


def test_decoder_reads_every_type_and_nested_bundles():
    m = encode_message("/x", 1, 2.5, "s", b"\x01\x02", True, False, None, 2**40)
    inner = encode_bundle(5, [m])
    got = decode_packet(encode_bundle(1, [inner, encode_message("/y")]))
    assert got == [("/x", "ifsbTFNh", (1, 2.5, "s", b"\x01\x02", True, False, None, 2**40)), ("/y", "", ())]
    deep = m
    for _ in range(9):
        deep = encode_bundle(1, [deep])
    with pytest.raises(OscDecodeError, match="nested more than 8"):
        decode_packet(deep)
    with pytest.raises(OscDecodeError, match="more than 64 messages"):
        decode_packet(encode_bundle(1, [encode_message("/z")] * 65))


# --- commands with real peers ----------------------------------------------------------------

@pytest.mark.realparts
def test_oscsend_changes_parameters():
    calls = Calls()
    with server(calls) as s:
        port = s.address[1]
        oscsend(port, "/fluxstream/onset/threshold", "f", 0.75)
        assert calls.next() == ("onset", (0.75,))
        oscsend(port, "/fluxstream/gate/threshold", "i", -40)  # an int where a float is expected: fine
        assert calls.next() == ("gate", (-40.0,))
        oscsend(port, "/fluxstream/feature", "sf", "mel", 0)  # Pd-style float for on/off
        assert calls.next() == ("feature", ("mel", False))
        oscsend(port, "/fluxstream/feature", "sT", "rms")
        assert calls.next() == ("feature", ("rms", True))
        oscsend(port, "/fluxstream/noise/learn")
        assert calls.next() == ("learn", (2.0,))
        oscsend(port, "/fluxstream/noise/learn", "f", 5)
        assert calls.next() == ("learn", (5.0,))
        for cmd in ("pause", "resume", "reset"):
            oscsend(port, f"/fluxstream/{cmd}")
            assert calls.next() == (cmd, ())
        stats = s.stats
    assert stats.dispatched == 9 and stats.errors == 0


@pytest.mark.realparts
def test_bad_input_from_oscsend_gets_error_replies_in_oscdump(caplog):
    calls = Calls()
    with oscdump() as (dump, dump_port), server(calls, reply_port=dump_port) as s:
        port = s.address[1]
        sends = [
            (("/fluxstream/onset/threshold", "s", "high"), "wrong_type", "argument 1 (threshold) must be a number 0..100"),
            (("/fluxstream/onset/threshold", "f", 1000), "out_of_range", "must be a number 0..100, got 1000"),
            (("/fluxstream/onset/threshold", "f", "nan"), "out_of_range", "must be finite"),
            (("/fluxstream/gate/threshold", "f", 3), "out_of_range", "-120..0 (dB)"),
            (("/fluxstream/feature", "si", "chroma", 1), "out_of_range", "one of rms, mel, mfcc"),
            (("/fluxstream/feature", "si", "mel", 2), "out_of_range", "on/off: 1 or 0"),
            (("/fluxstream/feature", "s", "mel"), "wrong_count", "takes 2 argument(s) (name on), got 1"),
            (("/fluxstream/reset", "i", 1), "wrong_count", "takes 0 argument(s)"),
            (("/fluxstream/exec", "s", "rm -rf /"), "unknown_address", "unknown address /fluxstream/exec; known:"),
            (("/fluxstream/*",), "unknown_address", "unknown address /fluxstream/*"),
        ]
        for args, _, _ in sends:
            oscsend(port, *args)
        lines = dump.wait_for(lambda ln: " /fluxstream/error " in ln, n=len(sends))
        stats = s.stats
    assert calls.q.empty()
    for (args, kind, words), line in zip(sends, lines):
        _, address, tags, (where, message) = parse_oscdump(line)
        assert address == "/fluxstream/error" and tags == "ss" and where == args[0]
        assert words in message, message
    kinds = [k for _, k, _ in sends]
    for k in ERRORS:
        assert getattr(stats, k) == kinds.count(k), k
    assert stats.errors == len(sends) and stats.dispatched == 0
    logged = [r.getMessage() for r in caplog.records if r.name == "fluxstream.control" and "refused" in r.getMessage()]
    assert 5 <= len(logged) <= len(sends)  # at most 5 lines a second, the rest summarized
    assert "/fluxstream/onset/threshold" in logged[0] and "'high'" in logged[0]


@pytest.mark.realparts
def test_status_is_replied_to_oscsend_through_the_reply_port():
    with oscdump() as (dump, dump_port), server(reply_port=dump_port) as s:
        oscsend(s.address[1], "/fluxstream/status")
        lines = dump.wait_for(lambda ln: "/fluxstream/status/" in ln, n=6)
    got = {p[1]: (p[2], p[3]) for p in map(parse_oscdump, lines)}
    assert got == {"/fluxstream/status/frames": ("i", [42]), "/fluxstream/status/realtime_factor": ("f", [12.5]),
                   "/fluxstream/status/paused": ("i", [0]), "/fluxstream/status/osc/dropped": ("i", [0]),
                   "/fluxstream/status/osc/url": ("s", ["udp://127.0.0.1:9000"]),
                   "/fluxstream/status/levels": ("ff", [0.5, 0.25])}


def test_status_is_replied_to_the_sender_and_split_under_the_mtu():
    big = {f"counter_{i:03d}": i for i in range(200)}
    cmd = Command("/fluxstream/stats/all", (), lambda: big, replies=True)
    with server(commands=[cmd], mtu=512) as s:
        packets = exchange(s.address[1], encode_message("/fluxstream/stats/all"))
        assert all(len(p) <= 512 for p in packets) and len(packets) > 1
        got = messages(packets)
    assert got == [(f"/fluxstream/stats/all/counter_{i:03d}", [i]) for i in range(200)]


def test_a_flood_is_dropped_counted_and_answered_once():
    calls = Calls()
    n = 150  # fits the socket's receive buffer: every datagram reaches the server
    with server(calls, max_rate_hz=50, burst=10) as s:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            pk = encode_message("/fluxstream/onset/threshold", 0.5)
            t0 = time.monotonic()
            for _ in range(n):
                sock.sendto(pk, s.address)
            sock.settimeout(5)
            reply = sock.recv(65536)
            deadline = time.monotonic() + 5
            while s.stats.packets < n:  # poll with a timeout: the server drains its socket
                assert time.monotonic() < deadline, s.stats
                time.sleep(0.005)
            elapsed = time.monotonic() - t0
            sock.settimeout(0.05)
            more = []
            try:
                while True:
                    more.append(sock.recv(65536))
            except socket.timeout:
                pass
        stats = s.stats
    assert stats.packets == n and stats.messages == n
    assert stats.dispatched + stats.flood == n and stats.errors == stats.flood
    assert 10 <= stats.dispatched <= 10 + 50 * elapsed + 1
    (addr, (where, msg)), = messages([reply])
    assert addr == "/fluxstream/error" and where == "/fluxstream/onset/threshold"
    assert msg.startswith("flood: more than 50 messages/s (burst 10) from 127.0.0.1")
    assert len(more) <= int(elapsed)  # answered at most once per second


def test_destinations_cannot_be_changed_from_the_network_unless_enabled():
    pub = OscPublisher().start(info())
    rx = Receiver()
    try:
        cmds = destination_commands(pub)
        with server(commands=cmds) as s:
            (reply,) = exchange(s.address[1], encode_message("/fluxstream/output/add", "127.0.0.1", rx.port))
            assert s.stats.not_allowed == 1
        assert messages([reply]) == [("/fluxstream/error", [
            "/fluxstream/output/add", "/fluxstream/output/add is disabled: set [control] allow_destinations = true "
            "to let the network change where results are sent"])]
        assert pub.destinations == ()
        with server(commands=cmds, allow_destinations=True) as s:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.sendto(encode_message("/fluxstream/output/add", "127.0.0.1", rx.port), s.address)
            deadline = time.monotonic() + 5
            while not pub.destinations:
                assert time.monotonic() < deadline
                time.sleep(0.005)
            pub.submit(frames(1, rms=[[0.5]]))
            rx.wait(1)
            bad = exchange(s.address[1], encode_message("/fluxstream/output/add", "no such host!", 9000))
            assert "is not a host name" in messages(bad)[0][1][1]
            sock.close()
            assert s.stats.dispatched == 1 and s.stats.handler_failed == 1
    finally:
        pub.stop()
        rx.close()


@pytest.mark.realparts
def test_oscsend_switches_the_publisher_live():
    """The wiring the integrator will do: feature on/off and pause/resume on the publisher."""
    pub = OscPublisher().start(info())
    h = ControlHandlers(set_feature=pub.set_feature_enabled, feature_names=("rms", "mel"), pause=pub.pause,
                        resume=pub.resume, status=lambda: pub.stats)
    with ControlServer(ControlParams(enabled=True, port=0), standard_commands(h)) as s:
        port = s.address[1]
        oscsend(port, "/fluxstream/feature", "si", "mel", 0)
        oscsend(port, "/fluxstream/pause")
        deadline = time.monotonic() + 5
        while s.stats.dispatched < 2:  # poll with a timeout: oscsend has returned, the server may lag
            assert time.monotonic() < deadline
            time.sleep(0.005)
        assert pub.muted == {"mel"} and pub.paused
        replies = exchange(port, encode_message("/fluxstream/status"))
        got = dict((a, v) for a, v in messages(replies))
        assert got["/fluxstream/status/paused"] == [1] and got["/fluxstream/status/muted"] == ["mel"]
        oscsend(port, "/fluxstream/resume")
        oscsend(port, "/fluxstream/feature", "sT", "mel")
        while s.stats.dispatched < 5:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        assert pub.muted == frozenset() and not pub.paused
    pub.stop()


def test_handler_failures_are_answered_counted_and_logged_once(caplog):
    def boom(_):
        raise RuntimeError("sensor on fire")

    def picky(_):
        raise ConfigError("threshold 0.3 is below the noise floor")

    cmds = [Command("/t/boom", (Arg("x"),), boom), Command("/t/picky", (Arg("x"),), picky)]
    s = ControlServer(ControlParams(enabled=True, port=0), cmds)
    src = ("127.0.0.1", 5555)
    r1 = s.handle_packet(encode_message("/t/boom", 1.0), src)
    r2 = s.handle_packet(encode_message("/t/boom", 1.0), src)
    r3 = s.handle_packet(encode_message("/t/picky", 0.3), src)
    assert messages([r1[0][0]])[0][1] == ["/t/boom", "/t/boom failed: RuntimeError: sensor on fire"]
    assert r2[0][1] == src
    assert messages([r3[0][0]])[0][1][1] == "/t/picky rejected: threshold 0.3 is below the noise floor"
    assert s.stats.handler_failed == 3
    tracebacks = [r for r in caplog.records if "handler of /t/boom failed" in r.getMessage()]
    assert len(tracebacks) == 1


# --- fuzzing ---------------------------------------------------------------------------------

KNOWN = ["/fluxstream/feature", "/fluxstream/onset/threshold", "/fluxstream/gate/threshold",
         "/fluxstream/noise/learn", "/fluxstream/reset", "/fluxstream/pause", "/fluxstream/resume",
         "/fluxstream/status", "/fluxstream/output/add"]

addresses = st.one_of(st.sampled_from(KNOWN), st.text(max_size=30).map(lambda t: "/" + t.replace("\x00", "")))
args = st.one_of(st.floats(width=32), st.integers(-2**31, 2**31 - 1), st.integers(-2**63, 2**63 - 1),
                 st.text(max_size=40).map(lambda t: t.replace("\x00", "")), st.booleans(), st.none(),
                 st.binary(max_size=16), st.sampled_from(["rms", "mel", "mfcc"]))
wellformed = st.builds(lambda a, xs: encode_message(a, *xs), addresses, st.lists(args, max_size=4))
raw_tags = st.builds(lambda a, tags, payload: osc_string(a) + osc_string("," + tags) + payload + b"\x00" * (-len(payload) % 4),
                     addresses, st.text(alphabet="ifsSbhdtTFNIcmr[]x?", max_size=6), st.binary(max_size=48))
bundles = st.builds(lambda tt, ms: encode_bundle(tt, ms), st.integers(0, 2**64 - 1),
                    st.lists(st.one_of(wellformed, raw_tags), max_size=5))
packets = st.one_of(st.binary(max_size=200), wellformed, raw_tags, bundles,
                    st.builds(lambda b, cut: b[:cut], bundles, st.integers(0, 200)))


def _check_values(calls: Calls) -> None:
    """Handlers only ever see validated values."""
    while not calls.q.empty():
        name, a = calls.q.get_nowait()
        if name == "onset":
            assert isinstance(a[0], float) and 0 <= a[0] <= 100
        elif name == "gate":
            assert isinstance(a[0], float) and -120 <= a[0] <= 0
        elif name == "learn":
            assert isinstance(a[0], float) and 0.1 <= a[0] <= 60
        elif name == "feature":
            assert a[0] in ("rms", "mel", "mfcc") and isinstance(a[1], bool)
        else:
            assert a == ()


@given(st.lists(packets, min_size=1, max_size=8), st.booleans())
def test_fuzz_any_input_is_handled_and_counted(pks, allow):
    calls = Calls()
    pub = OscPublisher()  # not started: add/remove only edit its list
    s = ControlServer(ControlParams(enabled=True, port=0, max_rate_hz=1e6, burst=10**6, allow_destinations=allow),
                      standard_commands(calls.handlers()) + destination_commands(pub))
    for pk in pks:
        replies = s.handle_packet(pk, ("127.0.0.1", 40000))
        for data, dst in replies:
            assert dst == ("127.0.0.1", 40000)
            for address, _, _ in decode_packet(data):
                assert address == "/fluxstream/error" or address.startswith("/fluxstream/status/")
    st_ = s.stats
    assert st_.packets == len(pks)
    assert st_.messages == st_.dispatched + st_.errors  # every message counted exactly once
    assert st_.errors == sum(getattr(st_, k) for k in ERRORS)
    _check_values(calls)
    if not allow:
        assert pub.destinations == ()


@given(st.lists(st.binary(min_size=1, max_size=300), min_size=5, max_size=20))
def test_fuzz_over_the_network_the_server_survives(blobs):
    calls = Calls()
    with server(calls, max_rate_hz=1e6, burst=10**6) as s:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for b in blobs:
                sock.sendto(b, s.address)
        replies = exchange(s.address[1], encode_message("/fluxstream/status"), linger=0)
        assert ("/fluxstream/status/frames", [42]) in messages(replies)
        stats = s.stats
    assert stats.packets == len(blobs) + 1
    assert stats.messages == stats.dispatched + stats.errors


def test_the_docstring_examples_run():
    import doctest

    import fluxstream.plugins.control as mod

    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0

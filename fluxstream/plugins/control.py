"""OSC control in: a small UDP server that changes parameters live, validating every
message.

Map
---
configuration       :class:`ControlParams` (the ``[control]`` table; off by default,
                    bound to 127.0.0.1)
what it accepts     :class:`Arg`, :class:`Command`; :class:`ControlHandlers` +
                    :func:`standard_commands` (the table below, filled by the integrator);
                    :func:`destination_commands` (privileged, off unless
                    ``allow_destinations``)
the server          :class:`ControlServer` (``start``, ``stop``, ``address``, ``stats``,
                    ``handle_packet`` for one datagram); :class:`ControlStats`
decoding            :func:`decode_packet` (strict OSC 1.0 decoder), :class:`OscDecodeError`

Commands (``<prefix>`` = ``/fluxstream``)
-----------------------------------------
==============================  ============================  ==========================================
address                         arguments                     effect
==============================  ============================  ==========================================
``<prefix>/feature``            ``s`` name, on/off            switch a feature's messages off (0) or on
``<prefix>/onset/threshold``    ``f`` value                   onset picker threshold (ODF units)
``<prefix>/gate/threshold``     ``f`` dB                      noise gate threshold [dB]
``<prefix>/noise/learn``        [``f`` seconds]               learn the noise profile (default 2 s)
``<prefix>/reset``              --                            reset every stateful stage
``<prefix>/pause``              --                            stop publishing (analysis continues)
``<prefix>/resume``             --                            publish again
``<prefix>/status``             --                            reply: one ``<prefix>/status/<key>``
                                                              message per statistic, in bundles
``<prefix>/output/add``         ``s`` host, ``i`` port,       add an OSC destination -- only with
                                [``s`` udp|tcp]               ``allow_destinations = true``
``<prefix>/output/remove``      ``s`` host, ``i`` port        remove one -- likewise
==============================  ============================  ==========================================

Numbers are accepted as any OSC number (``i f h d``; Pure Data sends floats), integers
and on/off also as a float with an integral value, on/off also as ``T``/``F``; strings as
``s``. Address patterns (``*?[]{}``) are not expanded: addresses match exactly.

Errors and replies
------------------
A message with an unknown address, wrong argument types or count, an out-of-range or
non-finite value, or a malformed packet (decoded strictly: truncated strings, bad
padding, unknown type tags, trailing bytes) is counted by kind in :class:`ControlStats`,
logged (at most 5 lines per second, the rest summarized), and answered with
``<prefix>/error`` ``s`` address ``s`` message. A sender exceeding ``max_rate_hz`` (token
bucket of ``burst`` messages, per source address) is a *flood*: its messages are dropped,
counted, and answered at most once per second. Replies go to the sender's address, at
``reply_port`` when configured (useful for tools such as ``oscsend`` that cannot receive).

Safety
------
Only the commands in the table run, with validated arguments; nothing received can run
code, name a file, or change where results are sent: the ``output`` commands exist only
when the integrator adds them and are refused unless ``allow_destinations = true``. The
server binds 127.0.0.1 unless ``host`` says otherwise. Replies can be larger than
requests (status): the per-sender rate limit bounds what a spoofed source could reflect.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import select
import socket
import struct
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Mapping

import numpy as np

from ..errors import ConfigError, FluxstreamError, PluginError
from ..params import Params, opt
from .osc import (IMMEDIATELY, OscDestinationParams, _check_prefix, _is_host, encode_message,
                  osc_address_part, pack_bundles)

__all__ = [
    "ControlParams",
    "Arg",
    "Command",
    "ControlHandlers",
    "standard_commands",
    "destination_commands",
    "ControlServer",
    "ControlStats",
    "decode_packet",
    "OscDecodeError",
]

log = logging.getLogger("fluxstream.control")

_MAX_DATAGRAM = 65536
_MAX_MESSAGES = 64        # per packet (bundles included)
_MAX_DEPTH = 8            # nested bundles
_MAX_STRING = 256         # characters of a string argument we act on
_MAX_SOURCES = 256        # senders tracked by the flood limiter
_LOG_LINES_PER_S = 5
_REQUIRED = object()


# --- decoding ----------------------------------------------------------------------------

class OscDecodeError(ValueError):
    """A datagram that is not a well-formed OSC 1.0 packet (the message says where)."""


def _read_string(data: bytes, pos: int, what: str) -> tuple[str, int]:
    end = data.find(b"\x00", pos)
    if end < 0:
        raise OscDecodeError(f"{what} at byte {pos} has no terminating NUL")
    nxt = end + 4 - (end - pos) % 4  # string + 1..4 NULs, a multiple of 4 bytes
    if nxt > len(data):
        raise OscDecodeError(f"{what} at byte {pos} is not padded to a multiple of 4 bytes")
    if data[end:nxt].strip(b"\x00"):
        raise OscDecodeError(f"{what} at byte {pos} has non-NUL padding")
    try:
        return data[pos:end].decode("utf-8"), nxt
    except UnicodeDecodeError:
        raise OscDecodeError(f"{what} at byte {pos} is not valid UTF-8") from None


def _need(data: bytes, pos: int, n: int, what: str) -> None:
    if pos + n > len(data):
        raise OscDecodeError(f"{what} at byte {pos} is truncated (needs {n} bytes, {len(data) - pos} left)")


def _decode_message(data: bytes) -> tuple[str, str, tuple]:
    address, pos = _read_string(data, 0, "address")
    if not address.startswith("/"):
        raise OscDecodeError(f"address {address[:40]!r} does not start with '/'")
    if pos == len(data):  # OSC 1.0 allows omitting the type tag string when there are no arguments
        return address, "", ()
    tags, pos = _read_string(data, pos, "type tag string")
    if not tags.startswith(","):
        raise OscDecodeError(f"type tag string {tags[:40]!r} does not start with ','")
    tags = tags[1:]
    args: list[Any] = []
    for t in tags:
        if t in "if":
            _need(data, pos, 4, f"argument '{t}'")
            args.append(struct.unpack_from(">i" if t == "i" else ">f", data, pos)[0])
            pos += 4
        elif t in "hdt":
            _need(data, pos, 8, f"argument '{t}'")
            args.append(struct.unpack_from(">q" if t == "h" else ">d" if t == "d" else ">Q", data, pos)[0])
            pos += 8
        elif t in "sS":
            s, pos = _read_string(data, pos, "string argument")
            args.append(s)
        elif t == "b":
            _need(data, pos, 4, "blob size")
            n = struct.unpack_from(">i", data, pos)[0]
            pos += 4
            if n < 0:
                raise OscDecodeError(f"blob at byte {pos - 4} has a negative size {n}")
            padded = n + (-n % 4)
            _need(data, pos, padded, "blob")
            args.append(bytes(data[pos:pos + n]))
            pos += padded
        elif t in "cmr":
            _need(data, pos, 4, f"argument '{t}'")
            args.append(struct.unpack_from(">I", data, pos)[0])
            pos += 4
        elif t == "T":
            args.append(True)
        elif t == "F":
            args.append(False)
        elif t in "NI":
            args.append(None if t == "N" else math.inf)
        else:
            raise OscDecodeError(f"type tag {t!r} is not supported (use i f s b h d T F N)")
    if pos != len(data):
        raise OscDecodeError(f"{len(data) - pos} bytes after the last argument")
    return address, tags, tuple(args)


def decode_packet(data: bytes) -> list[tuple[str, str, tuple]]:
    """Every message of an OSC packet (a message or a bundle, bundles nested up to 8
    deep), as ``(address, type_tags, args)``; bundle timetags are ignored.

    Raises
    ------
    OscDecodeError
        Anything not well-formed, with where and why; more than 64 messages.

    Notes
    -----
    Not python-osc's parser, on purpose: for input from the network it logs an unknown
    type tag on the root logger and skips it (misreading the arguments after it), pads a
    truncated float, and lets a UnicodeDecodeError escape; here every such packet is one
    counted error with a reason.
    """
    out: list[tuple[str, str, tuple]] = []
    _decode_into(bytes(data), out, 0)
    return out


def _decode_into(data: bytes, out: list, depth: int) -> None:
    if len(data) == 0 or len(data) % 4:
        raise OscDecodeError(f"packet size {len(data)} is not a positive multiple of 4 bytes")
    if data.startswith(b"#bundle\x00"):
        if depth >= _MAX_DEPTH:
            raise OscDecodeError(f"bundles nested more than {_MAX_DEPTH} deep")
        if len(data) < 16:
            raise OscDecodeError("bundle shorter than its header (16 bytes)")
        pos = 16
        while pos < len(data):
            _need(data, pos, 4, "bundle element size")
            n = struct.unpack_from(">i", data, pos)[0]
            pos += 4
            if n <= 0 or n % 4:
                raise OscDecodeError(f"bundle element size {n} at byte {pos - 4} is not a positive multiple of 4")
            _need(data, pos, n, "bundle element")
            _decode_into(data[pos:pos + n], out, depth + 1)
            pos += n
        return
    if data[:1] != b"/":
        raise OscDecodeError("not an OSC packet (neither '/address' nor '#bundle')")
    if len(out) >= _MAX_MESSAGES:
        raise OscDecodeError(f"more than {_MAX_MESSAGES} messages in one packet")
    out.append(_decode_message(data))


# --- commands ----------------------------------------------------------------------------

class _Rejected(Exception):
    """A message refused before its handler runs: ``kind`` is the stats counter."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Arg:
    """One argument of a command.

    Parameters
    ----------
    name : str
        Used in error messages (``"threshold_db"``).
    kind : {"float", "int", "bool", "str"}
    lo, hi : float, optional
        Inclusive range for numbers.
    choices : tuple of str, optional
        The only strings allowed.
    default : optional
        Makes the argument optional (only trailing arguments).
    unit : str
        Shown in error messages (``"dB"``).
    """

    name: str
    kind: str = "float"
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None
    default: Any = _REQUIRED
    unit: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("float", "int", "bool", "str"):
            raise ConfigError(f"Arg {self.name}: kind={self.kind!r} must be 'float', 'int', 'bool' or 'str'")

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def rule(self) -> str:
        unit = f" ({self.unit})" if self.unit else ""
        if self.kind == "bool":
            return "on/off: 1 or 0 (or T/F)"
        if self.kind == "str":
            if self.choices:
                shown = ", ".join(self.choices[:20]) + (", ..." if len(self.choices) > 20 else "")
                return f"one of {shown}"
            return f"a string of at most {_MAX_STRING} characters"
        what = "a number" if self.kind == "float" else "an integer"
        if self.lo is not None and self.hi is not None:
            return f"{what} {self.lo:g}..{self.hi:g}{unit}"
        if self.lo is not None:
            return f"{what} >= {self.lo:g}{unit}"
        if self.hi is not None:
            return f"{what} <= {self.hi:g}{unit}"
        return what + unit

    def convert(self, tag: str, value: Any, index: int) -> Any:
        """The validated Python value of one received argument (raises _Rejected)."""
        where = f"argument {index + 1} ({self.name})"
        shown = repr(value)[:40]
        is_num = tag in "ifhd"
        if self.kind == "str":
            if tag not in "sS":
                raise _Rejected("wrong_type", f"{where} must be {self.rule()} (type s), got '{tag}' {shown}")
            if len(value) > _MAX_STRING:
                raise _Rejected("out_of_range", f"{where} is longer than {_MAX_STRING} characters")
            if self.choices is not None and value not in self.choices:
                raise _Rejected("out_of_range", f"{where} must be {self.rule()}, got {shown}")
            return value
        if self.kind == "bool":
            if tag in "TF":
                return bool(value)
            if is_num and value in (0, 1):
                return bool(value)
            if is_num:
                raise _Rejected("out_of_range", f"{where} must be {self.rule()}, got {shown}")
            raise _Rejected("wrong_type", f"{where} must be {self.rule()}, got '{tag}' {shown}")
        if not is_num:
            raise _Rejected("wrong_type", f"{where} must be {self.rule()} (type f or i), got '{tag}' {shown}")
        if not math.isfinite(value):
            raise _Rejected("out_of_range", f"{where} must be finite, got {shown}")
        if self.kind == "int":
            if value != int(value):
                raise _Rejected("wrong_type", f"{where} must be {self.rule()}, got {shown}")
            value = int(value)
        else:
            value = float(value)
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise _Rejected("out_of_range", f"{where} must be {self.rule()}, got {value:g}")
        return value


@dataclass(frozen=True)
class Command:
    """An address the control server accepts.

    Parameters
    ----------
    address : str
        Exact OSC address (``/fluxstream/onset/threshold``).
    args : tuple of Arg
    handler : callable(*values) or None
        Called in the control thread with the validated values; None: the command exists
        but is not available in this set-up (answered with an error). Raise ConfigError
        or ValueError to reject a value with a message. Handlers must return quickly
        (set a value the engine picks up; do not wait on the analysis).
    doc : str
    privileged : bool
        Changes where results go (or similar): refused unless the server's
        ``allow_destinations`` is true.
    replies : bool
        The handler returns a mapping sent back as ``<address>/<key> value`` messages.
    """

    address: str
    args: tuple = ()
    handler: Callable[..., Any] | None = None
    doc: str = ""
    privileged: bool = False
    replies: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.address, str) and self.address.startswith("/")):
            raise ConfigError(f"command address {self.address!r} must start with '/'")
        seen_optional = False
        for a in self.args:
            if not isinstance(a, Arg):
                raise ConfigError(f"command {self.address}: {a!r} is not an Arg")
            if a.required and seen_optional:
                raise ConfigError(f"command {self.address}: required argument {a.name} after an optional one")
            seen_optional |= not a.required

    def signature(self) -> str:
        return " ".join(a.name if a.required else f"[{a.name}]" for a in self.args) or "(no arguments)"


@dataclass
class ControlHandlers:
    """The handler table the integrator fills; None leaves a command unavailable.

    Attributes
    ----------
    set_feature : callable(name: str, on: bool)
    feature_names : tuple of str
        Names ``/feature`` accepts (empty: any string; the handler then validates).
    set_onset_threshold : callable(value: float)
    onset_threshold_range : (float, float)
    set_gate_threshold_db : callable(threshold_db: float)
    gate_threshold_range_db : (float, float) [dB]
    learn_noise : callable(duration_s: float)
    noise_learn_range_s : (float, float) [s]
    noise_learn_default_s : float [s]
    reset, pause, resume : callable()
    status : callable() -> mapping
        Current statistics (nested mappings and objects with ``as_dict()`` are
        flattened into ``/status/<key>/<subkey>`` addresses).
    """

    set_feature: Callable[[str, bool], Any] | None = None
    feature_names: tuple = ()
    set_onset_threshold: Callable[[float], Any] | None = None
    onset_threshold_range: tuple = (0.0, 100.0)
    set_gate_threshold_db: Callable[[float], Any] | None = None
    gate_threshold_range_db: tuple = (-120.0, 0.0)
    learn_noise: Callable[[float], Any] | None = None
    noise_learn_range_s: tuple = (0.1, 60.0)
    noise_learn_default_s: float = 2.0
    reset: Callable[[], Any] | None = None
    pause: Callable[[], Any] | None = None
    resume: Callable[[], Any] | None = None
    status: Callable[[], Mapping[str, Any]] | None = None


def standard_commands(h: ControlHandlers, prefix: str = "/fluxstream") -> list[Command]:
    """The command table of the module docstring, bound to ``h``'s handlers."""
    p = prefix
    names = tuple(h.feature_names) or None
    lo, hi = h.onset_threshold_range
    glo, ghi = h.gate_threshold_range_db
    nlo, nhi = h.noise_learn_range_s
    return [
        Command(f"{p}/feature", (Arg("name", "str", choices=names), Arg("on", "bool")), h.set_feature,
                "turn a feature's output on or off"),
        Command(f"{p}/onset/threshold", (Arg("threshold", "float", lo, hi),), h.set_onset_threshold,
                "onset picker threshold"),
        Command(f"{p}/gate/threshold", (Arg("threshold_db", "float", glo, ghi, unit="dB"),), h.set_gate_threshold_db,
                "noise gate threshold"),
        Command(f"{p}/noise/learn", (Arg("duration_s", "float", nlo, nhi, default=h.noise_learn_default_s,
                                         unit="s"),), h.learn_noise, "learn the noise profile"),
        Command(f"{p}/reset", (), h.reset, "reset every stateful stage"),
        Command(f"{p}/pause", (), h.pause, "stop publishing"),
        Command(f"{p}/resume", (), h.resume, "publish again"),
        Command(f"{p}/status", (), h.status, "reply with the current statistics", replies=True),
    ]


def destination_commands(publisher: Any, prefix: str = "/fluxstream") -> list[Command]:
    """``<prefix>/output/add`` and ``<prefix>/output/remove`` for an
    :class:`~fluxstream.plugins.osc.OscPublisher` -- privileged: refused unless the
    server's ``allow_destinations`` is true."""

    def add(host: str, port: int, protocol: str) -> None:
        if not _is_host(host):
            raise ConfigError(f"{host!r} is not a host name or IP address")
        publisher.add_destination(OscDestinationParams(host=host, port=port, protocol=protocol))

    def remove(host: str, port: int) -> None:
        if not publisher.remove_destination(host, port):
            raise ConfigError(f"no OSC destination {host}:{port}")

    hp = (Arg("host", "str"), Arg("port", "int", 1, 65535))
    return [
        Command(f"{prefix}/output/add", hp + (Arg("protocol", "str", choices=("udp", "tcp"), default="udp"),), add,
                "add an OSC destination", privileged=True),
        Command(f"{prefix}/output/remove", hp, remove, "remove an OSC destination", privileged=True),
    ]


# --- configuration -----------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ControlParams(Params):
    """The ``[control]`` table.

    Parameters
    ----------
    enabled : bool
        Off by default: no port is opened.
    host : str
        Address to bind: ``127.0.0.1`` (this machine only) unless set, e.g. ``0.0.0.0``
        to accept commands from the network.
    port : int 0..65535
        UDP port (0: any free port, see :attr:`ControlServer.address`).
    prefix : str
        Address prefix of the commands and replies.
    reply_port : int 0..65535
        Send replies to the sender's host at this port; 0: to the sender's own port.
    max_rate_hz : float > 0 [messages/s]
        Per sender; above it messages are dropped as a flood.
    burst : int >= 1 [messages]
        Messages a sender may send at once before the rate applies.
    allow_destinations : bool
        Accept the ``output/add`` / ``output/remove`` commands (change where results go).
    mtu : int 128..65507 [bytes]
        Largest reply datagram.
    """

    _section: ClassVar[str] = "control"

    enabled: bool = opt(False, bool, "true or false")
    host: str = opt("127.0.0.1", str, "a host name or IP address to bind", _is_host)
    port: int = opt(9001, int, "an integer 0..65535 (UDP port; 0 = any free port)", lambda v: 0 <= v <= 65535)
    prefix: str = opt("/fluxstream", str, "an OSC address such as '/fluxstream'", _check_prefix)
    reply_port: int = opt(0, int, "an integer 0..65535 (0 = the sender's port)", lambda v: 0 <= v <= 65535)
    max_rate_hz: float = opt(100.0, float, "a number > 0 (messages/s per sender)", lambda v: v > 0)
    burst: int = opt(20, int, "an integer >= 1 (messages)", lambda v: v >= 1)
    allow_destinations: bool = opt(False, bool, "true or false")
    mtu: int = opt(1472, int, "an integer 128..65507 (bytes)", lambda v: 128 <= v <= 65507)


# --- stats -------------------------------------------------------------------------------

_ERROR_KINDS = ("malformed", "unknown_address", "wrong_type", "wrong_count", "out_of_range", "flood",
                "not_allowed", "unavailable", "handler_failed")


@dataclass(frozen=True)
class ControlStats:
    """Counters of the control server (a snapshot).

    Attributes
    ----------
    packets, messages : int
        Datagrams and OSC messages received.
    dispatched : int
        Messages whose handler ran and returned normally.
    errors : int
        Sum of the error kinds below (every refused message counts once).
    malformed, unknown_address, wrong_type, wrong_count, out_of_range, flood,
    not_allowed, unavailable, handler_failed : int
        Refused messages by reason (``not_allowed``: a privileged command while not
        enabled; ``unavailable``: no handler in this set-up; ``handler_failed``: the handler
        raised).
    replies, reply_errors : int
        Reply datagrams sent, and sends that failed.
    """

    packets: int
    messages: int
    dispatched: int
    errors: int
    malformed: int
    unknown_address: int
    wrong_type: int
    wrong_count: int
    out_of_range: int
    flood: int
    not_allowed: int
    unavailable: int
    handler_failed: int
    replies: int
    reply_errors: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class _LogLimiter:
    """At most N warning lines per second; the rest summarized in the next line."""

    def __init__(self, per_s: int = _LOG_LINES_PER_S):
        self.per_s = per_s
        self.window = 0.0
        self.count = 0
        self.suppressed = 0

    def warn(self, msg: str, *args) -> None:
        now = time.monotonic()
        if now - self.window >= 1.0:
            if self.suppressed:
                log.warning("control: %d more refused messages were not logged", self.suppressed)
            self.window, self.count, self.suppressed = now, 0, 0
        if self.count < self.per_s:
            self.count += 1
            log.warning(msg, *args)
        else:
            self.suppressed += 1


# --- the server --------------------------------------------------------------------------

class ControlServer:
    """The OSC control server: validates and dispatches every received message.

    Parameters
    ----------
    params : ControlParams
    commands : iterable of Command
        E.g. ``standard_commands(handlers) + destination_commands(publisher)``.

    Examples
    --------
    >>> import socket
    >>> from fluxstream.plugins.osc import encode_message
    >>> got = []
    >>> cmds = standard_commands(ControlHandlers(set_onset_threshold=got.append))
    >>> server = ControlServer(ControlParams(enabled=True, port=0), cmds)
    >>> server.handle_packet(encode_message("/fluxstream/onset/threshold", 0.5), ("127.0.0.1", 9))
    []
    >>> got
    [0.5]
    >>> server.stats.dispatched
    1

    Real-time notes
    ---------------
    One daemon thread (started by :meth:`start`) waits in ``select`` on the socket (no
    polling) and runs the handlers; the analysis thread is never involved. Memory is
    bounded: one receive buffer, at most 256 tracked senders, at most 64 messages per
    packet.
    """

    def __init__(self, params: ControlParams, commands: Iterable[Command] = ()):
        if not isinstance(params, ControlParams):
            raise ConfigError(f"ControlServer needs ControlParams, got {params!r}")
        self.params = params
        self._commands: dict[str, Command] = {}
        for c in commands:
            if c.address in self._commands:
                raise ConfigError(f"two control commands share the address {c.address}")
            self._commands[c.address] = c
        self._error_address = f"{params.prefix}/error"
        self._sock: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._buckets: OrderedDict = OrderedDict()  # host -> [tokens, t_last, t_last_flood_reply]
        self._logger = _LogLimiter()
        self._handler_logged: set[str] = set()
        self._lock = threading.Lock()  # handle_packet from tests vs the thread
        self._n = dict.fromkeys(("packets", "messages", "dispatched", "replies", "reply_errors") + _ERROR_KINDS, 0)

    @property
    def commands(self) -> dict[str, Command]:
        return dict(self._commands)

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) actually bound, or None when not running."""
        return self._sock.getsockname()[:2] if self._sock is not None else None

    def start(self) -> "ControlServer":
        """Bind and start the server thread (nothing happens when ``enabled`` is false).

        Raises
        ------
        PluginError
            The address cannot be bound (names host, port and the reason).
        """
        if not self.params.enabled:
            log.debug("control server disabled ([control] enabled = false)")
            return self
        if self._thread is not None:
            raise PluginError("control server already started")
        p = self.params
        try:
            infos = socket.getaddrinfo(p.host, p.port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
            family, stype, proto, _, addr = sorted(infos, key=lambda i: i[0] != socket.AF_INET)[0]
            sock = socket.socket(family, stype, proto)
            try:
                sock.bind(addr)
            except OSError:
                sock.close()
                raise
        except OSError as e:
            raise PluginError(f"control server cannot listen on {p.host}:{p.port} (UDP): {e}") from e
        if p.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("control server on %s:%d accepts commands from the network", p.host, sock.getsockname()[1])
        self._sock = sock
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fluxstream-control")
        self._thread.start()
        log.info("control server listening on udp://%s:%d", *self.address)
        return self

    def _run(self) -> None:
        sock, wake = self._sock, self._wake_r
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([sock, wake], [], [])
            except (OSError, ValueError):
                break
            if wake in ready:
                break
            try:
                data, src = sock.recvfrom(_MAX_DATAGRAM)
            except OSError:
                # e.g. ECONNREFUSED from an earlier reply to a closed port: not fatal
                continue
            try:
                replies = self.handle_packet(data, src)
            except Exception:  # never reached by design; the thread must not die
                log.error("control: unexpected failure handling a packet:\n%s", traceback.format_exc())
                continue
            for pk, dst in replies:
                self._send(pk, dst)

    def _send(self, packet: bytes, dst) -> None:
        try:
            self._sock.sendto(packet, dst)
            self._n["replies"] += 1
        except OSError:
            self._n["reply_errors"] += 1

    def stop(self, timeout_s: float = 2.0) -> ControlStats:
        """Stop the thread and close the socket; returns the final stats (idempotent)."""
        self._stop.set()
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("control server thread did not stop within %g s (a handler is stuck)", timeout_s)
            self._thread = None
        for s in (self._sock, self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._sock = self._wake_r = self._wake_w = None
        return self.stats

    @property
    def stats(self) -> ControlStats:
        n = self._n
        return ControlStats(
            packets=n["packets"], messages=n["messages"], dispatched=n["dispatched"],
            errors=sum(n[k] for k in _ERROR_KINDS), **{k: n[k] for k in _ERROR_KINDS},
            replies=n["replies"], reply_errors=n["reply_errors"])

    def __enter__(self) -> "ControlServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- one packet --

    def handle_packet(self, data: bytes, src: tuple) -> list[tuple[bytes, tuple]]:
        """Validate and dispatch one datagram from ``src`` = (host, port); returns the
        replies to send as ``(packet, (host, port))``. Never raises for any input."""
        with self._lock:
            return self._handle(data, src)

    def _reply_to(self, src: tuple) -> tuple:
        rp = self.params.reply_port
        return (src[0], rp) if rp else tuple(src[:2])

    def _error(self, kind: str, address: str, message: str, src: tuple) -> list[tuple[bytes, tuple]]:
        self._n[kind] += 1
        self._logger.warn("control: refused %s from %s:%s: %s", address, src[0], src[1], message)
        return [(encode_message(self._error_address, address, message), self._reply_to(src))]

    def _admit(self, host: str) -> bool:
        """Token bucket per sender: may this message pass?"""
        now = time.monotonic()
        b = self._buckets.get(host)
        if b is None:
            b = [float(self.params.burst), now, -math.inf]
            self._buckets[host] = b
            if len(self._buckets) > _MAX_SOURCES:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(host)
            b[0] = min(float(self.params.burst), b[0] + (now - b[1]) * self.params.max_rate_hz)
            b[1] = now
        if b[0] >= 1.0:
            b[0] -= 1.0
            return True
        return False

    def _handle(self, data: bytes, src: tuple) -> list[tuple[bytes, tuple]]:
        n = self._n
        n["packets"] += 1
        host = str(src[0])
        try:
            messages = decode_packet(data)
        except OscDecodeError as e:
            n["messages"] += 1
            if not self._admit(host):  # a flood of garbage is answered like any flood
                return self._flood(src, "?")
            return self._error("malformed", "?", f"malformed OSC packet: {e}", src)
        except Exception as e:  # the decoder is meant to raise only OscDecodeError
            n["messages"] += 1
            log.error("control: decoder failure:\n%s", traceback.format_exc())
            return self._error("malformed", "?", f"malformed OSC packet: {type(e).__name__}", src)
        out: list[tuple[bytes, tuple]] = []
        for address, tags, args in messages:
            n["messages"] += 1
            if not self._admit(host):
                out += self._flood(src, address)
                continue
            out += self._dispatch(address, tags, args, src)
        return out

    def _flood(self, src: tuple, address: str) -> list[tuple[bytes, tuple]]:
        self._n["flood"] += 1
        b = self._buckets.get(str(src[0]))
        now = time.monotonic()
        if b is not None:
            if now - b[2] < 1.0:
                return []  # this sender was answered less than a second ago
            b[2] = now
        msg = (f"flood: more than {self.params.max_rate_hz:g} messages/s (burst {self.params.burst}) from "
               f"{src[0]}; messages dropped")
        self._logger.warn("control: %s", msg)
        return [(encode_message(self._error_address, address, msg), self._reply_to(src))]

    def _dispatch(self, address: str, tags: str, args: tuple, src: tuple) -> list[tuple[bytes, tuple]]:
        shown = address if len(address) <= 80 else address[:77] + "..."
        cmd = self._commands.get(address)
        if cmd is None:
            known = ", ".join(sorted(self._commands)) or "(none)"
            return self._error("unknown_address", shown, f"unknown address {shown}; known: {known}", src)
        if cmd.privileged and not self.params.allow_destinations:
            return self._error("not_allowed", address,
                               f"{address} is disabled: set [control] allow_destinations = true to let the "
                               f"network change where results are sent", src)
        if cmd.handler is None:
            return self._error("unavailable", address, f"{address} is not available in this set-up", src)
        n_req = sum(a.required for a in cmd.args)
        if not n_req <= len(args) <= len(cmd.args):
            want = f"{n_req}" if n_req == len(cmd.args) else f"{n_req} to {len(cmd.args)}"
            return self._error("wrong_count", address, f"{address} takes {want} argument(s) "
                               f"({cmd.signature()}), got {len(args)}", src)
        try:
            values = [a.convert(t, v, i) for i, (a, t, v) in enumerate(zip(cmd.args, tags, args))]
        except _Rejected as r:
            return self._error(r.kind, address, f"{address}: {r}", src)
        values += [a.default for a in cmd.args[len(values):]]
        try:
            result = cmd.handler(*values)
        except (FluxstreamError, ValueError) as e:
            return self._error("handler_failed", address, f"{address} rejected: {e}", src)
        except Exception as e:
            if address not in self._handler_logged:
                self._handler_logged.add(address)
                log.error("control: handler of %s failed (logged once per address):\n%s", address,
                          traceback.format_exc())
            return self._error("handler_failed", address, f"{address} failed: {type(e).__name__}: {e}", src)
        self._n["dispatched"] += 1
        if cmd.replies and result is not None:
            msgs: list[bytes] = []
            _flatten_reply(address, result, msgs, 0)
            bundles, _ = pack_bundles(IMMEDIATELY, msgs, self.params.mtu)
            return [(b, self._reply_to(src)) for b in bundles]
        return []


def _flatten_reply(address: str, value: Any, out: list[bytes], depth: int) -> None:
    """Messages ``<address>/<key>[/<subkey>] value`` for a (nested) mapping of stats."""
    if depth > 6 or len(out) > 4096:
        return
    if isinstance(value, np.generic):
        value = value.item()
    if hasattr(value, "as_dict") and callable(value.as_dict):
        value = value.as_dict()
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten_reply(f"{address}/{osc_address_part(str(k))}", v, out, depth + 1)
        return
    if isinstance(value, (list, tuple, set, frozenset)):
        value = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            out.append(encode_message(address, *(float(v) for v in value)))  # [] -> no arguments
        elif all(isinstance(v, str) for v in value):
            out.append(encode_message(address, *(v[:_MAX_STRING].replace("\x00", " ") for v in value)))
        else:
            for i, v in enumerate(value):
                _flatten_reply(f"{address}/{i}", v, out, depth + 1)
        return
    if isinstance(value, bool):
        out.append(encode_message(address, int(value)))  # Pd has no T/F
    elif isinstance(value, int):
        out.append(encode_message(address, value if -2**31 <= value < 2**31 else float(value)))
    elif isinstance(value, float):
        out.append(encode_message(address, value if math.isfinite(value) and abs(value) < 3.4e38 else 0.0))
    elif isinstance(value, str):
        out.append(encode_message(address, value[:_MAX_STRING].replace("\x00", " ")))
    # None and other objects are left out

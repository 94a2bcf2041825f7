"""OSC out: fluxstream's results as Open Sound Control packets, to several destinations.

Map
---
configuration       :class:`OscDestinationParams` (one ``[[output.osc]]`` table),
                    :func:`parse_target` (``--osc HOST:PORT``), :func:`destinations_from_config`
the publisher       :class:`OscPublisher` (``start(info)``, ``submit(item)``, ``stop()``,
                    ``stats``, ``add_destination``/``remove_destination``, live switches
                    ``pause``/``resume``/``set_feature_enabled``);
                    :class:`DestinationStats`, :class:`OscStats`
encoding            :func:`osc_string`, :func:`encode_message`, :func:`encode_bundle`,
                    :func:`pack_bundles` (MTU splitting), :func:`ntp_timetag`,
                    :data:`IMMEDIATELY`, :func:`slip_encode` (TCP framing, OSC 1.1),
                    :func:`osc_address_part`

Address map (the public contract)
---------------------------------
``<prefix>`` defaults to ``/fluxstream``, ``<stream>`` is the stream's name (``in``).
Every argument is a 32-bit big-endian OSC value; only the type tags ``f``, ``i``, ``s``
and ``b`` are used (Pure Data's ``[oscparse]`` rejects ``d``, ``T``, ``F``).

=====================================  ======================  ===============================================
address                                type tags               arguments
=====================================  ======================  ===============================================
``<prefix>/<stream>/<feature>``        ``f``                   a scalar feature (``rms``, ``centroid``, ...)
``<prefix>/<stream>/<feature>``        ``ff...f`` (dim)        a vector feature (``mel``, ``mfcc``, ``chroma``),
                                                               bin 0 first
``<prefix>/<stream>/<feature>``        ``b``                   a vector longer than ``blobs`` values (when
                                                               ``blobs > 0``): float32 **little-endian**,
                                                               ``4 * dim`` bytes
``<prefix>/<stream>/pitch``            ``ffff``                Hz, confidence (0..1), MIDI note (fractional,
                                                               ``69 + 12 log2(Hz / 440)``; 0 when unvoiced),
                                                               voiced (1.0 / 0.0)
``<prefix>/<stream>/onset``            ``ffi``                 time [s] on the stream's clock, strength, band
                                                               (0 unless band-wise onsets)
``<prefix>/<stream>/gate``             ``fi``                  time [s], 1 = opened / 0 = closed
``<prefix>/<stream>/gap``              ``fi``                  time [s] of the first lost sample, samples lost
                                                               (an overrun)
``<prefix>/<stream>/nonfinite``        ``fi``                  time [s], NaN/inf input samples replaced by 0
``<prefix>/<stream>/<kind>``           ``ff``                  any other event kind: time [s], value
=====================================  ======================  ===============================================

* **Multichannel streams**: one message per channel, the channel appended to the address
  as ``/c<ch>`` (``/fluxstream/in/rms/c0``, ``/fluxstream/in/rms/c1``; onsets and gate
  events of a multichannel stream likewise). Mono streams have no suffix.
* Feature names keep their dots (``/fluxstream/in/mfcc.delta``); characters OSC forbids
  in an address (space ``#*,/?[]{}``) become ``_``.
* **Bundles and timetags**: every analysis frame is one bundle holding that frame's
  feature messages; its timetag is the frame's capture time as wall-clock (NTP) time,
  ``clock(sample)`` (see :class:`~fluxstream.plugins.base.StreamInfo`), or ``1``
  (*immediately*) with ``timetag = "immediately"``. Each event is a bundle of its own,
  timetagged with its sample's capture time. Features delayed by their definition (deltas)
  arrive in their own bundle, with their own (earlier) frame's timetag.
* **MTU** (UDP): a bundle larger than ``mtu`` bytes is split into several bundles with the
  same timetag, at message boundaries; nothing is truncated. A single message that cannot
  fit (e.g. a 1025-bin spectrum) is sent alone in a larger datagram (IP fragments it), and
  counted and logged once as ``oversize`` -- use ``blobs``, fewer bins, or TCP.
* **TCP** (``protocol = "tcp"``): each packet SLIP-framed (OSC 1.1: ``END`` byte 0xC0
  before and after, 0xC0/0xDB escaped; the first packet of a connection without the
  leading END, which liblo 0.31 needs); no MTU splitting.
* Times inside events are float32 seconds: 0.25 ms resolution after an hour, 8 ms after
  a day; the bundle's timetag is exact.
* Non-finite feature values are sent as 0.0 and counted (``nonfinite_values``).

Per destination
---------------
``features`` selects feature names and event kinds (``"onset"``, ``"gate"``, ``"gap"``,
``"nonfinite"``; empty = everything). ``rate_hz`` caps frame bundles per second: frames
that find no slot are coalesced, the newest value of each feature waits and is sent when
the next slot opens (so the final value of a fader always arrives). ``on_change`` sends a
feature only when some value moved by at least that much since it was last sent. Events
bypass both (they are rare and discrete).

Encoding is done here rather than with python-osc's builders: a frame's vector goes out
as one ``astype(">f4").tobytes()`` behind a cached address/type-tag header, 4-6x faster
than building it argument by argument (``benchmarks/bench_osc.py``); the tests decode
every packet with python-osc, liblo and Pure Data.

Real-time notes
---------------
:meth:`OscPublisher.submit` runs in the analysis thread and only does one ``put_nowait``
per interested destination (a full queue drops the item for that destination, counted).
Encoding, rate limiting, name resolution, connecting and sending run in one daemon thread
per destination, so an unreachable or slow TCP peer never delays the other destinations
or the analysis.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import math
import queue
import socket
import struct
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..params import Params, build_dataclass, opt
from ..results import Event, Frames
from .base import StreamInfo

__all__ = [
    "IMMEDIATELY",
    "NTP_UNIX_OFFSET_S",
    "OscDestinationParams",
    "parse_target",
    "destinations_from_config",
    "OscPublisher",
    "DestinationStats",
    "OscStats",
    "osc_string",
    "osc_address_part",
    "encode_message",
    "encode_bundle",
    "pack_bundles",
    "ntp_timetag",
    "slip_encode",
]

log = logging.getLogger("fluxstream.osc")

#: The OSC timetag meaning "immediately" (NTP time 0 s + 1 fraction unit).
IMMEDIATELY = 1
#: Seconds from the NTP epoch (1900) to the unix epoch (1970).
NTP_UNIX_OFFSET_S = 2208988800

_BUNDLE_HEAD = b"#bundle\x00"
_BAD_ADDRESS_CHARS = set(" #*,/?[]{}")
_F32BE = np.dtype(">f4")
_F32LE = np.dtype("<f4")
_I32 = struct.Struct(">i")
_TT = struct.Struct(">Q")
_UDP_MAX = 65507
_RETRY_MAX_FACTOR = 8  # backoff doubles from retry_s up to 8 * retry_s
_CONNECT_TIMEOUT_S = 2.0
_SEND_TIMEOUT_S = 2.0
_RECOVERED_AFTER = 3  # sends in a row that must go through to end an outage

# Event kinds and the name that selects them in `features` / their address word.
_EVENT_WORD = {"gate_open": "gate", "gate_close": "gate", "overrun": "gap"}


# --- encoding ----------------------------------------------------------------------------

def osc_string(s: str) -> bytes:
    """An OSC string: UTF-8 bytes, a NUL, padded with NULs to a multiple of 4 bytes."""
    b = s.encode("utf-8")
    if b"\x00" in b:
        raise ValueError(f"OSC strings cannot contain NUL characters: {s!r}")
    return b + b"\x00" * (4 - len(b) % 4)


def osc_address_part(name: str) -> str:
    """``name`` as one address component: characters OSC forbids (space ``#*,/?[]{}``,
    non-printable, non-ASCII) replaced by ``_``."""
    out = "".join("_" if (c in _BAD_ADDRESS_CHARS or not (32 < ord(c) < 127)) else c for c in name)
    return out or "_"


def _check_address(key: str, address: str, *, allow_empty: bool = False) -> None:
    if allow_empty and address == "":
        return
    if not address.startswith("/") or address.endswith("/") or "//" in address:
        raise ConfigError(f"{key}={address!r} is not allowed: must be an OSC address such as '/fluxstream' "
                          f"(starts with '/', no empty parts, no trailing '/')")
    bad = sorted({c for c in address if c != "/" and (c in _BAD_ADDRESS_CHARS or not (32 < ord(c) < 127))})
    if bad:
        raise ConfigError(f"{key}={address!r} is not allowed: OSC addresses cannot contain {''.join(bad)!r} "
                          f"(nor space # * , ? [ ] {{ }})")


def _blob(data: bytes) -> bytes:
    return _I32.pack(len(data)) + data + b"\x00" * (-len(data) % 4)


def encode_message(address: str, *args: Any) -> bytes:
    """One OSC message.

    Parameters
    ----------
    address : str
        Starts with ``/``.
    *args
        ``float`` / numpy floating -> ``f``; ``int`` -> ``i`` (``h`` beyond int32);
        ``bool`` -> ``T``/``F``; ``str`` -> ``s``; ``bytes`` -> ``b``; ``None`` -> ``N``;
        a 1-d numeric ndarray -> one ``f`` per value.

    Returns
    -------
    bytes
        The message; its length is a multiple of 4.

    Raises
    ------
    ValueError, TypeError
        A bad address, a float beyond float32's range, an unsupported argument type.
    """
    if not isinstance(address, str) or not address.startswith("/"):
        raise ValueError(f"an OSC address starts with '/', got {address!r}")
    tags = [","]
    data = []
    for a in args:
        if isinstance(a, (bool, np.bool_)):
            tags.append("T" if a else "F")
        elif isinstance(a, (int, np.integer)):
            a = int(a)
            if -2**31 <= a < 2**31:
                tags.append("i")
                data.append(_I32.pack(a))
            else:
                tags.append("h")
                data.append(struct.pack(">q", a))
        elif isinstance(a, (float, np.floating)):
            tags.append("f")
            try:
                data.append(struct.pack(">f", float(a)))
            except OverflowError:
                raise ValueError(f"{a!r} is beyond the float32 range of an OSC 'f'") from None
        elif isinstance(a, str):
            tags.append("s")
            data.append(osc_string(a))
        elif isinstance(a, (bytes, bytearray, memoryview)):
            tags.append("b")
            data.append(_blob(bytes(a)))
        elif a is None:
            tags.append("N")
        elif isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind in "fiu":
            tags.append("f" * a.shape[0])
            data.append(a.astype(_F32BE).tobytes())
        else:
            raise TypeError(f"cannot send {type(a).__name__} {a!r} as an OSC argument")
    return osc_string(address) + osc_string("".join(tags)) + b"".join(data)


def ntp_timetag(unix_s: float) -> int:
    """The 64-bit OSC (NTP) timetag of a unix time [s]: seconds since 1900 in the high
    32 bits, the fraction in units of 2**-32 s in the low 32 bits."""
    t = float(unix_s) + NTP_UNIX_OFFSET_S
    if not (0.0 <= t < 2.0**32):
        raise ValueError(f"unix time {unix_s!r} s is outside the NTP era 0")
    sec = math.floor(t)
    frac = min(int((t - sec) * 4294967296.0 + 0.5), 0xFFFFFFFF)
    return (sec << 32) | frac


def encode_bundle(timetag: int, elements: Iterable[bytes]) -> bytes:
    """An OSC bundle of already encoded messages (or bundles) with a 64-bit timetag."""
    parts = [_BUNDLE_HEAD, _TT.pack(timetag)]
    for e in elements:
        parts.append(_I32.pack(len(e)))
        parts.append(e)
    return b"".join(parts)


def pack_bundles(timetag: int, messages: Sequence[bytes], mtu: int | None) -> tuple[list[bytes], int]:
    """Bundles with ``timetag`` holding ``messages`` in order, each at most ``mtu`` bytes.

    Messages are never cut: a message too large for any bundle under ``mtu`` goes alone
    in a bundle of its own (larger than ``mtu``).

    Returns
    -------
    bundles : list of bytes
    oversize : int
        How many of the bundles exceed ``mtu``.
    """
    if mtu is None:
        return [encode_bundle(timetag, messages)], 0
    head = len(_BUNDLE_HEAD) + 8
    out: list[bytes] = []
    cur: list[bytes] = []
    size = head
    oversize = 0
    for m in messages:
        need = 4 + len(m)
        if cur and size + need > mtu:
            out.append(encode_bundle(timetag, cur))
            cur, size = [], head
        cur.append(m)
        size += need
        if size > mtu:  # a single message that cannot fit
            oversize += 1
            out.append(encode_bundle(timetag, cur))
            cur, size = [], head
    if cur:
        out.append(encode_bundle(timetag, cur))
    return out, oversize


def slip_encode(packet: bytes, leading_end: bool = True) -> bytes:
    """SLIP framing of one packet for OSC over TCP (OSC 1.1, RFC 1055): 0xDB -> 0xDB 0xDD,
    0xC0 -> 0xDB 0xDC, and the END byte 0xC0 after the packet and, by default, also
    before it ("double-ENDed", as OSC 1.1 recommends)."""
    body = packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"
    return b"\xc0" + body if leading_end else body


# --- configuration -----------------------------------------------------------------------

def _is_host(h: str) -> bool:
    if not h or len(h) > 253 or any(c.isspace() for c in h):
        return False
    try:
        ipaddress.ip_address(h)
        return True
    except ValueError:
        pass
    return all(p and len(p) <= 63 and all(c.isalnum() or c in "-_" for c in p) for p in h.rstrip(".").split("."))


def _check_prefix(v: str) -> bool:
    _check_address("prefix", v, allow_empty=True)
    return True


def _check_names(v: tuple) -> bool:
    for n in v:
        if not isinstance(n, str) or not n:
            raise ConfigError(f"features={list(v)!r} must be a list of feature names and event kinds "
                              f"(e.g. ['rms', 'mel', 'onset']); {n!r} is not a name")
    return True


@dataclass(frozen=True, kw_only=True)
class OscDestinationParams(Params):
    """One OSC destination: an ``[[output.osc]]`` table, or ``--osc HOST:PORT``.

    Parameters
    ----------
    host : str
        Name or IP address (v4 or v6) of the receiver; resolved in the sender thread.
    port : int 1..65535
    protocol : {"udp", "tcp"}
        TCP frames packets with SLIP (OSC 1.1) and reconnects when the peer goes away.
    features : tuple of str
        Feature names and event kinds (``onset``, ``gate``, ``gap``, ``nonfinite``) to
        send; empty: everything.
    rate_hz : float >= 0 [1/s]
        At most this many frame bundles per second (e.g. 60 for a visual patch); frames
        in between are coalesced (newest value wins, sent at the next slot); 0: no limit.
    on_change : float >= 0 [feature units]
        Send a feature only when one of its values changed by at least this much since
        it was last sent; 0: send every frame.
    timetag : {"capture", "immediately"}
        Bundle timetag: the frame's capture wall-clock time, or ``immediately``.
    mtu : int 128..65507 [bytes]
        Largest UDP datagram (1472 = Ethernet's 1500 minus IP and UDP headers).
    blobs : int >= 0 [values]
        Send vectors longer than this as one blob of float32 little-endian; 0: never.
    prefix : str
        Address prefix (``/fluxstream``; ``""`` for none).
    queue_size : int 1..65536 [items]
        Items waiting for this destination's sender thread before new ones are dropped.
    retry_s : float 0.01..60 [s]
        First wait after a failed send or connect; doubles per consecutive failure up
        to 8 times this.
    """

    _section: ClassVar[str] = "output.osc"

    host: str = opt("127.0.0.1", str, "a host name or IP address", _is_host)
    port: int = opt(9000, int, "an integer 1..65535 (UDP/TCP port)", lambda v: 1 <= v <= 65535)
    protocol: str = opt("udp", str, "'udp' or 'tcp'", choices=("udp", "tcp"))
    features: tuple = opt((), tuple, "a list of feature names and event kinds", _check_names)
    rate_hz: float = opt(0.0, float, "a number >= 0 (messages/s; 0 = no limit)", lambda v: v >= 0)
    on_change: float = opt(0.0, float, "a number >= 0 (feature units; 0 = send every frame)", lambda v: v >= 0)
    timetag: str = opt("capture", str, "'capture' or 'immediately'", choices=("capture", "immediately"))
    mtu: int = opt(1472, int, "an integer 128..65507 (bytes)", lambda v: 128 <= v <= _UDP_MAX)
    blobs: int = opt(0, int, "an integer >= 0 (values; 0 = never send blobs)", lambda v: v >= 0)
    prefix: str = opt("/fluxstream", str, "an OSC address such as '/fluxstream', or ''", _check_prefix)
    queue_size: int = opt(256, int, "an integer 1..65536 (items)", lambda v: 1 <= v <= 65536)
    retry_s: float = opt(1.0, float, "a number 0.01..60 (s)", lambda v: 0.01 <= v <= 60)

    @property
    def url(self) -> str:
        """``udp://host:port`` (``[v6]`` in brackets), for logs and stats."""
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.protocol}://{h}:{self.port}"


def parse_target(text: str, **overrides: Any) -> OscDestinationParams:
    """A destination from ``--osc`` text: ``HOST:PORT``, ``[V6ADDR]:PORT``, ``:PORT``
    (127.0.0.1), with an optional ``udp://`` or ``tcp://`` scheme.

    Parameters
    ----------
    text : str
    **overrides
        Other :class:`OscDestinationParams` fields.

    Raises
    ------
    ConfigError
        A message naming the text and the expected form.

    Examples
    --------
    >>> parse_target("192.168.1.20:9000").url
    'udp://192.168.1.20:9000'
    >>> parse_target("tcp://[::1]:7000").url
    'tcp://[::1]:7000'
    """
    if not isinstance(text, str):
        raise ConfigError(f"--osc {text!r}: expected HOST:PORT (e.g. 127.0.0.1:9000)")
    t = text.strip()
    protocol = overrides.pop("protocol", "udp")
    for scheme in ("udp://", "tcp://", "osc.udp://", "osc.tcp://"):
        if t.lower().startswith(scheme):
            protocol = scheme.split("://")[0].replace("osc.", "")
            t = t[len(scheme):].rstrip("/")
            break
    if t.startswith("["):
        host, sep, rest = t[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ConfigError(f"--osc {text!r}: expected [IPv6]:PORT, e.g. [::1]:9000")
        port_s = rest[1:]
    else:
        host, sep, port_s = t.rpartition(":")
        if not sep:
            raise ConfigError(f"--osc {text!r}: expected HOST:PORT (e.g. 127.0.0.1:9000 or :9000 for this machine)")
        if ":" in host:
            raise ConfigError(f"--osc {text!r}: write an IPv6 address in brackets, e.g. [::1]:9000")
    host = host or "127.0.0.1"
    if not port_s.isdigit():
        raise ConfigError(f"--osc {text!r}: port {port_s!r} must be an integer 1..65535")
    port = int(port_s)
    if not 1 <= port <= 65535:
        raise ConfigError(f"--osc {text!r}: port {port} must be an integer 1..65535")
    if not _is_host(host):
        raise ConfigError(f"--osc {text!r}: {host!r} is not a host name or IP address")
    try:
        return OscDestinationParams(host=host, port=port, protocol=protocol, **overrides)
    except TypeError as e:
        raise ConfigError(f"--osc {text!r}: {e}") from None


def destinations_from_config(tables: Iterable[Mapping[str, Any]]) -> list[OscDestinationParams]:
    """``[[output.osc]]`` tables -> destinations (unknown keys rejected with the list of
    valid ones, each value checked)."""
    out = []
    for i, t in enumerate(tables):
        out.append(build_dataclass(OscDestinationParams, t, f"output.osc[{i}]"))
    return out


# --- stats -------------------------------------------------------------------------------

@dataclass(frozen=True)
class DestinationStats:
    """Counters of one destination (a snapshot).

    Attributes
    ----------
    url : str
        ``udp://host:port`` / ``tcp://host:port``.
    state : str
        ``"starting"``, ``"up"``, ``"down"`` (waiting to retry), ``"stopped"``.
    queued, dropped_full : int
        Items accepted by / dropped at this destination's queue (the sender fell behind).
    packets, messages, bytes : int
        Datagrams (or SLIP packets), OSC messages and bytes sent.
    frames_coalesced : int
        Frames not sent on their own because of ``rate_hz`` (newer values replaced them).
    unchanged : int
        Feature messages skipped by ``on_change``.
    oversize : int
        Packets larger than ``mtu`` (one message too large to fit).
    nonfinite_values : int
        NaN/inf values sent as 0.0.
    send_errors : int
        Failed sends or connects (each outage is logged once).
    outages : int
        Times the destination went down.
    dropped_down : int
        Packets not sent while down (waiting for the retry).
    internal_errors : int
        Items the encoder could not handle (logged once with a traceback).
    last_error : str
    max_queue_depth : int
    """

    url: str
    state: str
    queued: int
    dropped_full: int
    packets: int
    messages: int
    bytes: int
    frames_coalesced: int
    unchanged: int
    oversize: int
    nonfinite_values: int
    send_errors: int
    outages: int
    dropped_down: int
    internal_errors: int
    last_error: str
    max_queue_depth: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class OscStats:
    """Totals over destinations, each destination's :class:`DestinationStats`, and the
    live switches (``paused``; ``skipped_paused``: items not sent while paused; ``muted``:
    features and event kinds switched off)."""

    packets: int
    messages: int
    bytes: int
    dropped: int
    send_errors: int
    destinations: tuple
    paused: bool = False
    skipped_paused: int = 0
    muted: tuple = ()

    def as_dict(self) -> dict:
        return {"packets": self.packets, "messages": self.messages, "bytes": self.bytes, "dropped": self.dropped,
                "send_errors": self.send_errors, "paused": self.paused, "skipped_paused": self.skipped_paused,
                "muted": list(self.muted), "destinations": [d.as_dict() for d in self.destinations]}


# --- transport ---------------------------------------------------------------------------

class _Link:
    """A socket to one destination; ``send`` raises OSError on failure."""

    def __init__(self, p: OscDestinationParams):
        self.p = p
        self.sock: socket.socket | None = None
        self.fresh = True  # no packet sent yet on this TCP connection

    def connect(self) -> None:
        p = self.p
        kind = socket.SOCK_DGRAM if p.protocol == "udp" else socket.SOCK_STREAM
        infos = socket.getaddrinfo(p.host, p.port, type=kind)  # may block: sender thread only
        # IPv4 first: "localhost" resolving to ::1 first would miss a receiver bound to
        # 127.0.0.1 (the common case for OSC software).
        infos.sort(key=lambda i: i[0] != socket.AF_INET)
        err: OSError | None = None
        for family, stype, proto, _, addr in infos:
            s = socket.socket(family, stype, proto)
            try:
                if p.protocol == "udp":
                    if family == socket.AF_INET:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                    s.connect(addr)  # connected: ICMP "port unreachable" surfaces as ECONNREFUSED
                else:
                    s.settimeout(_CONNECT_TIMEOUT_S)
                    s.connect(addr)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    s.settimeout(_SEND_TIMEOUT_S)
                self.sock = s
                self.fresh = True
                return
            except OSError as e:
                s.close()
                err = e
        raise err if err is not None else OSError(f"no address for {p.host!r}")

    def send(self, packets: list[bytes]) -> None:
        if self.sock is None:
            self.connect()
        if self.p.protocol == "udp":
            for pk in packets:
                self.sock.send(pk)
        else:
            # The first packet of a connection goes without the leading END: liblo 0.31
            # (oscdump) drops a stream whose first bytes are END "#bundle" (measured);
            # a lone trailing END is valid SLIP (RFC 1055) for every decoder.
            data = b"".join(slip_encode(pk, leading_end=not (self.fresh and i == 0)) for i, pk in enumerate(packets))
            self.sock.sendall(data)
            self.fresh = False

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


# --- one destination ---------------------------------------------------------------------

_STOP = object()


class _Destination:
    """Queue + sender thread + encoder state of one destination."""

    def __init__(self, params: OscDestinationParams, info: StreamInfo, unix_of: Callable[[float, int | None], float]):
        p = self.p = params
        self.info = info
        self.unix_of = unix_of
        self.queue: queue.Queue = queue.Queue(maxsize=p.queue_size)
        self.link = _Link(p)
        self.want = frozenset(p.features) if p.features else None
        self._want_cache: dict[tuple, tuple] = {}
        self.multichannel = info.channels > 1
        self.interval = 1.0 / p.rate_hz if p.rate_hz > 0 else 0.0
        self.mtu = p.mtu if p.protocol == "udp" else None
        self.immediate = p.timetag == "immediately"
        self.tokens = 1.0
        self.t_tokens = time.monotonic()
        self.pending: dict[tuple, tuple] = {}  # (stream, feature, ch) -> (values, timetag)
        self.last_sent: dict[tuple, np.ndarray] = {}
        self.addr_cache: dict[tuple, str] = {}
        self.head_cache: dict[tuple, bytes] = {}
        self.state = "starting"
        self.ok_streak = 0
        self.down_until = 0.0
        self.backoff = p.retry_s
        self.logged: set[str] = set()
        # counters (queued/dropped_full/max_depth by the submitting thread, the rest here)
        self.queued = self.dropped_full = self.max_depth = 0
        self.packets = self.messages = self.bytes = 0
        self.coalesced = self.unchanged = self.oversize = self.nonfinite = 0
        self.send_errors = self.outages = self.dropped_down = self.internal_errors = 0
        self.last_error = ""
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"fluxstream-osc-{p.url}")

    # -- submitting side (analysis thread) --

    def wants(self, item) -> bool:
        if self.want is None:
            return True
        if isinstance(item, Frames):
            return not self.want.isdisjoint(item.features)
        kind = item.kind
        return kind in self.want or _EVENT_WORD.get(kind) in self.want

    def offer(self, item, muted: frozenset) -> None:
        """Queue ``item`` with the features switched off at the time it was submitted."""
        q = self.queue
        d = q.qsize()
        if d > self.max_depth:
            self.max_depth = d
        try:
            q.put_nowait((item, muted))
            self.queued += 1
        except queue.Full:
            self.dropped_full += 1

    # -- sender thread --

    def _run(self) -> None:
        q = self.queue
        try:
            self._try_connect()
            while True:
                wait = self._flush_wait()
                try:
                    entry = q.get() if wait is None else q.get(timeout=wait)
                except queue.Empty:
                    entry = None  # the rate limit's slot for the pending values opened
                if entry is _STOP:
                    break
                item, muted = entry if entry is not None else (None, None)
                try:
                    if item is None:
                        self._flush()
                    elif isinstance(item, Frames):
                        self._on_frames(item, muted)
                    else:
                        self._on_event(item, muted)
                except Exception as e:  # an encoder bug or a failing clock: counted, never fatal
                    self._internal_error(e, item)
            try:
                self._flush(force=True)
            except Exception as e:
                self._internal_error(e, None)
        finally:
            self.link.close()
            self.state = "stopped"

    def _internal_error(self, e: Exception, item) -> None:
        self.pending.clear()
        self.internal_errors += 1
        self.last_error = f"{type(e).__name__}: {e}"
        self._log_once("internal", logging.ERROR, "OSC %s: could not encode %s (logged once, counted in stats):\n%s",
                       self.p.url, type(item).__name__ if item is not None else "pending values",
                       traceback.format_exc())

    def _log_once(self, key: str, level: int, msg: str, *args) -> None:
        if key not in self.logged:
            self.logged.add(key)
            log.log(level, msg, *args)

    def _timetag(self, time_s: float, sample: int | None) -> int:
        if self.immediate:
            return IMMEDIATELY
        return ntp_timetag(self.unix_of(time_s, sample))

    def _address(self, stream: str, word: str, ch: int) -> str:
        key = (stream, word, ch)
        a = self.addr_cache.get(key)
        if a is None:
            a = f"{self.p.prefix}/{osc_address_part(stream)}/{osc_address_part(word)}"
            if ch >= 0:
                a += f"/c{ch}"
            self.addr_cache[key] = a
        return a

    def _header(self, address: str, n: int, blob: bool) -> bytes:
        key = (address, n, blob)
        h = self.head_cache.get(key)
        if h is None:
            h = osc_string(address) + osc_string("," + ("b" if blob else "f" * n))
            if blob:
                h += _I32.pack(4 * n)
            self.head_cache[key] = h
        return h

    def _selected(self, features: Mapping[str, np.ndarray], muted: frozenset) -> tuple:
        key = (tuple(features), muted)
        sel = self._want_cache.get(key)
        if sel is None:
            sel = tuple(k for k in key[0] if (self.want is None or k in self.want) and k not in muted)
            if len(self._want_cache) < 64:
                self._want_cache[key] = sel
        return sel

    def _on_frames(self, fr: Frames, muted: frozenset = frozenset()) -> None:
        names = self._selected(fr.features, muted)
        if not names:
            return
        feats = [(k, fr.features[k]) for k in names]
        pending = self.pending
        stream = fr.stream
        times = fr.time_s
        for i in range(len(fr)):
            t = float(times[i])
            tt = self._timetag(t, None)
            replaced = False
            for name, arr in feats:
                row = arr[i]
                if row.ndim == 0:  # tolerate (n_frames,) scalars
                    row = row.reshape(1)
                if row.ndim == 1:
                    key = (stream, name, -1)
                    replaced |= key in pending
                    pending[key] = (row, tt)
                else:
                    for ch in range(row.shape[0]):
                        key = (stream, name, ch)
                        replaced |= key in pending
                        pending[key] = (row[ch], tt)
            if replaced:
                self.coalesced += 1
            if self.interval == 0.0 or self._take_token():
                self._flush()

    def _take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(1.0, self.tokens + (now - self.t_tokens) * self.p.rate_hz)
        self.t_tokens = now
        return self.tokens >= 1.0

    def _flush_wait(self) -> float | None:
        """Seconds until the rate limit lets the pending values go (None: nothing waits)."""
        if not self.pending:
            return None
        if not self.interval:
            return 0.0
        now = time.monotonic()
        tokens = min(1.0, self.tokens + (now - self.t_tokens) * self.p.rate_hz)
        return max(0.0, (1.0 - tokens) / self.p.rate_hz)

    def _flush(self, force: bool = False) -> None:
        """Send the pending feature values as one frame bundle (split by the MTU)."""
        if not self.pending:
            return
        if self.interval and not force:
            if not self._take_token():
                return
        pending = list(self.pending.items())
        self.pending.clear()  # in place: _on_frames holds a reference
        msgs = []
        tt = 0
        thr = self.p.on_change
        for key, (row, t) in pending:
            stream, name, ch = key
            vals = row
            if name == "pitch" and row.shape[0] == 3:
                hz = float(row[0])
                midi = 69.0 + 12.0 * math.log2(hz / 440.0) if hz > 0 and math.isfinite(hz) else 0.0
                vals = np.array((row[0], row[1], midi, row[2]), dtype=np.float32)
            if not np.isfinite(vals).all():
                bad = ~np.isfinite(vals)
                self.nonfinite += int(bad.sum())
                vals = np.where(bad, np.float32(0.0), vals)
            if thr > 0.0:
                last = self.last_sent.get(key)
                if last is not None and last.shape == vals.shape and float(np.max(np.abs(vals - last))) < thr:
                    self.unchanged += 1
                    continue
                self.last_sent[key] = vals
            n = vals.shape[0]
            if n == 0:
                continue
            blob = 0 < self.p.blobs < n
            address = self._address(stream, name, ch)
            payload = vals.astype(_F32LE if blob else _F32BE).tobytes()
            msgs.append(self._header(address, n, blob) + payload)
            if t > tt:
                tt = t
        if not msgs:  # nothing changed enough: the slot is not used
            return
        if self.interval:
            self.tokens -= 1.0
        self._send(tt, msgs)

    def _on_event(self, ev: Event, muted: frozenset = frozenset()) -> None:
        kind = ev.kind
        word = _EVENT_WORD.get(kind, kind)
        if kind in muted or word in muted:
            return
        info = ev.info or {}
        ch = -1
        if self.multichannel and kind in ("onset", "gate_open", "gate_close"):
            c = info.get("channel")
            if isinstance(c, (int, np.integer)) and c >= 0:
                ch = int(c)
        t = float(ev.time_s) if math.isfinite(ev.time_s) else 0.0
        if kind == "onset":
            strength = float(info.get("strength", ev.value))
            band = info.get("band", 0)
            args = (t, strength if math.isfinite(strength) else 0.0, int(band) if isinstance(band, (int, np.integer)) else 0)
        elif kind in ("gate_open", "gate_close"):
            args = (t, 1 if kind == "gate_open" else 0)
        elif kind in ("gap", "overrun", "nonfinite"):
            v = ev.value
            args = (t, int(v) if math.isfinite(v) else 0)
        else:
            v = float(ev.value)
            args = (t, v if math.isfinite(v) else 0.0)
        stream = self.info.stream
        msg = encode_message(self._address(stream, word, ch), *args)
        self._send(self._timetag(t, int(ev.sample)), [msg])

    def _send(self, tt: int, msgs: list[bytes]) -> None:
        bundles, over = pack_bundles(tt, msgs, self.mtu)
        if over:
            self.oversize += over
            self._log_once("oversize", logging.WARNING,
                           "OSC %s: a message larger than mtu=%d bytes was sent in a datagram of its own (IP "
                           "fragments it; counted as oversize, logged once); use blobs, fewer bins or TCP",
                           self.p.url, self.p.mtu)
        now = time.monotonic()
        if now < self.down_until:
            self.dropped_down += len(bundles)
            return
        try:
            self.link.send(bundles)
        except OSError as e:
            self._failed(e, now, len(bundles))
            return
        if self.state == "down":
            # A UDP send "succeeds" before the peer's ICMP refusal comes back (it fails the
            # next send), so an outage ends only after a few sends in a row went through.
            self.ok_streak += 1
            if self.ok_streak >= _RECOVERED_AFTER:
                log.info("OSC destination %s is reachable again (after %d failed attempts)", self.p.url,
                         self.send_errors)
                self.state = "up"
                self.backoff = self.p.retry_s
        else:
            self.state = "up"
        self.packets += len(bundles)
        self.messages += len(msgs)
        self.bytes += sum(len(b) for b in bundles)

    def _try_connect(self) -> None:
        try:
            self.link.connect()
        except OSError as e:
            self._failed(e, time.monotonic(), 0)

    def _failed(self, e: OSError, now: float, n: int) -> None:
        self.send_errors += 1
        self.ok_streak = 0
        self.dropped_down += n
        self.last_error = f"{type(e).__name__}: {e}"
        if self.state != "down":
            self.outages += 1
            log.warning("OSC destination %s unreachable (%s); retrying in %g s, backing off up to %g s "
                        "(logged once per outage, counted in stats)", self.p.url, self.last_error, self.backoff,
                        self.p.retry_s * _RETRY_MAX_FACTOR)
        self.state = "down"
        self.down_until = now + self.backoff
        self.backoff = min(self.backoff * 2.0, self.p.retry_s * _RETRY_MAX_FACTOR)
        if self.p.protocol == "tcp":
            self.link.close()  # a broken stream is reopened at the next attempt

    def stats(self) -> DestinationStats:
        return DestinationStats(
            self.p.url, self.state, self.queued, self.dropped_full, self.packets, self.messages, self.bytes,
            self.coalesced, self.unchanged, self.oversize, self.nonfinite, self.send_errors, self.outages,
            self.dropped_down, self.internal_errors, self.last_error, self.max_depth)

    def stop(self) -> None:
        while True:
            try:
                self.queue.put_nowait(_STOP)
                return
            except queue.Full:  # make room for the sentinel: the oldest item is lost (counted)
                try:
                    self.queue.get_nowait()
                    self.queued -= 1
                    self.dropped_full += 1
                except queue.Empty:
                    pass


# --- the publisher -----------------------------------------------------------------------

class OscPublisher:
    """Sends Frames and Events as OSC to several destinations (see the module docstring
    for the address map).

    Parameters
    ----------
    destinations : iterable of OscDestinationParams
        May be empty (add some with :meth:`add_destination`).

    Examples
    --------
    >>> import socket, numpy as np
    >>> from fluxstream.results import Frames
    >>> rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(("127.0.0.1", 0))
    >>> pub = OscPublisher([OscDestinationParams(port=rx.getsockname()[1], timetag="immediately")])
    >>> _ = pub.start(StreamInfo(sample_rate=48000))
    >>> pub.submit(Frames(np.array([0]), np.array([0.0]), {"rms": np.full((1, 1), 0.5, np.float32)}))
    >>> rx.settimeout(5); packet = rx.recv(2048)
    >>> packet[:8], b"/fluxstream/in/rms" in packet
    (b'#bundle\\x00', True)
    >>> _ = pub.stop(); rx.close()

    Real-time notes
    ---------------
    :meth:`submit` runs in the caller's (analysis) thread: per destination a selection
    test and one ``put_nowait``; nothing is encoded, resolved or sent there and nothing
    waits. Each destination has a daemon sender thread (started by :meth:`start`) that
    encodes (a few microseconds per feature message; headers cached per address),
    applies the rate limit and on-change test, and sends. Frames arrays are read, never
    modified, and not copied (the engine does not reuse them).
    """

    def __init__(self, destinations: Iterable[OscDestinationParams] = ()):
        dests = list(destinations)
        for d in dests:
            if not isinstance(d, OscDestinationParams):
                raise ConfigError(f"OSC destinations must be OscDestinationParams (see parse_target), got {d!r}")
        self._params = dests
        self._dests: tuple[_Destination, ...] = ()
        self._retired: list[_Destination] = []
        self._info: StreamInfo | None = None
        self._lock = threading.Lock()  # add/remove against each other (submit reads a tuple)
        self._t0 = 0.0
        self._final: OscStats | None = None
        self._paused = False
        self._skipped_paused = 0
        self._muted: frozenset = frozenset()

    @property
    def destinations(self) -> tuple[OscDestinationParams, ...]:
        return tuple(d.p for d in self._dests) if self._info is not None else tuple(self._params)

    def start(self, info: StreamInfo) -> "OscPublisher":
        """Start a sender thread per destination.

        Parameters
        ----------
        info : StreamInfo
            Sample rate, channels, stream name and ``clock`` (sample -> unix time). Without
            a clock, sample 0 is taken to be captured at the wall-clock time of this call.
        """
        if self._info is not None:
            raise ConfigError("OscPublisher already started")
        if not isinstance(info, StreamInfo):
            raise ConfigError(f"OscPublisher.start needs a StreamInfo, got {info!r}")
        self._info = info
        self._t0 = time.time()
        self._dests = tuple(self._make(p) for p in self._params)
        for d in self._dests:
            d.thread.start()
        return self

    def _unix_of(self, time_s: float, sample: int | None) -> float:
        info = self._info
        if info.clock is None:
            return self._t0 + time_s
        if sample is None:
            sample = int(round(time_s * info.sample_rate))
        return float(info.clock(sample))

    def _make(self, p: OscDestinationParams) -> _Destination:
        return _Destination(p, self._info, self._unix_of)

    def submit(self, item: Frames | Event) -> None:
        """Queue a Frames or Event for every destination that selects it; never blocks."""
        if self._paused:
            self._skipped_paused += 1
            return
        muted = self._muted
        for d in self._dests:
            if d.want is None or d.wants(item):
                d.offer(item, muted)

    __call__ = submit

    # -- live switches (for the control server) --

    def pause(self) -> None:
        """Stop publishing (items submitted meanwhile are counted, not sent)."""
        self._paused = True

    def resume(self) -> None:
        """Publish again."""
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    def set_feature_enabled(self, name: str, on: bool) -> None:
        """Switch a feature's (or an event kind's: ``onset``, ``gate``...) messages off or
        on again, for every destination."""
        # A new set each time (never mutated): submit() hands the current one along with
        # each item, so a switch applies from the next item submitted.
        self._muted = self._muted - {name} if on else self._muted | {name}

    @property
    def muted(self) -> frozenset:
        return self._muted

    def add_destination(self, params: OscDestinationParams) -> None:
        """Add a destination (also while running)."""
        if not isinstance(params, OscDestinationParams):
            raise ConfigError(f"expected OscDestinationParams, got {params!r}")
        with self._lock:
            if self._info is None:
                self._params.append(params)
                return
            d = self._make(params)
            d.thread.start()
            self._dests = self._dests + (d,)

    def remove_destination(self, host: str, port: int, protocol: str | None = None) -> bool:
        """Remove (and stop) the destinations at host:port; True if there was one."""
        def match(p):
            return p.host == host and p.port == port and (protocol is None or p.protocol == protocol)

        with self._lock:
            if self._info is None:
                before = len(self._params)
                self._params = [p for p in self._params if not match(p)]
                return len(self._params) != before
            gone = [d for d in self._dests if match(d.p)]
            self._dests = tuple(d for d in self._dests if not match(d.p))
        for d in gone:
            d.stop()
            self._retired.append(d)
        return bool(gone)

    def stop(self, timeout_s: float = 3.0) -> OscStats:
        """Flush what waits for the rate limit, stop every sender thread, close sockets;
        returns the final stats (idempotent). A sender stuck in a TCP send past the
        timeout is logged and left behind (daemon)."""
        dests = list(self._dests) + self._retired
        for d in self._dests:
            d.stop()
        deadline = time.monotonic() + timeout_s
        for d in dests:
            if d.thread.is_alive():
                d.thread.join(max(0.0, deadline - time.monotonic()))
                if d.thread.is_alive():
                    log.error("OSC sender for %s did not stop within %g s; left behind", d.p.url, timeout_s)
        stats = self.stats
        self._dests = ()
        self._retired = []
        self._final = stats
        return stats

    @property
    def stats(self) -> OscStats:
        """Totals and per-destination counters (any thread; values may be one item old)."""
        ds = [d.stats() for d in list(self._dests) + self._retired]
        if not ds and self._final is not None:
            return self._final
        return OscStats(
            packets=sum(d.packets for d in ds), messages=sum(d.messages for d in ds), bytes=sum(d.bytes for d in ds),
            dropped=sum(d.dropped_full + d.dropped_down for d in ds), send_errors=sum(d.send_errors for d in ds),
            destinations=tuple(ds), paused=self._paused, skipped_paused=self._skipped_paused,
            muted=tuple(sorted(self._muted)))

    def __enter__(self) -> "OscPublisher":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

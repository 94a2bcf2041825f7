"""Recording features to files: ``.npz``, ``.csv`` and ``.jsonl`` (the ``analyze --out``
contract, documented in README).

``.npz``
    One array per feature, ``(n_frames, dim)`` (``(n_frames, channels, dim)`` for a
    multichannel stream); ``<feature>.time`` (frame times [s], float64);
    ``<feature>.freqs`` (bin frequencies [Hz]) for features whose bins have one; for each
    kind of event that happened, ``<kind>.time`` [s], ``<kind>.sample`` and
    ``<kind>.value`` (gap: samples lost; nonfinite: values replaced); and ``_meta``, a JSON
    string (sample rate, STFT parameters, channels, source, features with unit and latency).
``.csv``
    A header ``frame,time_s,<columns>`` and one row per frame, written once every feature
    of that frame has arrived (a delayed feature such as ``mfcc.delta`` holds its row back
    by its delay). A scalar feature is one
    column named after it; a vector feature is ``<feature>.<bin>``; a multichannel stream
    inserts the channel: ``<feature>.c<ch>`` / ``<feature>.c<ch>.<bin>``. Events are not in
    the CSV.
``.jsonl``
    One JSON object per line: frames as ``{"frame": k, "time_s": t, "<feature>": value}``
    (a number for a scalar mono feature, else nested lists), events as
    ``{"event": kind, "time_s": t, "sample": n, "value": v}``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from typing import Mapping

import numpy as np

from ..errors import ConfigError
from ..results import Event, Frames

__all__ = ["FORMATS", "FeatureRecorder", "format_for"]

FORMATS = ("npz", "csv", "jsonl")


def format_for(path: str) -> str:
    """The output format a path's suffix names (``.npz``, ``.csv``, ``.jsonl``)."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise ConfigError(f"--out {path!r}: unknown format {ext or '(no suffix)'!r}; use .npz, .csv or .jsonl")
    return ext


class FeatureRecorder:
    """A subscriber that collects Frames and Events and writes them in one format.

    Parameters
    ----------
    path : str, optional
        Where :meth:`close` writes (``.npz``), or where rows stream to as they complete
        (``.csv``, ``.jsonl``). None: only collect (see :meth:`arrays`).
    freqs : mapping of str -> ndarray, optional
        Bin frequencies [Hz] per feature, written as ``<feature>.freqs``.
    meta : mapping, optional
        Written as ``_meta`` (JSON) in ``.npz``.
    layout : mapping of str -> tuple, optional
        Every feature that will arrive, with its per-frame shape (``(dim,)`` or
        ``(channels, dim)``). CSV/JSONL rows are written once every feature of that frame
        has arrived (delayed features such as deltas come later than the others); without
        a layout, the features of the first Frames define the row.
    clocks : mapping of str -> int, optional
        The hop [samples] of each feature's frame clock, when features are framed on more
        than one hop (``[features.pitch] hop_length``). Rows are then per clock and frame,
        in time order, with a ``hop_length`` column (CSV) or key (JSONL), and hold only
        the features of their clock. Default: one clock.

    Real-time notes
    ---------------
    Runs in whatever thread delivers results. ``.npz`` keeps every frame in memory until
    :meth:`close`; ``.csv``/``.jsonl`` hold only rows still waiting for a delayed feature
    (a few frames) and write the rest as they complete.
    """

    def __init__(self, path: str | None = None, freqs: Mapping[str, np.ndarray] | None = None,
                 meta: Mapping | None = None, layout: Mapping[str, tuple] | None = None,
                 clocks: Mapping[str, int] | None = None):
        self.path = path
        self.format = format_for(path) if path is not None else "npz"
        self.freqs = dict(freqs or {})
        self.meta = dict(meta or {})
        self.layout = dict(layout) if layout is not None else None
        self.clocks = dict(clocks) if clocks and len(set(clocks.values())) > 1 else None
        self._frames: dict[str, list[np.ndarray]] = {}
        self._times: dict[str, list[np.ndarray]] = {}
        self._events: dict[str, list[Event]] = {}
        # Rows waiting for a delayed feature, keyed (time_s, hop, frame): time order first.
        self._pending: dict[tuple, dict] = {}
        self._row_size: dict[int, int] = {}
        self._clock_time: dict[int, float] = {}  # latest frame time seen per clock [s]
        self._fh = None
        self._csv = None
        if path is not None and self.format != "npz":
            d = os.path.dirname(os.path.abspath(path))
            os.makedirs(d, exist_ok=True)
            self._fh = open(path, "w", newline="", encoding="utf-8")

    # --- collecting --------------------------------------------------------------------

    def __call__(self, item) -> None:
        if isinstance(item, Frames):
            self._on_frames(item)
        elif isinstance(item, Event):
            self._on_event(item)

    def _on_frames(self, fr: Frames) -> None:
        if self.format == "npz":
            for k, v in fr.features.items():
                self._frames.setdefault(k, []).append(np.ascontiguousarray(v))
                self._times.setdefault(k, []).append(fr.time_s)
            return
        if self.layout is None:
            self.layout = {k: v.shape[1:] for k, v in fr.features.items()}
        if self._csv is None and self.format == "csv":
            columns = ["frame"] + (["hop_length"] if self.clocks else []) + ["time_s"]
            for k, shape in self.layout.items():
                columns += _csv_columns(k, tuple(shape))
            self._csv = csv.writer(self._fh)
            self._csv.writerow(columns)
        hop = fr.hop_length if self.clocks else 0
        if fr.time_s.size:
            self._clock_time[hop] = max(self._clock_time.get(hop, -math.inf), float(fr.time_s[-1]))
        if hop not in self._row_size:
            self._row_size[hop] = sum(1 for k in self.layout if self.clocks is None or self.clocks.get(k) == hop)
        lists = {k: v.tolist() for k, v in fr.features.items() if k in self.layout}
        times = fr.time_s.tolist()
        for i, k in enumerate(fr.index.tolist()):
            row = self._pending.setdefault((times[i], hop, k), {})
            for name, vals in lists.items():
                row[name] = vals[i]
        self._drain(final=False)

    def _drain(self, final: bool) -> None:
        """Write rows in time order while they are complete (all of them when final)."""
        # With several clocks, a row is written once every clock has gone past its time
        # (so rows stay in time order); with one clock that is always true.
        upto = math.inf
        if self.clocks and not final:
            hops = set(self.clocks.values())
            upto = min(self._clock_time.get(h, -math.inf) for h in hops)
        for key in sorted(self._pending):
            row = self._pending[key]
            time_s, hop, k = key
            if not final and (len(row) < self._row_size[hop] or time_s > upto):
                break
            del self._pending[key]
            if self.format == "csv":
                cells = [k] + ([hop] if self.clocks else []) + [repr(time_s)]
                for name, shape in self.layout.items():
                    n = int(np.prod(shape))
                    v = row.get(name)
                    cells += ([""] * n if v is None else
                              [f"{x:.9g}" for x in np.ravel(v)])
                self._csv.writerow(cells)
            else:
                out = {"frame": k}
                if self.clocks:
                    out["hop_length"] = hop
                out["time_s"] = time_s
                for name in self.layout:
                    if name in row:
                        v = row[name]
                        out[name] = v[0] if isinstance(v, list) and len(v) == 1 and not isinstance(v[0], list) else v
                self._fh.write(json.dumps(out) + "\n")

    def _on_event(self, ev: Event) -> None:
        if self.format == "jsonl" and self._fh is not None:
            row = {"event": ev.kind, "time_s": ev.time_s, "sample": ev.sample, "value": ev.value}
            row.update({k: v for k, v in ev.info.items() if k not in row and _is_plain(v)})
            self._fh.write(json.dumps(row) + "\n")
        else:
            self._events.setdefault(ev.kind, []).append(ev)

    # --- results -----------------------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything collected, as the ``.npz`` holds it (``.npz`` format only)."""
        if self.format != "npz":
            raise RuntimeError("arrays() is only kept for the npz format")
        out: dict[str, np.ndarray] = {}
        for k, parts in self._frames.items():
            out[k] = np.concatenate(parts, axis=0)
            out[f"{k}.time"] = np.concatenate(self._times[k])
            if k in self.freqs:
                out[f"{k}.freqs"] = np.asarray(self.freqs[k], dtype=np.float64)
        for kind, evs in self._events.items():
            out[f"{kind}.time"] = np.array([e.time_s for e in evs], dtype=np.float64)
            out[f"{kind}.sample"] = np.array([e.sample for e in evs], dtype=np.int64)
            out[f"{kind}.value"] = np.array([e.value for e in evs], dtype=np.float64)
            # Numeric info fields every event of the kind has (onset: strength, latency,
            # channel, band) become arrays of their own.
            keys = set.intersection(*(set(e.info) for e in evs))
            for key in sorted(keys - {"time", "sample", "value"}):
                vals = [e.info[key] for e in evs]
                if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                       for v in vals):
                    dtype = np.int64 if all(isinstance(v, (int, np.integer)) for v in vals) else np.float64
                    out[f"{kind}.{key}"] = np.array(vals, dtype=dtype)
        out["_meta"] = np.asarray(json.dumps(self.meta, sort_keys=True))
        return out

    def close(self) -> None:
        """Write (``.npz``) or flush and close (``.csv``/``.jsonl``) the file (idempotent).

        Rows still waiting for a delayed feature (a run stopped early) are written with
        those cells empty (CSV) or keys missing (JSONL).
        """
        if self.path is not None and self.format == "npz":
            d = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(d, exist_ok=True)
            tmp = self.path + ".partial.npz"
            np.savez(tmp, **self.arrays())
            os.replace(tmp, self.path)  # a reader never sees a half-written file
            self.path = None
        if self._fh is not None:
            if self.layout is not None:
                self._drain(final=True)
            if self.format == "csv" and self._csv is None:
                self._fh.write("frame,time_s\n")
            self._fh.close()
            self._fh = None


def _is_plain(v) -> bool:
    return isinstance(v, (str, int, float, bool)) or v is None


def _csv_columns(name: str, shape: tuple[int, ...]) -> list[str]:
    if len(shape) == 1:  # mono: (dim,)
        return [name] if shape[0] == 1 else [f"{name}.{i}" for i in range(shape[0])]
    ch, dim = shape
    if dim == 1:
        return [f"{name}.c{c}" for c in range(ch)]
    return [f"{name}.c{c}.{i}" for c in range(ch) for i in range(dim)]

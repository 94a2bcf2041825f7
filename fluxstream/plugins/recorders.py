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
    A header ``frame,time_s,<columns>`` and one row per frame. A scalar feature is one
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
import io
import json
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
        Where :meth:`close` writes (``.npz``), or where rows stream to as they arrive
        (``.csv``, ``.jsonl``). None: only collect (see :meth:`arrays`).
    freqs : mapping of str -> ndarray, optional
        Bin frequencies [Hz] per feature, written as ``<feature>.freqs``.
    meta : mapping, optional
        Written as ``_meta`` (JSON) in ``.npz``.

    Real-time notes
    ---------------
    Runs in whatever thread delivers results. ``.npz`` keeps every frame in memory until
    :meth:`close` (one array per feature at the end); ``.csv``/``.jsonl`` write each row as
    it arrives (buffered) and keep nothing.
    """

    def __init__(self, path: str | None = None, freqs: Mapping[str, np.ndarray] | None = None,
                 meta: Mapping | None = None):
        self.path = path
        self.format = format_for(path) if path is not None else "npz"
        self.freqs = dict(freqs or {})
        self.meta = dict(meta or {})
        self._frames: dict[str, list[np.ndarray]] = {}
        self._times: list[np.ndarray] = []
        self._events: dict[str, list[tuple[float, int, float]]] = {}
        self._fh = None
        self._csv = None
        self._columns: list[str] | None = None
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
            self._times.append(fr.time_s)
            for k, v in fr.features.items():
                self._frames.setdefault(k, []).append(np.ascontiguousarray(v))
        elif self.format == "csv":
            self._write_csv(fr)
        else:
            self._write_jsonl(fr)

    def _on_event(self, ev: Event) -> None:
        if self.format == "jsonl" and self._fh is not None:
            self._fh.write(json.dumps({"event": ev.kind, "time_s": ev.time_s, "sample": ev.sample,
                                       "value": ev.value}) + "\n")
        else:
            self._events.setdefault(ev.kind, []).append((ev.time_s, ev.sample, ev.value))

    def _write_csv(self, fr: Frames) -> None:
        if self._columns is None:
            self._columns = ["frame", "time_s"]
            for k, v in fr.features.items():
                self._columns += _csv_columns(k, v.shape[1:])
            self._csv = csv.writer(self._fh)
            self._csv.writerow(self._columns)
        cols = [fr.index[:, None].astype(np.float64), fr.time_s[:, None]]
        cols += [v.reshape(len(fr), -1) for v in fr.features.values()]
        table = np.concatenate([c.astype(np.float64, copy=False) for c in cols], axis=1)
        buf = io.StringIO()
        np.savetxt(buf, table, delimiter=",", fmt="%.9g")
        self._fh.write(buf.getvalue())

    def _write_jsonl(self, fr: Frames) -> None:
        lists = {k: v.tolist() for k, v in fr.features.items()}
        for i in range(len(fr)):
            row = {"frame": int(fr.index[i]), "time_s": float(fr.time_s[i])}
            for k, v in lists.items():
                val = v[i]
                row[k] = val[0] if isinstance(val, list) and len(val) == 1 and not isinstance(val[0], list) else val
            self._fh.write(json.dumps(row) + "\n")

    # --- results -----------------------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything collected, as the ``.npz`` holds it (``.npz`` format only)."""
        if self.format != "npz":
            raise RuntimeError("arrays() is only kept for the npz format")
        out: dict[str, np.ndarray] = {}
        times = np.concatenate(self._times) if self._times else np.zeros(0)
        for k, parts in self._frames.items():
            out[k] = np.concatenate(parts, axis=0)
            out[f"{k}.time"] = times
            if k in self.freqs:
                out[f"{k}.freqs"] = np.asarray(self.freqs[k], dtype=np.float64)
        for kind, rows in self._events.items():
            arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
            out[f"{kind}.time"] = arr[:, 0]
            out[f"{kind}.sample"] = arr[:, 1].astype(np.int64)
            out[f"{kind}.value"] = arr[:, 2]
        out["_meta"] = np.asarray(json.dumps(self.meta, sort_keys=True))
        return out

    def close(self) -> None:
        """Write (``.npz``) or flush and close (``.csv``/``.jsonl``) the file (idempotent)."""
        if self.path is not None and self.format == "npz":
            d = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(d, exist_ok=True)
            tmp = self.path + ".partial.npz"
            np.savez(tmp, **self.arrays())
            os.replace(tmp, self.path)  # a reader never sees a half-written file
            self.path = None
        if self._fh is not None:
            if self.format == "csv" and self._columns is None:
                self._fh.write("frame,time_s\n")
            self._fh.close()
            self._fh = None


def _csv_columns(name: str, shape: tuple[int, ...]) -> list[str]:
    if len(shape) == 1:  # mono: (dim,)
        return [name] if shape[0] == 1 else [f"{name}.{i}" for i in range(shape[0])]
    ch, dim = shape
    if dim == 1:
        return [f"{name}.c{c}" for c in range(ch)]
    return [f"{name}.c{c}.{i}" for c in range(ch) for i in range(dim)]

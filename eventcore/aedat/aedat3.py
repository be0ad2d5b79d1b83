"""AEDAT 3.1 reader (the DVS128 Gesture dataset's format), vectorised with numpy.

A file is an ASCII header (``#!AER-DAT3.1``, ``#Source 1: DVS128``, ..., ``#!END-HEADER``)
followed by packets: a 28-byte little-endian header (type, source, eventSize, eventTSOffset,
eventTSOverflow, eventCapacity, eventNumber, eventValid) and ``capacity * eventSize`` bytes of
events. Polarity packets (type 1) hold 8-byte events::

    data = valid | polarity << 1 | y << 2 | x << 17        (uint32)
    t    = eventTSOverflow << 31 | timestamp                (int32 timestamp, microseconds)

Only the packet headers are walked in Python; the polarity payloads are decoded, and time
order and coordinates checked, in one compiled pass (:mod:`eventcore.aedat.compiled`).

Valid bit: every one of a polarity packet's ``eventCapacity`` events is kept, whatever its
valid bit, exactly as spikingjelly's ``load_aedat_v3`` does, so that the app sees the events the
DVS128 Gesture training pipeline saw. How many had the bit cleared goes into ``warnings``.

Example::

    f = read_aedat3("user01_fluorescent.aedat")
    f.events["timestamp"], f.width, f.height, f.camera   # ..., 128, 128, "DVS128"
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from eventcore.events import empty_events
from eventcore.aedat.common import (
    check_inside,
    check_magic,
    check_monotonic,
    check_regular_file,
    check_sensor_size,
    read_file_bytes,
    release_pages,
    sensor_size,
)
from eventcore.errors import SourceError

MAGIC = b"#!AER-DAT3.1"
END_HEADER = b"#!END-HEADER"
POLARITY_EVENT = 1
_PACKET_HEADER = struct.Struct("<Hhiiiiii")
_POLARITY_EVENT_SIZE = 8  # uint32 data, int32 timestamp


@dataclass
class Aedat3File:
    """The polarity events of an AEDAT 3.1 file and what the header says about the sensor."""

    events: np.ndarray
    width: int
    height: int
    camera: str | None
    warnings: list[str] = field(default_factory=list)


def _parse_header(buf: bytes, path: Path) -> tuple[int, str | None]:
    """Byte offset where the packets start, and the first source's name (``buf``: bytes or an mmap)."""
    check_magic(bytes(buf[:64]), MAGIC, path, "AEDAT 3.1")
    camera = None
    pos = 0
    while True:
        nl = buf.find(b"\n", pos)
        line = buf[pos:nl].rstrip(b"\r") if nl >= 0 else b""
        if nl < 0 or not line.startswith(b"#"):
            raise SourceError(f"AEDAT 3.1 file {path}: the header has no {END_HEADER.decode()} line")
        pos = nl + 1
        if line == END_HEADER:
            return pos, camera
        text = line[1:].decode("ascii", "replace")
        key, _, value = text.partition(":")
        if key.strip() == "Format" and value.strip() != "RAW":
            raise SourceError(f"AEDAT 3.1 file {path}: compressed format {value.strip()!r} is not supported")
        if camera is None and key.startswith("Source "):
            camera = value.strip() or None


def _polarity_segments(buf: bytes, start: int, path: Path, walked=None) -> tuple[np.ndarray, int | None]:
    """Walk packet headers: rows (payload offset, event count, tsOverflow) of the polarity packets,
    and the file size if the last packet is cut short (else None). ``walked(a, b)``, if given,
    is told every 16 MiB that bytes [a, b) are behind (a mapped file hands their pages back)."""
    segments = []
    pos, size = start, len(buf)
    behind = start
    truncated = None
    while pos < size:
        if walked is not None and pos - behind >= 16 << 20:
            walked(behind, pos)
            behind = pos
        if size - pos < _PACKET_HEADER.size:
            truncated = size
            break
        etype, _, esize, _, overflow, capacity, _, _ = _PACKET_HEADER.unpack_from(buf, pos)
        if esize <= 0 or capacity < 0:
            raise SourceError(
                f"AEDAT 3.1 file {path}: corrupt packet header at byte {pos} "
                f"(event size {esize}, capacity {capacity})"
            )
        payload = pos + _PACKET_HEADER.size
        end = payload + capacity * esize
        if etype == POLARITY_EVENT:
            if esize != _POLARITY_EVENT_SIZE:
                raise SourceError(
                    f"AEDAT 3.1 file {path}: polarity packet at byte {pos} has {esize}-byte events, not 8"
                )
            segments.append((payload, (min(end, size) - payload) // esize, overflow))
        if end > size:
            truncated = size
            break
        pos = end
    return np.array(segments, dtype=np.int64).reshape(-1, 3), truncated


class _Decoded(NamedTuple):
    """Events of some polarity packets and what the one decoding pass saw on the way."""

    events: np.ndarray
    invalid: int  # events whose valid bit is cleared (kept all the same)
    back: int  # first event earlier than the one before it (or than ``prev_t``), -1 if none
    outside: int  # first event outside the sensor, -1 if none (or the sensor is unknown)
    max_x: int
    max_y: int


def _decode(raw: np.ndarray, segments: np.ndarray, size: tuple[int, int] | None = None,
            prev_t: int = np.iinfo(np.int64).min) -> _Decoded:
    """The events of the polarity packets ``segments`` (rows: offset, count, tsOverflow) of the
    file's bytes ``raw``, decoded in one compiled pass and checked against ``size`` (width,
    height; None: unknown) and time order (after ``prev_t``)."""
    counts = segments[:, 1]
    events = empty_events(int(counts.sum()))
    width, height = size if size is not None else (-1, -1)
    from eventcore.aedat import compiled

    invalid, back, outside, max_x, max_y = compiled.aedat3_polarity(
        raw, segments[:, 0], counts, segments[:, 2], width, height, prev_t, events)
    return _Decoded(events, invalid, back, outside, max_x, max_y)


def read_aedat3(path: str | Path) -> Aedat3File:
    """Read every polarity event of an AEDAT 3.1 file (see the module docstring for the format).

    Resolution comes from the header's source name; for an unknown sensor it is the largest
    coordinate + 1, with a warning. A file cut short keeps the events before the damage.
    """
    path = Path(path)
    buf = read_file_bytes(path, "AEDAT 3.1")
    start, camera = _parse_header(buf, path)
    segments, truncated_at = _polarity_segments(buf, start, path)
    size = sensor_size(camera)
    d = _decode(np.frombuffer(buf, dtype=np.uint8), segments, size)
    events = d.events
    warnings = []
    if truncated_at is not None:
        warnings.append(f"file truncated at byte {truncated_at}: kept {len(events)} events before the damage")
    if d.invalid:
        warnings.append(
            f"{d.invalid} events have their valid bit cleared; kept, as spikingjelly's loader keeps them"
        )
    if d.back >= 0:
        check_monotonic(events["timestamp"], path, "AEDAT 3.1")
    if size is None:
        if not len(events):
            raise SourceError(f"AEDAT 3.1 file {path}: no polarity events and an unknown camera {camera!r}: no sensor size")
        width, height = d.max_x + 1, d.max_y + 1
        warnings.append(f"unknown camera {camera!r}: resolution {width}x{height} taken from the events")
        check_sensor_size(width, height, f"AEDAT 3.1 file {path}")
    else:
        width, height = size
        if d.outside >= 0:
            check_inside(events["x"], events["y"], width, height, path, "AEDAT 3.1")
    return Aedat3File(events, width, height, camera, warnings)


class Aedat3Reader:
    """An AEDAT 3.1 file read in bounded chunks: mapped, not loaded; random access by time.

    Opening walks the packet headers and decodes the file once, ``chunk_events`` at a time,
    with the checks of :func:`read_aedat3` (time order, coordinates, sensor size), indexing
    each polarity packet by time; :meth:`events` then decodes only the packets a time range
    touches and :meth:`chunks` streams the file. Memory: the index (about 40 bytes a packet)
    and one chunk, whatever the file's length.
    """

    format = "aedat3.1"

    def __init__(self, path: str | Path, chunk_events: int = 1 << 20) -> None:
        import mmap

        self.path = Path(path)
        self.name = self.path.name
        where = f"AEDAT 3.1 file {self.path}"
        if check_regular_file(self.path, "AEDAT 3.1") == 0:
            raise SourceError(f"{where}: the file is empty")
        try:
            with open(self.path, "rb") as f:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as err:
            raise SourceError(f"{where}: cannot be read ({err.strerror})") from None
        self._raw = np.frombuffer(self._map, dtype=np.uint8)
        start, self.camera = _parse_header(self._map, self.path)
        segments, truncated_at = _polarity_segments(self._map, start, self.path,
                                                    lambda a, b: release_pages(self._map, a, b))
        release_pages(self._map, 0, len(self._map))
        self._segments = segments[segments[:, 1] > 0]
        self.chunk_events = chunk_events
        self.warnings: list[str] = []
        self._index(truncated_at, where)

    def _groups(self) -> list[tuple[int, int]]:
        """Consecutive packet ranges [a, b) of about ``chunk_events`` events each."""
        out, a, n = [], 0, 0
        for i, count in enumerate(self._segments[:, 1].tolist()):
            n += count
            if n >= self.chunk_events:
                out.append((a, i + 1))
                a, n = i + 1, 0
        if a < len(self._segments):
            out.append((a, len(self._segments)))
        return out

    def _index(self, truncated_at: int | None, where: str) -> None:
        size = sensor_size(self.camera)
        total = invalid = 0
        max_x = max_y = -1
        last_t = np.iinfo(np.int64).min
        firsts, lasts = [], []
        for a, b in self._groups():
            d = self._decode_group(a, b, size, last_t)
            invalid += d.invalid
            t = d.events["timestamp"]
            if d.back >= 0:
                i = d.back
                before = int(t[i - 1]) if i else last_t
                raise SourceError(f"{where}: timestamps go backwards at event {total + i} "
                                  f"({before} us, then {int(t[i])} us)")
            if d.outside >= 0:
                i, ev = d.outside, d.events
                raise SourceError(f"{where}: event {total + i} at x={int(ev['x'][i])}, y={int(ev['y'][i])} "
                                  f"lies outside the {size[0]}x{size[1]} sensor")
            max_x, max_y = max(max_x, d.max_x), max(max_y, d.max_y)
            ends = np.cumsum(self._segments[a:b, 1])
            firsts.append(t[ends - self._segments[a:b, 1]])
            lasts.append(t[ends - 1])
            total += len(t)
            if len(t):
                last_t = int(t[-1])
        self._ends = np.cumsum(self._segments[:, 1])
        self.event_count = total
        self._first = np.concatenate(firsts) if firsts else np.empty(0, np.int64)
        self._last = np.concatenate(lasts) if lasts else np.empty(0, np.int64)
        self.start_us = int(self._first[0]) if total else 0
        self.end_us = int(self._last[-1]) if total else 0
        if truncated_at is not None:
            self.warnings.append(f"file truncated at byte {truncated_at}: kept {total} events before the damage")
        if invalid:
            self.warnings.append(f"{invalid} events have their valid bit cleared; kept, as spikingjelly's loader "
                                 f"keeps them")
        if size is None:
            if not total:
                raise SourceError(f"{where}: no polarity events and an unknown camera {self.camera!r}: no sensor size")
            size = (max_x + 1, max_y + 1)
            self.warnings.append(f"unknown camera {self.camera!r}: resolution {size[0]}x{size[1]} taken from the events")
            check_sensor_size(*size, where)
        self.width, self.height = size

    def _decode_group(self, a: int, b: int, size: tuple[int, int] | None = None,
                      prev_t: int = np.iinfo(np.int64).min) -> _Decoded:
        """Packets [a, b) decoded; their mapped pages handed back."""
        out = _decode(self._raw, self._segments[a:b], size, prev_t)
        if b > a:
            off, count, _ = self._segments[b - 1].tolist()
            release_pages(self._map, int(self._segments[a, 0]), off + 8 * count)
        return out

    def chunks(self) -> Iterator[np.ndarray]:
        """Every event in time order, about ``chunk_events`` at a time."""
        for a, b in self._groups():
            yield self._decode_group(a, b).events

    def read_all(self) -> np.ndarray:
        return _decode(self._raw, self._segments).events

    def events(self, t0_us: int, t1_us: int) -> np.ndarray:
        """Events with ``t0_us <= timestamp < t1_us`` (only the packets the range touches are decoded)."""
        lo = int(np.searchsorted(self._last, t0_us, side="left"))
        hi = int(np.searchsorted(self._first, t1_us, side="left"))
        if hi <= lo:
            return empty_events(0)
        ev = _decode(self._raw, self._segments[lo:hi]).events
        a, b = np.searchsorted(ev["timestamp"], (t0_us, t1_us), side="left")
        return ev[a:b]

    def close(self) -> None:
        """Release the mapping (arrays returned before stay valid: they are copies)."""
        self._raw = np.empty(0, np.uint8)
        try:
            self._map.close()
        except BufferError:
            pass  # a view is still alive; the mapping goes with it

"""AEDAT 3.1 reader (the DVS128 Gesture dataset's format), vectorised with numpy.

A file is an ASCII header (``#!AER-DAT3.1``, ``#Source 1: DVS128``, ..., ``#!END-HEADER``)
followed by packets: a 28-byte little-endian header (type, source, eventSize, eventTSOffset,
eventTSOverflow, eventCapacity, eventNumber, eventValid) and ``capacity * eventSize`` bytes of
events. Polarity packets (type 1) hold 8-byte events::

    data = valid | polarity << 1 | y << 2 | x << 17        (uint32)
    t    = eventTSOverflow << 31 | timestamp                (int32 timestamp, microseconds)

Only the packet headers are walked in Python; the polarity payloads are gathered with one
concatenation and decoded as arrays.

Valid bit: every one of a polarity packet's ``eventCapacity`` events is kept, whatever its
valid bit, exactly as spikingjelly's ``load_aedat_v3`` does, so that the app sees the events the
DVS128 Gesture training pipeline saw. How many had the bit cleared goes into ``warnings``.

Example::

    f = read_aedat3("user01_fluorescent.aedat")
    f.events["timestamp"], f.width, f.height, f.camera   # ..., 128, 128, "DVS128"
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eventcore.events import empty_events
from eventcore.aedat.common import (
    check_inside,
    check_magic,
    check_monotonic,
    check_sensor_size,
    read_file_bytes,
    sensor_size,
)
from eventcore.errors import SourceError

MAGIC = b"#!AER-DAT3.1"
END_HEADER = b"#!END-HEADER"
POLARITY_EVENT = 1
_PACKET_HEADER = struct.Struct("<Hhiiiiii")
_POLARITY_RECORD = np.dtype([("data", "<u4"), ("timestamp", "<u4")])


@dataclass
class Aedat3File:
    """The polarity events of an AEDAT 3.1 file and what the header says about the sensor."""

    events: np.ndarray
    width: int
    height: int
    camera: str | None
    warnings: list[str] = field(default_factory=list)


def _parse_header(buf: bytes, path: Path) -> tuple[int, str | None]:
    """Byte offset where the packets start, and the first source's name."""
    check_magic(buf, MAGIC, path, "AEDAT 3.1")
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


def _polarity_segments(buf: bytes, start: int, path: Path) -> tuple[list[tuple[int, int, int]], int | None]:
    """Walk packet headers: (payload offset, event count, tsOverflow) of each polarity packet,
    and the file size if the last packet is cut short (else None)."""
    segments = []
    pos, size = start, len(buf)
    while pos < size:
        if size - pos < _PACKET_HEADER.size:
            return segments, size
        etype, _, esize, _, overflow, capacity, _, _ = _PACKET_HEADER.unpack_from(buf, pos)
        if esize <= 0 or capacity < 0:
            raise SourceError(
                f"AEDAT 3.1 file {path}: corrupt packet header at byte {pos} "
                f"(event size {esize}, capacity {capacity})"
            )
        payload = pos + _PACKET_HEADER.size
        end = payload + capacity * esize
        if etype == POLARITY_EVENT:
            if esize != _POLARITY_RECORD.itemsize:
                raise SourceError(
                    f"AEDAT 3.1 file {path}: polarity packet at byte {pos} has {esize}-byte events, not 8"
                )
            segments.append((payload, (min(end, size) - payload) // esize, overflow))
        if end > size:
            return segments, size
        pos = end
    return segments, None


def read_aedat3(path: str | Path) -> Aedat3File:
    """Read every polarity event of an AEDAT 3.1 file (see the module docstring for the format).

    Resolution comes from the header's source name; for an unknown sensor it is the largest
    coordinate + 1, with a warning. A file cut short keeps the events before the damage.
    """
    path = Path(path)
    buf = read_file_bytes(path, "AEDAT 3.1")
    start, camera = _parse_header(buf, path)
    segments, truncated_at = _polarity_segments(buf, start, path)

    raw = np.frombuffer(buf, dtype=np.uint8)
    counts = np.array([n for _, n, _ in segments], dtype=np.int64)
    if segments:
        records = np.concatenate([raw[off : off + 8 * n] for off, n, _ in segments]).view(_POLARITY_RECORD)
    else:
        records = np.empty(0, dtype=_POLARITY_RECORD)
    data = records["data"]
    t = records["timestamp"].astype(np.int64)
    overflows = np.array([ovf for _, _, ovf in segments], dtype=np.int64)
    if overflows.any():
        t |= np.repeat(overflows, counts) << 31

    events = empty_events(len(records))
    events["timestamp"] = t
    events["x"] = (data >> 17) & 0x7FFF
    events["y"] = (data >> 2) & 0x7FFF
    events["polarity"] = (data >> 1) & 1

    warnings = []
    if truncated_at is not None:
        warnings.append(f"file truncated at byte {truncated_at}: kept {len(events)} events before the damage")
    invalid = len(data) - int(np.count_nonzero(data & 1))
    if invalid:
        warnings.append(
            f"{invalid} events have their valid bit cleared; kept, as spikingjelly's loader keeps them"
        )

    check_monotonic(t, path, "AEDAT 3.1")
    size = sensor_size(camera)
    if size is None:
        if not len(events):
            raise SourceError(f"AEDAT 3.1 file {path}: no polarity events and an unknown camera {camera!r}: no sensor size")
        width = int(events["x"].max()) + 1
        height = int(events["y"].max()) + 1
        warnings.append(f"unknown camera {camera!r}: resolution {width}x{height} taken from the events")
        check_sensor_size(width, height, f"AEDAT 3.1 file {path}")
    else:
        width, height = size
        check_inside(events["x"], events["y"], width, height, path, "AEDAT 3.1")
    return Aedat3File(events, width, height, camera, warnings)

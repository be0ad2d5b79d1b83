"""Checks and lookups shared by the AEDAT 2.0 and 3.1 readers: sensor sizes, whole-file reads,
magic lines, monotonic time and coordinates inside the sensor, each failing with a SourceError."""

from __future__ import annotations

import mmap
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eventcore.errors import SourceError

# Normalised sensor-name fragments (lower case, no spaces, '-' or '_'), most specific first.
_SENSOR_SIZES: tuple[tuple[str, tuple[int, int]], ...] = (
    ("davis346", (346, 260)),
    ("davis240", (240, 180)),
    ("davis640", (640, 480)),
    ("davis208", (208, 192)),
    ("davis128", (128, 128)),
    ("dvxplorerlite", (320, 240)),
    ("dvxplorer", (640, 480)),
    ("dvs128", (128, 128)),
    ("tmpdiff128", (128, 128)),
)


@dataclass
class Recording:
    """A whole decoded recording: events (EVENT_DTYPE, time order), sensor size, format, camera, warnings."""

    events: np.ndarray
    width: int
    height: int
    format: str
    camera: str | None = None
    warnings: list[str] = field(default_factory=list)


def sensor_size(name: str | None) -> tuple[int, int] | None:
    """(width, height) of a sensor named in a header ("DVS128", "DAVIS346B", a jAER chip class)."""
    if not name:
        return None
    key = name.lower().replace(" ", "").replace("-", "").replace("_", "")
    for fragment, size in _SENSOR_SIZES:
        if fragment in key:
            return size
    return None


MAX_SENSOR = 2048
"""The largest sensor side accepted from any header, stream or event coordinates (pixels)."""


def check_sensor_size(width, height, what: str) -> tuple[int, int]:
    """(width, height) as ints, or a SourceError when either side is not 1..MAX_SENSOR."""
    try:
        w, h = int(width), int(height)
    except (TypeError, ValueError, OverflowError):
        raise SourceError(f"{what}: sensor size {width!r}x{height!r} is not a number") from None
    if not (0 < w <= MAX_SENSOR and 0 < h <= MAX_SENSOR):
        raise SourceError(f"{what}: impossible sensor size {w}x{h} (each side must be 1-{MAX_SENSOR} pixels)")
    return w, h


def check_regular_file(path: Path, kind: str) -> int:
    """The size of ``path``, which must be an existing regular file: never open a FIFO (it blocks)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SourceError(f"{kind} file {path}: no such file") from None
    except PermissionError:
        raise SourceError(f"{kind} file {path}: permission denied") from None
    except OSError as err:
        raise SourceError(f"{kind} file {path}: cannot be read ({err.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise SourceError(f"{kind} file {path}: is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise SourceError(f"{kind} file {path}: not a regular file (a pipe, socket or device); give a recording")
    return st.st_size


def read_file_bytes(path: Path, kind: str) -> bytes:
    """The whole file, or a SourceError saying why it cannot be read."""
    check_regular_file(path, kind)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{kind} file {path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{kind} file {path}: is a directory, not a file") from None
    except PermissionError:
        raise SourceError(f"{kind} file {path}: permission denied") from None
    except OSError as err:
        raise SourceError(f"{kind} file {path}: cannot be read ({err.strerror})") from None
    if not data:
        raise SourceError(f"{kind} file {path}: the file is empty")
    return data


def check_magic(buf: bytes, magic: bytes, path: Path, kind: str) -> None:
    """Refuse a file that does not start with ``magic``, naming the format it is if it is AEDAT."""
    if buf.startswith(magic):
        return
    if buf.startswith(b"#!AER-DAT"):
        version = buf[9:12].decode("ascii", "replace")
        raise SourceError(f"{kind} file {path}: this is an AEDAT {version} file, not {kind}")
    raise SourceError(f"{kind} file {path}: not an {kind} file (it does not start with {magic.decode()!r})")


def check_monotonic(t: np.ndarray, path: Path, kind: str) -> None:
    """Raise naming the first event whose timestamp is earlier than the one before it."""
    back = np.flatnonzero(t[1:] < t[:-1])
    if back.size:
        i = int(back[0]) + 1
        raise SourceError(
            f"{kind} file {path}: timestamps go backwards at event {i} "
            f"({int(t[i - 1])} us, then {int(t[i])} us)"
        )


def check_inside(x: np.ndarray, y: np.ndarray, width: int, height: int, path: Path, kind: str) -> None:
    """Raise naming the first event whose coordinates fall outside a width x height sensor."""
    outside = np.flatnonzero((x >= width) | (y >= height))
    if outside.size:
        i = int(outside[0])
        raise SourceError(
            f"{kind} file {path}: event {i} at x={int(x[i])}, y={int(y[i])} lies outside "
            f"the {width}x{height} sensor"
        )


def release_pages(mapping: mmap.mmap, start: int, end: int) -> None:
    """Hand back the pages of mapped bytes [start, end) once decoded: a mapped file read in chunks
    then keeps one chunk's pages in memory, not the whole file's (they come back from the page
    cache if read again)."""
    start -= start % mmap.PAGESIZE
    if end > start and hasattr(mapping, "madvise"):
        try:
            mapping.madvise(mmap.MADV_DONTNEED, start, min(end, len(mapping)) - start)
        except (OSError, ValueError):
            pass

"""AEDAT4 files through dv-processing: the event stream only, random access by time.

dv-processing indexes the file's packets, so a time range decompresses only the packets it
touches, and ``EventStore.numpy()`` already has ``EVENT_DTYPE``'s layout (one copy, no
conversion). Frames, IMU and trigger streams are ignored.

Example::

    src = Aedat4Source("gesture.aedat4")
    events = src.read_all()                    # EVENT_DTYPE array
    src.speed = 1.0
    for batch in src.batches(): ...
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import threading
from pathlib import Path

import dv_processing as dv
import numpy as np

from eventcore.events import as_events, empty_events
from app.sources.base import FileSource
from app.sources.dv import dv_error_message
from eventcore.errors import SourceError

_MAGIC = b"#!AER-DAT4.0\r\n"
_TRUNCATED = "FileDataTable set but not present"


def _data_table_offset(path: Path) -> int | None:
    """Where the header's ``dataTablePosition`` field lies in the file, or None if absent.

    The IOHeader is a size-prefixed flatbuffer after the version line; its field 1
    (int64, default -1) says where the packet index starts. dv-processing scans the whole
    file when it is -1, which is how a file cut short can still be read.
    """
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if not head.startswith(_MAGIC):
        return None
    try:
        base = len(_MAGIC) + 4
        (root,) = struct.unpack_from("<I", head, base)
        table = base + root
        (vt_rel,) = struct.unpack_from("<i", head, table)
        vtable = table - vt_rel
        (vt_size,) = struct.unpack_from("<H", head, vtable)
        (field,) = struct.unpack_from("<H", head, vtable + 6) if vt_size > 6 else (0,)
    except struct.error:
        return None
    return table + field if field else None


def _open_unindexed_copy(path: Path) -> dv.io.MonoCameraRecording:
    """Open a truncated file through a temporary copy whose header says "no index"."""
    offset = _data_table_offset(path)
    if offset is None:
        raise SourceError(f"{path.name}: truncated AEDAT4 file and its header cannot be repaired")
    fd, tmp = tempfile.mkstemp(suffix=".aedat4")
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out)
            out.seek(offset)
            out.write(struct.pack("<q", -1))
        return dv.io.MonoCameraRecording(tmp)
    finally:
        os.unlink(tmp)  # the open reader keeps its own handle


def _open_recording(path: Path) -> tuple[dv.io.MonoCameraRecording, bool]:
    """Open ``path`` with dv-processing; returns the reader and whether it was recovered."""
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path}: is a folder, not an AEDAT4 file")
    if path.stat().st_size == 0:
        raise SourceError(f"{path.name}: the file is empty")
    with open(path, "rb") as f:
        if f.read(len(_MAGIC)) != _MAGIC:
            raise SourceError(f"{path.name}: not an AEDAT4 file (no '#!AER-DAT4.0' version line)")
    link_dir = None
    target = path
    if path.suffix != ".aedat4":  # dv-processing insists on the exact extension
        link_dir = tempfile.mkdtemp()
        target = Path(link_dir) / "recording.aedat4"
        target.symlink_to(path.resolve())
    try:
        try:
            return dv.io.MonoCameraRecording(str(target)), False
        except RuntimeError as exc:
            if "End-Of-File" in str(exc):
                raise SourceError(f"{path.name}: the file is cut short inside its header") from None
            if "Wrong type identifier" in str(exc):
                why = dv_error_message(exc)
                raise SourceError(f"{path.name}: holds a stream type dv-processing cannot decode ({why})") from None
            if _TRUNCATED not in str(exc):
                raise SourceError(f"{path.name}: cannot read AEDAT4 file ({dv_error_message(exc)})") from None
        try:
            return _open_unindexed_copy(target), True
        except RuntimeError as exc:
            why = dv_error_message(exc)
            raise SourceError(f"{path.name}: truncated AEDAT4 file, nothing recoverable ({why})") from None
    finally:
        if link_dir is not None:
            shutil.rmtree(link_dir)


class Aedat4Source(FileSource):
    """An AEDAT4 recording's event stream, with the playback of :class:`FileSource`."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name
        self._lock = threading.Lock()
        self._reader, self._recovered = _open_recording(self.path)
        event_streams = [s for s in self._reader.getStreamNames() if self._reader.isStreamOfEventType(s)]
        if not event_streams:
            streams = ", ".join(self._reader.getStreamNames()) or "nothing"
            raise SourceError(f"{self.name}: no event stream in this AEDAT4 file (only {streams})")
        self._stream = "events" if "events" in event_streams else event_streams[0]
        resolution = self._reader.getEventResolution(self._stream)
        if resolution is None:
            raise SourceError(f"{self.name}: the event stream '{self._stream}' does not state its resolution")
        self.width, self.height = int(resolution[0]), int(resolution[1])
        self.camera = self._reader.getCameraName() or None
        self.start_us, self.end_us = self._event_time_range()
        self._pos = self.start_us
        if self._recovered:
            self.warnings.append(
                f"{self.name}: the file is truncated (its index is missing); "
                f"recovered the events up to {(self.end_us - self.start_us) / 1e6:.3f} s"
            )

    def _store(self, t0_us: int, t1_us: int):
        """dv-processing's events in [t0, t1), as an EventStore (lock held by the caller)."""
        try:
            return self._reader.getEventsTimeRange(int(t0_us), int(t1_us), self._stream)
        except RuntimeError as exc:
            raise SourceError(f"{self.name}: cannot read events ({dv_error_message(exc)})") from None

    def _event_time_range(self) -> tuple[int, int]:
        """First and last event timestamps (the file's range also covers frames and IMU).

        Windows growing from each end of the file's range, so only a few packets are read.
        """
        try:
            lo, hi = self._reader.getTimeRange()
        except RuntimeError as exc:
            raise SourceError(f"{self.name}: cannot read the time range ({dv_error_message(exc)})") from None
        if hi < lo:
            if self._recovered:
                raise SourceError(f"{self.name}: the file is truncated before its first complete packet")
            raise SourceError(f"{self.name}: the file holds no data (cut off before anything was saved?)")
        first = last = None
        with self._lock:
            width = 1024
            while first is None:
                store = self._store(lo, min(lo + width, hi + 1))
                if store is not None and len(store):
                    first = store.getLowestTime()
                elif lo + width > hi:
                    raise SourceError(f"{self.name}: the event stream is empty")
                width *= 4
            width = 1024
            while last is None:
                store = self._store(max(hi + 1 - width, lo), hi + 1)
                if store is not None and len(store):
                    last = store.getHighestTime()
                width *= 4
        return int(first), int(last)

    def events_between(self, t0_us: int, t1_us: int) -> np.ndarray:
        if t1_us <= t0_us:
            return empty_events()
        with self._lock:
            store = self._store(t0_us, t1_us)
        if store is None or len(store) == 0:
            return empty_events()
        return as_events(store.numpy())

"""AEDAT4 files: the event stream only, random access by time, safe on damaged files.

Files are read by :mod:`app.sources.aedat4_container` (Python, every declared size checked
against the file) rather than dv-processing, whose reader hangs, crashes or allocates
gigabytes on damaged files. Packets are indexed by time when the file opens, so a time
range decodes only the packets it touches. Frames, IMU and trigger streams are ignored.

Example::

    src = Aedat4Source("gesture.aedat4")
    events = src.read_all()                    # EVENT_DTYPE array
    src.speed = 1.0
    for batch in src.batches(): ...
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from app.sources.aedat4_container import Aedat4File
from app.sources.base import FileSource
from eventcore.errors import SourceError
from eventcore.events import empty_events


class Aedat4Source(FileSource):
    """An AEDAT4 recording's event stream, with the playback of :class:`FileSource`."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name
        self._lock = threading.Lock()
        self._file = Aedat4File(self.path)
        f = self._file
        self.width, self.height, self.camera = f.width, f.height, f.camera
        idx = f.index
        self._recovered = bool(idx.warnings)
        if len(idx.counts) == 0:
            if self._recovered:
                f.close()
                raise SourceError(f"{self.name}: the file is truncated before its first complete packet")
            # a whole file that received no events (a recording of a silent camera): valid, empty
            self.start_us = self.end_us = 0
            self._pos = 0
            self.warnings.append(f"{self.name}: the recording holds no events "
                                 "(nothing was recorded, or it was cut off before anything was saved)")
            return
        self.start_us, self.end_us = int(idx.t_first[0]), int(idx.t_last[-1])
        self._pos = self.start_us
        seconds = f"{(self.end_us - self.start_us) / 1e6:.3f}"
        self.warnings.extend(w.replace("{s}", seconds) for w in idx.warnings)

    @property
    def event_count(self) -> int:
        return int(self._file.index.counts.sum())

    def events_between(self, t0_us: int, t1_us: int) -> np.ndarray:
        if t1_us <= t0_us:
            return empty_events()
        with self._lock:
            return self._file.events(int(t0_us), int(t1_us))

    def close(self) -> None:
        super().close()

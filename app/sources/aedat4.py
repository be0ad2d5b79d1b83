"""AEDAT4 playback: :class:`eventcore.aedat.aedat4.Aedat4File` served as a file source.

Only a time range's packets are decoded (the file's index, or one walk when it opens), so
memory does not grow with the file. Frames, IMU and trigger streams are ignored.

Example::

    src = Aedat4Source("gesture.aedat4")
    src.speed = 1.0
    for batch in src.batches(): ...
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from app.sources.base import FileSource
from eventcore.aedat.aedat4 import Aedat4File
from eventcore.events import empty_events


class Aedat4Source(FileSource):
    """An AEDAT4 recording's event stream, with the playback of :class:`FileSource`."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name
        self._lock = threading.Lock()
        self.file = f = Aedat4File(self.path)
        self.width, self.height, self.camera = f.width, f.height, f.camera
        self.start_us, self.end_us = f.start_us, f.end_us
        self._pos = self.start_us
        self.warnings.extend(f.warnings)

    @property
    def event_count(self) -> int:
        return self.file.event_count

    def events_between(self, t0_us: int, t1_us: int) -> np.ndarray:
        if t1_us <= t0_us:
            return empty_events()
        with self._lock:
            return self.file.events(int(t0_us), int(t1_us))

    def read_all(self) -> np.ndarray:
        with self._lock:
            return self.file.read_all()

    def chunks(self, max_events: int = 0):
        """Every event in time order, a packet at a time (constant memory; packets keep their own size)."""
        return self.file.chunks()

    def close(self) -> None:
        super().close()

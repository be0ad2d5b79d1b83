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

from app.sources.base import ReaderSource
from eventcore.aedat.aedat4 import Aedat4File


class Aedat4Source(ReaderSource):
    """An AEDAT4 recording's event stream, with the playback of :class:`FileSource`."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(Aedat4File(path), path)

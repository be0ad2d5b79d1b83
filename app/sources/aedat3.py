"""AEDAT 3.1 playback: :class:`eventcore.aedat.aedat3.Aedat3Reader` (mapped, read in chunks) as a file source."""

from __future__ import annotations

from pathlib import Path

from app.sources.base import ReaderSource
from eventcore.aedat.aedat3 import Aedat3Reader


class Aedat3Source(ReaderSource):
    """An AEDAT 3.1 file played back a time range at a time; ``warnings`` holds the reader's warnings."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(Aedat3Reader(path), path)

"""AEDAT 2.0 playback: :class:`eventcore.aedat.aedat2.Aedat2Reader` (mapped, read in chunks) as a file source."""

from __future__ import annotations

from pathlib import Path

from app.sources.base import ReaderSource
from eventcore.aedat.aedat2 import Aedat2Reader


class Aedat2Source(ReaderSource):
    """An AEDAT 2.0 file played back a time range at a time; ``warnings`` holds the reader's warnings."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(Aedat2Reader(path), path)

"""AEDAT 2.0 playback: the core reader's events served as a file source."""

from __future__ import annotations

from pathlib import Path

from app.sources.base import ArraySource
from eventcore.aedat.aedat2 import read_aedat2


class Aedat2Source(ArraySource):
    """An AEDAT 2.0 file played back from memory; ``warnings`` holds the reader's warnings."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        f = read_aedat2(self.path)
        super().__init__(f.events, f.width, f.height, name=self.path.name, camera=f.camera)
        self.warnings.extend(f.warnings)

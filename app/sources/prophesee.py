"""Prophesee recordings (EVT 2.0 / 3.0 ``.raw``, DAT, HDF5) played back: decoding is :mod:`eventcore.aedat.prophesee`."""

from __future__ import annotations

from pathlib import Path

from app.sources.base import ArraySource
from eventcore.aedat.prophesee import read_prophesee


class PropheseeSource(ArraySource):
    """A Prophesee recording played back from memory; ``warnings`` holds what the reader noticed."""

    def __init__(self, path: str | Path, fmt: str | None = None) -> None:
        self.path = Path(path)
        f = read_prophesee(self.path, fmt)
        super().__init__(f.events, f.width, f.height, name=self.path.name, camera=f.camera)
        self.format = f.format
        self.warnings.extend(f.warnings)

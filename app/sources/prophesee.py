"""Prophesee recordings (EVT 2.0 / 3.0 ``.raw``, DAT, HDF5) played back: decoding is :mod:`eventcore.aedat.prophesee`."""

from __future__ import annotations

from pathlib import Path

from app.sources.base import ReaderSource
from eventcore.aedat.prophesee import open_prophesee


class PropheseeSource(ReaderSource):
    """A Prophesee recording read a block at a time (constant memory), with the playback of :class:`FileSource`."""

    def __init__(self, path: str | Path, fmt: str | None = None) -> None:
        reader = open_prophesee(path, fmt)
        super().__init__(reader, path)
        self.format = reader.format

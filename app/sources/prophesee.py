"""Prophesee recordings (EVT 2.0 / 3.0 ``.raw``, DAT, HDF5) played back: decoding is :mod:`eventcore.aedat.prophesee`."""

from __future__ import annotations

from pathlib import Path

from app.sources.base import ReaderSource
from eventcore.aedat.prophesee import Hdf5Reader, PropheseeReader, sniff_path


class PropheseeSource(ReaderSource):
    """A Prophesee recording read a block at a time (constant memory), with the playback of :class:`FileSource`."""

    def __init__(self, path: str | Path, fmt: str | None = None) -> None:
        fmt = sniff_path(Path(path), fmt)
        super().__init__(Hdf5Reader(path) if fmt == "hdf5" else PropheseeReader(path, fmt), path)
        self.format = fmt

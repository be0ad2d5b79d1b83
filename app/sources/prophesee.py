"""Prophesee recordings (EVT 2.0 / 3.0 ``.raw``, DAT, HDF5) played back: decoding is :mod:`eventcore.aedat.prophesee`."""

from __future__ import annotations

from pathlib import Path

from app.sources.base import ArraySource, FileSource, ReaderSource
from eventcore.aedat.prophesee import PropheseeReader, read_prophesee, sniff_path


def PropheseeSource(path: str | Path, fmt: str | None = None) -> FileSource:
    """A Prophesee recording as a file source: EVT and DAT read in blocks (constant memory), HDF5 whole."""
    fmt = sniff_path(Path(path), fmt)
    if fmt != "hdf5":
        source: FileSource = ReaderSource(PropheseeReader(path, fmt), path)
    else:
        f = read_prophesee(path, fmt)
        source = ArraySource(f.events, f.width, f.height, name=Path(path).name, camera=f.camera)
        source.warnings.extend(f.warnings)
    source.format = fmt
    return source

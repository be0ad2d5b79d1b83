"""Any recording the format layer knows: whole, as one event array, or as a reader with range reads.

Playback and long files go through the chunked readers; a dataset reads each labelled
interval of a recording by time (:func:`open_reader`), so memory follows the interval, not
the recording.

Example::

    rec = read_recording("take.aedat4")   # or .aedat (2.0 / 3.1), .raw, .dat, .hdf5
    rec.events, rec.width, rec.height, rec.format
    with open_reader("take.raw") as r:
        r.events(1_000_000, 2_500_000)    # the events of 1-2.5 s
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eventcore.aedat.aedat2 import Aedat2Reader, read_aedat2
from eventcore.aedat.aedat3 import Aedat3Reader, read_aedat3
from eventcore.aedat.aedat4 import Aedat4File
from eventcore.aedat.common import Recording
from eventcore.aedat.detect import detect_format
from eventcore.aedat.prophesee import Hdf5Reader, PropheseeReader, open_prophesee, read_prophesee

RECORDING_SUFFIXES = (".aedat4", ".aedat", ".raw", ".dat", ".hdf5", ".h5")


def read_recording(path: str | Path) -> Recording:
    """Every event of a recording of any supported format; SourceError (one line naming it) when unreadable."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "aedat4":
        f = Aedat4File(path, whole=True)
        try:
            events = f.read_all()
        finally:
            f.close()
        return Recording(events, f.width, f.height, fmt, f.camera, f.warnings)
    if fmt == "aedat3.1":
        r = read_aedat3(path)
    elif fmt == "aedat2":
        r = read_aedat2(path)
    else:
        return read_prophesee(path, fmt)
    return Recording(r.events, r.width, r.height, fmt, r.camera, r.warnings)


@contextmanager
def open_reader(path: str | Path) -> Iterator[Aedat4File | Aedat3Reader | Aedat2Reader | PropheseeReader | Hdf5Reader]:
    """A recording opened for range reads (``events(t0_us, t1_us)``, ``start_us``, ``end_us``, ``width``,
    ``height``, ``warnings``) in bounded memory, whatever its format; closed on exit."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "aedat4":
        reader = Aedat4File(path)
    elif fmt == "aedat3.1":
        reader = Aedat3Reader(path)
    elif fmt == "aedat2":
        reader = Aedat2Reader(path)
    else:
        reader = open_prophesee(path, fmt)
    try:
        yield reader
    finally:
        reader.close()

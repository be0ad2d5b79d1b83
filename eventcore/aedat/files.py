"""Read any recording the format layer knows, whole, as one event array (for datasets and takes).

Playback and long files go through the chunked readers (``Aedat4File.chunks``/``events``);
a dataset needs each recording's labelled intervals, so it reads one recording at a time.

Example::

    rec = read_recording("take.aedat4")   # or .aedat (2.0 / 3.1), .raw, .dat, .hdf5
    rec.events, rec.width, rec.height, rec.format
"""

from __future__ import annotations

from pathlib import Path


from eventcore.aedat.aedat2 import read_aedat2
from eventcore.aedat.aedat3 import read_aedat3
from eventcore.aedat.aedat4 import Aedat4File
from eventcore.aedat.common import Recording
from eventcore.aedat.detect import detect_format
from eventcore.aedat.prophesee import read_prophesee

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

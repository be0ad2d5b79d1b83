"""Which event-file format a file is, from its first bytes (never its extension)."""

from __future__ import annotations

from pathlib import Path

from eventcore.aedat.prophesee import sniff
from eventcore.errors import SourceError

MAGIC = {
    b"#!AER-DAT4.0": "aedat4",
    b"#!AER-DAT3.1": "aedat3.1",
    b"#!AER-DAT2.0": "aedat2",
}
FORMATS = ("aedat4", "aedat3.1", "aedat2", "evt2.0", "evt3.0", "dat", "hdf5")


def detect_format(path: str | Path) -> str:
    """"aedat4", "aedat3.1", "aedat2" or a Prophesee format ("evt2.0", "evt3.0", "dat", "hdf5")."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path}: is a directory, not a recording")
    if not path.is_file():  # a FIFO would block the open below forever
        raise SourceError(f"{path}: not a regular file (a pipe, socket or device); give a recording")
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as err:
        raise SourceError(f"{path}: cannot read ({err.strerror})") from None
    if not head:
        raise SourceError(f"{path}: empty file")
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    if head.startswith(b"#!AER-DAT"):
        version = head.split(b"\n")[0][9:].strip().decode("ascii", "replace")
        raise SourceError(f"{path}: AEDAT version {version} is not supported (AEDAT 2.0, 3.1 and 4.0 are)")
    if (prophesee := sniff(path, head)) is not None:  # EVT 2.x/3.0 .raw, .dat, HDF5
        return prophesee
    raise SourceError(f"{path}: not an AEDAT recording (no '#!AER-DAT' header at the start) nor a Prophesee one")

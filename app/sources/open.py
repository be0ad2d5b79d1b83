"""Open any source from one string: a file path, ``camera[:NAME]`` or ``tcp://HOST:PORT``.

Files are recognised by their magic line, not their extension, so a mislabelled file
still opens and a non-AEDAT file gets a message saying what was found instead.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.sources.base import FileSource, Source
from eventcore.errors import SourceError
from eventcore.labels import LabelTimeline, labels_beside

MAGIC = {
    b"#!AER-DAT4.0": "aedat4",
    b"#!AER-DAT3.1": "aedat3.1",
    b"#!AER-DAT2.0": "aedat2",
}
_NETWORK = re.compile(r"^(?:tcp://)?(?P<host>[\w.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")


def detect_format(path: str | Path) -> str:
    """Return "aedat4", "aedat3.1" or "aedat2" from the file's first line."""
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
    from app.sources.prophesee import sniff

    if (prophesee := sniff(path, head)) is not None:  # EVT 2.x/3.0 .raw, .dat, HDF5
        return prophesee
    raise SourceError(f"{path}: not an AEDAT recording (no '#!AER-DAT' header at the start) nor a Prophesee one")


def open_file(path: str | Path, labels: bool = True) -> FileSource:
    """Open a recording; attach the ground-truth timeline stored beside it, if any."""
    fmt = detect_format(path)
    if fmt == "aedat4":
        from app.sources.aedat4 import Aedat4Source as cls
    elif fmt == "aedat3.1":
        from app.sources.aedat3 import Aedat3Source as cls
    elif fmt not in ("aedat2",):
        from app.sources.prophesee import PropheseeSource as cls
    else:
        from app.sources.aedat2 import Aedat2Source as cls
    source = cls(path)
    source.format = fmt
    label_file = labels_beside(path) if labels else None
    if label_file is not None:
        source.labels = LabelTimeline.from_csv(label_file)
    return source


def parse_network(spec: str) -> tuple[str, int] | None:
    """``host:port`` or ``tcp://host:port`` -> (host, port); None when spec is not one."""
    m = _NETWORK.match(spec)
    if not m:
        return None
    port = int(m["port"])
    if not 0 < port < 65536:
        raise SourceError(f"{spec}: port must be 1-65535")
    return m["host"].strip("[]"), port


def open_source(spec: str) -> Source:
    """Open a file path, ``camera`` / ``camera:NAME``, or ``[tcp://]host:port``."""
    if spec == "camera" or spec.startswith("camera:"):
        from app.sources.camera import CameraSource

        return CameraSource(spec.partition(":")[2] or None)
    if not Path(spec).exists() and (net := parse_network(spec)) is not None:
        from app.sources.network import NetworkSource

        return NetworkSource(*net)
    return open_file(spec)

"""Open any source from one string: a file path, ``camera[:NAME]`` or ``tcp://HOST:PORT``.

Files are recognised by the format layer (:func:`eventcore.aedat.detect.detect_format`) from
their first bytes, not their extension, so a mislabelled file still opens and a foreign file
gets a message saying what was found instead.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.sources.base import FileSource, Source
from eventcore.aedat.detect import detect_format
from eventcore.errors import SourceError
from eventcore.labels import LabelTimeline, labels_beside

_NETWORK = re.compile(r"^(?:tcp://)?(?P<host>[\w.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")


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

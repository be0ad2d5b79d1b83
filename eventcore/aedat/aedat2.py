"""AEDAT 2.0 reader (jAER's format), vectorised with numpy.

A file is ASCII header lines starting with ``#`` (the first ``#!AER-DAT2.0``; the header ends
at the first line without ``#``), then big-endian 8-byte records: uint32 address, uint32
timestamp in microseconds. Two address layouts exist:

- DVS128: raw x = (a >> 1) & 127, raw y = (a >> 8) & 127, raw polarity bit = a & 1, where
  0 means ON (the hardware inverts it); a word with any bit above 14 set (bit 15 = sync) is
  not a pixel and is skipped.
- DAVIS: raw x = bits 12-21, raw y = bits 22-30, polarity = bit 11 (1 = ON); a word with bit
  31 (APS sample or IMU) or bit 10 (external input) set is skipped.

Orientation: jAER stores both coordinates mirrored relative to the upright image of libcaer,
DV and AEDAT4 (jAER's extractors compute ``x = width - 1 - raw_x`` and keep ``raw_y`` counted
from the bottom; libcaer's DVS128 driver flips both). So this reader returns
``x = width - 1 - raw_x``, ``y = height - 1 - raw_y``: the image is upright, origin top left,
like AEDAT 3.1 from DVS128 Gesture and AEDAT4.

Layout and resolution come from the header's ``# AEChip:`` (e.g. ``...davis.DAVIS240C``) or
``# HardwareInterface:`` line. Without a telling header, the addresses decide: a word using
bits 16-31 cannot be DVS128 (its addresses are 16-bit), so the file is DAVIS; its resolution
is then the largest raw coordinate + 1, with a warning.

Timestamps: the 32-bit counter wraps; a step between consecutive kept events is taken modulo
2**32, so a wrap is a small forward step and the output keeps counting (a real gap of more than
35 minutes between two events would be misread). A true step backwards is an error naming the
event: the real DAVIS240 recordings checked have none, and libcaer drops such events at capture.

Example::

    f = read_aedat2("davis240_rotdisk_aedat2.aedat")
    f.width, f.height, f.layout, len(f.events), f.skipped_words   # 240, 180, "davis", 374296, 51688
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eventcore.events import empty_events
from eventcore.aedat.common import check_inside, check_magic, read_file_bytes, sensor_size
from eventcore.errors import SourceError

MAGIC = b"#!AER-DAT2.0"
KIND = "AEDAT 2.0"
DAVIS_SKIP_MASK = np.uint32(0x8000_0400)
DVS128_SKIP_MASK = np.uint32(0xFFFF_8000)
_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f]")


@dataclass
class Aedat2File:
    """The polarity events of an AEDAT 2.0 file, its sensor and how its words were read."""

    events: np.ndarray
    width: int
    height: int
    camera: str | None
    layout: str
    skipped_words: int = 0
    warnings: list[str] = field(default_factory=list)


def _parse_header(buf: bytes) -> tuple[int, dict[str, str]]:
    """Offset of the first record, and the header's ``# Key: value`` entries.

    A ``#`` line holding control characters is a first record that happens to start with
    byte 0x23, not header text.
    """
    entries: dict[str, str] = {}
    pos = 0
    while buf.startswith(b"#", pos):
        nl = buf.find(b"\n", pos)
        end = nl if nl >= 0 else len(buf)
        line = buf[pos + 1 : end].rstrip(b"\r")
        if _CONTROL.search(line):
            break
        key, sep, value = line.decode("ascii", "replace").partition(":")
        if sep:
            entries.setdefault(key.strip(), value.strip())
        pos = end + 1 if nl >= 0 else end
    return pos, entries


def _layout_from_header(entries: dict[str, str]) -> tuple[str | None, str | None]:
    """(layout, camera) named by the AEChip or HardwareInterface line, None where not told."""
    chip = entries.get("AEChip")
    camera = chip.rsplit(".", 1)[-1] if chip else None
    for text in (chip, entries.get("HardwareInterface")):
        key = (text or "").lower()
        if "davis" in key:
            return "davis", camera
        if "dvs128" in key or "tmpdiff128" in key:
            return "dvs128", camera
    return None, camera


def read_aedat2(path: str | Path) -> Aedat2File:
    """Read every polarity event of an AEDAT 2.0 file, upright (see the module docstring).

    APS, IMU, sync and external-input words are skipped and counted in ``skipped_words``; a
    file cut short keeps the whole records before the damage, with a warning.
    """
    path = Path(path)
    buf = read_file_bytes(path, KIND)
    check_magic(buf, MAGIC, path, KIND)
    start, entries = _parse_header(buf)
    layout, camera = _layout_from_header(entries)

    n_records = (len(buf) - start) // 8
    words = np.frombuffer(buf, dtype=">u4", count=2 * n_records, offset=start).astype(np.uint32)
    address, stamp = words[0::2], words[1::2]
    warnings = []
    if layout is None:
        layout = "davis" if np.any(address >> 16) else "dvs128"
        warnings.append(f"no camera named in the header: read as {layout} from the addresses")

    keep = (address & (DAVIS_SKIP_MASK if layout == "davis" else DVS128_SKIP_MASK)) == 0
    a, ts = address[keep], stamp[keep]
    if layout == "davis":
        raw_x, raw_y, polarity = (a >> 12) & 0x3FF, (a >> 22) & 0x1FF, (a >> 11) & 1
    else:
        raw_x, raw_y, polarity = (a >> 1) & 0x7F, (a >> 8) & 0x7F, 1 - (a & 1)

    size = (128, 128) if layout == "dvs128" else sensor_size(camera)
    if size is None:
        width = int(raw_x.max()) + 1 if len(a) else 0
        height = int(raw_y.max()) + 1 if len(a) else 0
        warnings.append(f"unknown camera {camera!r}: resolution {width}x{height} taken from the events")
    else:
        width, height = size
        check_inside(raw_x, raw_y, width, height, path, KIND)

    step = np.diff(ts).view(np.int32)
    back = np.flatnonzero(step < 0)
    if back.size:
        i = int(back[0]) + 1
        raise SourceError(
            f"{KIND} file {path}: timestamps go backwards at event {i} "
            f"({int(ts[i - 1])} us, then {int(ts[i])} us)"
        )
    events = empty_events(len(a))
    t = events["timestamp"]
    if len(a):
        t[0] = ts[0]
        np.cumsum(step, dtype=np.int64, out=t[1:])
        t[1:] += int(ts[0])
    events["x"] = width - 1 - raw_x.astype(np.int32)
    events["y"] = height - 1 - raw_y.astype(np.int32)
    events["polarity"] = polarity

    if (len(buf) - start) % 8:
        warnings.insert(0, f"file truncated at byte {len(buf)}: kept {len(events)} events before the damage")
    return Aedat2File(events, width, height, camera, layout, int(len(address) - len(a)), warnings)

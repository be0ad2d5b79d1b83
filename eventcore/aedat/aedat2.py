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
from eventcore.aedat.common import check_inside, check_magic, check_regular_file, check_sensor_size, sensor_size
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


_CHUNK = 1 << 20  # records decoded at a time: temporaries stay at a few tens of MB
_MAX_HEADER = 1 << 20


def _decode(address: np.ndarray, layout: str):
    """(kept mask, raw x, raw y, polarity) of one chunk of addresses."""
    keep = (address & (DAVIS_SKIP_MASK if layout == "davis" else DVS128_SKIP_MASK)) == 0
    a = address[keep]
    if layout == "davis":
        return keep, (a >> 12) & 0x3FF, (a >> 22) & 0x1FF, (a >> 11) & 1
    return keep, (a >> 1) & 0x7F, (a >> 8) & 0x7F, 1 - (a & 1)


def read_aedat2(path: str | Path) -> Aedat2File:
    """Read every polarity event of an AEDAT 2.0 file, upright (see the module docstring).

    APS, IMU, sync and external-input words are skipped and counted in ``skipped_words``; a
    file cut short keeps the whole records before the damage, with a warning. The records
    are mapped from the file and decoded a chunk at a time, so memory is the output (16
    bytes an event) plus a bounded working set.
    """
    path = Path(path)
    file_size = check_regular_file(path, KIND)
    if file_size == 0:
        raise SourceError(f"{KIND} file {path}: the file is empty")
    try:
        with open(path, "rb") as f:
            head = f.read(_MAX_HEADER)
    except OSError as err:
        raise SourceError(f"{KIND} file {path}: cannot be read ({err.strerror})") from None
    check_magic(head, MAGIC, path, KIND)
    start, entries = _parse_header(head)
    layout, camera = _layout_from_header(entries)
    n_records = (file_size - start) // 8
    if n_records:
        try:
            words = np.memmap(path, dtype=">u4", mode="r", offset=start, shape=(2 * n_records,))
        except (OSError, ValueError) as err:
            raise SourceError(f"{KIND} file {path}: cannot be read ({err})") from None
    else:
        words = np.empty(0, ">u4")
    warnings = []
    chunks = range(0, n_records, _CHUNK)

    def addresses(i):
        return words[2 * i : 2 * min(i + _CHUNK, n_records) : 2].astype(np.uint32)

    if layout is None:
        layout = "davis" if any(np.any(addresses(i) >> 16) for i in chunks) else "dvs128"
        warnings.append(f"no camera named in the header: read as {layout} from the addresses")

    # pass 1: how many events, and the largest coordinates (for an unknown camera)
    kept = max_x = max_y = 0
    for i in chunks:
        keep, raw_x, raw_y, _ = _decode(addresses(i), layout)
        kept += len(raw_x)
        if len(raw_x):
            max_x, max_y = max(max_x, int(raw_x.max())), max(max_y, int(raw_y.max()))
    size = (128, 128) if layout == "dvs128" else sensor_size(camera)
    if size is None:
        if not kept:
            raise SourceError(f"{KIND} file {path}: no polarity events and an unknown camera {camera!r}: no sensor size")
        width, height = max_x + 1, max_y + 1
        warnings.append(f"unknown camera {camera!r}: resolution {width}x{height} taken from the events")
        check_sensor_size(width, height, f"{KIND} file {path}")
    else:
        width, height = size
        if kept and (max_x >= width or max_y >= height):
            for i in chunks:  # find and name the first event outside
                _, raw_x, raw_y, _ = _decode(addresses(i), layout)
                check_inside(raw_x, raw_y, width, height, path, KIND)

    # pass 2: fill the output
    events = empty_events(kept)
    t_out, x_out, y_out, p_out = events["timestamp"], events["x"], events["y"], events["polarity"]
    j = 0
    prev_ts = None  # last kept raw 32-bit timestamp
    t_acc = 0
    for i in chunks:
        keep, raw_x, raw_y, pol = _decode(addresses(i), layout)
        n = len(raw_x)
        if not n:
            continue
        stamps = words[2 * i + 1 : 2 * min(i + _CHUNK, n_records) : 2].astype(np.uint32)[keep]
        step = np.empty(n, np.int32)
        step[0] = 0 if prev_ts is None else np.uint32(stamps[0] - np.uint32(prev_ts)).view(np.int32)
        if n > 1:
            step[1:] = np.diff(stamps).view(np.int32)
        back = np.flatnonzero(step < 0)
        if back.size:
            k = j + int(back[0])
            before = int(stamps[back[0] - 1]) if back[0] else int(prev_ts)
            raise SourceError(
                f"{KIND} file {path}: timestamps go backwards at event {k} ({before} us, then {int(stamps[back[0]])} us)"
            )
        if prev_ts is None:
            t_acc = int(stamps[0])
        seg = t_out[j : j + n]
        np.cumsum(step, dtype=np.int64, out=seg)
        seg += t_acc
        t_acc = int(seg[-1])
        prev_ts = int(stamps[-1])
        np.subtract(width - 1, raw_x, out=x_out[j : j + n], casting="unsafe")
        np.subtract(height - 1, raw_y, out=y_out[j : j + n], casting="unsafe")
        p_out[j : j + n] = pol
        j += n
    del words
    if (file_size - start) % 8:
        warnings.insert(0, f"file truncated at byte {file_size}: kept {len(events)} events before the damage")
    return Aedat2File(events, width, height, camera, layout, int(n_records - kept), warnings)

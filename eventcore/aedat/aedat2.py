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

import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eventcore.events import EVENT_DTYPE, empty_events
from eventcore.aedat.common import (
    check_inside,
    check_magic,
    check_regular_file,
    check_sensor_size,
    release_pages,
    sensor_size,
)
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
    r = Aedat2Reader(path, whole=True)
    events = r.read_all()
    r.close()
    return Aedat2File(events, r.width, r.height, r.camera, r.layout, r.skipped_words, r.warnings)


class Aedat2Reader:
    """An AEDAT 2.0 file read in bounded chunks: mapped, indexed by time, random access by time.

    Opening decodes the file once a chunk (``_CHUNK`` records) at a time, with every check
    (time order, sensor size, coordinates), and keeps for each chunk what decoding it alone
    needs (the running timestamp at its start); :meth:`events` then decodes only the chunks
    a time range touches and :meth:`chunks` streams the file. ``whole=True`` keeps the
    events decoded while opening, for one :meth:`read_all` (the one-shot :func:`read_aedat2`).
    """

    format = "aedat2"

    def __init__(self, path: str | Path, whole: bool = False) -> None:
        path = self.path = Path(path)
        self.name = path.name
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
        layout, self.camera = _layout_from_header(entries)
        n_records = self._n = (file_size - start) // 8
        if n_records:
            try:
                self._words = np.memmap(path, dtype=">u4", mode="r", offset=start, shape=(2 * n_records,))
            except (OSError, ValueError) as err:
                raise SourceError(f"{KIND} file {path}: cannot be read ({err})") from None
        else:
            self._words = np.empty(0, ">u4")
        self.warnings: list[str] = []
        chunks = range(0, n_records, _CHUNK)
        if layout is None:
            layout = "davis" if any(np.any(self._addresses(i) >> 16) for i in chunks) else "dvs128"
            self.warnings.append(f"no camera named in the header: read as {layout} from the addresses")
        self.layout = layout

        # pass 1: how many events, and the largest coordinates (for an unknown camera)
        kept = max_x = max_y = 0
        for i in chunks:
            keep, raw_x, raw_y, _ = _decode(self._addresses(i), layout)
            self._release(i)
            kept += len(raw_x)
            if len(raw_x):
                max_x, max_y = max(max_x, int(raw_x.max())), max(max_y, int(raw_y.max()))
        size = (128, 128) if layout == "dvs128" else sensor_size(self.camera)
        if size is None:
            if not kept:
                raise SourceError(f"{KIND} file {path}: no polarity events and an unknown camera {self.camera!r}: "
                                  f"no sensor size")
            size = (max_x + 1, max_y + 1)
            self.warnings.append(f"unknown camera {self.camera!r}: resolution {size[0]}x{size[1]} taken from the events")
            check_sensor_size(*size, f"{KIND} file {path}")
        elif kept and (max_x >= size[0] or max_y >= size[1]):
            for i in chunks:  # find and name the first event outside
                _, raw_x, raw_y, _ = _decode(self._addresses(i), layout)
                check_inside(raw_x, raw_y, size[0], size[1], path, KIND)
        self.width, self.height = size

        # pass 2: times (checked), each chunk's starting state, and the events if whole
        self._whole = empty_events(kept) if whole else None
        self._state: list[tuple[int, int, int, int | None, int]] = []  # (record, event, count, prev ts, t acc)
        firsts, lasts = [], []
        prev_ts, t_acc, j = None, 0, 0
        for i in chunks:
            out = self._whole[j:] if whole else None
            state = (i, j, prev_ts, t_acc)
            ev, prev_ts, t_acc = self._chunk_at(i, j, prev_ts, t_acc, out)
            if len(ev):
                self._state.append((state[0], state[1], len(ev), state[2], state[3]))
                firsts.append(int(ev["timestamp"][0]))
                lasts.append(int(ev["timestamp"][-1]))
                j += len(ev)
        self._first, self._last = np.array(firsts, np.int64), np.array(lasts, np.int64)
        self.event_count = kept
        self.skipped_words = int(n_records - kept)
        self.start_us = int(self._first[0]) if kept else 0
        self.end_us = int(self._last[-1]) if kept else 0
        if (file_size - start) % 8:
            self.warnings.insert(0, f"file truncated at byte {file_size}: kept {kept} events before the damage")

    def _addresses(self, i: int) -> np.ndarray:
        return self._words[2 * i : 2 * min(i + _CHUNK, self._n) : 2].astype(np.uint32)

    def _release(self, i: int) -> None:
        """Hand back the mapped pages of the chunk at record ``i`` (decoded)."""
        mapping = getattr(self._words, "_mmap", None)  # np.memmap's mapping starts at an aligned offset
        if mapping is not None:
            base = self._words.offset % mmap.ALLOCATIONGRANULARITY
            release_pages(mapping, base + 8 * i, base + 8 * min(i + _CHUNK, self._n))

    def _chunk_at(self, i: int, j: int, prev_ts: int | None, t_acc: int, out: np.ndarray | None = None):
        """(events of the chunk at record ``i``, last raw timestamp, running time) given the state before it;
        ``j`` is its first event's index (for messages), ``out`` where to decode it (else a fresh array)."""
        keep, raw_x, raw_y, pol = _decode(self._addresses(i), self.layout)
        n = len(raw_x)
        events = out[:n] if out is not None else empty_events(n)
        if not n:
            return events, prev_ts, t_acc
        stamps = self._words[2 * i + 1 : 2 * min(i + _CHUNK, self._n) : 2].astype(np.uint32)[keep]
        self._release(i)
        step = np.empty(n, np.int32)
        step[0] = 0 if prev_ts is None else np.uint32(stamps[0] - np.uint32(prev_ts)).view(np.int32)
        if n > 1:
            step[1:] = np.diff(stamps).view(np.int32)
        back = np.flatnonzero(step < 0)
        if back.size:
            k = j + int(back[0])
            before = int(stamps[back[0] - 1]) if back[0] else int(prev_ts)
            raise SourceError(
                f"{KIND} file {self.path}: timestamps go backwards at event {k} ({before} us, then "
                f"{int(stamps[back[0]])} us)"
            )
        if prev_ts is None:
            t_acc = int(stamps[0])
        seg = events["timestamp"]
        np.cumsum(step, dtype=np.int64, out=seg)
        seg += t_acc
        np.subtract(self.width - 1, raw_x, out=events["x"], casting="unsafe")
        np.subtract(self.height - 1, raw_y, out=events["y"], casting="unsafe")
        events["polarity"][...] = pol
        return events, int(stamps[-1]), int(seg[-1])

    def _chunk(self, k: int) -> np.ndarray:
        i, j, _, prev_ts, t_acc = self._state[k]
        return self._chunk_at(i, j, prev_ts, t_acc)[0]

    def chunks(self) -> Iterator[np.ndarray]:
        """Every event in time order, a chunk (``_CHUNK`` records) at a time."""
        for k in range(len(self._state)):
            yield self._chunk(k)

    def read_all(self) -> np.ndarray:
        whole, self._whole = self._whole, None
        if whole is not None:
            return whole
        out = empty_events(self.event_count)
        for k, (_, j, n, _, _) in enumerate(self._state):
            out[j:j + n] = self._chunk(k)
        return out

    def events(self, t0_us: int, t1_us: int) -> np.ndarray:
        """Events with ``t0_us <= timestamp < t1_us`` (only the chunks the range touches are decoded)."""
        lo = int(np.searchsorted(self._last, t0_us, side="left"))
        hi = int(np.searchsorted(self._first, t1_us, side="left"))
        parts = []
        for k in range(lo, hi):
            ev = self._chunk(k)
            a, b = np.searchsorted(ev["timestamp"], (t0_us, t1_us), side="left")
            parts.append(ev[a:b])
        if not parts:
            return empty_events(0)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([np.ascontiguousarray(p).view(np.uint8) for p in parts]).view(EVENT_DTYPE)

    def close(self) -> None:
        """Release the mapping."""
        self._words = np.empty(0, ">u4")

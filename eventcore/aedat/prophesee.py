"""Prophesee recordings: EVT 2.0 / 3.0 ``.raw`` and DAT ``.dat`` read in bounded blocks, HDF5 through h5py.

- EVT 2.0, EVT 3.0 and DAT: :class:`PropheseeReader` maps the file and decodes it a block at a
  time with the numpy codecs of :mod:`eventcore.aedat.evt` (state carried from block to block),
  indexed by time: playback, ``inspect`` and ``classify --whole`` hold a block, not the file.
- EVT 2.1: recognised but refused (no decoder here).
- HDF5 (Metavision's ``CD/events`` table): read whole with h5py in a child process, since the
  HDF5 C library can crash on damaged files; files compressed with Prophesee's ECF codec need
  its HDF5 plugin (``HDF5_PLUGIN_PATH``), as with Metavision's own tools.

Every failure is one :class:`SourceError` line naming the file.

Example::

    f = read_prophesee("recording.raw")
    f.format, f.width, f.height, len(f.events)  # "evt3.0", 1280, 720, ...
    r = PropheseeReader("recording.raw")         # or in blocks
    for chunk in r.chunks(): ...
"""

from __future__ import annotations

import json
import mmap
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from eventcore.aedat.common import (MAX_SENSOR, Recording, check_regular_file, check_sensor_size,
                                    release_pages)
from eventcore.aedat.evt import WordCodec, codec_for
from eventcore.errors import SourceError
from eventcore.events import EVENT_DTYPE, empty_events

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_BLOCK_BYTES = 1 << 18  # bytes decoded at a time: at most 1.5 M events (EVT 3.0 vectors), usually ~100 k
_ECF_FILTER = 36559  # Prophesee's ECF codec, registered HDF5 filter id
_KNOWN_SENSORS = ((320, 320), (640, 480), (1280, 720))


def read_header(path: Path) -> tuple[list[str], int]:
    """The ``% ...`` header lines (text, without ``% ``) and the byte offset where the data starts."""
    lines: list[str] = []
    offset = 0
    with open(path, "rb") as f:
        while True:
            line = f.readline(4096)
            if not line.startswith(b"%") or not line.endswith(b"\n"):
                break
            offset += len(line)
            text = line[1:].strip().decode("latin-1")
            if text == "end":
                break
            lines.append(text)
    return lines, offset


def header_format(lines: list[str], suffix: str) -> str | None:
    """"evt2.0", "evt2.1", "evt3.0" or "dat" from header lines (and the suffix for old DAT files)."""
    for text in lines:
        low = text.lower()
        if m := re.fullmatch(r"evt\s+(\d)\.(\d)", low):
            return f"evt{m[1]}.{m[2]}"
        if m := re.match(r"format\s+evt(\d)(\d?)\b", low):
            return {"2": "evt2.0", "21": "evt2.1", "3": "evt3.0"}.get(m[1] + m[2], f"evt{m[1]}.{m[2] or 0}")
    if suffix == ".dat" or any(t.lower().startswith(("data file", "version")) for t in lines):
        return "dat"
    if suffix == ".raw":
        return "evt3.0"  # Metavision's default when the header names no format
    return None


def sniff(path: Path, head: bytes) -> str | None:
    """The Prophesee format of a file from its first bytes (and header), or None if it is not one."""
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if not head.startswith(b"% "):
        return None
    try:
        lines = read_header(path)[0]
    except OSError as err:
        raise SourceError(f"{path}: cannot read ({err.strerror})") from None
    return header_format(lines, path.suffix.lower())


def _header_value(lines: list[str], key: str) -> str | None:
    for text in lines:
        k, _, v = text.partition(" ")
        if k.lower() == key:
            return v.strip()
    return None


def _pack(packets: list[np.ndarray], t: str, on: str) -> np.ndarray:
    """Library packets (fields t, x, y and an ON flag) -> one EVENT_DTYPE array, a slice copy per packet."""
    out = empty_events(sum(len(p) for p in packets))
    i = 0
    for p in packets:
        s = out[i:i + len(p)]
        s["timestamp"][...] = p[t]
        s["x"][...] = p["x"]
        s["y"][...] = p["y"]
        s["polarity"][...] = p[on] != 0
        i += len(p)
    return out


def _read_hdf5(path: str) -> tuple[np.ndarray, tuple[int, int] | None, str | None]:
    """The ``CD/events`` table and the header's geometry, or an error message (runs in a child process)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            ds = f.get("CD/events")
            if not isinstance(ds, h5py.Dataset) or not {"x", "y", "p", "t"} <= set(ds.dtype.names or ()):
                return empty_events(0), None, "no Prophesee 'CD/events' table with x, y, p, t"
            plist = ds.id.get_create_plist()
            filters = {plist.get_filter(i)[0] for i in range(plist.get_nfilters())}
            if _ECF_FILTER in filters and not h5py.h5z.filter_avail(_ECF_FILTER):
                return (empty_events(0), None,
                        "compressed with Prophesee's ECF codec, whose HDF5 plugin is not installed "
                        "(point HDF5_PLUGIN_PATH at it, as for Metavision)")
            table = ds[...]
            geometry = f.attrs.get("geometry")
            size = None
            if geometry is not None:
                text = geometry.decode() if isinstance(geometry, bytes) else str(geometry)
                m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", text)
                size = (int(m[1]), int(m[2])) if m else None
        return _pack([table], "t", "p"), size, None
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        why = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        return empty_events(0), None, f"unreadable HDF5 ({why})"


def _hdf5_child(path: str, out: str) -> int:
    """Child process entry: events to the ``.npy`` file ``out``, then one JSON line (size, problem)."""
    events, size, problem = _read_hdf5(path)
    np.save(out, events)
    print(json.dumps({"size": size, "problem": problem}))
    return 0


def _decode_hdf5(path: Path) -> tuple[np.ndarray, int, int]:
    """HDF5 read in a child process: a crash of the HDF5 C library on a damaged file cannot end ours."""
    root = str(Path(__file__).resolve().parents[2])  # the project root, so the child imports eventcore
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    code = "import sys; from eventcore.aedat.prophesee import _hdf5_child; sys.exit(_hdf5_child(sys.argv[1], sys.argv[2]))"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "events.npy"
        try:
            r = subprocess.run([sys.executable, "-c", code, str(path), str(out)], capture_output=True, text=True,
                               env=env, timeout=120 + path.stat().st_size / 20e6)
        except subprocess.TimeoutExpired:
            raise SourceError(f"{path}: the HDF5 library did not finish reading it (damaged file?)") from None
        if r.returncode != 0 or not out.is_file():
            raise SourceError(f"{path}: the HDF5 library failed on it (exit status {r.returncode}; damaged file?)")
        info = json.loads(r.stdout.strip().splitlines()[-1])
        events = np.load(out)
    if info["problem"]:
        raise SourceError(f"{path}: {info['problem']}")
    size = info["size"]
    if size is None:  # no geometry attribute: the smallest known sensor that holds every event
        need = (int(events["x"].max()) + 1, int(events["y"].max()) + 1) if len(events) else (1, 1)
        size = next((s for s in _KNOWN_SENSORS if s[0] >= need[0] and s[1] >= need[1]), need)
    return events, int(size[0]), int(size[1])


def header_geometry(lines: list[str]) -> tuple[int, int] | None:
    """(width, height) from ``format EVT3;width=W;height=H``, ``geometry WxH`` or DAT's ``Width`` / ``Height``."""
    width = height = None
    for text in lines:
        key, _, value = text.partition(" ")
        key, value = key.lower(), value.strip()
        if key == "format":
            fields = dict(part.split("=", 1) for part in value.split(";")[1:] if "=" in part)
            if fields.get("width", "").isdigit() and fields.get("height", "").isdigit():
                return int(fields["width"]), int(fields["height"])
        elif key == "geometry" and (m := re.fullmatch(r"(\d+)\s*x\s*(\d+)", value)):
            return int(m[1]), int(m[2])
        elif key == "width" and value.isdigit():
            width = int(value)
        elif key == "height" and value.isdigit():
            height = int(value)
    return (width, height) if width is not None and height is not None else None


def _check_format(path: Path, fmt: str | None) -> str:
    """``fmt`` if this module decodes it, else a SourceError saying what the file is."""
    if fmt is None:
        raise SourceError(f"{path}: not a Prophesee recording (no '% ' header nor HDF5 signature)")
    if fmt == "evt2.1":
        raise SourceError(f"{path}: EVT 2.1 is not supported (EVT 2.0 and 3.0 are); "
                          f"convert it to EVT 3.0 with Metavision")
    if fmt not in ("evt2.0", "evt3.0", "dat", "hdf5"):
        raise SourceError(f"{path}: Prophesee format {fmt} is not supported (EVT 2.0, EVT 3.0, DAT, HDF5 are)")
    return fmt


def sniff_path(path: Path, fmt: str | None) -> str:
    """The checked Prophesee format of ``path`` (``fmt`` if given)."""
    if check_regular_file(path, "Prophesee") == 0:
        raise SourceError(f"{path}: empty file")
    if fmt is None:
        try:
            with open(path, "rb") as f:
                head = f.read(64)
        except OSError as err:
            raise SourceError(f"{path}: cannot read ({err.strerror})") from None
        fmt = sniff(path, head)
    return _check_format(path, fmt)


class PropheseeReader:
    """An EVT 2.0 / EVT 3.0 / DAT recording read in bounded blocks: mapped, indexed by time.

    Opening decodes the file once, ``block_bytes`` at a time, keeping each block's codec state
    at its start and its time range; :meth:`events` then decodes only the blocks a time range
    touches (the last block decoded is kept: playback asks for consecutive ranges) and
    :meth:`chunks` streams the file a block at a time. Memory: the index (about 100 bytes a
    block) and a block's events, whatever the file's length. If time goes backwards the events
    are served sorted by time (stable), each range gathered from the blocks that overlap it.
    ``whole=True`` keeps the events decoded while opening, for one :meth:`read_all` (one pass).
    """

    def __init__(self, path: str | Path, fmt: str | None = None, block_bytes: int = _BLOCK_BYTES,
                 whole: bool = False) -> None:
        path = self.path = Path(path)
        self.name = path.name
        fmt = self.format = sniff_path(path, fmt)
        if fmt == "hdf5":
            raise SourceError(f"{path}: an HDF5 recording is read whole (read_prophesee), not in blocks")
        try:
            lines, start = read_header(path)
            file_size = path.stat().st_size
            with open(path, "rb") as f:
                f.seek(start)
                kind = f.read(2) if fmt == "dat" else b""
        except OSError as err:
            raise SourceError(f"{path}: cannot read ({err.strerror})") from None
        if fmt == "dat":
            if len(kind) < 2:
                raise SourceError(f"{path}: no events after the header (truncated or empty DAT recording)")
            if kind[0] not in (0x00, 0x0C) or kind[1] != 8:
                raise SourceError(f"{path}: DAT event type 0x{kind[0]:02x} of {kind[1]} bytes is not supported "
                                  f"(CD events, type 0x00 or 0x0c, of 8 bytes are)")
            start += 2
        self.warnings: list[str] = []
        camera = _header_value(lines, "camera_integrator_name") or "Prophesee"
        serial = _header_value(lines, "serial_number")
        self.camera = f"{camera} {serial}" if serial else camera
        size = header_geometry(lines)
        if size is not None:
            size = check_sensor_size(*size, f"{path}: header")
        t0 = _header_value(lines, "t0")
        version = _header_value(lines, "version")
        self._codec_args = (fmt, *(size or (MAX_SENSOR, MAX_SENSOR)), int(t0) if t0 and t0.isdigit() else 0,
                            1 if version in ("1", "1.0") else 2)
        itemsize = self._codec().word_dtype.itemsize
        n_words = (file_size - start) // itemsize
        self._words = np.empty(0, self._codec().word_dtype)
        if n_words:
            try:
                self._words = np.memmap(path, dtype=self._codec().word_dtype, mode="r", offset=start, shape=(n_words,))
            except (OSError, ValueError) as err:
                raise SourceError(f"{path}: cannot be read ({err})") from None
        self._whole: list[np.ndarray] | None = [] if whole else None
        self._index(max(itemsize, block_bytes // itemsize * itemsize) // itemsize, size)
        if (file_size - start) % itemsize:
            self.warnings.insert(0, f"file truncated at byte {file_size}: kept {self.event_count} events "
                                    f"before the damage")
        self._cache: tuple[int, np.ndarray] | None = None

    def _codec(self, state: tuple[int, ...] | None = None) -> WordCodec:
        """A codec for this file (sensor size, t0, DAT layout), at ``state`` if given."""
        fmt, width, height, t0, dat_version = self._codec_args
        codec = codec_for(fmt, width, height, t0, dat_version)
        if state is not None:
            codec.state = state
        return codec

    def _index(self, block_words: int, size: tuple[int, int] | None) -> None:
        """Decode the file once: each block's span, starting state, count and time range; the checks."""
        codec = self._codec()
        spans, states, counts, firsts, lasts = [], [], [], [], []
        self._ordered = True
        last_t = None
        for a in range(0, len(self._words), block_words):
            b = min(a + block_words, len(self._words))
            state = codec.state
            ev = codec.decode(self._words[a:b])
            self._release(a, b)
            if not len(ev):
                continue
            if self._whole is not None:
                self._whole.append(ev)
            t = ev["timestamp"]
            if self._ordered and ((last_t is not None and t[0] < last_t) or bool((t[1:] < t[:-1]).any())):
                self._ordered = False
            spans.append((a, b))
            states.append(state)
            counts.append(len(ev))
            firsts.append(int(t.min()) if not self._ordered else int(t[0]))
            lasts.append(int(t.max()) if not self._ordered else int(t[-1]))
            last_t = int(t[-1])
        self._spans, self._states = spans, states
        self._counts = np.array(counts, np.int64)
        self._first, self._last = np.array(firsts, np.int64), np.array(lasts, np.int64)
        self.event_count = int(self._counts.sum())
        where = f"{self.path}"
        if not self.event_count:
            raise SourceError(f"{where}: no events after the header (truncated or empty "
                              f"{self.format.upper()} recording)")
        if codec.dropped:
            self.warnings.append(f"{codec.dropped} events outside the {codec.width}x{codec.height} sensor dropped")
        if size is None:
            need = (codec.max_x + 1, codec.max_y + 1)
            size = next((s for s in _KNOWN_SENSORS if s[0] >= need[0] and s[1] >= need[1]), need)
            self.warnings.append(f"no sensor size in the header: {size[0]}x{size[1]} from the events")
        self.width, self.height = size
        fmt, _, _, t0, dat_version = self._codec_args
        self._codec_args = (fmt, *size, t0, dat_version)
        if not self._ordered:
            self.warnings.append("timestamps go backwards: events sorted by time")
        self.start_us = int(self._first.min())
        self.end_us = int(self._last.max())

    def _release(self, a: int, b: int) -> None:
        """Hand back the mapped pages of words [a, b) (decoded)."""
        mapping = getattr(self._words, "_mmap", None)  # np.memmap's mapping starts at an aligned offset
        if mapping is not None:
            base = self._words.offset % mmap.ALLOCATIONGRANULARITY
            size = self._words.itemsize
            release_pages(mapping, base + size * a, base + size * b)

    def _block(self, k: int) -> np.ndarray:
        """The events of block ``k``, decoded alone from its saved state."""
        if self._cache is not None and self._cache[0] == k:
            return self._cache[1]
        a, b = self._spans[k]
        ev = self._codec(self._states[k]).decode(self._words[a:b])
        self._release(a, b)
        self._cache = (k, ev)
        return ev

    def events(self, t0_us: int, t1_us: int) -> np.ndarray:
        """Events with ``t0_us <= timestamp < t1_us`` in time order (only the blocks the range touches are decoded)."""
        if self._ordered:
            lo = int(np.searchsorted(self._last, t0_us, side="left"))
            hi = int(np.searchsorted(self._first, t1_us, side="left"))
            blocks = range(lo, hi)
        else:
            blocks = np.flatnonzero((self._first < t1_us) & (self._last >= t0_us)).tolist()
        parts = []
        for k in blocks:
            ev = self._block(k)
            t = ev["timestamp"]
            if self._ordered:
                a, b = np.searchsorted(t, (t0_us, t1_us), side="left")
                parts.append(ev[a:b])
            else:
                parts.append(ev[(t >= t0_us) & (t < t1_us)])
        if not parts:
            return empty_events(0)
        out = np.concatenate([np.ascontiguousarray(p).view(np.uint8) for p in parts]).view(EVENT_DTYPE)
        if not self._ordered:
            out = out[np.argsort(out["timestamp"], kind="stable")]
        return out

    def chunks(self) -> Iterator[np.ndarray]:
        """Every event in time order, about a block at a time."""
        if self._ordered:
            for k in range(len(self._spans)):
                a, b = self._spans[k]
                ev = self._codec(self._states[k]).decode(self._words[a:b])
                self._release(a, b)
                yield ev
            return
        edges = np.unique(self._first).tolist() + [self.end_us + 1]
        for t0, t1 in zip(edges[:-1], edges[1:]):
            yield self.events(t0, t1)

    def read_all(self) -> np.ndarray:
        """Every event in time order, in one array."""
        whole, self._whole = self._whole, None
        if whole is not None:
            out = np.concatenate([p.view(np.uint8) for p in whole]).view(EVENT_DTYPE)
            return out if self._ordered else out[np.argsort(out["timestamp"], kind="stable")]
        out = empty_events(self.event_count)
        i = 0
        for ev in self.chunks():
            out[i:i + len(ev)] = ev
            i += len(ev)
        return out

    def close(self) -> None:
        """Release the mapping and the decoded block."""
        self._words = np.empty(0, self._words.dtype)
        self._cache = None


def read_prophesee(path: str | Path, fmt: str | None = None) -> Recording:
    """Decode a whole Prophesee recording; SourceError (one line naming the file) when it cannot."""
    path = Path(path)
    fmt = sniff_path(path, fmt)
    if fmt != "hdf5":
        reader = PropheseeReader(path, fmt, whole=True)
        try:
            return Recording(reader.read_all(), reader.width, reader.height, fmt, reader.camera, reader.warnings)
        finally:
            reader.close()
    events, width, height = _decode_hdf5(path)
    if not len(events):
        raise SourceError(f"{path}: no events in the HDF5 recording")
    width, height = check_sensor_size(width, height, f"{path}: header")
    warnings: list[str] = []
    bad = events["x"].view(np.uint16) >= width  # as unsigned: negatives count as outside too
    bad |= events["y"].view(np.uint16) >= height
    if bad.any():
        warnings.append(f"{int(bad.sum())} events outside the {width}x{height} sensor dropped")
        events = events[~bad]
    t = events["timestamp"]
    if len(t) > 1 and (t[1:] < t[:-1]).any():
        warnings.append("timestamps go backwards: events sorted by time")
        events = events[np.argsort(t, kind="stable")]
    return Recording(events, width, height, fmt, "Prophesee", warnings)

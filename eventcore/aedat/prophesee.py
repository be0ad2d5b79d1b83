"""Prophesee recordings: EVT 2.0 / 3.0 ``.raw``, DAT ``.dat`` and HDF5, each read in bounded blocks.

- EVT 2.0, EVT 3.0 and DAT: :class:`PropheseeReader` maps the file and decodes it a block at a
  time with the numpy codecs of :mod:`eventcore.aedat.evt` (state carried from block to block),
  indexed by time: playback, ``inspect`` and ``classify --whole`` hold a block, not the file.
- EVT 2.1: recognised but refused (no decoder here).
- HDF5 (Metavision's ``CD/events`` table): :class:`Hdf5Reader` reads it a block of rows at a
  time with h5py, indexed by a child process that reads it through first, since the HDF5 C
  library can crash on damaged files; files compressed with Prophesee's ECF codec need its
  HDF5 plugin (``HDF5_PLUGIN_PATH``), as with Metavision's own tools.

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
_BLOCK_ROWS = 1 << 18  # HDF5 table rows read at a time
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


def _hdf5_events(table: np.ndarray, width: int, height: int) -> np.ndarray:
    """Rows of a ``CD/events`` table (fields x, y, p, t) inside a ``width`` x ``height`` sensor, as EVENT_DTYPE."""
    x, y = table["x"].astype(np.int64), table["y"].astype(np.int64)
    keep = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    rows = table if keep.all() else table[keep]
    out = empty_events(len(rows))
    out["timestamp"][...] = rows["t"]
    out["x"][...] = rows["x"]
    out["y"][...] = rows["y"]
    out["polarity"][...] = rows["p"] != 0
    return out


def _hdf5_table(f):
    """The ``CD/events`` dataset of an open file, or the problem with it (a string)."""
    import h5py

    ds = f.get("CD/events")
    if not isinstance(ds, h5py.Dataset) or not {"x", "y", "p", "t"} <= set(ds.dtype.names or ()):
        return "no Prophesee 'CD/events' table with x, y, p, t"
    plist = ds.id.get_create_plist()
    filters = {plist.get_filter(i)[0] for i in range(plist.get_nfilters())}
    if _ECF_FILTER in filters and not h5py.h5z.filter_avail(_ECF_FILTER):
        return ("compressed with Prophesee's ECF codec, whose HDF5 plugin is not installed "
                "(point HDF5_PLUGIN_PATH at it, as for Metavision)")
    return ds


def _hdf5_index(path: str, out: str, block_rows: int) -> dict:
    """Read the table a block of rows at a time (runs in a child process): each non-empty block's rows,
    time range and count to the ``.npz`` file ``out``; returned: geometry, order, outside count, or the problem."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            ds = _hdf5_table(f)
            if isinstance(ds, str):
                return {"problem": ds}
            geometry = f.attrs.get("geometry")
            size = None
            if geometry is not None:
                text = geometry.decode() if isinstance(geometry, bytes) else str(geometry)
                m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", text)
                size = [int(m[1]), int(m[2])] if m else None
            width, height = size or (MAX_SENSOR, MAX_SENSOR)
            index = _TimeIndex()
            spans, outside, max_x, max_y = [], 0, -1, -1
            for a in range(0, ds.shape[0], block_rows):
                b = min(a + block_rows, ds.shape[0])
                ev = _hdf5_events(ds[a:b], width, height)
                outside += (b - a) - len(ev)
                if len(ev):
                    index.add(ev["timestamp"])
                    spans.append((a, b))
                    max_x, max_y = max(max_x, int(ev["x"].max())), max(max_y, int(ev["y"].max()))
        np.savez(out, spans=np.array(spans, np.int64).reshape(-1, 2), firsts=np.array(index.firsts, np.int64),
                 lasts=np.array(index.lasts, np.int64), counts=np.array(index.counts, np.int64))
        return {"problem": None, "size": size, "ordered": index.ordered, "outside": outside, "max": [max_x, max_y]}
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        why = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        return {"problem": f"unreadable HDF5 ({why})"}


def _hdf5_child(path: str, out: str, block_rows: str) -> int:
    """Child process entry: :func:`_hdf5_index`, its answer as one JSON line."""
    print(json.dumps(_hdf5_index(path, out, int(block_rows))))
    return 0


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


class _TimeIndex:
    """Each block's first and last time (its minimum and maximum once time has gone back), its count, and
    whether the file so far is in time order."""

    def __init__(self) -> None:
        self.firsts: list[int] = []
        self.lasts: list[int] = []
        self.counts: list[int] = []
        self.ordered = True
        self._last: int | None = None

    def add(self, t: np.ndarray) -> None:
        """Index the next non-empty block's timestamps."""
        if self.ordered and ((self._last is not None and t[0] < self._last) or bool((t[1:] < t[:-1]).any())):
            self.ordered = False
        self.firsts.append(int(t[0]) if self.ordered else int(t.min()))
        self.lasts.append(int(t[-1]) if self.ordered else int(t.max()))
        self.counts.append(len(t))
        self._last = int(t[-1])


class _BlockReader:
    """Range reads, chunks and read_all over a file's blocks, each decoded alone (subclasses index the
    file and decode a block). The last block decoded is kept: playback asks for consecutive ranges."""

    path: Path
    warnings: list[str]
    _whole: list[np.ndarray] | None = None

    def _set_index(self, index: _TimeIndex) -> None:
        self._first, self._last = np.array(index.firsts, np.int64), np.array(index.lasts, np.int64)
        self.event_count = int(sum(index.counts))
        self._ordered = index.ordered
        if not self.event_count:
            raise SourceError(f"{self.path}: no events (truncated or empty {self.format.upper()} recording)")
        if not self._ordered:
            self.warnings.append("timestamps go backwards: events sorted by time")
        self.start_us, self.end_us = int(self._first.min()), int(self._last.max())
        self._cache: tuple[int, np.ndarray] | None = None

    def _decode_block(self, k: int) -> np.ndarray:
        """The events of block ``k``."""
        raise NotImplementedError

    def _block(self, k: int) -> np.ndarray:
        if self._cache is not None and self._cache[0] == k:
            return self._cache[1]
        ev = self._decode_block(k)
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
            for k in range(len(self._first)):
                yield self._decode_block(k)
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
        """Release the decoded block."""
        self._cache = None


class PropheseeReader(_BlockReader):
    """An EVT 2.0 / EVT 3.0 / DAT recording read in bounded blocks: mapped, indexed by time.

    Opening decodes the file once, ``block_bytes`` at a time, keeping each block's codec state
    at its start and its time range; :meth:`events` then decodes only the blocks a time range
    touches and :meth:`chunks` streams the file a block at a time. Memory: the index (about
    100 bytes a block) and a block's events, whatever the file's length. If time goes
    backwards the events are served sorted by time (stable), each range gathered from the
    blocks that overlap it. ``whole=True`` keeps the events decoded while opening, for one
    :meth:`read_all` (one pass).
    """

    def __init__(self, path: str | Path, fmt: str | None = None, block_bytes: int = _BLOCK_BYTES,
                 whole: bool = False) -> None:
        path = self.path = Path(path)
        self.name = path.name
        fmt = self.format = sniff_path(path, fmt)
        if fmt == "hdf5":
            raise SourceError(f"{path}: an HDF5 recording, read by Hdf5Reader")
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
        dtype = self._codec().word_dtype
        n_words = (file_size - start) // dtype.itemsize
        self._words = np.empty(0, dtype)
        if n_words:
            try:
                self._words = np.memmap(path, dtype=dtype, mode="r", offset=start, shape=(n_words,))
            except (OSError, ValueError) as err:
                raise SourceError(f"{path}: cannot be read ({err})") from None
        self._whole = [] if whole else None
        self._index(max(1, block_bytes // dtype.itemsize), size)
        if (file_size - start) % dtype.itemsize:
            self.warnings.insert(0, f"file truncated at byte {file_size}: kept {self.event_count} events "
                                    f"before the damage")

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
        index = _TimeIndex()
        self._spans: list[tuple[int, int]] = []
        self._states: list[tuple[int, ...]] = []
        for a in range(0, len(self._words), block_words):
            b = min(a + block_words, len(self._words))
            state = codec.state
            ev = codec.decode(self._words[a:b])
            self._release(a, b)
            if len(ev):
                if self._whole is not None:
                    self._whole.append(ev)
                index.add(ev["timestamp"])
                self._spans.append((a, b))
                self._states.append(state)
        self._set_index(index)
        if codec.dropped:
            self.warnings.append(f"{codec.dropped} events outside the {codec.width}x{codec.height} sensor dropped")
        if size is None:
            size = _smallest_sensor(codec.max_x, codec.max_y)
            self.warnings.append(f"no sensor size in the header: {size[0]}x{size[1]} from the events")
        self.width, self.height = size
        fmt, _, _, t0, dat_version = self._codec_args
        self._codec_args = (fmt, *size, t0, dat_version)

    def _release(self, a: int, b: int) -> None:
        """Hand back the mapped pages of words [a, b) (decoded)."""
        mapping = getattr(self._words, "_mmap", None)  # np.memmap's mapping starts at an aligned offset
        if mapping is not None:
            base = self._words.offset % mmap.ALLOCATIONGRANULARITY
            size = self._words.itemsize
            release_pages(mapping, base + size * a, base + size * b)

    def _decode_block(self, k: int) -> np.ndarray:
        """Block ``k`` decoded alone from its saved state; its mapped pages handed back."""
        a, b = self._spans[k]
        ev = self._codec(self._states[k]).decode(self._words[a:b])
        self._release(a, b)
        return ev

    def close(self) -> None:
        """Release the mapping and the decoded block."""
        self._words = np.empty(0, self._words.dtype)
        self._cache = None


def _smallest_sensor(max_x: int, max_y: int) -> tuple[int, int]:
    """The smallest known Prophesee sensor holding coordinates up to (max_x, max_y), else exactly them."""
    need = (max_x + 1, max_y + 1)
    return next((s for s in _KNOWN_SENSORS if s[0] >= need[0] and s[1] >= need[1]), need)


class Hdf5Reader(_BlockReader):
    """A Metavision HDF5 recording (``CD/events``) read a block of rows at a time, indexed by time.

    The index is built in a child process, which reads every block once: a crash of the HDF5 C
    library on a damaged file cannot end ours, and a file it read through is then read here a
    block at a time (h5py range reads). Memory: the index and a block, whatever the file's length.
    """

    format = "hdf5"

    def __init__(self, path: str | Path, block_rows: int = _BLOCK_ROWS) -> None:
        path = self.path = Path(path)
        self.name = path.name
        if sniff_path(path, None) != "hdf5":
            raise SourceError(f"{path}: not an HDF5 recording")
        self.camera = "Prophesee"
        self.warnings = []
        info, spans, index = self._child_index(max(1, block_rows))
        if info["problem"]:
            raise SourceError(f"{path}: {info['problem']}")
        self._spans = spans
        self._set_index(index)
        if info["size"] is None:
            size = _smallest_sensor(*info["max"])
            self.warnings.append(f"no geometry attribute: {size[0]}x{size[1]} from the events")
        else:
            size = check_sensor_size(*info["size"], f"{path}: geometry")
        self.width, self.height = size
        if info["outside"]:
            self.warnings.append(f"{info['outside']} events outside the {size[0]}x{size[1]} sensor dropped")
        self._file = None

    def _child_index(self, block_rows: int) -> tuple[dict, list[tuple[int, int]], _TimeIndex]:
        """Run :func:`_hdf5_index` in a child process: (its answer, block row spans, time index)."""
        path = self.path
        root = str(Path(__file__).resolve().parents[2])  # the project root, so the child imports eventcore
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        code = ("import sys; from eventcore.aedat.prophesee import _hdf5_child; "
                "sys.exit(_hdf5_child(*sys.argv[1:4]))")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "index.npz"
            try:
                r = subprocess.run([sys.executable, "-c", code, str(path), str(out), str(block_rows)],
                                   capture_output=True, text=True, env=env,
                                   timeout=120 + path.stat().st_size / 20e6)
            except subprocess.TimeoutExpired:
                raise SourceError(f"{path}: the HDF5 library did not finish reading it (damaged file?)") from None
            if r.returncode != 0 or not r.stdout.strip():
                raise SourceError(f"{path}: the HDF5 library failed on it (exit status {r.returncode}; damaged file?)")
            info = json.loads(r.stdout.strip().splitlines()[-1])
            index = _TimeIndex()
            spans: list[tuple[int, int]] = []
            if not info["problem"]:
                with np.load(out) as z:
                    spans = [(int(a), int(b)) for a, b in z["spans"]]
                    index.firsts, index.lasts = z["firsts"].tolist(), z["lasts"].tolist()
                    index.counts = z["counts"].tolist()
                index.ordered = bool(info["ordered"])
        return info, spans, index

    def _decode_block(self, k: int) -> np.ndarray:
        """Rows of block ``k`` (a range read) inside the sensor."""
        import h5py

        if self._file is None:
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as err:
                raise SourceError(f"{self.path}: cannot be read ({err})") from None
        a, b = self._spans[k]
        return _hdf5_events(self._file["CD/events"][a:b], self.width, self.height)

    def close(self) -> None:
        """Close the file and release the decoded block."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._cache = None


def open_prophesee(path: str | Path, fmt: str | None = None, whole: bool = False) -> PropheseeReader | Hdf5Reader:
    """The block reader of a Prophesee recording of any format (``fmt`` sniffed when None); ``whole``:
    an EVT or DAT file about to be read through once (see :class:`PropheseeReader`)."""
    path = Path(path)
    fmt = sniff_path(path, fmt)
    return Hdf5Reader(path) if fmt == "hdf5" else PropheseeReader(path, fmt, whole=whole)


def read_prophesee(path: str | Path, fmt: str | None = None) -> Recording:
    """Decode a whole Prophesee recording; SourceError (one line naming the file) when it cannot."""
    reader = open_prophesee(path, fmt, whole=True)
    try:
        return Recording(reader.read_all(), reader.width, reader.height, reader.format, reader.camera,
                         reader.warnings)
    finally:
        reader.close()

"""The AEDAT4 container and the DV network stream, read and written in Python, every size checked.

dv-processing's own AEDAT4 reader trusts what a file declares (hangs, SIGSEGV and
multi-gigabyte allocations on damaged files), and its ``NetworkReader`` aborts the process on
a peer that sends garbage, so both are read here instead, with one packet codec. The layout:

- the version line ``#!AER-DAT4.0\\r\\n``;
- the IOHeader: a uint32 size, then a flatbuffer table {compression: int32 (0 none, 1 LZ4,
  2 LZ4 high, 3 zstd, 4 zstd high), dataTablePosition: int64 (-1 while unset), infoNode:
  XML string naming each stream (id, ``typeIdentifier``, ``sizeX``/``sizeY``, ``source``)};
- packets: int32 stream id, int32 size, then ``size`` bytes of compressed flatbuffer;
  an event packet (identifier ``EVTS``) is a vector of 16-byte structs {int64 timestamp,
  int16 x, int16 y, bool polarity, 3 bytes padding}: exactly ``EVENT_DTYPE``;
- at ``dataTablePosition``, the packet index (written when a recording is closed; a file
  whose index is missing or cut is read by walking the packets, as dv-processing does).

Every read is bounded: a header at most 1 MiB, a packet at most the bytes left in the file,
its decompressed size at most ``MAX_PACKET_BYTES`` and at most 255 times its compressed size
(LZ4's own limit), a sensor at most ``MAX_SENSOR`` pixels a side. Anything else is a
:class:`SourceError` naming the file, the byte offset and what is wrong.

The DV network stream (a ``NetworkWriter``, DV's TCP output) is the same IOHeader without
the version line, then the same packets: :class:`StreamDecoder` is fed the bytes as they
arrive and hands over every whole event packet before it looks at the next one, so a peer
that turns to garbage loses none of the packets it sent before. A declared size is checked
against the caps before anything is buffered for it.

The writer (:func:`file_header`, :func:`compress_packet`) produces the same layout with LZ4 frames (as DV does)
or zstd, one packet per call, and leaves ``dataTablePosition`` at -1: dv-processing and
this reader then walk the packets, so a file cut anywhere (kill, full disk) stays readable
up to its last whole packet.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import lz4.frame
import numpy as np
import zstandard

from eventcore.aedat.common import check_regular_file, check_sensor_size
from eventcore.errors import SourceError
from eventcore.events import EVENT_DTYPE

MAGIC = b"#!AER-DAT4.0\r\n"
MAX_HEADER_BYTES = 1 << 20
MAX_PACKET_BYTES = 256 << 20  # 16 M events in one packet; DV writes far smaller ones
COMPRESSION = {0: "none", 1: "lz4", 2: "lz4_high", 3: "zstd", 4: "zstd_high"}
_PACKET = struct.Struct("<ii")
_EVENT_PACKET_HEAD = 32  # size prefix, root offset, "EVTS", vtable, table, vector length


def regular_file(path: Path, kind: str) -> int:
    """The size of ``path``, which must be an existing regular file (not a FIFO, device, folder)."""
    if path.is_dir():
        raise SourceError(f"{path}: is a folder, not an {kind} file")
    return check_regular_file(path, kind)


# -- flatbuffer reading with bounds checks ------------------------------------------------


class _Bad(Exception):
    """A bounds or consistency failure inside a flatbuffer; turned into a SourceError."""


def _u32(buf, off: int) -> int:
    if off < 0 or off + 4 > len(buf):
        raise _Bad(f"offset {off} outside a {len(buf)}-byte table")
    return struct.unpack_from("<I", buf, off)[0]


def _fields(buf, table: int) -> tuple[int, ...]:
    """The vtable field offsets (0 = absent) of the flatbuffer table at ``table``."""
    if table < 0 or table + 4 > len(buf):
        raise _Bad("table outside the buffer")
    (rel,) = struct.unpack_from("<i", buf, table)
    vt = table - rel
    if vt < 0 or vt + 4 > len(buf):
        raise _Bad("vtable outside the buffer")
    vt_size, obj_size = struct.unpack_from("<HH", buf, vt)
    if vt_size < 4 or vt_size % 2 or vt + vt_size > len(buf) or table + obj_size > len(buf):
        raise _Bad("vtable sizes out of range")
    offs = struct.unpack_from(f"<{(vt_size - 4) // 2}H", buf, vt + 4)
    if any(o and (o < 4 or o >= max(obj_size, 4)) for o in offs):
        raise _Bad("field offset outside its table")
    return offs


def _field(buf, table: int, offs, i: int, fmt: str, default):
    if i >= len(offs) or not offs[i]:
        return default
    pos = table + offs[i]
    if pos + struct.calcsize(fmt) > len(buf):
        raise _Bad("field outside the buffer")
    return struct.unpack_from(fmt, buf, pos)[0]


def _string(buf, table: int, offs, i: int) -> bytes:
    if i >= len(offs) or not offs[i]:
        return b""
    pos = table + offs[i]
    start = pos + _u32(buf, pos)
    n = _u32(buf, start)
    if start + 4 + n > len(buf):
        raise _Bad(f"a {n}-byte string runs past the end of its table")
    return bytes(buf[start + 4 : start + 4 + n])


# -- header ---------------------------------------------------------------------------------


@dataclass
class Stream:
    id: int
    type: str
    name: str
    width: int | None = None
    height: int | None = None
    source: str | None = None


@dataclass
class Header:
    compression: int
    table_position: int
    streams: list[Stream]
    data_start: int


def _parse_info(xml: bytes, where: str) -> list[Stream]:
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise SourceError(f"{where}: the header's stream description declares XML entities (refused)")
    try:
        root = ET.fromstring(xml.rstrip(b"\0"))
    except ET.ParseError as err:
        raise SourceError(f"{where}: the header's stream description is not valid XML ({err})") from None
    out_info = next((n for n in root.iter("node") if n.get("name") == "outInfo"), None)
    streams = []
    for node in out_info if out_info is not None else []:
        if node.tag != "node":
            continue
        try:
            sid = int(node.get("name", ""))
        except ValueError:
            continue
        attrs = {a.get("key"): (a.text or "") for a in node.findall("attr")}
        info = next((n for n in node.findall("node") if n.get("name") == "info"), None)
        iattrs = {a.get("key"): (a.text or "") for a in info.findall("attr")} if info is not None else {}
        s = Stream(sid, attrs.get("typeIdentifier", ""), attrs.get("originalOutputName", str(sid)))
        s.source = iattrs.get("source") or None
        if "sizeX" in iattrs or "sizeY" in iattrs:
            try:
                s.width, s.height = int(iattrs.get("sizeX", "")), int(iattrs.get("sizeY", ""))
            except ValueError:
                raise SourceError(f"{where}: stream {sid} declares a sensor size that is not a number") from None
        streams.append(s)
    return streams


def parse_io_header(buf: bytes, name: str) -> tuple[int, int, list[Stream]]:
    """(compression, dataTablePosition, streams) of an IOHeader flatbuffer (without its size prefix)."""
    try:
        table = _u32(buf, 0)
        offs = _fields(buf, table)
        compression = _field(buf, table, offs, 0, "<i", 0)
        table_position = _field(buf, table, offs, 1, "<q", -1)
        xml = _string(buf, table, offs, 2)
    except _Bad as err:
        raise SourceError(f"{name}: damaged AEDAT4 header ({err})") from None
    if compression not in COMPRESSION:
        raise SourceError(f"{name}: unknown compression type {compression} in the header (damaged file?)")
    return compression, table_position, _parse_info(xml, name)


def read_header(f, file_size: int, name: str) -> Header:
    """Parse and check the version line and the IOHeader of an open AEDAT4 file."""
    head = f.read(len(MAGIC) + 4)
    if not head.startswith(MAGIC[: min(len(head), len(MAGIC))]) or len(head) < len(MAGIC):
        if head.startswith(b"#!AER-DAT4.0"):
            raise SourceError(f"{name}: the file is cut short inside its header")
        raise SourceError(f"{name}: not an AEDAT4 file (no '#!AER-DAT4.0' version line)")
    if len(head) < len(MAGIC) + 4:
        raise SourceError(f"{name}: the file is cut short inside its header")
    (size,) = struct.unpack_from("<I", head, len(MAGIC))
    if size > MAX_HEADER_BYTES:
        raise SourceError(f"{name}: the header declares {size} bytes (more than {MAX_HEADER_BYTES}): damaged file")
    data_start = len(MAGIC) + 4 + size
    if data_start > file_size:
        raise SourceError(f"{name}: the file is cut short inside its header ({file_size} bytes, header needs {data_start})")
    compression, table_position, streams = parse_io_header(f.read(size), name)
    return Header(compression, table_position, streams, data_start)


def event_stream(streams: list[Stream], name: str) -> tuple[Stream, int, int]:
    """The event stream of a header (the one named "events" first) and its checked sensor size."""
    events = [s for s in streams if s.type == "EVTS"]
    if not events:
        kinds = ", ".join(f"{s.name} ({s.type or '?'})" for s in streams) or "nothing"
        raise SourceError(f"{name}: no event stream in this AEDAT4 file (only {kinds})")
    stream = next((s for s in events if s.name == "events"), events[0])
    if stream.width is None:
        raise SourceError(f"{name}: the event stream '{stream.name}' does not state its resolution")
    width, height = check_sensor_size(stream.width, stream.height, name)
    return stream, width, height


# -- packets ----------------------------------------------------------------------------------


def decompress(data: bytes, compression: int) -> bytes:
    """One packet's bytes, decompressed with every output size bounded; raises _Bad."""
    limit = min(MAX_PACKET_BYTES, 255 * len(data) + 64)
    if compression == 0:
        return data
    try:
        if compression in (1, 2):
            d = lz4.frame.LZ4FrameDecompressor()
            out = d.decompress(data, max_length=limit + 1)
            if len(out) > limit:
                raise _Bad(f"decompresses to more than {limit} bytes")
            if not d.eof:
                raise _Bad("its LZ4 frame is incomplete")
            return out
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=False) as r:
            out = r.read(limit + 1)
        if len(out) > limit:
            raise _Bad(f"decompresses to more than {limit} bytes")
        return out
    except (RuntimeError, zstandard.ZstdError, ValueError, OSError, MemoryError) as err:
        raise _Bad(f"cannot be decompressed ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None


def decode_event_packet(data: bytes, out: np.ndarray | None = None) -> np.ndarray:
    """The events of one decompressed, size-prefixed EVTS flatbuffer; raises _Bad.

    Copied into ``out`` (an EVENT_DTYPE array that must have the packet's length) or a fresh array.
    """
    if len(data) < 8:
        raise _Bad("too short for an event packet")
    (prefix,) = struct.unpack_from("<I", data, 0)
    if prefix + 4 > len(data):
        raise _Bad(f"declares {prefix} bytes but holds {len(data) - 4}")
    buf = memoryview(data)[4 : 4 + prefix]
    if bytes(buf[4:8]) != b"EVTS":
        raise _Bad("is not an event packet (identifier is not EVTS)")
    table = _u32(buf, 0)
    offs = _fields(buf, table)
    n = 0
    if offs and offs[0]:
        pos = table + offs[0]
        vec = pos + _u32(buf, pos)
        n = _u32(buf, vec)
        start = vec + 4
        if start + 16 * n > len(buf):
            raise _Bad(f"declares {n} events but holds room for {(len(buf) - start) // 16}")
    if out is None:
        out = np.empty(n, EVENT_DTYPE)
    elif len(out) != n:
        raise _Bad(f"holds {n} events, the file's index says {len(out)}")
    if n:
        out.view(np.uint8)[:] = np.frombuffer(buf, np.uint8, 16 * n, start)
    return out


def packet_events(data: bytes, compression: int, width: int, height: int, out: np.ndarray | None = None
                  ) -> np.ndarray:
    """The checked events of one packet payload (time order, inside the sensor), into ``out`` if given; raises _Bad."""
    ev = decode_event_packet(decompress(data, compression), out)
    if len(ev):
        t = ev["timestamp"]
        if len(ev) > 1 and np.any(t[1:] < t[:-1]):
            raise _Bad("has timestamps that go backwards inside it")
        x, y = ev["x"].view(np.uint16), ev["y"].view(np.uint16)  # unsigned: a negative is outside too
        if int(x.max()) >= width or int(y.max()) >= height:
            i = int(np.flatnonzero((x >= width) | (y >= height))[0])
            raise _Bad(f"holds an event at x={int(ev['x'][i])}, y={int(ev['y'][i])}, which lies outside the "
                       f"{width}x{height} sensor")
        p = ev["polarity"].view(np.uint8)
        if int(p.max()) > 1:  # any non-zero byte is ON
            np.minimum(p, 1, out=p)
    return ev


@dataclass
class PacketIndex:
    """Where the event packets are and the time each covers."""

    offsets: np.ndarray  # payload offsets
    sizes: np.ndarray
    counts: np.ndarray
    t_first: np.ndarray
    t_last: np.ndarray
    warnings: list[str] = field(default_factory=list)


def concat_events(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate EVENT_DTYPE arrays (np.concatenate would drop the dtype's padding), as raw bytes."""
    out = np.empty(sum(len(p) for p in parts), EVENT_DTYPE)
    raw = out.view(np.uint8)
    i = 0
    for p in parts:
        n = len(p)
        if p.flags.c_contiguous:  # a byte copy: ~10x faster than assigning padded records
            raw[16 * i:16 * (i + n)] = p.view(np.uint8)
        else:
            out[i:i + n] = p
        i += n
    return out


class Aedat4File:
    """An AEDAT4 file opened for its event stream; see the module docstring.

    Opening reads the file's packet index, or walks the packets and decodes each once
    (checking sizes, time order and coordinates) to index it by time (``whole=True`` keeps
    those packets for one :meth:`read_all`); :meth:`events` then
    decodes only the packets a time range touches, keeping at most ``CACHE_BYTES`` of decoded
    packets, and :meth:`chunks` streams the whole file a packet at a time. Memory is the
    index (40 bytes a packet) and that cache, whatever the file's length.
    """

    format = "aedat4"

    def __init__(self, path: str | os.PathLike, whole: bool = False) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self._whole: list[np.ndarray] | None = [] if whole else None  # packets kept by the walk, for read_all
        self.file_size = regular_file(self.path, "AEDAT4")
        if self.file_size == 0:
            raise SourceError(f"{self.name}: the file is empty")
        try:
            self._f = open(self.path, "rb")
        except OSError as err:
            raise SourceError(f"{self.path}: cannot be read ({err.strerror})") from None
        try:
            self._open()
        except BaseException:
            self._f.close()
            raise

    def _open(self) -> None:
        h = read_header(self._f, self.file_size, self.name)
        self.header = h
        self.stream, self.width, self.height = event_stream(h.streams, self.name)
        self.camera = self.stream.source
        self._cache: dict[int, np.ndarray] = {}
        self._cached_bytes = 0
        self.index = idx = self._walk()
        if len(idx.counts) == 0 and idx.warnings:
            raise SourceError(f"{self.name}: the file is truncated before its first complete packet")
        self.start_us = int(idx.t_first[0]) if len(idx.counts) else 0
        self.end_us = int(idx.t_last[-1]) if len(idx.counts) else 0
        self.event_count = int(idx.counts.sum())
        seconds = f"{(self.end_us - self.start_us) / 1e6:.3f}"
        self.warnings = [w.replace("{s}", seconds) for w in idx.warnings]
        if not len(idx.counts):  # a whole file that received no events (a silent camera): valid, empty
            self.warnings.append(f"{self.name}: the recording holds no events "
                                 "(nothing was recorded, or it was cut off before anything was saved)")

    MAX_TABLE_BYTES = 256 << 20

    def _from_table(self) -> PacketIndex | None:
        """The event packets as the file's own index (FTAB) lists them, each entry checked
        against the packet header it points at; None when the index is absent, too large or
        inconsistent in any way (the packets are then walked and decoded instead).

        Opening a long recording thus reads only the index; each packet is checked against
        its entry when it is decoded (count and time range).
        """
        h, size = self.header, self.file_size
        tp = h.table_position
        if not (h.data_start <= tp < size) or size - tp > self.MAX_TABLE_BYTES:
            return None
        f = self._f
        f.seek(tp)
        try:
            data = decompress(f.read(size - tp), h.compression)
            if len(data) < 8:
                return None
            (prefix,) = struct.unpack_from("<I", data, 0)
            buf = memoryview(data)[4 : 4 + prefix]
            if prefix + 4 > len(data) or bytes(buf[4:8]) != b"FTAB":
                return None
            table = _u32(buf, 0)
            offs = _fields(buf, table)
            if not offs or not offs[0]:
                return None
            pos = table + offs[0]
            vec = pos + _u32(buf, pos)
            n = _u32(buf, vec)
            if vec + 4 + 4 * n > len(buf):
                return None
            rows = []
            for i in range(n):
                e = vec + 4 + 4 * i
                t = e + _u32(buf, e)
                fo = _fields(buf, t)
                offset = _field(buf, t, fo, 0, "<q", -1)
                sid, psize = None, None
                if len(fo) > 1 and fo[1]:
                    if t + fo[1] + 8 > len(buf):
                        return None
                    sid, psize = struct.unpack_from("<ii", buf, t + fo[1])
                count = _field(buf, t, fo, 2, "<q", 0)
                t0 = _field(buf, t, fo, 3, "<q", 0)
                t1 = _field(buf, t, fo, 4, "<q", 0)
                if sid == self.stream.id and count > 0:
                    rows.append((offset, psize, count, t0, t1))
        except (_Bad, struct.error):
            return None
        if not rows:
            return None
        a = np.array(rows, dtype=np.int64)
        offsets, sizes, counts, firsts, lasts = a.T
        if (np.any(offsets - 8 < h.data_start) or np.any(sizes <= 0) or np.any(offsets + sizes > tp)
                or np.any(firsts > lasts) or np.any(firsts[1:] < lasts[:-1]) or np.any(np.diff(offsets) <= 0)
                or np.any(counts * 16 > MAX_PACKET_BYTES)):
            return None
        for off, psize in zip(offsets.tolist(), sizes.tolist()):  # each entry names a real packet header
            f.seek(off - 8)
            if _PACKET.unpack(f.read(8)) != (self.stream.id, psize):
                return None
        self._from_index = True
        return PacketIndex(offsets.copy(), sizes.copy(), counts.copy(), firsts.copy(), lasts.copy())

    def _walk(self) -> PacketIndex:
        self._from_index = False
        indexed = self._from_table()
        if indexed is not None:
            return indexed
        h, name, size = self.header, self.name, self.file_size
        warnings: list[str] = []
        end = size
        if h.table_position >= 0:
            if h.table_position > size or h.table_position < h.data_start:
                warnings.append(f"{name}: the file is truncated (its index is missing); recovered the events up to {{s}} s")
            else:
                end = h.table_position
        offsets, sizes, counts, firsts, lasts = [], [], [], [], []
        pos, last_t = h.data_start, None
        f = self._f
        while pos < end:
            if end - pos < _PACKET.size:
                warnings[:] = [f"{name}: the file is truncated (a packet header cut at byte {pos}); recovered the events up to {{s}} s"]
                break
            f.seek(pos)
            sid, psize = _PACKET.unpack(f.read(_PACKET.size))
            if psize <= 0:
                raise SourceError(f"{name}: damaged packet header at byte {pos} (size {psize})")
            if pos + 8 + psize > end:
                if h.table_position >= 0 and end == h.table_position:
                    raise SourceError(f"{name}: packet at byte {pos} declares {psize} bytes, past the packet index at {end}")
                warnings[:] = [f"{name}: the file is truncated (the packet at byte {pos} is cut); recovered the events up to {{s}} s"]
                break
            if sid == self.stream.id:
                ev = self._decode(pos + 8, psize)
                if len(ev):
                    t = ev["timestamp"]
                    if last_t is not None and t[0] < last_t:
                        raise SourceError(f"{name}: timestamps go backwards at the packet at byte {pos} ({last_t} us, then {int(t[0])} us)")
                    if self._whole is not None:
                        self._whole.append(ev)
                    else:
                        self._keep(len(offsets), ev)
                    offsets.append(pos + 8)
                    sizes.append(psize)
                    counts.append(len(ev))
                    firsts.append(int(t[0]))
                    lasts.append(last_t := int(t[-1]))
            pos += 8 + psize
        if pos > end and not warnings:
            raise SourceError(f"{name}: packets run past byte {end}")
        idx = PacketIndex(*(np.array(a, np.int64) for a in (offsets, sizes, counts, firsts, lasts)), warnings=warnings)
        return idx

    def _decode(self, offset: int, size: int, out: np.ndarray | None = None) -> np.ndarray:
        self._f.seek(offset)
        data = self._f.read(size)
        if len(data) != size:
            raise SourceError(f"{self.name}: the packet at byte {offset - 8} is cut short (the file changed?)")
        try:
            return packet_events(data, self.header.compression, self.width, self.height, out)
        except _Bad as err:
            raise SourceError(f"{self.name}: damaged event packet at byte {offset - 8}: it {err}") from None

    CACHE_BYTES = 16 << 20  # a few packets: replay decodes each packet once, memory stays flat

    def _keep(self, i: int, ev: np.ndarray) -> None:
        """Cache decoded packet ``i``, dropping the oldest beyond CACHE_BYTES."""
        while self._cache and self._cached_bytes + ev.nbytes > self.CACHE_BYTES:
            self._cached_bytes -= self._cache.pop(next(iter(self._cache))).nbytes
        self._cache[i] = ev
        self._cached_bytes += ev.nbytes

    def packet(self, i: int, keep: bool = True) -> np.ndarray:
        """The events of event packet ``i`` (cached unless ``keep`` is False)."""
        ev = self._cache.get(i)
        if ev is None:
            idx = self.index
            ev = self._decode(int(idx.offsets[i]), int(idx.sizes[i]))
            if self._from_index and (len(ev) != idx.counts[i] or (len(ev) and (
                    ev["timestamp"][0] < idx.t_first[i] or ev["timestamp"][-1] > idx.t_last[i]))):
                raise SourceError(
                    f"{self.name}: the event packet at byte {int(idx.offsets[i]) - 8} does not match the "
                    f"file's index ({len(ev)} events, the index says {int(idx.counts[i])}): damaged file"
                )
            if keep:
                self._keep(i, ev)
        return ev

    def chunks(self) -> Iterator[np.ndarray]:
        """Every event in time order, one packet at a time (memory: one packet, nothing cached)."""
        for i in range(len(self.index.counts)):
            yield self.packet(i, keep=False)

    def read_all(self) -> np.ndarray:
        """Every event, each packet decoded once (opened with ``whole=True``, the walk's packets are reused)."""
        parts, self._whole = self._whole, None
        if parts or not self._from_index:
            return concat_events(parts or list(self.chunks()))
        idx = self.index  # every packet decoded straight into its place in the output
        out = np.empty(self.event_count, EVENT_DTYPE)
        ends = np.cumsum(idx.counts)
        for i, (off, size, end, n) in enumerate(zip(idx.offsets.tolist(), idx.sizes.tolist(), ends.tolist(),
                                                     idx.counts.tolist())):
            ev = self._decode(off, size, out[end - n:end])
            if n and (ev["timestamp"][0] < idx.t_first[i] or ev["timestamp"][-1] > idx.t_last[i]):
                raise SourceError(f"{self.name}: the event packet at byte {off - 8} does not match the file's "
                                  f"index (its times lie outside the index's): damaged file")
        t = out["timestamp"]
        if len(ends) > 1 and np.any(t[ends[:-1]] < t[ends[:-1] - 1]):
            raise SourceError(f"{self.name}: timestamps go backwards from one packet to the next: damaged file")
        return out

    def events(self, t0_us: int, t1_us: int) -> np.ndarray:
        """Events with ``t0_us <= timestamp < t1_us``."""
        idx = self.index
        lo = int(np.searchsorted(idx.t_last, t0_us, side="left"))
        hi = int(np.searchsorted(idx.t_first, t1_us, side="left"))
        parts = []
        for i in range(lo, hi):
            ev = self.packet(i)
            t = ev["timestamp"]
            a, b = np.searchsorted(t, (t0_us, t1_us), side="left")
            if b > a:
                parts.append(ev[a:b])
        if not parts:
            return np.empty(0, EVENT_DTYPE)
        return parts[0] if len(parts) == 1 else concat_events(parts)

    def close(self) -> None:
        self._f.close()
        self._cache.clear()


# -- the DV network stream ----------------------------------------------------------------------


class StreamDecoder:
    """The DV network stream, decoded incrementally: feed it the bytes as they arrive.

    :meth:`feed` yields the events of every event packet the bytes complete, in order, and
    raises a :class:`SourceError` (``where`` and what is wrong) only once every whole packet
    before the fault has been yielded. Memory: the packet being received, whose declared
    size is checked against ``MAX_PACKET_BYTES`` as soon as its 8-byte header arrives.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.header: Header | None = None
        self.stream: Stream | None = None
        self.width = self.height = 0
        self._ids: set[int] = set()
        self._buf = bytearray()
        self._offset = 0  # stream byte offset of _buf[0]

    @property
    def camera(self) -> str | None:
        return self.stream.source if self.stream is not None else None

    def push(self, data: bytes) -> bool:
        """Take ``data`` without decoding packets; True once the stream header has been read."""
        self._buf += data
        return self.header is not None or self._take_header()

    def feed(self, data: bytes) -> Iterator[np.ndarray]:
        """Take ``data``; yield the events of each event packet it completes (non-empty arrays)."""
        self._buf += data
        while True:
            if self.header is None:
                if not self._take_header():
                    return
                continue
            if len(self._buf) < _PACKET.size:
                return
            sid, size = _PACKET.unpack_from(self._buf, 0)
            where = f"{self.where}: the packet at byte {self._offset} of the stream"
            if sid not in self._ids:
                raise SourceError(f"{where} names stream {sid}, which the header does not declare "
                                  f"(not a valid DV stream)")
            if not 0 < size <= MAX_PACKET_BYTES:
                raise SourceError(f"{where} declares {size} bytes (allowed: 1 to {MAX_PACKET_BYTES >> 20} MiB; "
                                  f"not a valid DV stream)")
            if len(self._buf) < _PACKET.size + size:
                return
            payload = bytes(self._buf[_PACKET.size:_PACKET.size + size])
            del self._buf[:_PACKET.size + size]
            self._offset += _PACKET.size + size
            if sid != self.stream.id:
                continue
            try:
                events = packet_events(payload, self.header.compression, self.width, self.height)
            except _Bad as err:
                raise SourceError(f"{where} is not a valid event packet: it {err}") from None
            if len(events):
                yield events

    def _take_header(self) -> bool:
        """Parse the IOHeader once it has arrived whole; False while it has not."""
        buf = self._buf
        if len(buf) < 12:  # size, root offset, identifier: checked in one order whatever the reads
            return False
        if bytes(buf[8:12]) != b"IOHE":
            raise SourceError(f"{self.where}: the server does not speak the DV (AEDAT4) stream protocol")
        (size,) = struct.unpack_from("<I", buf, 0)
        if not 12 <= size <= MAX_HEADER_BYTES:
            raise SourceError(f"{self.where}: the stream header declares {size} bytes (not a valid DV stream)")
        if len(buf) < 4 + size:
            return False
        compression, _, streams = parse_io_header(bytes(buf[4:4 + size]), self.where)
        self.stream, self.width, self.height = event_stream(streams, self.where)
        self.header = Header(compression, -1, streams, 4 + size)
        self._ids = {s.id for s in streams}
        del buf[:4 + size]
        self._offset = 4 + size
        return True


# -- writing ------------------------------------------------------------------------------------


def _info_xml(camera: str, width: int, height: int, compression: str) -> bytes:
    comp = {"none": "NONE", "lz4": "LZ4", "lz4_high": "LZ4_HIGH", "zstd": "ZSTD", "zstd_high": "ZSTD_HIGH"}[compression]
    camera = camera.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        '<dv version="2.0">\n'
        '    <node name="outInfo" path="/mainloop/Recorder/outInfo/">\n'
        '        <node name="0" path="/mainloop/Recorder/outInfo/0/">\n'
        f'            <attr key="compression" type="string">{comp}</attr>\n'
        '            <attr key="originalModuleName" type="string">gesture-app</attr>\n'
        '            <attr key="originalOutputName" type="string">events</attr>\n'
        '            <attr key="typeDescription" type="string">Array of events (polarity ON/OFF).</attr>\n'
        '            <attr key="typeIdentifier" type="string">EVTS</attr>\n'
        '            <node name="info" path="/mainloop/Recorder/outInfo/0/info/">\n'
        f'                <attr key="sizeX" type="int">{width}</attr>\n'
        f'                <attr key="sizeY" type="int">{height}</attr>\n'
        f'                <attr key="source" type="string">{camera}</attr>\n'
        '                <attr key="tsOffset" type="long">0</attr>\n'
        '            </node>\n'
        '        </node>\n'
        '    </node>\n'
        '</dv>\n'
    ).encode()


COMPRESSION_CODES = {v: k for k, v in COMPRESSION.items()}


def file_header(camera: str, width: int, height: int, compression: str) -> bytes:
    """Version line and IOHeader (dataTablePosition -1: readers walk the packets)."""
    xml = _info_xml(camera, width, height, compression)
    # The layout dv-processing writes (its verifier checks alignment counting the size prefix):
    # root, "IOHE", pad, vtable at 14, table at 24 {compression @4, infoNode @8, dataTablePosition @12}
    body = struct.pack("<I4s6xHHHHH", 24, b"IOHE", 10, 24, 4, 12, 8)
    body += struct.pack("<iiIq4x", 10, COMPRESSION_CODES[compression], 16, -1)
    body += struct.pack("<I", len(xml)) + xml + b"\0"
    body += b"\0" * (-len(body) % 8)
    return MAGIC + struct.pack("<I", len(body)) + body


def event_packet_bytes(events: np.ndarray) -> bytes:
    """An uncompressed, size-prefixed EVTS flatbuffer holding ``events`` (padding zeroed)."""
    n = len(events)
    out = np.zeros(_EVENT_PACKET_HEAD + 16 * n, np.uint8)
    struct.pack_into("<II4sHHHHiII", out, 0, _EVENT_PACKET_HEAD - 4 + 16 * n, 16, b"EVTS", 6, 8, 4, 0, 8, 4, n)
    body = out[_EVENT_PACKET_HEAD:].view(EVENT_DTYPE)
    for name in EVENT_DTYPE.names:
        body[name][...] = events[name]
    return memoryview(out)


def compress_packet(stream_id: int, events: np.ndarray, compression: str) -> bytes:
    """One whole packet (header + compressed payload) ready to append to a file."""
    raw = event_packet_bytes(events)
    if compression == "none":
        payload = bytes(raw)
    elif compression.startswith("lz4"):
        level = 9 if compression == "lz4_high" else 0
        payload = lz4.frame.compress(raw, compression_level=level, content_checksum=False,
                                     block_size=lz4.frame.BLOCKSIZE_MAX4MB, store_size=True)
    else:
        level = 15 if compression == "zstd_high" else 1
        payload = zstandard.ZstdCompressor(level=level).compress(raw)
    return _PACKET.pack(stream_id, len(payload)) + payload

"""Prophesee recordings: EVT 2.0 / 3.0 ``.raw`` and DAT ``.dat`` through faery, HDF5 through h5py.

Decoding is left to libraries (faery's Rust decoders; ``evt3`` for EVT 3.0, which measured
faster on the same files, see ``benchmarks/prophesee.py``); this module only recognises the
file, converts the events to ``EVENT_DTYPE`` packet by packet (vectorised) and turns every
failure into one :class:`SourceError` line naming the file.

- EVT 2.1: recognised but refused (neither faery 0.7 nor evt3 decodes it).
- HDF5 (Metavision's ``CD/events`` table): read with h5py in a child process, since the HDF5
  C library can crash on damaged files; files compressed with Prophesee's ECF codec need its
  HDF5 plugin (``HDF5_PLUGIN_PATH``), as with Metavision's own tools.
- faery and evt3 are Rust: a damaged file raises (PanicException included), it does not
  crash the process (checked on mutated files in ``tests/test_prophesee.py``).

Example::

    f = read_prophesee("recording.raw")
    f.format, f.width, f.height, len(f.events)  # "evt3.0", 1280, 720, ...
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from eventcore.aedat.common import Recording
from eventcore.errors import SourceError
from eventcore.events import empty_events

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# bytes per word after the header: EVT 2.x 32-bit words, EVT 3.0 16-bit words, DAT 8-byte events
_WORD = {"evt2.0": 4, "evt2.1": 8, "evt3.0": 2, "dat": 8}
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


def _decode_faery(path: Path, fmt: str) -> tuple[np.ndarray, int, int]:
    import faery

    kind = "dat" if fmt == "dat" else "evt"
    version = {"evt2.0": "evt2", "evt3.0": "evt3", "dat": "dat2"}[fmt]
    stream = faery.events_stream_from_file(path, file_type=kind, version_fallback=version)
    width, height = stream.dimensions()
    return _pack([p for p in stream if len(p)], "t", "on"), int(width), int(height)


def _decode_evt3(path: Path, t0: int) -> tuple[np.ndarray, int, int]:
    """EVT 3.0 with evt3; ``t0`` is the header's ``% t0`` offset (faery writes it; evt3 ignores it)."""
    import evt3

    ev = evt3.decode_file(str(path))
    out = empty_events(len(ev))
    out["timestamp"][...] = ev.timestamp
    if t0:
        out["timestamp"] += t0
    out["x"][...] = ev.x
    out["y"][...] = ev.y
    out["polarity"][...] = ev.polarity != 0
    return out, int(ev.sensor_width), int(ev.sensor_height)


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


def read_prophesee(path: str | Path, fmt: str | None = None) -> Recording:
    """Decode a whole Prophesee recording; SourceError (one line naming the file) when it cannot."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(64)
        fmt = fmt or sniff(path, head)
        lines, offset = read_header(path) if fmt != "hdf5" else ([], 0)
        size = path.stat().st_size
    except OSError as err:
        raise SourceError(f"{path}: cannot read ({err.strerror})") from None
    if fmt is None:
        raise SourceError(f"{path}: not a Prophesee recording (no '% ' header nor HDF5 signature)")
    if fmt == "evt2.1":
        raise SourceError(f"{path}: EVT 2.1 is not supported (faery and evt3 decode EVT 2.0 and 3.0); "
                          f"convert it to EVT 3.0 with Metavision")
    if fmt not in ("evt2.0", "evt3.0", "dat", "hdf5"):
        raise SourceError(f"{path}: Prophesee format {fmt} is not supported (EVT 2.0, EVT 3.0, DAT, HDF5 are)")
    warnings: list[str] = []
    try:
        if fmt == "hdf5":
            events, width, height = _decode_hdf5(path)
        elif fmt == "evt3.0" and _has("evt3"):
            t0 = _header_value(lines, "t0")
            events, width, height = _decode_evt3(path, int(t0) if t0 and t0.isdigit() else 0)
        else:
            events, width, height = _decode_faery(path, fmt)
    except SourceError:
        raise
    except BaseException as err:  # Rust panics arrive as PanicException, a BaseException
        if isinstance(err, KeyboardInterrupt | SystemExit | MemoryError):
            raise
        why = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise SourceError(f"{path}: damaged {fmt.upper()} recording ({why})") from None
    if not len(events):
        raise SourceError(f"{path}: no events after the header (truncated or empty {fmt.upper()} recording)")
    body = size - offset - (2 if fmt == "dat" else 0)  # DAT: event type and size bytes after the header
    if fmt in _WORD and body % _WORD[fmt]:
        warnings.append(f"file truncated at byte {size}: kept {len(events)} events before the damage")
    if width <= 0 or height <= 0 or width > 4096 or height > 4096:
        raise SourceError(f"{path}: implausible sensor size {width}x{height} in the header")
    bad = events["x"].view(np.uint16) >= width  # as unsigned: negatives count as outside too
    bad |= events["y"].view(np.uint16) >= height
    if bad.any():
        warnings.append(f"{int(bad.sum())} events outside the {width}x{height} sensor dropped")
        events = events[~bad]
    t = events["timestamp"]
    if len(t) > 1 and (t[1:] < t[:-1]).any():
        warnings.append("timestamps go backwards: events sorted by time")
        events = events[np.argsort(t, kind="stable")]
    camera = _header_value(lines, "camera_integrator_name") or "Prophesee"
    serial = _header_value(lines, "serial_number")
    return Recording(events, width, height, fmt, f"{camera} {serial}" if serial else camera, warnings)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None

"""Tiny AEDAT 3.1 and AEDAT 2.0 writers (pure numpy) for tests and fake datasets.

They write what the readers in ``app.sources.aedat3`` / ``aedat2`` read: an upright event
array in, a file out that a real recorder could have produced (AEDAT 3.1: DVS128 Gesture's
header, several packets, timestamp overflow, non-polarity packets in between, invalid events;
AEDAT 2.0: jAER's header and mirrored raw addresses, DVS128 or DAVIS layout, APS/IMU words
mixed in).

Example::

    ev = synthetic_events(10_000, 128, 128)
    write_aedat3(tmp_path / "a.aedat", ev)
    write_aedat2(tmp_path / "b.aedat", ev, layout="dvs128")
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from eventcore.events import make_events

AEDAT3_HEADER = (
    "#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: {camera}\r\n"
    "#Start-Time: 2017-04-12 17:26:25 (TZ+0100)\r\n#!END-HEADER\r\n"
)
PACKET_HEADER = struct.Struct("<hhiiiiii")
SPECIAL_EVENT, POLARITY_EVENT, FRAME_EVENT, IMU6_EVENT = 0, 1, 2, 3
_BE_RECORD = np.dtype([("address", ">u4"), ("timestamp", ">u4")])


def synthetic_events(
    n: int, width: int, height: int, *, t0: int = 0, span_us: int = 1_000_000, seed: int = 0
) -> np.ndarray:
    """``n`` uniformly scattered events with sorted timestamps in [t0, t0 + span_us)."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(t0, t0 + span_us, n))
    return make_events(t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n))


def aedat3_packet(
    etype: int, payload: bytes, event_size: int, *, overflow: int = 0, valid: int | None = None
) -> bytes:
    """One packet: 28-byte header (capacity = number = len(payload) / event_size) and payload."""
    n = len(payload) // event_size
    n_valid = n if valid is None else valid
    return PACKET_HEADER.pack(etype, 1, event_size, 4, overflow, n, n, n_valid) + payload


def polarity_payload(events: np.ndarray, valid: np.ndarray | None = None) -> bytes:
    """8-byte polarity events: data (valid | p << 1 | y << 2 | x << 17), low 31 timestamp bits."""
    rec = np.empty(len(events), dtype=[("data", "<u4"), ("timestamp", "<i4")])
    bit = np.ones(len(events), np.uint32) if valid is None else valid.astype(np.uint32)
    rec["data"] = (
        bit
        | (events["polarity"].astype(np.uint32) << 1)
        | (events["y"].astype(np.uint32) << 2)
        | (events["x"].astype(np.uint32) << 17)
    )
    rec["timestamp"] = events["timestamp"] & 0x7FFF_FFFF
    return rec.tobytes()


def write_aedat3(
    path: str | Path,
    events: np.ndarray,
    *,
    camera: str = "DVS128",
    packet_events: int = 4096,
    valid: np.ndarray | None = None,
    others: bool = True,
    seed: int = 0,
) -> Path:
    """Write ``events`` as AEDAT 3.1 polarity packets of at most ``packet_events`` events.

    A packet never spans a timestamp overflow (t >> 31). ``valid`` (bool per event) clears the
    valid bit of the False ones. ``others`` puts a special, an IMU6 and a frame-like packet of
    random bytes after every polarity packet, as a DAVIS recording has.
    """
    path, rng = Path(path), np.random.default_rng(seed)
    t = events["timestamp"]
    cuts = np.union1d(np.arange(0, len(events), packet_events), np.flatnonzero(np.diff(t >> 31)) + 1)
    bounds = np.append(cuts, len(events)).astype(int)
    chunks = [AEDAT3_HEADER.format(camera=camera).encode()]
    for i0, i1 in zip(bounds[:-1], bounds[1:]):
        part = events[i0:i1]
        mask = None if valid is None else valid[i0:i1]
        n_valid = None if mask is None else int(mask.sum())
        overflow = int(t[i0] >> 31)
        payload = polarity_payload(part, mask)
        chunks.append(aedat3_packet(POLARITY_EVENT, payload, 8, overflow=overflow, valid=n_valid))
        if others:
            chunks.append(aedat3_packet(SPECIAL_EVENT, rng.bytes(8 * 2), 8, overflow=overflow))
            chunks.append(aedat3_packet(IMU6_EVENT, rng.bytes(36 * 3), 36, overflow=overflow))
            frame_size = 36 + 16 * 16 * 2  # header fields and one 16x16 16-bit frame
            chunks.append(aedat3_packet(FRAME_EVENT, rng.bytes(frame_size), frame_size, overflow=overflow))
    path.write_bytes(b"".join(chunks))
    return path


def aedat2_addresses(events: np.ndarray, layout: str, width: int, height: int) -> np.ndarray:
    """jAER raw addresses of upright events (both coordinates mirrored, see app.sources.aedat2)."""
    rx = (width - 1 - events["x"].astype(np.int64)).astype(np.uint32)
    ry = (height - 1 - events["y"].astype(np.int64)).astype(np.uint32)
    p = events["polarity"].astype(np.uint32)
    if layout == "davis":
        return (ry << 22) | (rx << 12) | (p << 11)
    if layout == "dvs128":
        return (ry << 8) | (rx << 1) | (1 - p)
    raise ValueError(f"layout must be 'davis' or 'dvs128', not {layout!r}")


def aedat2_header(chip: str | None, hardware: str | None = None) -> bytes:
    """jAER's ASCII header, naming the chip class and hardware interface when given."""
    lines = [
        "#!AER-DAT2.0",
        "# This is a raw AE data file - do not edit",
        "# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event",
        "# Timestamps tick is 1 us",
    ]
    if hardware:
        lines.append(f"# HardwareInterface: {hardware}")
    if chip:
        lines.append(f"# AEChip: {chip}")
    return "".join(f"{line}\r\n" for line in lines).encode()


def write_aedat2(
    path: str | Path,
    events: np.ndarray,
    *,
    layout: str = "davis",
    width: int | None = None,
    height: int | None = None,
    chip: str | None = "eu.seebetter.ini.chips.davis.DAVIS240C",
    hardware: str | None = None,
    other_every: int = 0,
    seed: int = 0,
) -> Path:
    """Write ``events`` as AEDAT 2.0 (timestamps modulo 2**32, as the 32-bit counter wraps).

    With ``other_every`` > 0, a non-pixel word follows every ``other_every``-th event at its
    timestamp: DAVIS gets APS samples, IMU words and external-input events in turn, DVS128
    sync words. The sensor defaults to 240x180 for DAVIS, 128x128 for DVS128.
    """
    path, rng = Path(path), np.random.default_rng(seed)
    default = (240, 180) if layout == "davis" else (128, 128)
    width, height = width or default[0], height or default[1]
    address = aedat2_addresses(events, layout, width, height)
    stamp = (events["timestamp"] & 0xFFFF_FFFF).astype(np.uint32)
    if other_every:
        at = np.arange(other_every, len(events) + 1, other_every)
        if layout == "davis":
            rand = rng.integers(0, 1 << 31, len(at)).astype(np.uint32)
            kind = np.arange(len(at)) % 3
            aps, imu, external = (1 << 31) | rand, (1 << 31) | (3 << 10) | rand, (1 << 10) | rand
            extra = np.where(kind == 0, aps, np.where(kind == 1, imu, external)).astype(np.uint32)
        else:
            extra = (0x8000 | rng.integers(0, 1 << 15, len(at))).astype(np.uint32)
        address = np.insert(address, at, extra)
        stamp = np.insert(stamp, at, stamp[at - 1])
    rec = np.empty(len(address), dtype=_BE_RECORD)
    rec["address"], rec["timestamp"] = address, stamp
    path.write_bytes(aedat2_header(chip, hardware) + rec.tobytes())
    return path

"""The one event dtype used everywhere, and small vectorised helpers around it.

The layout is dv-processing's ``EventStore.numpy()`` (timestamp int64 microseconds,
x/y int16, polarity int8, 16-byte records), so events from AEDAT4 files and cameras
arrive without a copy.
"""

from __future__ import annotations

import numpy as np

EVENT_DTYPE = np.dtype(
    {
        "names": ["timestamp", "x", "y", "polarity"],
        "formats": ["<i8", "<i2", "<i2", "i1"],
        "offsets": [0, 8, 10, 12],
        "itemsize": 16,
    }
)


def empty_events(n: int = 0) -> np.ndarray:
    """An uninitialised event array of length ``n``."""
    return np.empty(n, dtype=EVENT_DTYPE)


def make_events(t, x, y, p) -> np.ndarray:
    """Pack parallel arrays (timestamp us, x, y, polarity 0/1) into one event array."""
    ev = np.empty(len(t), dtype=EVENT_DTYPE)
    # ev["x"][...] = ... writes through the field view; ev["x"] = ... is ~20x slower
    ev["timestamp"][...] = t
    ev["x"][...] = x
    ev["y"][...] = y
    ev["polarity"][...] = p
    return ev


def as_events(arr: np.ndarray) -> np.ndarray:
    """Return ``arr`` in EVENT_DTYPE, copying only when its layout differs."""
    if arr.dtype == EVENT_DTYPE:
        return arr
    return make_events(arr["timestamp"], arr["x"], arr["y"], arr["polarity"])


def on_fraction(events: np.ndarray) -> float:
    """Fraction of ON events (polarity 1); NaN for an empty array."""
    if len(events) == 0:
        return float("nan")
    return float(np.count_nonzero(events["polarity"]) / len(events))

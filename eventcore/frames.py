"""Events -> frames [T, 2, H, W]: the one binning function for training and live inference.

Frame ``j`` counts the events of segment ``[b_j, b_{j+1})`` of the (time-ordered) events,
channel 0 = OFF (polarity 0), 1 = ON, exactly as spikingjelly's
``integrate_events_by_fixed_frames_number``:

    split_by="number":  b_j = j * (N // T),                      b_T = N
    split_by="time":    b_j = #{i : t_i < t_0 + j * dt},         b_T = N,  dt = (t_{N-1} - t_0) // T

so with "number" the last frame also takes the remainder ``N % T`` (all N events when
N < T), and with "time" it also takes the events at or after ``t_0 + T * dt``.
Where spikingjelly raises (an empty time bin, N = 0 in "time" mode) the formula above still
holds: such frames are zero, and N = 0 gives all-zero frames in both modes.

Example::

    frames = events_to_frames(window, T=20, height=128, width=128)   # float32 [20, 2, 128, 128]
    assert frames.sum() == len(window)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eventcore.events import EVENT_DTYPE

SPLIT_MODES = ("number", "time")
# x then y, adjacent little-endian int16 in EVENT_DTYPE, read as one uint32 x + 65536 * y
_XY = np.dtype({"names": ["xy"], "formats": ["<u4"], "offsets": [EVENT_DTYPE.fields["x"][1]], "itemsize": EVENT_DTYPE.itemsize})


def segment_bounds(timestamps: np.ndarray, T: int, split_by: str = "number") -> np.ndarray:
    """The T + 1 indices ``b`` such that frame j holds events ``b[j]:b[j+1]`` (see module doc).

    "time" needs non-decreasing timestamps (as every source and window provides).
    """
    if T < 1:
        raise ValueError(f"T must be a positive number of frames, not {T}")
    if split_by not in SPLIT_MODES:
        raise ValueError(f"split_by must be one of {SPLIT_MODES}, not {split_by!r}")
    n = len(timestamps)
    bounds = np.empty(T + 1, dtype=np.intp)
    bounds[T] = n
    if split_by == "number" or n == 0:
        bounds[:T] = np.arange(T) * (n // T)
    else:
        t0 = int(timestamps[0])
        dt = (int(timestamps[-1]) - t0) // T
        bounds[0] = 0
        bounds[1:T] = np.searchsorted(timestamps, t0 + dt * np.arange(1, T), side="left")
    return bounds


def events_to_frames(
    events: np.ndarray,
    T: int,
    height: int,
    width: int,
    split_by: str = "number",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Count ``events`` (EVENT_DTYPE in time order, x in [0, width), y in [0, height)) into T frames.

    Returns float32 ``[T, 2, height, width]``; ``out`` (any float array view of that shape,
    e.g. ``batch[:, b]`` of a ``[T, B, 2, H, W]`` model input) is filled and returned
    instead. Events must lie inside the frame (``Geometry.apply`` guarantees it); an index
    past either end of the frame raises ValueError, though that is no full bounds check.
    """
    shape = (T, 2, height, width)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype.kind != "f":
        raise ValueError(f"out must be a float array of shape {shape}, not {out.dtype} {out.shape}")
    bounds = segment_bounds(events["timestamp"], T, split_by)
    xy = events.view(_XY)["xy"] if events.dtype == EVENT_DTYPE else None
    x, y, p = events["x"], events["y"], events["polarity"]
    plane = 2 * height * width
    for j in range(T):
        s = slice(bounds[j], bounds[j + 1])
        # pixel index (p * H + y) * W + x in int32 (2*H*W < 2**31), built in place
        if xy is not None:
            v = xy[s].astype(np.int32)  # x + 65536 * y
            idx = v >> 16
            idx *= width
            v &= 0xFFFF
            idx += v
            idx += np.multiply(p[s], height * width, dtype=np.int32)
        else:
            idx = np.multiply(p[s], height, dtype=np.int32)
            idx += y[s]
            idx *= width
            idx += x[s]
        try:
            counts = np.bincount(idx, minlength=plane)
        except ValueError as exc:
            raise ValueError(f"events outside the {width}x{height} frame or polarity < 0: {exc}") from None
        if len(counts) != plane:
            raise ValueError(f"events outside the {width}x{height} frame or polarity > 1")
        out[j] = counts.reshape(2, height, width)
    return out


def batch_frames(
    windows: Sequence[np.ndarray],
    T: int,
    height: int,
    width: int,
    split_by: str = "number",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Frames of several windows in spikingjelly's multi-step layout ``[T, B, 2, H, W]`` float32."""
    shape = (T, len(windows), 2, height, width)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape:
        raise ValueError(f"out must have shape {shape}, not {out.shape}")
    for b, window in enumerate(windows):
        events_to_frames(window, T, height, width, split_by, out=out[:, b])
    return out

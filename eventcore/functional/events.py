"""What a camera's placement, a subject's tempo and a sensor's faults do to an event stream.

All functions are vectorised, leave their input untouched and return events in time order
in the input's dtype (any structured dtype with ``timestamp``, ``x``, ``y``, ``polarity``).
Coordinates are sensor pixels, ``(width - 1) / 2`` the centre; ``roll_deg`` turns the image
counter-clockwise as seen on the screen (x right, y down).
"""

from __future__ import annotations

import numpy as np


def affine(events: np.ndarray, width: int, height: int, *, dx: float = 0.0, dy: float = 0.0, scale: float = 1.0,
           roll_deg: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """The scene zoomed by ``scale`` and rolled about the centre, then moved by (dx, dy) px; events
    that leave the sensor are dropped (a body cut by the frame's edge).

    With an ``rng`` each event lands at a random point of its source pixel's footprint, so a
    zoom-in covers the enlarged area instead of leaving a grid of holes.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    x = events["x"].astype(np.float32) - np.float32(cx)
    y = events["y"].astype(np.float32) - np.float32(cy)
    if rng is not None and scale > 1.0:
        x += rng.uniform(-0.5, 0.5, len(x)).astype(np.float32)
        y += rng.uniform(-0.5, 0.5, len(y)).astype(np.float32)
    a = np.deg2rad(roll_deg)
    c, s = np.float32(scale * np.cos(a)), np.float32(scale * np.sin(a))
    xn = np.rint(c * x + s * y + np.float32(cx + dx))
    yn = np.rint(-s * x + c * y + np.float32(cy + dy))
    keep = (xn >= 0) & (xn < width) & (yn >= 0) & (yn < height)
    out = events[keep]
    out["x"] = xn[keep]
    out["y"] = yn[keep]
    return out


def stretch_time(events: np.ndarray, factor: float) -> np.ndarray:
    """The same motion ``factor`` times slower (``factor < 1``: faster), from the first event on."""
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    out = events.copy()
    if len(out):
        t = out["timestamp"]
        t0 = t[0]
        out["timestamp"] = t0 + np.rint((t - t0) * float(factor)).astype(t.dtype)
    return out


def thin(events: np.ndarray, keep: float, rng: np.random.Generator) -> np.ndarray:
    """Each event kept with probability ``keep`` (a less sensitive sensor or other biases)."""
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    return events if keep == 1.0 else events[rng.random(len(events)) < keep]


def background_noise(width: int, height: int, hz: float, t0: int, t1: int, rng: np.random.Generator,
                     dtype: np.dtype) -> np.ndarray:
    """Background activity: ``hz`` events a pixel a second, uniform over pixels, times and polarity."""
    n = int(rng.poisson(max(hz, 0.0) * width * height * max(t1 - t0, 0) * 1e-6))
    out = np.zeros(n, dtype=dtype)
    out["timestamp"] = np.sort(rng.integers(t0, max(t1, t0 + 1), n))
    out["x"] = rng.integers(0, width, n)
    out["y"] = rng.integers(0, height, n)
    out["polarity"] = rng.integers(0, 2, n)
    return out


def hot_pixels(width: int, height: int, n_pixels: int, hz: float, t0: int, t1: int, rng: np.random.Generator,
               dtype: np.dtype) -> np.ndarray:
    """``n_pixels`` broken pixels firing about ``hz`` times a second each (Poisson), one polarity each."""
    px = rng.integers(0, width * height, n_pixels)
    pol = rng.integers(0, 2, n_pixels)
    counts = rng.poisson(hz * max(t1 - t0, 0) * 1e-6, n_pixels)
    who = np.repeat(np.arange(n_pixels), counts)
    out = np.zeros(len(who), dtype=dtype)
    out["timestamp"] = rng.integers(t0, max(t1, t0 + 1), len(who))
    out["x"] = px[who] % width
    out["y"] = px[who] // width
    out["polarity"] = pol[who]
    return out[np.argsort(out["timestamp"], kind="stable")]


def merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two time-ordered event arrays merged into one (a before b at equal times), in O(len(a) + len(b))."""
    if not len(b):
        return a
    if not len(a):
        return b
    pos_b = np.searchsorted(a["timestamp"], b["timestamp"], side="right") + np.arange(len(b))
    out = np.empty(len(a) + len(b), dtype=a.dtype)
    is_b = np.zeros(len(out), dtype=bool)
    is_b[pos_b] = True
    out[is_b] = b
    out[~is_b] = a
    return out

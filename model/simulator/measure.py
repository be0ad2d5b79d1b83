"""Measurements of simulated (or real) gesture recordings that tests and benchmarks share."""

from __future__ import annotations

import numpy as np


def rotation_degrees(events: np.ndarray, side: str, bin_us: int = 20_000, span_us: int = 1_450_000,
                     min_events: int = 20) -> float:
    """Total turn (degrees) of the moving arm's event centroid about its mean over ``span_us``.

    The arm is the events on the image's ``side`` ("left": x < 64, "right": x >= 64); the
    centroid is taken per ``bin_us`` bin, its angle about the mean centroid unwrapped and
    summed. Image coordinates (x right, y down): **negative = counter-clockwise on the
    displayed image**, positive = clockwise (the measure used on real DVS128 Gesture
    recordings: class 3 about -525 deg, class 4 +567, class 5 -559, class 6 +526).
    """
    t = events["timestamp"].astype(np.int64)
    m = (events["x"] < 64) if side == "left" else (events["x"] >= 64)
    m &= (t - t[0]) < span_us
    k = (t[m] - t[0]) // bin_us
    n = np.bincount(k)
    cx = np.bincount(k, events["x"][m].astype(float)) / np.maximum(n, 1)
    cy = np.bincount(k, events["y"][m].astype(float)) / np.maximum(n, 1)
    ok = n >= min_events
    cx, cy = cx[ok], cy[ok]
    ang = np.unwrap(np.arctan2(cy - cy.mean(), cx - cx.mean()))
    return float(np.degrees(ang[-1] - ang[0])) if len(ang) > 1 else 0.0


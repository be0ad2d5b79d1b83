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


def arm_extent(slices: list[tuple[np.ndarray, np.ndarray, np.ndarray]], side: str) -> tuple[float, float]:
    """How far a circling arm reaches: (px from the arm's image edge, px from the top) that 5 % of the
    events on the arm's half of the image go beyond, over all ``slices`` (x, y, on).

    Each pixel counts once a slice, as in a picture of the slices. Real DVS128 Gesture arm
    circles (``real_vs_sim_2026-11-30.png``): 10-11 px from the edge for the right arm (4 and 9
    for the left), 32-35 px from the top.
    """
    xs, ys = [], []
    for x, y, _ in slices:
        pix = np.unique(y.astype(np.int64) * 128 + x)
        px, py = pix % 128, pix // 128
        m = px < 64 if side == "left" else px >= 64
        xs.append(px[m] if side == "left" else 127 - px[m])
        ys.append(py[m])
    return float(np.percentile(np.concatenate(xs), 5)), float(np.percentile(np.concatenate(ys), 5))


def _dense(x: np.ndarray, y: np.ndarray, box: int, frac: float) -> np.ndarray:
    """Mask of events whose ``box`` x ``box`` neighbourhood is more than ``frac`` occupied (the swept blob)."""
    occ = np.zeros((128 + box, 128 + box))
    occ[y + box // 2, x + box // 2] = 1
    c = np.cumsum(np.cumsum(occ, 0), 1)
    win = c[box:, box:] - c[:-box, box:] - c[box:, :-box] + c[:-box, :-box]
    return win[y, x] / (box * box) > frac


def leading_polarity(slices: list[tuple[np.ndarray, np.ndarray, np.ndarray]], side: str, ccw: bool,
                     box: int = 7, frac: float = 0.4, min_events: int = 30) -> np.ndarray:
    """How far OFF events lead ON events along a circling arm's motion, one figure (px) per slice.

    ``slices``: (x, y, on) arrays of short time slices (about 60 ms) of an arm-circle
    recording; the arm is the dense swept blob (events whose ``box``-pixel neighbourhood is
    over ``frac`` occupied, which drops the body's outline and noise) on the image's ``side``;
    ``ccw``: the arm turns counter-clockwise on the displayed image (x right, y down). The
    rotation centre is the mean of the slices' arm centroids; a slice's motion direction is
    the tangent there. Positive = the OFF edge leads, as when an arm darker than what it
    moves over (or a round limb shaded darker towards its silhouette) arrives. Real DVS128
    Gesture arm circles lead with OFF in 21 of 24 slices (mean +4.4 px; the 60 ms slices of
    ``real_vs_sim_2026-11-30.png``, ``sheet_slices``).
    """
    arm = []
    for x, y, on in slices:
        m = ((x < 64) if side == "left" else (x >= 64)) & _dense(x, y, box, frac)
        if m.sum() >= min_events and on[m].any() and (~on[m]).any():
            arm.append((x[m], y[m], on[m]))
    if not arm:
        return np.zeros(0)
    cent = np.array([[x.mean(), y.mean()] for x, y, _ in arm])
    r = cent - cent.mean(0)
    tangent = np.stack([r[:, 1], -r[:, 0]], -1) * (1.0 if ccw else -1.0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    lead = [np.array([x[~on].mean() - x[on].mean(), y[~on].mean() - y[on].mean()]) for x, y, on in arm]
    return np.einsum("ij,ij->i", np.array(lead), tangent)


def event_slices(events: np.ndarray, slice_us: int = 60_000, every_us: int = 240_000, n: int = 6):
    """``n`` slices (x, y, on) of ``slice_us`` starting every ``every_us`` (the real sheet's slicing)."""
    t = events["timestamp"].astype(np.int64) - int(events["timestamp"][0])
    out = []
    for k in range(n):
        m = (t >= k * every_us) & (t < k * every_us + slice_us)
        out.append((events["x"][m].astype(int), events["y"][m].astype(int), events["polarity"][m] == 1))
    return out


_SHEET_ROW0, _SHEET_PITCH, _SHEET_PANEL = 20, 131, 128  # layout of real_vs_sim_2026-11-30.png (measured)


def sheet_slices(path, cls: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The six real 60 ms slices (x, y, on) of class ``cls`` from the shared sheet
    ``real_vs_sim_2026-11-30.png`` (left half, one 128x128 panel per slice; ON red, OFF blue)."""
    from PIL import Image

    im = np.asarray(Image.open(path).convert("RGB")).astype(np.int16)
    y0 = _SHEET_ROW0 + _SHEET_PITCH * cls
    out = []
    for k in range(6):
        p = im[y0:y0 + _SHEET_PANEL, k * _SHEET_PANEL:(k + 1) * _SHEET_PANEL].copy()
        p[:12] = 0  # the row's label is written over the top of its first panels
        on, off = p[..., 0] > p[..., 2], p[..., 2] > p[..., 0]
        y, x = np.nonzero(on | off)
        out.append((x, y, on[y, x]))
    return out

"""Pure numpy pictures for the views: the ON/OFF event image, class colours, latency figures.

Kept apart from Qt so the drawing maths is testable and cheap: one ``np.bincount`` over the
recent events per redraw, ``pixel = y * W + x + polarity * W * H``.

Example::

    rgb = event_image(pipe.recent_events(), 128, 128, mode="decay", tau_us=30_000)
"""

from __future__ import annotations

import numpy as np

BACKGROUND = np.array((18, 18, 24), dtype=np.float32)
ON_COLOUR = np.array((60, 170, 255), dtype=np.float32)
OFF_COLOUR = np.array((255, 70, 50), dtype=np.float32)
NO_GESTURE_COLOUR = (90, 90, 90)
UNLABELLED_COLOUR = (35, 35, 40)
MODES = ("window", "decay")
LEVELS = 64


OVERLAY_CMAP = "inferno"  # the attention overlay's colour map (pyqtgraph / matplotlib name)


def overlay_lut() -> np.ndarray:
    """The overlay's RGBA lookup table [256, 4] uint8: inferno, fading in from transparent at 0."""
    import pyqtgraph as pg

    lut = pg.colormap.get(OVERLAY_CMAP).getLookupTable(0.0, 1.0, 256, alpha=True)
    lut[:, 3] = np.linspace(0, 200, 256).astype(np.uint8)
    return lut


def blend_overlay(rgb: np.ndarray, heat: np.ndarray, lut: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """``rgb`` [H, W, 3] with ``heat`` (0..1, any square size) blended over the square ``box`` (x0, y0, side)."""
    x0, y0, side = box
    n = heat.shape[0]
    idx = (np.arange(side) * n) // side  # nearest-neighbour resize to the square
    rgba = lut[np.clip(heat[np.ix_(idx, idx)] * 255, 0, 255).astype(np.intp)]
    out = rgb.copy()
    region = out[y0:y0 + side, x0:x0 + side].astype(np.float32)
    a = rgba[..., 3:4].astype(np.float32) / 255
    out[y0:y0 + side, x0:x0 + side] = (region * (1 - a) + rgba[..., :3] * a).astype(np.uint8)
    return out


def class_colours(n: int) -> np.ndarray:
    """``n`` distinct RGB colours (uint8 [n, 3]) for class bars and the decision timeline."""
    hues = (np.arange(n) * 0.61803398875) % 1.0
    h6 = hues * 6.0
    k = (np.array([5.0, 3.0, 1.0])[None, :] + h6[:, None]) % 6.0
    rgb = 1.0 - 0.75 * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return np.round(rgb * 235).astype(np.uint8)


def event_counts(events: np.ndarray, width: int, height: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-pixel (weighted) event counts ``[2, height, width]``: channel 0 OFF, 1 ON.

    Events outside the sensor (a corrupt stream) are dropped rather than wrapped around.
    """
    x, y = events["x"], events["y"]
    # one unsigned comparison per axis checks 0 <= v < size
    inside = x.view(np.uint16) < width
    inside &= y.view(np.uint16) < height
    if not inside.all():
        x, y, events = x[inside], y[inside], events[inside]
        weights = None if weights is None else weights[inside]
    idx = y.astype(np.int32) * np.int32(width)
    idx += x
    idx += (events["polarity"] != 0) * np.int32(width * height)
    counts = np.bincount(idx, weights=weights, minlength=2 * width * height)
    return counts.reshape(2, height, width)


def event_image(
    events: np.ndarray,
    width: int,
    height: int,
    mode: str = "window",
    tau_us: float = 30_000.0,
) -> np.ndarray:
    """RGB uint8 ``[height, width, 3]``: ON events blue, OFF red, both where both fired.

    ``mode="window"`` counts every event given; ``"decay"`` weights each by
    ``exp(-(t_last - t) / tau_us)`` so older events fade. Intensity saturates at three times
    the mean count of the active pixels, so the picture adapts to the event rate.
    """
    if mode not in MODES:
        raise ValueError(f"view mode must be one of {MODES}, not {mode!r}")
    if len(events) == 0:
        return np.broadcast_to(BACKGROUND.astype(np.uint8), (height, width, 3)).copy()
    weights = None
    if mode == "decay":
        t = events["timestamp"]
        weights = np.exp((t - t[-1]).astype(np.float32) / np.float32(tau_us))
    counts = event_counts(events, width, height, weights)
    active = np.count_nonzero(counts)
    sat = max(3.0 * float(counts.sum()) / max(active, 1), 1e-6)
    level = np.minimum(counts * ((LEVELS - 1) / sat), LEVELS - 1).astype(np.intp)
    return _COLOUR_TABLE[level[1] * LEVELS + level[0]]


def _colour_table() -> np.ndarray:
    """RGB of every (ON level, OFF level) pair, so an image is one table lookup per pixel."""
    lv = np.arange(LEVELS, dtype=np.float32) / (LEVELS - 1)
    on, off = np.meshgrid(lv, lv, indexing="ij")
    rgb = BACKGROUND + on[..., None] * (ON_COLOUR - BACKGROUND) + off[..., None] * (OFF_COLOUR - BACKGROUND)
    return np.clip(rgb, 0, 255).astype(np.uint8).reshape(LEVELS * LEVELS, 3)


_COLOUR_TABLE = _colour_table()


NICE_STEPS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0)


def nice_level(x: float) -> float:
    """The smallest of (1, 1.5, 2, 3, 5, 7) x 10^k at or above ``x`` (> 0): a colour scale that changes seldom."""
    k = np.floor(np.log10(x))
    for m in NICE_STEPS:
        if m * 10.0 ** k >= x * (1 - 1e-9):
            return float(m * 10.0 ** k)
    return float(10.0 ** (k + 1))


class GateDeviation:
    """Each TCJA gate's deviation from its running mean, and a symmetric colour scale for it.

    The gates of a trained network stay near a fixed pattern whatever the input (a per-channel
    bias), so drawn on 0..1 they look alike; what the input changes is the deviation. The mean is
    an exponential average over about ``1 / alpha`` windows (2 s at a 100 ms hop); the scale
    ``level`` rises at once to the 99th percentile of ``|deviation|`` and decays by 5 % a window
    (never below ``floor``), so a change of input shows at full contrast and fades as it persists.
    """

    def __init__(self, alpha: float = 0.05, floor: float = 0.005) -> None:
        self.alpha, self.floor = alpha, floor
        self.mean: np.ndarray | None = None
        self.level = floor

    def reset(self) -> None:
        """Forget the history (a new model or source)."""
        self.mean, self.level = None, self.floor

    def update(self, gate: np.ndarray) -> tuple[np.ndarray, float]:
        """``gate`` [T, C] minus the running mean of the earlier gates, and the colour scale ``+-level``."""
        gate = np.asarray(gate, dtype=np.float32)
        if self.mean is None or self.mean.shape != gate.shape:
            self.mean, self.level = gate.copy(), self.floor
        dev = gate - self.mean
        self.mean += self.alpha * dev
        self.level = max(self.floor, float(np.percentile(np.abs(dev), 99)), 0.95 * self.level)
        return dev, self.level

"""Event-level augmentations a real camera needs: small shifts and scales of the scene.

A subject never stands exactly where the training recordings put them, nor at the same
distance, so each training sample is moved by a random offset and zoomed about the sensor
centre, in sensor pixels:

    x' = round(cx + s * (x - cx) + dx),   y' = round(cy + s * (y - cy) + dy)

Events that leave the sensor are dropped. There is deliberately no horizontal flip: it
would swap the subject's left and right arm and so the "left"/"right" gesture classes.

Example::

    aug = CameraAugment(max_shift=0.08, scale=(0.9, 1.1))
    moved = aug(events, width=128, height=128, rng=np.random.default_rng(0))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraAugment:
    """Random shift (a fraction of the sensor size, each axis) and isotropic scale per sample."""

    max_shift: float = 0.08
    scale: tuple[float, float] = (0.9, 1.1)

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_shift < 0.5:
            raise ValueError(f"max_shift must be in [0, 0.5), got {self.max_shift}")
        lo, hi = self.scale
        if not 0.0 < lo <= hi:
            raise ValueError(f"scale range must satisfy 0 < low <= high, got {self.scale}")

    def to_meta(self) -> dict:
        return {"max_shift": self.max_shift, "scale": list(self.scale), "flip": False}

    def __call__(self, events: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
        """A moved and zoomed copy of ``events`` (any dtype with x, y fields), clipped to the sensor."""
        s = rng.uniform(*self.scale)
        dx, dy = rng.uniform(-self.max_shift, self.max_shift, size=2) * (width, height)
        cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
        x = np.rint(cx + s * (events["x"] - cx) + dx)
        y = np.rint(cy + s * (events["y"] - cy) + dy)
        keep = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        out = events[keep]
        out["x"] = x[keep]
        out["y"] = y[keep]
        return out

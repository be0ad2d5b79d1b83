"""Event-level augmentations a real camera needs: small shifts and scales of the scene.

A subject never stands exactly where the training recordings put them, nor at the same
distance, so each training sample is moved by a random offset and zoomed about the sensor
centre, in sensor pixels:

    x' = round(cx + s * (x - cx) + dx),   y' = round(cy + s * (y - cy) + dy)

Events that leave the sensor are dropped. There is deliberately no horizontal flip: it
would swap the subject's left and right arm and so the "left"/"right" gesture classes.

Optionally (off by default) the event rate and the noise level vary too, as they do between
sensors, biases and rooms: ``rate=(lo, hi)`` keeps each event with probability ``r`` (for
``r < 1``) or adds a copy of a share ``r - 1`` of the events 0-1 ms later (``r > 1``), ``r``
drawn per sample; ``noise_hz=(lo, hi)`` adds background activity at a per-pixel rate drawn
per sample (uniform pixels, times and polarities over the sample's span).

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
    rate: tuple[float, float] = (1.0, 1.0)
    noise_hz: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_shift < 0.5:
            raise ValueError(f"max_shift must be in [0, 0.5), got {self.max_shift}")
        lo, hi = self.scale
        if not 0.0 < lo <= hi:
            raise ValueError(f"scale range must satisfy 0 < low <= high, got {self.scale}")

        if not 0.0 < self.rate[0] <= self.rate[1] <= 2.0:
            raise ValueError(f"rate range must satisfy 0 < low <= high <= 2, got {self.rate}")
        if not 0.0 <= self.noise_hz[0] <= self.noise_hz[1]:
            raise ValueError(f"noise_hz range must satisfy 0 <= low <= high, got {self.noise_hz}")

    def to_meta(self) -> dict:
        return {"max_shift": self.max_shift, "scale": list(self.scale), "flip": False,
                "rate": list(self.rate), "noise_hz": list(self.noise_hz)}

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
        if self.rate != (1.0, 1.0) or self.noise_hz[1] > 0:
            out = self._rate_and_noise(out, width, height, rng)
        return out

    def _rate_and_noise(self, ev: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
        r = rng.uniform(*self.rate)
        if r < 1.0:
            ev = ev[rng.random(len(ev)) < r]
        elif r > 1.0:
            extra = ev[rng.random(len(ev)) < r - 1.0].copy()
            extra["timestamp"] = extra["timestamp"] + rng.integers(0, 1000, len(extra)).astype(extra["timestamp"].dtype)
            ev = np.concatenate([ev, extra])
        hz = rng.uniform(*self.noise_hz)
        if hz > 0 and len(ev):
            t0, t1 = int(ev["timestamp"].min()), int(ev["timestamp"].max())
            n = rng.poisson(hz * width * height * (t1 - t0) * 1e-6)
            noise = np.zeros(n, dtype=ev.dtype)
            noise["timestamp"] = rng.integers(t0, t1 + 1, n)
            noise["x"] = rng.integers(0, width, n)
            noise["y"] = rng.integers(0, height, n)
            noise["polarity"] = rng.integers(0, 2, n)
            ev = np.concatenate([ev, noise])
        return ev[np.argsort(ev["timestamp"], kind="stable")]

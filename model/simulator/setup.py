"""One live user's set-up: where the camera sees the subject, how fast they move, the sensor's faults.

``Setup`` places the rendered scene (every body part and object, before the pixel model sees
it): moved by (``dx``, ``dy``) fractions of the view, ``scale`` times the DVS128 Gesture framing
about the view's centre (a step nearer or further, another lens) and rolled by ``roll_deg``
(counter-clockwise on the screen); the subject moves ``tempo`` times the dataset subjects'
speed. ``SensorFaults`` acts on the events: extra background activity, hot pixels and a
share of events lost. ``RANGES`` are the ranges a live demo brings (issue 23), which
``Setup.random`` draws from for ``generate --vary``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eventcore.functional import affine, background_noise, hot_pixels, merge_sorted, stretch_time, thin

# What a user's set-up changes: centre within +-15 % of the width and +-10 % of the height,
# size 0.6-1.2x, roll +-10 deg, tempo 0.75-1.3x; noise up to 2 Hz, a dozen hot pixels at
# hundreds of Hz, half of the events missing.
RANGES = {"dx": (-0.15, 0.15), "dy": (-0.10, 0.10), "scale": (0.6, 1.2), "roll_deg": (-10.0, 10.0),
          "tempo": (0.75, 1.3), "noise_hz": (0.0, 2.0), "keep": (0.5, 1.0)}


def _wh(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))


@dataclass(frozen=True)
class Setup:
    """Camera placement and tempo; the default is the simulator's own (DVS128 Gesture) framing."""

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0
    roll_deg: float = 0.0
    tempo: float = 1.0

    def __post_init__(self) -> None:
        if self.scale <= 0 or self.tempo <= 0:
            raise ValueError(f"scale and tempo must be positive, got {self.scale}, {self.tempo}")

    @property
    def identity(self) -> bool:
        return self == Setup()

    def place(self, xy: np.ndarray, size: int) -> np.ndarray:
        """Points ``[..., 2]`` (x, y pixels of a ``size`` view) as this camera sees them."""
        c = (size - 1) / 2.0
        a = np.deg2rad(self.roll_deg)
        co, si = self.scale * np.cos(a), self.scale * np.sin(a)
        x, y = xy[..., 0] - c, xy[..., 1] - c
        return np.stack([co * x + si * y + c + self.dx * size, -si * x + co * y + c + self.dy * size], axis=-1)

    def apply_events(self, events: np.ndarray, size: int | tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """A recording's events as this set-up would have made them (a real recording changed after the
        fact: the placement of :meth:`place` in a ``size`` or (width, height) sensor, the time stretched
        by ``1 / tempo``)."""
        w, h = _wh(size)
        out = events
        if (self.dx, self.dy, self.scale, self.roll_deg) != (0.0, 0.0, 1.0, 0.0):
            out = affine(out, w, h, dx=self.dx * w, dy=self.dy * h, scale=self.scale, roll_deg=self.roll_deg, rng=rng)
        return out if self.tempo == 1.0 else stretch_time(out, 1.0 / self.tempo)

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Setup":
        return cls(**{k: float(rng.uniform(*RANGES[k])) for k in ("dx", "dy", "scale", "roll_deg", "tempo")})


@dataclass(frozen=True)
class SensorFaults:
    """Extra background activity (Hz a pixel), ``hot`` pixels at ``hot_hz`` each, share of events kept."""

    noise_hz: float = 0.0
    hot: int = 0
    hot_hz: float = 300.0
    keep: float = 1.0

    def apply(self, events: np.ndarray, size: int | tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """These faults added to the events of a ``size`` or (width, height) sensor."""
        if not len(events):
            return events
        w, h = _wh(size)
        t0, t1 = int(events["timestamp"][0]), int(events["timestamp"][-1])
        out = thin(events, self.keep, rng)
        if self.noise_hz > 0:
            out = merge_sorted(out, background_noise(w, h, self.noise_hz, t0, t1, rng, events.dtype))
        if self.hot > 0:
            out = merge_sorted(out, hot_pixels(w, h, self.hot, self.hot_hz, t0, t1, rng, events.dtype))
        return out

    @classmethod
    def random(cls, rng: np.random.Generator) -> "SensorFaults":
        hot = int(rng.integers(1, 13)) if rng.random() < 0.3 else 0
        return cls(noise_hz=float(rng.uniform(*RANGES["noise_hz"])), hot=hot, hot_hz=float(rng.uniform(100, 600)),
                   keep=float(rng.uniform(*RANGES["keep"])))

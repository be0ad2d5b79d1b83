"""Training augmentation as one declared chain: what another room, camera, person and sensor change.

Each step is a small frozen transform that draws its parameters from declared ranges and
calls a pure function of :mod:`eventcore.functional`:

- ``RandomTempo``: the subject moves ``tempo`` times as fast (time stretched by ``1 / tempo``);
- ``RandomFraming``: the subject elsewhere in the view (shift, as fractions of the sensor's
  width and height), nearer or further (isotropic scale about the centre) and the camera
  rolled; events leaving the sensor are dropped, as a body cut by the frame's edge;
- ``RandomThin``: a share of the events missing (lower contrast sensitivity, other biases);
- ``RandomNoise``: background activity at a per-pixel rate;
- ``RandomHotPixels``: a few broken pixels firing at hundreds of Hz.

There is deliberately no horizontal flip: it would swap the subject's left and right arm and
so the "left"/"right" gesture classes.

Example::

    aug = USER_SETUPS                      # or Augment((RandomFraming(shift_x=0.08, ...),))
    moved = aug(events, width=128, height=128, rng=np.random.default_rng(0))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from eventcore.functional import affine, background_noise, hot_pixels, merge_sorted, stretch_time, thin


def _check_range(name: str, r: tuple[float, float], lo: float, hi: float | None = None) -> None:
    if not (lo <= r[0] <= r[1] and (hi is None or r[1] <= hi)):
        raise ValueError(f"{name} range must satisfy {lo} <= low <= high{'' if hi is None else f' <= {hi}'}, got {r}")


@dataclass(frozen=True)
class RandomTempo:
    """Motion ``tempo`` times the recorded speed, ``tempo`` uniform in the range."""

    tempo: tuple[float, float] = (0.75, 1.3)

    def __post_init__(self) -> None:
        _check_range("tempo", self.tempo, 0.1, 10.0)

    @property
    def span_factor(self) -> float:
        """Source time needed per second of output (the fastest tempo compresses most)."""
        return self.tempo[1]

    def __call__(self, events: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
        return stretch_time(events, 1.0 / rng.uniform(*self.tempo))


@dataclass(frozen=True)
class RandomFraming:
    """Shift up to +-``shift_x`` of the width and +-``shift_y`` of the height, scale, roll up to +-``roll_deg``."""

    shift_x: float = 0.08
    shift_y: float = 0.08
    scale: tuple[float, float] = (0.9, 1.1)
    roll_deg: float = 0.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.shift_x < 0.5 and 0.0 <= self.shift_y < 0.5):
            raise ValueError(f"shifts must be in [0, 0.5), got {self.shift_x}, {self.shift_y}")
        _check_range("scale", self.scale, 1e-3)
        if not 0.0 <= self.roll_deg <= 45.0:
            raise ValueError(f"roll_deg must be in [0, 45], got {self.roll_deg}")

    def __call__(self, events: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
        dx = rng.uniform(-self.shift_x, self.shift_x) * width
        dy = rng.uniform(-self.shift_y, self.shift_y) * height
        return affine(events, width, height, dx=dx, dy=dy, scale=rng.uniform(*self.scale),
                      roll_deg=rng.uniform(-self.roll_deg, self.roll_deg), rng=rng)


@dataclass(frozen=True)
class RandomThin:
    """Keep each event with probability ``keep``, uniform in the range."""

    keep: tuple[float, float] = (0.5, 1.0)

    def __post_init__(self) -> None:
        _check_range("keep", self.keep, 1e-3, 1.0)

    def __call__(self, events: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
        return thin(events, rng.uniform(*self.keep), rng)


def _span(events: np.ndarray) -> tuple[int, int]:
    t = events["timestamp"]
    return (int(t[0]), int(t[-1])) if len(t) else (0, 0)


@dataclass(frozen=True)
class RandomNoise:
    """Background activity of ``hz`` events a pixel a second, uniform in the range."""

    hz: tuple[float, float] = (0.0, 2.0)

    def __post_init__(self) -> None:
        _check_range("hz", self.hz, 0.0)

    def __call__(self, events: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
        t0, t1 = _span(events)
        return merge_sorted(events, background_noise(width, height, rng.uniform(*self.hz), t0, t1, rng, events.dtype))


@dataclass(frozen=True)
class RandomHotPixels:
    """With probability ``p``: ``count`` hot pixels (uniform in the range) at ``hz`` each."""

    p: float = 0.3
    count: tuple[int, int] = (1, 16)
    hz: tuple[float, float] = (100.0, 800.0)

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {self.p}")
        _check_range("count", self.count, 0)
        _check_range("hz", self.hz, 0.0)

    def __call__(self, events: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.p:
            return events
        t0, t1 = _span(events)
        n = int(rng.integers(self.count[0], self.count[1] + 1))
        return merge_sorted(events, hot_pixels(width, height, n, rng.uniform(*self.hz), t0, t1, rng, events.dtype))


Step = RandomTempo | RandomFraming | RandomThin | RandomNoise | RandomHotPixels


@dataclass(frozen=True)
class Augment:
    """The declared chain, applied in order to one training sample in sensor coordinates."""

    steps: tuple[Step, ...]

    @property
    def span_factor(self) -> float:
        """How much source time one second of augmented output needs (cut that much before the chain)."""
        return float(np.prod([getattr(s, "span_factor", 1.0) for s in self.steps]))

    def __call__(self, events: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
        for step in self.steps:
            events = step(events, width, height, rng)
        return events

    def to_meta(self) -> dict:
        return {"flip": False, "steps": [{"step": type(s).__name__, **asdict(s)} for s in self.steps]}


# Real recordings (DVS128 Gesture, a user's takes): small placement changes only.
CAMERA = Augment((RandomFraming(shift_x=0.08, shift_y=0.08, scale=(0.9, 1.1)),))

# Simulated subjects stand where the simulator puts them: train on every set-up a live user
# brings (issue "Recognise a user wherever they stand": centre within +-15 % of the width and
# +-10 % of the height, size 0.6-1.2x, roll +-10 deg, tempo 0.75-1.3x, noise up to 2 Hz, a
# dozen hot pixels, half of the events missing), each range a little wider than the target.
USER_SETUPS = Augment((
    RandomTempo((0.7, 1.35)),
    RandomFraming(shift_x=0.18, shift_y=0.12, scale=(0.55, 1.25), roll_deg=12.0),
    RandomThin((0.45, 1.0)),
    RandomNoise((0.0, 2.2)),
    RandomHotPixels(p=0.3, count=(1, 16), hz=(100.0, 800.0)),
))

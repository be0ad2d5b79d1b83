"""The cut -> geometry -> frames chain, assembled in one place for training, live use and classify.

Small frozen transforms (tonic-style) wrap the pure functions of :mod:`eventcore.window`'s
neighbours; :func:`input_chain` builds the chain for a sensor and a model, so the datasets,
the live pipeline and ``classify --whole`` turn events into model input the same way.

Example::

    chain = input_chain(346, 260, T=16, input_size=(128, 128), split_by="number", window_us=1_500_000)
    frames = chain(events)                 # [T, 2, 128, 128] float32, the centred window
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from eventcore.frames import batch_frames, events_to_frames
from eventcore.geometry import Geometry

SPLITS = ("number", "time")


@dataclass(frozen=True)
class CutWindow:
    """One ``window_us`` window of a sample: random position with an ``rng``, else centred; None = all."""

    window_us: int | None = None

    def __post_init__(self) -> None:
        if self.window_us is not None and self.window_us <= 0:
            raise ValueError(f"window_us must be positive, got {self.window_us}")

    def __call__(self, events: np.ndarray, rng: np.random.Generator | None = None,
                 end_us: int | None = None) -> np.ndarray:
        """The window (a view, no copy); the whole sample when it is shorter than the window.

        ``end_us``: the window ends there instead (its events before ``end_us``, the last
        ``window_us`` of them when a length is set).
        """
        if len(events) == 0:
            return events
        t = events["timestamp"]
        if end_us is not None:
            a = 0 if self.window_us is None else int(np.searchsorted(t, end_us - self.window_us, side="left"))
            return events[a:int(np.searchsorted(t, end_us, side="left"))]
        if self.window_us is None:
            return events
        room = int(t[-1]) - int(t[0]) - self.window_us
        if room <= 0:
            return events
        start = int(t[0]) + (int(rng.integers(0, room + 1)) if rng is not None else room // 2)
        a, b = np.searchsorted(t, [start, start + self.window_us], side="left")
        return events[a:b]


@dataclass(frozen=True)
class ToModelInput:
    """Sensor coordinates -> the model's input square (crop/scale; the identity returns its input)."""

    geometry: Geometry

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return self.geometry.apply(events)


@dataclass(frozen=True)
class ToFrames:
    """Events in model coordinates -> ``[T, 2, H, W]`` float32 counts (one window) or a batch,
    times ``gain`` (the geometry's ``count_gain``: a zoomed square keeps the density the model knows)."""

    T: int
    height: int
    width: int
    split_by: str = "number"
    gain: float = 1.0

    def __post_init__(self) -> None:
        if self.split_by not in SPLITS:
            raise ValueError(f"split_by must be 'number' or 'time', got {self.split_by!r}")

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return self.scale(events_to_frames(events, self.T, self.height, self.width, split_by=self.split_by))

    def scale(self, frames: np.ndarray, gain: float | None = None) -> np.ndarray:
        """``frames`` (counts binned elsewhere, e.g. chunk by chunk) times ``gain`` (default: this chain's), in place."""
        g = self.gain if gain is None else gain
        if g != 1.0:
            frames *= np.float32(g)
        return frames

    def batch(self, windows: Sequence[np.ndarray], gains: Sequence[float] | None = None) -> np.ndarray:
        """Several windows in the multi-step layout ``[T, B, 2, H, W]`` (``gains``: one per window
        instead of ``gain``, for windows read through different squares)."""
        out = batch_frames(windows, self.T, self.height, self.width, self.split_by)
        for b, g in enumerate(gains if gains is not None else [self.gain] * len(windows)):
            self.scale(out[:, b], g)
        return out


@dataclass(frozen=True)
class InputChain:
    """cut -> (optional step, e.g. augmentation, in sensor coordinates) -> geometry -> frames."""

    cut: CutWindow
    geometry: ToModelInput
    frames: ToFrames

    def events(self, events: np.ndarray, rng: np.random.Generator | None = None,
               between: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """The cut window in model coordinates (``between`` runs on it before the geometry)."""
        ev = self.cut(events, rng)
        if between is not None:
            ev = between(ev)
        return self.geometry(ev)

    def __call__(self, events: np.ndarray, rng: np.random.Generator | None = None,
                 between: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        return self.frames(self.events(events, rng, between))


def input_chain(sensor_width: int, sensor_height: int, T: int, input_size: tuple[int, int], split_by: str = "number",
                window_us: int | None = None, roi: tuple[int, int, int] | None = None) -> InputChain:
    """The chain for a sensor and a model (ValueError for a non-square input or an ROI off the sensor)."""
    h, w = int(input_size[0]), int(input_size[1])
    if h != w:
        raise ValueError(f"event models take square inputs, got {tuple(input_size)}")
    geometry = Geometry(sensor_width, sensor_height, w, roi)
    return InputChain(CutWindow(window_us), ToModelInput(geometry), ToFrames(int(T), h, w, split_by, geometry.count_gain))

"""Optional noise filtering with dv-processing's filters, keeping their state across batches.

Kinds (dv-processing 2.0.4's Python bindings; ``RefractoryPeriodFilter`` is not exposed):

- ``"background_activity"``: keep an event when a neighbouring pixel fired within
  ``duration_us`` (default 2000) before it.
- ``"fast_decay"``: per-cell decaying event count (``half_life_us`` 10000,
  ``subdivision`` 4, ``threshold`` 6.0); keep events in cells whose count exceeds it.
- ``"k_noise"``: like background activity with a cheaper per-row/column memory
  (``duration_us`` 1000).

The filters themselves run at tens of M events/s; building their input ``EventStore``
from numpy (about 7 M events/s) dominates.

Example::

    denoise = NoiseFilter("background_activity", 346, 260, duration_us=5000)
    for batch in src.batches():
        batch = denoise(batch)
"""

from __future__ import annotations

from datetime import timedelta

import dv_processing as dv
import numpy as np

from eventcore.events import as_events, empty_events
from app.sources.dv import to_event_store


def _background_activity(resolution, duration_us: int = 2000):
    return dv.noise.BackgroundActivityNoiseFilter(resolution, timedelta(microseconds=duration_us))


def _fast_decay(resolution, half_life_us: int = 10_000, subdivision: int = 4, threshold: float = 6.0):
    half_life = timedelta(microseconds=half_life_us)
    return dv.noise.FastDecayNoiseFilter(resolution, half_life, subdivision, threshold)


def _k_noise(resolution, duration_us: int = 1000):
    return dv.noise.KNoiseFilter(resolution, timedelta(microseconds=duration_us))


KINDS = {
    "background_activity": _background_activity,
    "fast_decay": _fast_decay,
    "k_noise": _k_noise,
}


class NoiseFilter:
    """A stateful dv-processing noise filter called on EVENT_DTYPE batches.

    The filter remembers recent activity across calls; when time goes backwards (a seek or
    loop in a file) it starts afresh, as the windowing stages do.
    """

    def __init__(self, kind: str, width: int, height: int, **params) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown noise filter {kind!r}; choose one of {', '.join(KINDS)}")
        if width <= 0 or height <= 0:
            raise ValueError(f"sensor size must be positive, not {width}x{height}")
        self.kind, self.width, self.height, self.params = kind, int(width), int(height), params
        self._make = lambda: KINDS[kind]((self.width, self.height), **params)
        self._filter = self._make()
        self._last_us: int | None = None
        self.events_in = 0
        self.events_out = 0

    def reset(self) -> None:
        """Forget all past activity."""
        self._filter = self._make()
        self._last_us = None

    def __call__(self, events: np.ndarray) -> np.ndarray:
        """The events of ``events`` the filter keeps, in order."""
        if len(events) == 0:
            return empty_events()
        x, y = events["x"], events["y"]
        inside = (x >= 0) & (x < self.width) & (y >= 0) & (y < self.height)
        if not inside.all():  # dv-processing does not check bounds
            events = events[inside]
            if len(events) == 0:
                return empty_events()
        t = events["timestamp"]
        if self._last_us is not None and t[0] < self._last_us:
            self.reset()
        self._last_us = int(t[-1])
        self._filter.accept(to_event_store(events))
        kept = as_events(self._filter.generateEvents().numpy())
        self.events_in += len(events)
        self.events_out += len(kept)
        return kept

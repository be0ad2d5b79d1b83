"""Optional noise filtering, keeping the filter's state across batches.

Kinds:

- ``"background_activity"``: keep an event when one of its 8 neighbouring pixels fired less
  than ``duration_us`` (default 2000) before it. A compiled kernel (:class:`BackgroundActivity`)
  with the same decisions as dv-processing's ``BackgroundActivityNoiseFilter`` (checked on the
  real recordings by the tests), without building an ``EventStore``.
- the others run dv-processing's filters (Python bindings of 2.0.4; ``RefractoryPeriodFilter``
  is not exposed):
- ``"fast_decay"``: per-cell decaying event count (``half_life_us`` 10000,
  ``subdivision`` 4, ``threshold`` 6.0); keep events in cells whose count exceeds it.
- ``"k_noise"``: like background activity with a cheaper per-row/column memory
  (``duration_us`` 1000).

dv-processing's filters run at tens of M events/s, but building their input ``EventStore``
from numpy (about 7 M events/s) dominates. Sensor sizes are capped at ``MAX_SENSOR`` (2048)
a side: the filter's memory is proportional to the pixel count.

Example::

    denoise = NoiseFilter("background_activity", 346, 260, duration_us=5000)
    for batch in src.batches():
        batch = denoise(batch)
"""

from __future__ import annotations

from datetime import timedelta

import dv_processing as dv
import numba
import numpy as np

from eventcore.aedat.common import MAX_SENSOR
from eventcore.events import EVENT_DTYPE, as_events, empty_events
from app.sources.dv import to_event_store

_NEVER = np.iinfo(np.int64).min // 2


@numba.njit(cache=True, nogil=True)
def _ba_kernel(surface, events, width, height, duration, out) -> int:
    """dv's rule, event by event in compiled code; copies the kept events to ``out``, returns how many.

    Events outside the sensor are dropped (dv-processing does not check bounds).
    """
    w2 = width + 2
    n = 0
    for i in range(len(events)):
        e = events[i]
        xi, yi = np.int64(e.x), np.int64(e.y)
        if xi < 0 or xi >= width or yi < 0 or yi >= height:
            continue
        p = (yi + 1) * w2 + xi + 1
        horizon = e.timestamp - duration
        if (surface[p - w2 - 1] > horizon or surface[p - w2] > horizon or surface[p - w2 + 1] > horizon
                or surface[p - 1] > horizon or surface[p + 1] > horizon
                or surface[p + w2 - 1] > horizon or surface[p + w2] > horizon or surface[p + w2 + 1] > horizon):
            out[n] = e
            n += 1
        surface[p] = e.timestamp
    return n


class BackgroundActivity:
    """dv-processing's background-activity rule on EVENT_DTYPE batches.

    Rule (dv's ``retain``): event i is kept when some 8-neighbour q inside the sensor has
    ``t_i - T[q] < duration``, where ``T[q]`` is the time of the last event at q before i
    (0 before any event, as dv's time surface starts at zero); then ``T[p_i] = t_i``.
    Each event depends on every earlier one, so numpy needs 8-16 gathers an event to be
    exact; a small numba kernel over a padded time surface (the pad ring never fires, so
    the border needs no test) decides and copies in one pass instead.
    """

    def __init__(self, width: int, height: int, duration_us: int = 2000) -> None:
        if duration_us <= 0:
            raise ValueError(f"duration_us must be positive, not {duration_us}")
        self.width, self.height, self.duration = int(width), int(height), int(duration_us)
        self.reset()

    def reset(self) -> None:
        """Forget all activity: the time surface is zero inside the sensor, as dv starts."""
        surface = np.full((self.height + 2, self.width + 2), _NEVER, np.int64)
        surface[1:-1, 1:-1] = 0
        self._surface = surface.reshape(-1)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        """The kept events of a time-sorted batch, in order."""
        out = np.empty(len(events), EVENT_DTYPE)
        n = _ba_kernel(self._surface, events, self.width, self.height, self.duration, out)
        return out[:n]


def _background_activity(resolution, duration_us: int = 2000):
    return BackgroundActivity(resolution[0], resolution[1], duration_us)


def _dv_background_activity(resolution, duration_us: int = 2000):
    """dv-processing's own filter (kind "dv_background_activity"), kept as the reference."""
    return dv.noise.BackgroundActivityNoiseFilter(resolution, timedelta(microseconds=duration_us))


def _fast_decay(resolution, half_life_us: int = 10_000, subdivision: int = 4, threshold: float = 6.0):
    half_life = timedelta(microseconds=half_life_us)
    return dv.noise.FastDecayNoiseFilter(resolution, half_life, subdivision, threshold)


def _k_noise(resolution, duration_us: int = 1000):
    return dv.noise.KNoiseFilter(resolution, timedelta(microseconds=duration_us))


KINDS = {
    "background_activity": _background_activity,
    "dv_background_activity": _dv_background_activity,
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
        if not (0 < width <= MAX_SENSOR and 0 < height <= MAX_SENSOR):
            raise ValueError(f"sensor size must be 1-{MAX_SENSOR} pixels a side, not {width}x{height}")
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
        t = events["timestamp"]
        if self._last_us is not None and t[0] < self._last_us:
            self.reset()
        self._last_us = int(t[-1])
        if isinstance(self._filter, BackgroundActivity):
            kept = self._filter(as_events(events))
        else:
            x, y = events["x"], events["y"]
            inside = (x >= 0) & (x < self.width) & (y >= 0) & (y < self.height)
            if not inside.all():  # dv-processing does not check bounds
                events = events[inside]
            self._filter.accept(to_event_store(events))
            kept = as_events(self._filter.generateEvents().numpy())
        self.events_in += len(events)
        self.events_out += len(kept)
        return kept

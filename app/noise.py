"""Optional noise filtering, keeping the filter's state across batches.

Kinds:

- ``"background_activity"``: keep an event when one of its 8 neighbouring pixels fired less
  than ``duration_us`` (default 2000) before it. Vectorised numpy (:class:`BackgroundActivity`),
  the same decisions as dv-processing's ``BackgroundActivityNoiseFilter`` (checked on the
  real recordings by the tests) at tens of M events/s, without building an ``EventStore``.
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
import numpy as np

from eventcore.aedat.common import MAX_SENSOR
from eventcore.events import as_events, empty_events
from app.sources.dv import to_event_store

_BIG = np.iinfo(np.int64).max
_NEVER = np.iinfo(np.int64).min // 2


class BackgroundActivity:
    """dv-processing's background-activity rule, vectorised: a mask of the events to keep.

    Rule (dv's ``retain``): event i is kept when some 8-neighbour q inside the sensor has
    ``t_i - T[q] < duration``, where ``T[q]`` is the time of the last event at q before i
    (0 before any event, as dv's time surface starts at zero); then ``T[p_i] = t_i``.

    Only the same time bin of width ``duration`` (b = t // duration) and the bin before it
    can hold a supporter. Per chunk of ``K`` bins, two tables keyed by (bin, padded pixel)
    hold the first event index and the last timestamp of each key (numpy scatters: for
    repeated keys the last write wins); an event is kept when a neighbour key of its own bin
    has a first index below its own, or (checked only for events not yet kept) one of the bin
    before has a last timestamp within ``duration``. Each event costs 2 scatters and 8-16
    gathers; the tables are reset only where written, so the cost follows the events, not the
    sensor.
    """

    def __init__(self, width: int, height: int, duration_us: int = 2000) -> None:
        if duration_us <= 0:
            raise ValueError(f"duration_us must be positive, not {duration_us}")
        self.width, self.height, self.duration = int(width), int(height), int(duration_us)
        self.w2 = self.width + 2
        self.P = self.w2 * (self.height + 2)
        self.K = int(max(3, min(256, (1 << 20) // self.P)))  # 2 tables x K x P x 8 B: 16 MiB for DAVIS346
        self._first = np.full(self.K * self.P, _BIG, np.int64)
        self._last = np.full(self.K * self.P, _NEVER, np.int64)
        w2 = self.w2
        self._offsets = (-w2 - 1, -w2, -w2 + 1, -1, 1, w2 - 1, w2, w2 + 1)
        self.reset()

    def reset(self) -> None:
        """Forget all activity: the time surface is zero inside the sensor, as dv starts."""
        layer = np.full((self.height + 2, self.w2), _NEVER, np.int64)
        layer[1:-1, 1:-1] = 0
        self._layers = {-1: layer.reshape(-1)}  # bin -> last timestamps at each pixel; bin -1 = the zero surface

    def __call__(self, t: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Keep-mask for events (timestamps non-decreasing, coordinates inside the sensor)."""
        n = len(t)
        keep = np.zeros(n, bool)
        if n == 0:
            return keep
        D, K = self.duration, self.K
        b = t // D
        pp = np.multiply(y, self.w2, dtype=np.int32)
        pp += x
        pp += self.w2 + 1
        start = 0
        while start < n:
            b0 = int(b[start])
            stop = int(np.searchsorted(b, b0 + K - 1, side="left"))
            self._chunk(t[start:stop], b[start:stop], pp[start:stop], b0, keep[start:stop])
            start = stop
        return keep

    def _chunk(self, t, b, pp, b0, keep) -> None:
        """Events of bins b0 .. b0+K-2 in slots 1.., the bin before in slot 0."""
        P, D = self.P, self.duration
        first, last = self._first, self._last
        base = (b0 - 1) * D  # times are kept relative to it (int64 tables, exact)
        seeded = []
        for slot, binno in ((0, b0 - 1), (1, b0)):
            layer = self._layers.get(binno)
            if layer is not None:  # the bin continues from the previous call, or precedes it
                rows = slice(slot * P, (slot + 1) * P)
                last[rows] = np.where(layer == _NEVER, _NEVER, layer - base)
                seeded.append((rows, layer if slot == 1 else None))
        key = (b - (b0 - 1)).astype(np.intp)
        key *= P
        key += pp
        n = len(t)
        idx = np.arange(n, dtype=np.int64)
        first[key[::-1]] = idx[::-1]  # the first event of each key is written last
        for rows, layer in seeded:
            if layer is not None:  # earlier events of the bin continued here precede every new one
                first[rows][layer != _NEVER] = -1
        rel = t - base
        last[key] = rel  # the last event of each key is written last
        buf = np.empty(n, np.intp)
        vals = np.empty(n, np.int64)
        hit = np.empty(n, bool)
        for o in self._offsets:  # a neighbour fired earlier in the same bin
            np.add(key, o, out=buf)
            first.take(buf, out=vals)
            np.less(vals, idx, out=hit)
            keep |= hit
        rest = np.flatnonzero(~keep)  # only those still unsupported look at the bin before
        if len(rest):
            m = len(rest)
            prev = key[rest] - P
            horizon = rel[rest] - D
            sub = np.zeros(m, bool)
            buf, vals, hit = buf[:m], vals[:m], hit[:m]
            for o in self._offsets:
                np.add(prev, o, out=buf)
                last.take(buf, out=vals)
                np.greater(vals, horizon, out=hit)
                sub |= hit
            keep[rest] = sub
        s_last = int(key[-1]) // P
        self._layers = {}
        for slot in (s_last - 1, s_last):
            layer = last[slot * P : (slot + 1) * P]
            self._layers[b0 - 1 + slot] = np.where(layer == _NEVER, _NEVER, layer + base)
        first[key] = _BIG
        last[key] = _NEVER
        for rows, _ in seeded:
            first[rows] = _BIG
            last[rows] = _NEVER
        last[:P] = _NEVER


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
        if isinstance(self._filter, BackgroundActivity):
            kept = events[self._filter(t, events["x"], events["y"])]
        else:
            self._filter.accept(to_event_store(events))
            kept = as_events(self._filter.generateEvents().numpy())
        self.events_in += len(events)
        self.events_out += len(kept)
        return kept

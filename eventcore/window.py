"""Sliding window over an event stream: every ``hop_us`` of event time, the latest window.

Windows end on the grid ``t_end_k = t_first + k * hop_us`` (k = 1, 2, ...; ``t_first`` the
first timestamp since the last reset) and are half-open in time:

    time mode:   events with  t_end - duration_us <= t < t_end
    count mode:  the last ``count`` events with  t < t_end

Half-open ``[start, end)`` windows with ``duration_us == hop_us`` partition the stream
exactly (no event lost or counted twice), and a window is due as soon as an event with
``t >= t_end`` arrives, since timestamps never decrease (an event at ``t_end`` itself may
still be followed by more at the same time, which belong to the next window).

State is explicit: :meth:`push` appends a batch to a preallocated buffer (one vectorised
copy) and returns the windows that became due, as read-only views that stay valid after
later pushes (the buffer is reallocated, never overwritten, when it fills). Only events
a future window can need are kept (those within ``duration_us`` of the newest event, or
the last ``count``). A batch that starts before the previous one ended (a file was seeked
or looped) resets the window automatically; :attr:`resets` counts it. One thread pushes.

Example::

    sw = SlidingWindow(duration_us=1_500_000, hop_us=100_000)
    for batch in source.batches():
        for w in sw.push(batch):
            frames = events_to_frames(w.events, T=20, height=128, width=128)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eventcore.events import EVENT_DTYPE

_RECORD = np.dtype((np.void, EVENT_DTYPE.itemsize))


@dataclass(frozen=True, slots=True, eq=False)
class Window:
    """Events of one window: ``events`` (read-only view) span ``[t_start, t_end)``.

    ``complete`` is False for a window reaching back before the stream's first event (time
    mode) or holding fewer than ``count`` events (count mode). In count mode ``t_start``
    is the first event's timestamp (``t_end`` when empty).
    """

    events: np.ndarray
    t_start: int
    t_end: int
    complete: bool


class SlidingWindow:
    """Hop-aligned windows of the last ``duration_us`` microseconds or the last ``count`` events.

    ``capacity`` is the initial buffer size in events: it grows to twice what is needed
    when a push does not fit and shrinks back when fewer events are kept. When one push
    makes more than ``max_windows`` windows due (a jump forward in time), only the newest
    ``max_windows`` are returned and :attr:`skipped_windows` counts the rest.
    """

    def __init__(
        self,
        duration_us: int | None = None,
        count: int | None = None,
        hop_us: int = 100_000,
        capacity: int = 1 << 20,
        max_windows: int = 100_000,
    ) -> None:
        if (duration_us is None) == (count is None):
            raise ValueError("give exactly one of duration_us (time windows) or count (event windows)")
        if duration_us is not None and duration_us < 1:
            raise ValueError(f"duration_us must be positive, not {duration_us}")
        if count is not None and count < 1:
            raise ValueError(f"count must be positive, not {count}")
        if hop_us < 1:
            raise ValueError(f"hop_us must be positive, not {hop_us}")
        if capacity < 1 or max_windows < 1:
            raise ValueError(f"capacity and max_windows must be positive, not {capacity}, {max_windows}")
        self.duration_us = duration_us
        self.count = count
        self.hop_us = int(hop_us)
        self.capacity0 = int(capacity)
        self.max_windows = int(max_windows)
        self.resets = 0
        self.skipped_windows = 0
        self._buf = np.empty(self.capacity0, dtype=EVENT_DTYPE)
        self._ts = np.empty(self.capacity0, dtype=np.int64)
        self._lo = self._hi = 0
        self.reset()

    def reset(self) -> None:
        """Forget all events and the hop grid; the next event starts a new stream."""
        self._lo = self._hi
        self._first_t: int | None = None
        self._last_t: int | None = None
        self._next_end = 0

    @property
    def capacity(self) -> int:
        """Events the buffer holds before it must be reallocated."""
        return len(self._buf)

    @property
    def buffered(self) -> np.ndarray:
        """The events kept for future windows (a read-only view)."""
        return self._view(self._lo, self._hi)

    @property
    def next_end(self) -> int | None:
        """End time of the next window to become due (None before the first event)."""
        return None if self._first_t is None else self._next_end

    def push(self, batch: np.ndarray) -> list[Window]:
        """Append ``batch`` (time-ordered events with EVENT_DTYPE's fields, in any layout) and
        return the windows now due, oldest first (EVENT_DTYPE views).

        A backward step in time, between batches or inside one, resets the window there.
        """
        if batch.dtype.names != EVENT_DTYPE.names:
            raise TypeError(f"events must have EVENT_DTYPE's fields {EVENT_DTYPE.names}, not {batch.dtype}")
        if len(batch) == 0:
            return []
        t = batch["timestamp"]
        backward = np.flatnonzero(t[1:] < t[:-1]) + 1
        if backward.size == 0:
            return self._push_ordered(batch, t)
        windows: list[Window] = []
        for piece in np.split(batch, backward):
            windows += self._push_ordered(piece, piece["timestamp"])
        return windows

    def latest(self, t_end: int | None = None) -> Window:
        """The window ending at ``t_end`` (default: just after the newest event), off the hop grid.

        ``t_end`` must be later than the newest event (older events may have been dropped);
        a ``t_end`` past it (an idle camera) gives a window with fewer or no events.
        """
        if self._last_t is None:
            t = 0 if t_end is None else int(t_end)
            return Window(self._view(self._hi, self._hi), t if self.count else t - self.duration_us, t, False)
        t = self._last_t + 1 if t_end is None else int(t_end)
        if t <= self._last_t:
            raise ValueError(f"latest() needs t_end after the newest event ({self._last_t} us), not {t}")
        return self._windows(np.array([t], dtype=np.int64))[0]

    def _push_ordered(self, batch: np.ndarray, t: np.ndarray) -> list[Window]:
        if self._last_t is not None and t[0] < self._last_t:
            self.reset()
            self.resets += 1
        if self._first_t is None:
            self._first_t = int(t[0])
            self._next_end = self._first_t + self.hop_us
        self._append(batch, t)
        self._last_t = int(t[-1])
        windows = self._due()
        self._drop_old()
        return windows

    def _due(self) -> list[Window]:
        if self._last_t < self._next_end:
            return []
        n = (self._last_t - self._next_end) // self.hop_us + 1
        if n > self.max_windows:
            self.skipped_windows += n - self.max_windows
            self._next_end += (n - self.max_windows) * self.hop_us
            n = self.max_windows
        ends = self._next_end + self.hop_us * np.arange(n, dtype=np.int64)
        self._next_end += n * self.hop_us
        return self._windows(ends)

    def _windows(self, ends: np.ndarray) -> list[Window]:
        """Windows ending at ``ends`` (all later than the events dropped so far)."""
        ts = self._ts[self._lo : self._hi]
        i_end = np.searchsorted(ts, ends, side="left") + self._lo
        if self.count is None:
            starts = ends - self.duration_us
            i_start = np.searchsorted(ts, starts, side="left") + self._lo
            complete = starts >= self._first_t
        else:
            i_start = np.maximum(i_end - self.count, self._lo)
            starts = np.where(i_end > i_start, self._ts[np.minimum(i_start, self._hi - 1)], ends)
            complete = i_end - i_start == self.count
        return [
            Window(self._view(a, b), s, e, c)
            for a, b, s, e, c in zip(i_start.tolist(), i_end.tolist(), starts.tolist(), ends.tolist(), complete.tolist())
        ]

    def _append(self, batch: np.ndarray, t: np.ndarray) -> None:
        n = len(batch)
        if self._hi + n > len(self._buf):
            # a fresh buffer, so that windows already handed out are never overwritten
            live = self._hi - self._lo
            cap = max(self.capacity0, 2 * (live + n))
            buf, ts = np.empty(cap, dtype=EVENT_DTYPE), np.empty(cap, dtype=np.int64)
            _copy_events(buf[:live], self._buf[self._lo : self._hi])
            ts[:live] = self._ts[self._lo : self._hi]
            self._buf, self._ts, self._lo, self._hi = buf, ts, 0, live
        _copy_events(self._buf[self._hi : self._hi + n], batch)
        self._ts[self._hi : self._hi + n] = t
        self._hi += n

    def _drop_old(self) -> None:
        if self.count is None:
            # the next grid window and latest() both start at or after this time
            keep_from = self._last_t + 1 - self.duration_us
            self._lo += int(np.searchsorted(self._ts[self._lo : self._hi], keep_from, side="left"))
        else:
            self._lo = max(self._lo, self._hi - self.count)

    def _view(self, a: int, b: int) -> np.ndarray:
        view = self._buf[a:b]
        view.flags.writeable = False
        return view


def _copy_events(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst[:] = src`` as a plain memory copy (numpy copies structured records field by
    field, about 40x slower); other layouts with the same fields go field by field."""
    if src.dtype == EVENT_DTYPE:
        dst.view(_RECORD)[...] = src.view(_RECORD)
    else:
        dst[...] = src

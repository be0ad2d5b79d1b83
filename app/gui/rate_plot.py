"""The event-rate plot: events per second of stream time over the last seconds of the stream.

The rate is measured against the stream's own timestamps (events counted between two
redraws over the stream time they span), so it describes the scene, not the playback speed.
A jump back in time (a seek, a loop) starts the plot afresh.
"""

from __future__ import annotations

import collections

import numpy as np
import pyqtgraph as pg

SPAN_S = 20.0


class EventRatePlot(pg.PlotWidget):
    """A small line plot of the stream's event rate (k events/s) against stream time (s)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground((28, 28, 34))
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setLabel("left", "k ev/s")
        self.setLabel("bottom", "stream time", units="s")
        self.setTitle("event rate", size="9pt")
        self.curve = self.plot(pen=pg.mkPen((90, 180, 255), width=2))
        self.points: collections.deque[tuple[float, float]] = collections.deque()
        self._last: tuple[int, int] | None = None  # (events counted, stream time us) at the last sample
        self._source = None
        self.setMinimumHeight(70)

    def reset(self) -> None:
        self.points.clear()
        self._last = None
        self.curve.setData([], [])

    def sample(self, source, events_in: int, t_us: int | None) -> None:
        """Add one point from the pipeline's event count and latest timestamp (call a few times a second)."""
        if source is not self._source:
            self._source = source
            self.reset()
        if t_us is None:
            return
        if self._last is not None:
            n0, t0 = self._last
            if t_us < t0 or events_in < n0:  # seek back, loop or a new pipeline
                self.reset()
            elif t_us - t0 > 2_000_000:  # a seek ahead: no events were read for the skipped time
                pass
            elif t_us - t0 >= 20_000:
                self.points.append((t_us / 1e6, (events_in - n0) / ((t_us - t0) / 1e6) / 1e3))
                while self.points and self.points[-1][0] - self.points[0][0] > SPAN_S:
                    self.points.popleft()
                xy = np.asarray(self.points)
                self.curve.setData(xy[:, 0], xy[:, 1])
            else:
                return
        self._last = (events_in, t_us)

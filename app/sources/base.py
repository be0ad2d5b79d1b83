"""The interface every event source implements, and playback (pacing, seek, loop) for files.

A source yields event batches (``EVENT_DTYPE`` arrays, timestamps non-decreasing within a
batch) and tells its sensor resolution, a display name, whether it is live and, for files,
its duration. When a file is seeked or loops, the next batch starts earlier than the last
one ended: consumers reset their windows when timestamps go backwards.

Example::

    src = ArraySource(events, width=128, height=128, name="demo")
    src.speed = 1.0            # real time; None plays as fast as possible
    for batch in src.batches():
        ...
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from eventcore.events import EVENT_DTYPE
from eventcore.labels import LabelTimeline


class Source(ABC):
    """A stream of event batches from a camera, the network or a file."""

    name: str = "source"
    width: int = 0
    height: int = 0
    is_live: bool = False
    camera: str | None = None
    duration_us: int | None = None
    labels: LabelTimeline | None = None

    def __init__(self) -> None:
        self.warnings: list[str] = []

    @abstractmethod
    def batches(self) -> Iterator[np.ndarray]:
        """Yield event batches until the stream ends or :meth:`close` is called."""

    def close(self) -> None:
        """Release the file or device; a running :meth:`batches` loop ends soon after."""

    def describe(self) -> str:
        """One line for a status bar: name and sensor."""
        cam = f" ({self.camera})" if self.camera else ""
        return f"{self.name}{cam}, {self.width}x{self.height}"

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FileSource(Source):
    """A recorded file: random access by time, played as fast as possible or paced.

    Subclasses give ``start_us``/``end_us`` and :meth:`events_between`. Playback state
    (``speed``, ``loop``, pause, seek, step) may be changed from another thread while
    :meth:`batches` runs.
    """

    is_live = False
    batch_us: int = 10_000

    def __init__(self) -> None:
        super().__init__()
        self.start_us = 0
        self.end_us = 0
        self.loop = False
        self._speed: float | None = None
        self._cond = threading.Condition()
        self._pos = 0
        self._paused = False
        self._step_us = 0
        self._closed = False
        self._anchor: tuple[float, int] | None = None

    @abstractmethod
    def events_between(self, t0_us: int, t1_us: int) -> np.ndarray:
        """Events with ``t0_us <= timestamp < t1_us``."""

    def read_all(self) -> np.ndarray:
        """Every event of the file, in time order."""
        return self.events_between(self.start_us, self.end_us + 1)

    def chunks(self, max_events: int = 1 << 20) -> Iterator[np.ndarray]:
        """Every event in time order, in pieces: a format read in bounded pieces keeps memory flat."""
        events = self.read_all()
        for i in range(0, len(events), max_events):
            yield events[i:i + max_events]

    @property
    def duration_us(self) -> int:  # type: ignore[override]
        return self.end_us - self.start_us

    @property
    def position_us(self) -> int:
        """The file time up to which events have been played."""
        return self._pos

    @property
    def speed(self) -> float | None:
        """Real-time factor (1.0 = real time), or None for as fast as possible."""
        return self._speed

    @speed.setter
    def speed(self, value: float | None) -> None:
        if value is not None and value <= 0:
            raise ValueError(f"speed must be positive or None, not {value}")
        with self._cond:
            self._speed = value
            self._anchor = None
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._anchor = None
            self._cond.notify_all()

    def seek(self, t_us: int) -> None:
        """Continue playback from file time ``t_us`` (clamped to the file)."""
        with self._cond:
            self._pos = int(min(max(t_us, self.start_us), self.end_us))
            self._anchor = None
            self._cond.notify_all()

    def step(self, dt_us: int) -> None:
        """While paused, play the next ``dt_us`` of the file, then pause again."""
        with self._cond:
            self._step_us += int(dt_us)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _next_span(self) -> tuple[int, int] | None:
        """Wait until a batch may be played; return its [t0, t1) or None when done."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if self._pos > self.end_us:
                    if not self.loop:
                        return None
                    self._pos = self.start_us
                    self._anchor = None
                if self._paused and self._step_us <= 0:
                    self._cond.wait(0.05)
                    continue
                t0 = self._pos
                span = self.batch_us if not self._paused else min(self.batch_us, self._step_us)
                t1 = t0 + span
                if self._paused:
                    self._step_us -= span
                elif self._speed is not None:
                    now = time.perf_counter()
                    if self._anchor is None:
                        self._anchor = (now, t0)
                    wall0, file0 = self._anchor
                    due = wall0 + (t1 - file0) / (1e6 * self._speed)
                    if due > now:
                        self._cond.wait(due - now)
                        if self._pos != t0 or self._anchor is None or self._closed:
                            continue  # seek, pause, speed change or close while waiting
                        if time.perf_counter() < due:
                            continue
                self._pos = t1
                return t0, t1

    def batches(self) -> Iterator[np.ndarray]:
        with self._cond:
            self._closed = False
            if self._pos > self.end_us:
                self._pos = self.start_us
        while (span := self._next_span()) is not None:
            yield self.events_between(*span)


class ReaderSource(FileSource):
    """A file played through a format-layer reader with random access by time (``events``,
    ``chunks``, ``read_all``): only the packets a batch touches are decoded, so playback
    holds a batch's worth beyond the reader's chunk, whatever the file's length."""

    def __init__(self, reader, path) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name
        self.file = reader
        self._lock = threading.Lock()
        self.width, self.height, self.camera = reader.width, reader.height, reader.camera
        self.start_us, self.end_us = reader.start_us, reader.end_us
        self._pos = self.start_us
        self.warnings.extend(reader.warnings)

    @property
    def event_count(self) -> int:
        return self.file.event_count

    def events_between(self, t0_us: int, t1_us: int) -> np.ndarray:
        if t1_us <= t0_us:
            return np.empty(0, EVENT_DTYPE)
        with self._lock:
            return self.file.events(int(t0_us), int(t1_us))

    def read_all(self) -> np.ndarray:
        with self._lock:
            return self.file.read_all()

    def chunks(self, max_events: int = 0) -> Iterator[np.ndarray]:
        """Every event in time order, in the reader's own chunks (constant memory)."""
        return self.file.chunks()


class ArraySource(FileSource):
    """A file source whose events are all in memory (AEDAT 2.0/3.1 readers, simulator).

    Batches are views into the one array: no copies on the playback path.
    """

    def __init__(
        self,
        events: np.ndarray,
        width: int,
        height: int,
        name: str = "events",
        camera: str | None = None,
    ) -> None:
        super().__init__()
        if events.dtype != EVENT_DTYPE:
            raise TypeError(f"events must be EVENT_DTYPE, not {events.dtype}")
        self.events = events
        self._t = events["timestamp"]
        self.width, self.height, self.name, self.camera = width, height, name, camera
        if len(events):
            self.start_us = int(self._t[0])
            self.end_us = int(self._t[-1])
        self._pos = self.start_us

    def events_between(self, t0_us: int, t1_us: int) -> np.ndarray:
        i0, i1 = np.searchsorted(self._t, (t0_us, t1_us), side="left")
        return self.events[i0:i1]

    def read_all(self) -> np.ndarray:
        return self.events

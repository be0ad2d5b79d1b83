"""Glue to dv-processing shared by the camera source, the reference noise filters and tests (files and
the network stream no longer go through it in this process)."""

from __future__ import annotations

import collections
import threading
import time
from abc import abstractmethod
from collections.abc import Iterator

import dv_processing as dv
import numpy as np

from eventcore.events import as_events
from app.sources.base import Source
from eventcore.errors import StreamEnded


def dv_error_message(exc: BaseException) -> str:
    """The useful line of a dv-processing exception (which carries a C++ location and a stack).

    >>> dv_error_message(RuntimeError("/x.hpp(3): f()\\nFileError: no file\\nStacktrace:\\n 0# ..."))
    'FileError: no file'
    """
    lines = [ln.strip() for ln in str(exc).split("Stacktrace")[0].splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith("/")] or lines or [type(exc).__name__]
    return " ".join(useful).replace(" - Error info:", ";")


def to_event_store(events: np.ndarray) -> dv.EventStore:
    """An EventStore holding ``events`` (EVENT_DTYPE, timestamps non-decreasing)."""
    if len(events) > 1 and np.any(np.diff(events["timestamp"]) < 0):
        raise ValueError("event timestamps must be non-decreasing")
    store = dv.EventStore()
    columns = (
        events["timestamp"].tolist(),
        events["x"].tolist(),
        events["y"].tolist(),
        (events["polarity"] != 0).tolist(),
    )
    collections.deque(map(store.push_back, zip(*columns)), maxlen=0)
    return store


class PolledSource(Source):
    """A live dv-processing input (a camera or a network reader) polled for event batches.

    Subclasses open the input into ``self._device`` and say in :meth:`_poll` how to get its
    next EventStore. When the input stops, :meth:`batches` returns and ``end_reason`` holds
    a :class:`StreamEnded` saying why; :meth:`close` works from any thread.
    """

    is_live = True
    idle_sleep_s = 0.001

    def __init__(self) -> None:
        super().__init__()
        self._device = None
        self.end_reason: StreamEnded | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @abstractmethod
    def _poll(self, device) -> "dv.EventStore | None":
        """The device's next EventStore (None when nothing is new); raise StreamEnded when it stopped."""

    def batches(self) -> Iterator[np.ndarray]:
        self._stop.clear()
        while not self._stop.is_set():
            try:
                with self._lock:
                    if self._device is None:
                        return
                    store = self._poll(self._device)
            except StreamEnded as ended:
                self.end_reason = ended
                self.close()
                return
            if store is None or len(store) == 0:
                time.sleep(self.idle_sleep_s)
                continue
            yield as_events(store.numpy())

    def close(self) -> None:
        """Stop streaming and release the input (closing a reader before its writer avoids a deadlock)."""
        self._stop.set()
        with self._lock:
            self._device = None

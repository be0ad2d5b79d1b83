"""Glue to dv-processing shared by the AEDAT4, camera, network, recorder and noise-filter code."""

from __future__ import annotations

import collections

import dv_processing as dv
import numpy as np


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

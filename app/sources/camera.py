"""Live USB event cameras (DVS128, DAVIS, DVXplorer) through dv-processing.

``dv.io.camera.discover()`` lists the connected devices as descriptors (model and serial
number); ``open()`` without a camera raises a bare IndexError, so cameras are always
looked up first. Batches arrive as the camera delivers them (``getNextEventBatch`` does
not block: it returns None when nothing is new).

Example::

    print(list_cameras())                 # e.g. ['DAVIS_00000104']
    with CameraSource() as cam:           # the first camera found
        for batch in cam.batches(): ...
        print(cam.end_reason)             # set when the camera went away
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import dv_processing as dv
import numpy as np

from app.events import as_events
from app.sources.dv import dv_error_message
from app.sources.base import Source
from app.sources.errors import SourceError, StreamEnded

IDLE_SLEEP_S = 0.001


def _label(descriptor) -> str:
    """``MODEL_SERIAL`` for a discovered device, e.g. ``DAVIS_00000104``."""
    model = getattr(descriptor.cameraModel, "name", str(descriptor.cameraModel))
    return f"{model}_{descriptor.serialNumber}"


def _discover() -> list:
    try:
        return list(dv.io.camera.discover())
    except RuntimeError as exc:
        raise SourceError(f"cannot look for cameras ({dv_error_message(exc)})") from None


def list_cameras() -> list[str]:
    """Names of the connected event cameras (``MODEL_SERIAL``); empty when none."""
    return [_label(d) for d in _discover()]


def _matches(name: str, descriptor) -> bool:
    """A camera is asked for by its list name, serial number or full name (DAVIS346_SERIAL)."""
    serial = str(descriptor.serialNumber)
    return name in (_label(descriptor), serial) or name.endswith("_" + serial)


class CameraSource(Source):
    """A connected event camera, by name (see :func:`list_cameras`) or the first found.

    When the camera stops (unplugged, USB error) the stream ends: :meth:`batches` returns
    and ``end_reason`` holds a :class:`StreamEnded` saying why.
    """

    is_live = True

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        found = _discover()
        wanted = [d for d in found if name is None or _matches(name, d)]
        if not wanted:
            asked = "any event camera" if name is None else f"camera '{name}'"
            have = ", ".join(_label(d) for d in found) or "none"
            raise SourceError(f"{asked} not found (connected cameras: {have})")
        label = _label(wanted[0])
        try:
            self._camera = dv.io.camera.open(wanted[0])
        except (RuntimeError, IndexError) as exc:
            raise SourceError(f"camera {label}: cannot open ({dv_error_message(exc)})") from None
        if not self._camera.isEventStreamAvailable():
            self._camera = None
            raise SourceError(f"camera {label}: has no event output")
        resolution = self._camera.getEventResolution()
        self.width, self.height = int(resolution[0]), int(resolution[1])
        self.camera = self._camera.getCameraName() or label
        self.name = self.camera
        self.end_reason: StreamEnded | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def _next(self):
        """The camera's next EventStore or None; raises StreamEnded when it stopped."""
        with self._lock:
            if self._camera is None:
                return None
            try:
                if not self._camera.isRunning():
                    raise StreamEnded(f"camera {self.camera}: stopped sending (disconnected?)")
                return self._camera.getNextEventBatch()
            except RuntimeError as exc:
                raise StreamEnded(f"camera {self.camera}: {dv_error_message(exc)}") from None

    def batches(self) -> Iterator[np.ndarray]:
        self._stop.clear()
        while not self._stop.is_set():
            try:
                store = self._next()
            except StreamEnded as ended:
                self.end_reason = ended
                self.close()
                return
            if self._camera is None:
                return
            if store is None or len(store) == 0:
                time.sleep(IDLE_SLEEP_S)
                continue
            yield as_events(store.numpy())

    def close(self) -> None:
        """Stop streaming and release the device (USB transfers stop with the object)."""
        self._stop.set()
        with self._lock:
            self._camera = None

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

import dv_processing as dv

from app.sources.dv import PolledSource, dv_error_message
from eventcore.errors import SourceError, StreamEnded


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


class CameraSource(PolledSource):
    """A connected event camera, by name (see :func:`list_cameras`) or the first found.

    When the camera stops (unplugged, USB error) the stream ends: :meth:`batches` returns
    and ``end_reason`` holds a :class:`StreamEnded` saying why.
    """

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
            camera = dv.io.camera.open(wanted[0])
        except (RuntimeError, IndexError) as exc:
            raise SourceError(f"camera {label}: cannot open ({dv_error_message(exc)})") from None
        if not camera.isEventStreamAvailable():
            raise SourceError(f"camera {label}: has no event output")
        resolution = camera.getEventResolution()
        self.width, self.height = int(resolution[0]), int(resolution[1])
        self.camera = camera.getCameraName() or label
        self.name = self.camera
        self._device = camera

    def _poll(self, camera):
        try:
            if not camera.isRunning():
                raise StreamEnded(f"camera {self.camera}: stopped sending (disconnected?)")
            return camera.getNextEventBatch()
        except RuntimeError as exc:
            raise StreamEnded(f"camera {self.camera}: {dv_error_message(exc)}") from None

"""CameraSource and list_cameras.

No USB event camera can be attached on the test machines, so apart from the tests of the
real ``dv.io.camera.discover()`` (which finds nothing here), these tests inject a FAKE
camera: ``dv.io.camera.discover`` and ``dv.io.camera.open`` are monkeypatched to return
stand-ins that answer like dv-processing's camera objects and hand out real
``dv.EventStore`` batches.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import dv_processing as dv
import numpy as np
import pytest

from eventcore.events import EVENT_DTYPE, make_events
from app.sources.camera import CameraSource, list_cameras
from eventcore.errors import SourceError, StreamEnded
from app.sources.dv import to_event_store


def test_real_discover_finds_no_camera_and_says_so():
    if dv.io.camera.discover():
        pytest.skip("a real event camera is connected")
    assert list_cameras() == []
    with pytest.raises(SourceError, match=r"any event camera not found \(connected cameras: none\)"):
        CameraSource()
    expected = r"camera 'DAVIS346_00000104' not found \(connected cameras: none\)"
    with pytest.raises(SourceError, match=expected):
        CameraSource("DAVIS346_00000104")


class FakeCamera:
    """Stands in for dv.io.camera.CameraInputBase: batches from a list, then unplugged."""

    def __init__(self, serial, batches, then="unplug"):
        self.serial, self.batches, self.then = serial, list(batches), then
        self.polls_after_end = 0

    def isEventStreamAvailable(self):
        return True

    def getEventResolution(self):
        return (346, 260)

    def getCameraName(self):
        return f"DAVIS346_{self.serial}"

    def isRunning(self):
        return bool(self.batches) or self.then != "unplug"

    def getNextEventBatch(self):
        if self.batches:
            return self.batches.pop(0)
        if self.then == "error":
            raise RuntimeError("/usb.hpp(1): f()\nUSBError: LIBUSB_ERROR_NO_DEVICE\nStacktrace:\n 0# x")
        self.polls_after_end += 1
        return None


def descriptor(serial):
    return SimpleNamespace(cameraModel=dv.io.camera.CameraModel.DAVIS, serialNumber=serial)


@pytest.fixture
def fake_cameras(monkeypatch):
    """Two fake DAVIS cameras; returns the dict serial -> FakeCamera to fill in."""
    cams = {}
    descriptors = [descriptor("00000104"), descriptor("00000002")]
    monkeypatch.setattr(dv.io.camera, "discover", lambda: descriptors)
    monkeypatch.setattr(dv.io.camera, "open", lambda d: cams[d.serialNumber])
    cams["00000104"] = FakeCamera("00000104", [])
    cams["00000002"] = FakeCamera("00000002", [])
    return cams


def batch(k, n=500):
    rng = np.random.default_rng(k)
    t = k * 10_000 + np.arange(n)
    return make_events(t, rng.integers(0, 346, n), rng.integers(0, 260, n), rng.integers(0, 2, n))


def test_list_and_open_by_name(fake_cameras):
    assert list_cameras() == ["DAVIS_00000104", "DAVIS_00000002"]
    for name in ("DAVIS_00000002", "00000002", "DAVIS346_00000002"):
        cam = CameraSource(name)
        assert (cam.camera, cam.width, cam.height, cam.is_live) == ("DAVIS346_00000002", 346, 260, True)
    assert CameraSource().camera == "DAVIS346_00000104"
    expected = r"camera 'DVX_9' not found \(connected cameras: DAVIS_00000104, DAVIS_00000002\)"
    with pytest.raises(SourceError, match=expected):
        CameraSource("DVX_9")


def test_streams_batches_then_unplug_ends_with_a_reason(fake_cameras):
    sent = [batch(k) for k in range(5)]
    fake_cameras["00000104"].batches = [to_event_store(b) for b in sent]
    cam = CameraSource()
    got = list(cam.batches())
    assert all(b.dtype == EVENT_DTYPE for b in got)
    np.testing.assert_array_equal(np.concatenate(got), np.concatenate(sent))
    assert isinstance(cam.end_reason, StreamEnded)
    assert "DAVIS346_00000104" in str(cam.end_reason) and "disconnected" in str(cam.end_reason)


def test_usb_error_mid_stream_ends_the_stream(fake_cameras):
    fake_cameras["00000104"].batches = [to_event_store(batch(0))]
    fake_cameras["00000104"].then = "error"
    cam = CameraSource()
    got = list(cam.batches())
    assert len(got) == 1
    assert "LIBUSB_ERROR_NO_DEVICE" in str(cam.end_reason) and "\n" not in str(cam.end_reason)


def test_close_from_another_thread_stops_an_idle_camera(fake_cameras):
    fake_cameras["00000104"].then = "idle"
    cam = CameraSource()
    done = threading.Event()

    def consume():
        for _ in cam.batches():
            pass
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    threading.Timer(0.1, cam.close).start()
    assert done.wait(5), "batches() kept running after close()"
    assert cam.end_reason is None
    assert fake_cameras["00000104"].polls_after_end > 0

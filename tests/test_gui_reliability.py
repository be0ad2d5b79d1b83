"""The window survives bad input while recording: a damaged file, a hostile DV peer, a full disk.

Driven offscreen through the real window (pytest-qt), like tests/test_gui.py. The full disk is
a real 4 MiB tmpfs (mounting needs root: skipped otherwise); the hostile peer a raw TCP
server on 127.0.0.1 that sends a real DV stream header, then garbage.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("torch")

from tests.fixtures import tiny_config, write_checkpoint, write_recording  # noqa: E402
from tests.test_network import batch, dv_header, packet, raw_server  # noqa: E402,F401 (fixtures)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    pytest.importorskip("model.checkpoint", reason="model/checkpoint.py (save_checkpoint) not available")
    d = tmp_path_factory.mktemp("gui_rel")
    return {
        "recording": write_recording(d / "bar.aedat4"),
        "model": write_checkpoint(d / "net.pt", tiny_config("tiny_rel", (2,)), 0, "untrained (test)"),
        "damaged": _bytes(d / "damaged.aedat4", b"#!AER-DAT4.0\r\n\xff\xff\xff\xff"),  # declares a 4 GB header
    }


def _bytes(path, data):
    path.write_bytes(data)
    return path


@pytest.fixture
def window(qtbot, files):
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    assert w.load_model(str(files["model"]), "cpu"), w.message
    assert w.open_source(str(files["recording"])), w.message
    w.session.set_loop(True)
    yield w
    w.close()


def test_damaged_file_while_recording_shows_the_error_and_keeps_the_recording(qtbot, window, files, tmp_path):
    from app.sources.open import open_file

    w = window
    out = tmp_path / "take.aedat4"
    assert w.start_recording(str(out))
    qtbot.waitUntil(lambda: w.session.recorder.elapsed_us > 200_000, timeout=10_000)
    assert not w.open_source(str(files["damaged"]))
    assert "damaged.aedat4" in w.message and "4294967295 bytes" in w.message
    rec = w.session.recorder
    assert rec is not None and rec.error is None, "the recording was stopped by a bad file"
    before = rec.events_written
    qtbot.waitUntil(lambda: rec.events_written > before + 1000, timeout=10_000)  # still recording
    w.stop_recording()
    with open_file(out) as src:
        assert len(src.read_all()) == rec.events_flushed > before


def test_hostile_peer_shows_the_error_and_the_window_stays_usable(qtbot, window, files, dv_header, raw_server):  # noqa: F811
    def send(c):
        c.sendall(dv_header)
        for k in range(3):
            c.sendall(packet(batch(k)))
        time.sleep(0.5)
        c.sendall(b"\0\0\0\0\x10\0\0\0" + b"\xde\xad\xbe\xef" * 4)
        time.sleep(10)

    w = window
    port = raw_server(send)
    assert w.open_source(f"127.0.0.1:{port}"), w.message
    qtbot.waitUntil(lambda: "not a valid event packet" in w.message, timeout=15_000)  # our stream decoder's line
    assert f"127.0.0.1:{port}" in w.message
    assert w.open_source(str(files["recording"])), w.message  # usable: opens the next source


def test_full_disk_stops_the_recording_with_a_message_and_the_view_goes_on(qtbot, window, tmp_path):
    from app.sources.open import open_file

    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        w = window
        w.session.set_speed(None)  # as fast as possible: fills the disk in a moment
        out = mnt / "take.aedat4"
        assert w.start_recording(str(out))
        qtbot.waitUntil(lambda: "recording stopped" in w.message, timeout=30_000)
        assert "disk full after" in w.message and "take.aedat4" in w.message
        assert w.session.recorder is None and w.status_rec.text() == ""
        t0 = w.session.pipe.last_t_us
        events_in = w.session.pipe.events_in
        qtbot.waitUntil(lambda: w.session.pipe.events_in > events_in, timeout=10_000)  # the view goes on
        assert w.session.pipe.error is None, t0
        with open_file(out) as src:
            got = src.read_all()
        assert len(got) > 0 and np.all(np.diff(got["timestamp"]) >= 0)
    finally:
        window.stop_recording()
        subprocess.run(["umount", "-l", str(mnt)])

"""The app started as a user would (``python main.py REC --model CKPT``) on a real X server (Xvfb).

The app's screenshot hook (``GESTURE_GUI_SCREENSHOT``) grabs the mapped window from the X
server after a few seconds and writes the panels' rectangles beside it; the test checks
that each panel shows what it should. The PNG stays in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures import ROOT, tiny_config, write_checkpoint, write_recording
from tests.test_gui import colour_pixels

ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def xvfb():
    """A private X server on a free display number; yields the DISPLAY string."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb libxcb-icccm4 libxcb-keysyms1)")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        pytest.skip("Xvfb did not start")
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


def test_app_window_under_xvfb(xvfb, tmp_path):
    from PyQt6.QtGui import QImage

    from app.gui.render import OFF_COLOUR, ON_COLOUR

    pytest.importorskip("model.checkpoint", reason="model/checkpoint.py (save_checkpoint) not available")
    rec = write_recording(tmp_path / "bar.aedat4")
    ckpt = write_checkpoint(tmp_path / "net.pt", tiny_config("tiny", (1, 2)), 0, "untrained (test)")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "gui_xvfb.png"
    shot.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=xvfb, GESTURE_GUI_SCREENSHOT=str(shot), GESTURE_GUI_SCREENSHOT_AFTER="4")
    proc = subprocess.run([sys.executable, "main.py", str(rec), "--model", str(ckpt), "--device", "cpu"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert f"screenshot saved to {shot}" in proc.stderr
    info = json.loads(Path(str(shot) + ".json").read_text())
    assert info["message"] == "", info["message"]

    img = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB888)
    assert img.width() >= 800 and img.height() >= 500
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    rgb = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())[:, : img.width() * 3]
    rgb = rgb.reshape(img.height(), img.width(), 3)
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 100, "the screenshot is blank"

    def panel(name: str) -> np.ndarray:
        x, y, w, h = info["panels"][name]
        assert w > 100 and h > 50, f"{name} panel collapsed: {w}x{h}"
        return rgb[y : y + h, x : x + w]

    events = panel("events")
    assert colour_pixels(events, ON_COLOUR) > 100 and colour_pixels(events, OFF_COLOUR) > 100
    gates = panel("attention")
    assert len(np.unique(gates.reshape(-1, 3), axis=0)) > 30, "the TCJA gate heatmaps show varying values"
    pred = panel("prediction")
    dark = np.count_nonzero(pred.max(axis=-1) < 60)
    assert dark > 500, "the prediction panel shows its large label and plots"

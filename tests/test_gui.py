"""The desktop app driven offscreen through its real window (pytest-qt).

The model is a tiny TCJA-SNN with random weights scaled up so spikes reach the head, saved
as real checkpoints and loaded through ``InferenceEngine.from_checkpoint`` as the app does;
the recording is a synthetic rotating bar written as AEDAT4 with a label file beside it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
torch = pytest.importorskip("torch")

from PyQt6.QtCore import Qt  # noqa: E402

from eventcore.events import make_events  # noqa: E402
from app.gui.render import BACKGROUND, OFF_COLOUR, ON_COLOUR, class_colours, event_image  # noqa: E402
from eventcore.labels import CLASS_NAMES  # noqa: E402

from tests.fixtures import DURATION_US, ROOT, TRUTH, tiny_config, write_checkpoint, write_recording  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("model.checkpoint", reason="model/checkpoint.py (save_checkpoint) not available")
    d = tmp_path_factory.mktemp("gui")
    return {
        "recording": write_recording(d / "bar.aedat4"),
        "a": write_checkpoint(d / "net_a.pt", tiny_config("tiny_a", (2,)), 0, "untrained (test a)"),
        "b": write_checkpoint(d / "net_b.pt", tiny_config("tiny_b", (1, 2)), 1, "simulated (test b)"),
    }


@pytest.fixture
def window(qtbot, files):
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    assert w.load_model(str(files["a"]), "cpu"), w.message
    assert w.open_source(str(files["recording"])), w.message
    yield w
    w.close()


def wait_prediction(qtbot, w, after=None, timeout=15_000):
    """Wait until a prediction newer than ``after`` has been drawn; return it."""
    qtbot.waitUntil(lambda: w.drawn_prediction is not None and w.drawn_prediction is not after, timeout=timeout)
    return w.drawn_prediction


def colour_pixels(rgb: np.ndarray, colour: np.ndarray) -> int:
    """Pixels tinted towards ``colour`` from the background (their dominant channel matches)."""
    diff = rgb.astype(np.float32) - BACKGROUND
    want = colour - BACKGROUND
    cos = (diff @ want) / (np.linalg.norm(diff, axis=-1) * np.linalg.norm(want) + 1e-6)
    return int(np.count_nonzero((cos > 0.97) & (np.linalg.norm(diff, axis=-1) > 40)))


def test_event_image_colours_and_decay():
    ev = make_events([0, 10, 20_000], [3, 5, 7], [2, 1, 0], [1, 0, 1])
    rgb = event_image(ev, 8, 4, mode="window")
    assert rgb.shape == (4, 8, 3)
    assert colour_pixels(rgb[2:3, 3:4], ON_COLOUR) == 1 and colour_pixels(rgb[1:2, 5:6], OFF_COLOUR) == 1
    untouched = np.ones((4, 8), bool)
    untouched[[2, 1, 0], [3, 5, 7]] = False
    assert (rgb[untouched] == BACKGROUND.astype(np.uint8)).all()
    decay = event_image(ev, 8, 4, mode="decay", tau_us=5_000)
    # same count, but the ON event at t=0 is 20 ms older than the one at (7, 0): it has faded
    assert decay[2, 3].astype(int).sum() < decay[0, 7].astype(int).sum()
    outside = make_events([0], [200], [1], [1])
    assert (event_image(outside, 8, 4) == BACKGROUND.astype(np.uint8)).all()
    with pytest.raises(ValueError, match="view mode"):
        event_image(ev, 8, 4, mode="blur")


def test_plays_and_shows_events_predictions_attention_status(qtbot, window, files):
    w = window
    first = wait_prediction(qtbot, w)
    pred = wait_prediction(qtbot, w, after=first)
    assert pred.t_end_us > first.t_end_us, "predictions must keep coming while playing"
    rgb = w.event_view.image.image
    assert rgb.shape == (128, 128, 3)
    assert colour_pixels(rgb, ON_COLOUR) > 50 and colour_pixels(rgb, OFF_COLOUR) > 50
    np.testing.assert_allclose(w.prediction.bars.opts["width"], pred.decision.smoothed)
    label = w.prediction.label.text()
    assert label == "no gesture" if pred.decision.index < 0 else label.startswith(pred.decision.label.replace("_", " "))
    cfg = w.session.engine.cfg
    assert len(w.attention.images) == len(cfg.tcja_blocks) == len(pred.gates)
    for img, tracker in zip(w.attention.images, w.attention.trackers):
        assert img.image.shape == (cfg.T, cfg.channels[cfg.tcja_blocks[0]])  # the gate's deviation from its mean
        assert img.levels[0] == -img.levels[1] and tracker.level <= img.levels[1] <= 1.5 * tracker.level
    qtbot.wait(400)
    assert re.search(r"[1-9][\d,]* k ev/s", w.status_rate.text()), w.status_rate.text()
    assert re.search(r"latency \d+ ms \(p95 \d+ ms\)", w.status_latency.text()), w.status_latency.text()
    assert "net_a" in w.status_model.text() and "untrained (test a)" in w.status_model.text()
    assert "CPU" in w.status_model.text()
    assert "bar.aedat4" in w.status_source.text() and "128x128" in w.status_source.text()
    truth_row = w.prediction.timeline_image.image[1]
    assert (truth_row == class_colours(len(CLASS_NAMES))[TRUTH]).all(axis=-1).any(), "truth row shows the label"
    assert w.message == ""

    overlay = w.event_view.overlay  # on by default: the class evidence map over the input square
    assert w.settings_panel.overlay.currentText() == "class evidence"
    assert overlay.isVisible() and w.event_view.bar.isVisible() and overlay.image.shape == (64, 64)
    np.testing.assert_array_equal(overlay.image, w.drawn_prediction.spike_maps.evidence)
    w.settings_panel.overlay.setCurrentIndex(2)  # block 1's spike-rate map over the input square
    assert overlay.isVisible() and overlay.image.shape == w.drawn_prediction.spike_maps[0].shape == (64, 64)
    w.settings_panel.view_mode.setCurrentIndex(1)  # exponential decay: keep 5 time constants of events
    assert w.session.pipe.view_us == 5 * 100_000
    qtbot.wait(200)
    assert colour_pixels(w.event_view.image.image, ON_COLOUR) > 50


def test_pause_seek_and_step(qtbot, window):
    w = window
    wait_prediction(qtbot, w)
    src = w.session.source
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert src.paused and w.playback.play.text() == "Play"
    qtbot.wait(150)
    pos = src.position_us
    qtbot.wait(400)
    assert src.position_us == pos, "paused playback must not advance"
    target = src.start_us + 2_000_000
    w.seek(target)
    hop, win = w.session.pipe.hop_us, w.session.pipe.window_us
    qtbot.waitUntil(lambda: src.position_us >= target + win + hop, timeout=5_000)
    wait_prediction(qtbot, w)
    qtbot.waitUntil(lambda: w.drawn_prediction.t_end_us > target, timeout=15_000)
    assert target < w.drawn_prediction.t_end_us <= target + win + hop
    pos = src.position_us
    qtbot.keyClick(w, Qt.Key.Key_Right)  # paused: one hop
    qtbot.waitUntil(lambda: src.position_us == pos + hop, timeout=5_000)
    qtbot.wait(200)
    assert src.position_us == pos + hop
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert not src.paused
    qtbot.waitUntil(lambda: src.position_us > pos + 3 * hop, timeout=5_000)


def test_switch_model(qtbot, window, files):
    w = window
    before = wait_prediction(qtbot, w)
    assert len(w.attention.images) == 1
    assert w.load_model(str(files["b"]), "cpu"), w.message
    assert w.session.engine.name == "net_b"
    assert len(w.attention.images) == 2, "one gate heatmap per TCJA block of the new model"
    pred = wait_prediction(qtbot, w, after=before)
    assert len(pred.gates) == 2 and pred in w.session.pipe.history
    qtbot.wait(300)
    assert w.status_model.text() == "net_b (trained on simulated data) | CPU"
    assert w.status_model.toolTip() == "trained on simulated (test b)"
    assert w.settings_panel.model.currentText() == "net_b"


def test_bad_inputs_show_a_message_and_the_app_stays_usable(qtbot, window, files, tmp_path):
    w = window
    before = wait_prediction(qtbot, w)
    bad = tmp_path / "notes.aedat4"
    bad.write_text("shopping list\n")
    assert not w.open_source(str(bad))
    assert "notes.aedat4" in w.message and "not an AEDAT recording" in w.message
    assert w.session.spec == str(files["recording"]), "the previous source stays open"
    wait_prediction(qtbot, w, after=before)

    assert not w.load_model(str(tmp_path / "missing.pt"), "cpu")
    assert "missing.pt" in w.message and w.session.engine.name == "net_a"

    mono = tiny_config("mono", (1,))
    from dataclasses import replace

    path = write_checkpoint(tmp_path / "mono.pt", replace(mono, in_channels=1), 0, "test")
    assert not w.load_model(str(path), "cpu")
    assert "input channel" in w.message and w.session.engine.name == "net_a"

    w.set_roi((100, 100, 64))
    assert "does not fit" in w.message
    w.set_roi((32, 32, 64))
    assert w.session.pipe.geometry.crop_box == (32, 32, 64) and w.event_view.box.isVisible()
    wait_prediction(qtbot, w)

    assert w.open_source(str(files["recording"]))
    assert w.message == ""
    wait_prediction(qtbot, w)


def test_record_the_stream(qtbot, window, tmp_path):
    from app.sources.open import open_file

    w = window
    out = tmp_path / "take.aedat4"
    assert w.start_recording(str(out))
    qtbot.waitUntil(lambda: w.status_rec.text().startswith("\u25cf REC") and w.session.recorder.elapsed_us > 300_000,
                    timeout=5_000)
    w.stop_recording()
    assert w.status_rec.text() == ""
    qtbot.wait(500)
    with open_file(out) as src:
        events = src.read_all()
        assert (src.width, src.height) == (128, 128)
    assert len(events) > 10_000 and np.all(np.diff(events["timestamp"]) >= 0)


def test_no_model_opens_and_says_so(qtbot, files, monkeypatch, tmp_path):
    import model.zoo
    from app.gui.main_window import MainWindow

    monkeypatch.setattr(model.zoo, "WEIGHTS_DIR", tmp_path)
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    assert not w.load_model(None)
    assert w.open_source(str(files["recording"]))
    assert "no shipped model" in w.message
    qtbot.wait(100)
    assert w.session.pipe is None and w.redraws == 0
    assert w.load_model(str(files["a"]), "cpu")
    assert w.message == ""
    wait_prediction(qtbot, w)
    w.close()


def test_no_display_runs_headless(files):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "main.py", str(files["recording"]), "--model", str(files["a"]),
                           "--device", "cpu"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == "no display found: running headless, printing classify output"
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines and all({"label", "latency_ms", "truth"} <= set(line) for line in lines)
    assert lines[-1]["t_end_us"] > DURATION_US // 2, "played through the recording"

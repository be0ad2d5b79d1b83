"""What users of event-camera viewers expect, driven through the real window (offscreen Qt):
menus that show the keys, 1 s / 5 s seeks, the backend chooser, the demo mode, the recording
indicator and its "saved to" line, the max-speed warning, the event-rate plot, video export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PyQt6.QtCore import Qt  # noqa: E402

from tests.fixtures import tiny_config, write_checkpoint, write_recording  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("features")
    return {"recording": write_recording(d / "bar.aedat4"),
            "model": write_checkpoint(d / "net.pt", tiny_config("tiny_f", (2,)), 0, "untrained (test)")}


@pytest.fixture
def window(qtbot, files):
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    assert w.load_model(str(files["model"]), "cpu"), w.message
    assert w.open_source(str(files["recording"])), w.message
    qtbot.waitUntil(lambda: w.drawn_prediction is not None, timeout=15_000)
    yield w
    w.close()


def menu_texts(w) -> dict[str, list[tuple[str, str]]]:
    """Every menu's (action text, shortcut as shown) pairs."""
    out = {}
    for top in w.menuBar().actions():
        menu = top.menu()
        out[top.text().replace("&", "")] = [(a.text(), a.shortcut().toString()) for a in menu.actions() if a.text()]
    return out


def test_menus_show_the_keys_and_shift_ctrl_arrows_seek_1_and_5_seconds(qtbot, window):
    w = window
    menus = menu_texts(w)
    assert list(menus) == ["Source", "Model", "Playback", "View", "Help"]
    keys = dict(menus["Playback"])
    assert keys["Play / pause"] == "Space" and keys["Forward 1 s"] == "Shift+Right"
    assert keys["Back 5 s"] == "Ctrl+Left" and keys["Record / stop recording"] == "R"
    assert dict(menus["View"])["Full screen demo mode"].startswith("F")
    assert any(t == "Inference backend" for t, _ in menus["Model"])

    qtbot.keyClick(w, Qt.Key.Key_Space)  # pause, so the position only moves when we seek
    assert w.session.paused
    src = w.session.source
    qtbot.waitUntil(lambda: w.session.source.position_us > src.start_us, timeout=5_000)
    w.session.seek(src.start_us + 1_000_000)
    qtbot.wait(100)
    base = src.position_us
    qtbot.keyClick(w, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    # paused, a seek plays one window (and a hop) there so it is shown: position = target + that
    shown = w.session.pipe.window_us + w.session.pipe.hop_us
    qtbot.waitUntil(lambda: src.position_us >= base + 1_000_000, timeout=5_000)
    assert abs(src.position_us - (base + 1_000_000 + shown)) <= shown
    qtbot.keyClick(w, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)  # 5 s back: clamped to the start
    qtbot.waitUntil(lambda: src.position_us <= src.start_us + shown + 10_000, timeout=5_000)


def test_demo_mode_enlarges_the_view_and_the_gesture_name(qtbot, window):
    w = window
    share = lambda: w.event_view.width() * w.event_view.height() / (w.width() * w.height())  # noqa: E731
    before_view, before_font = share(), w.prediction.label.font().pointSize()
    qtbot.keyClick(w, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: w.tools.demo and not w.settings_panel.isVisible(), timeout=5_000)
    qtbot.wait(100)
    assert not w.attention.isVisible() and not w.menuBar().isVisible() and not w.statusBar().isVisible()
    name = w.tools.demo_name  # the gesture name in large type over the event view, fitted to it
    qtbot.waitUntil(lambda: name.isVisible() and name.geometry().right() <= w.event_view.width(), timeout=3_000)
    assert name.text() == w.prediction.label.text() and name.font().pointSize() >= 2 * before_font
    assert share() > 1.3 * before_view, (share(), before_view)  # of the window (offscreen: the screen is small)
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not w.tools.demo and w.settings_panel.isVisible(), timeout=5_000)
    assert not w.tools.demo_name.isVisible() and w.menuBar().isVisible()


def test_recording_indicator_and_saved_to_line(qtbot, window, tmp_path):
    w = window
    out = tmp_path / "rec.aedat4"
    assert w.start_recording(str(out))
    qtbot.waitUntil(lambda: w.tools.rec_indicator.isVisible() and " events" in w.tools.rec_indicator.text(),
                    timeout=5_000)
    qtbot.waitUntil(lambda: w.session.recorder is not None and w.session.recorder.events_written > 0, timeout=5_000)
    text = w.tools.rec_indicator.text()
    assert text.startswith("\u25cf REC ") and " s \u00b7 " in text and text.endswith(" MB")
    w.stop_recording()
    qtbot.waitUntil(lambda: w.statusBar().currentMessage().startswith(f"saved to {out}"), timeout=5_000)
    assert not w.tools.rec_indicator.isVisible() and "events" in w.statusBar().currentMessage()


def test_max_speed_warns_that_predictions_are_not_real_time(qtbot, window):
    w = window
    pb = w.playback
    pb.speed.setCurrentIndex(pb.speed.findData(1.0))
    qtbot.wait(400)
    assert not w.tools.speed_warning.isVisible()
    pb.speed.setCurrentIndex(pb.speed.count() - 1)  # "max"
    qtbot.waitUntil(lambda: w.tools.speed_warning.isVisible(), timeout=3_000)
    assert "not in real time" in w.tools.speed_warning.text()


def test_event_rate_plot_follows_the_stream(qtbot, window):
    w = window
    qtbot.waitUntil(lambda: len(w.tools.rate_plot.points) >= 3, timeout=10_000)
    rates = np.array([r for _, r in w.tools.rate_plot.points])
    # the rotating bar emits 120 k events/s; the rate is measured in stream time (whatever the speed)
    assert np.median(rates) == pytest.approx(120, rel=0.25)
    assert w.tools.rate_plot.isVisible()


def test_backend_chooser_reloads_the_model_and_says_which(qtbot, window):
    from app.backends import available_backends

    w = window
    assert w.tools.set_backend("torch") and w.session.engine.backend == "torch"
    assert w.tools.backend_actions["torch"].isChecked()
    missing = [b for b in ("onnxruntime", "openvino") if b not in available_backends()]
    for b in missing:
        assert not w.tools.backend_actions[b].isEnabled()


def test_export_video_from_the_window(qtbot, window, tmp_path):
    av = pytest.importorskip("av")
    w = window
    out = tmp_path / "from_gui.mp4"
    assert w.tools.start_export(w.session.spec, str(out))
    qtbot.waitUntil(lambda: w.tools.export_state["done"], timeout=120_000)
    qtbot.waitUntil(lambda: w.statusBar().currentMessage().startswith(f"video saved to {out}"), timeout=3_000)
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 75  # 3 s at 25 fps
    assert not w.tools.start_export(w.session.spec, str(tmp_path / "x.avi")) and "name it .mp4" in w.message


def test_record_a_video_of_the_run(qtbot, window, tmp_path):
    """The stream is recorded beside the MP4 and, when the recording stops, exported to it."""
    av = pytest.importorskip("av")
    w = window
    out = tmp_path / "run.mp4"
    assert w.tools.record_video(str(out))
    qtbot.waitUntil(lambda: w.session.recorder is not None and w.session.recorder.elapsed_us > 600_000, timeout=10_000)
    w.stop_recording()
    qtbot.waitUntil(lambda: w.tools.export_state is not None and w.tools.export_state["done"], timeout=120_000)
    assert w.tools.export_state["error"] is None and out.with_suffix(".aedat4").is_file()
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) >= 10  # at least 0.4 s of the run at 25 fps

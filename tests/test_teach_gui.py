"""The Teach panel driven offscreen (pytest-qt): guided recording from a file source with a fake clock."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from eventcore.labels import LabelTimeline  # noqa: E402
from eventcore.takes import read_manifest, take_files  # noqa: E402
from tests.fixtures import write_recording  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def panel(qtbot, tmp_path):
    from app.gui.teach_panel import TeachPanel

    clock = FakeClock()
    p = TeachPanel(clock=clock)
    p.timer.stop()  # the test ticks by hand, so each step is deterministic
    qtbot.addWidget(p)
    p.show()
    p.clock_ = clock
    p.folder.setText(str(tmp_path / "takes"))
    yield p
    p.close()


def test_guided_recording_from_a_file_source_with_a_fake_clock(qtbot, panel, tmp_path):
    from app.sources.open import open_file
    from PyQt6.QtCore import Qt

    src = open_file(write_recording(tmp_path / "bar.aedat4"))
    src.speed, src.loop = 1.0, True  # the recording stands in for a camera
    panel.attach_source(src)
    panel.set_class_names(["thumbs up", "swipe"])
    assert panel.set_choice.currentText() == "my own gestures" and panel.add_name.isEnabled()
    panel.takes.setValue(1)
    panel.take_s.setValue(1.0)
    panel.countdown_s.setValue(3.0)
    clock = panel.clock_
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.prompt.text() == "get ready: thumbs up (take 1) in 3 s" and panel.rec.text() == ""
    clock.t += 3.0
    panel.tick()
    assert panel.rec.text() == "● REC" and panel.prompt.text().startswith("RECORDING thumbs up")
    rec = panel.session.recording
    qtbot.waitUntil(lambda: rec.events_written > 10_000, timeout=10_000)
    clock.t += 1.0
    panel.tick()
    assert panel.prompt.text() == "get ready: swipe (take 1) in 3 s" and panel.progress.value() == 1
    assert [f.name for f in take_files(tmp_path / "takes")] == ["c00_thumbs_up_01.aedat4"]
    assert panel.take_list.item(0).text().startswith("✓ thumbs up")
    clock.t += 3.0
    panel.tick()
    rec = panel.session.recording
    qtbot.waitUntil(lambda: rec.events_written > 10_000, timeout=10_000)
    clock.t += 1.0
    panel.tick()
    assert panel.prompt.text().startswith("done: 2 of 2") and panel.progress.value() == 2
    files = take_files(tmp_path / "takes")
    assert [f.name for f in files] == ["c00_thumbs_up_01.aedat4", "c01_swipe_01.aedat4"]
    tl = LabelTimeline.from_csv(files[1].with_name("c01_swipe_01_labels.csv"))
    assert list(tl.label) == [1]
    assert read_manifest(tmp_path / "takes").class_names == ("thumbs up", "swipe")

    # delete the first take from the list, then record it again ("Start" asks for the missing one)
    panel.take_list.setCurrentRow(0)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert not (tmp_path / "takes" / "c00_thumbs_up_01.aedat4").exists() and panel.progress.value() == 1
    assert panel.take_list.item(0).text().startswith("  thumbs up")
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.prompt.text().startswith("get ready: thumbs up (take 1)")
    clock.t += 3.0
    panel.tick()
    rec = panel.session.recording
    qtbot.waitUntil(lambda: rec.events_written > 10_000, timeout=10_000)
    clock.t += 1.0
    panel.tick()
    assert (tmp_path / "takes" / "c00_thumbs_up_01.aedat4").exists() and panel.progress.value() == 2


def test_marking_takes_on_a_recording_and_a_clear_refusal(qtbot, panel, tmp_path):
    from app.sources.open import open_file
    from PyQt6.QtCore import Qt

    panel.tick()
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert "open a camera" in panel.status.text()  # no source yet: one line, nothing written
    assert not (tmp_path / "takes").exists()
    src = open_file(write_recording(tmp_path / "bar.aedat4"))
    panel.set_sensor(src.width, src.height, src.camera, src)
    assert panel.mark_box.isEnabled()
    panel.takes.setValue(2)
    panel.take_s.setValue(1.0)
    src.seek(src.start_us + 500_000)  # the main window's timeline at 0.5 s
    qtbot.mouseClick(panel.playhead_button, Qt.MouseButton.LeftButton)
    assert panel.mark_at.value() == pytest.approx(0.5, abs=0.01)
    panel.mark()
    panel.mark_class.setCurrentIndex(3)
    panel.mark_at.setValue(1.5)
    panel.mark()
    panel.tick()
    names = [f.name for f in take_files(tmp_path / "takes")]
    assert names == ["c00_hand_clapping_01.aedat4", "c03_right_arm_clockwise_01.aedat4"]
    assert panel.progress.value() == 2 and "marked c03_right_arm_clockwise_01" in panel.status.text()
    tl = LabelTimeline.from_csv(tmp_path / "takes" / "c03_right_arm_clockwise_01_labels.csv")
    assert 1_500_000 <= tl.start_us[0] and tl.end_us[0] <= 2_500_001


def test_main_window_fine_tunes_a_custom_set_offers_and_remembers_it(qtbot, tmp_path, monkeypatch):
    """Teach panel's Fine-tune button -> the new 3-gesture model is listed, loaded, classifying; a new window lists it."""
    from PyQt6.QtCore import QSettings, Qt

    import app.gui.teach_panel as teach_panel
    from app.gui.main_window import MainWindow
    from tests.fixtures import tiny_config, write_checkpoint
    from tests.test_finetune import bar_folder

    monkeypatch.setattr(teach_panel, "model_store", lambda: QSettings(str(tmp_path / "qt.ini"), QSettings.Format.IniFormat))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    base = write_checkpoint(tmp_path / "tiny.pt", tiny_config("tiny", (2,)), 0, "untrained (test)")
    names = ["thumbs up", "swipe", "knock"]
    folder = bar_folder(tmp_path / "mine", names, 2)

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    assert w.load_model(str(base), "cpu"), w.message
    assert w.open_source(str(folder.take_path(1, 1))), w.message
    panel = w.teach_panel
    qtbot.waitUntil(lambda: len(panel._recent) > 0, timeout=10_000)  # the pipeline taps its stream into the panel
    assert panel.sensor == (128, 128) and panel.mark_box.isEnabled()
    panel.folder.setText(str(folder.path))
    panel.base_model.setText(str(base))
    panel.epochs.setValue(1)
    qtbot.mouseClick(panel.tune_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.session.engine is not None and w.session.engine.name == "mine-tiny", timeout=60_000)
    assert w.session.engine.class_names == tuple(names)
    assert panel.tune_progress.value() == 100 and "held-out before n/a" in panel.tune_result.text()
    combo = w.settings_panel.model
    assert combo.findText("mine-tiny") >= 0 and combo.currentText() == "mine-tiny"
    w.toggle_play()
    w.toggle_play()
    qtbot.waitUntil(lambda: w.drawn_prediction is not None, timeout=20_000)
    assert len(w.drawn_prediction.rates) == 3
    w.close()

    again = MainWindow()
    qtbot.addWidget(again)
    assert again.settings_panel.model.findText("mine-tiny") >= 0  # remembered across windows (QSettings)
    again.close()

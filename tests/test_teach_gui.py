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
    panel.mark_at.setValue(0.5)
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

"""The app's Qt-free session: settings owned in one place, model loading, playback arithmetic, status text.

No QApplication here: :mod:`app.session` must work (and be testable) without Qt.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from eventcore.errors import CheckpointError, SettingsError, SourceError
from eventcore.framing import DEFAULT_MODE, zoom_box
from eventcore.settings import WindowRequest, WindowSettings
from app.session import Session, Settings, about_model, latency_summary
from tests.fixtures import DURATION_US, ROOT, tiny_config, write_checkpoint, write_recording


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("session")
    return {
        "recording": write_recording(d / "bar.aedat4"),
        "model": write_checkpoint(d / "net.pt", tiny_config("tiny", (2,)), 0, "untrained (session test)"),
        "mono": write_checkpoint(d / "mono.pt", replace(tiny_config("mono", (1,)), in_channels=1), 0, "mono"),
    }


@pytest.fixture
def session(files):
    s = Session(Settings(speed=None, loop=False))
    s.load_model(str(files["model"]), "cpu")
    s.open(str(files["recording"]))
    yield s
    s.close()


def test_session_imports_no_qt():
    import subprocess

    code = "import sys, app.session; sys.exit(any(m.split('.')[0] in ('PyQt6', 'pyqtgraph') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_requested_windowing_survives_loading_the_model(files):
    s = Session(Settings(window=WindowRequest.from_ms(hop_ms=50)))
    assert s.windowing is None  # no model yet: nothing in force
    s.load_model(str(files["model"]), "cpu")
    assert s.windowing == WindowSettings(300_000, 50_000), "the CLI's hop over the checkpoint's window"
    s.open(str(files["recording"]))
    try:
        assert (s.pipe.window_us, s.pipe.hop_us) == (300_000, 50_000)
    finally:
        s.close()


def test_windowing_changes_restart_only_when_they_change(session):
    pipe = session.pipe
    assert not session.set_windowing_ms(window_ms=300), "the value in force is no change"
    assert session.pipe is pipe and session.settings.window == WindowRequest()
    assert session.set_windowing_ms(hop_ms=200)
    assert session.pipe is not pipe and session.pipe.windowing == WindowSettings(300_000, 200_000)
    pipe = session.pipe
    for bad in (-5, 0, float("nan"), float("inf")):
        with pytest.raises(SettingsError, match="hop"):
            session.set_windowing_ms(hop_ms=bad)
    assert session.pipe is pipe and session.windowing.hop_us == 200_000, "a refusal changes nothing"


def test_bad_roi_is_refused_and_the_old_pipeline_keeps_running(session):
    with pytest.raises(SettingsError, match="does not fit"):
        session.set_roi((100, 100, 64))
    assert session.settings.roi is None and session.pipe is not None
    assert session.pipe.geometry.crop_box == (0, 0, 128)
    assert session.set_roi((32, 32, 64)) and session.pipe.geometry.crop_box == (32, 32, 64)


def test_view_settings_need_no_restart(session):
    pipe = session.pipe
    session.set_view("decay", 40)
    assert session.pipe is pipe and pipe.view_us == 5 * 40_000 == session.settings.view_us
    with pytest.raises(SettingsError):
        session.set_view(span_ms=-1)
    with pytest.raises(SettingsError, match="view mode"):
        session.set_view(mode="blur")


def test_playback_arithmetic(session):
    src = session.source
    session.pause()
    assert session.paused
    session.seek_fraction(0.5)
    win, hop = session.pipe.window_us, session.pipe.hop_us
    deadline = time.monotonic() + 10
    while src.position_us < src.start_us + DURATION_US // 2 + win + hop and time.monotonic() < deadline:
        time.sleep(0.01)
    pos = src.position_us
    assert pos >= src.start_us + DURATION_US // 2, "seek while paused plays one window there"
    session.forward()  # paused: one hop
    deadline = time.monotonic() + 10
    while src.position_us < pos + hop and time.monotonic() < deadline:
        time.sleep(0.01)
    assert src.position_us == pos + hop
    session.seek_fraction(7.0)  # clamped to the end
    session.toggle_play()
    assert not session.paused


def test_status_text_and_end_report(session):
    assert session.pipe.wait(30), "a file at full speed ends"
    st = session.status(time.perf_counter())
    assert "bar.aedat4" in st.source and re.fullmatch(r"[\d,]+ k ev/s", st.rate), st  # max speed: no skip count
    assert st.latency.startswith("latency ") and "(p95" in st.latency
    assert st.model == "net (trained on untrained (session test)) | CPU"
    assert st.model_detail == "trained on untrained (session test)"
    assert st.time.endswith(f"/ {DURATION_US / 1e6:.1f} s") and 0.9 <= st.seek_fraction <= 1.0
    assert st.recording == ""
    assert session.end_report() == ("ended", "end of recording: press Play to start again")
    session.toggle_play()  # after the end: starts again
    assert session.pipe is not None and not session.pipe.done


def test_model_problems_keep_the_old_model(session, files, tmp_path):
    engine = session.engine
    with pytest.raises(CheckpointError, match="input channel"):
        session.load_model(str(files["mono"]), "cpu")
    with pytest.raises(CheckpointError, match="missing.pt"):
        session.load_model(str(tmp_path / "missing.pt"), "cpu")
    with pytest.raises(SettingsError, match="--device foo"):
        session.load_model(str(files["model"]), "foo")
    assert session.engine is engine and session.pipe is not None


def test_bad_source_keeps_the_current_one(session, tmp_path):
    bad = tmp_path / "notes.aedat4"
    bad.write_text("shopping list\n")
    src = session.source
    with pytest.raises(SourceError, match="notes.aedat4"):
        session.open(str(bad))
    assert session.source is src


def test_about_names_the_model_and_its_windowing(session):
    summary, card = about_model(session.engine)
    assert "<b>net</b>" in summary and "<b>trained on untrained (session test)</b>" in summary
    assert "window 300 ms, hop 100 ms" in summary and card == ""
    assert session.about() == (summary, card)
    assert Session().about() == ("no model loaded", "")


def test_latency_summary():
    assert latency_summary([]) is None
    assert latency_summary([1.0, 2.0, 3.0]) == (2.0, pytest.approx(2.9))


def test_demo_paths(monkeypatch, tmp_path):
    import app.demo as demo

    monkeypatch.setattr(demo, "RECORDINGS_DIR", tmp_path)
    assert demo.demo_recordings() == []
    with pytest.raises(SourceError, match="no demo recording"):
        demo.default_demo()
    (tmp_path / "b.aedat4").touch()
    (tmp_path / "a.aedat4").touch()
    assert demo.default_demo() == tmp_path / "a.aedat4"


def test_about_box_and_status_read_as_words():
    from app.session import accuracy_lines, short_trained_on, skipped_text, trained_on_text

    shipped = {"train_acc_last": 0.96, "test_acc_last": 0.949, "simulated_test_last_epoch": 0.957,
               "demo_gesture_windows": 1.0, "teacher_on_simulated_test": 0.68}
    lines = accuracy_lines(shipped)
    assert lines == [("simulated test set (as the app decides)", 0.957), ("demo recordings' gesture windows", 1.0)]
    assert all("_" not in text for text, _ in accuracy_lines({**shipped, "heldout_takes_after": 1.0, "odd_key": 0.5}))
    tuned = "fine-tuned on 4 takes of 2 gestures (/x) from small64 (trained on simulated DVS gestures)"
    assert trained_on_text(tuned) == tuned and trained_on_text("real data") == "trained on real data"
    assert short_trained_on(tuned) == "fine-tuned" and short_trained_on("simulated, not real") == "trained on simulated data"
    assert skipped_text(None) == "" and skipped_text(0.034) == " | skipped 3% of windows"


def test_automatic_framing_is_a_setting_that_restarts_the_pipeline_with_it(session):
    assert session.settings.framing == (DEFAULT_MODE == "auto")
    assert (session.pipe.framing is not None) == session.settings.framing, "the default is in force"
    assert session.set_roi((32, 32, 64)) and (session.pipe.framing is not None) == session.settings.framing
    if session.settings.framing:
        assert session.set_framing(False) and session.pipe.framing is None
    pipe = session.pipe
    assert session.set_framing(True) and session.pipe is not pipe and session.pipe.framing is not None
    assert not session.set_framing(True), "the value in force is no change"
    assert session.pipe._framed[-1].crop_box == zoom_box((32, 32, 64), session.pipe.framing.zooms[-1]), \
        "framing zooms inside the ROI"
    assert session.set_framing(False) and session.pipe.framing is None

"""What a first-time user meets, driven through the real window offscreen (pytest-qt), issue 25.

A model with gestures of its own, a saved screenshot, the Teach panel's layout and Start on a
paused recording, the skip counter, a source that fails to open, the status bar, and the
timeline's marks of when a gesture began and when the model first named it (issue 24), the
legends of the timeline's colours and of the event view's input square, and redraws that hold no memory.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("pytestqt")
torch = pytest.importorskip("torch")

from PyQt6.QtCore import Qt, QTimer  # noqa: E402
from PyQt6.QtGui import QAction, QKeySequence  # noqa: E402
from PyQt6.QtWidgets import QApplication, QFileDialog, QLineEdit  # noqa: E402

from eventcore.events import EVENT_DTYPE, make_events  # noqa: E402
from eventcore.labels import LabelTimeline  # noqa: E402
from tests.fixtures import TRUTH, rotating_bar, tiny_config, write_checkpoint, write_recording  # noqa: E402
from tests.test_gui import wait_prediction  # noqa: E402

BAR_FROM_US = 1_000_000


def own_checkpoint(path, names, favour: int | None = None, seed: int = 0):
    """A tiny checkpoint with these gesture names; ``favour``: a class its head always votes for."""
    from dataclasses import replace

    from model.checkpoint import CheckpointMeta, Windowing, load_checkpoint, save_checkpoint

    cfg = replace(tiny_config("own", (2,)), n_classes=len(names))
    write_checkpoint(path, cfg, seed, "test")  # the fixture's scaled random weights ...

    net, cfg, _ = load_checkpoint(path, map_location="cpu")
    if favour is not None:  # ... with a head that names one class whenever the hidden layer spikes
        hidden, head = net.fc[2][0], net.fc[-2][0]
        hidden.weight.data.abs_().mul_(10)  # events make the hidden layer spike at every step
        w = torch.full_like(head.weight, -50.0)
        w[favour * cfg.voting:(favour + 1) * cfg.voting] = 50.0
        head.weight.data.copy_(w)
    save_checkpoint(path, net, cfg, CheckpointMeta(tuple(names), Windowing(300_000, 100_000, "number",
                                                                             cfg.input_size, "center_crop_scale"),
                                                   "fine-tuned on 4 takes (test)"))
    return path


def idle_then_bar(path):
    """1 s of sparse noise (an idle scene), then the rotating bar labelled as gesture TRUTH."""
    from app.sources.recorder import write_aedat4

    rng = np.random.default_rng(1)
    n = 800
    noise = make_events(np.sort(rng.integers(0, BAR_FROM_US, n)), rng.integers(0, 128, n), rng.integers(0, 128, n),
                        rng.integers(0, 2, n))
    bar = rotating_bar(2_000_000)
    bar["timestamp"] += BAR_FROM_US
    write_aedat4(path, np.concatenate([noise, bar], dtype=EVENT_DTYPE), 128, 128)
    LabelTimeline(np.array([BAR_FROM_US]), np.array([3_000_000]), np.array([TRUTH])).to_csv(
        path.with_name(path.stem + "_labels.csv"))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    pytest.importorskip("model.checkpoint", reason="model/checkpoint.py (save_checkpoint) not available")
    d = tmp_path_factory.mktemp("trust")
    return {
        "recording": write_recording(d / "bar.aedat4"),
        "idle_bar": idle_then_bar(d / "idle_bar.aedat4"),
        "dvs": write_checkpoint(d / "net.pt", tiny_config("tiny_t", (2,)), 0, "untrained (test)"),
        "two_blocks": write_checkpoint(d / "net2.pt", tiny_config("tiny_2", (1, 2)), 1, "untrained (test)"),
        "own": own_checkpoint(d / "clap_wave.pt", ("clap", "wave")),
        "favour": own_checkpoint(d / "favour.pt", ("hand_clapping", "right_hand_wave", "left_hand_wave",
                                                     "right_arm_clockwise"), favour=TRUTH),
    }


@pytest.fixture
def window(qtbot, files):
    from app.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    yield w
    w.close()


def test_a_model_with_its_own_gestures_shows_its_names_and_says_the_truth_is_not_among_them(qtbot, window, files):
    from app.gui.prediction_view import NOT_IN_MODEL, UNKNOWN_TRUTH_COLOUR

    w = window
    assert w.load_model(str(files["own"]), "cpu") and w.open_source(str(files["recording"])), w.message
    first = wait_prediction(qtbot, w, timeout=60_000)  # the first window of a cold start on a busy CPU
    clock = w.playback.time.text()
    qtbot.waitUntil(lambda: w.drawn_prediction is not first and w.drawn_prediction.truth == TRUTH, timeout=60_000)
    pred = w.drawn_prediction
    assert [t for _, t in w.prediction.bars_plot.getAxis("left")._tickLevels[0]] == ["clap", "wave"]
    assert w.prediction.detail.text().endswith(f"truth: right arm clockwise ({NOT_IN_MODEL})")
    head = w.prediction.label.text()
    assert head == "no gesture" or head.split()[0] in ("clap", "wave")
    truth_row = w.prediction.timeline_image.image[1]
    assert (truth_row == UNKNOWN_TRUTH_COLOUR).all(axis=-1).any(), "the labelled gesture has its own colour"
    assert NOT_IN_MODEL in w.prediction.legend.text()
    qtbot.waitUntil(lambda: w.playback.time.text() != clock, timeout=20_000)  # the clock keeps going
    assert w.session.pipe.error is None and pred.decision.index < 2


def test_timeline_marks_when_the_gesture_began_and_when_it_was_first_named(qtbot, window, files):
    w = window
    assert w.load_model(str(files["favour"]), "cpu") and w.open_source(str(files["idle_bar"])), w.message
    qtbot.waitUntil(lambda: w.drawn_prediction is not None and w.drawn_prediction.t_end_us > 2_000_000,
                    timeout=20_000)
    qtbot.keyClick(w, Qt.Key.Key_Space)  # pause: the history stops growing
    qtbot.waitUntil(lambda: w.drawn_prediction is w.session.pipe.latest, timeout=10_000)
    qtbot.wait(300)
    qtbot.waitUntil(lambda: w.drawn_prediction is w.session.pipe.latest, timeout=10_000)
    history = list(w.session.pipe.history)
    decided = [p.decision.index for p in history]
    truth = [p.truth for p in history]
    began = truth.index(TRUTH)
    assert TRUTH in decided, [(p.t_end_us, p.n_events, p.decision.index, p.decision.reason) for p in history]
    named = decided.index(TRUTH)
    assert decided[:named] and all(d < 0 for d in decided[:named]), "idle before the bar: no gesture"
    n = len(history)
    named_x, _ = w.prediction.named_marks.getData()
    began_x, _ = w.prediction.began_marks.getData()
    assert list(began_x) == [began - n] and list(named_x) == [named - n]
    delay = (history[named].t_end_us - history[began].t_end_us) / 1e6
    assert f"named {delay:.2f} s after it began" in w.prediction.legend.text()
    assert "gesture first named" in w.prediction.legend.text() and "labelled gesture began" in w.prediction.legend.text()


def test_screenshot_is_the_window_without_the_save_dialog(qtbot, window, files, tmp_path):
    from PyQt6.QtGui import QImage

    w = window
    assert w.load_model(str(files["dvs"]), "cpu") and w.open_source(str(files["recording"])), w.message
    wait_prediction(qtbot, w, timeout=60_000)
    out = tmp_path / "shot.png"
    seen = {}
    real_save = w.save_screenshot

    def save(path):
        seen["dialogs"] = [d for d in QApplication.topLevelWidgets() if isinstance(d, QFileDialog) and d.isVisible()]
        return real_save(path)

    w.save_screenshot = save

    def type_path() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(50, type_path)
            return
        edit = dialog.findChild(QLineEdit, "fileNameEdit")
        edit.setText(str(out))  # typed in one go: no completion popup to catch the Enter
        qtbot.keyClick(edit, Qt.Key.Key_Return)
        guard = QTimer(dialog)  # never hang the suite on a dialog left open (dies with the dialog)
        guard.setSingleShot(True)
        guard.timeout.connect(dialog.reject)
        guard.start(3000)

    QTimer.singleShot(50, type_path)
    save_action = next(a for a in w.findChildren(QAction) if a.text().startswith("Save screenshot"))
    assert save_action.shortcut().matches(QKeySequence("Ctrl+S")) == QKeySequence.SequenceMatch.ExactMatch
    save_action.trigger()  # what Ctrl+S does (offscreen the window is never active, so no key reaches it)
    qtbot.waitUntil(lambda: out.exists() and "dialogs" in seen, timeout=10_000)
    assert seen["dialogs"] == [], "the dialog had closed before the grab"
    img = QImage(str(out))
    dpr = w.devicePixelRatioF()
    assert (img.width(), img.height()) == (round(w.width() * dpr), round(w.height() * dpr))
    assert str(out) in w.statusBar().currentMessage()


def test_teach_panel_opens_beside_the_views_without_growing_or_squeezing_them(qtbot, window, files):
    w = window
    assert w.load_model(str(files["two_blocks"]), "cpu") and w.open_source(str(files["recording"])), w.message
    wait_prediction(qtbot, w, timeout=60_000)
    w.teach_dock.show()
    qtbot.wait(200)
    assert w.minimumSizeHint().height() <= 760, "fits a 1000-pixel screen with its status bar"
    assert (w.width(), w.height()) == (1280, 800)
    assert w.playback.seek.width() >= 160, "the seek slider stays usable"
    assert w.prediction.bars_plot.height() >= 100 and w.attention.height() >= 80
    assert w.prediction.width() >= 280 and w.event_view.width() >= 300, "the views keep their room"
    assert w.teach_dock.width() <= 460
    scroll = w.teach_dock.widget()
    assert not scroll.horizontalScrollBar().isVisible(), "the panel fits its dock: nothing cut on the right"
    assert w.teach_panel.width() <= scroll.viewport().width()
    plots = [w.attention.ci.layout.itemAt(i) for i in range(w.attention.ci.layout.count())]
    assert len(plots) == 3 and all(p.geometry().right() <= w.attention.width() for p in plots), \
        "the caption and both gate plots stay inside the narrowed attention view"
    split = w.prediction.parentWidget().parentWidget()
    sizes = split.sizes()
    w.prediction.label.setText("a very long gesture name that would push the splitter " * 3)
    w.prediction.detail.setText("truth: something else entirely, and at length " * 3)
    qtbot.wait(100)
    assert split.sizes() == sizes, "the prediction text does not move the splitter"


def test_teach_start_on_a_paused_recording_plays_it(qtbot, window, files, tmp_path):
    w = window
    assert w.load_model(str(files["dvs"]), "cpu") and w.open_source(str(files["recording"])), w.message
    wait_prediction(qtbot, w, timeout=60_000)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert w.session.paused
    w.teach_dock.show()
    panel = w.teach_panel
    assert panel.mark_class.count() == 11 and panel.mark_class.currentText() == "hand_clapping", \
        "the gestures to mark are there before Start"
    panel.folder.setText(str(tmp_path / "takes"))
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert not w.session.paused and w.playback.play.text() == "Pause", "Start plays the recording"
    n = panel.session.folder
    assert n is not None and panel.prompt.text().startswith("get ready")


def test_teach_start_without_a_model_says_why(qtbot, window, files, tmp_path):
    w = window
    assert w.open_source(str(files["recording"]))
    w.teach_dock.show()
    w.teach_panel.folder.setText(str(tmp_path / "takes"))
    qtbot.mouseClick(w.teach_panel.start_button, Qt.MouseButton.LeftButton)
    assert w.teach_panel.session is None
    assert w.teach_panel.status.text().startswith("cannot start: load a model first")


def test_skipped_counts_only_live_or_paced_play_since_the_last_play(qtbot, window, files):
    w = window
    assert w.load_model(str(files["dvs"]), "cpu") and w.open_source(str(files["recording"])), w.message
    wait_prediction(qtbot, w, timeout=60_000)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    for _ in range(6):  # paused seeks and steps each play a window or more at once
        qtbot.keyClick(w, Qt.Key.Key_Left)
        qtbot.keyClick(w, Qt.Key.Key_Right)
    qtbot.wait(700)
    assert "skipped" not in w.status_rate.text(), "nothing is skipped while paused"
    w.playback.speed.setCurrentIndex(w.playback.speed.findText("max"))
    qtbot.keyClick(w, Qt.Key.Key_Space)
    qtbot.wait(800)
    assert "skipped" not in w.status_rate.text(), "at max speed the counter is off"
    w.playback.speed.setCurrentIndex(w.playback.speed.findText("1x"))
    qtbot.wait(800)
    share = w.session.skipped_share()
    assert share is not None and 0.0 <= share <= 1.0, "counted again from the change to 1x"
    assert re.search(r"k ev/s \| skipped \d{1,3}% of windows$", w.status_rate.text()), w.status_rate.text()


def test_a_source_that_fails_to_open_leaves_a_consistent_screen(qtbot, window, files, tmp_path):
    w = window
    assert w.load_model(str(files["dvs"]), "cpu")
    bad = tmp_path / "notes.aedat4"
    bad.write_text("shopping list\n")
    assert not w.open_source(str(bad))
    error = w.message
    assert "notes.aedat4" in error
    qtbot.wait(100)
    assert w.prediction.label.text() == "no source"
    engine = w.session.engine
    assert w.settings_panel.window_ms.value() == engine.windowing.window_ms
    assert w.settings_panel.hop_ms.value() == engine.windowing.hop_ms
    ticks = [t for _, t in w.prediction.bars_plot.getAxis("left")._tickLevels[0]]
    assert ticks[0] == "hand clapping" and len(ticks) == len(engine.class_names)
    assert not w.playback.record.isEnabled()
    qtbot.keyClick(w, Qt.Key.Key_R)
    assert w.message == error, "the reason the source failed stays in view"


def test_status_bar_keeps_the_model_and_device_in_view(qtbot, window, files, tmp_path):
    import shutil

    w = window
    long = tmp_path / ("a_recording_with_a_long_descriptive_name_" * 4 + ".aedat4")
    shutil.copy(files["recording"], long)
    assert w.load_model(str(files["own"]), "cpu") and w.open_source(str(long)), w.message
    wait_prediction(qtbot, w, timeout=60_000)
    qtbot.wait(400)
    model = w.status_model
    assert model.text() == "clap_wave (fine-tuned) | CPU" and "fine-tuned on 4 takes (test)" == model.toolTip()
    w.status_rate.setText("123,456 k ev/s | skipped 12% of windows")
    w.status_latency.setText("latency 1234 ms (p95 5678 ms)")
    qtbot.wait(100)
    bar = w.statusBar()
    assert model.width() >= model.sizeHint().width(), "the model text is not cut"
    assert model.mapTo(bar, model.rect().topRight()).x() <= bar.width()
    assert w.status_source.toolTip().startswith("a_recording_with_a_long")


def test_timeline_legend_keys_every_colour_the_timeline_draws(qtbot, window, files):
    """Each colour on the timeline (the gestures on it, no gesture, no label) has its swatch in the legend under it."""
    from app.gui.render import UNLABELLED_COLOUR

    w = window
    w.session.set_speed(None)  # every window classified, however busy the CPU: the whole file, once
    w.session.set_loop(False)
    assert w.load_model(str(files["favour"]), "cpu") and w.open_source(str(files["idle_bar"])), w.message
    qtbot.waitUntil(lambda: w.session.pipe.done, timeout=120_000)
    qtbot.waitUntil(lambda: w.drawn_prediction is not None and w.drawn_prediction is w.session.pipe.latest,
                    timeout=20_000)
    pv = w.prediction
    legend = pv.legend.text()
    drawn = {tuple(int(v) for v in c) for c in pv.timeline_image.image.reshape(-1, 3)}
    gestures = {tuple(int(v) for v in c) for c in pv.colours}
    assert tuple(int(v) for v in pv.colours[TRUTH]) in drawn and UNLABELLED_COLOUR in drawn
    keyed = {tuple(map(int, m)) for m in re.findall(r"rgb\((\d+), (\d+), (\d+)\)", legend)}
    assert drawn - {UNLABELLED_COLOUR} <= keyed, "every colour drawn has its swatch"
    assert keyed & gestures == drawn & gestures, "swatches for the gestures on the timeline, no others"
    assert "its bar's colour" in legend and "no gesture" in legend and "no label" in legend
    assert pv.legend.isVisible() and pv.legend.height() >= pv.legend.heightForWidth(pv.legend.width()), "not cut"


def test_event_view_title_keys_the_model_input_square_while_it_is_drawn(qtbot, window, files):
    w = window
    assert w.load_model(str(files["dvs"]), "cpu") and w.open_source(str(files["recording"])), w.message
    wait_prediction(qtbot, w, timeout=60_000)
    view = w.event_view

    def title() -> str:
        return view.getPlotItem().titleLabel.text

    assert not view.box.isVisible() and "model input" not in title(), "the whole 128x128 sensor: no square drawn"
    assert w.set_roi((32, 32, 64)), w.message
    qtbot.waitUntil(lambda: view.box.isVisible(), timeout=10_000)
    square = view.box.pen.color().name()  # the colour the square is drawn in, '#rrggbb'
    assert "model input" in title() and square in title() and "ON" in title()
    assert w.set_roi(None), w.message
    qtbot.waitUntil(lambda: not view.box.isVisible(), timeout=10_000)
    assert "model input" not in title()


def test_redrawn_images_hold_no_memory(qtbot, window):
    """Long runs: repainting a new image holds no memory (PyQt6 kept ~100 bytes a QImage: ~1 MiB per 100 s)."""
    import gc
    import tracemalloc

    view = window.event_view
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for _ in range(2)]

    def draw(n: int) -> None:
        for i in range(n):
            view.show_events(frames[i % 2])
            view.viewport().repaint()  # painting turns the new image into a QImage

    tracemalloc.start()
    try:
        draw(100)  # the shown image's buffers are traced from here on: only what piles up counts
        held = []
        for _ in range(2):  # a leak piles up in both halves; a one-off allocation elsewhere (another
            gc.collect()    # thread, a cache filling once) lands in one at most
            before = tracemalloc.get_traced_memory()[0]
            draw(250)
            gc.collect()
            held.append(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()
    assert min(held) < 250 * 20, f"{min(held) / 250:.0f} bytes held per redrawn image (each half: {held})"


def test_automatic_framing_is_switched_in_the_settings_and_its_square_drawn(qtbot, window, files):
    w = window
    assert w.load_model(str(files["dvs"]), "cpu") and w.open_source(str(files["recording"])), w.message
    wait_prediction(qtbot, w, timeout=60_000)
    sp = w.settings_panel
    assert sp.framing.isChecked() == w.session.settings.framing == (w.session.pipe.framing is not None)
    sp.framing.setChecked(False)
    assert w.message == "" and w.session.pipe.framing is None
    sp.framing.setChecked(True)
    assert w.message == "" and w.session.settings.framing and w.session.pipe.framing is not None
    qtbot.waitUntil(lambda: w.drawn_prediction is not None and w.drawn_prediction.framing is not None, timeout=60_000)
    x0, y0, side = w.drawn_prediction.crop_box
    assert tuple(w.event_view.box.pos()) == (x0, y0) and tuple(w.event_view.box.size()) == (side, side)
    sp.framing.setChecked(False)
    assert w.session.pipe.framing is None

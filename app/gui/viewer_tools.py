"""What users of event-camera viewers (DV, Metavision Studio, jAER) expect around the main view.

:class:`ViewerTools` adds to a :class:`~app.gui.main_window.MainWindow`, without owning its
layout:

- a Playback menu holding every playback key, so the menus show them: Space, arrows (one
  hop while paused, 1 s while playing), Shift+arrows 1 s, Ctrl+arrows 5 s, R to record,
  Ctrl+E to export a video, Ctrl+Shift+R to record a video of a live run (the stream is
  recorded to AEDAT4, then exported when the recording stops); a View menu with the
  full-screen demo mode (F, Esc leaves: the event view and the predictions only, the gesture
  name in large type over the view);
- an Inference backend chooser under Model (torch, onnxruntime, openvino, as installed);
- a recording indicator over the event view (duration, events, file size) and a
  "saved to ..." line when a recording stops;
- a warning over the event view while a file plays at "max" speed (not real time);
- the event-rate plot under the attention view;
- video export of the open recording (:mod:`app.video_export`) in a background thread.

The actions are added to the window itself too, so their keys work while the menu bar is
hidden (demo mode).
"""

from __future__ import annotations

import threading
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QActionGroup, QFontMetrics, QKeySequence
from PyQt6.QtWidgets import QFileDialog, QLabel, QSplitter

from eventcore.errors import UserError
from app.gui.rate_plot import EventRatePlot

POLL_MS = 200
MAX_SPEED_WARNING = ("speed max: windows are classified as fast as the model allows, not in real time; "
                     "latency and skipped windows here do not describe live use")


def _overlay_label(parent, style: str) -> QLabel:
    label = QLabel(parent)
    label.setStyleSheet(style)
    label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    label.hide()
    return label


class ViewerTools:
    """Menus with their keys, the backend chooser, recording indicator, speed warning, rate plot, export."""

    def __init__(self, window) -> None:
        self.w = window
        self.demo = False
        self._saved_state: dict | None = None
        self._recorder = None
        self._video_after: tuple[str, str] | None = None  # (recording, mp4): export when this recording stops
        self._export: dict | None = None
        self.actions: dict[str, QAction] = {}
        self._build_menus()
        self.rec_indicator = _overlay_label(window.event_view, "background:rgba(160,0,0,210); color:white; "
                                            "font-weight:bold; font-size:13pt; padding:4px 8px; border-radius:4px")
        self.speed_warning = _overlay_label(window.event_view, "background:rgba(150,90,0,220); color:white; "
                                            "padding:3px 6px; border-radius:3px")
        self.speed_warning.setWordWrap(True)
        self.speed_warning.setText(MAX_SPEED_WARNING)
        self.demo_name = _overlay_label(window.event_view, "background:rgba(0,0,0,150); color:white; "
                                        "font-weight:bold; padding:6px 14px; border-radius:8px")
        self.demo_name.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.rate_plot = EventRatePlot()
        splitter = window.attention.parentWidget()
        if isinstance(splitter, QSplitter):  # under the attention view, a strip of its own
            splitter.addWidget(self.rate_plot)
            sizes = splitter.sizes()
            splitter.setSizes(sizes[:-1] + [90])
        self.timer = QTimer(window)
        self.timer.timeout.connect(self.poll)
        self.timer.start(POLL_MS)

    # ---- menus --------------------------------------------------------------------------
    def _act(self, menu, key: str, text: str, slot, *shortcuts) -> QAction:
        act = QAction(text, self.w)
        act.triggered.connect(slot)
        if shortcuts:
            act.setShortcuts([QKeySequence(s) for s in shortcuts])
        menu.addAction(act)
        self.w.addAction(act)  # the key works while the menu bar is hidden (demo mode)
        self.actions[key] = act
        return act

    def _build_menus(self) -> None:
        w = self.w
        bar = w.menuBar()
        menus = {a.text().replace("&", ""): a for a in bar.actions()}
        help_action = menus.get("Help")
        play = bar.addMenu("&Playback")
        view = bar.addMenu("&View")
        if help_action is not None:  # Help stays last
            bar.insertMenu(help_action, play)
            bar.insertMenu(help_action, view)
        self._act(play, "play", "Play / pause", w.toggle_play, Qt.Key.Key_Space)
        self._act(play, "forward", "Forward (one hop while paused, 1 s playing)", w.forward, Qt.Key.Key_Right)
        self._act(play, "back", "Back (one window while paused, 1 s playing)", w.back, Qt.Key.Key_Left)
        play.addSeparator()
        self._act(play, "forward_1s", "Forward 1 s", lambda: self.seek_by(1.0), "Shift+Right")
        self._act(play, "back_1s", "Back 1 s", lambda: self.seek_by(-1.0), "Shift+Left")
        self._act(play, "forward_5s", "Forward 5 s", lambda: self.seek_by(5.0), "Ctrl+Right")
        self._act(play, "back_5s", "Back 5 s", lambda: self.seek_by(-5.0), "Ctrl+Left")
        play.addSeparator()
        self._act(play, "record", "Record / stop recording", w.toggle_recording, Qt.Key.Key_R)
        self._act(play, "export", "Export video of this recording...", self.choose_export, "Ctrl+E")
        self._act(play, "record_video", "Record a video of the run...", self.choose_record_video, "Ctrl+Shift+R")
        self._act(view, "demo", "Full screen demo mode", self.toggle_demo, Qt.Key.Key_F, Qt.Key.Key_F11)
        leave = QAction("Leave full screen", w)
        leave.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        leave.triggered.connect(lambda: self.demo and self.toggle_demo())
        w.addAction(leave)
        model = menus.get("Model")
        if model is not None:
            self._backend_menu(model.menu())

    def _backend_menu(self, model_menu) -> None:
        from app.backends import BACKENDS, available_backends

        self.backend_menu = model_menu.addMenu("Inference backend")
        group = QActionGroup(self.w)
        installed = available_backends()
        self.backend_actions: dict[str | None, QAction] = {}
        for name, text in [(None, "automatic (the fastest installed)")] + [(b, b) for b in BACKENDS]:
            act = QAction(text if name is None or name in installed else f"{text} (not installed)", self.w)
            act.setCheckable(True)
            act.setEnabled(name is None or name in installed)
            act.setChecked(name == self.w.session.backend)
            act.triggered.connect(lambda _=False, n=name: self.set_backend(n))
            group.addAction(act)
            self.backend_menu.addAction(act)
            self.backend_actions[name] = act

    def set_backend(self, name: str | None) -> bool:
        """Run the model on backend ``name`` (None: the fastest): the model is reloaded; a refusal says why."""
        s = self.w.session
        old = s.backend
        s.backend = name
        if s.engine is not None and not self.w.load_model(s.model_spec, s.device):
            s.backend = old  # the old engine keeps running; the banner says why
            self.backend_actions[old].setChecked(True)
            return False
        self.backend_actions[name].setChecked(True)
        if s.engine is not None:
            self.w.statusBar().showMessage(f"inference backend: {s.engine.backend_state}", 8_000)
        return True

    # ---- playback -----------------------------------------------------------------------
    def seek_by(self, seconds: float) -> None:
        """Seek the open recording by ``seconds`` (either way), clamped to the file."""
        s = self.w.session
        if not s.is_file:
            return
        src = s.source
        t = min(max(src.position_us + int(seconds * 1e6), src.start_us), src.end_us)
        s.seek(t)

    # ---- demo mode ----------------------------------------------------------------------
    def toggle_demo(self) -> None:
        """Full screen with only the event view and a large gesture name (Esc or F leaves)."""
        w = self.w
        if not self.demo:
            hide = [w.settings_panel, w.playback, w.attention, self.rate_plot, w.statusBar(), w.menuBar(),
                    w.teach_dock]
            self._saved_state = {"visible": [(x, x.isVisible()) for x in hide], "maximised": w.isMaximized()}
            for x in hide:
                x.hide()
            split = self._main_splitter()
            if split is not None:
                self._saved_state["split"] = split.sizes()
                total = sum(split.sizes())
                split.setSizes([int(total * 0.7), total - int(total * 0.7)])
            self.demo = True
            w.showFullScreen()
            self._show_demo_name()
        else:
            st = self._saved_state or {}
            for x, was in st.get("visible", []):
                x.setVisible(was)
            self.demo_name.hide()
            split = self._main_splitter()
            if split is not None and "split" in st:
                split.setSizes(st["split"])
            self.demo = False
            w.showMaximized() if st.get("maximised") else w.showNormal()

    def _show_demo_name(self) -> None:
        """The gesture name in large type across the bottom of the event view (demo mode)."""
        text = self.w.prediction.label.text()
        ev = self.w.event_view
        if text != self.demo_name.text() or self.demo_name.width() != ev.width() - 24:
            font = self.demo_name.font()
            size = 64
            font.setPointSize(size)
            while size > 16 and QFontMetrics(font).horizontalAdvance(text) > ev.width() - 60:
                size -= 4
                font.setPointSize(size)
            self.demo_name.setFont(font)
            self.demo_name.setText(text)
            self.demo_name.setFixedWidth(ev.width() - 24)
            self.demo_name.adjustSize()
        self.demo_name.move(12, ev.height() - self.demo_name.height() - 12)
        self.demo_name.show()
        self.demo_name.raise_()

    def _main_splitter(self) -> QSplitter | None:
        p = self.w.event_view.parentWidget()
        while p is not None and not (isinstance(p, QSplitter) and p.orientation() == Qt.Orientation.Horizontal):
            p = p.parentWidget()
        return p

    # ---- export -------------------------------------------------------------------------
    def choose_export(self) -> None:
        s = self.w.session
        if s.engine is None:
            self.w.statusBar().showMessage("load a model first: the video shows its attention and gestures", 10_000)
            return
        if not s.is_file:  # a live run: record it, then export the recording
            self.w.statusBar().showMessage("a live source: record it first (R), then open the recording and export "
                                           "it (Playback > Export video)", 15_000)
            return
        default = Path.home() / (Path(str(s.spec)).stem + ".mp4")
        path, _ = QFileDialog.getSaveFileName(self.w, "Export video", str(default), "MP4 video (*.mp4)")
        if path:
            self.start_export(str(s.spec), path if path.lower().endswith(".mp4") else path + ".mp4")

    def choose_record_video(self) -> None:
        s = self.w.session
        if s.source is None or s.engine is None:
            self.w.statusBar().showMessage("open a source and load a model first", 10_000)
            return
        path, _ = QFileDialog.getSaveFileName(self.w, "Record a video of the run", str(Path.home() / "run.mp4"),
                                              "MP4 video (*.mp4)")
        if path:
            self.record_video(path if path.lower().endswith(".mp4") else path + ".mp4")

    def record_video(self, out: str) -> bool:
        """Record the running source beside ``out`` (.aedat4); when the recording stops (R), export it to ``out``."""
        from app.video_export import check_output

        try:
            check_output(out, 25)
        except UserError as err:
            self.w.show_message(str(err))
            return False
        recording = str(Path(out).with_suffix(".aedat4"))
        if not self.w.start_recording(recording):
            return False
        self._video_after = (recording, out)
        self.w.statusBar().showMessage(f"recording the run for {Path(out).name}: stop with R, the video is written "
                                       "then", 15_000)
        return True

    def start_export(self, recording: str, out: str) -> bool:
        """Export ``recording`` to ``out`` in a background thread with a model of its own (progress: status bar)."""
        from app.inference import InferenceEngine
        from app.video_export import check_output, export_video

        if self._export is not None and not self._export["done"]:
            self.w.statusBar().showMessage("a video export is already running", 8_000)
            return False
        s = self.w.session
        try:
            check_output(out, 25)
        except UserError as err:
            self.w.show_message(str(err))
            return False
        state = {"progress": 0.0, "done": False, "error": None, "summary": None, "out": out,
                 "cancel": threading.Event()}

        def work() -> None:
            try:
                engine = InferenceEngine.from_checkpoint(s.model_spec, device=s.device, record=True, backend=s.backend)
                state["summary"] = export_video(recording, out, engine, progress=lambda f: state.update(progress=f),
                                                cancel=state["cancel"])
            except UserError as err:
                state["error"] = str(err)
            except Exception as err:  # a bug of ours: one line, the app goes on
                state["error"] = f"internal error: {type(err).__name__}: {err}"
            finally:
                state["done"] = True

        self._export = state
        threading.Thread(target=work, name="video export", daemon=True).start()
        return True

    @property
    def export_state(self) -> dict | None:
        return self._export

    def close(self) -> None:
        self.timer.stop()
        if self._export is not None:
            self._export["cancel"].set()

    # ---- periodic -----------------------------------------------------------------------
    def poll(self) -> None:
        """Recording indicator, speed warning, event rate and export progress (a few times a second)."""
        s, w = self.w.session, self.w
        self._poll_recording()
        if self.demo:
            self._show_demo_name()
        pipe = s.pipe
        maxed = s.is_file and s.source.speed is None and not s.paused
        self.speed_warning.setVisible(bool(maxed and pipe is not None))
        if self.speed_warning.isVisible():
            ev = w.event_view
            self.speed_warning.setFixedWidth(max(200, ev.width() - 16))
            self.speed_warning.adjustSize()
            self.speed_warning.move(8, ev.height() - self.speed_warning.height() - 8)
        if pipe is not None:
            self.rate_plot.sample(pipe, pipe.events_in, pipe.last_t_us)
        self._poll_export()

    def _poll_recording(self) -> None:
        rec = self.w.session.recorder
        if rec is not None:
            self._recorder = rec
            self.rec_indicator.setText(self.recording_text(rec))
            self.rec_indicator.adjustSize()
            self.rec_indicator.move(8, 30)
            self.rec_indicator.show()
            self.rec_indicator.raise_()
        elif self._recorder is not None:  # it stopped since the last look
            done, self._recorder = self._recorder, None
            self.rec_indicator.hide()
            if done.error is None:
                self.w.statusBar().showMessage(f"saved to {done.path} ({self.recording_text(done, prefix=False)})",
                                               20_000)
            video, self._video_after = self._video_after, None
            if video is not None and video[0] == str(done.path) and done.error is None:
                self.start_export(*video)  # the run's video, from what was just recorded

    @staticmethod
    def recording_text(rec, prefix: bool = True) -> str:
        """"● REC 12.3 s · 1,234,567 events · 4.1 MB" for a recorder (running or just closed)."""
        try:
            size = rec.path.stat().st_size
        except OSError:
            size = 0
        body = f"{rec.elapsed_us / 1e6:.1f} s \u00b7 {rec.events_written:,} events \u00b7 {size / 1e6:.1f} MB"
        return f"\u25cf REC {body}" if prefix else body

    def _poll_export(self) -> None:
        st = self._export
        if st is None or st.get("reported"):
            return
        bar = self.w.statusBar()
        if not st["done"]:
            bar.showMessage(f"exporting video to {st['out']}: {100 * st['progress']:.0f} %", 2_000)
            return
        st["reported"] = True
        if st["error"] is not None:
            self.w.show_message(f"video export failed: {st['error']}")
        else:
            sm = st["summary"]
            bar.showMessage(f"video saved to {sm.path} ({sm.frames} frames, {sm.frames / sm.fps:.1f} s)", 20_000)


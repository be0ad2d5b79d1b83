"""The main window: lays out the views and controls and wires their signals to a :class:`Session`.

Everything that is not drawing (model and device loading, settings, playback arithmetic,
status text, the model card) lives in the Qt-free :mod:`app.session`. The GUI thread only
draws: a ``QTimer`` (60 Hz) reads the pipeline's newest state and redraws; nothing is
queued, so a slow redraw skips states instead of falling behind. Problems appear in the
banner at the top and the window stays usable.
"""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from eventcore.errors import SourceError, UserError
from app.demo import RECORDINGS_DIR, default_demo
from app.gui.attention_view import AttentionView
from app.gui.controls import SEEK_STEPS, ElidedLabel, PlaybackBar, SettingsPanel
from app.gui.event_view import EventView
from app.gui.prediction_view import PredictionView
from app.gui.render import event_image
from app.gui.teach_panel import TeachPanel, TeachTap, remember_model, remembered_models
from app.gui.viewer_tools import ViewerTools
from app.session import Session, Settings

REDRAW_HZ = 60
TEACH_DOCK_WIDTH = 420
EVIDENCE = -2  # the overlay chooser's item for the class evidence map (others: -1 off, i block i's spike rate)
STATUS_EVERY_S = 0.25


def _same(a: tuple | None, b: tuple | None) -> bool:
    """The same objects, element by element (identity, not equality)."""
    return a is b or (a is not None and b is not None and all(x is y for x, y in zip(a, b)))


class MainWindow(QMainWindow):
    """Event view, attention, prediction and status for one source and one model."""

    def __init__(self, settings: Settings | None = None, compile_model: bool = False) -> None:
        super().__init__()
        self.setWindowTitle("DVS gesture recognition (TCJA-SNN)")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.session = Session(settings, compile_model=compile_model)
        self.model_problem: str | None = None
        self.redraws = 0
        self.draw_log: list[tuple[float, int | None, object]] | None = None
        self.drawn_prediction = None
        self._drawn_t: int | None = None
        self._drawn_pipe = None
        self._drawn_idle: tuple | None = None
        self._last_status = 0.0
        self._reported_pipe = None
        self._build()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(int(1000 / REDRAW_HZ))

    # ---- construction -------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#7a1f1f; color:white; padding:6px; font-weight:bold")
        self.banner_close = QPushButton("dismiss")
        self.banner_close.clicked.connect(self.clear_message)
        self.banner_row = QWidget()
        row = QHBoxLayout(self.banner_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.banner, stretch=1)
        row.addWidget(self.banner_close)
        self.banner_row.setVisible(False)

        self.event_view = EventView()
        self.event_view.roi_changed.connect(lambda x0, y0, side: self.set_roi((x0, y0, side)))
        self.playback = PlaybackBar()
        self.attention = AttentionView()
        self.prediction = PredictionView()
        self.settings_panel = SettingsPanel()

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.event_view, stretch=1)
        lv.addWidget(self.playback)
        lv.addWidget(self.settings_panel)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.prediction)
        right.addWidget(self.attention)
        right.setSizes([520, 280])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([620, 660])
        central = QWidget()
        cv = QVBoxLayout(central)
        cv.setContentsMargins(4, 4, 4, 4)
        cv.addWidget(self.banner_row)
        cv.addWidget(split, stretch=1)
        self.setCentralWidget(central)

        self.status_source = ElidedLabel("no source")  # the one that gives way when the bar is full
        self.status_rate = QLabel("")
        self.status_latency = QLabel("")
        self.status_model = QLabel("no model")
        self.status_rec = QLabel("")
        self.status_rec.setStyleSheet("color:#ff3030; font-weight:bold")
        bar = self.statusBar()
        bar.addWidget(self.status_source, 1)
        for w in (self.status_rate, self.status_latency):
            bar.addWidget(w)
        bar.addPermanentWidget(self.status_rec)
        bar.addPermanentWidget(self.status_model)

        self.teach_panel = TeachPanel()
        self.teach_panel.model_ready.connect(self._on_taught_model)
        self.teach_panel.ensure_stream = self._teach_stream
        self.teach_dock = QDockWidget("Teach your gestures", self)
        self.teach_dock.setObjectName("teach")
        teach_scroll = QScrollArea()  # the panel scrolls inside the dock: opening it must not grow the window
        teach_scroll.setWidgetResizable(True)
        teach_scroll.setWidget(self.teach_panel)
        self.teach_dock.setWidget(teach_scroll)
        # opened, it takes a column of its own and leaves the views their room
        self.teach_dock.visibilityChanged.connect(
            lambda on: on and self.resizeDocks([self.teach_dock], [TEACH_DOCK_WIDTH], Qt.Orientation.Horizontal))
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.teach_dock)
        self.teach_dock.hide()

        self._build_menus()
        self._connect_controls()
        self._fill_model_choices()
        self._show_settings()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&Source")
        self._action(file_menu, "Open file...", self.choose_file, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Demo recording", self.open_demo)
        self.camera_menu = file_menu.addMenu("Camera")
        self.camera_menu.aboutToShow.connect(self._fill_cameras)
        self._action(file_menu, "DV network stream...", self.choose_network)
        file_menu.addSeparator()
        self._action(file_menu, "Save screenshot...", self.choose_screenshot, QKeySequence.StandardKey.Save)
        self._action(file_menu, "Quit", self.close, QKeySequence.StandardKey.Quit)
        model_menu = self.menuBar().addMenu("&Model")
        self._action(model_menu, "Open checkpoint...", self.choose_checkpoint)
        teach = self.teach_dock.toggleViewAction()
        teach.setText("Teach your gestures...")
        model_menu.addAction(teach)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "About", self.show_about)
        self.tools = ViewerTools(self)  # Playback and View menus with their keys, backend chooser, indicators

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        act = QAction(text, self)
        act.triggered.connect(slot)
        if shortcut is not None:
            act.setShortcut(shortcut)
        menu.addAction(act)
        return act

    def _connect_controls(self) -> None:
        """Each control asks the session for one change, passing the control's new value."""
        pb, sp = self.playback, self.settings_panel
        pb.play.clicked.connect(self.toggle_play)
        pb.step.clicked.connect(self.step)
        pb.seek.sliderReleased.connect(lambda: self._ask(self.session.seek_fraction, pb.seek.value() / SEEK_STEPS))
        pb.speed.currentIndexChanged.connect(lambda i: self.session.set_speed(pb.speed.itemData(i)))
        pb.loop.toggled.connect(self.session.set_loop)
        pb.record.clicked.connect(self.toggle_recording)
        sp.model.activated.connect(self._on_model_choice)
        sp.device.activated.connect(self._on_device)
        sp.window_ms.editingFinished.connect(lambda: self.set_windowing_ms(window_ms=sp.window_ms.value()))
        sp.hop_ms.editingFinished.connect(lambda: self.set_windowing_ms(hop_ms=sp.hop_ms.value()))
        sp.view_mode.currentIndexChanged.connect(lambda i: self._set_view(mode=sp.view_mode.itemData(i)))
        sp.view_ms.valueChanged.connect(lambda v: self._set_view(span_ms=v))
        sp.overlay.currentIndexChanged.connect(lambda _: self._draw_overlay())
        sp.roi.toggled.connect(self._on_roi_toggled)
        sp.denoise.toggled.connect(lambda on: self._ask(self.session.set_denoise, on))
        sp.framing.toggled.connect(lambda on: self._ask(self.session.set_framing, on))

    def _ask(self, change, *args) -> bool:
        """Ask the session for a change; a refusal (UserError) goes to the banner. True when accepted."""
        try:
            change(*args)
        except UserError as err:
            self.show_message(str(err))
            return False
        finally:
            self._on_pipeline_changed()
        return True

    def _fill_model_choices(self) -> None:
        from model.device import available_devices
        from model.zoo import shipped_models

        sp = self.settings_panel
        sp.model.clear()
        for name in shipped_models():
            sp.model.addItem(name, name)
        for path in remembered_models():  # the user's fine-tuned models, offered again after a restart
            sp.model.addItem(Path(path).stem, path)
        sp.model.addItem("checkpoint file...", None)
        sp.device.clear()
        self.devices = [dev for dev, _ in available_devices()]
        for dev, label in available_devices():
            sp.device.addItem(label)

    def _show_settings(self) -> None:
        """Set the controls to the session's settings (they start from what the CLI asked for)."""
        st, sp, pb = self.session.settings, self.settings_panel, self.playback
        for widget, set_value in ((sp.view_mode, lambda: sp.view_mode.setCurrentIndex(sp.view_mode.findData(st.view_mode))),
                                  (sp.view_ms, lambda: sp.view_ms.setValue(st.view_span_us / 1000)),
                                  (sp.denoise, lambda: sp.denoise.setChecked(st.denoise)),
                                  (sp.framing, lambda: sp.framing.setChecked(st.framing)),
                                  (pb.speed, lambda: pb.speed.setCurrentIndex(max(0, pb.speed.findData(st.speed)))),
                                  (pb.loop, lambda: pb.loop.setChecked(st.loop))):
            widget.blockSignals(True)
            set_value()
            widget.blockSignals(False)

    # ---- messages -----------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        """Show a problem in the banner; the window stays usable."""
        self.banner.setText(text)
        self.banner_row.setVisible(True)

    def clear_message(self) -> None:
        self.banner.clear()
        self.banner_row.setVisible(False)

    @property
    def message(self) -> str:
        return self.banner.text() if self.banner_row.isVisibleTo(self) else ""

    # ---- sources ------------------------------------------------------------------------
    def open_source(self, spec: str) -> bool:
        """Open a file, camera or host:port; on failure say why and keep the current source."""
        try:
            src = self.session.open(spec)
        except UserError as err:
            self.show_message(str(err))
            return False
        self.clear_message()
        self.event_view.set_sensor(src.width, src.height)
        self.teach_panel.set_sensor(src.width, src.height, src.camera, src if self.session.is_file else None)
        self.settings_panel.roi.setChecked(False)
        self.playback.set_file_controls(self.session.is_file)
        self.playback.play.setText("Pause")
        self._on_pipeline_changed()
        if self.session.engine is None:
            self.show_message(self.model_problem or "no model loaded: choose one under Model > Open checkpoint")
        for w in src.warnings:
            self.statusBar().showMessage(f"warning: {w}", 10_000)
        return True

    def open_demo(self) -> bool:
        try:
            demo = default_demo()
        except SourceError as err:
            self.show_message(f"{err}: open a file instead")
            return False
        return self.open_source(str(demo))

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open recording", str(RECORDINGS_DIR),
                                              "Event recordings (*.aedat4 *.aedat *.dat *.raw *.hdf5 *.h5);;All files (*)")
        if path:
            self.open_source(path)

    def choose_network(self) -> None:
        from app.sources.open import parse_network

        text, ok = QInputDialog.getText(self, "DV network stream", "host:port", text="127.0.0.1:7777")
        if not ok or not text:
            return
        try:
            if parse_network(text.strip()) is None:
                raise SourceError(f"{text}: not host:port")
        except SourceError as err:
            self.show_message(str(err))
            return
        self.open_source(text.strip())

    def _fill_cameras(self) -> None:
        self.camera_menu.clear()
        try:
            from app.sources.camera import list_cameras

            names = list_cameras()
        except (SourceError, ImportError) as err:
            self.show_message(f"cannot list cameras: {err}")
            names = []
        if not names:
            act = self.camera_menu.addAction("no camera connected")
            act.setEnabled(False)
        for name in names:
            self.camera_menu.addAction(name, lambda n=name: self.open_source(f"camera:{n}"))

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_source(urls[0].toLocalFile())

    # ---- model --------------------------------------------------------------------------
    def load_model(self, model: str | None, device=None) -> bool:
        """Load a shipped model by name or a checkpoint path; on failure say why and keep the old one."""
        try:
            engine = self.session.load_model(model, device)
        except UserError as err:
            self.model_problem = f"cannot load model: {err}"
            self.show_message(self.model_problem)
            return False
        self.model_problem = None
        self.clear_message()
        self._show_engine(engine)
        return True

    def set_engine(self, engine) -> bool:
        """Use a ready inference engine (made with ``record=True``); on refusal say why and keep the old one."""
        try:
            self.session.set_engine(engine)
        except UserError as err:
            self.show_message(str(err))
            return False
        self._show_engine(engine)
        return True

    def _show_engine(self, engine) -> None:
        """Point the model, device and overlay choosers and the attention view at ``engine``."""
        sp = self.settings_panel
        idx = sp.model.findText(engine.name)
        if idx < 0:
            sp.model.insertItem(sp.model.count() - 1, engine.name, self.session.model_spec or engine.name)
            idx = sp.model.count() - 2
        sp.model.setCurrentIndex(idx)
        key = (engine.device.type, engine.device.index or 0)
        sp.device.setCurrentIndex(next((i for i, d in enumerate(self.devices) if (d.type, d.index or 0) == key), 0))
        sp.overlay.blockSignals(True)
        sp.overlay.clear()
        sp.overlay.addItem("off", -1)
        sp.overlay.addItem("class evidence", EVIDENCE)
        for i in range(engine.cfg.n_blocks):
            sp.overlay.addItem(f"spike rate, block {i + 1}", i)
        sp.overlay.setCurrentIndex(1)  # the class evidence map is on by default
        sp.overlay.blockSignals(False)
        # titled "block N": the caption above them says "TCJA gate", and two titles fit a narrow view
        self.attention.set_blocks([f"block {b + 1}" for b in engine.cfg.tcja_blocks])
        self._on_pipeline_changed()

    def choose_checkpoint(self) -> None:
        from model.zoo import WEIGHTS_DIR

        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", str(WEIGHTS_DIR), "Checkpoints (*.pt);;All files (*)")
        if path:
            self.load_model(path, self.session.device)

    def _on_model_choice(self, index: int) -> None:
        spec = self.settings_panel.model.itemData(index)
        if spec is None:
            self.choose_checkpoint()
        elif spec != self.session.model_spec:
            self.load_model(spec, self.session.device)

    def _on_device(self, index: int) -> None:
        device = self.devices[index]
        if self.session.engine is not None and device != self.session.device:
            self.load_model(self.session.model_spec, device)

    def show_about(self) -> None:
        summary, card = self.session.about()
        box = QMessageBox(QMessageBox.Icon.Information, "About", "", parent=self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText("Real-time DVS gesture recognition with a TCJA-SNN.<br><br>" + summary)
        if card:
            box.setDetailedText(card)
        box.exec()

    # ---- settings -----------------------------------------------------------------------
    def set_windowing_ms(self, window_ms: float | None = None, hop_ms: float | None = None) -> bool:
        """Ask the session for a new window and/or hop (ms); a refusal goes to the banner."""
        return self._ask(self.session.set_windowing_ms, window_ms, hop_ms)

    def set_roi(self, roi: tuple[int, int, int] | None) -> bool:
        """Use a square region of interest ``(x0, y0, side)`` of the sensor (None: the default crop)."""
        return self._ask(self.session.set_roi, roi)

    def _on_roi_toggled(self, on: bool) -> None:
        self.event_view.set_editing(on)
        if not on:
            self.set_roi(None)

    def _set_view(self, mode: str | None = None, span_ms: float | None = None) -> None:
        self._ask(self.session.set_view, mode, span_ms)

    def _on_taught_model(self, path: str) -> None:
        """A model fine-tuned in the Teach panel: offer it in the model list (remembered) and use it."""
        remember_model(path)
        self._fill_model_choices()
        if self.load_model(path, self.session.device):
            self.statusBar().showMessage(f"fine-tuned model {Path(path).stem} loaded", 10_000)

    def _teach_stream(self) -> str | None:
        """The Teach panel needs events: play a paused or ended recording; the reason when none can flow."""
        s = self.session
        if s.source is None:
            return "open a camera, a network stream or a recording first (Source menu)"
        if s.pipe is None:
            return "load a model first (Model menu): the stream runs through it"
        if s.is_file and (s.paused or s.pipe.done):
            self.toggle_play()
            self.statusBar().showMessage("playing the recording for the takes", 5_000)
        return None

    def _tap_teach(self) -> None:
        """Let the Teach panel see the stream: the pipeline's recorder slot writes to it and to any recording."""
        if self.session.pipe is not None:
            self.session.pipe.set_recorder(TeachTap(self.teach_panel, self.session.recorder))

    def _on_pipeline_changed(self) -> None:
        """Show the pipeline in force (a new one, or none): its geometry and settings; forget what was drawn."""
        pipe, src, engine = self.session.pipe, self.session.source, self.session.engine
        self._tap_teach()
        idle = None if pipe is not None else (engine, src)
        if pipe is self._drawn_pipe and (pipe is not None or _same(idle, self._drawn_idle)):
            return
        self._drawn_pipe, self._drawn_idle = pipe, idle
        self.drawn_prediction = None
        self._drawn_t = None
        self._reported_pipe = None
        self.playback.record.setEnabled(src is not None)
        if engine is not None:
            self._show_windowing(self.session.windowing)
            self.prediction.set_classes(engine.class_names, src is not None and src.labels is not None)
        if pipe is None:  # say what is missing instead of placeholders
            self.prediction.show_idle("no model" if engine is None else "no source",
                                      "choose one under Model" if engine is None else
                                      "open a recording, a camera or a stream (Source menu)")
            return
        self.event_view.set_crop_box(pipe.geometry.crop_box)

    def _show_windowing(self, windowing) -> None:
        sp = self.settings_panel
        for box, value in ((sp.window_ms, windowing.window_ms), (sp.hop_ms, windowing.hop_ms)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)

    # ---- playback -----------------------------------------------------------------------
    def toggle_play(self) -> None:
        self._ask(self.session.toggle_play)
        self.playback.play.setText("Play" if self.session.paused else "Pause")

    def pause(self) -> None:
        self.session.pause()
        self.playback.play.setText("Play" if self.session.paused else "Pause")

    def step(self) -> None:
        """While paused, play one hop of the file (one more window)."""
        self.session.step()
        self.playback.play.setText("Play" if self.session.paused else "Pause")

    def seek(self, t_us: int) -> None:
        """Jump to file time ``t_us``; while paused, play one window there so it is shown."""
        self.session.seek(t_us)

    def forward(self) -> None:
        self.session.forward()

    def back(self) -> None:
        self.session.back()

    def toggle_full_screen(self) -> None:
        """Full screen demo mode: the event view and a large gesture name only (F or Esc leaves)."""
        self.tools.toggle_demo()

    # ---- recording ----------------------------------------------------------------------
    def toggle_recording(self) -> None:
        if self.session.recorder is not None:
            self.stop_recording()
            return
        if self.session.source is None:  # keep the banner's reason; say it where it does not hide it
            self.statusBar().showMessage("nothing to record: open a recording, a camera or a stream first", 10_000)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Record to", str(Path.home() / time.strftime("recording-%Y%m%d-%H%M%S.aedat4")),
                                              "AEDAT4 (*.aedat4)")
        if path:
            self.start_recording(path if path.endswith(".aedat4") else path + ".aedat4")

    def start_recording(self, path: str) -> bool:
        try:
            self.session.start_recording(path)
        except UserError as err:
            self.show_message(f"cannot record: {err}")
            return False
        self.playback.record.setText("Stop recording")
        self._tap_teach()
        return True

    def stop_recording(self) -> None:
        rec = self.session.stop_recording()
        self._tap_teach()
        self.playback.record.setText("Record")
        self.status_rec.setText("")
        if rec is not None:
            rec.close()

    # ---- screenshot ---------------------------------------------------------------------
    def save_screenshot(self, path: str) -> bool:
        """Save the window as PNG, rendered from the window itself (never the screen: no dialog over it)."""
        return self.grab().save(path, "PNG")

    def panel_rects(self) -> dict[str, list[int]]:
        """Where each panel sits in the window, ``[x, y, width, height]`` (for screenshot checks)."""
        from PyQt6.QtCore import QPoint

        panels = {"events": self.event_view, "prediction": self.prediction, "attention": self.attention,
                  "playback": self.playback}
        rects = {}
        for name, w in panels.items():
            p = w.mapTo(self, QPoint(0, 0))
            rects[name] = [p.x(), p.y(), w.width(), w.height()]
        return rects

    def choose_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", str(Path.home() / "screenshot.png"), "PNG (*.png)")
        if path:  # grab once the dialog has gone and the window has redrawn beneath it
            QTimer.singleShot(150, lambda: self._write_screenshot(path))

    def _write_screenshot(self, path: str) -> None:
        if self.save_screenshot(path):
            self.statusBar().showMessage(f"screenshot saved to {path}", 10_000)
        else:
            self.show_message(f"{path}: cannot write the screenshot")

    # ---- drawing ------------------------------------------------------------------------
    def refresh(self) -> None:
        """One redraw from the pipeline's newest state (never a backlog)."""
        self._on_pipeline_changed()
        pipe, src = self.session.pipe, self.session.source
        if pipe is None:
            return
        now = time.perf_counter()
        drawn_t = None
        if pipe.last_t_us != self._drawn_t:
            events = pipe.recent_events()
            view = self.session.settings
            self.event_view.show_events(event_image(events, src.width, src.height, view.view_mode, view.view_span_us))
            if len(events):
                drawn_t = self._drawn_t = int(events["timestamp"][-1])
        pred = pipe.latest
        new_pred = pred is not None and pred is not self.drawn_prediction
        if new_pred:
            self.prediction.show_prediction(pred, list(pipe.history))
            self.attention.show_gates(pred.gates)
            self.drawn_prediction = pred
            if pred.framing is not None and not self.event_view.editing:  # automatic framing moves the square
                self.event_view.set_crop_box(pred.crop_box)
            self._draw_overlay()
        self.redraws += 1
        if self.draw_log is not None:
            self.draw_log.append((time.perf_counter(), drawn_t, pred if new_pred else None))
        if now - self._last_status >= STATUS_EVERY_S:
            self._last_status = now
            self._update_status(now)

    def _draw_overlay(self) -> None:
        block = self.settings_panel.overlay.currentData()
        pred, engine = self.drawn_prediction, self.session.engine
        if block == EVIDENCE and pred is not None and engine is not None:
            k = getattr(pred.spike_maps, "evidence_class", None)
            name = engine.class_names[k] if k is not None and k < len(engine.class_names) else ""
            if name and pred.decision.index != k:  # the smoothed headline says another class or none
                name += " (this window's likeliest)"
            self.event_view.show_evidence(getattr(pred.spike_maps, "evidence", None), name)
        elif block is None or block < 0 or pred is None or block >= len(pred.spike_maps):
            self.event_view.show_spike_map(None)
        else:
            self.event_view.show_spike_map(pred.spike_maps[block], block)

    def _update_status(self, now: float) -> None:
        st = self.session.status(now)
        if st is None:
            return
        self.status_source.setText(st.source)
        self.status_rate.setText(st.rate)
        self.status_latency.setText(st.latency)
        self.status_model.setText(st.model)
        self.status_model.setToolTip(st.model_detail)
        self.settings_panel.compile_state.setText(st.compile_state)
        if st.recording:
            self.status_rec.setText(st.recording)
        if (failed := self.session.recording_error()) is not None:
            self.stop_recording()  # what was written stays readable; the view goes on
            self.show_message(f"recording stopped: {failed}")
        if st.seek_fraction is not None:
            if not self.playback.seek.isSliderDown():
                self.playback.seek.setValue(int(st.seek_fraction * SEEK_STEPS))
            self.playback.time.setText(st.time)
        self._report_end()

    def _report_end(self) -> None:
        """Say once why a pipeline stopped: an error, a lost stream, or the end of a file."""
        pipe = self.session.pipe
        report = self.session.end_report()
        if report is None or self._reported_pipe is pipe:
            return
        self._reported_pipe = pipe
        kind, text = report
        if kind == "error":
            self.show_message(text)
        else:
            self.playback.play.setText("Play")
            self.statusBar().showMessage(text, 10_000)

    def closeEvent(self, event) -> None:
        self.timer.stop()
        self.tools.close()
        self.teach_panel.close()
        self.session.close()
        super().closeEvent(event)

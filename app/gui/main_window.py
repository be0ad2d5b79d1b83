"""The main window: wires the views and controls to a :class:`Session` and redraws on a timer.

The GUI thread only draws. A ``QTimer`` (60 Hz) reads the pipeline's newest state (recent
events, latest prediction) and redraws; nothing is queued, so a slow redraw skips states
instead of falling behind. Errors from sources, models and the pipeline appear in the
banner at the top and the window stays usable.
"""

from __future__ import annotations

import dataclasses
import html
import json
import time
from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.gui.attention_view import AttentionView
from app.gui.controls import SEEK_STEPS, PlaybackBar, SettingsPanel
from app.gui.event_view import EventView
from app.gui.prediction_view import PredictionView
from app.gui.render import event_image, latency_summary
from app.gui.session import Session, Settings
from eventcore.errors import SourceError

REDRAW_HZ = 60
STATUS_EVERY_S = 0.25
LATENCY_SPAN_S = 5.0
ROOT = Path(__file__).resolve().parents[2]


def demo_recordings() -> list[Path]:
    """The shipped demo recordings (``recordings/*.aedat4``), sorted; the first is the default."""
    return sorted((ROOT / "recordings").glob("*.aedat4"))


def model_errors() -> tuple[type[BaseException], ...]:
    from eventcore.errors import CheckpointError

    return (CheckpointError, ValueError, OSError)


def model_card(engine) -> tuple[str, str]:
    """The About box for a loaded model: (its checkpoint metadata as HTML, its model card text or "")."""
    meta = engine.meta
    meta = dataclasses.asdict(meta) if dataclasses.is_dataclass(meta) else dict(meta)
    cfg = engine.cfg
    lines = [
        f"<b>{engine.name}</b> ({cfg.name}: T={cfg.T}, input {cfg.input_size[0]}x{cfg.input_size[1]}, "
        f"channels {list(cfg.channels)}, TCJA in blocks {[b + 1 for b in cfg.tcja_blocks]})",
        f"<b>trained on: {html.escape(engine.trained_on)}</b>",
        f"window {engine.window_us / 1e3:.0f} ms, hop {engine.hop_us / 1e3:.0f} ms, frames split by {engine.split_by}",
    ]
    for name, acc in (meta.get("accuracies") or {}).items():
        lines.append(f"accuracy {html.escape(name)}: {float(acc):.1%}")
    for key in ("date", "command"):
        if meta.get(key):
            lines.append(f"{key}: {html.escape(str(meta[key]))}")
    try:
        card_path = json.loads(meta.get("notes") or "{}").get("model_card")
    except (json.JSONDecodeError, AttributeError):
        card_path = None
    card = ROOT / card_path if card_path else None
    if card is not None and card.is_file():
        lines.append(f"model card: {html.escape(card_path)} (details below)")
        return "<br>".join(lines), card.read_text()
    if meta.get("notes"):
        lines.append(f"notes: {html.escape(str(meta['notes']))}")
    return "<br>".join(lines), ""


class MainWindow(QMainWindow):
    """Event view, attention, prediction and status for one source and one model."""

    def __init__(self, settings: Settings | None = None, compile_model: bool = False) -> None:
        super().__init__()
        self.setWindowTitle("DVS gesture recognition (TCJA-SNN)")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.session = Session(settings)
        self.compile_model = compile_model
        self.model_spec: str | None = None
        self.model_problem: str | None = None
        self.device_spec: str | None = None
        self.redraws = 0
        self.draw_log: list[tuple[float, int | None, object]] | None = None
        self.drawn_prediction = None
        self._drawn_t: int | None = None
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
        self.event_view.roi_changed.connect(self._on_roi)
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

        self.status_source = QLabel("no source")
        self.status_rate = QLabel("")
        self.status_latency = QLabel("")
        self.status_model = QLabel("no model")
        self.status_rec = QLabel("")
        self.status_rec.setStyleSheet("color:#ff3030; font-weight:bold")
        bar = self.statusBar()
        for w in (self.status_source, self.status_rate, self.status_latency):
            bar.addWidget(w)
        bar.addPermanentWidget(self.status_rec)
        bar.addPermanentWidget(self.status_model)

        self._build_menus()
        self._connect_controls()
        self._fill_model_choices()

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
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "About", self.show_about)
        for key, slot in ((Qt.Key.Key_Space, self.toggle_play), (Qt.Key.Key_Right, self.forward),
                          (Qt.Key.Key_Left, self.back), (Qt.Key.Key_R, self.toggle_recording),
                          (Qt.Key.Key_F, self.toggle_full_screen)):
            QShortcut(QKeySequence(key), self, activated=slot)

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        act = QAction(text, self)
        act.triggered.connect(slot)
        if shortcut is not None:
            act.setShortcut(shortcut)
        menu.addAction(act)
        return act

    def _connect_controls(self) -> None:
        pb, sp = self.playback, self.settings_panel
        pb.play.clicked.connect(self.toggle_play)
        pb.step.clicked.connect(self.step)
        pb.seek.sliderReleased.connect(self._on_seek)
        pb.speed.currentIndexChanged.connect(self._on_speed)
        pb.loop.toggled.connect(self._on_loop)
        pb.record.clicked.connect(self.toggle_recording)
        sp.model.activated.connect(self._on_model_choice)
        sp.device.activated.connect(self._on_device)
        sp.window_ms.editingFinished.connect(self._on_windowing)
        sp.hop_ms.editingFinished.connect(self._on_windowing)
        sp.view_mode.currentIndexChanged.connect(self._on_view)
        sp.view_ms.valueChanged.connect(self._on_view)
        sp.overlay.currentIndexChanged.connect(lambda _: self._draw_overlay())
        sp.roi.toggled.connect(self._on_roi_toggled)
        sp.denoise.toggled.connect(self._on_denoise)

    def _fill_model_choices(self) -> None:
        from model.zoo import shipped_models

        sp = self.settings_panel
        sp.model.clear()
        for name in shipped_models():
            sp.model.addItem(name, name)
        sp.model.addItem("checkpoint file...", None)
        sp.device.clear()
        sp.device.addItem("cpu", "cpu")
        try:
            import torch

            for i in range(torch.cuda.device_count()):
                sp.device.addItem(f"cuda:{i} ({torch.cuda.get_device_name(i)})", f"cuda:{i}")
        except RuntimeError:
            pass

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
        except SourceError as err:
            self.show_message(str(err))
            return False
        except (ValueError, OSError) as err:
            self.show_message(f"{spec}: {err}")
            return False
        self.clear_message()
        self.event_view.set_sensor(src.width, src.height)
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
        demos = demo_recordings()
        if not demos:
            self.show_message(f"no demo recording in {ROOT / 'recordings'}: open a file instead")
            return False
        return self.open_source(str(demos[0]))

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open recording", str(ROOT / "recordings"),
                                              "AEDAT recordings (*.aedat4 *.aedat *.dat);;All files (*)")
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
    def load_model(self, model: str | None, device: str | None = None) -> bool:
        """Load a shipped model by name or a checkpoint path; on failure say why and keep the old one."""
        from app.inference import InferenceEngine

        try:
            engine = InferenceEngine.from_checkpoint(model, device, record=True)
        except model_errors() as err:
            self.model_problem = f"cannot load model: {err}"
            self.show_message(self.model_problem)
            return False
        previous = self.model_spec, self.device_spec
        self.model_spec, self.device_spec = model, device
        if not self.set_engine(engine):
            self.model_spec, self.device_spec = previous
            return False
        return True

    def set_engine(self, engine) -> bool:
        """Use an inference engine (made with ``record=True``); refuse one that cannot take events."""
        if engine.cfg.in_channels != 2:
            self.show_message(f"model {engine.name}: expects {engine.cfg.in_channels} input channel(s); an event "
                              "model takes 2 (OFF, ON). Choose another model.")
            return False
        self.session.set_engine(engine)
        self.model_problem = None
        if self.compile_model:
            engine.start_compile()
        self.clear_message()
        sp = self.settings_panel
        idx = sp.model.findText(engine.name)
        if idx < 0:
            sp.model.insertItem(sp.model.count() - 1, engine.name, self.model_spec or engine.name)
            idx = sp.model.count() - 2
        sp.model.setCurrentIndex(idx)
        dev = engine.device
        sp.device.setCurrentIndex(max(0, sp.device.findData("cpu" if dev.type == "cpu" else f"cuda:{dev.index or 0}")))
        sp.overlay.blockSignals(True)
        sp.overlay.clear()
        sp.overlay.addItem("off", -1)
        for i in range(engine.cfg.n_blocks):
            sp.overlay.addItem(f"block {i + 1}", i)
        sp.overlay.blockSignals(False)
        self.attention.set_blocks([f"TCJA gate, block {b + 1} (T x C)" for b in engine.cfg.tcja_blocks])
        self._on_pipeline_changed()
        return True

    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", str(ROOT / "model" / "weights"),
                                              "Checkpoints (*.pt);;All files (*)")
        if path:
            self.load_model(path, self.device_spec)

    def _on_model_choice(self, index: int) -> None:
        spec = self.settings_panel.model.itemData(index)
        if spec is None:
            self.choose_checkpoint()
        elif spec != self.model_spec:
            self.load_model(spec, self.device_spec)

    def _on_device(self, index: int) -> None:
        device = self.settings_panel.device.itemData(index)
        if device != self.device_spec and self.session.engine is not None:
            self.load_model(self.model_spec, device)

    def show_about(self) -> None:
        engine = self.session.engine
        summary, card = model_card(engine) if engine is not None else ("no model loaded", "")
        box = QMessageBox(QMessageBox.Icon.Information, "About", "", parent=self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText("Real-time DVS gesture recognition with a TCJA-SNN.<br><br>" + summary)
        if card:
            box.setDetailedText(card)
        box.exec()

    # ---- settings that need a new pipeline ----------------------------------------------
    def _restart(self) -> None:
        try:
            self.session.restart()
        except (SourceError, ValueError, OSError) as err:
            self.show_message(str(err))
        self._on_pipeline_changed()

    def _on_windowing(self) -> None:
        if self.session.engine is None:
            return
        sp, st = self.settings_panel, self.session.settings
        window_us, hop_us = int(sp.window_ms.value() * 1000), int(sp.hop_ms.value() * 1000)
        pipe = self.session.pipe
        if pipe is not None and (window_us, hop_us) == (pipe.window_us, pipe.hop_us):
            return
        st.window_us, st.hop_us = window_us, hop_us
        self._restart()

    def _on_roi_toggled(self, on: bool) -> None:
        self.event_view.set_editing(on)
        if not on and self.session.settings.roi is not None:
            self.session.settings.roi = None
            self._restart()

    def _on_roi(self, x0: int, y0: int, side: int) -> None:
        self.set_roi((x0, y0, side))

    def set_roi(self, roi: tuple[int, int, int] | None) -> None:
        """Use a square region of interest ``(x0, y0, side)`` of the sensor (None: the default crop)."""
        self.session.settings.roi = roi
        self._restart()

    def _on_denoise(self, on: bool) -> None:
        self.session.settings.denoise = on
        self._restart()

    def _on_view(self, *_) -> None:
        sp = self.settings_panel
        span = sp.view_ms.value() * 1000
        self.session.settings.view_us = int(span if sp.view_mode.currentData() == "window" else 5 * span)
        if self.session.pipe is not None:
            self.session.pipe.view_us = self.session.settings.view_us
        self._drawn_t = None

    def _on_pipeline_changed(self) -> None:
        """A new pipeline (or none): reset what was drawn and show its geometry and settings."""
        self.drawn_prediction = None
        self._drawn_t = None
        self._reported_pipe = None
        pipe, src = self.session.pipe, self.session.source
        if pipe is None:
            return
        self.event_view.set_crop_box(pipe.geometry.crop_box)
        sp = self.settings_panel
        for box, value in ((sp.window_ms, pipe.window_us), (sp.hop_ms, pipe.hop_us)):
            box.blockSignals(True)
            box.setValue(value / 1000)
            box.blockSignals(False)
        self.prediction.set_classes(self.session.engine.class_names, src.labels is not None)
        self._on_view()

    # ---- playback -----------------------------------------------------------------------
    def toggle_play(self) -> None:
        src, pipe = self.session.source, self.session.pipe
        if not self.session.is_file:
            return
        if pipe is not None and pipe.done:
            self._restart()
            src.resume()
        elif src.paused:
            src.resume()
        else:
            src.pause()
        self.playback.play.setText("Play" if src.paused else "Pause")

    def pause(self) -> None:
        if self.session.is_file and not self.session.source.paused:
            self.toggle_play()

    def step(self) -> None:
        """While paused, play one hop of the file (one more window)."""
        if self.session.is_file and self.session.pipe is not None:
            self.pause()
            self.session.source.step(self.session.pipe.hop_us)

    def seek(self, t_us: int) -> None:
        """Jump to file time ``t_us``; while paused, play one window there so it is shown."""
        src, pipe = self.session.source, self.session.pipe
        if not self.session.is_file or pipe is None:
            return
        src.seek(t_us)
        if src.paused:
            src.step(pipe.window_us + pipe.hop_us)

    def forward(self) -> None:
        src = self.session.source
        if self.session.is_file:
            if src.paused:
                self.step()
            else:
                self.seek(src.position_us + 1_000_000)

    def back(self) -> None:
        src, pipe = self.session.source, self.session.pipe
        if self.session.is_file and pipe is not None:
            self.seek(src.position_us - (pipe.window_us + 2 * pipe.hop_us if src.paused else 1_000_000))

    def _on_seek(self) -> None:
        src = self.session.source
        if self.session.is_file:
            self.seek(src.start_us + self.playback.seek.value() * src.duration_us // SEEK_STEPS)

    def _on_speed(self, index: int) -> None:
        speed = self.playback.speed.itemData(index)
        self.session.settings.speed = speed
        if self.session.is_file:
            self.session.source.speed = speed

    def _on_loop(self, on: bool) -> None:
        self.session.settings.loop = on
        if self.session.is_file:
            self.session.source.loop = on

    def toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    # ---- recording ----------------------------------------------------------------------
    def toggle_recording(self) -> None:
        if self.session.recorder is not None:
            self.stop_recording()
            return
        path, _ = QFileDialog.getSaveFileName(self, "Record to", str(Path.home() / time.strftime("recording-%Y%m%d-%H%M%S.aedat4")),
                                              "AEDAT4 (*.aedat4)")
        if path:
            self.start_recording(path if path.endswith(".aedat4") else path + ".aedat4")

    def start_recording(self, path: str) -> bool:
        try:
            self.session.start_recording(path)
        except (SourceError, ValueError, OSError) as err:
            self.show_message(f"cannot record: {err}")
            return False
        self.playback.record.setText("Stop recording")
        return True

    def stop_recording(self) -> None:
        rec = self.session.stop_recording()
        self.playback.record.setText("Record")
        self.status_rec.setText("")
        if rec is not None:
            rec.close()

    # ---- screenshot ---------------------------------------------------------------------
    def save_screenshot(self, path: str) -> bool:
        """Save the window as PNG: from the screen when it is mapped (X11), else rendered."""
        pixmap = None
        screen = self.screen()
        if screen is not None and self.isVisible():
            pixmap = screen.grabWindow(int(self.winId()))
        if pixmap is None or pixmap.isNull() or pixmap.width() < 10:
            pixmap = self.grab()
        return pixmap.save(path, "PNG")

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
        if path and not self.save_screenshot(path):
            self.show_message(f"{path}: cannot write the screenshot")

    # ---- drawing ------------------------------------------------------------------------
    def refresh(self) -> None:
        """One redraw from the pipeline's newest state (never a backlog)."""
        pipe, src = self.session.pipe, self.session.source
        if pipe is None:
            return
        now = time.perf_counter()
        drawn_t = None
        if pipe.last_t_us != self._drawn_t:
            events = pipe.recent_events()
            sp = self.settings_panel
            mode = sp.view_mode.currentData()
            self.event_view.show_events(event_image(events, src.width, src.height, mode, sp.view_ms.value() * 1000))
            if len(events):
                drawn_t = self._drawn_t = int(events["timestamp"][-1])
        pred = pipe.latest
        new_pred = pred is not None and pred is not self.drawn_prediction
        if new_pred:
            self.prediction.show_prediction(pred, list(pipe.history))
            self.attention.show_gates(pred.gates)
            self.drawn_prediction = pred
            self._draw_overlay()
        self.redraws += 1
        if self.draw_log is not None:
            self.draw_log.append((time.perf_counter(), drawn_t, pred if new_pred else None))
        if now - self._last_status >= STATUS_EVERY_S:
            self._last_status = now
            self._update_status(now)

    def _draw_overlay(self) -> None:
        block = self.settings_panel.overlay.currentData()
        pred = self.drawn_prediction
        if block is None or block < 0 or pred is None or block >= len(pred.spike_maps):
            self.event_view.show_spike_map(None)
        else:
            self.event_view.show_spike_map(pred.spike_maps[block])

    def _update_status(self, now: float) -> None:
        pipe, src, engine = self.session.pipe, self.session.source, self.session.engine
        self.status_source.setText(f"{src.describe()}")
        self.status_rate.setText(f"{pipe.meter.rate(now) / 1e3:,.0f} k ev/s | skipped {pipe.skipped} windows")
        recent = [p.latency_ms for p in list(pipe.history) if p.t_done >= now - LATENCY_SPAN_S]
        lat = latency_summary(np.asarray(recent))
        self.status_latency.setText("latency: -" if lat is None else f"latency {lat[0]:.0f} ms (p95 {lat[1]:.0f} ms)")
        self.status_model.setText(f"{engine.name} (trained on {engine.trained_on}) | {engine.device_name}")
        self.settings_panel.compile_state.setText(engine.compile_state)
        if self.session.recorder is not None:
            self.status_rec.setText(f"\u25cf REC {self.session.recorder.elapsed_us / 1e6:.1f} s")
        if self.session.is_file:
            pb = self.playback
            if not pb.seek.isSliderDown() and src.duration_us > 0:
                pb.seek.setValue(int((src.position_us - src.start_us) * SEEK_STEPS // src.duration_us))
            pb.time.setText(f"{(src.position_us - src.start_us) / 1e6:.1f} / {src.duration_us / 1e6:.1f} s")
        self._report_end(pipe)

    def _report_end(self, pipe) -> None:
        """Say once why a pipeline stopped: an error, a lost stream, or the end of a file."""
        if self._reported_pipe is pipe:
            return
        if pipe.error:
            self._reported_pipe = pipe
            self.show_message(f"{self.session.source.name}: {pipe.error}")
        elif pipe.done:
            self._reported_pipe = pipe
            if pipe.end_reason:
                self.show_message(f"{self.session.source.name}: stream ended: {pipe.end_reason}")
            elif self.session.is_file:
                self.playback.play.setText("Play")
                self.statusBar().showMessage("end of recording: press Play to start again", 10_000)

    def closeEvent(self, event) -> None:
        self.timer.stop()
        self.session.close()
        super().closeEvent(event)

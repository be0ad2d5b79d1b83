"""The Teach panel: record your own gestures (guided, or marked on a recording) and fine-tune on them.

It only draws and forwards clicks: the guided recording is :class:`app.teach.session.TeachSession`
(Qt-free, the clock injectable), fine-tuning is :func:`model.finetune.finetune` on a
background thread. Events arrive through :meth:`TeachPanel.feed` (the main window's
pipeline taps its stream into it) or from a source the panel reads itself
(:meth:`TeachPanel.attach_source`). A 20 Hz timer advances the session and redraws.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.gui.event_view import EventView
from app.gui.render import event_image
from app.teach.folder import TeachFolder
from app.teach.session import TeachSession, marked_segment
from app.teach.steps import Phase, TeachPlan
from eventcore.errors import UserError
from eventcore.labels import CLASS_NAMES

TICK_MS = 50
VIEW_US = 60_000
DVS128_SET = "DVS128 Gesture (11)"
OWN_SET = "my own gestures"


def model_store() -> QSettings:
    """Where the app remembers the user's fine-tuned checkpoints (Qt's per-user settings)."""
    return QSettings("tcja-gesture", "tcja-gesture")


def remembered_models() -> list[str]:
    """Paths of fine-tuned checkpoints the app offered before, those that still exist, newest last."""
    paths = model_store().value("teach/models", []) or []
    paths = [paths] if isinstance(paths, str) else list(paths)
    return [p for p in paths if Path(p).is_file()]


def remember_model(path: str) -> None:
    """Offer this checkpoint in the model list from now on (and after a restart)."""
    paths = [p for p in remembered_models() if p != path] + [path]
    store = model_store()
    store.setValue("teach/models", paths[-20:])
    store.sync()


class TeachTap:
    """Stands in a pipeline's recorder slot: every batch goes to the Teach panel and to the real recorder."""

    def __init__(self, panel: "TeachPanel", recorder=None) -> None:
        self.panel, self.recorder = panel, recorder

    def write(self, batch: np.ndarray) -> None:
        self.panel.feed(batch)
        if self.recorder is not None:
            self.recorder.write(batch)


class TeachPanel(QWidget):
    """Gesture set, plan, guided recording with countdown and live events, marking, fine-tuning."""

    MARK_HELP = ("Takes from a recording instead of the camera: pause where a gesture starts, pick the gesture, "
                 "press 'at playhead' (or type the time), then 'Mark take'.")

    model_ready = pyqtSignal(str)  # path of a fine-tuned checkpoint

    def __init__(self, parent=None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.clock = clock
        self.session: TeachSession | None = None
        self.sensor: tuple[int, int] = (0, 0)
        self.camera = ""
        self.file_source = None  # a FileSource: takes may be marked on it
        self.message = ""
        self._recent: collections.deque[np.ndarray] = collections.deque()
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._source = None
        self._job: dict | None = None  # the fine-tuning thread's progress and result
        self._shown_done = -1
        # set by the main window: makes its stream flow (resumes a paused recording); returns None, or
        # the line saying why it cannot
        self.ensure_stream: Callable[[], str | None] | None = None
        self._build()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.tick)
        self.timer.start(TICK_MS)

    # ---- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        setup = QGroupBox("Gestures and takes")
        form = QFormLayout(setup)
        self.set_choice = QComboBox()
        self.set_choice.addItems([DVS128_SET, OWN_SET])
        self.set_choice.currentTextChanged.connect(self._on_set_changed)
        form.addRow("gesture set", self.set_choice)
        self.names = QListWidget()
        self.names.setMaximumHeight(130)
        self.names.itemChanged.connect(lambda _: self._fill_mark_classes())
        form.addRow(self.names)
        row = QHBoxLayout()
        self.add_name = QPushButton("Add")
        self.remove_name = QPushButton("Remove")
        self.rename_name = QPushButton("Rename")
        for b in (self.add_name, self.remove_name, self.rename_name):
            row.addWidget(b)
        self.add_name.clicked.connect(self._add_name)
        self.remove_name.clicked.connect(self._remove_name)
        self.rename_name.clicked.connect(lambda: self.names.currentItem() and self.names.editItem(self.names.currentItem()))
        form.addRow(row)
        self.takes = QSpinBox()
        self.takes.setRange(1, 100)
        self.takes.setValue(5)
        self.take_s = QDoubleSpinBox()
        self.take_s.setRange(0.5, 30.0)
        self.take_s.setValue(2.0)
        self.take_s.setSuffix(" s")
        self.countdown_s = QDoubleSpinBox()
        self.countdown_s.setRange(0.0, 30.0)
        self.countdown_s.setValue(3.0)
        self.countdown_s.setSuffix(" s")
        form.addRow("takes per gesture", self.takes)
        form.addRow("take length", self.take_s)
        form.addRow("countdown", self.countdown_s)
        folder_row = QHBoxLayout()
        self.folder = QLineEdit(str(Path.home() / time.strftime("gestures-%Y%m%d")))
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        folder_row.addWidget(self.folder)
        folder_row.addWidget(browse)
        form.addRow("save to", folder_row)
        root.addWidget(setup)

        guide = QGroupBox("Record")
        g = QVBoxLayout(guide)
        self.prompt = QLabel("choose the gestures, then Start")
        self.prompt.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.prompt.setWordWrap(True)
        self.rec = QLabel("")
        self.rec.setStyleSheet("color: rgb(230, 40, 40); font-weight: bold;")
        top = QHBoxLayout()
        top.addWidget(self.prompt, 1)
        top.addWidget(self.rec)
        g.addLayout(top)
        self.view = EventView()
        self.view.setMinimumHeight(220)
        g.addWidget(self.view, 1)
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m takes")
        g.addWidget(self.progress)
        buttons = QGridLayout()  # two by two: the panel fits its dock beside the views
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.redo_button = QPushButton("Redo take")
        self.delete_button = QPushButton("Delete take")
        for i, b in enumerate((self.start_button, self.pause_button, self.redo_button, self.delete_button)):
            buttons.addWidget(b, i // 2, i % 2)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(lambda: self._command("pause"))
        self.redo_button.clicked.connect(lambda: self._command("redo"))
        self.delete_button.clicked.connect(lambda: self._command("delete"))
        g.addLayout(buttons)
        self.take_list = QListWidget()
        self.take_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.take_list.setMaximumHeight(120)
        g.addWidget(self.take_list)
        mark = QVBoxLayout()  # two lines: what and when
        mark.setContentsMargins(0, 0, 0, 0)
        what, when = QHBoxLayout(), QHBoxLayout()
        self.mark_class = QComboBox()
        self.mark_class.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mark_class.setMinimumContentsLength(12)  # a long gesture name does not widen the panel
        self.mark_at = QDoubleSpinBox()
        self.mark_at.setRange(0.0, 1e6)
        self.mark_at.setSuffix(" s")
        self.mark_button = QPushButton("Mark take")
        self.mark_button.setToolTip("on a recording: the take starts at this time of the file")
        self.mark_button.clicked.connect(self.mark)
        self.playhead_button = QPushButton("at playhead")
        self.playhead_button.setToolTip("start the take where the recording is now (pause on the gesture's start)")
        self.playhead_button.clicked.connect(self.mark_at_playhead)
        mark_label = QLabel("on the recording:")
        mark_label.setToolTip(self.MARK_HELP)
        what.addWidget(mark_label)
        what.addWidget(self.mark_class, 1)
        when.addWidget(self.mark_at, 1)
        when.addWidget(self.playhead_button)
        when.addWidget(self.mark_button)
        mark.addLayout(what)
        mark.addLayout(when)
        self.mark_box = QWidget()
        self.mark_box.setLayout(mark)
        self.mark_box.setEnabled(False)
        self.mark_box.setToolTip(self.MARK_HELP)
        g.addWidget(self.mark_box)
        self.mark_hint = QLabel("")
        self.mark_hint.setWordWrap(True)
        self.mark_hint.setStyleSheet("color: gray;")
        g.addWidget(self.mark_hint)
        root.addWidget(guide, 1)

        tune = QGroupBox("Fine-tune")
        t = QFormLayout(tune)
        self.base_model = QLineEdit("small64")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 200)
        self.epochs.setValue(12)
        self.tune_button = QPushButton("Fine-tune on these takes")
        self.tune_button.clicked.connect(self.finetune)
        self.tune_progress = QProgressBar()
        self.tune_progress.setRange(0, 100)
        self.tune_result = QLabel("")
        self.tune_result.setWordWrap(True)
        t.addRow("from model", self.base_model)
        t.addRow("epochs", self.epochs)
        t.addRow(self.tune_button)
        t.addRow(self.tune_progress)
        t.addRow(self.tune_result)
        root.addWidget(tune)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        root.addWidget(self.status)
        self._on_set_changed(DVS128_SET)

    # ---- gesture set ----------------------------------------------------------------------
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.names.item(i).text().strip() for i in range(self.names.count()))

    def set_class_names(self, names) -> None:
        """Use these gesture names (the user's own set)."""
        self.set_choice.blockSignals(True)
        self.set_choice.setCurrentText(OWN_SET)
        self.set_choice.blockSignals(False)
        self._fill_names(names, editable=True)

    def _fill_names(self, names, editable: bool) -> None:
        self.names.clear()
        for n in names:
            item = QListWidgetItem(n)
            if editable:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self.names.addItem(item)
        for b in (self.add_name, self.remove_name, self.rename_name):
            b.setEnabled(editable)
        self._fill_mark_classes()

    def _fill_mark_classes(self) -> None:
        """The gestures a take may be marked as: the list above, before and after Start."""
        names = list(self.class_names())
        if [self.mark_class.itemText(i) for i in range(self.mark_class.count())] != names:
            row = self.mark_class.currentIndex()
            self.mark_class.clear()
            self.mark_class.addItems(names)
            self.mark_class.setCurrentIndex(min(max(row, 0), len(names) - 1))

    def _on_set_changed(self, choice: str) -> None:
        own = choice == OWN_SET
        self._fill_names(["gesture 1", "gesture 2", "gesture 3"] if own else CLASS_NAMES, editable=own)

    def _add_name(self) -> None:
        item = QListWidgetItem(f"gesture {self.names.count() + 1}")
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.names.addItem(item)
        self.names.setCurrentItem(item)
        self._fill_mark_classes()

    def _remove_name(self) -> None:
        row = self.names.currentRow()
        if row >= 0:
            self.names.takeItem(row)
            self._fill_mark_classes()

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Save takes in", self.folder.text())
        if path:
            self.folder.setText(path)

    # ---- events in ------------------------------------------------------------------------
    def set_sensor(self, width: int, height: int, camera: str | None, file_source=None) -> None:
        """The stream's sensor (and the file, when takes may be marked on it)."""
        self.sensor, self.camera, self.file_source = (int(width), int(height)), camera or "", file_source
        self.view.set_sensor(width, height)
        self.mark_box.setEnabled(file_source is not None)
        self.mark_hint.setText("" if file_source is not None else
                               "open a recording to mark takes on it; a camera or stream records guided takes (Start)")
        with self._lock:
            self._recent.clear()

    def attach_source(self, source) -> None:
        """Read ``source`` on a thread of the panel's own (when no pipeline feeds the panel)."""
        self.detach_source()
        from app.sources.base import FileSource

        self.set_sensor(source.width, source.height, source.camera,
                        source if isinstance(source, FileSource) else None)
        self._source = source

        def read() -> None:
            for batch in source.batches():
                self.feed(batch)

        self._reader = threading.Thread(target=read, name="teach-reader", daemon=True)
        self._reader.start()

    def detach_source(self) -> None:
        if self._source is not None:
            self._source.close()
            if self._reader is not None:
                self._reader.join(timeout=5)
        self._source = self._reader = None

    def feed(self, batch: np.ndarray) -> None:
        """Events of the stream (any thread): to the take being recorded and the live view."""
        if not len(batch):
            return
        session = self.session
        if session is not None:
            session.feed(batch)
        with self._lock:
            if self._recent and batch["timestamp"][0] < self._recent[-1]["timestamp"][-1]:
                self._recent.clear()  # a seek or a loop: the old events are not the view's any more
            self._recent.append(batch)
            t_end = batch["timestamp"][-1]
            while len(self._recent) > 1 and self._recent[0]["timestamp"][-1] < t_end - VIEW_US:
                self._recent.popleft()

    # same interface as a Recorder, so a pipeline can tap its stream into the panel
    write = feed

    # ---- recording ------------------------------------------------------------------------
    def plan(self) -> TeachPlan:
        return TeachPlan(self.class_names(), self.takes.value(), self.take_s.value(), self.countdown_s.value())

    def _open_session(self) -> TeachSession:
        if self.sensor == (0, 0):
            raise UserError("open a camera, a network stream or a recording first")
        plan = self.plan()
        folder = TeachFolder.create(self.folder.text(), plan.class_names, self.camera or "unknown camera",
                                    self.sensor, plan.takes_per_class, plan.take_s, source=self.camera)
        session = TeachSession(plan, folder, self.clock)
        self._fill_mark_classes()
        return session

    def _ensure_session(self) -> bool:
        try:
            if self.session is None or self.session.plan != self.plan() or \
                    str(self.session.folder.path) != self.folder.text():
                if self.session is not None:
                    self.session.close()
                self.session = self._open_session()
                self._shown_done = -1
            return True
        except UserError as err:
            self.show_message(str(err))
            return False

    def start(self) -> None:
        """Start (or resume) the guided recording; a paused recording is played, since takes need events."""
        if self.ensure_stream is not None and self._source is None:
            problem = self.ensure_stream()
            if problem:
                self.show_message(f"cannot start: {problem}")
                return
        if self._ensure_session():
            self.session.start()
            self.tick()

    def _selected_slot(self) -> tuple[int, int] | None:
        row = self.take_list.currentRow()
        if self.session is None or row < 0:
            return None
        return self.session.plan.slots[row]

    def _command(self, what: str) -> None:
        if self.session is None:
            return
        if what == "pause":
            self.session.pause()
        else:
            slot = self._selected_slot()
            if slot is None:
                self.show_message(f"select a take in the list to {what}")
                return
            (self.session.redo if what == "redo" else self.session.delete)(*slot)
            self._shown_done = -1
        self.tick()

    def mark_at_playhead(self) -> None:
        """Put the mark where the recording's playback is now (the main window's timeline)."""
        if self.file_source is not None:
            src = self.file_source
            self.mark_at.setValue(max(0.0, (src.position_us - src.start_us) / 1e6))

    def mark(self) -> None:
        """The take starts at the chosen time of the recording (file sources only)."""
        if self.file_source is None or not self._ensure_session():
            return
        try:
            events = marked_segment(self.file_source, self.mark_at.value(), self.session.plan.take_s)
            name = self.session.mark(events, self.mark_class.currentIndex())
        except UserError as err:
            self.show_message(str(err))
            return
        self._shown_done = -1
        self.show_message(f"marked {name}")

    def show_message(self, text: str) -> None:
        self.message = text
        self.status.setText(text)

    # ---- fine-tuning ----------------------------------------------------------------------
    def finetune(self) -> None:
        """Fine-tune on the folder's takes on a background thread; the progress bar follows it."""
        if self._job is not None and not self._job.get("done"):
            return
        if self.session is not None and self.session.last.phase in (Phase.COUNTDOWN, Phase.RECORDING):
            self.session.pause()
        job = {"fraction": 0.0, "text": "starting", "done": False, "result": None, "error": None}
        self._job = job
        folder, base, epochs = self.folder.text(), self.base_model.text().strip() or None, self.epochs.value()

        def work() -> None:
            from model.finetune import FinetuneSettings, finetune

            def progress(f: float, text: str) -> None:
                job["fraction"], job["text"] = f, text

            try:
                job["result"] = finetune(folder, base, settings=FinetuneSettings(epochs=epochs), progress=progress,
                                         command="GUI Teach panel")
            except UserError as err:
                job["error"] = str(err)
            except Exception as err:  # a bug of ours: one line in the panel
                job["error"] = f"internal error: {type(err).__name__}: {err}"
            job["done"] = True

        self.tune_button.setEnabled(False)
        threading.Thread(target=work, name="finetune", daemon=True).start()

    def _update_job(self) -> None:
        job = self._job
        if job is None:
            return
        self.tune_progress.setValue(int(100 * job["fraction"]))
        self.tune_progress.setFormat(job["text"][:60])
        if not job["done"]:
            return
        self._job = None
        self.tune_button.setEnabled(True)
        if job["error"]:
            self.tune_progress.setValue(0)
            self.tune_progress.setFormat("not fine-tuned")
            self.tune_result.setText(job["error"])
            return
        res = job["result"]
        sim = " (fine-tuned on SIMULATED takes)" if res.simulated else ""
        from model.finetune import chance_warning

        warning = chance_warning(res)
        self.tune_result.setText(f"{res.path.name}{sim}: held-out before {res.before.describe()}; "
                                 f"after {res.after.describe()} ({res.seconds:.0f} s)" + (f"\n{warning}" if warning else ""))
        self.model_ready.emit(str(res.path))

    # ---- redraw ---------------------------------------------------------------------------
    def tick(self) -> None:
        """Advance the session and redraw (the timer calls this; tests may too)."""
        self._update_job()
        if self.sensor != (0, 0) and self.isVisible():
            with self._lock:
                parts = list(self._recent)
            if parts:
                ev = np.concatenate(parts)
                ev = ev[ev["timestamp"] >= ev["timestamp"][-1] - VIEW_US]
                self.view.show_events(event_image(ev, self.sensor[0], self.sensor[1]))
        if self.session is None:
            return
        n_msgs = len(self.session.messages)
        out = self.session.tick()
        if len(self.session.messages) != n_msgs:
            self.show_message(self.session.messages[-1])
        self.prompt.setText(out.prompt)
        self.rec.setText("● REC" if out.phase == Phase.RECORDING else "")
        self.progress.setRange(0, out.total)
        self.progress.setValue(out.done)
        if out.done != self._shown_done or out.finished or out.started:
            self._fill_take_list()
            self._shown_done = out.done

    def _fill_take_list(self) -> None:
        s = self.session
        row = self.take_list.currentRow()
        self.take_list.clear()
        finished = s.folder.finished()
        for i, (c, k) in enumerate(s.plan.slots):
            mark = "✓" if (c, k) in finished else ("●" if i == s.state.slot and s.last.phase == Phase.RECORDING
                                                    else " ")
            self.take_list.addItem(f"{mark} {s.plan.class_names[c]} — take {k}")
        if 0 <= row < self.take_list.count():
            self.take_list.setCurrentRow(row)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.timer.stop()
        self.detach_source()
        if self.session is not None:
            self.session.close()
        super().closeEvent(event)

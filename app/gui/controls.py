"""The widgets the user drives: the playback bar under the event view and the settings panel.

Only construction lives here; ``main_window`` connects them to the session.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QPainter
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QWidget,
)

SPEEDS = (("0.25x", 0.25), ("0.5x", 0.5), ("1x", 1.0), ("2x", 2.0), ("4x", 4.0), ("max", None))
SEEK_STEPS = 1000


def _button(text: str, tip: str) -> QPushButton:
    b = QPushButton(text)
    b.setToolTip(tip)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep space and arrows for the window's shortcuts
    return b


class ElidedLabel(QLabel):
    """A one-line label that gives way to its neighbours: cut with "…" when short of room, full text as tooltip."""

    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.width())
        painter.drawText(self.rect(), int(self.alignment()), shown)


class PlaybackBar(QWidget):
    """Play/pause, step, seek, speed, loop and record."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.play = _button("Pause", "play / pause (space)")
        self.step = _button("Step", "play one hop while paused (right arrow)")
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.seek.setRange(0, SEEK_STEPS)
        self.seek.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.seek.setMinimumWidth(160)  # a usable slider however narrow the panel gets
        self.time = QLabel("0.0 / 0.0 s")
        self.speed = QComboBox()
        for text, value in SPEEDS:
            self.speed.addItem(text, value)
        self.speed.setCurrentIndex(2)
        self.speed.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.loop = QCheckBox("Loop")
        self.loop.setChecked(True)
        self.loop.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.record = _button("Record", "record the stream to AEDAT4 (R)")
        row = QHBoxLayout(self)
        row.setContentsMargins(2, 2, 2, 2)
        for w in (self.play, self.step):
            row.addWidget(w)
        row.addWidget(self.seek, stretch=1)
        for w in (self.time, self.speed, self.loop, self.record):
            row.addWidget(w)

    def set_file_controls(self, enabled: bool) -> None:
        """Seek, speed, loop and step only make sense for recordings."""
        for w in (self.play, self.step, self.seek, self.speed, self.loop):
            w.setEnabled(enabled)


class SettingsPanel(QWidget):
    """Model, device, windowing, view and filter settings."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model = QComboBox()
        self.device = QComboBox()
        self.window_ms = QDoubleSpinBox()
        self.window_ms.setRange(10, 10_000)
        self.window_ms.setDecimals(0)
        self.window_ms.setSuffix(" ms")
        self.hop_ms = QDoubleSpinBox()
        self.hop_ms.setRange(5, 5_000)
        self.hop_ms.setDecimals(0)
        self.hop_ms.setSuffix(" ms")
        self.view_mode = QComboBox()
        self.view_mode.addItem("accumulate", "window")
        self.view_mode.addItem("exponential decay", "decay")
        self.view_ms = QDoubleSpinBox()
        self.view_ms.setRange(5, 2_000)
        self.view_ms.setDecimals(0)
        self.view_ms.setSuffix(" ms")
        self.view_ms.setValue(100)
        self.view_ms.setToolTip("accumulation span, or the decay time constant")
        self.overlay = QComboBox()
        self.overlay.addItem("off", -1)
        self.roi = QCheckBox("drag a square on the view")
        self.framing = QCheckBox("zoom onto a far subject")
        self.framing.setToolTip("automatic framing: the model also reads zoomed squares of its input and keeps "
                                "the one it is surest on (the square drawn on the view); one extra window a hop")
        self.denoise = QCheckBox("background-activity filter")
        self.compile_state = QLabel("off")
        form = QFormLayout(self)
        form.addRow("Model", self.model)
        form.addRow("Device", self.device)
        form.addRow("Window", self.window_ms)
        form.addRow("Hop", self.hop_ms)
        form.addRow("Event view", self.view_mode)
        form.addRow("View span", self.view_ms)
        form.addRow("Attention overlay", self.overlay)
        form.addRow("Region of interest", self.roi)
        form.addRow("Automatic framing", self.framing)
        form.addRow("Noise filter", self.denoise)
        self.compile_state.setToolTip("the inference backend in use and its state (export, compile)")
        form.addRow("Inference", self.compile_state)

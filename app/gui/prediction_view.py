"""The prediction: the decided gesture in large type, a bar per class, a decision timeline.

Bars and timeline share one colour per class (grey = no gesture), so the timeline reads
against the bars' legend. The timeline's top row is the model's decision per window, the
bottom row the ground truth when the recording carries labels.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.gui.render import NO_GESTURE_COLOUR, UNLABELLED_COLOUR, class_colours

TIMELINE_WINDOWS = 150


class PredictionView(QWidget):
    """Big label + class bars + timeline of the last ``TIMELINE_WINDOWS`` decisions."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.label = QLabel("no model")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.label.font()
        font.setPointSize(22)
        font.setBold(True)
        self.label.setFont(font)
        self.detail = QLabel("")
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.bars_plot = pg.PlotWidget(background=(28, 28, 34))
        self.bars_plot.setMouseEnabled(x=False, y=False)
        self.bars_plot.setMenuEnabled(False)
        self.bars_plot.hideButtons()
        self.bars_plot.setXRange(0, 1, padding=0)
        self.bars_plot.getViewBox().invertY(True)
        self.bars_plot.setLabel("bottom", "class rate (smoothed)")
        self.timeline = pg.PlotWidget(background=(28, 28, 34))
        self.timeline.setMouseEnabled(x=False, y=False)
        self.timeline.setMenuEnabled(False)
        self.timeline.hideButtons()
        self.timeline.setLabel("bottom", "windows ago")
        self.timeline_image = pg.ImageItem(axisOrder="row-major")
        self.timeline.addItem(self.timeline_image)
        self.timeline.getViewBox().invertY(True)
        self.timeline.setMaximumHeight(110)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.detail)
        layout.addWidget(self.bars_plot, stretch=3)
        layout.addWidget(self.timeline, stretch=1)
        self.bars: pg.BarGraphItem | None = None
        self.class_names: tuple[str, ...] = ()
        self.colours = np.zeros((0, 3), np.uint8)
        self.labelled = False

    def set_classes(self, class_names: tuple[str, ...], labelled: bool) -> None:
        """Rebuild bars and timeline rows for a model's classes; truth row only when labelled."""
        self.class_names = tuple(class_names)
        self.labelled = labelled
        n = len(class_names)
        self.colours = class_colours(n)
        if self.bars is not None:
            self.bars_plot.removeItem(self.bars)
        self.bars = pg.BarGraphItem(x0=0, y=np.arange(n), height=0.75, width=np.zeros(n),
                                    brushes=[pg.mkBrush(*c) for c in self.colours], pen=None)
        self.bars_plot.addItem(self.bars)
        self.bars_plot.setYRange(-0.5, n - 0.5, padding=0)
        self.bars_plot.getAxis("left").setTicks([[(i, name) for i, name in enumerate(class_names)]])
        rows = [(0, "model")] + ([(1, "truth")] if labelled else [])
        self.timeline.getAxis("left").setTicks([rows])
        self.timeline_image.setImage(self.timeline_rgb([]), autoLevels=False, levels=(0, 255))
        self.timeline_image.setRect(-TIMELINE_WINDOWS, -0.5, TIMELINE_WINDOWS, len(rows))
        self.timeline.setXRange(-TIMELINE_WINDOWS, 0, padding=0)
        self.timeline.setYRange(-0.5, len(rows) - 0.5, padding=0)
        self.label.setText("waiting for the first window")
        self.detail.setText("")

    def show_prediction(self, pred, history: list) -> None:
        """Draw one prediction (pipeline.Prediction) and the decisions of ``history`` (oldest first)."""
        d = pred.decision
        if d.index < 0:
            self.label.setText("no gesture")
            self.detail.setText(d.reason)
        else:
            self.label.setText(f"{d.label.replace('_', ' ')}  {d.confidence:.0%}")
            truth = "" if pred.truth is None else f"truth: {self.class_names[pred.truth].replace('_', ' ')}"
            self.detail.setText(truth)
        self.bars.setOpts(width=np.asarray(d.smoothed, dtype=np.float64))
        self.timeline_image.setImage(self.timeline_rgb(history), autoLevels=False, levels=(0, 255))

    def timeline_rgb(self, history: list) -> np.ndarray:
        """``[rows, TIMELINE_WINDOWS, 3]`` colours of the last decisions (and truths), newest right."""
        recent = history[-TIMELINE_WINDOWS:]
        n = len(self.class_names)
        table = np.vstack([self.colours, NO_GESTURE_COLOUR, UNLABELLED_COLOUR]).astype(np.uint8)
        decided = np.array([p.decision.index for p in recent], dtype=np.intp)
        rows = [np.where(decided < 0, n, decided)]
        if self.labelled:
            truth = np.array([-1 if p.truth is None else p.truth for p in recent], dtype=np.intp)
            rows.append(np.where(truth < 0, n + 1, truth))
        idx = np.full((len(rows), TIMELINE_WINDOWS), n + 1, dtype=np.intp)
        if recent:
            idx[:, TIMELINE_WINDOWS - len(recent):] = np.stack(rows)
        return table[idx]

"""The prediction: the decided gesture in large type, a bar per class, a decision timeline.

Bars and timeline share one colour per class (grey = no gesture), so the timeline reads
against the bars' legend. The timeline's top row is the model's decision per window, the
bottom row the ground truth when the recording carries labels. The recording's labels name
DVS128 Gesture classes; a model with gestures of its own (fine-tuned in the Teach panel)
shows its own names, and the truth row colours only the gestures the model knows (a
gesture it does not know is drawn in its own colour and said so).

Marks on the timeline show the delay of each decision: a white triangle where the model
first named a gesture (after saying something else), a yellow one where the labelled
gesture began. The legend under it has two lines: the marks with the latest delay, then a
swatch of every colour the timeline draws (the gestures on it, coloured as their bars, no
gesture, a truth the model lacks, no label).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

import app.gui.qimage_leak  # noqa: F401 (every image this view draws goes through it)
from app.gui.render import NO_GESTURE_COLOUR, UNLABELLED_COLOUR, class_colours
from eventcore.labels import CLASS_NAMES

TIMELINE_WINDOWS = 150
UNKNOWN_TRUTH_COLOUR = (120, 95, 60)  # a labelled gesture that is not one of the model's
NAMED_COLOUR = (255, 255, 255)
BEGAN_COLOUR = (255, 215, 0)
NOT_IN_MODEL = "not in this model's gestures"


def pretty(name: str) -> str:
    return name.replace("_", " ")


@dataclass(frozen=True)
class Onsets:
    """Where the decision and the truth first became a gesture, as window positions in a history."""

    named: np.ndarray  # positions where the decision became gesture ``decided[i]`` after something else
    began: np.ndarray  # positions where the labelled gesture began
    delay_s: float | None  # latest: from a labelled gesture's start to the model first naming it (None: not yet)


def onsets(decided: np.ndarray, labels: np.ndarray, truth: np.ndarray, t_end_us: np.ndarray) -> Onsets:
    """Onsets over one history, oldest first.

    ``decided``: the model's class per window (-1 none); ``labels``: the recording's label
    (-1 none); ``truth``: that label as the model's class (-1 none, -2 not one of the model's).
    """
    prev_d = np.concatenate([[-1], decided[:-1]])
    prev_l = np.concatenate([[-1], labels[:-1]])
    named = np.flatnonzero((decided >= 0) & (decided != prev_d))
    began = np.flatnonzero((labels >= 0) & (labels != prev_l))
    delay = None
    for b in began[::-1]:
        hit = np.flatnonzero((decided[b:] == truth[b]) & (labels[b:] == labels[b]))
        if truth[b] >= 0 and len(hit):
            delay = (int(t_end_us[b + hit[0]]) - int(t_end_us[b])) / 1e6
            break
    return Onsets(named, began, delay)


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
        for lab in (self.label, self.detail):  # a longer text must not resize the panels around it
            lab.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            lab.setMinimumWidth(1)
        self.bars_plot = pg.PlotWidget(background=(28, 28, 34))
        self.bars_plot.setMouseEnabled(x=False, y=False)
        self.bars_plot.setMenuEnabled(False)
        self.bars_plot.hideButtons()
        self.bars_plot.setXRange(0, 1, padding=0)
        self.bars_plot.getViewBox().invertY(True)
        self.bars_plot.setLabel("bottom", "class rate (smoothed)")
        self.bars_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.timeline = pg.PlotWidget(background=(28, 28, 34))
        self.timeline.setMouseEnabled(x=False, y=False)
        self.timeline.setMenuEnabled(False)
        self.timeline.hideButtons()
        self.timeline.setLabel("bottom", "windows ago")
        self.timeline.getAxis("bottom").enableAutoSIPrefix(False)
        self.timeline_image = pg.ImageItem(axisOrder="row-major")
        self.timeline.addItem(self.timeline_image)
        self.named_marks = pg.ScatterPlotItem(symbol="t", size=11, pen=pg.mkPen(0, 0, 0),
                                              brush=pg.mkBrush(*NAMED_COLOUR))
        self.began_marks = pg.ScatterPlotItem(symbol="t1", size=11, pen=pg.mkPen(0, 0, 0),
                                              brush=pg.mkBrush(*BEGAN_COLOUR))
        self.timeline.addItem(self.named_marks)
        self.timeline.addItem(self.began_marks)
        self.timeline.getViewBox().invertY(True)
        self.timeline.setMaximumHeight(110)
        self.legend = QLabel("")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(280)  # the class names and the headline stay legible beside a docked panel
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.detail)
        layout.addWidget(self.bars_plot, stretch=3)
        layout.addWidget(self.timeline, stretch=1)
        layout.addWidget(self.legend)
        self.bars: pg.BarGraphItem | None = None
        self.class_names: tuple[str, ...] = ()
        self.colours = np.zeros((0, 3), np.uint8)
        self.labelled = False
        self.truth_to_model = np.zeros(0, np.intp)
        self.onsets = Onsets(np.zeros(0, np.intp), np.zeros(0, np.intp), None)
        self.drawn_classes: tuple[int, ...] = ()  # the model's classes the timeline draws now
        self._set_axes(0)

    def _set_axes(self, n: int) -> None:
        """Bars' class axis (top to bottom) and the timeline's rows, for ``n`` classes (0: empty)."""
        self.bars_plot.setYRange(-0.5, max(n, 1) - 0.5, padding=0)
        self.bars_plot.getAxis("left").setTicks([[(i, pretty(name)) for i, name in enumerate(self.class_names)]])
        rows = [(0, "model")] + ([(1, "truth")] if self.labelled else [])
        self.timeline.getAxis("left").setTicks([rows])
        self.timeline_image.setImage(self.timeline_rgb([]), autoLevels=False, levels=(0, 255))
        self.timeline_image.setRect(-TIMELINE_WINDOWS, -0.5, TIMELINE_WINDOWS, len(rows))
        self.timeline.setXRange(-TIMELINE_WINDOWS, 0, padding=0)
        self.timeline.setYRange(-0.5, len(rows) - 0.5, padding=0)
        self.named_marks.setData([], [])
        self.began_marks.setData([], [])
        self._show_legend(None)

    def set_classes(self, class_names: tuple[str, ...], labelled: bool,
                    truth_names: tuple[str, ...] = CLASS_NAMES) -> None:
        """Rebuild bars and timeline rows for a model's classes; truth row only when labelled.

        ``truth_names``: the names the recording's labels index (DVS128 Gesture's classes).
        """
        self.class_names = tuple(class_names)
        self.labelled = labelled
        self.truth_names = tuple(truth_names)
        n = len(class_names)
        self.colours = class_colours(n)
        own = {name: i for i, name in enumerate(self.class_names)}
        self.truth_to_model = np.array([own.get(name, -2) for name in self.truth_names], dtype=np.intp)
        if self.bars is not None:
            self.bars_plot.removeItem(self.bars)
        self.bars = pg.BarGraphItem(x0=0, y=np.arange(n), height=0.75, width=np.zeros(n),
                                    brushes=[pg.mkBrush(*c) for c in self.colours], pen=None)
        self.bars_plot.addItem(self.bars)
        self._set_axes(n)
        self.label.setText("waiting…")
        self.detail.setText("for the model's first window")

    def show_idle(self, text: str, detail: str = "") -> None:
        """No prediction to show (no model, no source, a source that failed): say what is missing."""
        self.label.setText(text)
        self.detail.setText(detail)
        if self.bars is not None:
            self.bars.setOpts(width=np.zeros(len(self.class_names)))
        self.timeline_image.setImage(self.timeline_rgb([]), autoLevels=False, levels=(0, 255))
        self.named_marks.setData([], [])
        self.began_marks.setData([], [])

    def truth_text(self, truth: int | None) -> str:
        """The truth line for a window's label (an index into ``truth_names``)."""
        if truth is None or not self.labelled:
            return ""
        if not 0 <= truth < len(self.truth_names):
            return f"truth: class {truth + 1} ({NOT_IN_MODEL})"
        name = pretty(self.truth_names[truth])
        return f"truth: {name}" if self.truth_to_model[truth] >= 0 else f"truth: {name} ({NOT_IN_MODEL})"

    def show_prediction(self, pred, history: list) -> None:
        """Draw one prediction (pipeline.Prediction) and the decisions of ``history`` (oldest first)."""
        d = pred.decision
        truth = self.truth_text(pred.truth)
        if 0 <= d.index < len(self.class_names):
            head, detail = f"{pretty(self.class_names[d.index])}  {d.confidence:.0%}", truth
        else:
            head, detail = "no gesture", " \u00b7 ".join(t for t in (d.reason, truth) if t)
        widths = np.zeros(len(self.class_names))
        smoothed = np.asarray(d.smoothed, dtype=np.float64).ravel()[: len(widths)]
        widths[: len(smoothed)] = smoothed
        self.label.setText(head)
        self.detail.setText(detail)
        self.bars.setOpts(width=widths)
        self.timeline_image.setImage(self.timeline_rgb(history), autoLevels=False, levels=(0, 255))
        self._draw_marks(history)

    def _rows(self, recent: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per window: the model's class (-1 none), the label (-1 none) and the label as the model's class
        (-1 none, -2 a gesture the model lacks)."""
        n = len(self.class_names)
        decided = np.array([p.decision.index for p in recent], dtype=np.intp)
        decided[(decided < 0) | (decided >= n)] = -1
        truth = np.array([-1 if p.truth is None else p.truth for p in recent], dtype=np.intp)
        known = (truth >= 0) & (truth < len(self.truth_to_model))
        mapped = np.full(len(truth), -1, dtype=np.intp)
        mapped[known] = self.truth_to_model[truth[known]]
        mapped[(truth >= 0) & ~known] = -2
        return decided, truth, mapped

    def timeline_rgb(self, history: list) -> np.ndarray:
        """``[rows, TIMELINE_WINDOWS, 3]`` colours of the last decisions (and truths), newest right."""
        recent = list(history)[-TIMELINE_WINDOWS:]
        n = len(self.class_names)
        table = np.vstack([self.colours.reshape(-1, 3), NO_GESTURE_COLOUR, UNLABELLED_COLOUR,
                           UNKNOWN_TRUTH_COLOUR]).astype(np.uint8)
        decided, _, truth = self._rows(recent)
        rows = [np.where(decided < 0, n, decided)]
        if self.labelled:
            rows.append(np.select([truth == -1, truth == -2], [n + 1, n + 2], truth))
        idx = np.full((len(rows), TIMELINE_WINDOWS), n + 1, dtype=np.intp)
        if recent:
            idx[:, TIMELINE_WINDOWS - len(recent):] = np.stack(rows)
        self.drawn_classes = tuple(int(k) for k in np.unique(idx[idx < n]))
        return table[idx]

    def _draw_marks(self, history: list) -> None:
        """Triangles where a gesture was first named and where a labelled one began; the legend's delay."""
        history = list(history)
        decided, labels, truth = self._rows(history)
        if not self.labelled:
            labels = truth = np.full(len(decided), -1, np.intp)
        t_end = np.array([p.t_end_us for p in history], dtype=np.int64)
        found = onsets(decided, labels, truth, t_end)
        self.onsets = found
        first = len(history) - TIMELINE_WINDOWS  # history position drawn at the timeline's left edge

        def xs(pos: np.ndarray) -> np.ndarray:
            pos = pos[pos >= first]
            return (pos - len(history)).astype(np.float64)  # the window's left edge, in "windows ago"

        named, began = xs(found.named), xs(found.began)
        self.named_marks.setData(named, np.full(len(named), -0.25))
        self.began_marks.setData(began, np.full(len(began), 1.25 if self.labelled else 0.25))
        self._show_legend(found.delay_s)

    def _show_legend(self, delay_s: float | None) -> None:
        """Two lines: the marks (and the latest delay), then every colour the timeline draws."""
        def glyph(colour, char: str) -> str:
            return f"<span style='color:rgb{tuple(int(v) for v in colour)}'>{char}</span>"

        marks = [f"{glyph(NAMED_COLOUR, '▼')} gesture first named"]
        if self.labelled:
            marks.append(f"{glyph(BEGAN_COLOUR, '▲')} labelled gesture began")
            if delay_s is not None:
                marks.append(f"<b>named {delay_s:.2f} s after it began</b>")
        swatches = "".join(glyph(self.colours[k], '■') for k in self.drawn_classes)
        colours = [f"{swatches} a gesture, in its bar's colour".strip(),
                   f"{glyph(NO_GESTURE_COLOUR, '■')} no gesture"]
        if self.labelled:
            if (self.truth_to_model < 0).any():
                colours.append(f"{glyph(UNKNOWN_TRUTH_COLOUR, '■')} truth {NOT_IN_MODEL}")
            colours.append(f"{glyph(NO_GESTURE_COLOUR, '□')} no label")
        self.legend.setText(" &nbsp; ".join(marks) + "<br>" + " &nbsp; ".join(colours))

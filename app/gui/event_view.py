"""The live event view: ON/OFF image at sensor resolution, the model's input square, attention.

The input square is a draggable, aspect-locked ROI; it is shown when the sensor is cropped
or while the user edits the region of interest. Overlaid on the square it was computed from:
the class evidence map (where the evidence for the predicted class lies, on by default) or a
block's spike-rate map, with a colour bar; the title is the legend (polarity colours, the input
square when it is drawn, the overlay).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, pyqtSignal
from PyQt6.QtWidgets import QSizePolicy

import app.gui.qimage_leak  # noqa: F401 (every image this view draws goes through it)
from app.gui.render import BACKGROUND, OFF_COLOUR, ON_COLOUR, OVERLAY_CMAP, nice_level, overlay_lut

_OVERLAY_LUT = overlay_lut()


def _hex(rgb) -> str:
    return "#%02x%02x%02x" % tuple(int(v) for v in rgb)


BOX_COLOUR = (255, 230, 0)
POLARITY_LEGEND = (f"<span style='color:{_hex(ON_COLOUR)}'>&#9632; ON</span>&nbsp;&nbsp;"
                   f"<span style='color:{_hex(OFF_COLOUR)}'>&#9632; OFF</span>")
BOX_LEGEND = f"&nbsp;&nbsp;<span style='color:{_hex(BOX_COLOUR)}'>&#9633; model input</span>"


class EventView(pg.PlotWidget):
    """Shows ``[H, W, 3]`` event images; emits ``roi_changed(x0, y0, side)`` after a drag."""

    roi_changed = pyqtSignal(int, int, int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground(tuple(int(v) for v in BACKGROUND))
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        vb = self.getViewBox()
        vb.invertY(True)
        vb.setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.overlay.setLookupTable(_OVERLAY_LUT)
        self.overlay.setZValue(5)
        self.overlay.setVisible(False)
        self.addItem(self.image)
        self.addItem(self.overlay)
        self.box = pg.ROI((0, 0), (128, 128), pen=pg.mkPen(BOX_COLOUR, width=2), movable=False,
                          rotatable=False, resizable=False)
        self.box.setZValue(10)
        self.box.setVisible(False)
        self.box.sigRegionChangeFinished.connect(self._on_box_moved)
        self.addItem(self.box)
        self.bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=OVERLAY_CMAP, interactive=False, width=12)
        self.getPlotItem().layout.addItem(self.bar, 2, 5)  # right of the image, not linked (the overlay fades in alpha)
        self.bar.setVisible(False)
        self._bar_label = ""
        self.overlay_text = ""
        self._title = None
        self._set_title()
        # a long title must not squeeze the image and its colour bar: the title gives way instead
        self.getPlotItem().titleLabel.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.sensor = (0, 0)
        self.editing = False
        self._handle = None
        self._box_rect = QRectF(0, 0, 128, 128)

    def set_sensor(self, width: int, height: int) -> None:
        self.sensor = (width, height)
        self.image.setImage(np.zeros((height, width, 3), np.uint8), autoLevels=False, levels=(0, 255))
        self.box.maxBounds = QRectF(0, 0, width, height)
        self.setRange(xRange=(0, width), yRange=(0, height), padding=0.01)

    def set_crop_box(self, box: tuple[int, int, int]) -> None:
        """Outline the model's input square; hidden when it is the whole sensor and not edited."""
        x0, y0, side = box
        self.box.blockSignals(True)
        self.box.setPos((x0, y0))
        self.box.setSize((side, side))
        self.box.blockSignals(False)
        self._box_rect = QRectF(x0, y0, side, side)
        whole = (x0, y0) == (0, 0) and (side, side) == self.sensor
        self.box.setVisible(self.editing or not whole)
        self._set_title()

    def set_editing(self, on: bool) -> None:
        """Let the user drag and resize the input square (a square region of interest)."""
        self.editing = on
        self.box.translatable = on
        if on and self._handle is None:
            self._handle = self.box.addScaleHandle((1, 1), (0, 0), lockAspect=True)
        elif not on and self._handle is not None:
            self.box.removeHandle(self._handle)
            self._handle = None
        if on:
            self.box.setVisible(True)
        self._set_title()

    def _on_box_moved(self) -> None:
        if not self.editing:
            return
        w, h = self.sensor
        x0, y0 = (int(round(v)) for v in self.box.pos())
        side = int(round(min(self.box.size())))
        side = max(8, min(side, w, h))
        x0 = min(max(x0, 0), w - side)
        y0 = min(max(y0, 0), h - side)
        self.roi_changed.emit(x0, y0, side)

    def show_events(self, rgb: np.ndarray) -> None:
        self.image.setImage(rgb, autoLevels=False, levels=(0, 255))

    def _set_title(self) -> None:
        title = (POLARITY_LEGEND + (BOX_LEGEND if self.box.isVisible() else "")
                 + (f"&nbsp;&nbsp;&middot;&nbsp;&nbsp;{self.overlay_text}" if self.overlay_text else ""))
        if title != self._title:
            self._title = title
            self.setTitle(title, size="9pt", color=(210, 210, 210))

    def _show_overlay(self, image: np.ndarray, top: float, text: str, bar_label: str) -> None:
        self.overlay.setImage(image, autoLevels=False, levels=(0.0, top))
        self.overlay.setRect(self._box_rect)
        self.overlay.setVisible(True)
        if self.bar.levels() != (0.0, top) or self._bar_label != bar_label:  # relabelling the bar is costly
            self.bar.setLevels((0.0, top))
            self.bar.setLabel("right", bar_label)
            self._bar_label = bar_label
        self.bar.setVisible(True)
        self.overlay_text = text
        self._set_title()

    def hide_overlay(self) -> None:
        self.overlay.setVisible(False)
        self.bar.setVisible(False)
        self.overlay_text = ""
        self._set_title()

    def show_evidence(self, evidence: np.ndarray | None, class_name: str) -> None:
        """Overlay where the evidence for ``class_name`` lies ([H, W] in 0..1), or hide it (None)."""
        if evidence is None:
            self.hide_overlay()
            return
        self._show_overlay(evidence, 1.0, f"evidence for <b>{class_name.replace('_', ' ')}</b>",
                           "evidence (share of max)")

    def show_spike_map(self, spike_map: np.ndarray | None, block: int = 0) -> None:
        """Overlay one block's spike-rate map (scaled to its maximum, rounded up to a nice step) or hide it (None)."""
        if spike_map is None:
            self.hide_overlay()
            return
        top = float(spike_map.max())
        self._show_overlay(spike_map, nice_level(top) if top > 0 else 1.0, f"spike rate, block {block + 1}",
                           "spikes per neuron and step")

"""The live event view: ON/OFF image at sensor resolution, the model's input square, spike maps.

The input square is a draggable, aspect-locked ROI; it is shown when the sensor is cropped
or while the user edits the region of interest. A per-block spike-rate map of the network
can be overlaid on the square it was computed from.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, pyqtSignal

from app.gui.render import BACKGROUND

_OVERLAY_LUT = pg.colormap.get("inferno").getLookupTable(0.0, 1.0, 256, alpha=True)
_OVERLAY_LUT[:, 3] = np.linspace(0, 200, 256).astype(np.uint8)


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
        self.box = pg.ROI((0, 0), (128, 128), pen=pg.mkPen((255, 230, 0), width=2), movable=False,
                          rotatable=False, resizable=False)
        self.box.setZValue(10)
        self.box.setVisible(False)
        self.box.sigRegionChangeFinished.connect(self._on_box_moved)
        self.addItem(self.box)
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

    def show_spike_map(self, spike_map: np.ndarray | None) -> None:
        """Overlay one block's spike-rate map (scaled to its maximum) or hide it (None)."""
        if spike_map is None:
            self.overlay.setVisible(False)
            return
        top = float(spike_map.max())
        self.overlay.setImage(spike_map, autoLevels=False, levels=(0.0, top if top > 0 else 1.0))
        self.overlay.setRect(self._box_rect)
        self.overlay.setVisible(True)

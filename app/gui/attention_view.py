"""The TCJA gates: one ``T x C`` heatmap per TCJA block, redrawn every window, with colour bars.

A gate value is the sigmoid attention weight TCJA multiplies the block's spikes by at time
step t and channel c. A trained network's gates keep nearly one pattern whatever the input,
so each is drawn as its deviation from its running mean (:class:`~app.gui.render.GateDeviation`):
red where the window's input makes TCJA attend more than usual, blue less. Each plot's colour
bar gives the scale in gate units (a sigmoid's 0..1), rounded up to a step of 1-1.5-2-3-5-7.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QTextOption

import app.gui.qimage_leak  # noqa: F401 (every image this view draws goes through it)
from app.gui.render import GateDeviation, nice_level

GATE_CMAP = pg.colormap.get("CET-D1")  # blue - grey - red, diverging about zero
CAPTION = "TCJA gate (time step x channel) minus its ~2 s running mean: red = attended more than usual, blue = less"


class AttentionView(pg.GraphicsLayoutWidget):
    """Heatmaps of the TCJA gates' deviations, one plot and colour bar per TCJA block."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground((28, 28, 34))
        self.images: list[pg.ImageItem] = []
        self.bars: list[pg.ColorBarItem] = []
        self.trackers: list[GateDeviation] = []
        self.caption = None

    def set_blocks(self, titles: list[str]) -> None:
        """Rebuild the plots for a model with these TCJA blocks."""
        self.clear()
        self.images, self.bars, self.trackers = [], [], []
        self.caption = self.addLabel(CAPTION, row=0, col=0, colspan=max(1, len(titles)), size="8pt",
                                     color=(200, 200, 200))
        self.caption.item.document().setDefaultTextOption(QTextOption(Qt.AlignmentFlag.AlignCenter))
        self._fit_caption(self.width())
        for i, title in enumerate(titles):
            plot = self.addPlot(row=1, col=i, title=title)
            plot.setLabel("bottom", "channel")
            plot.setLabel("left", "time step")
            plot.setMouseEnabled(x=False, y=False)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.invertY(True)
            img = pg.ImageItem(axisOrder="row-major")
            plot.addItem(img)
            bar = pg.ColorBarItem(values=(-0.01, 0.01), colorMap=GATE_CMAP, interactive=False, width=10,
                                  orientation="horizontal")  # below the plot: two blocks side by side stay wide
            bar.setImageItem(img, insert_in=plot)
            self.images.append(img)
            self.bars.append(bar)
            self.trackers.append(GateDeviation())

    def _fit_caption(self, width: int) -> None:
        """Wrap the caption to the view's width: a narrow view (Teach panel open) keeps every block in sight."""
        if getattr(self, "caption", None) is not None:  # None until set_blocks (Qt resizes during __init__)
            self.caption.item.setTextWidth(max(80.0, width - 30.0))
            self.caption.updateMin()

    def resizeEvent(self, ev) -> None:  # noqa: N802 (Qt's name)
        self._fit_caption(self.width())
        super().resizeEvent(ev)

    def show_gates(self, gates: list[np.ndarray]) -> None:
        """Draw one window's gates [T, C] (one per block) as deviations from their running means."""
        for img, bar, tracker, gate in zip(self.images, self.bars, self.trackers, gates):
            dev, level = tracker.update(gate)
            level = nice_level(level)  # a 1-1.5-2-3-5-7 step: the bar (costly to relabel) changes seldom
            img.setImage(dev, autoLevels=False, levels=(-level, level))
            if bar.levels() != (-level, level):
                bar.setLevels((-level, level))

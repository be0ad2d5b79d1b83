"""The TCJA gates: one ``T x C`` heatmap per TCJA block, redrawn every window.

A gate value is the sigmoid attention weight TCJA multiplies the block's spikes by at time
step t and channel c, so 0..1 is the fixed colour scale (bright = attended).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

_CMAP = pg.colormap.get("viridis")


class AttentionView(pg.GraphicsLayoutWidget):
    """Heatmaps of the TCJA gates, one plot per TCJA block of the current model."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground((28, 28, 34))
        self.images: list[pg.ImageItem] = []

    def set_blocks(self, titles: list[str]) -> None:
        """Rebuild the plots for a model with these TCJA blocks."""
        self.clear()
        self.images = []
        for i, title in enumerate(titles):
            plot = self.addPlot(row=0, col=i, title=title)
            plot.setLabel("bottom", "channel")
            plot.setLabel("left", "time step")
            plot.setMouseEnabled(x=False, y=False)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.invertY(True)
            img = pg.ImageItem(axisOrder="row-major")
            img.setColorMap(_CMAP)
            plot.addItem(img)
            self.images.append(img)

    def show_gates(self, gates: list[np.ndarray]) -> None:
        for img, gate in zip(self.images, gates):
            img.setImage(np.asarray(gate, dtype=np.float32), autoLevels=False, levels=(0.0, 1.0))

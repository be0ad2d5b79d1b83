"""A workaround for a memory leak under every redraw: PyQt6 6.11 keeps about 100 bytes for each
``QImage`` made from a pointer given as an ``int``, which is how pyqtgraph 0.14 turns every image it
draws into a ``QImage`` (``functions.ndarray_to_qimage``). The window makes about 100 of them a
second (the event image at 62.5 Hz, the timeline, gate and overlay images per window): about
1 MiB of resident memory per 100 s, without end. Giving the pointer as a ``sip.voidptr`` makes
the same image without the leak. Importing this module installs the replacement once.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph.functions as pg_functions
from PyQt6 import sip
from PyQt6.QtGui import QImage


def ndarray_to_qimage(arr: np.ndarray, fmt: QImage.Format) -> QImage:
    """pyqtgraph's ``ndarray_to_qimage`` (``arr`` C-contiguous, shared, kept alive by the image), leak-free."""
    h, w = arr.shape[:2]
    qimg = QImage(sip.voidptr(arr), w, h, arr.strides[0], fmt)
    qimg.data = arr
    return qimg


pg_functions.ndarray_to_qimage = ndarray_to_qimage

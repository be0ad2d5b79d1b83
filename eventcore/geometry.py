"""Map any sensor onto the model's square input of side ``size``, never stretching one axis.

A square ``crop_box = (x0, y0, side)`` of the sensor is kept and scaled to ``size``
(events outside the box are dropped):

    x' = floor((x - x0) * size / side)   (= (x - x0) // k when side = k * size), y' likewise

- default, sensor at least ``size`` on its short side ``s``: ``k = s // size``,
  ``side = k * size`` centred, so the scale is the integer ``1/k`` (DAVIS346 346x260 -> 128:
  k = 2, the centred 256x256; DVXplorer 640x480: k = 3, 384x384; DVS128 at 128: identity);
- default, sensor smaller than ``size`` (``s < size``): the centred ``s x s`` square kept
  at native scale and padded, centred, into the ``size`` square: ``x' = x - x0 + pad``,
  ``pad = (size - s) // 2`` (rather than upsampled into a sparse grid);
- a user ROI ``(x0, y0, side)``: that square scaled by ``size/side``: an integer factor
  when ``side`` is a multiple of ``size``, else ``floor((x - x0) * size / side)`` (a ROI
  smaller than ``size`` is upsampled: neighbouring output pixels stay empty).

A square smaller than the default gathers fewer sensor pixels into each output pixel, so a
subject zoomed back to full size leaves fewer events per pixel than one standing there:
``count_gain`` = (default side / side)^2 is the factor that restores the density, applied
to the frames (:class:`eventcore.transforms.ToFrames`).

Example::

    geo = Geometry(346, 260, size=128)     # crop_box == (45, 2, 256)
    events = geo.apply(events)             # x, y now in [0, 128)
"""

from __future__ import annotations

import numpy as np

from eventcore.events import EVENT_DTYPE

_RECORD = np.dtype((np.void, EVENT_DTYPE.itemsize))


class Geometry:
    """Square crop + scale from a ``sensor_width x sensor_height`` sensor to ``size x size``."""

    def __init__(
        self,
        sensor_width: int,
        sensor_height: int,
        size: int,
        roi: tuple[int, int, int] | None = None,
    ) -> None:
        if sensor_width <= 0 or sensor_height <= 0:
            raise ValueError(f"sensor size must be positive, not {sensor_width}x{sensor_height}")
        if size <= 0:
            raise ValueError(f"model input size must be positive, not {size}")
        self.sensor_width, self.sensor_height, self.size = int(sensor_width), int(sensor_height), int(size)
        self.pad = 0
        s = min(sensor_width, sensor_height)
        self._default_side = (s // size) * size if s >= size else s
        if roi is None:
            side = self._default_side
            self.pad = (size - side) // 2
            x0, y0 = (sensor_width - side) // 2, (sensor_height - side) // 2
        else:
            x0, y0, side = (int(v) for v in roi)
            if side <= 0:
                raise ValueError(f"ROI side must be positive, not {side}")
            if x0 < 0 or y0 < 0 or x0 + side > sensor_width or y0 + side > sensor_height:
                raise ValueError(
                    f"ROI x={x0}, y={y0}, side={side} does not fit inside the "
                    f"{sensor_width}x{sensor_height} sensor"
                )
        self._box = (x0, y0, side)
        self._native = side == size or (roi is None and side < size)

    @property
    def crop_box(self) -> tuple[int, int, int]:
        """The kept square ``(x0, y0, side)`` in sensor pixels, for the GUI to outline."""
        return self._box

    @property
    def count_gain(self) -> float:
        """(default side / side)^2: 1 for the default square, more for a smaller one (a zoom)."""
        return (self._default_side / self._box[2]) ** 2

    @property
    def is_identity(self) -> bool:
        """True when events pass through untouched (a DVS128 at size 128)."""
        return self._box == (0, 0, self.size) and (self.sensor_width, self.sensor_height) == (self.size, self.size)

    def apply(self, events: np.ndarray) -> np.ndarray:
        """Events (EVENT_DTYPE, inside the sensor) inside the crop box, mapped into [0, size).

        The identity returns ``events`` itself; otherwise a new array.
        """
        if self.is_identity:
            return events
        x0, y0, side = self._box
        # one unsigned comparison per axis checks both 0 <= x - x0 and x - x0 < side
        dx = events["x"] - np.int16(x0)
        dy = events["y"] - np.int16(y0)
        keep = dx.view(np.uint16) < side
        keep &= dy.view(np.uint16) < side
        if events.dtype == EVENT_DTYPE:  # records copied as raw bytes: ~10x faster than events[keep]
            out = np.compress(keep, events.view(_RECORD)).view(EVENT_DTYPE)
        else:
            out = events[keep]
        out["x"][...] = self._scale(np.compress(keep, dx))
        out["y"][...] = self._scale(np.compress(keep, dy))
        return out

    def _scale(self, d: np.ndarray) -> np.ndarray:
        """Offsets from the box corner (a fresh int16 array, changed in place) -> output pixels."""
        side, size = self._box[2], self.size
        if self._native:
            d += np.int16(self.pad)
            return d
        if side % size == 0:
            d //= np.int16(side // size)
            return d
        return np.multiply(d, size, dtype=np.int32) // side

    def __repr__(self) -> str:
        x0, y0, side = self._box
        return (
            f"Geometry({self.sensor_width}x{self.sensor_height} -> {self.size}, "
            f"box x={x0} y={y0} side={side}{f', pad {self.pad}' if self.pad else ''})"
        )

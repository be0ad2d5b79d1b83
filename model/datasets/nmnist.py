"""N-MNIST (ATIS recordings of MNIST digits, 34x34) from slayerPytorch's ``.bs2`` files.

Each event is 5 bytes, big-endian bit order: x (8 bits), y (8 bits), polarity (1 bit),
timestamp in microseconds (23 bits):

    x = b0,  y = b1,  p = b2 >> 7,  t = ((b2 & 0x7F) << 16) | (b3 << 8) | b4

Labels come from a list file of ``#sample #class`` lines (``train1K.txt``, ``test100.txt``);
sample ``n`` is ``n.bs2`` beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eventcore.events import make_events
from eventcore.errors import SourceError

SIZE = 34
CLASS_NAMES = tuple(str(d) for d in range(10))
SPLIT_FILES = {"train": "train1K.txt", "test": "test100.txt"}


def read_bs2(path: str | Path) -> np.ndarray:
    """All events of one ``.bs2`` file in EVENT_DTYPE, time-ordered; SourceError if malformed."""
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise SourceError(f"{path}: cannot read N-MNIST file: {err}") from None
    if raw.size % 5:
        raise SourceError(f"{path}: not an N-MNIST .bs2 file ({raw.size} bytes is not a multiple of 5)")
    b = raw.reshape(-1, 5)
    x, y = b[:, 0], b[:, 1]
    if raw.size and (x.max() >= SIZE or y.max() >= SIZE):
        raise SourceError(f"{path}: event outside the {SIZE}x{SIZE} sensor (x max {x.max()}, y max {y.max()})")
    b2 = b[:, 2].astype(np.int64)
    t = ((b2 & 0x7F) << 16) | (b[:, 3].astype(np.int64) << 8) | b[:, 4]
    ev = make_events(t, x, y, b2 >> 7)
    if ev.size > 1 and np.any(np.diff(t) < 0):
        ev = ev[np.argsort(t, kind="stable")]
    return ev


def read_split(folder: str | Path, split: str) -> tuple[list[np.ndarray], np.ndarray]:
    """The events of every sample of ``split`` ("train" or "test") and their labels."""
    folder = Path(folder)
    list_file = folder / SPLIT_FILES[split]
    try:
        rows = np.loadtxt(list_file, dtype=np.int64, comments="#", ndmin=2)
    except (OSError, ValueError) as err:
        raise SourceError(f"{list_file}: not an N-MNIST label list (#sample #class lines): {err}") from None
    if rows.size == 0 or rows.shape[1] != 2:
        raise SourceError(f"{list_file}: expected two columns (#sample #class), found {rows.shape}")
    if rows[:, 1].min() < 0 or rows[:, 1].max() >= len(CLASS_NAMES):
        raise SourceError(f"{list_file}: classes must be 0..{len(CLASS_NAMES) - 1}")
    events = [read_bs2(folder / f"{n}.bs2") for n in rows[:, 0]]
    return events, rows[:, 1].copy()

"""A folder of sample shards (see ``shards``), e.g. written by the gesture simulator.

Layout: ``FOLDER/train/**/*.npz`` and ``FOLDER/test/**/*.npz`` (and optionally
``FOLDER/val/**/*.npz``); labels are DVS128 Gesture class indices, -1 for idle scenes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eventcore.errors import SourceError
from model.datasets.shards import load_header


def samples(folder: str | Path, split: str) -> tuple[list[Path], np.ndarray, tuple[int, int]]:
    """Shard paths, labels and the (common) sensor size of ``split``; SourceError if absent or mixed."""
    root = Path(folder) / split
    paths = sorted(root.rglob("*.npz"))
    if not paths:
        raise SourceError(f"{root}: no sample shards (*.npz); expected FOLDER/train and FOLDER/test")
    heads = np.array([load_header(p) for p in paths], dtype=np.int64)
    sizes = np.unique(heads[:, 1:], axis=0)
    if len(sizes) > 1:
        raise SourceError(f"{root}: shards mix sensor sizes {[tuple(s) for s in sizes.tolist()]}")
    return paths, heads[:, 0].copy(), (int(sizes[0, 0]), int(sizes[0, 1]))

"""Ground-truth timelines: which gesture is performed when, for labelled recordings.

The DVS128 Gesture dataset stores them beside each recording as ``<name>_labels.csv``
(``class,startTime_usec,endTime_usec``, classes numbered from 1); the simulator's demo
recordings use the same format with classes numbered from 1 as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eventcore.errors import SourceError

CLASS_NAMES = (
    "hand_clapping",
    "right_hand_wave",
    "left_hand_wave",
    "right_arm_clockwise",
    "right_arm_counter_clockwise",
    "left_arm_clockwise",
    "left_arm_counter_clockwise",
    "arm_roll",
    "air_drums",
    "air_guitar",
    "other_gestures",
)


@dataclass(frozen=True)
class LabelTimeline:
    """Labelled intervals ``[start_us, end_us)`` with a 0-based class index each."""

    start_us: np.ndarray
    end_us: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return len(self.label)

    def truth_at(self, t_us) -> np.ndarray | int | None:
        """Class index at time(s) ``t_us``; -1 (or None for a scalar) where unlabelled."""
        t = np.asarray(t_us, dtype=np.int64)
        if len(self) == 0:
            out = np.full(t.shape, -1)
        else:
            i = np.clip(np.searchsorted(self.start_us, t, side="right") - 1, 0, None)
            out = np.where((t >= self.start_us[i]) & (t < self.end_us[i]), self.label[i], -1)
        if t.ndim == 0:
            return None if out < 0 else int(out)
        return out

    @classmethod
    def from_csv(cls, path: str | Path) -> "LabelTimeline":
        """Read a DVS128 Gesture label file (1-based classes) into 0-based labels."""
        path = Path(path)
        try:
            rows = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
        except (OSError, ValueError) as err:
            raise SourceError(f"{path}: not a label file (class,startTime_usec,endTime_usec): {err}") from None
        if rows.size == 0:
            rows = np.empty((0, 3), dtype=np.int64)
        if rows.shape[1] != 3:
            raise SourceError(f"{path}: expected 3 columns (class,startTime_usec,endTime_usec), found {rows.shape[1]}")
        cls_ = rows[:, 0] - 1
        if len(rows) and (cls_.min() < 0 or cls_.max() >= len(CLASS_NAMES)):
            raise SourceError(f"{path}: class numbers must be 1..{len(CLASS_NAMES)}")
        if np.any(rows[:, 2] <= rows[:, 1]):
            raise SourceError(f"{path}: an interval ends before it starts")
        order = np.argsort(rows[:, 1], kind="stable")
        rows, cls_ = rows[order], cls_[order]
        return cls(rows[:, 1].copy(), rows[:, 2].copy(), cls_)

    def to_csv(self, path: str | Path) -> None:
        """Write in the DVS128 Gesture format (1-based classes)."""
        rows = np.stack([self.label + 1, self.start_us, self.end_us], axis=1)
        np.savetxt(path, rows, fmt="%d", delimiter=",", header="class,startTime_usec,endTime_usec", comments="")


def labels_beside(path: str | Path) -> Path | None:
    """The label file stored beside a recording, if any (``X_labels.csv`` or ``X.labels.csv``)."""
    path = Path(path)
    for cand in (path.with_name(path.stem + "_labels.csv"), path.with_name(path.stem + ".labels.csv")):
        if cand.is_file():
            return cand
    return None

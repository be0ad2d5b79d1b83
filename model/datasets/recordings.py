"""A folder of labelled recordings, in any format the format layer reads, as training data.

Layout: ``FOLDER/**/NAME.aedat4`` (or ``.aedat`` AEDAT 2.0 / 3.1, Prophesee ``.raw`` EVT 2.0 /
3.0, ``.dat``, ``.hdf5``) with a DVS128 Gesture label file beside each recording
(``NAME_labels.csv``: ``class,startTime_usec,endTime_usec``, classes 1-11). A teach folder
(``main.py teach``) has this layout. Each labelled interval is one sample.

Split: the recordings listed in ``trials_to_train.txt`` / ``trials_to_test.txt`` (as in DVS128
Gesture) when the folder has them; otherwise one recording in five (at least one) is held out
for testing, picked with a fixed seed, so no recording gives samples to both.

Example::

    data = load("my_recordings")                  # every recording read once, checked
    data.train, data.test, data.sensor            # (events, label, recording) lists, (W, H)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eventcore.aedat.files import RECORDING_SUFFIXES, read_recording
from eventcore.errors import SourceError
from eventcore.labels import LabelTimeline, labels_beside

TEST_SHARE = 0.2
SPLIT_FILES = {"train": "trials_to_train.txt", "test": "trials_to_test.txt"}


@dataclass
class Samples:
    """The labelled intervals of one split: event arrays, 0-based labels, and the recording of each."""

    events: list[np.ndarray]
    labels: np.ndarray
    groups: list[str]


@dataclass
class RecordingSet:
    train: Samples
    test: Samples
    sensor: tuple[int, int]


def find_recordings(folder: Path) -> list[Path]:
    """Recordings under ``folder`` that have a label file beside them (sorted)."""
    if not folder.is_dir():
        raise SourceError(f"{folder}: folder of recordings not found")
    found = [p for p in sorted(folder.rglob("*")) if p.suffix.lower() in RECORDING_SUFFIXES and p.is_file()
             and labels_beside(p) is not None]
    if not found:
        raise SourceError(f"{folder}: no recording ({', '.join(RECORDING_SUFFIXES)}) with a label file "
                          f"(NAME_labels.csv) beside it")
    return found


def split(folder: Path, recordings: list[Path], seed: int = 0) -> dict[str, list[Path]]:
    """Recordings of each split: the trial lists when present, else one in five held out for test."""
    if all((folder / f).is_file() for f in SPLIT_FILES.values()):
        by_name = {p.relative_to(folder).as_posix(): p for p in recordings} | {p.name: p for p in recordings}
        out = {}
        for s, f in SPLIT_FILES.items():
            names = [n.strip() for n in (folder / f).read_text().splitlines() if n.strip()]
            missing = [n for n in names if n not in by_name]
            if missing:
                raise SourceError(f"{folder / f}: lists {missing[0]}, which is not a labelled recording here")
            out[s] = [by_name[n] for n in names]
        return out
    if len(recordings) < 2:
        raise SourceError(f"{folder}: one labelled recording; training needs at least two (one is held out for "
                          f"testing)")
    order = np.random.default_rng(seed).permutation(len(recordings))
    n_test = max(1, int(round(TEST_SHARE * len(recordings))))
    test = set(order[:n_test].tolist())
    return {"train": [p for i, p in enumerate(recordings) if i not in test],
            "test": [p for i, p in enumerate(recordings) if i in test]}


def cut(path: Path) -> tuple[list[np.ndarray], list[int], tuple[int, int]]:
    """The labelled intervals of one recording (event arrays, labels) and its sensor size."""
    timeline = LabelTimeline.from_csv(labels_beside(path))
    rec = read_recording(path)
    t = rec.events["timestamp"]
    parts, labels = [], []
    for start, end, label in zip(timeline.start_us.tolist(), timeline.end_us.tolist(), timeline.label.tolist()):
        a, b = np.searchsorted(t, [start, end], side="left")
        if b > a:
            parts.append(rec.events[a:b].copy())
            labels.append(int(label))
    if not parts:
        raise SourceError(f"{path}: none of its labelled intervals holds events (do the label times match the "
                          f"recording's, {int(t[0]) if len(t) else 0}-{int(t[-1]) if len(t) else 0} us?)")
    return parts, labels, (rec.width, rec.height)


def load(folder: str | Path, seed: int = 0) -> RecordingSet:
    """Read and cut every labelled recording of ``folder``; SourceError naming the first bad one."""
    folder = Path(folder)
    splits = split(folder, find_recordings(folder), seed)
    out, sensor = {}, None
    for name, paths in splits.items():
        events, labels, groups = [], [], []
        for p in paths:
            parts, lab, size = cut(p)
            if sensor is None:
                sensor = size
            elif size != sensor:
                raise SourceError(f"{p}: recorded at {size[0]}x{size[1]}, the folder's other recordings at "
                                  f"{sensor[0]}x{sensor[1]}; train on one sensor at a time")
            events += parts
            labels += lab
            groups += [p.stem] * len(parts)
        out[name] = Samples(events, np.array(labels, dtype=np.int64), groups)
    return RecordingSet(out["train"], out["test"], sensor)

"""A folder of labelled recordings, in any format the format layer reads, as training data.

Layout: ``FOLDER/**/NAME.aedat4`` (or ``.aedat`` AEDAT 2.0 / 3.1, Prophesee ``.raw`` EVT 2.0 /
3.0, ``.dat``, ``.hdf5``) with a DVS128 Gesture label file beside each recording
(``NAME_labels.csv``: ``class,startTime_usec,endTime_usec``, classes 1-11). A teach folder
(``main.py teach``) has this layout. Each labelled interval is one sample.

Split: the recordings listed in ``trials_to_train.txt`` / ``trials_to_test.txt`` (as in DVS128
Gesture) when the folder has them; otherwise one recording in five (at least one) is held out
for testing, picked with a fixed seed, so no recording gives samples to both.

Memory: each labelled interval is read by its time range through the format layer's readers
(:func:`eventcore.aedat.files.open_reader`: a block or packet at a time, never a whole
recording) and written once to a sample shard in ``cache`` (a temporary folder, removed when
the process exits, unless one is given); training then reads a shard per sample. What stays in
memory is the shards' paths, whatever the recordings' length.

Example::

    data = load("my_recordings")                  # every recording read once, checked
    data.train, data.test, data.sensor            # (shard paths, labels, recordings), (W, H)
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eventcore.aedat.files import RECORDING_SUFFIXES, open_reader
from eventcore.errors import SourceError
from eventcore.labels import LabelTimeline, labels_beside
from model.datasets.shards import save_sample

TEST_SHARE = 0.2
SPLIT_FILES = {"train": "trials_to_train.txt", "test": "trials_to_test.txt"}


@dataclass
class Samples:
    """The labelled intervals of one split: sample shards (read per sample), 0-based labels, the recording of each."""

    events: list[Path]
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


def cut(path: Path, out: Path) -> tuple[list[Path], list[int], tuple[int, int]]:
    """The labelled intervals of one recording, each read by its time range and written to a shard
    ``out``/NAME_K.npz (the shards, their labels) and the recording's sensor size."""
    timeline = LabelTimeline.from_csv(labels_beside(path))
    shards, labels = [], []
    with open_reader(path) as reader:
        size = (int(reader.width), int(reader.height))
        for start, end, label in zip(timeline.start_us.tolist(), timeline.end_us.tolist(), timeline.label.tolist()):
            events = reader.events(int(start), int(end))
            if len(events):
                shard = out / f"{path.stem}_{len(shards)}.npz"
                save_sample(shard, events, int(label), *size)
                shards.append(shard)
                labels.append(int(label))
        if not shards:
            raise SourceError(f"{path}: none of its labelled intervals holds events (do the label times match the "
                              f"recording's, {reader.start_us}-{reader.end_us} us?)")
    return shards, labels, size


def _temporary_cache() -> Path:
    """A folder for the shards, removed when the process exits."""
    folder = Path(tempfile.mkdtemp(prefix="recordings-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def load(folder: str | Path, seed: int = 0, cache: str | Path | None = None) -> RecordingSet:
    """Read and cut every labelled recording of ``folder`` into shards in ``cache``; SourceError naming the
    first bad one."""
    folder = Path(folder)
    splits = split(folder, find_recordings(folder), seed)
    cache = Path(cache) if cache is not None else _temporary_cache()
    out, sensor = {}, None
    for name, paths in splits.items():
        events, labels, groups = [], [], []
        (cache / name).mkdir(parents=True, exist_ok=True)
        for k, p in enumerate(paths):
            (cache / name / str(k)).mkdir(exist_ok=True)
            parts, lab, size = cut(p, cache / name / str(k))
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

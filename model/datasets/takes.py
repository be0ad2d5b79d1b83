"""Read a teach folder (``eventcore.takes``) for fine-tuning: every take checked, one clear error naming it.

Each take is one AEDAT4 recording (read by the format layer, :mod:`eventcore.aedat`) with a DVS128 Gesture label file
beside it; the sample is the labelled interval's events. Checks, each a :class:`SourceError`
naming the take: the recording opens and holds events at the manifest's sensor size; the
label file has one row whose class is one of the folder's gestures and agrees with the file
name; the labelled interval lies on the recording's events. Nothing is ever written here.

Example::

    takes = load_takes("my_takes")                       # TakeSet: manifest + takes
    train, held_out = split_takes(takes, seed=0)         # one take per gesture held out
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eventcore.aedat.files import read_recording
from eventcore.errors import SourceError
from eventcore.labels import LabelTimeline
from eventcore.takes import Manifest, labels_path, parse_stem, read_manifest, take_files

_MAGIC = b"#!AER-DAT4.0"
MIN_EVENTS = 100  # fewer events in a take's labelled interval: nothing was performed
MIN_COVER = 0.8  # share of the labelled interval the recording's events must span


@dataclass(frozen=True)
class Take:
    """One take: its file, gesture (0-based), take number and the labelled interval's events."""

    path: Path
    class_index: int
    take: int
    events: np.ndarray

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class TakeSet:
    """A teach folder's manifest and its finished takes."""

    folder: Path
    manifest: Manifest
    takes: tuple[Take, ...]

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.manifest.class_names

    def per_class(self) -> list[list[Take]]:
        out: list[list[Take]] = [[] for _ in self.class_names]
        for t in self.takes:
            out[t.class_index].append(t)
        return out


def read_aedat4_events(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """All events of an AEDAT4 take and its resolution (the format layer's reader); SourceError naming the file."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(len(_MAGIC))
    except OSError as err:
        raise SourceError(f"take {path.name}: cannot read ({err.strerror})") from None
    if size == 0:
        raise SourceError(f"take {path.name}: the file is empty; delete or record it again")
    if head != _MAGIC:
        raise SourceError(f"take {path.name}: not an AEDAT4 recording (corrupt); delete or record it again")
    try:
        rec = read_recording(path)
    except SourceError as err:
        why = str(err).removeprefix(f"{path.name}: ")
        raise SourceError(f"take {path.name}: corrupt or truncated recording ({why[:160]}); "
                          f"delete or record it again") from None
    if rec.warnings and any("truncated" in w for w in rec.warnings):
        raise SourceError(f"take {path.name}: corrupt or truncated recording ({rec.warnings[0][:160]}); "
                          f"delete or record it again")
    return rec.events, (rec.width, rec.height)


def read_take(path: Path, manifest: Manifest) -> Take:
    """One checked take of a folder with ``manifest``."""
    key = parse_stem(path.stem)
    if key is None:
        raise SourceError(f"take {path.name}: not a take's file name (cNN_<gesture>_NN.aedat4); move it out of the folder")
    label_file = labels_path(path)
    if not label_file.is_file():
        raise SourceError(f"take {path.name}: its label file {label_file.name} is missing")
    try:
        tl = LabelTimeline.from_csv(label_file)
    except SourceError as err:
        raise SourceError(f"take {path.name}: {err}") from None
    n = len(manifest.class_names)
    if len(tl) != 1:
        raise SourceError(f"take {path.name}: its label file holds {len(tl)} rows, a take has exactly one")
    cls = int(tl.label[0])
    if cls >= n:
        raise SourceError(f"take {path.name}: label class {cls + 1} but the folder has {n} gestures")
    if cls != key[0]:
        raise SourceError(f"take {path.name}: its label file says gesture {cls + 1} "
                          f"({manifest.class_names[cls]}), its name says {key[0] + 1}; the files do not match")
    events, res = read_aedat4_events(path)
    if res != manifest.sensor:
        raise SourceError(f"take {path.name}: recorded at {res[0]}x{res[1]}, the folder's camera is "
                          f"{manifest.sensor[0]}x{manifest.sensor[1]}")
    if not len(events):
        raise SourceError(f"take {path.name}: the recording holds no events; delete or record it again")
    start, end = int(tl.start_us[0]), int(tl.end_us[0])
    t = events["timestamp"]
    cover = (min(end, int(t[-1]) + 1) - max(start, int(t[0]))) / (end - start)
    a, b = np.searchsorted(t, [start, end], side="left")
    if cover < MIN_COVER or b - a < MIN_EVENTS:
        raise SourceError(f"take {path.name}: the label file's interval {start}-{end} us does not match the "
                          f"recording's events ({int(t[0])}-{int(t[-1])} us, {b - a} inside the interval)")
    return Take(path, cls, key[1], events[a:b])


def load_takes(folder: str | Path) -> TakeSet:
    """Every take of a teach folder, checked; SourceError naming the first bad take."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    takes = tuple(read_take(p, manifest) for p in take_files(folder))
    return TakeSet(folder, manifest, takes)


def check_enough(takes: TakeSet, min_per_class: int = 2) -> None:
    """Fine-tuning needs ``min_per_class`` takes of every gesture (one is held out); SourceError otherwise."""
    counts = [len(c) for c in takes.per_class()]
    missing = [n for n, c in zip(takes.class_names, counts) if c == 0]
    if missing:
        raise SourceError(f"{takes.folder}: no take of {', '.join(missing)}; record at least {min_per_class} "
                          f"of every gesture")
    few = [f"{n} ({c})" for n, c in zip(takes.class_names, counts) if c < min_per_class]
    if few:
        raise SourceError(f"{takes.folder}: too few takes of {', '.join(few)}; fine-tuning needs at least "
                          f"{min_per_class} per gesture (one is held out to measure it)")


def split_takes(takes: TakeSet, seed: int = 0) -> tuple[list[Take], list[Take]]:
    """(train, held out): one take per gesture held out, picked at random with ``seed``."""
    check_enough(takes)
    rng = np.random.default_rng(seed)
    train, held = [], []
    for group in takes.per_class():
        k = int(rng.integers(len(group)))
        held.append(group[k])
        train += group[:k] + group[k + 1:]
    return train, held

"""A teach folder: a user's own gesture takes, one AEDAT4 file per take, in DVS128 Gesture's label format.

Written by the app's guided recording (``app.teach``), read by fine-tuning
(``model.datasets.takes``); this module holds the format both agree on, numpy/json only::

    OUT_DIR/
      manifest.json                      class names, camera, sensor, date, plan, takes (informational)
      c00_hand_clapping_01.aedat4        one take: the events of one performance
      c00_hand_clapping_01_labels.csv    class,startTime_usec,endTime_usec (class 1-based, as DVS128 Gesture)
      .recording/                        the take being recorded (moved into place once closed)

A take exists once its ``.aedat4`` is in the folder: the label file is written first, the
recording is closed and then renamed into place, so a killed app leaves every finished take
readable and never a half-written one. Class numbers index the manifest's class names.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eventcore.errors import SourceError
from eventcore.labels import CLASS_NAMES

FORMAT = "tcja-gesture-takes"
VERSION = 1
MANIFEST = "manifest.json"
RECORDING_DIR = ".recording"
# Label files number classes 1..11 (DVS128 Gesture's range), so a set holds at most 11 gestures.
MAX_CLASSES = len(CLASS_NAMES)
_STEM = re.compile(r"^c(?P<cls>\d{2})_(?P<slug>[a-z0-9_]*)_(?P<take>\d{2,})$")


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def slug(name: str) -> str:
    """A file-name-safe lower-case form of a gesture name ("Thumbs up!" -> "thumbs_up")."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40]


def take_stem(class_index: int, class_name: str, take: int) -> str:
    """File stem of take ``take`` (1-based) of class ``class_index``: ``c03_right_arm_clockwise_02``."""
    return f"c{class_index:02d}_{slug(class_name)}_{take:02d}"


def parse_stem(stem: str) -> tuple[int, int] | None:
    """``(class_index, take)`` from a take's file stem, or None when it is not one."""
    m = _STEM.match(stem)
    return (int(m["cls"]), int(m["take"])) if m else None


def labels_path(recording: Path) -> Path:
    """The label file beside a take (``X_labels.csv``, as DVS128 Gesture and the app's replay expect)."""
    return recording.with_name(recording.stem + "_labels.csv")


def check_class_names(names) -> tuple[str, ...]:
    """Validated gesture names: 1..11 of them, non-empty, distinct file names; SourceError otherwise."""
    names = tuple(str(n).strip() for n in names)
    if not names:
        raise SourceError("a gesture set needs at least one gesture name")
    if len(names) > MAX_CLASSES:
        raise SourceError(f"{len(names)} gestures: a set holds at most {MAX_CLASSES} "
                          f"(label files number classes 1..{MAX_CLASSES}, as DVS128 Gesture)")
    slugs = [slug(n) for n in names]
    for n, s in zip(names, slugs):
        if not s:
            raise SourceError(f"gesture name {n!r} needs at least one letter or digit")
    dup = sorted({n for n, s in zip(names, slugs) if slugs.count(s) > 1})
    if dup:
        raise SourceError(f"gesture names {dup} are the same once made file names; rename one")
    return names


@dataclass(frozen=True)
class TakeInfo:
    """One finished take as the manifest lists it (the files are the truth; this is for people)."""

    file: str
    class_index: int
    take: int
    start_us: int
    end_us: int
    events: int
    recorded: str


@dataclass(frozen=True)
class Manifest:
    """What a teach folder holds besides the takes: the gesture set, the camera, the plan."""

    class_names: tuple[str, ...]
    camera: str
    sensor: tuple[int, int]
    takes_per_class: int = 5
    take_s: float = 2.0
    source: str = ""
    simulated: bool = False
    created: str = field(default_factory=now_iso)
    takes: tuple[TakeInfo, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", check_class_names(self.class_names))
        object.__setattr__(self, "sensor", tuple(int(v) for v in self.sensor))
        object.__setattr__(self, "takes", tuple(t if isinstance(t, TakeInfo) else TakeInfo(**t) for t in self.takes))
        if len(self.sensor) != 2 or min(self.sensor) < 1:
            raise SourceError(f"sensor size must be (width, height) > 0, got {self.sensor}")

    def to_dict(self) -> dict:
        d = asdict(self)
        return {"format": FORMAT, "version": VERSION, **d, "class_names": list(self.class_names),
                "sensor": list(self.sensor), "takes": [asdict(t) for t in self.takes]}


def write_manifest(folder: str | Path, manifest: Manifest) -> Path:
    """Write ``folder/manifest.json`` atomically (temporary file, fsync, rename)."""
    path = Path(folder) / MANIFEST
    tmp = path.with_name(f".{MANIFEST}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(manifest.to_dict(), f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_manifest(folder: str | Path) -> Manifest:
    """The manifest of a teach folder; SourceError naming the file when absent or malformed."""
    path = Path(folder) / MANIFEST
    if not Path(folder).is_dir():
        raise SourceError(f"{folder}: no such teach folder")
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise SourceError(f"{path}: missing; is {folder} a folder written by 'main.py teach'?") from None
    except (OSError, ValueError) as err:
        raise SourceError(f"{path}: unreadable manifest ({err})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise SourceError(f"{path}: not a {FORMAT} manifest")
    if d.get("version") != VERSION:
        raise SourceError(f"{path}: manifest version {d.get('version')!r}, this program reads {VERSION}")
    body = {k: v for k, v in d.items() if k not in ("format", "version")}
    try:
        return Manifest(**body)
    except TypeError as err:
        raise SourceError(f"{path}: invalid manifest ({err})") from None


def take_files(folder: str | Path) -> list[Path]:
    """The finished takes' recordings in a teach folder, in name order (class, then take)."""
    return sorted(p for p in Path(folder).glob("*.aedat4") if p.is_file())

"""Write a teach folder (format: ``eventcore.takes``): one closed AEDAT4 file per finished take.

A take is recorded into ``.recording/``; when it ends the recorder is closed (flushed), its
label file is written, and the recording is renamed into the folder. Nothing is ever
appended to a finished file, so killing the app at any moment leaves every finished take
readable. Redoing a take replaces its files only once the new take is closed.

Example::

    folder = TeachFolder.create("my_takes", ["wave", "clap"], camera="DVXplorer", sensor=(640, 480))
    rec = folder.begin_take(0, 1)
    rec.write(batch); ...
    info = folder.commit(rec)            # c00_wave_01.aedat4 + c00_wave_01_labels.csv
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from app.sources.recorder import Recorder
from eventcore.errors import SourceError
from eventcore.labels import LabelTimeline
from eventcore.takes import (
    RECORDING_DIR,
    Manifest,
    TakeInfo,
    labels_path,
    now_iso,
    parse_stem,
    read_manifest,
    take_files,
    take_stem,
    write_manifest,
)


class TakeRecording:
    """One take being written: events in time order go to an AEDAT4 file in ``.recording/``."""

    def __init__(self, path: Path, class_index: int, take: int, width: int, height: int, camera: str) -> None:
        self.path, self.class_index, self.take = path, class_index, take
        path.unlink(missing_ok=True)  # a take left half-written by a killed session
        self._rec = Recorder(path, width, height, camera=camera)
        self.first_us: int | None = None
        self.last_us: int | None = None

    @property
    def events_written(self) -> int:
        return self._rec.events_written

    def write(self, batch: np.ndarray) -> None:
        """Append a batch; events earlier than those already written (a looped file) are dropped."""
        if self.last_us is not None and len(batch) and batch["timestamp"][0] < self.last_us:
            batch = batch[batch["timestamp"] >= self.last_us]
        if not len(batch):
            return
        self._rec.write(batch)
        if self.first_us is None:
            self.first_us = int(batch["timestamp"][0])
        self.last_us = int(batch["timestamp"][-1])

    def close(self) -> None:
        self._rec.close()


class TeachFolder:
    """A teach folder being written; keeps its manifest in step with the finished takes."""

    def __init__(self, path: str | Path, manifest: Manifest) -> None:
        self.path = Path(path)
        self.manifest = manifest

    @classmethod
    def create(cls, path: str | Path, class_names, camera: str, sensor: tuple[int, int], takes_per_class: int = 5,
               take_s: float = 2.0, source: str = "", simulated: bool = False) -> "TeachFolder":
        """Start a folder, or continue one made for the same gestures and sensor (its takes are kept)."""
        path = Path(path)
        wanted = Manifest(class_names, camera, sensor, takes_per_class, take_s, source, simulated)
        if path.exists() and not path.is_dir():
            raise SourceError(f"{path}: exists and is not a folder")
        if (path / "manifest.json").exists():
            old = read_manifest(path)
            if old.class_names != wanted.class_names or old.sensor != wanted.sensor:
                raise SourceError(f"{path}: already holds takes of {list(old.class_names)} at {old.sensor[0]}x"
                                  f"{old.sensor[1]}; choose another folder (its takes are left as they are)")
            folder = cls(path, replace(old, takes_per_class=takes_per_class, take_s=take_s))
        elif path.is_dir() and any(path.iterdir()):
            raise SourceError(f"{path}: not empty and not a teach folder; choose an empty or new folder")
        else:
            path.mkdir(parents=True, exist_ok=True)
            folder = cls(path, wanted)
        folder._sync_manifest()
        return folder

    def stem(self, class_index: int, take: int) -> str:
        return take_stem(class_index, self.manifest.class_names[class_index], take)

    def take_path(self, class_index: int, take: int) -> Path:
        return self.path / f"{self.stem(class_index, take)}.aedat4"

    def finished(self) -> dict[tuple[int, int], Path]:
        """``(class_index, take) -> recording`` of every finished take on disk."""
        out = {}
        for p in take_files(self.path):
            key = parse_stem(p.stem)
            if key is not None and key[0] < len(self.manifest.class_names):
                out[key] = p
        return out

    def next_take(self, class_index: int) -> int:
        """The lowest take number (1-based) of ``class_index`` not on disk."""
        have = {t for c, t in self.finished() if c == class_index}
        return next(t for t in range(1, len(have) + 2) if t not in have)

    def begin_take(self, class_index: int, take: int) -> TakeRecording:
        """Open the recording of one take (in ``.recording/``, not yet a take of the folder)."""
        staging = self.path / RECORDING_DIR
        staging.mkdir(exist_ok=True)
        w, h = self.manifest.sensor
        return TakeRecording(staging / f"{self.stem(class_index, take)}.aedat4", class_index, take, w, h,
                             self.manifest.camera)

    def abort(self, rec: TakeRecording) -> None:
        """Drop a take being recorded (paused, cancelled or empty); finished takes are untouched."""
        rec.close()
        rec.path.unlink(missing_ok=True)

    def commit(self, rec: TakeRecording) -> TakeInfo:
        """Close the take, write its label file and move it into the folder; SourceError if it is empty."""
        rec.close()
        if rec.first_us is None:
            rec.path.unlink(missing_ok=True)
            raise SourceError(f"{self.stem(rec.class_index, rec.take)}: no events arrived during the take "
                              f"(is the camera covered or the stream stopped?); record it again")
        final = self.take_path(rec.class_index, rec.take)
        final.unlink(missing_ok=True)  # a redo replaces the old take only now that the new one is closed
        self._write_labels(final, rec.class_index, rec.first_us, rec.last_us + 1)
        os.replace(rec.path, final)
        info = TakeInfo(final.name, rec.class_index, rec.take, rec.first_us, rec.last_us + 1, rec.events_written,
                        now_iso())
        self._sync_manifest(info)
        return info

    def write_take(self, class_index: int, take: int, events: np.ndarray) -> TakeInfo:
        """Write a whole take at once (a segment marked on a recording), the same way as a live one."""
        rec = self.begin_take(class_index, take)
        try:
            rec.write(events)
        except BaseException:
            self.abort(rec)
            raise
        return self.commit(rec)

    def delete_take(self, class_index: int, take: int) -> None:
        """Remove one finished take (recording and label file)."""
        final = self.take_path(class_index, take)
        final.unlink(missing_ok=True)
        labels_path(final).unlink(missing_ok=True)
        self._sync_manifest()

    def _write_labels(self, final: Path, class_index: int, start_us: int, end_us: int) -> None:
        path = labels_path(final)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        LabelTimeline(np.array([start_us]), np.array([end_us]), np.array([class_index])).to_csv(tmp)
        os.replace(tmp, path)

    def _sync_manifest(self, fresh: TakeInfo | None = None) -> None:
        """Rewrite the manifest's take list from the files on disk (the files are the truth)."""
        takes = []
        old = {t.file: t for t in self.manifest.takes}
        if fresh is not None:
            old[fresh.file] = fresh
        for (ci, take), p in sorted(self.finished().items()):
            if p.name in old:
                takes.append(old[p.name])
                continue
            try:
                tl = LabelTimeline.from_csv(labels_path(p))
                start, end = int(tl.start_us[0]), int(tl.end_us[0])
            except (SourceError, IndexError):
                start = end = -1
            takes.append(TakeInfo(p.name, ci, take, start, end, -1, now_iso()))
        self.manifest = replace(self.manifest, takes=tuple(takes))
        write_manifest(self.path, self.manifest)

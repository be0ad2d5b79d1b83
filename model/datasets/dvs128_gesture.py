"""DVS128 Gesture from a local copy of IBM's archive folder, cut into one sample per label.

The folder holds ``userNN_<lighting>.aedat`` (AEDAT 3.1), ``userNN_<lighting>_labels.csv``
and the official split lists ``trials_to_train.txt`` / ``trials_to_test.txt`` (1176 / 288
samples). Each labelled interval ``[start, end)`` of a recording is one sample. Preparation
(read with the project's AEDAT 3.1 reader, cut, written as sample shards) runs once per
recording into a cache folder; each recording is written to a temporary folder and renamed
into place, so an interrupted or failed run never blocks the next one.

Download: https://research.ibm.com/interactive/dvsgesture/ (``DvsGesture.tar.gz``, 2.9 GB);
unpack it and pass the ``DvsGesture`` folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from eventcore.aedat.aedat3 import read_aedat3
from eventcore.errors import SourceError
from eventcore.labels import CLASS_NAMES, LabelTimeline
from model.datasets.shards import load_header, save_sample

SPLIT_FILES = {"train": "trials_to_train.txt", "test": "trials_to_test.txt"}
CACHE_VERSION = "v1"
# Compact cache records: time relative to the label's start (a sample lasts seconds), 128x128.
CACHE_DTYPE = np.dtype([("timestamp", "<i4"), ("x", "u1"), ("y", "u1"), ("polarity", "u1")])


def default_cache(data: Path) -> Path:
    """``$XDG_CACHE_HOME/tcja-gesture/dvs128-<hash of the data folder>-v1`` (the archive may be read-only)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha1(str(data.resolve()).encode()).hexdigest()[:10]
    return root / "tcja-gesture" / f"dvs128-{key}-{CACHE_VERSION}"


def trials(data: Path, split: str) -> list[str]:
    """Recording file names of the official ``split``."""
    path = data / SPLIT_FILES[split]
    try:
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except OSError as err:
        raise SourceError(f"{path}: cannot read the DVS128 Gesture split list: {err}") from None
    if not names:
        raise SourceError(f"{path}: empty split list")
    return names


def _prepare_recording(aedat: Path, out_dir: Path) -> int:
    """Cut one recording into labelled samples under ``out_dir`` (atomically); returns the count."""
    labels_csv = aedat.with_name(aedat.stem + "_labels.csv")
    if not aedat.is_file():
        raise SourceError(f"{aedat}: recording listed in the split file is missing")
    if not labels_csv.is_file():
        raise SourceError(f"{labels_csv}: label file of {aedat.name} is missing")
    timeline = LabelTimeline.from_csv(labels_csv)
    rec = read_aedat3(aedat)
    if (rec.width, rec.height) != (128, 128):
        raise SourceError(f"{aedat}: a {rec.width}x{rec.height} recording is not DVS128 Gesture (128x128)")
    ev = rec.events
    t = ev["timestamp"]
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for i, (start, end, label) in enumerate(zip(timeline.start_us, timeline.end_us, timeline.label)):
            sel = ev[(t >= start) & (t < end)]
            if sel.size and np.any(np.diff(sel["timestamp"]) < 0):
                sel = sel[np.argsort(sel["timestamp"], kind="stable")]
            compact = np.empty(len(sel), dtype=CACHE_DTYPE)
            compact["timestamp"] = sel["timestamp"] - start
            compact["x"], compact["y"], compact["polarity"] = sel["x"], sel["y"], sel["polarity"]
            save_sample(tmp / f"{i:03d}_{CLASS_NAMES[label]}.npz", compact, int(label), 128, 128)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return len(timeline)


def _remove_stale(cache: Path) -> None:
    """Delete temporary folders left by preparations that were killed (their process is gone)."""
    for tmp in cache.glob("*/*.tmp-*"):
        try:
            os.kill(int(tmp.name.rsplit("-", 1)[1]), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:
            pass


def prepare(data: str | Path, cache: str | Path | None = None, workers: int = 0) -> Path:
    """Fill the cache for both splits (only recordings not done yet); returns the cache folder."""
    data = Path(data)
    if not data.is_dir():
        raise SourceError(f"{data}: DVS128 Gesture folder not found")
    cache = Path(cache) if cache else default_cache(data)
    _remove_stale(cache)
    todo = []
    for split in SPLIT_FILES:
        for name in trials(data, split):
            out = cache / split / Path(name).stem
            if not out.is_dir():
                todo.append((data / name, out))
    if not todo:
        return cache
    for _, out in todo:
        out.parent.mkdir(parents=True, exist_ok=True)
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc=f"preparing DVS128 Gesture cache in {cache}", unit="rec")
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for _ in pool.map(_prepare_recording, *zip(*todo)):
                bar.update()
    else:
        for aedat, out in todo:
            _prepare_recording(aedat, out)
            bar.update()
    bar.close()
    return cache


def samples(data: Path, cache: Path, split: str) -> tuple[list[Path], np.ndarray, list[str]]:
    """Shard paths, labels and recording name (the group, for validation splits) of a prepared split."""
    paths = [p for name in trials(data, split) for p in sorted((cache / split / Path(name).stem).glob("*.npz"))]
    if not paths:
        raise SourceError(f"{cache / split}: no prepared samples")
    labels = np.array([load_header(p)[0] for p in paths], dtype=np.int64)
    return paths, labels, [p.parent.name for p in paths]

"""DVS128 Gesture from a local copy of IBM's archive folder (or tonic's or spikingjelly's copy), one sample per label.

IBM's folder holds ``userNN_<lighting>.aedat`` (AEDAT 3.1), ``userNN_<lighting>_labels.csv``
and the official split lists ``trials_to_train.txt`` / ``trials_to_test.txt`` (1176 / 288
samples). Each labelled interval ``[start, end)`` of a recording is one sample. Preparation
(read with the project's AEDAT 3.1 reader, cut, written as sample shards) runs once per
recording into a cache folder; each recording is written to a temporary folder and renamed
into place, so an interrupted or failed run never blocks the next one.

Download: https://research.ibm.com/interactive/dvsgesture/ (``DvsGesture.tar.gz``, 2.9 GB);
unpack it and pass the ``DvsGesture`` folder.

The copies other libraries leave on disk are read too (pass their folder), converted once
into the same cache with the same split:

- tonic: ``ibmGestureTrain/userNN_<lighting>/K.npy`` and ``ibmGestureTest/...``, each an
  ``[N, 4]`` array of x, y, polarity and time in milliseconds, class ``K`` (0-10);
- spikingjelly: ``events_np/train/K/userNN_<lighting>_S.npz`` and ``events_np/test/...``,
  arrays ``t`` (microseconds), ``x``, ``y``, ``p``, class ``K`` (0-10).
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
    for tmp in [*cache.glob("*/*.tmp-*"), *cache.glob("*.tmp-*")]:
        try:
            os.kill(int(tmp.name.rsplit("-", 1)[1]), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:
            pass


def layout(data: Path) -> tuple[str, Path]:
    """("ibm" | "tonic" | "spikingjelly", the folder that holds it) of a DVS128 Gesture copy."""
    for root in (data, data / "DVSGesture", data / "DVS128Gesture"):
        if all((root / f).is_file() for f in SPLIT_FILES.values()):
            return "ibm", root
        if (root / "ibmGestureTrain").is_dir() and (root / "ibmGestureTest").is_dir():
            return "tonic", root
        if (root / "events_np" / "train").is_dir() and (root / "events_np" / "test").is_dir():
            return "spikingjelly", root
    raise SourceError(f"{data}: not a DVS128 Gesture folder (IBM's DvsGesture with trials_to_train.txt, tonic's "
                      f"ibmGestureTrain/ibmGestureTest, or spikingjelly's events_np/train and events_np/test)")


def _library_samples(kind: str, root: Path, split: str) -> list[tuple[Path, str, int]]:
    """(file, recording, class) of every sample of a tonic or spikingjelly copy's ``split``."""
    if kind == "tonic":
        files = sorted((root / ("ibmGestureTrain" if split == "train" else "ibmGestureTest")).glob("*/*.npy"))
        out = [(f, f.parent.name, f.stem) for f in files]
    else:
        files = sorted((root / "events_np" / split).glob("*/*.npz"))
        out = [(f, f.stem.rsplit("_", 1)[0], f.parent.name) for f in files]
    if not out:
        raise SourceError(f"{root}: no {split} samples in this {kind} copy of DVS128 Gesture")
    try:
        return [(f, group, int(k)) for f, group, k in out if 0 <= int(k) < len(CLASS_NAMES)]
    except ValueError:
        bad = next(f for f, _, k in out if not k.isdigit())
        raise SourceError(f"{bad}: not a {kind} DVS128 Gesture sample (its class must be a number 0-10)") from None


def _library_events(kind: str, path: Path) -> np.ndarray:
    """One tonic / spikingjelly sample as compact cache records (time from the sample's start)."""
    try:
        if kind == "tonic":
            a = np.load(path, allow_pickle=False)
            if a.ndim != 2 or a.shape[1] != 4:
                raise ValueError(f"an array of shape {a.shape}, not [N, 4] (x, y, p, t)")
            x, y, p, t = a[:, 0], a[:, 1], a[:, 2], np.rint(a[:, 3] * 1000)  # tonic keeps milliseconds
        else:
            with np.load(path, allow_pickle=False) as z:
                t, x, y, p = (z[k] for k in "txyp")
    except (OSError, ValueError, KeyError) as err:
        raise SourceError(f"{path}: not a {kind} DVS128 Gesture sample ({err})") from None
    t = np.asarray(t, np.int64)
    if len(t) and (np.min(x) < 0 or np.max(x) > 127 or np.min(y) < 0 or np.max(y) > 127):
        raise SourceError(f"{path}: events outside the 128x128 sensor")
    order = np.argsort(t, kind="stable")
    out = np.empty(len(t), CACHE_DTYPE)
    out["timestamp"] = t[order] - (t[order[0]] if len(t) else 0)
    out["x"], out["y"], out["polarity"] = x[order], y[order], np.asarray(p)[order] != 0
    return out


def _convert_library(kind: str, root: Path, cache: Path) -> None:
    """Write a tonic / spikingjelly copy's samples as cache shards, one split at a time (atomically)."""
    for split in SPLIT_FILES:
        out = cache / split
        if out.is_dir():
            continue
        tmp = cache / f"{split}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            counts: dict[str, int] = {}
            for path, group, label in _library_samples(kind, root, split):
                (tmp / group).mkdir(parents=True, exist_ok=True)
                i = counts[group] = counts.get(group, -1) + 1
                save_sample(tmp / group / f"{i:03d}_{CLASS_NAMES[label]}.npz", _library_events(kind, path),
                            label, 128, 128)
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def prepare(data: str | Path, cache: str | Path | None = None, workers: int = 0) -> Path:
    """Fill the cache for both splits (only recordings not done yet); returns the cache folder."""
    data = Path(data)
    if not data.is_dir():
        raise SourceError(f"{data}: DVS128 Gesture folder not found")
    cache = Path(cache) if cache else default_cache(data)
    kind, root = layout(data)
    if kind != "ibm":
        cache.mkdir(parents=True, exist_ok=True)
        _convert_library(kind, root, cache)
        return cache
    data = root
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
    kind, root = layout(Path(data))
    if kind == "ibm":
        paths = [p for name in trials(root, split) for p in sorted((cache / split / Path(name).stem).glob("*.npz"))]
    else:
        paths = sorted((cache / split).glob("*/*.npz"))
    if not paths:
        raise SourceError(f"{cache / split}: no prepared samples")
    labels = np.array([load_header(p)[0] for p in paths], dtype=np.int64)
    return paths, labels, [p.parent.name for p in paths]

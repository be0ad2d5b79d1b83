"""Training and test data for ``model.train`` / ``model.evaluate``, by dataset name.

- ``dvs128``: IBM's DVS128 Gesture archive folder (official split, one sample per label).
- ``simulated``: a folder of sample shards (``shards``), e.g. from the gesture simulator.
- ``recordings``: a folder of labelled recordings in any format the app reads (AEDAT4, AEDAT
  2.0 / 3.1, Prophesee), each with a DVS128 Gesture label file beside it (a teach folder too).
- ``nmnist``: the N-MNIST ``.bs2`` subset (``train1K.txt`` / ``test100.txt``).
- ``fmnist``: Fashion-MNIST idx files (default: Debian's ``/usr/share/datasets/fashion-mnist``).

Event datasets yield the app's frames ``[T, 2, H, W]``; Fashion-MNIST the image repeated over
T, ``[T, 1, 28, 28]``. Labels are class indices, -1 for idle samples (target: all-zero rates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from eventcore.labels import CLASS_NAMES as GESTURES
from model.datasets import dvs128_gesture, fashion_mnist, nmnist, recordings, simulated
from model.datasets.augment import CAMERA, USER_SETUPS, Augment
from model.datasets.samples import EventSamples, TrainWindow
from model.networks import NetConfig

DATASETS = ("dvs128", "simulated", "recordings", "nmnist", "fmnist")
TRAINED_ON = {
    "dvs128": "DVS128 Gesture (IBM), official split",
    "simulated": "simulated DVS gestures",
    "recordings": "labelled recordings (DVS128 Gesture label files)",
    "nmnist": "N-MNIST subset (slayerPytorch train1K/test100)",
    "fmnist": "Fashion-MNIST",
}


@dataclass
class Splits:
    """The datasets of one run and what the checkpoint must record about them."""

    train: Dataset
    val: Dataset | None
    test: Dataset
    class_names: tuple[str, ...]
    trained_on: str
    events: bool  # event frames (windowing applies) or static images


def carve(groups: Sequence, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, val) by whole groups (e.g. recordings), about ``fraction`` to val."""
    groups = np.asarray(groups)
    uniq = np.unique(groups)
    n_val = int(round(fraction * len(uniq)))
    if not 0 < n_val < len(uniq):
        raise ValueError(f"--val-fraction {fraction} leaves no {'validation' if n_val == 0 else 'training'} data "
                         f"({len(uniq)} groups)")
    val_groups = np.random.default_rng(seed).permutation(uniq)[:n_val]
    is_val = np.isin(groups, val_groups)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _limit(idx: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    if n is None or n >= len(idx):
        return idx
    return np.sort(np.random.default_rng(seed).permutation(idx)[:n])


def load_splits(
    name: str,
    data: str | Path | None,
    cfg: NetConfig,
    window: TrainWindow,
    augment: Augment | None,
    *,
    val_fraction: float = 0.0,
    seed: int = 0,
    cache: str | Path | None = None,
    workers: int = 0,
    limit_train: int | None = None,
    limit_test: int | None = None,
) -> Splits:
    """Build train / val / test datasets of ``name`` for network ``cfg`` (ValueError on a mismatch)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose from {', '.join(DATASETS)}")
    if name != "fmnist" and data is None:
        raise ValueError(f"--data is required for dataset {name!r}")
    events = name != "fmnist"
    class_names = tuple(fashion_mnist.CLASS_NAMES if name == "fmnist" else nmnist.CLASS_NAMES if name == "nmnist"
                        else GESTURES)
    want_c = 2 if events else 1
    if cfg.in_channels != want_c or cfg.n_classes != len(class_names):
        raise ValueError(f"config {cfg.name!r} takes {cfg.in_channels} input channels and {cfg.n_classes} classes; "
                         f"dataset {name!r} gives {want_c} channels and {len(class_names)} classes")

    val_items = None
    if name == "dvs128":
        folder = Path(data)
        cache = dvs128_gesture.prepare(folder, cache, workers)
        tr_items, tr_labels, groups = dvs128_gesture.samples(folder, cache, "train")
        te_items, te_labels, _ = dvs128_gesture.samples(folder, cache, "test")
        sensor = (128, 128)
    elif name == "recordings":
        rec = recordings.load(data, seed)
        tr_items, tr_labels, groups = rec.train.events, rec.train.labels, rec.train.groups
        te_items, te_labels, sensor = rec.test.events, rec.test.labels, rec.sensor
    elif name == "simulated":
        tr_items, tr_labels, sensor = simulated.samples(data, "train")
        te_items, te_labels, _ = simulated.samples(data, "test")
        groups = np.arange(len(tr_items))
        if (Path(data) / "val").is_dir() and val_fraction == 0:
            val_items = simulated.samples(data, "val")[:2]
    elif name == "nmnist":
        tr_items, tr_labels = nmnist.read_split(data, "train")
        te_items, te_labels = nmnist.read_split(data, "test")
        groups, sensor = np.arange(len(tr_items)), (nmnist.SIZE, nmnist.SIZE)
    else:
        folder = Path(data) if data else fashion_mnist.DEFAULT_DIR
        tr_items, tr_labels = fashion_mnist.read_split(folder, "train")
        te_items, te_labels = fashion_mnist.read_split(folder, "test")
        groups = np.arange(len(tr_items))

    def make(items, labels, idx: np.ndarray, train: bool) -> Dataset:
        if not events:
            return fashion_mnist.StaticImages(items[idx], labels[idx], cfg.T)
        return EventSamples([items[i] for i in idx], labels[idx], sensor, cfg.T, cfg.input_size, window,
                            train=train, augment=augment if train else None)

    tr_idx = np.arange(len(tr_items))
    val = None
    if val_fraction > 0:
        tr_idx, va_idx = carve(groups, val_fraction, seed)
        val = make(tr_items, tr_labels, va_idx, train=False)
    elif val_items is not None:
        val = make(val_items[0], val_items[1], np.arange(len(val_items[0])), train=False)
    train = make(tr_items, tr_labels, _limit(tr_idx, limit_train, seed), train=True)
    test = make(te_items, te_labels, _limit(np.arange(len(te_items)), limit_test, seed + 1), train=False)
    return Splits(train, val, test, class_names, TRAINED_ON[name], events)


__all__ = ["CAMERA", "DATASETS", "USER_SETUPS", "Augment", "EventSamples", "Splits", "TrainWindow", "carve", "load_splits"]

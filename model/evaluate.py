"""Evaluate a checkpoint: ``python -m model.evaluate CHECKPOINT --dataset dvs128 --data DvsGesture/``.

Prints the accuracy, the per-class accuracy and the confusion matrix (rows: truth, columns:
prediction; also saved as a PNG), and states the protocol: how the checkpoint was picked
("max test accuracy" as the paper, or "picked on validation") and how samples were cut.
A prediction is the argmax of the voted rates; when the data holds idle samples (label -1)
it is "no gesture" wherever the top rate is below ``--min-confidence`` (the app's rule).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from eventcore.decision import NO_GESTURE, DecisionSmoother
from eventcore.errors import SourceError

MIN_CONFIDENCE = inspect.signature(DecisionSmoother).parameters["min_confidence"].default


@torch.no_grad()
def predict(model: torch.nn.Module, data: DataLoader, device: torch.device, amp: bool, desc: str = "eval",
            progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Voted rates ``[N, K]`` and labels ``[N]`` of every item of ``data`` (items ``(x [T, C, H, W], y)``)."""
    model.eval()
    rates, labels = [], []
    for x, y in tqdm(data, desc=desc, unit="batch", disable=not progress, leave=False, dynamic_ncols=True):
        x = x.to(device, non_blocking=True).transpose(0, 1)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            rates.append(model(x).float().cpu())
        labels.append(y)
    if not rates:
        return np.empty((0, 0), np.float32), np.empty(0, np.int64)
    return torch.cat(rates).numpy(), torch.cat(labels).numpy().astype(np.int64)


def predicted(rates: np.ndarray, idle: bool, min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
    """Class index per row: argmax, or -1 ("no gesture") below ``min_confidence`` when ``idle``."""
    pred = rates.argmax(1)
    if idle:
        pred = np.where(rates.max(1) < min_confidence, -1, pred)
    return pred


@dataclass(frozen=True)
class Score:
    """Counts of one evaluation; ``confusion[i, j]`` = samples of true i predicted j (idle last if present)."""

    correct: int
    total: int
    confusion: np.ndarray
    idle: bool

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")

    @property
    def per_class(self) -> np.ndarray:
        rows = self.confusion.sum(1)
        return np.where(rows > 0, np.diag(self.confusion) / np.maximum(rows, 1), np.nan)


def score(rates: np.ndarray, labels: np.ndarray, idle: bool | None = None,
          min_confidence: float = MIN_CONFIDENCE) -> Score:
    """Score rates against labels; ``idle`` defaults to "the labels contain -1"."""
    idle = bool((labels < 0).any()) if idle is None else idle
    k = rates.shape[1] if rates.ndim == 2 and rates.shape[1] else 0
    pred = predicted(rates, idle, min_confidence) if len(labels) else labels
    n = k + int(idle)
    # idle (-1) maps to the last row / column
    conf = np.bincount(np.where(labels < 0, n - 1, labels) * n + np.where(pred < 0, n - 1, pred),
                       minlength=n * n).reshape(n, n) if n else np.zeros((0, 0), np.int64)
    return Score(int((pred == labels).sum()), len(labels), conf, idle)


def confusion_png(score_: Score, names: list[str], path: Path, title: str) -> Path:
    """Save the confusion matrix as a PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conf = score_.confusion
    n = len(conf)
    fig, ax = plt.subplots(figsize=(2.0 + 0.55 * n, 1.5 + 0.5 * n))
    ax.imshow(conf / np.maximum(conf.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if conf[i, j]:
                ax.text(j, i, str(conf[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if conf[i, j] > 0.5 * max(conf[i].sum(), 1) else "black")
    ax.set_xticks(range(n), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def report(score_: Score, names: list[str]) -> str:
    """Accuracy, per-class accuracy and the confusion matrix as text."""
    lines = [f"accuracy: {score_.accuracy:.4f} ({score_.correct}/{score_.total})", "per class:"]
    rows = score_.confusion.sum(1)
    for i, (name, acc) in enumerate(zip(names, score_.per_class)):
        shown = "   n/a" if np.isnan(acc) else f"{acc:6.3f}"
        lines.append(f"  {i:>2} {name:<28} {shown}  ({rows[i]} samples)")
    lines.append("confusion matrix (rows: true, columns: predicted; indices as above):")
    n = len(score_.confusion)
    width = max(3, len(str(score_.confusion.max() if n else 0)) + 1)
    lines.append("    " + "".join(f"{j:>{width}}" for j in range(n)))
    for i in range(n):
        lines.append(f"  {i:>2}" + "".join(f"{v:>{width}}" for v in score_.confusion[i]))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from model.datasets import DATASETS

    p = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--dataset", choices=DATASETS, required=True)
    p.add_argument("--data", type=Path, help="dataset folder (fmnist: default /usr/share/datasets/fashion-mnist)")
    p.add_argument("--split", choices=("test", "val", "train"), default="test")
    p.add_argument("--whole", action="store_true", help="whole samples split into T frames (the paper's protocol) "
                                                        "even for a model trained on windows")
    p.add_argument("--device", default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--limit", type=int, default=None, help="evaluate only this many samples")
    p.add_argument("--min-confidence", type=float, default=MIN_CONFIDENCE,
                   help="below this top rate an idle-aware evaluation says 'no gesture'")
    p.add_argument("--png", type=Path, default=None, help="confusion matrix image (default: beside the checkpoint)")
    p.add_argument("--cache", type=Path, default=None, help="DVS128 Gesture sample cache folder")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from eventcore.errors import UserError
    from model.checkpoint import load_checkpoint
    from model.device import choose_device
    from model.datasets import TrainWindow, load_splits

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = choose_device(args.device)
        model, cfg, meta = load_checkpoint(args.checkpoint, map_location=device)
    except UserError as err:  # a bad device or checkpoint: one line, exit 2, as in the app and training
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        notes = json.loads(meta.notes) if meta.notes else {}
    except json.JSONDecodeError:
        notes = {}
    whole = args.whole or notes.get("train_window") == "whole"
    window = TrainWindow(None if whole else meta.windowing.window_us, meta.windowing.split_by)
    val_fraction = float(notes.get("val_fraction", 0.0)) if args.split == "val" else 0.0
    try:
        splits = load_splits(args.dataset, args.data, cfg, window, None, val_fraction=val_fraction,
                             seed=int(notes.get("seed", 0)), cache=args.cache, workers=args.workers,
                             limit_test=args.limit if args.split == "test" else None,
                             limit_train=args.limit if args.split == "train" else None)
    except (ValueError, SourceError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    ds = {"test": splits.test, "val": splits.val, "train": splits.train}[args.split]
    if ds is None:
        print(f"error: {args.checkpoint} was not trained with a validation split (--val-fraction); "
              f"no val split to evaluate", file=sys.stderr)
        return 2
    if args.split == "train":
        ds.train, ds.augment = False, None  # centred windows, no augmentation
    data = DataLoader(ds, batch_size=args.batch_size, num_workers=args.workers)
    amp = device.type == "cuda"
    rates, labels = predict(model, data, device, amp, desc=args.split)
    result = score(rates, labels, min_confidence=args.min_confidence)
    names = list(meta.class_names) + ([NO_GESTURE] if result.idle else [])

    cut = window.describe(cfg.T) if splits.events else f"static image repeated over T={cfg.T}"
    picked = notes.get("protocol", "unknown")
    rule = (f"argmax of the voted rates, 'no gesture' below a top rate of {args.min_confidence}" if result.idle
            else "argmax of the voted rates")
    print(f"checkpoint: {args.checkpoint} ({cfg.name}, trained on {meta.trained_on}; "
          f"epoch {notes.get('epoch', '?')}, stored accuracies {meta.accuracies})")
    print(f"protocol: checkpoint selected by {picked}; evaluated on the {splits.trained_on} {args.split} split "
          f"({len(ds)} samples), each sample = {cut}; prediction = {rule}")
    print(report(result, names))
    png = args.png or args.checkpoint.with_name(f"{args.checkpoint.stem}_confusion_{args.dataset}_{args.split}.png")
    confusion_png(result, names, png, f"{cfg.name} on {args.dataset} {args.split}: accuracy {result.accuracy:.4f} "
                                      f"({picked})")
    print(f"confusion matrix image: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

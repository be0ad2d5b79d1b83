"""Make a trained checkpoint a shipped model: measure it, write its model card, store both.

    python -m tools.ship runs/sim_small64/last.pt --data SIMDATA --name small64

Measures (all printed and stored in the card and the checkpoint's metadata):
1. accuracy per class on the held-out simulated test split, one centred live-length window
   per sample, "no gesture" below the app's confidence rule (idle samples count as a class);
2. realism: the accuracy of the teacher network (trained only on real DVS128 Gesture
   recordings, read from ``../shared``) on the same simulated gesture samples, and how
   often it agrees with the shipped model;
3. the demo recordings in ``recordings/``: the share of windows inside a labelled gesture
   that the app's pipeline (windowing + smoothing) decides correctly.
Writes ``model/weights/NAME.pt`` and ``model/weights/NAME.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from eventcore.decision import NO_GESTURE
from model.checkpoint import load_checkpoint, save_checkpoint
from model.datasets import TrainWindow, load_splits
from model.datasets.shards import load_sample
from model.datasets.simulated import samples as simulated_samples
from model.evaluate import MIN_CONFIDENCE, predict, predicted, report, score
from model.zoo import WEIGHTS_DIR

ROOT = Path(__file__).resolve().parents[1]


def demo_accuracy(checkpoint: Path, recordings: list[Path]) -> dict:
    """Windows wholly inside a labelled gesture: share decided correctly; idle windows: share "no gesture"."""
    from app.inference import InferenceEngine
    from app.pipeline import run_to_end
    from app.sources.open import open_file

    right = total = idle_right = idle_total = 0
    for path in recordings:
        src = open_file(path)
        engine = InferenceEngine.from_checkpoint(checkpoint, device="cpu")
        preds = run_to_end(src, engine)
        lab = src.labels
        for p in preds:
            t0, t1 = p.t_end_us - engine.window_us, p.t_end_us - 1
            a, b = lab.truth_at(t0), lab.truth_at(t1)
            if a is not None and a == b and lab.truth_at(np.array([t0, t1])).min() >= 0:
                total += 1
                right += p.decision.index == a
            elif a is None and b is None:
                idle_total += 1
                idle_right += p.decision.index == -1
    return {"gesture_windows": total, "gesture_right": int(right), "gesture_correct": right / max(total, 1),
            "idle_windows": idle_total, "idle_no_gesture": idle_right / max(idle_total, 1)}


def teacher_figures(data: Path, ours: np.ndarray, labels: np.ndarray, paths: list[Path]) -> dict | None:
    """Teacher accuracy per class on the simulated gesture samples, and agreement with ``ours``."""
    from model.simulator.teacher import TEACHER_PATH, Teacher, predict as teacher_predict

    if not TEACHER_PATH.is_file():
        return None
    teacher = Teacher.load()
    gesture = labels >= 0
    events = [load_sample(p)[0] for p, g in zip(paths, gesture) if g]
    t_pred = np.concatenate([teacher_predict(teacher, events[i:i + 32])[0] for i in range(0, len(events), 32)])
    y = labels[gesture]
    per_class = {int(c): float((t_pred[y == c] == c).mean()) for c in np.unique(y)}
    return {"teacher_accuracy": float((t_pred == y).mean()), "teacher_per_class": per_class,
            "teacher_agrees_with_model": float((t_pred == ours[gesture]).mean()), "samples": int(gesture.sum())}


def card_text(name: str, cfg, meta, acc: dict, text_report: str, teacher: dict | None, demo: dict,
              train_notes: dict, command: str) -> str:
    names = meta.class_names
    t = "not measured (teacher weights absent)"
    if teacher:
        rows = "\n".join(f"| {names[c]} | {a:.0%} |" for c, a in teacher["teacher_per_class"].items())
        t = (f"{teacher['teacher_accuracy']:.1%} of {teacher['samples']} simulated test gestures classified correctly "
             f"by the teacher; it agrees with this model on {teacher['teacher_agrees_with_model']:.1%} of them.\n\n"
             f"| class | teacher accuracy |\n| --- | --- |\n{rows}")
    w = meta.windowing
    return f"""# Model card: `{name}` — trained on SIMULATED gestures

**This model learned from simulated DVS gestures only** (the project's simulator,
`model/simulator/`), never from a real camera. Expect it to be far less accurate on a real
DVS than on the simulated test set below. For real cameras, train on the real DVS128 Gesture
dataset: `python -m model.train --dataset dvs128 --data DvsGesture/ --config {cfg.name}`.

## Network
`{cfg.name}`: TCJA-SNN, input {cfg.input_size[0]}x{cfg.input_size[1]} (a DVS128 scaled by 1/2),
T={cfg.T}, conv channels {list(cfg.channels)}, TCJA (K_T={cfg.tcja_k_t}, K_C={cfg.tcja_k_c}) in blocks
{[b + 1 for b in cfg.tcja_blocks]}, head {cfg.head_hidden}, voting {cfg.voting} x {cfg.n_classes} classes.
Live windowing: {w.window_us / 1000:g} ms window every {w.hop_us / 1000:g} ms, split into T frames by {w.split_by}.

## Data
Simulated 128x128 DVS recordings (`python -m model.simulator.generate --dataset DIR
--n-per-class {train_notes.get('n_per_class', '?')} --n-test-per-class {train_notes.get('n_test_per_class', '?')}
--duration 2.0 --seed 0`): 11 gesture classes plus idle scenes (label -1, trained towards all-zero rates),
{train_notes.get('n_train', '?')} training and {acc['n_test']} test samples of 2 s; the test split uses
other seeds. Training windows: random {w.window_us / 1000:g} ms crops, small shifts and scales, no flips.

## Training
`{train_notes.get('command', '?')}`
{train_notes.get('epochs', '?')} epochs, {train_notes.get('time', '?')} on {train_notes.get('machine', '?')}.
The shipped weights are the **last epoch** (not picked on the test set).

## Accuracy on the held-out simulated test split
{acc['accuracy']:.1%} ({acc['protocol']}).

```
{text_report}
```

## Realism: the teacher
A small SNN trained only on real DVS128 Gesture recordings (NeuroBench, reported 86.4 % on the
real test set) judges the simulated test gestures: {t}

## Demo recordings
The app's pipeline on `recordings/*.aedat4` (windows wholly inside a labelled gesture):
{demo['gesture_correct']:.0%} of {demo['gesture_windows']} decided correctly; idle windows: {demo['idle_no_gesture']:.0%}
of {demo['idle_windows']} say "{NO_GESTURE}".

Made by `{command}` on {time.strftime('%Y-%m-%d')}.
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.ship", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--data", type=Path, required=True, help="the simulated dataset folder it was trained on")
    p.add_argument("--name", required=True, help="shipped name (model/weights/NAME.pt)")
    p.add_argument("--train-notes", type=json.loads, default={}, help="JSON: command, epochs, time, machine, ...")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, cfg, meta = load_checkpoint(args.checkpoint, map_location="cpu")
    window = TrainWindow(meta.windowing.window_us, meta.windowing.split_by)
    splits = load_splits("simulated", args.data, cfg, window, None)
    rates, labels = predict(model, DataLoader(splits.test, batch_size=32), torch.device("cpu"), False, "test")
    result = score(rates, labels)
    names = list(meta.class_names) + [NO_GESTURE]
    text = report(result, names)
    print(text)
    paths, _, _ = simulated_samples(args.data, "test")
    teacher = teacher_figures(args.data, predicted(rates, True), labels, paths)
    print("teacher:", json.dumps(teacher))
    demos = sorted((ROOT / "recordings").glob("*.aedat4"))
    demo = demo_accuracy(args.checkpoint, demos)
    print("demo:", json.dumps(demo))
    acc = {"accuracy": result.accuracy, "n_test": len(labels),
           "protocol": "last epoch; one centred window per test sample; idle counted as a class, "
                       f"'no gesture' below a top rate of {MIN_CONFIDENCE}"}
    command = "python -m tools.ship " + " ".join(sys.argv[1:] if argv is None else argv)
    card = card_text(args.name, cfg, meta, acc, text, teacher, demo, args.train_notes, command)
    accuracies = {"simulated_test_last_epoch": result.accuracy, "demo_gesture_windows": demo["gesture_correct"]}
    if teacher:
        accuracies["teacher_on_simulated_test"] = teacher["teacher_accuracy"]
    notes = json.dumps({"model_card": f"model/weights/{args.name}.md", "per_class_simulated_test":
                        dict(zip(names, map(float, np.nan_to_num(result.per_class)))), "teacher": teacher,
                        "demo": demo, "training": args.train_notes, "machine": platform.platform()})
    out_meta = replace(meta, trained_on="simulated DVS gestures (model/simulator), not real recordings",
                       accuracies={**meta.accuracies, **accuracies}, notes=notes)
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    save_checkpoint(WEIGHTS_DIR / f"{args.name}.pt", model, cfg, out_meta)
    (WEIGHTS_DIR / f"{args.name}.md").write_text(card)
    print(f"wrote {WEIGHTS_DIR / args.name}.pt and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

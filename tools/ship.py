"""Make a trained checkpoint a shipped model: measure it, write its model card, store both.

    python -m tools.ship runs/sim_small64/last.pt --data SIMDATA --name small64
    python -m tools.ship GPU_OUT/dvs128_paper.pt --report GPU_OUT/gpu_report.json --name dvs128_paper --at-least small64

Measures (all printed and stored in the card and the checkpoint's metadata):
1. accuracy per class on the held-out simulated test split, one centred live-length window
   per sample, "no gesture" below the app's confidence rule (idle samples count as a class);
2. realism: the accuracy of the teacher network (trained only on real DVS128 Gesture
   recordings, read from ``../shared``) on the same simulated gesture samples, and how
   often it agrees with the shipped model;
3. the demo recordings in ``recordings/``: the share of windows inside a labelled gesture
   that the app's pipeline (windowing + smoothing) decides correctly.
Writes ``model/weights/NAME.pt`` and ``model/weights/NAME.md``. With ``--report`` (the
``gpu_report.json`` of ``tools.gpu_run``) the card says on which GPU and for how long it was
trained, with the GPU figures; without ``--data`` the report's test figures are used.
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
from eventcore.errors import UserError
from model.checkpoint import load_checkpoint, save_checkpoint
from model.datasets import TrainWindow, load_splits
from model.datasets.shards import load_sample
from model.datasets.simulated import samples as simulated_samples
from model.evaluate import MIN_CONFIDENCE, predict, predicted, report, score
from model.zoo import WEIGHTS_DIR, resolve_model

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


def input_text(cfg) -> str:
    """How a DVS128 frame reaches the network's input."""
    side = cfg.input_size[1]
    return "the DVS128's own" if side == 128 else f"a DVS128 scaled by {side}/128" if side < 128 else "upscaled"


def demo_text(demo: dict | None) -> str:
    if demo is None:
        return "not measured yet (`python -m tools.ship` measures it)."
    return (f"{demo['gesture_correct']:.0%} of {demo['gesture_windows']} decided correctly; idle windows: "
            f"{demo['idle_no_gesture']:.0%}\nof {demo['idle_windows']} say \"{NO_GESTURE}\".")


def card_text(name: str, cfg, meta, acc: dict, text_report: str, teacher: dict | None, demo: dict | None,
              train_notes: dict, command: str, gpu: str | None = None) -> str:
    """The model card (markdown); ``gpu``: the section on the GPU run that trained it (``tools.gpu_run``)."""
    names = meta.class_names
    t = "not measured (teacher weights absent)"
    if teacher:
        rows = "\n".join(f"| {names[c]} | {a:.0%} |" for c, a in teacher["teacher_per_class"].items())
        t = (f"{teacher['teacher_accuracy']:.1%} of {teacher['samples']} simulated test gestures classified correctly "
             f"by the teacher; it agrees with this model on {teacher['teacher_agrees_with_model']:.1%} of them.\n\n"
             f"| class | teacher accuracy |\n| --- | --- |\n{rows}")
    w = meta.windowing
    duration = train_notes.get("duration", 2.0)
    data_cmd = train_notes.get("data_command") or (
        f"python -m model.simulator.generate --dataset DIR --n-per-class {train_notes.get('n_per_class', '?')} "
        f"--n-test-per-class {train_notes.get('n_test_per_class', '?')} --duration {duration} --seed 0")
    gpu_block = f"\n## Trained on a GPU\n{gpu}\n" if gpu else ""
    return f"""# Model card: `{name}` — trained on SIMULATED gestures

**This model learned from simulated DVS gestures only** (the project's simulator,
`model/simulator/`), never from a real camera. Expect it to be far less accurate on a real
DVS than on the simulated test set below. For real cameras, train on the real DVS128 Gesture
dataset: `python -m model.train --dataset dvs128 --data DvsGesture/ --config {cfg.name}`.

## Network
`{cfg.name}`: TCJA-SNN, input {cfg.input_size[0]}x{cfg.input_size[1]} ({input_text(cfg)}),
T={cfg.T}, conv channels {list(cfg.channels)}, TCJA (K_T={cfg.tcja_k_t}, K_C={cfg.tcja_k_c}) in blocks
{[b + 1 for b in cfg.tcja_blocks]}, head {cfg.head_hidden}, voting {cfg.voting} x {cfg.n_classes} classes.
Live windowing: {w.window_us / 1000:g} ms window every {w.hop_us / 1000:g} ms, split into T frames by {w.split_by}.

## Data
Simulated 128x128 DVS recordings (`{data_cmd}`):
11 gesture classes plus no-gesture scenes (label -1, trained towards all-zero rates),
{train_notes.get('n_train', '?')} training and {acc['n_test']} test samples of {duration} s;
the test split uses other seeds. Training windows: random {w.window_us / 1000:g} ms crops, small shifts and scales, no flips.

## Training
`{train_notes.get('command', '?')}`
{train_notes.get('epochs', '?')} epochs, {train_notes.get('time', '?')} on {train_notes.get('machine', '?')}.
The shipped weights are the **last epoch** (not picked on the test set).
{gpu_block}
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
{demo_text(demo)}

Made by `{command}` on {time.strftime('%Y-%m-%d')}.
"""


def gpu_run_report(path: Path, checkpoint: Path) -> dict:
    """The ``tools.gpu_run`` report that made ``checkpoint``; UserError (one line) if unreadable or not its own."""
    from tools.gpu_run.outputs import sha256

    try:
        rep = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: not a readable gpu_report.json ({err})") from None
    if "test" not in rep.get("results", {}) or "training" not in rep:
        raise UserError(f"{path}: the run has no test figures or training record (did it finish?)")
    if rep.get("checkpoint_sha256") != sha256(checkpoint):
        raise UserError(f"{path}: was written for another checkpoint than {checkpoint} (SHA-256 differs)")
    return rep


def at_least(name: str, accuracy: float) -> str | None:
    """Why ``accuracy`` may not ship beside shipped model ``name`` (its simulated test accuracy is higher), or None."""
    theirs = load_checkpoint(resolve_model(name), map_location="cpu")[2].accuracies.get("simulated_test_last_epoch")
    if theirs is None:
        return f"--at-least {name}: it has no simulated test accuracy to compare with"
    print(f"simulated test accuracy {accuracy:.1%}; {name}: {theirs:.1%}")
    return None if accuracy >= theirs else f"{accuracy:.1%} on the simulated test split is below {name}'s {theirs:.1%}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.ship", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--data", type=Path, help="the simulated dataset folder it was trained on (with --report it may "
                                             "be left out: the report's test figures, measured on the GPU, are used)")
    p.add_argument("--name", required=True, help="shipped name (model/weights/NAME.pt)")
    p.add_argument("--report", type=Path, help="the gpu_report.json of the tools.gpu_run run that made the checkpoint")
    p.add_argument("--at-least", metavar="MODEL", help="ship only if the simulated test accuracy is at least this "
                                                       "shipped model's (e.g. small64)")
    p.add_argument("--train-notes", type=json.loads, default={}, help="JSON: command, epochs, time, machine, ...")
    p.add_argument("--weights-dir", type=Path, default=WEIGHTS_DIR, help=f"where to write ({WEIGHTS_DIR})")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.data is None and args.report is None:
        p.error("give --data SIMDATA (or --report gpu_report.json)")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return ship(args, argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def ship(args: argparse.Namespace, argv: list[str] | None) -> int:
    from tools.gpu_run.outputs import gpu_section

    gpu = gpu_run_report(args.report, args.checkpoint) if args.report else None
    model, cfg, meta = load_checkpoint(args.checkpoint, map_location="cpu")
    names = list(meta.class_names) + [NO_GESTURE]
    teacher = None
    if args.data is not None:
        window = TrainWindow(meta.windowing.window_us, meta.windowing.split_by)
        splits = load_splits("simulated", args.data, cfg, window, None)
        rates, labels = predict(model, DataLoader(splits.test, batch_size=32), torch.device("cpu"), False, "test")
        result = score(rates, labels)
        accuracy, n_test, text = result.accuracy, len(labels), report(result, names)
        per_class = dict(zip(names, map(float, np.nan_to_num(result.per_class))))
        paths, _, _ = simulated_samples(args.data, "test")
        teacher = teacher_figures(args.data, predicted(rates, True), labels, paths)
        print("teacher:", json.dumps(teacher))
        where = "measured here, on the CPU, float32"
    else:
        test = gpu["results"]["test"]
        accuracy, n_test, text, per_class = (test["accuracy"]["fp32"], test["n_test"], test["report_fp32"],
                                             test["per_class_fp32"])
        where = "measured by tools.gpu_run on the GPU, float32"
    print(text)
    if args.at_least:
        why = at_least(args.at_least, accuracy)
        if why:
            raise UserError(f"not shipped: {why}")
    demos = sorted((ROOT / "recordings").glob("*.aedat4"))
    demo = demo_accuracy(args.checkpoint, demos)
    print("demo:", json.dumps(demo))
    acc = {"accuracy": accuracy, "n_test": n_test,
           "protocol": "last epoch; one centred window per test sample; idle counted as a class, "
                       f"'no gesture' below a top rate of {MIN_CONFIDENCE}; {where}"}
    command = "python -m tools.ship " + " ".join(sys.argv[1:] if argv is None else argv)
    train_notes = dict(args.train_notes)
    if gpu:
        t = gpu["training"]
        train_notes = {"command": gpu["steps"]["train"]["command"], "epochs": t["epochs"],
                       "time": f"{t['train_s']:.0f} s of training in a {gpu['minutes']:g}-minute run",
                       "machine": ", ".join(g["name"] for g in gpu["machine"]["gpus"]) or "CPU (dry run)",
                       "data_command": gpu["steps"]["data"]["command"], "n_train": t.get("n_train"),
                       **gpu["plan"]["data"], **train_notes}
    card = card_text(args.name, cfg, meta, acc, text, teacher, demo, train_notes, command,
                     gpu_section(gpu) if gpu else None)
    accuracies = {"simulated_test_last_epoch": accuracy, "demo_gesture_windows": demo["gesture_correct"]}
    if teacher:
        accuracies["teacher_on_simulated_test"] = teacher["teacher_accuracy"]
    notes = json.dumps({"model_card": f"model/weights/{args.name}.md", "per_class_simulated_test": per_class,
                        "teacher": teacher, "demo": demo, "training": train_notes, "machine": platform.platform(),
                        "gpu_run": {k: gpu.get(k) for k in ("machine", "training", "results")} if gpu else None})
    out_meta = replace(meta, trained_on="simulated DVS gestures (model/simulator), not real recordings",
                       accuracies={**meta.accuracies, **accuracies}, notes=notes)
    args.weights_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(args.weights_dir / f"{args.name}.pt", model, cfg, out_meta)
    (args.weights_dir / f"{args.name}.md").write_text(card)
    print(f"wrote {args.weights_dir / args.name}.pt and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

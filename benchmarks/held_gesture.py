"""Steady state: each gesture held for 6 s by simulated subjects (seeds never used in
training), played through the app's pipeline; the share of live windows wholly inside the
gesture that are decided correctly, per class (no drift to "other" or to no gesture).

    python -m benchmarks.held_gesture [--model small64] [--json OUT] [--seconds 6] [--subjects 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from eventcore.labels import CLASS_NAMES


def held(model: str, cls: int, seconds: float, folder: Path, subject: int = 0) -> dict:
    from app.sources.recorder import write_aedat4
    from model.simulator.generate import SIZE, generate_sequence
    from model.zoo import resolve_model
    from tools.ship import demo_accuracy

    seed = 4242 + 1000 * subject + cls
    events, timeline = generate_sequence([cls], seed=seed, gesture_s=(seconds, seconds), pause_s=(1.0, 1.0))
    path = folder / f"held_{cls}_{subject}.aedat4"
    write_aedat4(path, events, SIZE, SIZE, camera="DVS128_synthetic")
    timeline.to_csv(path.with_name(path.stem + "_labels.csv"))
    return demo_accuracy(resolve_model(model), [path])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="small64")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--subjects", type=int, default=3, help="simulated subjects per class (3)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for c in range(len(CLASS_NAMES)):
            runs = [held(args.model, c, args.seconds, Path(tmp), k) for k in range(args.subjects)]
            counts = [(r["gesture_right"], r["gesture_windows"]) for r in runs]
            right, windows = map(sum, zip(*counts))
            per_subject = [f"{k}/{n}" for k, n in counts]
            out[CLASS_NAMES[c]] = {"windows": windows, "correct": right / max(windows, 1), "per_subject": per_subject}
            print(f"{CLASS_NAMES[c]:28s} {right / max(windows, 1):.0%} of {windows} full windows "
                  f"(subjects: {', '.join(per_subject)})", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

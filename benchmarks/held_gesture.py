"""Steady state: each gesture held for 6 s by a simulated subject (seeds never used in
training), played through the app's pipeline; the share of live windows wholly inside the
gesture that are decided correctly, per class (no drift to "other" or to no gesture).

    python -m benchmarks.held_gesture [--model small64] [--json OUT] [--seconds 6]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from eventcore.labels import CLASS_NAMES


def held(model: str, cls: int, seconds: float, folder: Path) -> dict:
    from app.sources.recorder import write_aedat4
    from model.simulator.generate import SIZE, generate_sequence
    from model.zoo import resolve_model
    from tools.ship import demo_accuracy

    events, timeline = generate_sequence([cls], seed=4242 + cls, gesture_s=(seconds, seconds), pause_s=(1.0, 1.0))
    path = folder / f"held_{cls}.aedat4"
    write_aedat4(path, events, SIZE, SIZE, camera="DVS128_synthetic")
    timeline.to_csv(path.with_name(path.stem + "_labels.csv"))
    return demo_accuracy(resolve_model(model), [path])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="small64")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for c in range(len(CLASS_NAMES)):
            r = held(args.model, c, args.seconds, Path(tmp))
            out[CLASS_NAMES[c]] = {"windows": r["gesture_windows"], "correct": r["gesture_correct"]}
            print(f"{CLASS_NAMES[c]:28s} {r['gesture_correct']:.0%} of {r['gesture_windows']} full windows", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

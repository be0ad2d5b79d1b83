"""Realism of the simulator as judged by two networks trained only on REAL DVS128 Gesture
recordings: the NeuroBench CSNN (``teacher.py``, the one calibration tunes on) and the
SynSense Speck network (``speck.py``, never tuned on: the held-out judge); and the pixel
likeness to the real preview image (``model.simulator.likeness``, 0-1, classes 0-9).

    python -m benchmarks.realism --n 16 --split test      # per-class accuracy of both judges

Network judges' accuracies carry 95 % Wilson intervals: with 16 recordings a class, a
per-class figure is uncertain by about +-20 points, so "no class below 40 %" is read with them.

Samples are ``--duration`` s simulated recordings from seeds of the chosen split: ``val``
seeds are the ones ``model.simulator.calibrate`` tunes on, ``test`` seeds are never used
for tuning. Needs ``../shared/data/teacher`` (skips with a message when absent).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from model.simulator.realism import SPLIT_SEEDS, judge_all, simulate_split


def accuracy_cell(r: dict, name: str | None, spread: bool = True) -> str:
    """One judge's accuracy on class ``name`` (None: overall), with its 95 % Wilson interval
    when ``spread`` and the figures carry one; "–" where the judge has no figure."""
    v = r["overall"] if name is None else r["per_class"].get(name)
    if v is None:
        return "–"
    ci = r.get("interval") if name is None else r.get("per_class_interval", {}).get(name)
    text = f"{v:.1%}" if name is None else f"{v:.0%}"
    return text + (f" ({ci[0]:.0%}-{ci[1]:.0%})" if spread and ci else "")


def table(res: dict) -> str:
    """Markdown table: one row per class, one column per judge; accuracies with 95 % Wilson intervals."""
    names = list(dict.fromkeys(c for r in res.values() for c in r["per_class"]))
    rows = ["| class | " + " | ".join(res) + " |", "| --- |" + " --- |" * len(res)]
    for c in names:
        rows.append(f"| {c} | " + " | ".join(accuracy_cell(r, c) for r in res.values()) + " |")
    rows.append("| **overall** | " + " | ".join(f"**{accuracy_cell(r, None)}**" for r in res.values()) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16, help="recordings per class")
    ap.add_argument("--split", choices=sorted(SPLIT_SEEDS), default="test")
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--params", help="JSON file of simulator parameters (default: the shipped calibration)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from model.simulator.teacher import TEACHER_PATH
    if not TEACHER_PATH.is_file():
        print(f"skipped: judges not found ({TEACHER_PATH.parent})")
        return
    params = None
    if args.params:
        from model.simulator.params import SimParams
        params = SimParams.from_json(args.params)
    t0 = time.perf_counter()
    samples, labels = simulate_split(args.split, args.n, args.duration, params, args.workers)
    t1 = time.perf_counter()
    from model.simulator.likeness import PREVIEW_PATH
    res = judge_all(samples, labels, preview=PREVIEW_PATH if PREVIEW_PATH.is_file() else None)
    print(f"{len(labels)} simulated {args.duration} s recordings, {args.split} seeds "
          f"(simulate {t1 - t0:.0f} s, judge {time.perf_counter() - t1:.0f} s)")
    print(table(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"split": args.split, "n_per_class": args.n, "duration_s": args.duration, **res}, f, indent=1)


if __name__ == "__main__":
    main()

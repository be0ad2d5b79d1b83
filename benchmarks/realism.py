"""Realism of the simulator as judged by two networks trained only on REAL DVS128 Gesture
recordings: the NeuroBench CSNN (``teacher.py``, the one calibration tunes on) and the
SynSense Speck network (``speck.py``, never tuned on: the held-out judge).

    python -m benchmarks.realism --n 16 --split test      # per-class accuracy of both judges

Samples are ``--duration`` s simulated recordings from seeds of the chosen split: ``val``
seeds are the ones ``model.simulator.calibrate`` tunes on, ``test`` seeds are never used
for tuning. Needs ``../shared/data/teacher`` (skips with a message when absent).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

from eventcore.labels import CLASS_NAMES
from model.simulator.generate import generate_sample

SPLIT_SEEDS = {"val": 7_000_001, "test": 9_000_011}
N_GESTURES = 11


def split_seed(split: str, cls: int, i: int) -> int:
    return int(np.random.SeedSequence([SPLIT_SEEDS[split], cls + 1, i]).generate_state(1)[0])


def _gen(job):
    cls, seed, duration, params = job
    return generate_sample(cls, duration, seed, params=params)[0]


def simulate_split(split: str, n: int, duration: float = 2.0, params=None, workers: int = 1):
    """(samples, labels): ``n`` recordings of each of the 11 gesture classes from ``split`` seeds."""
    jobs = [(c, split_seed(split, c, i), duration, params) for c in range(N_GESTURES) for i in range(n)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            samples = list(pool.map(_gen, jobs, chunksize=2))
    else:
        samples = [_gen(j) for j in jobs]
    return samples, np.array([j[0] for j in jobs])


def per_class(pred: np.ndarray, labels: np.ndarray) -> dict:
    acc = {CLASS_NAMES[c]: float(np.mean(pred[labels == c] == c)) for c in range(N_GESTURES) if np.any(labels == c)}
    return {"overall": float(np.mean(pred == labels)), "per_class": acc, "n": int(len(labels))}


def judge_all(samples, labels, judges=("teacher", "speck")) -> dict:
    """Per-class accuracy of each judge on the samples."""
    out = {}
    if "teacher" in judges:
        from model.simulator.teacher import Teacher, predict
        out["teacher"] = per_class(predict(Teacher.load(), samples)[0], labels)
    if "speck" in judges:
        from model.simulator.speck import Speck, predict as speck_predict
        out["speck"] = per_class(speck_predict(Speck.load(), samples)[0], labels)
    return out


def table(res: dict) -> str:
    names = list(next(iter(res.values()))["per_class"])
    rows = ["| class | " + " | ".join(res) + " |", "| --- |" + " --- |" * len(res)]
    for c in names:
        rows.append(f"| {c} | " + " | ".join(f"{r['per_class'][c]:.0%}" for r in res.values()) + " |")
    rows.append("| **overall** | " + " | ".join(f"**{r['overall']:.1%}**" for r in res.values()) + " |")
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
    res = judge_all(samples, labels)
    print(f"{len(labels)} simulated {args.duration} s recordings, {args.split} seeds "
          f"(simulate {t1 - t0:.0f} s, judge {time.perf_counter() - t1:.0f} s)")
    print(table(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"split": args.split, "n_per_class": args.n, "duration_s": args.duration, **res}, f, indent=1)


if __name__ == "__main__":
    main()
